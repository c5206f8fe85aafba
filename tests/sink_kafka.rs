//! The Kafka sink against librdkafka's mock cluster (real librdkafka and
//! its in-process brokers, no Kafka installation): topics from the
//! template, keys and partitions as configured, every change delivered
//! after a stop mid-stream and a restart from the committed offset.
#![cfg(feature = "kafka")]
mod common;

use common::sink::{append_record, wait_committed};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::mocking::MockCluster;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice::filter::TableFilter;
use sluice::format::Format;
use sluice::proto::{value, ChangeKind, Column, Image, Record, Row, TableChange, Value};
use sluice::serve::storage::StorageDestination;
use sluice::sink::message::KeyRules;
use sluice::sink::{self, kafka};
use sluice_storage::{Log, LogConfig, ResetPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const RECORDS: u64 = 60;
const PARTITIONS: i32 = 4;

/// A change of `table` with one row per id (column `id`, the primary key,
/// and `v`).
fn change(table: &str, ids: &[u64], v: u64) -> TableChange {
    let column = |name: &str, pk: bool| Column {
        name: name.into(),
        mysql_type: "bigint(20) unsigned".into(),
        primary_key: pk,
        unsigned: true,
        type_code: 8,
        ..Default::default()
    };
    TableChange {
        schema: "shop".into(),
        table: table.into(),
        kind: ChangeKind::Update as i32,
        names_known: true,
        columns: vec![column("id", true), column("v", false)],
        rows: ids
            .iter()
            .map(|&id| {
                let image = |v: u64| Image {
                    values: vec![
                        Value {
                            kind: Some(value::Kind::Uint(id)),
                        },
                        Value {
                            kind: Some(value::Kind::Uint(v)),
                        },
                    ],
                };
                Row {
                    before: Some(image(v)),
                    after: Some(image(v + 1)),
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// Record i updates orders rows `i % 10` and `(i + 5) % 10` and items row
/// `i % 3`: keys repeat, so their order per partition can be checked.
fn fill(log: &Log) {
    for i in 0..RECORDS {
        let record = Record {
            gtid: format!("0-1-{}", i + 1),
            commit_time_ms: 1_700_000_000_000 + i as i64,
            changes: vec![
                change("orders", &[i % 10, (i + 5) % 10], i),
                change("items", &[i % 3], i),
            ],
            last_part: true,
            ..Default::default()
        };
        append_record(log, &record, 100 + i);
    }
    log.flush().unwrap();
}

fn options(keys: KeyRules) -> sink::SinkOptions {
    sink::SinkOptions {
        name: "k".into(),
        format: Format::CanalJson,
        filter: TableFilter::all(),
        start: ResetPolicy::Earliest,
        commit_every: Duration::from_millis(10),
        keys,
        status: Default::default(),
    }
}

fn kafka_options(brokers: &str, topic: &str) -> kafka::KafkaOptions {
    kafka::KafkaOptions {
        brokers: brokers.to_string(),
        topic: topic.to_string(),
        source: "main".into(),
        properties: vec![("linger.ms".into(), "1".into())],
    }
}

/// One consumed message.
#[derive(Debug)]
struct Got {
    topic: String,
    partition: i32,
    key: String,
    id: String,
    json: serde_json::Value,
}

/// Everything in `topics` (all partitions, from the beginning), waiting
/// until at least `at_least` messages arrived.
fn consume(brokers: &str, topics: &[&str], at_least: usize) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sluice-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_since = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let id = m
                    .headers()
                    .and_then(|h| {
                        h.iter()
                            .find(|x| x.key == "sluice-id")
                            .and_then(|x| x.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    })
                    .expect("a sluice-id header");
                out.push(Got {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    id,
                    json: serde_json::from_slice(m.payload().unwrap()).unwrap(),
                });
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("consumer: {e}"),
            None => {
                // Enough, and nothing more for a while: done.
                if out.len() >= at_least && quiet_since.elapsed() > Duration::from_millis(500) {
                    return out;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {at_least} messages arrived",
            out.len()
        );
    }
}

/// The ids the sink must have sent: one per row of each table.
fn expected_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for i in 0..RECORDS {
        for r in 0..2 {
            ids.insert(format!("main-{i}-0-0.{r}"));
        }
        ids.insert(format!("main-{i}-0-1.0"));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_keyed_by_primary_key_keep_their_partition_and_order_across_a_restart() {
    let cluster = MockCluster::new(3).unwrap();
    let brokers = cluster.bootstrap_servers();
    let topics = ["sluice.main.shop.orders", "sluice.main.shop.items"];
    for t in topics {
        cluster.create_topic(t, PARTITIONS, 1).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    fill(&log);
    let destination = StorageDestination::new("main", log.clone());
    let template = "sluice.{source}.{db}.{table}";

    // First run, stopped part-way (as a kill would).
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = kafka::KafkaSink::new(kafka_options(&brokers, template)).unwrap();
    let run = sink::run(
        options(KeyRules::by_primary_key()),
        destination.clone(),
        sink,
        stop_rx,
    );
    let task = tokio::spawn(run);
    wait_committed(&log, "k", 1).await;
    task.abort();
    let _ = task.await;
    drop(stop);

    // Restarted: resumes at the committed offset.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = kafka::KafkaSink::new(kafka_options(&brokers, template)).unwrap();
    let run = sink::run(
        options(KeyRules::by_primary_key()),
        destination,
        sink,
        stop_rx,
    );
    let task = tokio::spawn(run);
    wait_committed(&log, "k", RECORDS).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let expected = expected_ids();
    let got = tokio::task::spawn_blocking(move || consume(&brokers, &topics, expected_ids().len()))
        .await
        .unwrap();
    let ids: BTreeSet<String> = got.iter().map(|g| g.id.clone()).collect();
    assert_eq!(
        ids, expected,
        "every row delivered (a redelivered tail may repeat)"
    );

    let mut partition_of: BTreeMap<(String, String), i32> = BTreeMap::new();
    let mut last_offset: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut partitions: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for g in &got {
        // One row per message, keyed by that row's primary key.
        let data = g.json["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{}", g.json);
        assert_eq!(data[0]["id"].as_str().unwrap(), g.key);
        let table = g.json["table"].as_str().unwrap();
        assert_eq!(g.topic, format!("sluice.main.shop.{table}"));
        let k = (g.topic.clone(), g.key.clone());
        let p = *partition_of.entry(k.clone()).or_insert(g.partition);
        assert_eq!(p, g.partition, "key {k:?} in one partition");
        partitions.insert((g.topic.clone(), g.partition));
        // Per key, in log order once the redelivered repeats are dropped
        // (what a consumer deduplicating by sluice-id sees).
        if !seen.insert(g.id.as_str()) {
            continue;
        }
        let offset: u64 = g.id.split('-').nth(1).unwrap().parse().unwrap();
        if let Some(prev) = last_offset.insert(k.clone(), offset) {
            assert!(offset > prev, "key {k:?}: offset {offset} after {prev}");
        }
    }
    let orders_partitions = partitions
        .iter()
        .filter(|(t, _)| t.ends_with("orders"))
        .count();
    assert!(
        orders_partitions > 1,
        "10 keys spread over {PARTITIONS} partitions, used {orders_partitions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_topic_keyed_by_table() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("all-changes", PARTITIONS, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    fill(&log);
    let destination = StorageDestination::new("main", log.clone());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sink = kafka::KafkaSink::new(kafka_options(&brokers, "all-changes")).unwrap();
    let task = tokio::spawn(sink::run(
        options(KeyRules::by_table()),
        destination,
        sink,
        stop_rx,
    ));
    wait_committed(&log, "k", RECORDS).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let got = tokio::task::spawn_blocking(move || {
        consume(&brokers, &["all-changes"], RECORDS as usize * 2)
    })
    .await
    .unwrap();
    assert_eq!(
        got.len(),
        RECORDS as usize * 2,
        "one message per table change"
    );
    for table in ["orders", "items"] {
        let mine: Vec<&Got> = got.iter().filter(|g| g.json["table"] == table).collect();
        assert_eq!(mine.len() as u64, RECORDS);
        assert!(mine.iter().all(|g| g.key == format!("shop.{table}")));
        assert!(mine.iter().all(|g| g.partition == mine[0].partition));
        let offsets: Vec<u64> = mine
            .iter()
            .map(|g| g.id.split('-').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            offsets,
            (0..RECORDS).collect::<Vec<_>>(),
            "{table} in log order"
        );
    }
}
