//! Framing and transaction assembly throughput: the largest corpus file
//! (MariaDB 11.8, 26,594 events, 3.7 MB) decoded into records by sluice's
//! `Decoder`, beside `mysql_common`'s own binlog file reader parsing every
//! event body of the same bytes, in the same run; then the records into
//! each output format. Prints events per second and the ratio.
//!
//! Run: `SLUICE_BINLOGS=../shared/binlogs cargo bench --bench decode_frame`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice::decode::{decode_all, BinlogFile};
use sluice::format::Format;
use std::hint::black_box;
use std::time::Instant;

const FILE: &str = "mariadb-poc__domain_id_0_mariadb-repl-bin.000002";

fn corpus_bytes() -> Vec<u8> {
    let dir = std::env::var("SLUICE_BINLOGS").unwrap_or_else(|_| "../shared/binlogs".into());
    std::fs::read(std::path::Path::new(&dir).join(FILE)).expect("corpus file (set SLUICE_BINLOGS)")
}

fn sluice_decode(bytes: &[u8]) -> usize {
    let file = BinlogFile::from_bytes(FILE, bytes.to_vec());
    let d = decode_all(&file);
    assert!(d.errors.is_empty());
    d.records.len()
}

fn mysql_common_parse(bytes: &[u8]) -> usize {
    use mysql_common::binlog::{consts::BinlogVersion, BinlogFile as McFile};
    let file = McFile::new(BinlogVersion::Version4, bytes).expect("mysql_common opens it");
    let mut n = 0;
    for ev in file {
        let ev = ev.expect("mysql_common reads the event");
        black_box(ev.read_data().ok());
        n += 1;
    }
    n
}

fn events_in(bytes: &[u8]) -> u64 {
    BinlogFile::from_bytes(FILE, bytes.to_vec())
        .events()
        .count() as u64
}

fn bench(c: &mut Criterion) {
    let bytes = corpus_bytes();
    let events = events_in(&bytes);

    // One timed pass each, side by side, for the printed ratio.
    let rounds = 20;
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(sluice_decode(&bytes));
    }
    let ours = t.elapsed().as_secs_f64() / rounds as f64;
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(mysql_common_parse(&bytes));
    }
    let theirs = t.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "decode {FILE}: sluice {:.0} events/s into records, mysql_common {:.0} events/s parsed; ratio {:.2}x",
        events as f64 / ours,
        events as f64 / theirs,
        theirs / ours
    );

    let mut g = c.benchmark_group("framing");
    g.throughput(Throughput::Elements(events));
    g.bench_function("sluice_decoder_records", |b| {
        b.iter(|| sluice_decode(&bytes))
    });
    g.bench_function("mysql_common_parse_events", |b| {
        b.iter(|| mysql_common_parse(&bytes))
    });
    g.finish();

    let records = decode_all(&BinlogFile::from_bytes(FILE, bytes.clone())).records;
    let mut g = c.benchmark_group("formats");
    g.throughput(Throughput::Elements(records.len() as u64));
    for f in [Format::Json, Format::CanalJson, Format::DebeziumJson] {
        g.bench_function(f.to_string(), |b| {
            let mut out = Vec::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                for (i, r) in records.iter().enumerate() {
                    f.write(r, i as u64, &mut out);
                }
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
