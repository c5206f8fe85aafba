//! Mirror lag under real sysbench load: how long after the writers stop
//! the MySQL mirror's target is equal to the source, by `workers`.
//!
//! Each round gets a private source MariaDB, a private target MariaDB and
//! the release `sluice run` with one mirror sink (`sbtest → sbtest`,
//! `workers = W`). `sysbench oltp_write_only prepare` loads
//! `SLUICE_BENCH_TABLES` (4) tables of `SLUICE_BENCH_ROWS` (10,000) rows
//! through the mirror; once the target's `CHECKSUM TABLE`s equal the
//! source's, `sysbench oltp_write_only run` writes with
//! `SLUICE_BENCH_THREADS` (8) threads for `SLUICE_BENCH_SECONDS` (20) s.
//! The figure is the time from sysbench's exit until every table's
//! `CHECKSUM TABLE` on the target equals the source's (polled every
//! 50 ms).
//!
//! Run: `cargo bench --bench mirror_lag` (`SLUICE_BENCH_WORKERS=1,4`
//! picks the rounds; needs Debian's `sysbench`).

mod support;

use mysql_async::prelude::Queryable;
use sluice_testkit::MariaDb;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{env_u64, Killed};

struct Round {
    workers: u64,
    tps: f64,
    lag: Duration,
}

fn sysbench(db: &MariaDb, args: &[String]) -> String {
    let out = Command::new("sysbench")
        .arg("oltp_write_only")
        .arg("--db-driver=mysql")
        .arg("--mysql-host=127.0.0.1")
        .arg(format!("--mysql-port={}", db.port()))
        .arg(format!("--mysql-user={}", db.user()))
        .arg(format!("--mysql-password={}", db.password()))
        .arg("--mysql-db=sbtest")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("sysbench is needed (apt-get install sysbench)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "sysbench {args:?} failed:\n{text}");
    text
}

/// `CHECKSUM TABLE` of every table, in order.
async fn checksums(conn: &mut mysql_async::Conn, tables: u64) -> Vec<Option<u64>> {
    let list: Vec<String> = (1..=tables).map(|t| format!("sbtest.sbtest{t}")).collect();
    conn.query::<(String, Option<u64>), _>(format!("CHECKSUM TABLE {}", list.join(", ")))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(_, sum)| sum)
        .collect()
}

/// Polls the target until its checksums equal `want`; returns when.
async fn wait_equal(target: &mut mysql_async::Conn, want: &[Option<u64>], tables: u64) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if checksums(target, tables).await == want {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "the mirror never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn round(workers: u64, tables: u64, rows: u64, threads: u64, seconds: u64) -> Round {
    let source = MariaDb::start_default().expect("MariaDB is needed");
    let target = MariaDb::start_default().expect("MariaDB is needed");
    source.sql("CREATE DATABASE sbtest");
    target.sql("CREATE DATABASE sbtest");
    let data = tempfile::tempdir().expect("temp dir");
    let addr = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let config = format!(
        r#"data = "{data}"
http_addr = "{addr}"

[[source]]
name = "sb"
url = "{source}"
server_id = 6262
start = "current"
include = 'sbtest\..*'

[[sink]]
name = "mirror"
source = "sb"
kind = "mysql"
url = "{target}"
workers = {workers}
"#,
        data = data.path().join("logs").display(),
        source = source.url(),
        target = target.url(),
    );
    let path = data.path().join("sluice.toml");
    std::fs::write(&path, config).expect("write config");
    let _sluice = Killed(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sluice run"),
    );
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = match reqwest::get(format!("{base}/status")).await {
            Ok(r) => r.json::<serde_json::Value>().await.ok(),
            Err(_) => None,
        };
        if state.is_some_and(|s| s["sources"][0]["capture"]["state"] == "streaming") {
            break;
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let size = [format!("--tables={tables}"), format!("--table-size={rows}")];
    sysbench(&source, &size);
    let mut src = mysql_async::Conn::from_url(source.url())
        .await
        .expect("source");
    let mut dst = mysql_async::Conn::from_url(target.url())
        .await
        .expect("target");
    let loaded = checksums(&mut src, tables).await;
    wait_equal(&mut dst, &loaded, tables).await;

    let mut args = size.to_vec();
    args.extend([
        format!("--threads={threads}"),
        format!("--time={seconds}"),
        "--report-interval=0".into(),
        "run".into(),
    ]);
    let report = sysbench(&source, &args);
    let stopped = Instant::now();
    let want = checksums(&mut src, tables).await;
    let equal = wait_equal(&mut dst, &want, tables).await;
    // "transactions:                        35210  (1760.21 per sec.)"
    let tps = report
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .and_then(|l| l.split('(').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    Round {
        workers,
        tps,
        lag: equal - stopped,
    }
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let tables = env_u64("SLUICE_BENCH_TABLES", 4);
    let rows = env_u64("SLUICE_BENCH_ROWS", 10_000);
    let threads = env_u64("SLUICE_BENCH_THREADS", 8);
    let seconds = env_u64("SLUICE_BENCH_SECONDS", 20);
    let workers: Vec<u64> = std::env::var("SLUICE_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    println!(
        "mirror_lag: sysbench oltp_write_only, {tables} tables x {rows} rows, {threads} threads for {seconds} s"
    );
    println!("| workers | source tx/s | equal after the writers stopped |");
    println!("|---|---|---|");
    for w in workers {
        let r = round(w, tables, rows, threads, seconds).await;
        println!(
            "| {} | {:.0} | {:.2} s |",
            r.workers,
            r.tps,
            r.lag.as_secs_f64()
        );
    }
}
