//! Commit-to-delivery latency: a row committed in MariaDB until an HTTP
//! NDJSON consumer (`follow=true`) receives it, with `sluice run --fsync
//! always`, at a paced 1,000 single-row transactions per second.
//!
//! Setup: a private MariaDB (testkit), the release `sluice run` binary
//! capturing it with its HTTP listener on a free port, one consumer
//! streaming `GET /v1/sources/lat/changes?from=latest&follow=true`, and
//! `SLUICE_BENCH_WRITERS` (4) connections that insert one row per
//! transaction (autocommit) on a shared schedule of `SLUICE_BENCH_TPS`
//! (1000) transactions per second for `SLUICE_BENCH_SECS` (20) seconds.
//! A row's latency is the time from its `INSERT` returning (the commit is
//! acknowledged to the client) to the consumer parsing the line that holds
//! it; both clocks are this process's `Instant`. The first second is
//! warm-up and not counted.
//!
//! Run: `cargo bench --bench commit_latency`

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_u64, Killed};

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDb, MariaDbOptions};

/// Nanoseconds since `base`, 0 meaning "not yet".
fn stamp(base: Instant) -> u64 {
    base.elapsed().as_nanos().max(1) as u64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn wait_streaming(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/status")).await {
            if let Ok(s) = r.json::<serde_json::Value>().await {
                if s["sources"][0]["capture"]["state"] == "streaming" {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Follow the change stream; stamp each inserted id's arrival.
async fn consume(url: String, base: Instant, arrived: Arc<Vec<AtomicU64>>, total: usize) {
    let resp = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("change stream request");
    if resp.status() != 200 {
        let status = resp.status();
        panic!(
            "change stream: {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("change stream body");
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let now = stamp(base);
            let v: serde_json::Value = serde_json::from_slice(&line).expect("NDJSON line");
            if v["type"] != "INSERT" {
                continue;
            }
            for row in v["data"].as_array().into_iter().flatten() {
                let id: usize = row["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("id column");
                if let Some(slot) = arrived.get(id) {
                    slot.store(now, Ordering::Relaxed);
                    seen += 1;
                }
            }
        }
        if seen >= total {
            return;
        }
    }
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let tps = env_u64("SLUICE_BENCH_TPS", 1000);
    let secs = env_u64("SLUICE_BENCH_SECS", 20);
    let writers = env_u64("SLUICE_BENCH_WRITERS", 4) as usize;
    let fsync = std::env::var("SLUICE_BENCH_FSYNC").unwrap_or_else(|_| "always".into());
    let total = (tps * secs) as usize;

    let db = MariaDb::start(MariaDbOptions::default()).expect("MariaDB is needed");
    db.sql("CREATE DATABASE lat; CREATE TABLE lat.t (id BIGINT PRIMARY KEY, v VARCHAR(32))");
    let data = tempfile::tempdir().expect("temp dir");
    let addr = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--source", &db.url(), "--data"])
        .arg(data.path())
        .args([
            "--name",
            "lat",
            "--server-id",
            "5151",
            "--start",
            "current",
            "--fsync",
            &fsync,
            "--include",
            r"lat\..*",
            "--http-addr",
            &addr,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sluice run");
    let _child = Killed(child);
    let http = format!("http://{addr}");
    wait_streaming(&http).await;

    let base = Instant::now();
    let committed: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let arrived: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let url = format!(
        "{http}/v1/sources/lat/changes?from=latest&follow=true&format=canal-json&max=1000000"
    );
    let consumer = tokio::spawn(consume(url, base, arrived.clone(), total));
    // Let the follow request reach the server before the first commit.
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!(
        "commit_latency: {tps} tx/s for {secs} s from {writers} connections, sluice --fsync {fsync}"
    );
    let pool = mysql_async::Pool::new(db.url().as_str());
    let start = Instant::now();
    let period = Duration::from_secs_f64(1.0 / tps as f64);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (pool, committed) = (pool.clone(), committed.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get_conn().await.expect("writer connection");
            let mut id = w;
            while id < total {
                tokio::time::sleep_until((start + period * id as u32).into()).await;
                conn.query_drop(format!("INSERT INTO lat.t VALUES ({id}, 'row {id}')"))
                    .await
                    .expect("insert");
                committed[id].store(stamp(base), Ordering::Relaxed);
                id += writers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let wrote = start.elapsed();
    if tokio::time::timeout(Duration::from_secs(30), consumer)
        .await
        .is_err()
    {
        eprintln!("not every row arrived within 30 s of the last commit");
    }
    pool.disconnect().await.ok();
    // The log's append time (write + fsync) beside it, from /metrics.
    if let Ok(r) = reqwest::get(format!("{http}/metrics")).await {
        for line in r.text().await.unwrap_or_default().lines() {
            if line.starts_with("sluice_append_seconds")
                && (line.contains("quantile") || line.contains("_sum") || line.contains("_count"))
            {
                println!("  {line}");
            }
        }
    }

    let warmup = tps as usize; // the first second
    let mut lat: Vec<f64> = Vec::new();
    let mut missing = 0usize;
    for id in warmup..total {
        let (c, a) = (
            committed[id].load(Ordering::Relaxed),
            arrived[id].load(Ordering::Relaxed),
        );
        if a == 0 {
            missing += 1;
        } else {
            // A row can arrive before its INSERT call returns: count 0.
            lat.push(a.saturating_sub(c) as f64 / 1e6);
        }
    }
    // When the slow ones happened: stalls show as clusters.
    let mut slow: Vec<(f64, usize)> = (warmup..total)
        .filter_map(|id| {
            let (c, a) = (
                committed[id].load(Ordering::Relaxed),
                arrived[id].load(Ordering::Relaxed),
            );
            (a != 0).then(|| (a.saturating_sub(c) as f64 / 1e6, id))
        })
        .collect();
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    let worst: Vec<String> = slow
        .iter()
        .take(10)
        .map(|(ms, id)| format!("{ms:.1} ms at {:.2} s", *id as f64 / tps as f64))
        .collect();
    println!("slowest: {}", worst.join(", "));
    lat.sort_by(|a, b| a.total_cmp(b));
    assert!(!lat.is_empty(), "no row arrived");
    println!(
        "achieved {:.0} tx/s ({} transactions in {:.2} s); measured {} rows after 1 s warm-up, {} missing",
        total as f64 / wrote.as_secs_f64(),
        total,
        wrote.as_secs_f64(),
        lat.len(),
        missing
    );
    println!(
        "commit -> NDJSON consumer latency: p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&lat, 0.50),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
}
