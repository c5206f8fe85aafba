//! The MySQL mirror end to end: a write workload on schema `src` of one
//! private MariaDB (inserts, updates including primary-key changes,
//! deletes, multi-row transactions, awkward values, DDL mid-way) is
//! captured into a log by the pipeline and applied by the mirror sink to
//! schema `dst` of a second private MariaDB. `CHECKSUM TABLE` must agree
//! for every table; after the sink is rewound, killed mid-way and
//! restarted, it must still agree.

use sluice::filter::TableFilter;
use sluice::pipeline::{self, CaptureOptions, StatusHandle};
use sluice::serve::destination::{Destination, ResetPolicy};
use sluice::serve::storage::StorageDestination;
use sluice::sink::mysql::{MysqlOptions, MysqlSink};
use sluice::sink::{self, SinkOptions};
use sluice::source::{SourceConfig, StartPoint};
use sluice_storage::{Log, LogConfig};
use sluice_testkit::MariaDb;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const TABLES: &[&str] = &["t1", "t2", "t3"];

const SCHEMA: &str = "
CREATE TABLE t1 (
  id INT PRIMARY KEY AUTO_INCREMENT,
  name VARCHAR(64) CHARACTER SET utf8mb4,
  amount DECIMAL(12,3),
  created DATETIME(3),
  seen TIMESTAMP(6) NULL,
  raw VARBINARY(32),
  score DOUBLE,
  kind ENUM('a','b','c'),
  flags SET('x','y','z'),
  bits BIT(10),
  yr YEAR
);
CREATE TABLE t2 (
  a INT NOT NULL,
  b VARCHAR(10) NOT NULL,
  note TEXT,
  PRIMARY KEY (a, b)
);";

async fn capture(src: &MariaDb, data: &Path, start: StartPoint) {
    let options = CaptureOptions {
        name: "src".into(),
        source: SourceConfig::from_url(&src.url()).unwrap(),
        start,
        filter: TableFilter::new(r"src\..*", "").unwrap(),
        until_current: true,
        resume_by_gtid: false,
        accept_errant: false,
        dir: data.join("src"),
    };
    let dir = pipeline::log_dir(data, "src");
    std::fs::create_dir_all(&dir).unwrap();
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    tokio::time::timeout(
        Duration::from_secs(60),
        pipeline::run(options, log, StatusHandle::new("src"), stop),
    )
    .await
    .expect("capture finishes")
    .expect("capture succeeds");
}

/// The workload as SQL scripts, one per step (each run by its own client).
fn workload_steps() -> Vec<String> {
    let mut steps = Vec::new();
    for i in 1..=120 {
        let mut sql = String::from("SET NAMES utf8mb4; USE src;\n");
        sql.push_str(&format!(
            "INSERT INTO t1 (name, amount, created, seen, raw, score, kind, flags, bits, yr) VALUES \
             ('n{i} it''s \\\\ \"q\" é€😀', {i}.125, '2024-01-02 03:04:05.{ms:03}', FROM_UNIXTIME({ts}), \
             X'00{i:02X}FF27', {i}.5e-3, '{k}', 'x,z', b'1010101010', {yr});\n",
            ms = i % 1000,
            ts = 1_700_000_000 + i * 97,
            k = ["a", "b", "c"][i as usize % 3],
            yr = 1990 + i % 50,
        ));
        if i % 10 == 0 {
            // A multi-row transaction over both tables.
            sql.push_str(&format!(
                "BEGIN;\n\
                 INSERT INTO t2 VALUES ({i}, 'k{i}', 'line\\nbreak'), ({i}, 'j{i}', NULL), ({j}, 'k', REPEAT('z', 300));\n\
                 UPDATE t1 SET amount = amount * 2, name = NULL, raw = NULL WHERE id % 7 = {m};\n\
                 DELETE FROM t1 WHERE id = {d};\n\
                 COMMIT;\n",
                j = i + 1000,
                m = i % 7,
                d = i - 5,
            ));
        }
        if i == 60 {
            // DDL mid-way: a new column and a new table.
            sql.push_str(
                "ALTER TABLE t1 ADD COLUMN extra INT DEFAULT 7, ADD KEY by_name (name);\n\
                 CREATE TABLE t3 (id BIGINT UNSIGNED PRIMARY KEY, doc JSON, t TIME(2));\n",
            );
        }
        if i > 60 && i % 5 == 0 {
            sql.push_str(&format!(
                "INSERT INTO t3 VALUES ({big}, '{{\"i\": {i}, \"s\": \"a''b\"}}', '-12:34:56.78');\n\
                 UPDATE t1 SET extra = {i}, score = NULL WHERE id = {id};\n",
                big = u64::MAX - i as u64,
                id = i - 2,
            ));
        }
        steps.push(sql);
    }
    let mut sql = String::from("USE src;\n");
    // Primary-key changes, a bulk update and a bulk delete.
    sql.push_str(
        "UPDATE t1 SET id = id + 10000 WHERE id BETWEEN 20 AND 25;\n\
         UPDATE t2 SET b = CONCAT(b, '!') WHERE a < 50;\n\
         UPDATE t3 SET doc = JSON_SET(doc, '$.x', 1) WHERE id % 2 = 0;\n\
         DELETE FROM t2 WHERE a > 1100;\n\
         DELETE FROM t3 WHERE id % 3 = 0;\n",
    );
    steps.push(sql);
    steps
}

fn workload(src: &MariaDb) {
    src.sql(&workload_steps().concat());
}

/// The workload step by step, slowly enough for a sink to be killed in it.
fn slow_workload(src: &MariaDb) {
    for step in workload_steps() {
        src.sql(&step);
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn checksum(db: &MariaDb, schema: &str, table: &str) -> String {
    let out = db.sql(&format!("CHECKSUM TABLE {schema}.{table}"));
    out.split('\t').nth(1).unwrap_or("").trim().to_string()
}

fn count(db: &MariaDb, schema: &str, table: &str) -> u64 {
    db.sql(&format!("SELECT COUNT(*) FROM {schema}.{table}"))
        .trim()
        .parse()
        .unwrap()
}

fn assert_mirrored(src: &MariaDb, dst: &MariaDb, when: &str) {
    for table in TABLES {
        let (a, b) = (checksum(src, "src", table), checksum(dst, "dst", table));
        assert!(
            !a.is_empty() && a != "NULL",
            "{when}: no checksum for src.{table}"
        );
        if a != b {
            let dump = |db: &MariaDb, s: &str| {
                db.sql(&format!("SELECT * FROM {s}.{table} ORDER BY 1 LIMIT 5"))
            };
            panic!(
                "{when}: CHECKSUM TABLE of {table} differs: {a} vs {b}\nsource:\n{}\ntarget:\n{}",
                dump(src, "src"),
                dump(dst, "dst")
            );
        }
        assert_eq!(
            count(src, "src", table),
            count(dst, "dst", table),
            "{when}: {table}"
        );
    }
}

fn options() -> SinkOptions {
    SinkOptions {
        name: "mirror".into(),
        format: Default::default(),
        filter: TableFilter::all(),
        start: ResetPolicy::Earliest,
        commit_every: Duration::from_millis(0),
        keys: sluice::sink::message::KeyRules::by_table(),
        status: Default::default(),
    }
}

fn mirror(dst: &MariaDb) -> MysqlSink {
    MysqlSink::new(MysqlOptions {
        url: dst.url(),
        schemas: [("src".to_string(), "dst".to_string())].into(),
        allow_no_pk: false,
        ddl: true,
        replay_accounts: false,
        workers: sluice::sink::mysql::DEFAULT_WORKERS,
    })
    .unwrap()
}

/// Binlog position after the log's last transaction.
fn captured_next(log: &dyn Destination) -> u64 {
    use prost::Message as _;
    let end = log.end_offset();
    let mut out = Vec::new();
    log.read(end.saturating_sub(1), 1, 8 << 20, &mut out)
        .unwrap();
    out.last()
        .and_then(|r| sluice::proto::Record::decode(r.payload.as_ref()).ok())
        .and_then(|r| r.position)
        .map_or(0, |p| p.next)
}

/// The sink's group committed the log's end.
fn caught_up(log: &dyn Destination) -> bool {
    let end = log.end_offset();
    log.group("sink-mirror")
        .unwrap()
        .is_some_and(|g| g.offset >= end)
}

/// Run the sink until its group committed the log's end.
async fn apply_to_end(log: Arc<dyn Destination>, dst: &MariaDb) {
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(sink::run(options(), log.clone(), mirror(dst), stop));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if caught_up(log.as_ref()) {
            break;
        }
        if task.is_finished() {
            panic!("sink stopped: {:?}", task.await);
        }
        assert!(Instant::now() < deadline, "sink did not reach the end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap().expect("sink ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_keeps_target_identical_and_is_idempotent() {
    let Some(src) = MariaDb::start_default() else {
        return;
    };
    let Some(dst) = MariaDb::start_default() else {
        return;
    };
    src.sql(&format!("CREATE DATABASE src; USE src; {SCHEMA}"));
    dst.sql(&format!("CREATE DATABASE dst; USE dst; {SCHEMA}"));
    let data = tempfile::tempdir().unwrap();
    // A new log, starting at the source's current end.
    capture(&src, data.path(), StartPoint::Current).await;
    workload(&src);
    capture(&src, data.path(), StartPoint::Current).await;
    assert!(count(&src, "src", "t1") > 50 && count(&src, "src", "t3") > 0);
    assert_ne!(checksum(&src, "src", "t1"), checksum(&dst, "dst", "t1"));

    let dir = pipeline::log_dir(data.path(), "src");
    let log: Arc<dyn Destination> =
        StorageDestination::new("src", Log::open_read_only(&dir).unwrap());
    assert!(log.end_offset() > 10, "the workload reached the log");

    // A small max_allowed_packet on the target: the mirror sizes its
    // multi-statement round trips and multi-row REPLACEs to it.
    dst.sql("SET GLOBAL max_allowed_packet = 16384");
    apply_to_end(log.clone(), &dst).await;
    assert_mirrored(&src, &dst, "first apply");

    // Rewind the group and kill the sink part-way, twice, then let a
    // restarted sink finish: the replayed records must change nothing.
    for kill_after in [Duration::from_millis(30), Duration::from_millis(150)] {
        assert!(log.delete_group("sink-mirror").unwrap());
        let (_stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(sink::run(options(), log.clone(), mirror(&dst), stop));
        tokio::time::sleep(kill_after).await;
        task.abort();
        let _ = task.await;
    }
    apply_to_end(log.clone(), &dst).await;
    assert_mirrored(&src, &dst, "after rewind, kills and restart");
}

#[tokio::test]
async fn tables_without_primary_key_are_refused_by_name() {
    let Some(src) = MariaDb::start_default() else {
        return;
    };
    let Some(dst) = MariaDb::start_default() else {
        return;
    };
    let ddl = "CREATE TABLE nopk (a INT, b VARCHAR(5));";
    src.sql(&format!("CREATE DATABASE src; USE src; {ddl}"));
    dst.sql(&format!("CREATE DATABASE dst; USE dst; {ddl}"));
    let data = tempfile::tempdir().unwrap();
    capture(&src, data.path(), StartPoint::Current).await;
    src.sql("INSERT INTO src.nopk VALUES (1, 'a'), (1, 'a'), (2, NULL); DELETE FROM src.nopk WHERE b IS NULL; UPDATE src.nopk SET b = 'z' LIMIT 1;");
    capture(&src, data.path(), StartPoint::Current).await;
    let dir = pipeline::log_dir(data.path(), "src");
    let log: Arc<dyn Destination> =
        StorageDestination::new("src", Log::open_read_only(&dir).unwrap());
    let (_stop_tx, stop) = watch::channel(false);
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        sink::run(options(), log.clone(), mirror(&dst), stop),
    )
    .await
    .expect("refused at once")
    .unwrap_err()
    .to_string();
    assert!(err.contains("src.nopk has no primary key"), "{err}");
    assert_eq!(count(&dst, "dst", "nopk"), 0);

    // Allowed: every column matches, LIMIT 1 keeps duplicates apart.
    log.delete_group("sink-mirror").unwrap();
    let allowed = MysqlSink::new(MysqlOptions {
        url: dst.url(),
        schemas: [("src".to_string(), "dst".to_string())].into(),
        allow_no_pk: true,
        ddl: true,
        replay_accounts: false,
        workers: sluice::sink::mysql::DEFAULT_WORKERS,
    })
    .unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(sink::run(options(), log.clone(), allowed, stop));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !caught_up(log.as_ref()) {
        assert!(
            Instant::now() < deadline && !task.is_finished(),
            "sink did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(checksum(&src, "src", "nopk"), checksum(&dst, "dst", "nopk"));
    assert_eq!(count(&dst, "dst", "nopk"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_survives_kills_during_the_load() {
    let Some(src) = MariaDb::start_default() else {
        return;
    };
    let Some(dst) = MariaDb::start_default() else {
        return;
    };
    src.sql(&format!("CREATE DATABASE src; USE src; {SCHEMA}"));
    dst.sql(&format!("CREATE DATABASE dst; USE dst; {SCHEMA}"));
    let data = tempfile::tempdir().unwrap();
    capture(&src, data.path(), StartPoint::Current).await;

    // Capture follows the load live; the sink reads the same log.
    let dir = pipeline::log_dir(data.path(), "src");
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    let destination: Arc<dyn Destination> = StorageDestination::new("src", log.clone());
    let (capture_stop, stop) = watch::channel(false);
    let live = CaptureOptions {
        name: "src".into(),
        source: SourceConfig::from_url(&src.url()).unwrap(),
        start: StartPoint::Current,
        filter: TableFilter::new(r"src\..*", "").unwrap(),
        until_current: false,
        resume_by_gtid: false,
        accept_errant: false,
        dir: data.path().join("src"),
    };
    let capturing = tokio::spawn(pipeline::run(live, log, StatusHandle::new("src"), stop));
    let src = Arc::new(src);
    let load = {
        let src = src.clone();
        tokio::task::spawn_blocking(move || slow_workload(&src))
    };

    // Kill the sink twice while the load runs, then restart it.
    let mut killed_mid_load = 0;
    for _ in 0..2 {
        let (_stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(sink::run(
            options(),
            destination.clone(),
            mirror(&dst),
            stop,
        ));
        tokio::time::sleep(Duration::from_millis(400)).await;
        if !load.is_finished() {
            killed_mid_load += 1;
        }
        assert!(!task.is_finished(), "sink stopped: {:?}", task.await);
        task.abort();
        let _ = task.await;
    }
    load.await.unwrap();
    // Let capture reach the source's end, then stop it.
    let end = src.sql("SHOW MASTER STATUS");
    let end_pos: u64 = end.split('\t').nth(1).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = captured_next(destination.as_ref());
        if last >= end_pos {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "capture did not reach {end_pos} (at {last})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    capture_stop.send(true).unwrap();
    capturing.await.unwrap().unwrap();

    apply_to_end(destination.clone(), &dst).await;
    assert_mirrored(&src, &dst, "after two kills during the load");
    assert_eq!(killed_mid_load, 2, "the sink was killed while the load ran");
}
