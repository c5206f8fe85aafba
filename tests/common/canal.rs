//! Helpers for the Canal protocol tests: change events to put in a log,
//! a server on a free port, and raw-socket access.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use sluice::proto::canal as c;
use sluice::proto::{
    value::Kind, BinlogPosition, ChangeKind, Column, Image, Record, Row, TableChange, Value,
};
use sluice::serve::canal::{CanalConfig, CanalServer, Destinations, MemoryDestination};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A one-row INSERT transaction into `schema.table` with id `id`.
pub fn insert(schema: &str, table: &str, id: i64) -> Record {
    Record {
        position: Some(BinlogPosition {
            file: "mysql-bin.000001".into(),
            start: 4 + 100 * id as u64,
            next: 104 + 100 * id as u64,
        }),
        gtid: format!("0-1-{id}"),
        server_id: 1,
        commit_time_ms: 1_700_000_000_000 + id,
        changes: vec![TableChange {
            schema: schema.into(),
            table: table.into(),
            kind: ChangeKind::Insert as i32,
            columns: vec![
                Column {
                    name: "id".into(),
                    mysql_type: "int(11)".into(),
                    primary_key: true,
                    type_code: 3,
                    ..Default::default()
                },
                Column {
                    name: "name".into(),
                    mysql_type: "varchar(32)".into(),
                    type_code: 15,
                    nullable: true,
                    charset: "utf8mb4".into(),
                    ..Default::default()
                },
            ],
            names_known: true,
            rows: vec![Row {
                before: None,
                after: Some(Image {
                    values: vec![
                        Value {
                            kind: Some(Kind::Int(id)),
                        },
                        Value {
                            kind: Some(Kind::Text(format!("name-{id}"))),
                        },
                    ],
                }),
            }],
            query: String::new(),
            ..Default::default()
        }],
        last_part: true,
        ..Default::default()
    }
}

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(config: CanalConfig, dests: &[Arc<MemoryDestination>]) -> TestServer {
        let mut destinations = Destinations::new();
        for d in dests {
            destinations.insert(d.clone());
        }
        let config = CanalConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..config
        };
        let server = CanalServer::bind(config, destinations).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it returned.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server did not stop")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Reads one frame from a raw socket and decodes its Packet; `None` when
/// the server closed the connection.
pub async fn read_packet(sock: &mut TcpStream) -> Option<c::Packet> {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), sock.read_exact(&mut len))
        .await
        .expect("server silent")
        .ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    sock.read_exact(&mut payload).await.ok()?;
    Some(c::Packet::decode(&payload[..]).expect("server sent a bad packet"))
}

/// Sends one frame holding `payload`.
pub async fn write_frame(sock: &mut TcpStream, payload: &[u8]) {
    sock.write_all(&(payload.len() as u32).to_be_bytes())
        .await
        .unwrap();
    sock.write_all(payload).await.unwrap();
}

/// The error an ACK packet carries.
pub fn ack_of(p: &c::Packet) -> (i32, String) {
    assert_eq!(
        p.r#type,
        c::PacketType::Ack as i32,
        "expected an ACK, got {p:?}"
    );
    let ack = c::Ack::decode(&p.body[..]).unwrap();
    (ack.error_code.unwrap_or(0), ack.error_message)
}

/// Whether the server closed the socket (reads EOF within a few seconds).
pub async fn closed(sock: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), sock.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// The ids of the inserted rows in a batch's entries, and checks the
/// BEGIN/ROWDATA/END shape around them.
pub fn row_ids(entries: &[c::Entry]) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut open = false;
    for e in entries {
        match c::EntryType::try_from(e.entry_type.unwrap_or(2)).unwrap() {
            c::EntryType::Transactionbegin => {
                assert!(!open, "BEGIN inside a transaction");
                open = true;
            }
            c::EntryType::Transactionend => {
                assert!(open, "END without BEGIN");
                open = false;
            }
            c::EntryType::Rowdata => {
                assert!(open, "ROWDATA outside a transaction");
                let rc = c::RowChange::decode(&e.store_value[..]).unwrap();
                for row in rc.row_datas {
                    let id = row
                        .after_columns
                        .iter()
                        .find(|c| c.name == "id")
                        .expect("id column")
                        .value
                        .parse()
                        .unwrap();
                    ids.push(id);
                }
            }
            other => panic!("unexpected entry type {other:?}"),
        }
    }
    assert!(!open, "batch ends inside a transaction");
    ids
}
