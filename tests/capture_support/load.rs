//! A concurrent write load through real client connections (mysql_async):
//! inserts, updates, deletes, multi-statement transactions, rolled-back
//! transactions, one large transaction, and a DDL sequence whose rows let
//! the test check every column name at every position.
//!
//! The DDL table's text columns are always written with their own column
//! name as value (`c1 = 'c1'`), so in any after image a column whose name
//! is not its value was named wrong by the schema history.

use super::{Json, Txn};
use mysql_async::prelude::Queryable;
use rand::Rng;
use sluice_testkit::MariaDb;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Create the schema and its tables (before capture starts, so they are in
/// the start snapshot).
pub fn setup(db: &MariaDb, schema: &str) {
    db.sql(&format!(
        "CREATE DATABASE {schema};
         CREATE TABLE {schema}.load_a (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(64));
         CREATE TABLE {schema}.load_b (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(64));
         CREATE TABLE {schema}.big (id INT PRIMARY KEY, s VARCHAR(200));
         CREATE TABLE {schema}.ddl_t (id INT PRIMARY KEY, n INT NOT NULL, c1 VARCHAR(40), c2 VARCHAR(40));
         CREATE TABLE {schema}.sentinel (id INT PRIMARY KEY);"
    ));
}

/// The DDL steps and the text columns after each (in table order).
pub const DDL_STEPS: &[(&str, &str, &[&str])] = &[
    ("", "ddl_t", &["c1", "c2"]),
    (
        "ALTER TABLE {s}.ddl_t ADD COLUMN c3 VARCHAR(40) AFTER id",
        "ddl_t",
        &["c3", "c1", "c2"],
    ),
    (
        "ALTER TABLE {s}.ddl_t DROP COLUMN c1",
        "ddl_t",
        &["c3", "c2"],
    ),
    (
        "ALTER TABLE {s}.ddl_t RENAME COLUMN c2 TO c2r",
        "ddl_t",
        &["c3", "c2r"],
    ),
    (
        "RENAME TABLE {s}.ddl_t TO {s}.ddl_t2",
        "ddl_t2",
        &["c3", "c2r"],
    ),
    (
        "ALTER TABLE {s}.ddl_t2 ADD COLUMN c0 VARCHAR(40) FIRST",
        "ddl_t2",
        &["c0", "c3", "c2r"],
    ),
    (
        "ALTER TABLE {s}.ddl_t2 CHANGE COLUMN c3 c3x VARCHAR(40)",
        "ddl_t2",
        &["c0", "c3x", "c2r"],
    ),
];

#[derive(Clone)]
pub struct Spec {
    pub url: String,
    pub schema: String,
    pub workers: usize,
    /// Operations per worker (it also stops when `stop` is set).
    pub ops: u64,
    /// Rows of the one large transaction (0: none).
    pub big_rows: u64,
    pub ddl: bool,
    /// Pause between a worker's operations.
    pub pause: Duration,
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub rolled_back: AtomicU64,
}

/// Run the load to its end; returns (operations done, errors).
pub async fn run(spec: Spec) -> Arc<Stats> {
    let stats = Arc::new(Stats::default());
    let pool = mysql_async::Pool::new(spec.url.as_str());
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..spec.workers).map(|_| AtomicU64::new(0)).collect());
    let mut tasks = Vec::new();
    for w in 0..spec.workers {
        let (pool, spec, stats, progress) =
            (pool.clone(), spec.clone(), stats.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            worker(w, pool, spec, stats, progress).await
        }));
    }
    if spec.big_rows > 0 {
        let (pool, spec, stats) = (pool.clone(), spec.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(spec.pause * 20).await;
            let sql = format!(
                "INSERT INTO {0}.big SELECT seq, CONCAT(seq, '-', REPEAT('b', 100)) FROM {0}.seq_1_to_{1}",
                spec.schema, spec.big_rows
            );
            exec(&pool, &stats, &[sql.as_str()]).await;
        }));
    }
    if spec.ddl {
        let (pool, spec, stats) = (pool.clone(), spec.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            ddl_sequence(pool, spec, stats).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    pool.disconnect().await.ok();
    stats
}

/// Run statements on one connection; on an error roll back and count it.
/// Returns whether all succeeded.
async fn exec(pool: &mysql_async::Pool, stats: &Stats, sqls: &[&str]) -> bool {
    let Ok(mut conn) = pool.get_conn().await else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        return false;
    };
    for sql in sqls {
        if conn.query_drop(*sql).await.is_err() {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            conn.query_drop("ROLLBACK").await.ok();
            return false;
        }
    }
    stats.ok.fetch_add(1, Ordering::Relaxed);
    true
}

async fn worker(
    w: usize,
    pool: mysql_async::Pool,
    spec: Spec,
    stats: Arc<Stats>,
    progress: Arc<Vec<AtomicU64>>,
) {
    let s = &spec.schema;
    let base = (w as u64 + 1) * 1_000_000;
    let mut next = 0u64;
    for op in 0..spec.ops {
        if spec.stop.load(Ordering::Relaxed) {
            break;
        }
        let (pick_w, pick_n) = {
            let mut rng = rand::thread_rng();
            let pw = rng.gen_range(0..spec.workers);
            let done = progress[pw].load(Ordering::Relaxed).max(1);
            (pw, rng.gen_range(0..done))
        };
        let other = (pick_w as u64 + 1) * 1_000_000 + pick_n;
        let table = if op % 2 == 0 { "load_a" } else { "load_b" };
        match (w + op as usize) % 6 {
            0 | 1 => {
                // Inserts, sometimes several rows in one statement.
                let rows: Vec<String> = (0..1 + op % 3)
                    .map(|i| format!("({}, {}, 'w{w}-{op}-{i}')", base + next + i, op))
                    .collect();
                let sql = format!("INSERT INTO {s}.{table} VALUES {}", rows.join(", "));
                if exec(&pool, &stats, &[&sql]).await {
                    next += 1 + op % 3;
                    progress[w].store(next, Ordering::Relaxed);
                }
            }
            2 => {
                let sql = format!(
                    "UPDATE {s}.{table} SET k = k + 1, s = CONCAT('u', k) WHERE id BETWEEN {other} AND {}",
                    other + 2
                );
                exec(&pool, &stats, &[&sql]).await;
            }
            3 => {
                let sql = format!("DELETE FROM {s}.{table} WHERE id = {other}");
                exec(&pool, &stats, &[&sql]).await;
            }
            4 => {
                // A multi-statement transaction over both tables.
                let id = base + next;
                let ins = format!("INSERT INTO {s}.load_a VALUES ({id}, 7, 'txn-{w}-{op}')");
                let upd = format!("UPDATE {s}.load_b SET s = 'txn-upd-{op}' WHERE id = {other}");
                let del = format!("DELETE FROM {s}.load_a WHERE id = {}", other + 1);
                if exec(&pool, &stats, &["BEGIN", &ins, &upd, &del, "COMMIT"]).await {
                    next += 1;
                    progress[w].store(next, Ordering::Relaxed);
                }
            }
            _ => {
                // A rolled-back transaction: its rows must never show up.
                let ins = format!(
                    "INSERT INTO {s}.load_a VALUES ({}, -1, 'rolled-back')",
                    900_000_000 + base + op
                );
                let upd = format!("UPDATE {s}.load_b SET s = 'rolled-back' WHERE id = {other}");
                if exec(&pool, &stats, &["BEGIN", &ins, &upd, "ROLLBACK"]).await {
                    stats.rolled_back.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        tokio::time::sleep(spec.pause).await;
    }
}

async fn ddl_sequence(pool: mysql_async::Pool, spec: Spec, stats: Arc<Stats>) {
    let s = &spec.schema;
    let mut id = 0u64;
    for (ddl, table, cols) in DDL_STEPS {
        if !ddl.is_empty() {
            tokio::time::sleep(spec.pause * 5).await;
            exec(&pool, &stats, &[&ddl.replace("{s}", s)]).await;
        }
        for _ in 0..3 {
            id += 1;
            let names: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
            let values: Vec<String> = cols.iter().map(|c| format!("'{c}'")).collect();
            let sql = format!(
                "INSERT INTO {s}.{table} (id, n, {}) VALUES ({id}, 0, {})",
                names.join(", "),
                values.join(", ")
            );
            exec(&pool, &stats, &[&sql]).await;
            tokio::time::sleep(spec.pause).await;
        }
        let sets: Vec<String> = cols.iter().map(|c| format!("{c} = '{c}'")).collect();
        let sql = format!("UPDATE {s}.{table} SET n = n + 1, {}", sets.join(", "));
        exec(&pool, &stats, &[&sql]).await;
    }
}

/// Every change of the DDL table in the log names its columns as they were
/// at that position: in each after image, a text column's value is its own
/// name. Returns the distinct column-name lists seen, in order.
pub fn check_ddl_names(txns: &[Txn]) -> Vec<Vec<String>> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    for t in txns {
        for c in &t.changes {
            if c.table != "ddl_t" && c.table != "ddl_t2" {
                continue;
            }
            assert!(
                c.names_known,
                "names unknown at {}:{}: {c:?}",
                t.file, t.start
            );
            for (_, after) in &c.rows {
                let Some(after) = after else { continue };
                for (name, value) in c.names.iter().zip(after) {
                    if name.starts_with('c') {
                        assert_eq!(
                            value,
                            &Json::String(name.clone()),
                            "column {name} of {}.{} at {}:{} holds another column's value: names {:?}, row {after:?}",
                            c.schema, c.table, t.file, t.start, c.names
                        );
                    }
                }
            }
            let names = c.names.clone();
            if seen.last() != Some(&names) {
                seen.push(names);
            }
        }
    }
    seen
}

/// The column lists the DDL table must go through, in order.
pub fn expected_ddl_names() -> Vec<Vec<String>> {
    let mut lists: Vec<Vec<String>> = DDL_STEPS
        .iter()
        .map(|(_, _, cols)| {
            let mut all: Vec<String> = Vec::new();
            // Table order: c0 first (FIRST), then id, c3/c3x right after id,
            // n, then the rest.
            if cols.contains(&"c0") {
                all.push("c0".into());
            }
            all.push("id".into());
            for c in cols.iter().filter(|c| c.starts_with("c3")) {
                all.push(c.to_string());
            }
            all.push("n".into());
            for c in cols.iter().filter(|c| **c != "c0" && !c.starts_with("c3")) {
                all.push(c.to_string());
            }
            all
        })
        .collect();
    lists.dedup();
    lists
}

/// A table's rows as the log says they end: the last image per primary key
/// (`id`), by column name, values as text.
pub fn final_from_log(
    txns: &[Txn],
    schema: &str,
    table: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut rows = BTreeMap::new();
    let text = |v: &Json| match v {
        Json::Null => "NULL".to_string(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    for t in txns {
        for c in t
            .changes
            .iter()
            .filter(|c| c.schema == schema && c.table == table)
        {
            let pk = c
                .names
                .iter()
                .position(|n| n == "id")
                .expect("an id column");
            for (before, after) in &c.rows {
                if let Some(b) = before {
                    rows.remove(&text(&b[pk]));
                }
                if let Some(a) = after {
                    let row: BTreeMap<String, String> =
                        c.names.iter().cloned().zip(a.iter().map(text)).collect();
                    rows.insert(text(&a[pk]), row);
                }
            }
        }
    }
    rows
}

/// A table's rows as the database holds them, same shape.
pub fn final_from_db(
    db: &MariaDb,
    schema: &str,
    table: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let names: Vec<String> = db
        .sql(&format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION"
        ))
        .lines()
        .map(String::from)
        .collect();
    let pk = names.iter().position(|n| n == "id").expect("an id column");
    db.sql(&format!("SELECT * FROM {schema}.{table}"))
        .lines()
        .map(|l| {
            let values: Vec<String> = l.split('\t').map(String::from).collect();
            (
                values[pk].clone(),
                names.iter().cloned().zip(values).collect(),
            )
        })
        .collect()
}
