//! The Canal server over the real segment log (`sluice_storage::Log`):
//! records appended by a writer reach waiting clients, acks are durable
//! group commits that survive reopening the log, and retention is reported.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::canal::*;
use prost::Message as _;
use sluice::serve::canal::{
    CanalClient, CanalConfig, CanalServer, ClientError, Destinations, TimeZone,
};
use sluice::serve::storage::StorageDestination;
use sluice_storage::{GtidSet, Log, LogConfig, NewRecord, SourcePos};
use tokio::sync::oneshot;

fn append(log: &Log, ids: std::ops::RangeInclusive<i64>) {
    let payloads: Vec<Vec<u8>> = ids
        .clone()
        .map(|id| insert("shop", "orders", id).encode_to_vec())
        .collect();
    let records: Vec<NewRecord<'_>> = ids
        .zip(&payloads)
        .map(|(id, p)| NewRecord {
            payload: p,
            commit_time_ms: 1_700_000_000_000 + id,
            position: SourcePos::new(1, 4 + 100 * id as u64),
            gtid: GtidSet::new(),
        })
        .collect();
    log.append(&records).unwrap();
    log.flush().unwrap();
}

async fn serve(
    log: &Log,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut dests = Destinations::new();
    dests.insert(StorageDestination::new("shop", log.clone()) as Arc<_>);
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
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

#[tokio::test]
async fn acks_are_durable_across_reopening_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    append(&log, 1..=3);
    let (addr, stop, task) = serve(&log).await;

    let mut client = CanalClient::connect(addr, "", "").await.unwrap();
    client.subscribe("shop", "1001", "").await.unwrap();
    let m = client.get_without_ack(6, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![1, 2]);
    client.ack(m.batch_id).await.unwrap();

    // A get waiting for new records wakes when the writer's append is durable.
    let waiter = tokio::spawn(async move {
        let m = client
            .get_without_ack(6, Some(Duration::from_secs(20)))
            .await
            .unwrap();
        (client, m)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, 4..=4);
    let (mut client, m) = waiter.await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![3, 4]);
    // Not acked: after the restart it comes again.
    let _ = client.get_without_ack(6, None).await.unwrap();
    drop(client);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    drop(log);

    // Reopen the log (a restart of sluice): group 1001 resumes after id 2.
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.groups().get("1001").unwrap().unwrap().offset, 2);
    let (addr, stop, task) = serve(&log).await;
    let mut client = CanalClient::connect(addr, "", "").await.unwrap();
    client.subscribe("shop", "1001", "").await.unwrap();
    let m = client.get_without_ack(100, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![3, 4]);
    client.ack(m.batch_id).await.unwrap();
    let none = client.get_without_ack(100, None).await.unwrap();
    assert_eq!(none.batch_id, -1);
    assert_eq!(log.groups().get("1001").unwrap().unwrap().offset, 4);

    // A group that does not exist yet is created by subscribing.
    let mut other = CanalClient::connect(addr, "", "").await.unwrap();
    other.subscribe("shop", "fresh", "").await.unwrap();
    assert!(log.groups().get("fresh").unwrap().is_some());
    match other.subscribe("elsewhere", "fresh", "").await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(message.contains("unknown destination"))
        }
        r => panic!("expected an error, got {r:?}"),
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
