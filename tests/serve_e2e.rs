//! `sluice run` end to end against a private MariaDB: rows committed in the
//! database reach a Canal client and the HTTP stream; a group's offset
//! survives a restart of `sluice run`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::canal::row_ids;
use serde_json::Value;
use sluice::serve::canal::CanalClient;
use sluice_testkit::MariaDb;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Run(Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(db: &MariaDb, data: &std::path::Path, canal: u16, http: u16) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            "--source",
            &db.url(),
            "--name",
            "shop",
            "--server-id",
            "4711",
            "--start",
            "current",
        ])
        .arg("--data")
        .arg(data)
        .args(["--canal-addr", &format!("127.0.0.1:{canal}")])
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting sluice run");
    Run(child)
}

/// Waits until /status says the source streams.
async fn streaming(http: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{http}/status")).await {
            if let Ok(v) = r.json::<Value>().await {
                if v["sources"][0]["capture"]["state"] == "streaming" {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "sluice run did not start streaming"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn read_ids(client: &mut CanalClient, want: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < want {
        assert!(Instant::now() < deadline, "only got {ids:?}");
        let m = client
            .get_without_ack(100, Some(Duration::from_millis(500)))
            .await
            .unwrap();
        if m.batch_id == -1 {
            continue;
        }
        ids.extend(row_ids(&m.entries));
        client.ack(m.batch_id).await.unwrap();
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_reach_canal_and_http_and_offsets_survive_a_restart() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE IF NOT EXISTS serve_e2e; DROP TABLE IF EXISTS serve_e2e.t; CREATE TABLE serve_e2e.t (id INT PRIMARY KEY, name VARCHAR(20))");
    let data = tempfile::tempdir().unwrap();
    let (canal, http) = (free_port(), free_port());
    let run = start(db, data.path(), canal, http);
    streaming(http).await;

    let addr = format!("127.0.0.1:{canal}").parse().unwrap();
    let mut client = CanalClient::connect(addr, "", "").await.unwrap();
    client
        .subscribe("shop", "1001", r"serve_e2e\..*")
        .await
        .unwrap();
    for id in 1..=10 {
        db.sql(&format!("INSERT INTO serve_e2e.t VALUES ({id}, 'n{id}')"));
    }
    assert_eq!(
        read_ids(&mut client, 10).await,
        (1..=10).collect::<Vec<_>>()
    );
    // The same rows over HTTP, for another group.
    let r = reqwest::get(format!(
        "http://127.0.0.1:{http}/v1/sources/shop/changes?group=web&format=canal-json&max=1000"
    ))
    .await
    .unwrap();
    let body = r.text().await.unwrap();
    let inserts = body
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "INSERT" && v["table"] == "t")
        .count();
    assert_eq!(inserts, 10, "{body}");
    // The last get makes sure the last ack was applied before stopping.
    let _ = client.get_without_ack(1, None).await.unwrap();
    drop(client);
    drop(run);

    // Restart: group 1001 resumes after id 10.
    let run = start(db, data.path(), canal, http);
    streaming(http).await;
    let mut client = CanalClient::connect(addr, "", "").await.unwrap();
    client
        .subscribe("shop", "1001", r"serve_e2e\..*")
        .await
        .unwrap();
    db.sql("INSERT INTO serve_e2e.t VALUES (11, 'n11')");
    assert_eq!(read_ids(&mut client, 1).await, vec![11]);
    drop(run);
}
