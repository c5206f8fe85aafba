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

fn capture_options(
    src: &MariaDb,
    data: &Path,
    start: StartPoint,
    until_current: bool,
) -> CaptureOptions {
    CaptureOptions {
        snapshot: Default::default(),
        name: "src".into(),
        source: SourceConfig::from_url(&src.url()).unwrap(),
        start,
        filter: TableFilter::new(r"src\..*", "").unwrap(),
        until_current,
        resume_by_gtid: false,
        accept_errant: false,
        dir: data.join("src"),
    }
}

async fn capture(src: &MariaDb, data: &Path, start: StartPoint) {
    let dir = pipeline::log_dir(data, "src");
    std::fs::create_dir_all(&dir).unwrap();
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    tokio::time::timeout(
        Duration::from_secs(60),
        pipeline::run(
            capture_options(src, data, start, true),
            log,
            StatusHandle::new("src"),
            stop,
        ),
    )
    .await
    .expect("capture finishes")
    .expect("capture succeeds");
}

/// Capture following `src` live from its current end, and the log it
/// writes as a sink's destination.
struct Live {
    destination: Arc<dyn Destination>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), sluice::pipeline::CaptureError>>,
}

impl Live {
    async fn start(src: &MariaDb, data: &Path) -> Live {
        capture(src, data, StartPoint::Current).await;
        let log = Log::open(&pipeline::log_dir(data, "src"), LogConfig::default()).unwrap();
        let destination: Arc<dyn Destination> = StorageDestination::new("src", log.clone());
        let (stop, rx) = watch::channel(false);
        let options = capture_options(src, data, StartPoint::Current, false);
        let task = tokio::spawn(pipeline::run(options, log, StatusHandle::new("src"), rx));
        Live {
            destination,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }
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
    mirror_with(dst, sluice::sink::mysql::DEFAULT_WORKERS)
}

fn mirror_with(dst: &MariaDb, workers: usize) -> MysqlSink {
    MysqlSink::new(MysqlOptions {
        url: dst.url(),
        schemas: [("src".to_string(), "dst".to_string())].into(),
        allow_no_pk: false,
        ddl: true,
        replay_accounts: false,
        workers,
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
    apply_to_end_with(log, mirror(dst)).await
}

async fn apply_to_end_with(log: Arc<dyn Destination>, mirror: MysqlSink) {
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(sink::run(options(), log.clone(), mirror, stop));
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
    // Capture follows the load live; the sink reads the same log.
    let live = Live::start(&src, data.path()).await;
    let destination = live.destination.clone();
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
    live.stop().await;

    apply_to_end(destination.clone(), &dst).await;
    assert_mirrored(&src, &dst, "after two kills during the load");
    assert_eq!(killed_mid_load, 2, "the sink was killed while the load ran");
}

/// Hot rows: ten rows whose unique `u` values move between them, whose
/// primary keys move to free ids, and whose counters every writer bumps;
/// beside them independent rows. Conflicting transactions applied out of
/// order on the target fail (a duplicate `u`) or leave other values.
const HOT_SCHEMA: &str = "
CREATE TABLE hot (id INT PRIMARY KEY, u VARCHAR(20) NOT NULL, n INT NOT NULL, UNIQUE KEY by_u (u));
CREATE TABLE cold (id INT PRIMARY KEY AUTO_INCREMENT, w INT NOT NULL, v VARCHAR(40));
CREATE TABLE free (id INT PRIMARY KEY AUTO_INCREMENT, w INT NOT NULL, pad VARCHAR(600));";

/// Runs the hot/cold load on `url`: `writers` connections of `steps`
/// transactions each. Statements the source refuses (a duplicate key
/// between writers, a deadlock) are rolled back and skipped.
async fn hot_load(url: String, writers: u64, steps: u64) {
    use mysql_async::prelude::Queryable;
    let pool = mysql_async::Pool::new(url.as_str());
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get_conn().await.expect("connection");
            let mut x = 0x2545_F491_4F6C_DD1Du64 ^ (w + 1);
            let mut rnd = move |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % n
            };
            for i in 0..steps {
                let (a, b) = (rnd(15) + 1, rnd(15) + 1);
                let sql = match (w + i) % 5 {
                    // A unique value moves to another row.
                    0 => format!("UPDATE src.hot SET u = 'k{}', n = n + 1 WHERE id = {a}", rnd(20)),
                    // A row moves to a free primary key.
                    1 => format!("UPDATE src.hot SET id = {b}, n = n + 1 WHERE id = {a}"),
                    // Two hot rows and an independent one together.
                    2 => format!(
                        "BEGIN; UPDATE src.hot SET n = n * 2 + {w} WHERE id IN ({a}, {b});
                         INSERT INTO src.cold (w, v) VALUES ({w}, 'w{w} i{i}'); COMMIT"
                    ),
                    // A wide row no other transaction touches: these
                    // spread over the workers.
                    4 => format!("INSERT INTO src.free (w, pad) VALUES ({w}, REPEAT('p', 500))"),
                    // Independent rows only.
                    _ => format!(
                        "BEGIN; INSERT INTO src.cold (w, v) VALUES ({w}, 'x{i}');
                         UPDATE src.cold SET v = CONCAT(v, '+') WHERE w = {w} ORDER BY id DESC LIMIT 2;
                         COMMIT"
                    ),
                };
                if c.query_drop(&sql).await.is_err() {
                    let _ = c.query_drop("ROLLBACK").await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    pool.disconnect().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_apply_keeps_conflicting_transactions_in_order_across_a_kill() {
    let Some(src) = MariaDb::start_default() else {
        return;
    };
    let Some(dst) = MariaDb::start_default() else {
        return;
    };
    let rows: Vec<String> = (1..=10).map(|i| format!("({i}, 'k{i}', 0)")).collect();
    let seed = format!("INSERT INTO hot VALUES {};", rows.join(", "));
    src.sql(&format!(
        "CREATE DATABASE src; USE src; {HOT_SCHEMA} {seed}"
    ));
    dst.sql(&format!(
        "CREATE DATABASE dst; USE dst; {HOT_SCHEMA} {seed}"
    ));
    let data = tempfile::tempdir().unwrap();
    let live = Live::start(&src, data.path()).await;
    let destination = live.destination.clone();
    let load = tokio::spawn(hot_load(src.url(), 6, 400));

    // The sink with four workers follows the load, and is killed while
    // the load runs, after it applied part of it.
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(sink::run(
        options(),
        destination.clone(),
        mirror_with(&dst, 4),
        stop,
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let applied = loop {
        let at = destination
            .group("sink-mirror")
            .unwrap()
            .map_or(0, |g| g.offset);
        if at > 50 {
            break at;
        }
        assert!(!task.is_finished(), "sink stopped: {:?}", task.await);
        assert!(Instant::now() < deadline, "the sink applied nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mid_load = !load.is_finished();
    task.abort();
    let _ = task.await;
    assert!(mid_load, "the load ended before the kill");
    // A backlog builds while the sink is down: the restart applies it in
    // large batches, where conflicting transactions meet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(sink::run(
        options(),
        destination.clone(),
        mirror_with(&dst, 4),
        stop,
    ));
    load.await.unwrap();
    let end = src.sql("SHOW MASTER STATUS");
    let end_pos: u64 = end.split('\t').nth(1).unwrap().trim().parse().unwrap();
    while captured_next(destination.as_ref()) < end_pos {
        assert!(Instant::now() < deadline, "capture did not reach {end_pos}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    live.stop().await;
    assert!(
        applied < destination.end_offset(),
        "killed at {applied}: the log ends at {}",
        destination.end_offset()
    );
    assert!(!task.is_finished(), "sink stopped: {:?}", task.await);
    task.abort();
    let _ = task.await;
    apply_to_end_with(destination.clone(), mirror_with(&dst, 4)).await;
    for table in ["hot", "cold", "free"] {
        assert_eq!(
            checksum(&src, "src", table),
            checksum(&dst, "dst", table),
            "{table} after a kill mid-load:\nsource:\n{}\ntarget:\n{}",
            src.sql(&format!("SELECT * FROM src.{table} ORDER BY id LIMIT 20")),
            dst.sql(&format!("SELECT * FROM dst.{table} ORDER BY id LIMIT 20"))
        );
    }
    assert!(count(&src, "src", "cold") > 100, "the load ran");
    // The mirror did use four target connections.
    let used = dst.sql("SHOW GLOBAL STATUS LIKE 'Max_used_connections'");
    let used: u64 = used
        .split('\t')
        .nth(1)
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(used >= 4, "max used connections on the target: {used}");

    // From the start again, the whole log in large batches, on a target
    // reset to the seed: the same tables.
    dst.sql(&format!(
        "DROP DATABASE dst; CREATE DATABASE dst; USE dst; {HOT_SCHEMA} {seed}"
    ));
    assert!(destination.delete_group("sink-mirror").unwrap());
    // The target's general log says which connections applied what.
    dst.sql(
        "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1; TRUNCATE mysql.general_log",
    );
    apply_to_end_with(destination.clone(), mirror_with(&dst, 4)).await;
    for table in ["hot", "cold", "free"] {
        assert_eq!(
            checksum(&src, "src", table),
            checksum(&dst, "dst", table),
            "{table} after a full replay"
        );
    }
    // Large batches of the replay went to several connections at once.
    let appliers = dst.sql(
        "SELECT COUNT(DISTINCT thread_id) FROM mysql.general_log WHERE argument LIKE 'BEGIN%REPLACE%'",
    );
    let appliers: u64 = appliers.trim().parse().unwrap_or(0);
    assert!(
        appliers >= 2,
        "transactions applied on {appliers} target connections"
    );
}
