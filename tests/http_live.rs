//! End to end: `sluice run --http-addr` as a child process capturing a
//! private MariaDB; rows inserted appear on the HTTP change stream,
//! `/status` reports the capture with its lag in bytes, and a group's
//! offset survives a restart of `sluice run`.

use serde_json::Value;
use sluice_testkit::MariaDb;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_json(url: &str) -> Option<Value> {
    let r = reqwest::get(url).await.ok()?;
    r.json().await.ok()
}

/// Starts `sluice run --http-addr` on a free port, capturing database
/// `db_name` only, and waits until its capture streams.
async fn start_run(
    db: &MariaDb,
    data: &std::path::Path,
    server_id: u32,
    db_name: &str,
) -> (Killed, String) {
    let port = sluice_testkit::free_port();
    let addr = format!("127.0.0.1:{port}");
    let include = format!(r"{db_name}\..*");
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            "--source",
            &db.url(),
            "--data",
            data.to_str().unwrap(),
            "--name",
            "live",
            "--server-id",
            &server_id.to_string(),
            "--start",
            "current",
            "--fsync",
            "always",
            "--include",
            &include,
            "--http-addr",
            &addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = get_json(&format!("{base}/status")).await {
            if s["sources"][0]["capture"]["state"] == "streaming" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, base)
}

/// Reads group e2e (auto-commit) until `n` inserted ids of `db_name.t`
/// arrived.
async fn read_ids(base: &str, db_name: &str, n: usize) -> Vec<String> {
    let c = reqwest::Client::new();
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < n {
        assert!(Instant::now() < deadline, "rows never arrived: {ids:?}");
        let r = c
            .get(format!("{base}/v1/sources/live/changes"))
            .query(&[
                ("group", "e2e"),
                ("wait_ms", "2000"),
                ("auto_commit", "true"),
                ("format", "canal-json"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        for line in r.text().await.unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["database"] == db_name && v["table"] == "t" && v["type"] == "INSERT" {
                for row in v["data"].as_array().unwrap() {
                    ids.push(row["id"].as_str().unwrap().to_string());
                }
            }
        }
    }
    ids
}

#[tokio::test]
async fn rows_inserted_appear_on_the_change_stream() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE IF NOT EXISTS http_live");
    let data = tempfile::tempdir().unwrap();
    let (_child, base) = start_run(db, data.path(), 4711, "http_live").await;
    db.sql(
        "CREATE TABLE http_live.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO http_live.t VALUES (1, 'one'), (2, 'two');
         INSERT INTO http_live.t VALUES (3, 'three');",
    );
    let ids = read_ids(&base, "http_live", 3).await;
    assert_eq!(ids, ["1", "2", "3"]);

    // Status: the group and the capture, with the server's binlog end
    // polled beside it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = get_json(&format!("{base}/status")).await.unwrap();
        let src = &s["sources"][0];
        assert_eq!(src["name"], "live");
        assert!(src["capture"]["transactions"].as_u64().unwrap() >= 2);
        assert_eq!(src["groups"][0]["name"], "e2e");
        if src["capture"]["lag_bytes"].is_u64() {
            assert!(!src["capture"]["server_file"].as_str().unwrap().is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "no lag_bytes: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sluice_rows_captured_total{source=\"live\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_append_seconds_bucket"),
        "{metrics}"
    );
}

/// The group's offset survives a restart of `sluice run`: after it, the
/// group gets only the rows inserted since, none twice.
#[tokio::test]
async fn group_offset_survives_a_restart_of_run() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE IF NOT EXISTS http_restart");
    let data = tempfile::tempdir().unwrap();
    let (child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    db.sql(
        "CREATE TABLE http_restart.t (id INT PRIMARY KEY);
         INSERT INTO http_restart.t VALUES (1), (2);",
    );
    assert_eq!(read_ids(&base, "http_restart", 2).await, ["1", "2"]);
    drop(child);
    let (child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    // Before anything new arrives, the status shows where capture resumed.
    let s = get_json(&format!("{base}/status")).await.unwrap();
    let capture = &s["sources"][0]["capture"];
    assert_eq!(capture["transactions"], 0, "{s}");
    assert!(
        capture["file"].as_str().unwrap().starts_with("mysql-bin."),
        "{s}"
    );
    assert!(capture["position"].as_u64().unwrap() > 4, "{s}");
    drop(child);
    db.sql("INSERT INTO http_restart.t VALUES (3);");
    let (_child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    db.sql("INSERT INTO http_restart.t VALUES (4);");
    assert_eq!(read_ids(&base, "http_restart", 2).await, ["3", "4"]);
}
