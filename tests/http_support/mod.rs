//! Shared by the `http_*` tests: a log of known change events built through
//! the storage API, and a real HTTP server on a free loopback port.
#![allow(dead_code)]

use prost::Message;
use sluice::proto;
use sluice::serve::http::{metrics, HttpConfig, HttpServer, Source, Sources};
use sluice_storage::{Log, LogConfig, NewRecord, SourcePos};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Commit time of record `i`: one second apart.
pub const T0: i64 = 1_700_000_000_000;

pub fn commit_time(i: u64) -> i64 {
    T0 + i as i64 * 1000
}

/// Binlog start position of record `i` in `mysql-bin.000001`.
pub fn start_pos(i: u64) -> u64 {
    4 + i * 100
}

/// The change event of record `i`: one insert of `rows` rows into
/// shop.orders with ids `i*rows+1 ..`, GTID `0-1-(i+1)`.
pub fn event(i: u64, rows: u64) -> proto::Record {
    let col = |name: &str, ty: &str, pk: bool| proto::Column {
        name: name.into(),
        mysql_type: ty.into(),
        primary_key: pk,
        ..Default::default()
    };
    let rows = (0..rows)
        .map(|r| proto::Row {
            before: None,
            after: Some(proto::Image {
                values: vec![
                    proto::Value {
                        kind: Some(proto::value::Kind::Int((i * rows + r + 1) as i64)),
                    },
                    proto::Value {
                        kind: Some(proto::value::Kind::Text(format!("order {i}/{r}"))),
                    },
                ],
            }),
        })
        .collect();
    proto::Record {
        position: Some(proto::BinlogPosition {
            file: "mysql-bin.000001".into(),
            start: start_pos(i),
            next: start_pos(i + 1),
        }),
        gtid: format!("0-1-{}", i + 1),
        server_id: 1,
        commit_time_ms: commit_time(i),
        changes: vec![proto::TableChange {
            schema: "shop".into(),
            table: "orders".into(),
            kind: proto::ChangeKind::Insert as i32,
            columns: vec![
                col("id", "int(11)", true),
                col("note", "varchar(64)", false),
            ],
            names_known: true,
            rows,
            query: String::new(),
            ..Default::default()
        }],
        last_part: true,
        ..Default::default()
    }
}

/// Appends records `from..to`, 16 per batch.
pub fn append(log: &Log, from: u64, to: u64, rows: u64) {
    append_with(log, from, to, |k| event(k, rows));
}

/// Appends `make(i)` for `i` in `from..to`, 16 per batch, with the keys of
/// [`event`] (commit time, position, GTID).
pub fn append_with(log: &Log, from: u64, to: u64, make: impl Fn(u64) -> proto::Record) {
    let mut i = from;
    while i < to {
        let end = (i + 16).min(to);
        let payloads: Vec<Vec<u8>> = (i..end).map(|k| make(k).encode_to_vec()).collect();
        let news: Vec<NewRecord> = (i..end)
            .zip(&payloads)
            .map(|(k, p)| NewRecord {
                payload: p,
                commit_time_ms: commit_time(k),
                position: SourcePos::new(1, start_pos(k + 1)),
                gtid: sluice::gtid::contribution(&format!("0-1-{}", k + 1)).unwrap(),
            })
            .collect();
        log.append(&news).unwrap();
        i = end;
    }
    log.flush().unwrap();
}

pub fn open_log(dir: &Path) -> Log {
    Log::open(dir, small_segments()).unwrap()
}

/// Small segments, so retention has something to delete.
pub fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        fsync: sluice_storage::FsyncPolicy::Never,
        ..LogConfig::default()
    }
}

/// A running server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    pub async fn start(log: &Log, token: Option<&str>) -> Server {
        Server::start_with(log, None, token).await
    }

    pub async fn start_with(
        log: &Log,
        status: Option<sluice::pipeline::StatusHandle>,
        token: Option<&str>,
    ) -> Server {
        let mut sources = Sources::new();
        sources.insert(Source::new("main", log.clone(), status));
        let config = HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: token.map(str::to_string),
        };
        let server = HttpServer::bind(config, sources, Default::default(), metrics::install())
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Server {
            addr,
            url: format!("http://{addr}"),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    pub fn changes(&self) -> String {
        format!("{}/v1/sources/main/changes", self.url)
    }

    pub fn groups(&self) -> String {
        format!("{}/v1/sources/main/groups", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The offsets of the NDJSON lines of a `json`-format body.
pub fn offsets(body: &str) -> Vec<u64> {
    body.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["offset"].as_u64().unwrap()
        })
        .collect()
}

pub fn next_offset(resp: &reqwest::Response) -> u64 {
    resp.headers()["sluice-next-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub type Shared<T> = Arc<T>;
