//! Replay of a log to Canal clients over loopback: rows per second to one
//! consumer and to eight concurrent consumer groups, against a reference
//! measured in the same run — the same records converted to Canal entries
//! in process, with no socket (what the server cannot beat).
//!
//! cargo bench --bench canal_replay
//! (SLUICE_BENCH_ROWS sets the log size in rows; default 200000.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prost::Message as _;
use sluice::proto::{
    value::Kind, BinlogPosition, ChangeKind, Column, Image, Record, Row, TableChange, Value,
};
use sluice::serve::canal::entry::record_entries;
use sluice::serve::canal::packet::MessagesBody;
use sluice::serve::canal::{
    CanalClient, CanalConfig, CanalServer, Destination, Destinations, Filter, MemoryDestination,
    TimeZone,
};

const ROWS_PER_TXN: usize = 10;

fn rows_total() -> usize {
    std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn txn(n: u64) -> Record {
    let columns = vec![
        Column {
            name: "id".into(),
            mysql_type: "bigint(20)".into(),
            primary_key: true,
            type_code: 8,
            ..Default::default()
        },
        Column {
            name: "name".into(),
            mysql_type: "varchar(64)".into(),
            type_code: 15,
            charset: "utf8mb4".into(),
            ..Default::default()
        },
        Column {
            name: "price".into(),
            mysql_type: "decimal(10,2)".into(),
            type_code: 246,
            ..Default::default()
        },
        Column {
            name: "created".into(),
            mysql_type: "datetime".into(),
            type_code: 18,
            ..Default::default()
        },
    ];
    let rows = (0..ROWS_PER_TXN as u64)
        .map(|i| {
            let id = n * ROWS_PER_TXN as u64 + i;
            Row {
                before: None,
                after: Some(Image {
                    values: vec![
                        Value {
                            kind: Some(Kind::Int(id as i64)),
                        },
                        Value {
                            kind: Some(Kind::Text(format!("customer {id}"))),
                        },
                        Value {
                            kind: Some(Kind::Decimal("1234.50".into())),
                        },
                        Value {
                            kind: Some(Kind::Datetime("2024-05-01 12:34:56".into())),
                        },
                    ],
                }),
            }
        })
        .collect();
    Record {
        position: Some(BinlogPosition {
            file: "mysql-bin.000001".into(),
            start: n * 1000,
            next: n * 1000 + 999,
        }),
        gtid: format!("0-1-{n}"),
        server_id: 1,
        commit_time_ms: 1_700_000_000_000,
        changes: vec![TableChange {
            schema: "shop".into(),
            table: "orders".into(),
            kind: ChangeKind::Insert as i32,
            columns,
            names_known: true,
            rows,
            query: String::new(),
            ..Default::default()
        }],
        last_part: true,
        ..Default::default()
    }
}

fn log() -> Arc<MemoryDestination> {
    let d = MemoryDestination::new("bench");
    for n in 0..(rows_total() / ROWS_PER_TXN) as u64 {
        d.append(&txn(n));
    }
    d
}

/// The reference: decode and convert every record, no socket.
fn in_process(d: &MemoryDestination) -> usize {
    let mut recs = Vec::new();
    d.read(0, usize::MAX, usize::MAX, &mut recs).unwrap();
    let filter = Filter::all();
    let mut rows = 0;
    let mut body = MessagesBody::new();
    for r in &recs {
        let rec = Record::decode(&r.payload[..]).unwrap();
        let mut entries = Vec::new();
        let mut open = false;
        record_entries(&rec, true, &filter, TimeZone::Utc, &mut open, &mut entries);
        for e in &entries {
            body.push(e);
        }
        rows += rec.changes.iter().map(|c| c.rows.len()).sum::<usize>();
        if body.bytes() > 8 << 20 {
            body = MessagesBody::new();
        }
    }
    rows
}

/// One consumer group reads the whole log over the socket.
async fn consume(addr: std::net::SocketAddr, group: String) -> usize {
    let mut client = CanalClient::connect(addr, "", "").await.unwrap();
    client.subscribe("bench", &group, "").await.unwrap();
    let want = (rows_total() / ROWS_PER_TXN) * ROWS_PER_TXN;
    let mut rows = 0;
    while rows < want {
        let m = client.get_without_ack(3000, None).await.unwrap();
        for e in &m.entries {
            if e.entry_type == Some(2) {
                let rc = sluice::proto::canal::RowChange::decode(&e.store_value[..]).unwrap();
                rows += rc.row_datas.len();
            }
        }
        client.ack(m.batch_id).await.unwrap();
    }
    rows
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let d = log();
    let rows = (rows_total() / ROWS_PER_TXN) * ROWS_PER_TXN;
    let addr = rt.block_on(async {
        let mut dests = Destinations::new();
        dests.insert(d.clone());
        let server = CanalServer::bind(
            CanalConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                time_zone: TimeZone::Utc,
                ..Default::default()
            },
            dests,
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(server.run(std::future::pending()));
        addr
    });
    let mut group = c.benchmark_group("canal_replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("in_process_reference", |b| b.iter(|| in_process(&d)));
    let mut n = 0u64;
    group.bench_function("socket_one_group", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(consume(addr, format!("one-{n}")))
        })
    });
    group.throughput(Throughput::Elements(8 * rows as u64));
    group.bench_function("socket_eight_groups", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                let tasks: Vec<_> = (0..8)
                    .map(|g| tokio::spawn(consume(addr, format!("eight-{n}-{g}"))))
                    .collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total
            })
        })
    });
    group.finish();

    // The ratio, measured once more side by side.
    let t = Instant::now();
    in_process(&d);
    let reference = t.elapsed();
    let t = Instant::now();
    rt.block_on(consume(addr, "ratio".into()));
    let socket = t.elapsed();
    println!(
        "canal_replay: {rows} rows; in process {:.0} rows/s, one socket consumer {:.0} rows/s, ratio socket/reference {:.2}",
        rows as f64 / reference.as_secs_f64(),
        rows as f64 / socket.as_secs_f64(),
        reference.as_secs_f64() / socket.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
