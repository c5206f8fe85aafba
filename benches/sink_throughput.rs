//! Sink throughput on a sysbench-style workload: rows/s delivered to NATS
//! JetStream and applied to MySQL by the mirror, beside the rate the source
//! database sustained, in the same run.
//!
//! Setup: a private source MariaDB, a private target MariaDB for the
//! mirror, a private `nats-server -js`, and the release `sluice run` with
//! both sinks configured (`[[sink]]` kinds `nats` and `mysql`) and its HTTP
//! listener, whose `/status` shows the capture and every sink's group.
//!
//! 1. Live: with sluice running, `SLUICE_BENCH_WRITERS` (8) connections
//!    create and bulk-load `SLUICE_BENCH_TABLES` (4) sbtest tables of
//!    `SLUICE_BENCH_ROWS` (25,000) rows, then run `SLUICE_BENCH_TXNS`
//!    (20,000) oltp_write_only transactions (two updates, a delete and an
//!    insert). The source rate is rows / time the writers took; a sink's
//!    rate is rows / time from the first write until its group reached the
//!    log end (groups commit every 200 ms: that much is noise).
//! 2. Catching up: sluice restarted with two new sinks (new group names, a
//!    second JetStream stream, a second target schema) over the full log;
//!    rows / time until each group reached the end.
//!
//! Run: `cargo bench --bench sink_throughput`

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{env_u64, Killed};

use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDb, MariaDbOptions, NatsServer};

struct Setup {
    source: MariaDb,
    target: MariaDb,
    nats: NatsServer,
    data: tempfile::TempDir,
}

/// `sluice run` with two sinks named `{prefix}js` and `{prefix}mirror`;
/// returns the process and its HTTP base URL.
fn start_sluice(s: &Setup, prefix: &str, target_schema: &str) -> (Killed, String) {
    let addr = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let stream = format!("{}BENCH", prefix.to_uppercase());
    let config = format!(
        r#"data = "{data}"
http_addr = "{addr}"

[[source]]
name = "sb"
url = "{source}"
server_id = 6161
start = "current"
include = 'sbtest\..*'

[[sink]]
name = "{prefix}js"
source = "sb"
kind = "nats"
url = "{nats}"
subject = "{prefix}bench.{{source}}.{{db}}.{{table}}"
stream = "{stream}"
format = "json"

[[sink]]
name = "{prefix}mirror"
source = "sb"
kind = "mysql"
url = "{target}"
schemas = {{ sbtest = "{target_schema}" }}
"#,
        data = s.data.path().join("logs").display(),
        source = s.source.url(),
        nats = s.nats.url(),
        target = s.target.url(),
    );
    let path = s.data.path().join(format!("{prefix}sluice.toml"));
    std::fs::write(&path, config).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sluice run");
    (Killed(child), format!("http://{addr}"))
}

async fn status(base: &str) -> Option<serde_json::Value> {
    reqwest::get(format!("{base}/status"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

async fn wait_streaming(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = status(base).await {
            if s["sources"][0]["capture"]["state"] == "streaming" {
                return;
            }
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The workload: bulk load, then oltp_write_only transactions, spread over
/// `writers` connections. Returns the time it took.
async fn workload(url: &str, tables: u64, rows: u64, txns: u64, writers: u64) -> Duration {
    let pool = mysql_async::Pool::new(url);
    let start = Instant::now();
    let mut conn = pool.get_conn().await.expect("connection");
    conn.query_drop("CREATE DATABASE sbtest")
        .await
        .expect("create database");
    drop(conn);
    let mut tasks = Vec::new();
    for t in 1..=tables {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get_conn().await.expect("connection");
            c.query_drop(format!(
                "CREATE TABLE sbtest.sbtest{t} (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0,
                   c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_{t} (k))"
            ))
            .await
            .expect("create table");
            // Bulk load in statements of 1,000 rows, as sysbench prepare does.
            for lo in (1..=rows).step_by(1000) {
                let hi = (lo + 999).min(rows);
                c.query_drop(format!(
                    "INSERT INTO sbtest.sbtest{t} SELECT seq, seq * 7 % {rows},
                       LEFT(CONCAT_WS('-', MD5(seq), MD5(seq + 1), MD5(seq + 2), MD5(seq + 3)), 119),
                       LEFT(CONCAT(MD5(seq), SHA1(seq)), 59) FROM sbtest.seq_{lo}_to_{hi}"
                ))
                .await
                .expect("bulk insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("loader");
    }
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get_conn().await.expect("connection");
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (w + 1);
            let mut rnd = move |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % n + 1
            };
            let mut i = w;
            while i < txns {
                let t = rnd(tables);
                let (a, b, d) = (rnd(rows), rnd(rows), rnd(rows));
                let sql = format!(
                    "BEGIN; UPDATE sbtest.sbtest{t} SET k = k + 1 WHERE id = {a};
                     UPDATE sbtest.sbtest{t} SET c = MD5(RAND()) WHERE id = {b};
                     DELETE FROM sbtest.sbtest{t} WHERE id = {d};
                     INSERT INTO sbtest.sbtest{t} (id, k, c, pad) VALUES ({d}, {k}, MD5({d}), 'p');
                     COMMIT",
                    k = rnd(rows)
                );
                if c.query_drop(&sql).await.is_err() {
                    // A deadlock between writers: roll back, go on.
                    let _ = c.query_drop("ROLLBACK").await;
                }
                i += writers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    pool.disconnect().await.ok();
    start.elapsed()
}

/// Wait until the capture reached the source's binlog end and every group
/// in `groups` reached the log end; returns each group's time (from
/// `since`) and the rows captured.
async fn wait_sinks(base: &str, groups: &[&str], since: Instant) -> (Vec<Duration>, u64) {
    let mut done: Vec<Option<Duration>> = vec![None; groups.len()];
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        assert!(Instant::now() < deadline, "sinks did not catch up");
        let Some(s) = status(base).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let src = &s["sources"][0];
        let caught_up = src["capture"]["lag_bytes"].as_u64() == Some(0);
        let end = src["log"]["end_offset"].as_u64().unwrap_or(0);
        for (i, g) in groups.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let at = src["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["name"] == format!("sink-{g}"))
                .and_then(|x| x["offset"].as_u64());
            if caught_up && at == Some(end) {
                done[i] = Some(since.elapsed());
            }
        }
        if done.iter().all(Option::is_some) {
            let rows = src["capture"]["rows"].as_u64().unwrap_or(0);
            return (done.into_iter().flatten().collect(), rows);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let tables = env_u64("SLUICE_BENCH_TABLES", 4);
    let rows = env_u64("SLUICE_BENCH_ROWS", 25_000);
    let txns = env_u64("SLUICE_BENCH_TXNS", 20_000);
    let writers = env_u64("SLUICE_BENCH_WRITERS", 8);
    let options = || MariaDbOptions {
        extra_args: vec!["--innodb-flush-log-at-trx-commit=2".into()],
        ..Default::default()
    };
    let setup = Setup {
        source: MariaDb::start(options()).expect("MariaDB is needed"),
        target: MariaDb::start(options()).expect("MariaDB is needed"),
        nats: NatsServer::start().expect("nats-server is needed"),
        data: tempfile::tempdir().expect("temp dir"),
    };
    println!(
        "sink_throughput: {tables} tables x {rows} rows bulk-loaded, then {txns} oltp_write_only transactions from {writers} connections"
    );

    // 1. Live.
    let (sluice, base) = start_sluice(&setup, "", "sbtest");
    wait_streaming(&base).await;
    let since = Instant::now();
    let wrote = workload(&setup.source.url(), tables, rows, txns, writers).await;
    let (times, captured) = wait_sinks(&base, &["js", "mirror"], since).await;
    let rate = |d: Duration| captured as f64 / d.as_secs_f64();
    println!("live: {captured} rows captured");
    println!(
        "  source writers   {:>7.2} s  {:>9.0} rows/s",
        wrote.as_secs_f64(),
        rate(wrote)
    );
    for (name, t) in ["JetStream sink", "MySQL mirror"].iter().zip(&times) {
        println!(
            "  {name:<16} {:>7.2} s  {:>9.0} rows/s  (done {:.2} s after the writers)",
            t.as_secs_f64(),
            rate(*t),
            t.saturating_sub(wrote).as_secs_f64()
        );
    }
    drop(sluice);

    // 2. Catching up over the full log with fresh sinks.
    let (_sluice, base) = start_sluice(&setup, "c", "sbtest_copy");
    let since = Instant::now();
    wait_streaming(&base).await;
    let (times, _) = wait_sinks(&base, &["cjs", "cmirror"], since).await;
    println!("catching up over the log ({captured} rows):");
    for (name, t) in ["JetStream sink", "MySQL mirror"].iter().zip(&times) {
        println!(
            "  {name:<16} {:>7.2} s  {:>9.0} rows/s",
            t.as_secs_f64(),
            rate(*t)
        );
    }
}
