//! The NATS JetStream sink against a real `nats-server -js` started by the
//! test: every row event arrives once, on its table's subject, in log
//! order — also when the sink is stopped mid-stream and restarted, and
//! when its group is rewound (JetStream drops the repeated message ids).

mod common;

use common::sink::{append_record, wait_committed};
use sluice::filter::TableFilter;
use sluice::format::Format;
use sluice::proto::{value, ChangeKind, Column, Image, Record, Row, TableChange, Value};
use sluice::serve::storage::StorageDestination;
use sluice::sink::{self, nats};
use sluice_storage::{Log, LogConfig, ResetPolicy};
use sluice_testkit::NatsServer;
use std::time::Duration;

const RECORDS: u64 = 60;

fn change(table: &str, i: u64) -> TableChange {
    TableChange {
        schema: "shop".into(),
        table: table.into(),
        kind: ChangeKind::Insert as i32,
        names_known: true,
        columns: vec![Column {
            name: "id".into(),
            mysql_type: "bigint(20) unsigned".into(),
            primary_key: true,
            unsigned: true,
            type_code: 8,
            ..Default::default()
        }],
        rows: vec![Row {
            before: None,
            after: Some(Image {
                values: vec![Value {
                    kind: Some(value::Kind::Uint(i)),
                }],
            }),
        }],
        ..Default::default()
    }
}

fn fill(log: &Log) {
    for i in 0..RECORDS {
        let record = Record {
            gtid: format!("0-1-{}", i + 1),
            commit_time_ms: 1_700_000_000_000 + i as i64,
            changes: vec![change("orders", i), change("items", i)],
            last_part: true,
            ..Default::default()
        };
        append_record(log, &record, 100 + i);
    }
    log.flush().unwrap();
}

fn options() -> sink::SinkOptions {
    sink::SinkOptions {
        name: "events".into(),
        format: Format::Json,
        filter: TableFilter::all(),
        start: ResetPolicy::Earliest,
        commit_every: Duration::from_millis(10),
        keys: sluice::sink::message::KeyRules::by_table(),
        status: Default::default(),
    }
}

fn nats_options(url: &str) -> nats::NatsOptions {
    nats::NatsOptions {
        url: url.to_string(),
        subject: "sluice.{source}.{db}.{table}".into(),
        stream: "SLUICE".into(),
        stream_subjects: vec!["sluice.>".into()],
        source: "main".into(),
        duplicate_window: Duration::from_secs(600),
    }
}

/// Every message of the stream: (subject, msg id, payload).
async fn stream_messages(url: &str) -> Vec<(String, String, serde_json::Value)> {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SLUICE").await.unwrap();
    let count = stream.info().await.unwrap().state.messages;
    let mut out = Vec::new();
    for seq in 1..=count {
        let m = stream.get_raw_message(seq).await.unwrap();
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.to_string())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            id,
            serde_json::from_slice(&m.payload).unwrap(),
        ));
    }
    out
}

fn check(messages: &[(String, String, serde_json::Value)]) {
    assert_eq!(
        messages.len() as u64,
        RECORDS * 2,
        "one message per row event"
    );
    let mut ids: Vec<&str> = messages.iter().map(|m| m.1.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, RECORDS * 2, "no message twice");
    for table in ["orders", "items"] {
        let subject = format!("sluice.main.shop.{table}");
        let offsets: Vec<u64> = messages
            .iter()
            .filter(|m| m.0 == subject)
            .map(|m| m.2["offset"].as_u64().unwrap())
            .collect();
        assert_eq!(
            offsets,
            (0..RECORDS).collect::<Vec<_>>(),
            "{subject} in log order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_event_arrives_once_in_order_across_restarts() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    fill(&log);
    let destination = StorageDestination::new("main", log.clone());

    // First run: stopped part-way through (as a kill would).
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = nats::NatsSink::connect(nats_options(&server.url()))
        .await
        .unwrap();
    let task = tokio::spawn(sink::run(options(), destination.clone(), sink, stop_rx));
    wait_committed(&log, "events", 1).await;
    task.abort();
    let _ = task.await;
    drop(stop);
    let partial = stream_messages(&server.url()).await.len() as u64;
    assert!(partial < RECORDS * 2 * 2);

    // Restarted: resumes at the committed offset; the redelivered tail is
    // dropped by JetStream.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = nats::NatsSink::connect(nats_options(&server.url()))
        .await
        .unwrap();
    let task = tokio::spawn(sink::run(options(), destination.clone(), sink, stop_rx));
    wait_committed(&log, "events", RECORDS).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    check(&stream_messages(&server.url()).await);

    // Rewound to the start: everything is sent again, nothing is stored twice.
    assert!(log.groups().delete("sink-events").unwrap());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = nats::NatsSink::connect(nats_options(&server.url()))
        .await
        .unwrap();
    let task = tokio::spawn(sink::run(options(), destination, sink, stop_rx));
    wait_committed(&log, "events", RECORDS).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    check(&stream_messages(&server.url()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error() {
    let port = sluice_testkit::free_port();
    let err = nats::NatsSink::connect(nats_options(&format!("nats://127.0.0.1:{port}")))
        .await
        .err()
        .expect("no NATS there")
        .to_string();
    assert!(err.contains("cannot connect to NATS"), "{err}");
}
