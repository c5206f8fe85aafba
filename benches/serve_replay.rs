//! Replay of a log of 1 million row changes over the HTTP API (NDJSON,
//! sluice's JSON format) on loopback: to one consumer, and to eight
//! consumer groups at once. The reference, measured in the same run, is
//! the same read + format done in process without HTTP; the ratio shows
//! what the network path costs.
//!
//! ```sh
//! cargo bench --bench serve_replay
//! SLUICE_BENCH_ROWS_PER_TX=1 cargo bench --bench serve_replay   # 1M one-row transactions
//! ```

#[path = "../tests/http_support/mod.rs"]
mod http_support;

use futures::StreamExt;
use http_support::{append, Server};
use prost::Message;
use sluice::format::Format;
use sluice_storage::{FsyncPolicy, Log, LogConfig};
use std::time::Instant;

const ROWS: u64 = 1_000_000;

/// Reads `records` records as one follow stream; returns (lines, bytes).
async fn consume(srv_changes: String, group: String, records: u64) -> (u64, u64) {
    let r = reqwest::Client::new()
        .get(&srv_changes)
        .query(&[
            ("group", group.as_str()),
            ("follow", "true"),
            ("max", &records.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
    }
    (lines, bytes)
}

fn reference(log: &Log) -> (u64, f64) {
    let started = Instant::now();
    let mut reader = log.read_from(0).unwrap();
    let mut out = Vec::with_capacity(256 << 10);
    let mut bytes = 0u64;
    while let Some(rec) = reader.next().unwrap() {
        let e = sluice::proto::Record::decode(rec.payload().as_ref()).unwrap();
        Format::Json.write(&e, rec.offset, &mut out);
        if out.len() > 128 << 10 {
            bytes += out.len() as u64;
            out.clear();
        }
    }
    bytes += out.len() as u64;
    (bytes, started.elapsed().as_secs_f64())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // special: keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let per_tx: u64 = std::env::var("SLUICE_BENCH_ROWS_PER_TX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rows = if quick { 10_000 } else { ROWS };
    let records = rows / per_tx;
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            fsync: FsyncPolicy::Never,
            ..LogConfig::default()
        },
    )
    .unwrap();
    let t = Instant::now();
    append(&log, 0, records, per_tx);
    eprintln!(
        "built a log of {rows} row changes ({records} transactions of {per_tx} rows) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (ref_bytes, ref_secs) = reference(&log);
    let ref_rate = rows as f64 / ref_secs;
    println!(
        "reference (in process, read + format json): {:.0} rows/s, {:.0} MB/s",
        ref_rate,
        ref_bytes as f64 / ref_secs / 1e6
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let srv = Server::start(&log, None).await;
        let t = Instant::now();
        let (lines, bytes) = consume(srv.changes(), "one".into(), records).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(lines, records);
        let rate = rows as f64 / secs;
        println!(
            "HTTP NDJSON, 1 consumer: {:.0} rows/s, {:.0} MB/s ({:.2} of the reference)",
            rate,
            bytes as f64 / secs / 1e6,
            rate / ref_rate
        );

        let t = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|k| tokio::spawn(consume(srv.changes(), format!("g{k}"), records)))
            .collect();
        let mut total = 0;
        for task in tasks {
            let (lines, _) = task.await.unwrap();
            assert_eq!(lines, records);
            total += lines * per_tx;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "HTTP NDJSON, 8 groups at once: {:.0} rows/s in total ({:.2} of the reference)",
            total as f64 / secs,
            total as f64 / secs / ref_rate
        );
        srv.stop().await;
    });
}
