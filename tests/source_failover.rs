//! Source failover with the real binary and two private MariaDBs, a
//! primary and a GTID replica (`log_slave_updates`, `read_only`):
//!
//! - the URL lists both; the primary is killed once the replica caught
//!   up, the replica is promoted and takes the writes: `sluice run` moves
//!   to it on its own, resumes by GTID, and the log holds every row once,
//!   equal to the new primary's table;
//! - the replica was promoted while behind the log (an errant tail):
//!   capture waits with a clear error naming the missing GTIDs (also once
//!   the new primary's sequence numbers pass the log's), appends
//!   nothing, `/status` says why; `--accept-errant` goes on;
//! - `role=any` captures from a read-only replica listed first, the
//!   default role from the primary behind it: both logs equal.

mod capture_support;

use capture_support::*;
use sluice_testkit::{MariaDb, MariaDbOptions};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// A primary and a replica of it by GTID, schema `fo` with table `t`.
fn pair() -> Option<(MariaDb, MariaDb)> {
    let primary = MariaDb::start(MariaDbOptions {
        server_id: 1,
        extra_args: vec!["--log-slave-updates".into()],
        ..Default::default()
    })?;
    let replica = MariaDb::start(MariaDbOptions {
        server_id: 2,
        extra_args: vec!["--log-slave-updates".into(), "--read-only=1".into()],
        ..Default::default()
    })?;
    replica.sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{}', \
         MASTER_PASSWORD='{}', MASTER_USE_GTID=slave_pos; START SLAVE;",
        primary.port(),
        primary.user(),
        primary.password()
    ));
    primary.sql("CREATE DATABASE fo; CREATE TABLE fo.t (id INT PRIMARY KEY, v VARCHAR(20));");
    wait("the replica to copy the schema", || {
        replica.try_sql("SELECT COUNT(*) FROM fo.t").is_ok()
    });
    Some((primary, replica))
}

fn url(hosts: &[&MariaDb], params: &str) -> String {
    let list: Vec<String> = hosts
        .iter()
        .map(|h| format!("127.0.0.1:{}", h.port()))
        .collect();
    format!(
        "mysql://{}:{}@{}{params}",
        hosts[0].user(),
        hosts[0].password(),
        list.join(",")
    )
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn insert(db: &MariaDb, ids: std::ops::RangeInclusive<u32>) {
    let sql: String = ids
        .map(|i| format!("INSERT INTO fo.t VALUES ({i}, 'v{i}');\n"))
        .collect();
    db.sql(&sql);
}

/// `(id, v)` of every insert into `fo.t` in the log, in log order.
fn logged(runner: &Runner) -> Vec<(u32, String)> {
    let (code, out, err) = sluice(&[
        "tail",
        "--data",
        runner.data.to_str().unwrap(),
        "--name",
        &runner.name,
        "--no-follow",
        "--format",
        "canal-json",
    ]);
    assert_eq!(code, 0, "sluice tail: {err}");
    let mut rows = Vec::new();
    for line in out.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        if m["database"] != "fo" || m["table"] != "t" || m["type"] != "INSERT" {
            continue;
        }
        for row in m["data"].as_array().unwrap() {
            rows.push((
                row["id"].as_str().unwrap().parse().unwrap(),
                row["v"].as_str().unwrap().to_string(),
            ));
        }
    }
    rows
}

/// The table as the server holds it.
fn table(db: &MariaDb) -> BTreeMap<u32, String> {
    db.sql("SELECT id, v FROM fo.t")
        .lines()
        .map(|l| {
            let (id, v) = l.split_once('\t').unwrap();
            (id.parse().unwrap(), v.to_string())
        })
        .collect()
}

/// Each row once, and exactly the server's table.
fn assert_once_and_equal(rows: &[(u32, String)], db: &MariaDb) {
    let once: BTreeMap<u32, String> = rows.iter().cloned().collect();
    assert_eq!(once.len(), rows.len(), "a row twice in the log: {rows:?}");
    assert_eq!(once, table(db), "the log differs from the server's table");
}

fn kill_9(db: &MariaDb) {
    Command::new("kill")
        .args(["-KILL", &db.pid().to_string()])
        .status()
        .unwrap();
}

fn promote(db: &MariaDb) {
    db.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;");
}

fn runner(data: &std::path::Path, url: String, extra: &[&str]) -> Runner {
    let mut args = vec![
        "--source".to_string(),
        url,
        "--server-id".into(),
        server_id(),
        "--start".into(),
        "current".into(),
        "--include".into(),
        r"fo\..*".into(),
        "--fsync".into(),
        "always".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Runner::new(data, "fo", &args)
}

#[test]
fn a_promoted_replica_takes_over_by_gtid() {
    let Some((primary, replica)) = pair() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut run = runner(data.path(), url(&[&primary, &replica], ""), &[]);
    run.spawn();
    wait_for_start(&run);
    insert(&primary, 1..=50);
    wait("the replica and the log to hold rows 1..=50", || {
        table(&replica).len() == 50 && logged(&run).len() == 50
    });

    kill_9(&primary);
    promote(&replica);
    insert(&replica, 51..=100);
    wait("the log to hold rows 1..=100", || logged(&run).len() >= 100);
    std::thread::sleep(Duration::from_millis(500));
    let rows = logged(&run);
    assert_once_and_equal(&rows, &replica);
    let log = run.all_logs();
    assert!(
        log.contains("the source server changed: resuming by GTID"),
        "{log}"
    );
    let origin = std::fs::read_to_string(data.path().join("fo/origin")).unwrap();
    assert!(origin.starts_with("mariadb server_id=2\t"), "{origin}");

    // A restart on the new primary resumes by its own positions.
    run.kill();
    insert(&replica, 101..=110);
    run.spawn();
    wait("the log to hold rows 1..=110", || logged(&run).len() >= 110);
    std::thread::sleep(Duration::from_millis(500));
    assert_once_and_equal(&logged(&run), &replica);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_the_log_is_an_errant_tail() {
    let Some((primary, replica)) = pair() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = sluice_testkit::free_port();
    let http = format!("127.0.0.1:{port}");
    let mut run = runner(
        data.path(),
        url(&[&primary, &replica], ""),
        &["--http-addr", &http],
    );
    run.spawn();
    wait_for_start(&run);
    insert(&primary, 1..=20);
    wait("the replica to copy rows 1..=20", || {
        table(&replica).len() == 20
    });
    replica.sql("STOP SLAVE");
    insert(&primary, 21..=30);
    wait("the log to hold rows 1..=30", || logged(&run).len() == 30);
    let last_gtid = primary.sql("SELECT @@gtid_binlog_pos").trim().to_string();

    kill_9(&primary);
    promote(&replica);
    // Past the log's sequence number: the server's GTID position alone
    // would look ahead of the log.
    insert(&replica, 31..=50);
    let status = loop {
        let s: serde_json::Value = match reqwest::get(format!("http://{http}/status")).await {
            Ok(r) => r.json().await.unwrap(),
            Err(_) => serde_json::Value::Null,
        };
        let error = s["sources"][0]["capture"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if error.contains("lacks transactions the log holds") {
            break error;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        status.contains(&last_gtid),
        "names the log's GTID {last_gtid}: {status}"
    );
    assert!(status.contains("--accept-errant"), "{status}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        logged(&run).len(),
        30,
        "nothing appended from the errant server"
    );

    run.kill();
    run.args.push("--accept-errant".into());
    run.spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while logged(&run).len() < 50 {
        assert!(
            Instant::now() < deadline,
            "rows 31..=50 never came from the new primary:\n{}",
            run.last_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rows = logged(&run);
    let ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    assert!(run.last_log().contains("--accept-errant: resuming"));
}

#[test]
fn role_any_captures_the_replica_as_its_primary_would() {
    let Some((primary, replica)) = pair() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut from_replica = runner(
        &data.path().join("r"),
        url(&[&replica, &primary], "?role=any"),
        &[],
    );
    let mut from_primary = runner(&data.path().join("p"), url(&[&replica, &primary], ""), &[]);
    from_replica.spawn();
    from_primary.spawn();
    wait_for_start(&from_replica);
    wait_for_start(&from_primary);
    insert(&primary, 1..=40);
    wait("both logs to hold rows 1..=40", || {
        logged(&from_replica).len() == 40 && logged(&from_primary).len() == 40
    });
    assert_eq!(logged(&from_replica), logged(&from_primary));
    assert_once_and_equal(&logged(&from_replica), &primary);
    let origin = |d: &str| std::fs::read_to_string(data.path().join(d).join("fo/origin")).unwrap();
    assert!(origin("r").starts_with("mariadb server_id=2\t"));
    assert!(origin("p").starts_with("mariadb server_id=1\t"));
}
