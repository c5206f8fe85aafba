//! `sluice run` under a concurrent write load against a private MariaDB:
//! the log holds exactly the committed transactions, in binlog order, with
//! the right column names at each position across DDL — checked against
//! the server's own binlog decoded offline by `sluice decode`, and against
//! the tables' final contents. Once with the default
//! `binlog_row_metadata=MINIMAL` (names from the schema history), once with
//! `FULL`. Also: include/exclude filters keep exactly the right tables.

mod capture_support;

use capture_support::load::{self, Spec};
use capture_support::*;
use sluice_testkit::{MariaDb, MariaDbOptions};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

const BIG_ROWS: u64 = 100_000;

/// Capture `schema` on `db` while the load runs; then check everything.
async fn capture_under_load(db: &MariaDb, schema: &str, full_metadata: bool) {
    load::setup(db, schema);
    let data = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(
        data.path(),
        "load",
        &[
            "--source".into(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            "current".into(),
            "--include".into(),
            format!("{schema}\\..*"),
        ],
    );
    runner.spawn();
    // The load starts once capture has taken its snapshot.
    let (file, pos) = wait_for_start(&runner);
    let stats = load::run(Spec {
        url: db.url(),
        schema: schema.into(),
        workers: 4,
        ops: 120,
        big_rows: BIG_ROWS,
        ddl: true,
        pause: Duration::from_millis(5),
        stop: Arc::new(AtomicBool::new(false)),
    })
    .await;
    assert!(
        stats.ok.load(std::sync::atomic::Ordering::Relaxed) > 300,
        "{stats:?}"
    );
    assert!(
        stats.rolled_back.load(std::sync::atomic::Ordering::Relaxed) > 10,
        "{stats:?}"
    );
    db.sql(&format!("INSERT INTO {schema}.sentinel VALUES (1)"));
    wait_for_record(&runner, Duration::from_secs(120), &|r| {
        inserts_into(r, schema, "sentinel")
    });
    runner.stop();

    let keep = |s: &str, _: &str| s == schema;
    let keep_ddl = |q: &str| q.contains(schema);
    let log = canonical(&tail(data.path(), "load"), &keep, &keep_ddl);
    let offline = from_position(canonical(&offline(db), &keep, &keep_ddl), &file, pos);
    assert_same(&log, &offline, schema);

    // Column names: from the binlog (FULL) must equal the server's; from
    // the history (MINIMAL) must be right at every DDL step.
    for (l, o) in log.iter().zip(&offline) {
        for (lc, oc) in l.changes.iter().zip(&o.changes) {
            assert!(
                lc.names_known,
                "names unknown in the log: {lc:?}\n{}",
                runner.all_logs()
            );
            if full_metadata {
                assert!(oc.names_known);
                assert_eq!(lc.names, oc.names);
            } else {
                assert!(!oc.names_known, "this server should not send names");
            }
            if lc.table.starts_with("load_") {
                assert_eq!(lc.names, ["id", "k", "s"]);
            }
        }
    }
    assert_eq!(load::check_ddl_names(&log), load::expected_ddl_names());

    // The large transaction: one transaction in several parts, all rows in
    // order.
    let big: Vec<&Txn> = log
        .iter()
        .filter(|t| t.changes.iter().any(|c| c.table == "big"))
        .collect();
    assert_eq!(big.len(), 1);
    assert!(
        big[0].parts > 1,
        "100k rows were not split: {} part",
        big[0].parts
    );
    let ids: Vec<i64> = big[0]
        .changes
        .iter()
        .flat_map(|c| c.rows.iter())
        .map(|(_, a)| a.as_ref().unwrap()[0].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=BIG_ROWS as i64).collect::<Vec<_>>());

    // Rolled-back transactions left nothing.
    for t in &log {
        for c in &t.changes {
            for (b, a) in &c.rows {
                for img in [b, a].into_iter().flatten() {
                    assert!(
                        !img.iter().any(|v| v.as_str() == Some("rolled-back")),
                        "a rolled-back row in the log at {}:{}",
                        t.file,
                        t.start
                    );
                }
            }
        }
    }

    // The log replayed gives the tables' final contents.
    for table in ["load_a", "load_b", "big", "ddl_t2"] {
        let from_log = load::final_from_log(&log, schema, table);
        let from_db = load::final_from_db(db, schema, table);
        assert!(!from_db.is_empty(), "{table} is empty");
        assert_eq!(from_log.len(), from_db.len(), "{schema}.{table}: row count");
        assert!(
            from_log == from_db,
            "{schema}.{table}: the log's final rows differ from the table's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capture_under_load_minimal_metadata() {
    let Some(db) = MariaDb::shared() else { return };
    // MariaDB's default (NO_LOG, or MINIMAL): no column names in the binlog.
    let metadata = db.sql("SELECT @@binlog_row_metadata");
    assert!(
        ["NO_LOG", "MINIMAL"].contains(&metadata.trim()),
        "{metadata}"
    );
    capture_under_load(db, "cap_min", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capture_under_load_full_metadata() {
    let Some(db) = MariaDb::start(MariaDbOptions {
        row_metadata: Some("FULL".into()),
        ..Default::default()
    }) else {
        return;
    };
    capture_under_load(&db, "cap_full", true).await;
}

#[test]
fn include_and_exclude_filters_keep_exactly_the_right_tables() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql(
        "CREATE DATABASE cap_f; CREATE DATABASE cap_f2; CREATE DATABASE cap_fx;
         CREATE TABLE cap_f.keep_a (id INT PRIMARY KEY);
         CREATE TABLE cap_f.Keep_B (id INT PRIMARY KEY);
         CREATE TABLE cap_f.skip_1 (id INT PRIMARY KEY);
         CREATE TABLE cap_f2.t (id INT PRIMARY KEY);
         CREATE TABLE cap_f2.t2 (id INT PRIMARY KEY);
         CREATE TABLE cap_fx.keep_a (id INT PRIMARY KEY);",
    );
    let (file, pos) = master_status(db);
    let tables = [
        "cap_f.keep_a",
        "cap_f.Keep_B",
        "cap_f.skip_1",
        "cap_f2.t",
        "cap_f2.t2",
        "cap_fx.keep_a",
    ];
    for (i, t) in tables.iter().enumerate() {
        // One transaction touching every table, and one per table.
        db.sql(&format!("INSERT INTO {t} VALUES ({i})"));
    }
    let all: Vec<String> = tables
        .iter()
        .map(|t| format!("INSERT INTO {t} VALUES (100)"))
        .collect();
    db.sql(&format!("BEGIN; {}; COMMIT;", all.join("; ")));

    let data = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(
        data.path(),
        "filtered",
        &[
            "--source".into(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            format!("{file}:{pos}"),
            // Canal: comma-separated, whole-name, case-insensitive; an
            // unescaped `.` matches any character.
            "--include".into(),
            r"cap_f\..*, CAP_F2.T".into(),
            "--exclude".into(),
            r"cap_f\.skip_.*".into(),
        ],
    );
    runner.until_current();
    let log = canonical(&tail(data.path(), "filtered"), &|_, _| true, &|_| false);
    let mut seen: Vec<String> = log
        .iter()
        .flat_map(|t| {
            t.changes
                .iter()
                .map(|c| format!("{}.{}", c.schema, c.table))
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["cap_f.Keep_B", "cap_f.keep_a", "cap_f2.t"]);
    // The mixed transaction is one record with exactly the kept tables.
    let mixed: Vec<&Txn> = log.iter().filter(|t| t.changes.len() == 3).collect();
    assert_eq!(mixed.len(), 1, "{log:?}");
    // Nothing of other schemas at all.
    assert_eq!(
        log.len(),
        4,
        "3 single-table transactions and the mixed one: {log:?}"
    );
}
