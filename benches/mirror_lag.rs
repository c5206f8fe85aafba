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
    /// Records the mirror had left when the writers stopped.
    backlog: u64,
    /// From the writers' stop until capture reached the source's end.
    captured: Duration,
    lag: Duration,
    /// CPU seconds of `sluice run` and of the target server from the
    /// start of the load until equal.
    cpu: (f64, f64),
    /// The same from the writers' stop until equal: where the drain's
    /// time goes (less than the lag on both means waiting, not work).
    drain_cpu: (f64, f64),
    /// The target's InnoDB row lock waits and deadlocks over the round
    /// (between the mirror's own workers: nothing else writes there).
    locks: (u64, u64),
    /// The target's commits and row statements (REPLACE, DELETE, UPDATE).
    statements: (u64, u64),
}

/// A global status counter of the server behind `conn`.
async fn counter(conn: &mut mysql_async::Conn, name: &str) -> u64 {
    conn.query_first::<(String, u64), _>(format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .ok()
        .flatten()
        .map_or(0, |(_, v)| v)
}

/// CPU time (user + system) of process `pid` in seconds, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

async fn status(base: &str) -> Option<serde_json::Value> {
    reqwest::get(format!("{base}/status"))
        .await
        .ok()?
        .json()
        .await
        .ok()
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
    let sluice = Killed(
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
        if status(&base)
            .await
            .is_some_and(|s| s["sources"][0]["capture"]["state"] == "streaming")
        {
            break;
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let size = [format!("--tables={tables}"), format!("--table-size={rows}")];
    sysbench(
        &source,
        &[size[0].clone(), size[1].clone(), "prepare".into()],
    );
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
    let cpu_before = (cpu_seconds(sluice.0.id()), cpu_seconds(target.pid()));
    let report = sysbench(&source, &args);
    let stopped = Instant::now();
    let cpu_stopped = (cpu_seconds(sluice.0.id()), cpu_seconds(target.pid()));
    let backlog = status(&base).await.map_or(0, |s| {
        let source = &s["sources"][0];
        let end = source["log"]["end_offset"].as_u64().unwrap_or(0);
        let at = source["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["name"] == "sink-mirror")
            .and_then(|g| g["offset"].as_u64())
            .unwrap_or(0);
        end.saturating_sub(at)
    });
    let want = checksums(&mut src, tables).await;
    let mut captured = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let equal = loop {
        if captured.is_none()
            && status(&base)
                .await
                .is_some_and(|s| s["sources"][0]["capture"]["lag_bytes"].as_u64() == Some(0))
        {
            captured = Some(stopped.elapsed());
        }
        if checksums(&mut dst, tables).await == want {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "the mirror never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
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
        backlog,
        captured: captured.unwrap_or_else(|| stopped.elapsed()),
        lag: equal - stopped,
        cpu: (
            cpu_seconds(sluice.0.id()) - cpu_before.0,
            cpu_seconds(target.pid()) - cpu_before.1,
        ),
        drain_cpu: (
            cpu_seconds(sluice.0.id()) - cpu_stopped.0,
            cpu_seconds(target.pid()) - cpu_stopped.1,
        ),
        locks: (
            counter(&mut dst, "Innodb_row_lock_waits").await,
            counter(&mut dst, "Innodb_deadlocks").await,
        ),
        statements: (
            counter(&mut dst, "Com_commit").await,
            counter(&mut dst, "Com_replace").await
                + counter(&mut dst, "Com_delete").await
                + counter(&mut dst, "Com_update").await,
        ),
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
    println!("| workers | source tx/s | mirror backlog at the stop | captured after | equal after the writers stopped | CPU s: sluice, target | of it after the stop | target lock waits, deadlocks | target commits, row statements |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for w in workers {
        let r = round(w, tables, rows, threads, seconds).await;
        println!(
            "| {} | {:.0} | {} records | {:.2} s | {:.2} s | {:.1}, {:.1} | {:.1}, {:.1} | {}, {} | {}, {} |",
            r.workers,
            r.tps,
            r.backlog,
            r.captured.as_secs_f64(),
            r.lag.as_secs_f64(),
            r.cpu.0,
            r.cpu.1,
            r.drain_cpu.0,
            r.drain_cpu.1,
            r.locks.0,
            r.locks.1,
            r.statements.0,
            r.statements.1
        );
    }
}
