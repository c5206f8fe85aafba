//! A log that outlives its first segments: tiny segments (64 KiB) and size
//! retention under a live load with DDL mid-way, against a MariaDB with its
//! default `binlog_row_metadata` (NO_LOG: the binlog carries no column
//! names, no signedness, no ENUM members, so every value below depends on
//! the schema history). `sluice run` is stopped after retention deleted the
//! log's first segment (and with it the first schema snapshot), more rows
//! are written, and the restarted capture must still name and decode them
//! exactly as the server's own `SELECT` returns them: for a table created
//! before the deleted range and one created after.

mod capture_support;

use capture_support::{server_id, tail, Runner};
use serde_json::Value;
use sluice_testkit::MariaDb;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Row values by column name, as text.
type Row = BTreeMap<String, String>;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "NULL".into(),
        // A SET: its members, as the server joins them.
        Value::Array(members) => members.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The last after-image of every row of `schema.table` in the log, by id.
fn captured(records: &[Value], schema: &str, table: &str) -> BTreeMap<i64, Row> {
    let mut out = BTreeMap::new();
    for r in records {
        for c in r["changes"].as_array().into_iter().flatten() {
            if c["schema"] != schema || c["table"] != table {
                continue;
            }
            for row in c["rows"].as_array().into_iter().flatten() {
                let Some(after) = row["after"].as_object() else {
                    continue;
                };
                let row: Row = after.iter().map(|(k, v)| (k.clone(), text(v))).collect();
                let id = row.get("id").and_then(|v| v.parse().ok()).unwrap_or(-1);
                out.insert(id, row);
            }
        }
    }
    out
}

/// The server's rows of `schema.table` with `id > from`, by id.
fn selected(db: &MariaDb, table: &str, columns: &[&str], from: i64) -> BTreeMap<i64, Row> {
    let sql = format!(
        "SELECT {} FROM ll.{table} WHERE id > {from} ORDER BY id",
        columns.join(", ")
    );
    let mut out = BTreeMap::new();
    for line in db.sql(&sql).lines().filter(|l| !l.is_empty()) {
        let row: Row = columns
            .iter()
            .map(|c| c.to_string())
            .zip(line.split('\t').map(str::to_string))
            .collect();
        out.insert(row["id"].parse().unwrap(), row);
    }
    out
}

fn first_segment(log_dir: &Path) -> std::path::PathBuf {
    log_dir.join("00000000000000000000.log")
}

/// Transactions of ten rows into `ll.a` with ids `from..from + n`.
fn insert_a(db: &MariaDb, from: i64, n: i64, with_m: bool) {
    let pad = "p".repeat(500);
    for start in (from..from + n).step_by(10) {
        let rows: Vec<String> = (start..(start + 10).min(from + n))
            .map(|i| {
                let e = ["x", "y", "z"][(i % 3) as usize];
                let m = if with_m {
                    format!("{}, ", 16_777_215 - i)
                } else {
                    String::new()
                };
                format!(
                    "({i}, {m}{}, {}, '{e}', '{pad}')",
                    4_000_000_000u64 + i as u64,
                    u64::MAX - i as u64
                )
            })
            .collect();
        let columns = if with_m {
            "id, m, u, big, e, pad"
        } else {
            "id, u, big, e, pad"
        };
        db.sql(&format!(
            "INSERT INTO ll.a ({columns}) VALUES {}",
            rows.join(", ")
        ));
    }
}

#[test]
fn schema_history_survives_retention_of_the_first_segments() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    assert_eq!(
        db.sql("SELECT @@binlog_row_metadata").trim(),
        "NO_LOG",
        "the test is about the server's default metadata"
    );
    db.sql(
        "CREATE DATABASE ll; \
         CREATE TABLE ll.a (id INT PRIMARY KEY, u INT UNSIGNED, big BIGINT UNSIGNED, \
           e ENUM('x','y','z'), pad VARCHAR(600)) DEFAULT CHARSET latin1",
    );
    let data = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "--source",
        &db.url(),
        "--server-id",
        &server_id(),
        "--fsync",
        "never",
        "--segment-bytes",
        "64KiB",
        "--retention-bytes",
        "256KiB",
        "--compression",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut runner = Runner::new(data.path(), "ll", &args);
    runner.spawn();
    let log_dir = runner.log_dir();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !first_segment(&log_dir).exists() {
        assert!(Instant::now() < deadline, "no log: {}", runner.last_log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // Live load with DDL in the middle: a column added to `a`, a table `b`
    // created (it exists only in the history the binlog builds).
    insert_a(&db, 0, 600, false);
    db.sql(
        "ALTER TABLE ll.a ADD COLUMN m MEDIUMINT UNSIGNED AFTER id; \
         CREATE TABLE ll.b (id INT PRIMARY KEY, t TINYINT UNSIGNED, s SET('r','w','x'), \
           name VARCHAR(20)) DEFAULT CHARSET utf8mb4",
    );
    insert_a(&db, 600, 600, true);
    db.sql("INSERT INTO ll.b VALUES (1, 255, 'r,x', 'før'), (2, 200, '', 'zwei')");
    insert_a(&db, 1200, 400, true);

    // Retention must have deleted the first segment while capture ran.
    let deadline = Instant::now() + Duration::from_secs(90);
    while first_segment(&log_dir).exists() {
        assert!(
            Instant::now() < deadline,
            "retention never deleted the first segment:\n{}",
            runner.last_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    runner.stop();
    let segments = std::fs::read_dir(&log_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count();
    assert!(segments >= 2, "{segments} segments left");

    // Written while sluice is down, captured by the restarted process,
    // which has only the checkpoints to know the columns.
    insert_a(&db, 5000, 50, true);
    db.sql("INSERT INTO ll.b VALUES (3, 7, 'w', 'drei'), (4, 0, 'r,w,x', 'vier')");
    db.sql("UPDATE ll.b SET t = 254, name = 'eins' WHERE id = 1");
    runner.until_current();

    let records = tail(data.path(), "ll");
    assert!(
        records.first().and_then(|r| r["offset"].as_u64()) > Some(0),
        "the log should start past the deleted segments"
    );
    let columns_a = ["id", "m", "u", "big", "e", "pad"];
    let columns_b = ["id", "t", "s", "name"];
    let got_a = captured(&records, "ll", "a");
    let mut got_b = captured(&records, "ll", "b");
    // Rows after the restart: every one, exactly as the server has them.
    let want_a = selected(&db, "a", &columns_a, 4999);
    let after_restart: BTreeMap<i64, Row> =
        got_a.range(5000..).map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(after_restart.len(), 50, "rows of a after the restart");
    for (id, want) in &want_a {
        assert_eq!(after_restart.get(id), Some(want), "ll.a id {id}");
    }
    // Row 2 of b went with the deleted segments; 1 was updated after the
    // restart, 3 and 4 inserted after it.
    let mut want_b = selected(&db, "b", &columns_b, 0);
    want_b.remove(&2);
    got_b.remove(&2);
    assert_eq!(
        got_b, want_b,
        "ll.b, created mid-way, written after the restart"
    );
    // Rows before the restart still in the log are named too.
    let kept: Vec<_> = got_a.range(1200..1600).collect();
    assert!(
        !kept.is_empty(),
        "no rows of the last load before the restart left"
    );
    let want_kept = selected(&db, "a", &columns_a, 1199);
    for (id, row) in kept {
        assert_eq!(Some(row), want_kept.get(id), "ll.a id {id}");
    }
}
