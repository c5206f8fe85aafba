//! Initial snapshots against a real MariaDB: tables keyed by INT, by a
//! composite VARCHAR+INT key, by BIGINT UNSIGNED (keys on both sides of
//! 2^63), and one without any key, under a concurrent writer doing
//! inserts, updates (also of the key) and deletes over every range for
//! the whole snapshot. `sluice run` is SIGKILLed mid-snapshot (proved
//! from the log: some chunks in, the snapshot not done) and restarted.
//!
//! The expected side is the server's own: `CHECKSUM TABLE` of a mirror
//! built by the MySQL sink into an empty second MariaDB, and the source's
//! final `SELECT`, which the log replayed into a map must equal. Every
//! row that existed before and that the writer never touched appears
//! exactly once as a read; the writer never waited a second.

mod capture_support;

use capture_support::{master_status, server_id, Runner};
use mysql_async::prelude::Queryable;
use prost::Message;
use rand::Rng;
use sluice::proto::{value::Kind, ChangeKind, Record};
use sluice_testkit::MariaDb;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u64 = 15_000;
const KEYLESS_ROWS: u64 = 1500;
/// Above 2^63 from row 776 on.
const BIG_BASE: u64 = 9_223_372_036_854_000_000;
const TABLES: [&str; 4] = ["k_int", "k_comp", "k_big", "nokey"];

fn setup(db: &MariaDb) {
    db.sql(&format!(
        "CREATE DATABASE snap; USE snap;
         CREATE TABLE snap.k_int (id INT PRIMARY KEY, v VARCHAR(40), n INT);
         CREATE TABLE snap.k_comp (name VARCHAR(20), seq INT, v VARCHAR(40), PRIMARY KEY (name, seq));
         CREATE TABLE snap.k_big (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(40));
         CREATE TABLE snap.nokey (a INT, b VARCHAR(20));
         INSERT INTO snap.k_int SELECT seq * 10, CONCAT('v', seq), seq FROM seq_1_to_{ROWS};
         INSERT INTO snap.k_comp SELECT CONCAT('n', seq % 50), seq, CONCAT('c', seq) FROM seq_1_to_{ROWS};
         INSERT INTO snap.k_big SELECT {BIG_BASE} + seq * 1000, CONCAT('b', seq) FROM seq_1_to_{ROWS};
         INSERT INTO snap.nokey SELECT seq, CONCAT('x', seq) FROM seq_1_to_{KEYLESS_ROWS};"
    ));
}

/// Keys as the test names them: `table:key` (composite parts joined by `|`).
fn pre_existing() -> HashSet<String> {
    let mut keys = HashSet::new();
    for seq in 1..=ROWS {
        keys.insert(format!("k_int:{}", seq * 10));
        keys.insert(format!("k_comp:n{}|{seq}", seq % 50));
        keys.insert(format!("k_big:{}", BIG_BASE + seq * 1000));
    }
    for seq in 1..=KEYLESS_ROWS {
        keys.insert(format!("nokey:{seq}"));
    }
    keys
}

struct Writer {
    /// Every key a statement touched (old and new), whether it matched.
    touched: Mutex<HashSet<String>>,
    slowest: Mutex<Duration>,
    statements: std::sync::atomic::AtomicU64,
    stop: AtomicBool,
}

/// One random statement over any range of any table; the keys it touches.
fn statement(rng: &mut impl Rng, fresh: &mut u64) -> (String, Vec<String>) {
    *fresh += 1;
    let seq = rng.gen_range(1..=ROWS);
    let op = rng.gen_range(0..4);
    match rng.gen_range(0..4) {
        0 => {
            let id = seq * 10;
            match op {
                0 => {
                    let new = seq * 10 + rng.gen_range(1..10);
                    (
                        format!("INSERT IGNORE INTO snap.k_int VALUES ({new}, 'w', {fresh})"),
                        vec![format!("k_int:{new}")],
                    )
                }
                1 => (
                    format!("UPDATE snap.k_int SET v = 'u{fresh}' WHERE id = {id}"),
                    vec![format!("k_int:{id}")],
                ),
                2 => {
                    let new = id + 5;
                    (
                        format!("UPDATE IGNORE snap.k_int SET id = {new} WHERE id = {id}"),
                        vec![format!("k_int:{id}"), format!("k_int:{new}")],
                    )
                }
                _ => (
                    format!("DELETE FROM snap.k_int WHERE id = {id}"),
                    vec![format!("k_int:{id}")],
                ),
            }
        }
        1 => {
            let name = format!("n{}", seq % 50);
            match op {
                0 => {
                    let s = ROWS + *fresh;
                    (format!("INSERT IGNORE INTO snap.k_comp VALUES ('{name}', {s}, 'w')"), vec![format!("k_comp:{name}|{s}")])
                }
                1 => (format!("UPDATE snap.k_comp SET v = 'u{fresh}' WHERE name = '{name}' AND seq = {seq}"), vec![format!("k_comp:{name}|{seq}")]),
                2 => (
                    format!("UPDATE IGNORE snap.k_comp SET name = 'm{fresh}' WHERE name = '{name}' AND seq = {seq}"),
                    vec![format!("k_comp:{name}|{seq}"), format!("k_comp:m{fresh}|{seq}")],
                ),
                _ => (format!("DELETE FROM snap.k_comp WHERE name = '{name}' AND seq = {seq}"), vec![format!("k_comp:{name}|{seq}")]),
            }
        }
        2 => {
            let id = BIG_BASE + seq * 1000;
            match op {
                0 => {
                    let new = id + rng.gen_range(1..1000);
                    (
                        format!("INSERT IGNORE INTO snap.k_big VALUES ({new}, 'w')"),
                        vec![format!("k_big:{new}")],
                    )
                }
                1 => (
                    format!("UPDATE snap.k_big SET v = 'u{fresh}' WHERE id = {id}"),
                    vec![format!("k_big:{id}")],
                ),
                2 => {
                    let new = id + 500;
                    (
                        format!("UPDATE IGNORE snap.k_big SET id = {new} WHERE id = {id}"),
                        vec![format!("k_big:{id}"), format!("k_big:{new}")],
                    )
                }
                _ => (
                    format!("DELETE FROM snap.k_big WHERE id = {id}"),
                    vec![format!("k_big:{id}")],
                ),
            }
        }
        _ => {
            let a = rng.gen_range(1..=KEYLESS_ROWS);
            match op {
                0 | 1 => {
                    let new = KEYLESS_ROWS + *fresh;
                    (
                        format!("INSERT INTO snap.nokey VALUES ({new}, 'w')"),
                        vec![format!("nokey:{new}")],
                    )
                }
                2 => (
                    format!("UPDATE snap.nokey SET b = 'u{fresh}' WHERE a = {a}"),
                    vec![format!("nokey:{a}")],
                ),
                _ => (
                    format!("DELETE FROM snap.nokey WHERE a = {a}"),
                    vec![format!("nokey:{a}")],
                ),
            }
        }
    }
}

async fn write(url: String, w: Arc<Writer>) {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
        .await
        .unwrap();
    let mut fresh = 0;
    while !w.stop.load(Ordering::Relaxed) {
        let (sql, keys) = statement(&mut rand::thread_rng(), &mut fresh);
        w.touched.lock().unwrap().extend(keys);
        let began = Instant::now();
        conn.query_drop(&sql).await.unwrap();
        let took = began.elapsed();
        {
            let mut slowest = w.slowest.lock().unwrap();
            *slowest = (*slowest).max(took);
        }
        w.statements.fetch_add(1, Ordering::Relaxed);
    }
}

fn records(runner: &Runner) -> Vec<Record> {
    let log = sluice_storage::Log::open_read_only(&runner.log_dir()).unwrap();
    let mut reader = log.read_from(log.start_offset()).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next().unwrap() {
        out.push(Record::decode(r.payload().as_ref()).unwrap());
    }
    out
}

fn text(v: &sluice::proto::Value) -> String {
    match &v.kind {
        Some(Kind::Int(i)) => i.to_string(),
        Some(Kind::Uint(u)) => u.to_string(),
        Some(Kind::Text(s)) => s.clone(),
        Some(Kind::Null(_)) => "NULL".into(),
        other => panic!("unexpected value {other:?}"),
    }
}

/// The test's key of a row of `table` (values as text, in column order).
fn key_of(table: &str, row: &[String]) -> String {
    match table {
        "k_comp" => format!("k_comp:{}|{}", row[0], row[1]),
        _ => format!("{table}:{}", row[0]),
    }
}

/// The log applied in order: table → key → row.
fn replay(records: &[Record]) -> HashMap<String, BTreeMap<String, Vec<String>>> {
    let mut tables: HashMap<String, BTreeMap<String, Vec<String>>> = HashMap::new();
    for r in records {
        // A table without a key is read whole: the read is its contents.
        if let Some(chunk) = r.snapshot_chunk.as_ref() {
            if chunk.plan.is_empty() && chunk.key_columns.is_empty() {
                tables.remove(&chunk.table);
            }
        }
        for c in r.changes.iter().filter(|c| c.schema == "snap") {
            let t = tables.entry(c.table.clone()).or_default();
            for row in &c.rows {
                let img = |i: &Option<sluice::proto::Image>| {
                    i.as_ref()
                        .map(|i| i.values.iter().map(text).collect::<Vec<_>>())
                };
                if let Some(before) = img(&row.before) {
                    t.remove(&key_of(&c.table, &before));
                }
                if let Some(after) = img(&row.after) {
                    t.insert(key_of(&c.table, &after), after);
                }
            }
        }
    }
    tables
}

fn select(db: &MariaDb, table: &str) -> BTreeMap<String, Vec<String>> {
    db.sql(&format!("SELECT * FROM snap.{table}"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let row: Vec<String> = l.split('\t').map(str::to_string).collect();
            (key_of(table, &row), row)
        })
        .collect()
}

fn checksum(db: &MariaDb, table: &str) -> String {
    let out = db.sql(&format!("CHECKSUM TABLE snap.{table}"));
    out.split('\t').nth(1).unwrap_or("").trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_under_writes_survives_kill_and_mirrors_exactly() {
    let (Some(src), Some(dst)) = (MariaDb::start_default(), MariaDb::start_default()) else {
        return;
    };
    setup(&src);
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nname = \"snap\"\nurl = \"{}\"\nserver_id = {}\ninclude = 'snap\\..*'\n\
             snapshot = \"initial\"\nsnapshot_chunk_rows = 100\nsnapshot_parallel = 2\n",
            src.url(),
            server_id(),
        ),
    )
    .unwrap();
    // The mirror runs after the kill, from the log's start: a mirror
    // killed mid-apply redelivers, which a table without a key cannot
    // absorb (rows cannot be matched one by one).
    let mirror_config = data.path().join("mirror.toml");
    std::fs::write(
        &mirror_config,
        format!(
            "{}\n[[sink]]\nname = \"mirror\"\nsource = \"snap\"\nkind = \"mysql\"\nurl = \"{}\"\nallow_no_pk = true\n",
            std::fs::read_to_string(&config).unwrap(),
            dst.url()
        ),
    )
    .unwrap();
    let http = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let mut runner = Runner::new(
        data.path(),
        "snap",
        &[
            "--config".into(),
            config.to_str().unwrap().into(),
            "--http-addr".into(),
            http.clone(),
        ],
    );

    let writer = Arc::new(Writer {
        touched: Mutex::new(HashSet::new()),
        slowest: Mutex::new(Duration::ZERO),
        statements: Default::default(),
        stop: AtomicBool::new(false),
    });
    let load = tokio::spawn(write(src.url(), writer.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner.spawn();

    // Kill once a table is done in the log (two readers, three tables of
    // the same size: the others are half-way).
    capture_support::wait_for_record(&runner, Duration::from_secs(120), &|r| {
        r.snapshot_chunk.as_ref().is_some_and(|c| c.table_done)
    });
    runner.kill();
    let before = records(&runner);
    let chunks: Vec<_> = before
        .iter()
        .filter_map(|r| r.snapshot_chunk.as_ref())
        .collect();
    let reads: usize = before
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.kind == ChangeKind::Read as i32)
        .map(|c| c.rows.len())
        .sum();
    assert!(reads > 0, "killed before any chunk reached the log");
    assert!(
        !chunks.iter().any(|c| c.snapshot_done),
        "{:?}",
        chunks
            .iter()
            .filter(|c| c.snapshot_done || c.table_done)
            .map(|c| (c.table.clone(), c.rows_read, c.snapshot_done))
            .collect::<Vec<_>>()
    );
    assert!(
        !chunks.iter().any(|c| c.snapshot_done),
        "the snapshot ended before the kill: not a mid-way kill"
    );
    let done_before: HashSet<String> = chunks
        .iter()
        .filter(|c| c.table_done)
        .map(|c| c.table.clone())
        .collect();
    assert!(!done_before.is_empty(), "no table was done before the kill");

    runner.spawn();
    capture_support::wait_for_record(&runner, Duration::from_secs(180), &|r| {
        r.snapshot_chunk.as_ref().is_some_and(|c| c.snapshot_done)
    });
    writer.stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    // Progress in /status and /metrics.
    let status: serde_json::Value = reqwest::get(format!("http://{http}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tables = status["sources"][0]["capture"]["snapshot"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tables.len(), TABLES.len(), "{status}");
    for t in &tables {
        assert_eq!(t["state"], "done", "{t}");
        assert!(t["rows"].as_u64().unwrap() >= KEYLESS_ROWS / 2, "{t}");
    }
    assert!(
        tables
            .iter()
            .any(|t| t["chunks"].as_u64() > Some(0) && t["estimated_rows"].as_u64() > Some(0)),
        "the run after the kill read chunks: {status}"
    );
    let metrics = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let snapshot_rows: f64 = metrics
        .lines()
        .find(|l| l.starts_with("sluice_snapshot_rows_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(snapshot_rows > 0.0, "sluice_snapshot_rows_total: {metrics}");
    let (file, pos) = master_status(&src);
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.position
            .as_ref()
            .is_some_and(|p| p.file == file && p.next >= pos)
    });

    let all = records(&runner);
    // A table finished before the kill is never read again.
    for r in all.iter().skip(before.len()) {
        for c in &r.changes {
            assert!(
                !(c.kind == ChangeKind::Read as i32 && done_before.contains(&c.table)),
                "{} was read again after its snapshot was done",
                c.table
            );
        }
    }
    // The log replayed equals the source's rows.
    let replayed = replay(&all);
    for t in TABLES {
        let expect = select(&src, t);
        let got = replayed.get(t).cloned().unwrap_or_default();
        if got != expect {
            let keys: std::collections::BTreeSet<&String> =
                got.keys().chain(expect.keys()).collect();
            for k in keys
                .into_iter()
                .filter(|k| got.get(*k) != expect.get(*k))
                .take(5)
            {
                eprintln!("{k}: log {:?} source {:?}", got.get(k), expect.get(k));
                for (i, r) in all.iter().enumerate() {
                    for c in r.changes.iter().filter(|c| c.table == t) {
                        for row in &c.rows {
                            let img = |i: &Option<sluice::proto::Image>| {
                                i.as_ref()
                                    .map(|i| i.values.iter().map(text).collect::<Vec<_>>())
                            };
                            let (b, a) = (img(&row.before), img(&row.after));
                            if b.as_ref().is_some_and(|b| &key_of(t, b) == k)
                                || a.as_ref().is_some_and(|a| &key_of(t, a) == k)
                            {
                                let p = r.position.clone().unwrap_or_default();
                                eprintln!(
                                    "  record {i} at {}..{} kind {} {:?} -> {:?} chunk {:?}",
                                    p.start,
                                    p.next,
                                    c.kind,
                                    b,
                                    a,
                                    r.snapshot_chunk
                                        .as_ref()
                                        .map(|s| (s.rows_read, s.table_done))
                                );
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(
            got.len(),
            expect.len(),
            "{t}: replayed rows vs SELECT count"
        );
        assert!(
            got == expect,
            "{t}: the replayed log differs from the source's SELECT"
        );
    }
    // The mirror: an empty server, tables created from the snapshot.
    runner.stop();
    let mut mirror = Runner::new(
        data.path(),
        "snap",
        &["--config".into(), mirror_config.to_str().unwrap().into()],
    );
    mirror.spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let same = TABLES.iter().all(|t| {
            dst.try_sql(&format!("CHECKSUM TABLE snap.{t}")).is_ok()
                && checksum(&src, t) == checksum(&dst, t)
        });
        if same {
            break;
        }
        if Instant::now() > deadline {
            for t in TABLES {
                eprintln!(
                    "{t}: source {} mirror {}",
                    checksum(&src, t),
                    dst.try_sql(&format!("CHECKSUM TABLE snap.{t}"))
                        .unwrap_or_default()
                );
            }
            panic!(
                "the mirror does not match the source:\n{}",
                mirror.all_logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    mirror.stop();
    // Rows that existed before and were never touched: read exactly once.
    let touched = writer.touched.lock().unwrap().clone();
    let mut read_count: HashMap<String, u32> = HashMap::new();
    for r in &all {
        for c in r
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Read as i32)
        {
            for row in &c.rows {
                let values: Vec<String> = row
                    .after
                    .as_ref()
                    .unwrap()
                    .values
                    .iter()
                    .map(text)
                    .collect();
                *read_count.entry(key_of(&c.table, &values)).or_default() += 1;
            }
        }
    }
    let mut untouched = 0;
    for key in pre_existing() {
        if touched.contains(&key) {
            continue;
        }
        untouched += 1;
        assert_eq!(
            read_count.get(&key),
            Some(&1),
            "pre-existing untouched row {key}: reads"
        );
    }
    let statements = writer.statements.load(Ordering::Relaxed);
    let slowest = *writer.slowest.lock().unwrap();
    eprintln!(
        "snapshot test: {statements} writer statements, slowest {slowest:?}, {untouched} untouched rows read once, {reads} rows read before the kill, tables done before it: {done_before:?}"
    );
    assert!(
        statements > 100,
        "the writer hardly ran ({statements} statements)"
    );
    assert!(
        untouched > 20_000,
        "too few untouched rows to mean anything"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "the writer waited {slowest:?}"
    );
}

/// `--snapshot initial_only` reads the tables and exits; every output
/// marks the reads as its format says; a server without
/// binlog_row_image=FULL is refused with that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_only_stops_and_every_format_marks_reads() {
    // A server of its own: it sets binlog_row_image globally below, which
    // would give the other tests' writers MINIMAL images.
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let db = &db;
    db.sql(
        "CREATE DATABASE only1; USE only1;
         CREATE TABLE only1.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO only1.t SELECT seq, CONCAT('r', seq) FROM seq_1_to_250;",
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        source_toml(
            "only",
            &db.url(),
            "only1\\..*",
            "snapshot_chunk_rows = 100\n",
        ),
    )
    .unwrap();
    let mut runner = Runner::new(
        data.path(),
        "only",
        &[
            "--config".into(),
            config.to_str().unwrap().into(),
            "--snapshot".into(),
            "initial_only".into(),
        ],
    );
    runner.spawn();
    let mut child = runner.child.take().unwrap();
    let status = capture_support::wait_timeout(&mut child, Duration::from_secs(120));
    assert!(
        status.is_some_and(|s| s.success()),
        "initial_only did not exit 0 ({status:?}):\n{}",
        runner.all_logs()
    );

    let expect: Vec<String> = db
        .sql("SELECT id FROM only1.t ORDER BY id")
        .lines()
        .map(str::to_string)
        .collect();
    let json = capture_support::tail_format(data.path(), "only", "json");
    let mut ids = Vec::new();
    for rec in &json {
        for c in rec["changes"].as_array().into_iter().flatten() {
            assert_eq!(c["kind"], "read", "{c}");
            for row in c["rows"].as_array().unwrap() {
                ids.push(row["after"]["id"].to_string());
            }
        }
    }
    assert_eq!(
        ids, expect,
        "json: the reads are the table's rows in key order"
    );

    let debezium = capture_support::tail_format(data.path(), "only", "debezium-json");
    assert_eq!(debezium.len(), expect.len());
    for (i, e) in debezium.iter().enumerate() {
        assert_eq!(e["op"], "r");
        let last = i + 1 == debezium.len();
        assert_eq!(
            e["source"]["snapshot"],
            if last { "last" } else { "true" },
            "row {i}"
        );
    }

    let canal = capture_support::tail_format(data.path(), "only", "canal-json");
    let mut rows = 0;
    for m in &canal {
        assert_eq!(m["type"], "INSERT");
        assert_eq!(m["snapshot"], true);
        rows += m["data"].as_array().unwrap().len();
    }
    assert_eq!(rows, expect.len());

    // `--snapshot initial --until current`: the snapshot, then the binlog
    // up to the start-up end, then exit 0.
    let bounded = tempfile::tempdir().unwrap();
    let (code, _, err) = capture_support::sluice(&[
        "run",
        "--data",
        bounded.path().to_str().unwrap(),
        "--name",
        "only",
        "--config",
        config.to_str().unwrap(),
        "--snapshot",
        "initial",
        "--until",
        "current",
    ]);
    assert_eq!(code, 0, "{err}");
    let reads = capture_support::tail_format(bounded.path(), "only", "debezium-json");
    assert_eq!(
        reads.len(),
        expect.len(),
        "--until current waits for the snapshot"
    );

    // Without binlog_row_image=FULL the merge cannot work: refused, named.
    db.sql("SET GLOBAL binlog_row_image = 'MINIMAL'");
    let fresh = tempfile::tempdir().unwrap();
    let (code, _, err) = capture_support::sluice(&[
        "run",
        "--data",
        fresh.path().to_str().unwrap(),
        "--name",
        "only",
        "--config",
        config.to_str().unwrap(),
        "--snapshot",
        "initial_only",
    ]);
    db.sql("SET GLOBAL binlog_row_image = 'FULL'");
    assert_ne!(code, 0);
    assert!(err.contains("binlog_row_image=FULL"), "{err}");
}

/// Snapshot records of snapshot `id` in the log.
fn of_snapshot(runner: &Runner, id: u64) -> Vec<Record> {
    records(runner)
        .into_iter()
        .filter(|r| {
            r.snapshot_chunk
                .as_ref()
                .is_some_and(|c| c.snapshot_id == id)
        })
        .collect()
}

/// A `[[source]]` named `name` on `url` capturing `include`, then `extra`
/// lines.
fn source_toml(name: &str, url: &str, include: &str, extra: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nurl = \"{url}\"\nserver_id = {}\ninclude = '{include}'\n{extra}",
        server_id()
    )
}

/// `sluice run --config config` with the HTTP API on a free port: the
/// runner (not spawned) and the API's URL.
fn runner_with_http(
    data: &std::path::Path,
    name: &str,
    config: &std::path::Path,
) -> (Runner, String) {
    let http = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let runner = Runner::new(
        data,
        name,
        &[
            "--config".into(),
            config.to_str().unwrap().into(),
            "--http-addr".into(),
            http.clone(),
        ],
    );
    (runner, format!("http://{http}"))
}

/// `sluice snapshot …` on a running capture: one table (with a WHERE)
/// read while the binlog streams, its rows as the server has them; a
/// second, large one cancelled mid-way stops there, in the log too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_snapshot_while_capturing_and_cancel() {
    let Some(db) = MariaDb::shared() else {
        return;
    };
    db.sql(
        "CREATE DATABASE od; USE od;
         CREATE TABLE od.small (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO od.small SELECT seq, CONCAT('s', seq) FROM seq_1_to_300;
         CREATE TABLE od.big (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO od.big SELECT seq, 'b' FROM seq_1_to_200000;",
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        source_toml("od", &db.url(), "od\\..*", "snapshot_chunk_rows = 50\n"),
    )
    .unwrap();
    let (mut runner, server) = runner_with_http(data.path(), "od", &config);
    runner.spawn();
    capture_support::wait_for_start(&runner);
    db.sql("UPDATE od.small SET v = 'changed' WHERE id = 7");

    let snapshot = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["snapshot", "--server", server.as_str(), "--source", "od"];
        all.extend_from_slice(args);
        let (code, out, err) = capture_support::sluice(&all);
        assert_eq!(code, 0, "sluice {all:?}: {err}");
        serde_json::from_str(out.trim()).unwrap()
    };
    let started = snapshot(&["--table", "od.small", "--where", "id <= 200"]);
    let id = started["id"].as_u64().unwrap();
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_id == id && c.snapshot_done)
    });
    let mut got = Vec::new();
    for r in of_snapshot(&runner, id) {
        for c in &r.changes {
            assert_eq!(c.kind, ChangeKind::Read as i32);
            for row in &c.rows {
                let v: Vec<String> = row
                    .after
                    .as_ref()
                    .unwrap()
                    .values
                    .iter()
                    .map(text)
                    .collect();
                got.push(v.join("\t"));
            }
        }
    }
    let expect: Vec<String> = db
        .sql("SELECT id, v FROM od.small WHERE id <= 200 ORDER BY id")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, expect, "the on-demand reads are the server's rows");
    assert!(got.contains(&"7\tchanged".to_string()));

    // A condition is one expression: a second statement is refused.
    let (code, _, err) = capture_support::sluice(&[
        "snapshot",
        "--server",
        server.as_str(),
        "--source",
        "od",
        "--table",
        "od.small",
        "--where",
        "1=1; DELETE FROM od.small",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("';' is not allowed"), "{err}");

    // A large one: killed mid-way, it goes on after the restart where
    // the log says; then cancelled.
    let big = snapshot(&["--table", "od.big"])["id"].as_u64().unwrap();
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_id == big && c.rows_read > 0)
    });
    runner.kill();
    let read_before = of_snapshot(&runner, big)
        .iter()
        .map(|r| r.snapshot_chunk.as_ref().unwrap().rows_read)
        .max()
        .unwrap();
    assert!(read_before < 200_000, "killed after the end");
    runner.spawn();
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_id == big && c.rows_read > read_before)
    });
    assert_eq!(snapshot(&["--cancel", &big.to_string()])["cancelled"], true);
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_id == big && c.cancelled)
    });
    let listed = snapshot(&["--list"]);
    let entry = listed["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["snapshot_id"] == big)
        .cloned()
        .unwrap();
    assert_eq!(entry["state"], "cancelled", "{listed}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = of_snapshot(&runner, big);
    let ids: Vec<String> = after
        .iter()
        .flat_map(|r| &r.changes)
        .flat_map(|c| &c.rows)
        .map(|row| text(&row.after.as_ref().unwrap().values[0]))
        .collect();
    let read = ids.len();
    assert!(
        read as u64 > read_before && read < 200_000,
        "{read} rows of the cancelled snapshot"
    );
    // Across the kill: every key once, in order, none skipped.
    let expect: Vec<String> = (1..=read).map(|i| i.to_string()).collect();
    assert!(
        ids == expect,
        "the reads across the kill are not 1..={read} once each"
    );
    assert!(!after
        .iter()
        .any(|r| r.snapshot_chunk.as_ref().unwrap().table_done));
    let cancel_at = after
        .iter()
        .position(|r| r.snapshot_chunk.as_ref().unwrap().cancelled)
        .unwrap();
    assert_eq!(
        cancel_at + 1,
        after.len(),
        "no chunk of it after the cancel"
    );
    runner.stop();
}

/// `snapshot_new_tables = true`: a source restarted with `nt.b` added to
/// its include filter snapshots just that table while capture streams
/// and a writer changes it; `nt.a`, captured all along, is not re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_new_table_in_the_filter_snapshots_just_it() {
    let Some(db) = MariaDb::shared() else {
        return;
    };
    const B_ROWS: u64 = 6000;
    db.sql(&format!(
        "CREATE DATABASE nt; USE nt;
         CREATE TABLE nt.a (id INT PRIMARY KEY, v VARCHAR(20));
         CREATE TABLE nt.b (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO nt.a SELECT seq, 'a' FROM seq_1_to_100;
         INSERT INTO nt.b SELECT seq, CONCAT('b', seq) FROM seq_1_to_{B_ROWS};"
    ));
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    let write_config = |include: &str, extra: &str| {
        std::fs::write(&config, source_toml("nt", &db.url(), include, extra)).unwrap();
    };
    write_config("nt\\.a", "");
    let mut runner = Runner::new(
        data.path(),
        "nt",
        &["--config".into(), config.to_str().unwrap().into()],
    );
    runner.spawn();
    capture_support::wait_for_start(&runner);
    db.sql("INSERT INTO nt.a VALUES (101, 'a'); INSERT INTO nt.b VALUES (100001, 'before')");
    capture_support::wait_for_record(&runner, Duration::from_secs(30), &|r| {
        capture_support::inserts_into(r, "nt", "a")
    });
    runner.stop();
    let first = records(&runner);
    assert!(
        !first
            .iter()
            .flat_map(|r| &r.changes)
            .any(|c| c.table == "b"),
        "nt.b is outside the first filter"
    );

    write_config(
        "nt\\.(a|b)",
        "snapshot_new_tables = true\nsnapshot_chunk_rows = 200\nsnapshot_parallel = 1\n",
    );
    // Changes of nt.b while it is read (inserts, updates, deletes, key
    // updates), until the snapshot is in the log.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, stop) = (db.url(), stop.clone());
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
                .await
                .unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = rand::thread_rng().gen_range(1..=B_ROWS);
                let sql = match n % 4 {
                    0 => format!("INSERT IGNORE INTO nt.b VALUES ({}, 'new')", 200_000 + n),
                    1 => format!("UPDATE nt.b SET v = 'u{n}' WHERE id = {id}"),
                    2 => format!("DELETE FROM nt.b WHERE id = {id}"),
                    _ => format!(
                        "UPDATE IGNORE nt.b SET id = {} WHERE id = {id}",
                        300_000 + n
                    ),
                };
                conn.query_drop(&sql).await.unwrap();
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner.spawn();
    let done = |r: &Record| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_done && c.plan.is_empty())
    };
    capture_support::wait_for_record(&runner, Duration::from_secs(120), &done);
    stop.store(true, Ordering::Relaxed);
    let statements = writer.await.unwrap();
    db.sql("INSERT INTO nt.a VALUES (102, 'end')");
    capture_support::wait_for_record(&runner, Duration::from_secs(30), &|r| {
        capture_support::inserts_into(r, "nt", "a")
            && r.changes.iter().any(|c| {
                c.rows
                    .iter()
                    .any(|row| text(&row.after.as_ref().unwrap().values[0]) == "102")
            })
    });
    runner.stop();
    let all = records(&runner);

    // The writer ran during the snapshot: some of its changes are in the
    // log between the plan and the done record.
    let plan_at = all
        .iter()
        .position(|r| {
            r.snapshot_chunk
                .as_ref()
                .is_some_and(|c| c.plan == vec!["nt.b".to_string()])
        })
        .expect("a plan of just nt.b");
    let done_at = all.iter().position(done).unwrap();
    let changes_during = all[plan_at..done_at]
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.table == "b" && c.kind != ChangeKind::Read as i32)
        .count();
    assert!(
        changes_during > 0,
        "no write to nt.b during its snapshot ({statements} statements)"
    );

    let mut reads: HashMap<String, u32> = HashMap::new();
    let mut touched = HashSet::new();
    let mut b: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &all {
        for c in r.changes.iter().filter(|c| c.schema == "nt") {
            assert!(
                !(c.table == "a" && c.kind == ChangeKind::Read as i32),
                "nt.a was read again"
            );
            if c.table != "b" {
                continue;
            }
            for row in &c.rows {
                let img = |i: &Option<sluice::proto::Image>| {
                    i.as_ref()
                        .map(|i| i.values.iter().map(text).collect::<Vec<_>>())
                };
                if let Some(before) = img(&row.before) {
                    touched.insert(before[0].clone());
                    b.remove(&before[0]);
                }
                if let Some(after) = img(&row.after) {
                    if c.kind == ChangeKind::Read as i32 {
                        *reads.entry(after[0].clone()).or_default() += 1;
                    } else {
                        touched.insert(after[0].clone());
                    }
                    b.insert(after[0].clone(), after);
                }
            }
        }
    }
    // The restart's schema history names nt.b's columns.
    assert!(all
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.table == "b")
        .all(|c| c
            .columns
            .iter()
            .map(|col| col.name.as_str())
            .eq(["id", "v"])));
    let server: BTreeMap<String, Vec<String>> = db
        .sql("SELECT id, v FROM nt.b")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let row: Vec<String> = l.split('\t').map(str::to_string).collect();
            (row[0].clone(), row)
        })
        .collect();
    assert_eq!(b.len(), server.len());
    assert!(
        b == server,
        "the log replayed for nt.b is not the server's rows"
    );
    for id in 1..=B_ROWS {
        let id = id.to_string();
        if !touched.contains(&id) {
            assert_eq!(
                reads.get(&id),
                Some(&1),
                "row {id} read {:?} times",
                reads.get(&id)
            );
        }
    }
    assert!(reads.values().all(|&n| n == 1), "a row read twice");
}

/// A table whose row count is an exact multiple of the chunk size: the
/// snapshot's last row still carries Debezium's `"last"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_marker_when_rows_are_a_multiple_of_the_chunk_size() {
    let Some(db) = MariaDb::shared() else {
        return;
    };
    db.sql(
        "CREATE DATABASE mult; USE mult;
         CREATE TABLE mult.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO mult.t SELECT seq, CONCAT('r', seq) FROM seq_1_to_200;",
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        source_toml(
            "mult",
            &db.url(),
            "mult\\..*",
            "snapshot_chunk_rows = 100\n",
        ),
    )
    .unwrap();
    let (code, _, err) = capture_support::sluice(&[
        "run",
        "--data",
        data.path().to_str().unwrap(),
        "--name",
        "mult",
        "--config",
        config.to_str().unwrap(),
        "--snapshot",
        "initial_only",
    ]);
    assert_eq!(code, 0, "{err}");
    let debezium = capture_support::tail_format(data.path(), "mult", "debezium-json");
    let ids: Vec<String> = debezium
        .iter()
        .map(|e| e["after"]["id"].to_string())
        .collect();
    let expect: Vec<String> = db
        .sql("SELECT id FROM mult.t ORDER BY id")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids, expect);
    let marks: Vec<&str> = debezium
        .iter()
        .map(|e| e["source"]["snapshot"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(marks.last(), Some(&"last"), "the final row's marker");
    assert!(marks[..marks.len() - 1].iter().all(|m| *m == "true"));
}

/// An on-demand snapshot's plan carries `SHOW CREATE TABLE`: a mirror
/// whose target lacks the table creates it and ends equal to the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_snapshot_creates_the_mirror_table() {
    let (Some(src), Some(dst)) = (MariaDb::start_default(), MariaDb::start_default()) else {
        return;
    };
    src.sql(
        "CREATE DATABASE odm; USE odm;
         CREATE TABLE odm.t (id INT PRIMARY KEY, v VARCHAR(20), n DECIMAL(8,2)) DEFAULT CHARSET=latin1;
         INSERT INTO odm.t SELECT seq, CONCAT('v', seq), seq / 4 FROM seq_1_to_700;",
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    let sink = format!(
        "snapshot_chunk_rows = 100\n[[sink]]\nname = \"mirror\"\nsource = \"odm\"\nkind = \"mysql\"\nurl = \"{}\"\n",
        dst.url()
    );
    std::fs::write(&config, source_toml("odm", &src.url(), "odm\\..*", &sink)).unwrap();
    let (mut runner, server) = runner_with_http(data.path(), "odm", &config);
    runner.spawn();
    capture_support::wait_for_start(&runner);
    assert!(
        dst.try_sql("SELECT 1 FROM odm.t LIMIT 1").is_err(),
        "the mirror target has no odm.t yet"
    );
    let (code, out, err) = capture_support::sluice(&[
        "snapshot", "--server", &server, "--source", "odm", "--table", "odm.t",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["id"]
        .as_u64()
        .unwrap();
    let plan = capture_support::wait_for_record(&runner, Duration::from_secs(60), &|r| {
        r.snapshot_chunk
            .as_ref()
            .is_some_and(|c| c.snapshot_id == id && !c.plan.is_empty())
    });
    let chunk = plan.snapshot_chunk.as_ref().unwrap();
    assert!(
        chunk.create_tables.len() == 1 && chunk.create_tables[0].starts_with("CREATE TABLE `t`"),
        "{chunk:?}"
    );
    // Changes while (or after) it is read, once the plan is in the log
    // (before it, the mirror has no table to apply them to).
    src.sql("UPDATE odm.t SET v = 'changed' WHERE id = 5; DELETE FROM odm.t WHERE id = 6");
    let sum = |db: &MariaDb| {
        db.try_sql("CHECKSUM TABLE odm.t")
            .ok()
            .and_then(|o| o.split('\t').nth(1).map(|s| s.trim().to_string()))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sum(&dst) != sum(&src) {
        assert!(
            Instant::now() < deadline,
            "mirror {:?} source {:?}:\n{}",
            sum(&dst),
            sum(&src),
            runner.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM odm.t").trim(),
        "699",
        "the mirror has the source's rows"
    );
    runner.stop();
}

/// The server switched to `binlog_row_image = MINIMAL` in the middle of a
/// snapshot: the first change of the table being read that leaves columns
/// out stops capture with an error naming binlog_row_image, before that
/// change goes into the log; until then (FULL images, also of a table with
/// a generated column) capture goes on. After a restart the table still
/// reads `failed` with that error, and is not read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_image_switched_to_minimal_mid_snapshot_fails_the_snapshot_not_capture() {
    // A server of its own: it sets binlog_row_image globally.
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    db.sql(
        "CREATE DATABASE img; USE img;
         CREATE TABLE img.t (id INT PRIMARY KEY, v VARCHAR(20), n INT,
                             g INT AS (n * 2) VIRTUAL);
         INSERT INTO img.t (id, v, n) SELECT seq, 'r', seq FROM seq_1_to_200000;",
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        source_toml(
            "img",
            &db.url(),
            "img\\..*",
            "snapshot_chunk_rows = 50\nsnapshot_parallel = 1\n",
        ),
    )
    .unwrap();
    let http = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let mut runner = Runner::new(
        data.path(),
        "img",
        &[
            "--config".into(),
            config.to_str().unwrap().into(),
            "--snapshot".into(),
            "initial".into(),
            "--http-addr".into(),
            http.clone(),
        ],
    );
    runner.spawn();
    let chunk_read = |r: &Record| r.snapshot_chunk.as_ref().is_some_and(|c| c.rows_read > 0);
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &chunk_read);
    // A FULL update while the table is read: it goes into the log.
    db.sql("UPDATE img.t SET v = 'full' WHERE id = 199999");
    let updates = |v: &'static str| {
        move |r: &Record| {
            r.changes.iter().any(|c| {
                c.table == "t"
                    && c.kind == ChangeKind::Update as i32
                    && c.rows.iter().any(|row| {
                        row.after.as_ref().is_some_and(|a| {
                            // MINIMAL images leave columns out.
                            a.values
                                .iter()
                                .any(|x| matches!(&x.kind, Some(Kind::Text(t)) if t == v))
                        })
                    })
            })
        }
    };
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &updates("full"));

    db.sql("SET GLOBAL binlog_row_image = 'MINIMAL'");
    // Where the MINIMAL update's transaction starts (nothing else writes).
    let at = master_status(&db);
    // A new session: it takes the new global value.
    db.sql("UPDATE img.t SET v = 'minimal' WHERE id = 199998");
    // The snapshot fails; capture goes on and logs the change.
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &updates("minimal"));
    db.sql("SET GLOBAL binlog_row_image = 'FULL'");
    db.sql("UPDATE img.t SET v = 'after' WHERE id = 5");
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &updates("after"));
    let logs = runner.all_logs();
    assert!(
        runner.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "capture stopped:\n{logs}"
    );
    let named = format!("the row event at {}:{} ", at.0, at.1);
    assert!(
        logs.contains("snapshot failed")
            && logs.contains("binlog_row_image is no longer FULL")
            && logs.contains(&named),
        "{named:?} not in:\n{logs}"
    );
    let recs = records(&runner);
    let minimal = recs.iter().position(updates("minimal")).unwrap();
    let cancelled = recs
        .iter()
        .position(|r| r.snapshot_chunk.as_ref().is_some_and(|c| c.cancelled))
        .expect("no record ends the snapshot");
    assert!(
        cancelled < minimal,
        "the snapshot ended after the MINIMAL change"
    );
    assert!(
        !recs[..cancelled]
            .iter()
            .any(|r| r.snapshot_chunk.as_ref().is_some_and(|c| c.snapshot_done)),
        "the snapshot ended before the switch: the test proves nothing"
    );
    assert!(
        !recs[cancelled..].iter().any(chunk_read),
        "chunks were read after the snapshot failed"
    );

    // The failure and its reason are in the log: a restart lists the
    // table as failed with the error, not as cancelled on request.
    let failed = |listed: &serde_json::Value| {
        let t = listed["snapshots"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["table"] == "img.t"))
            .unwrap_or_else(|| panic!("img.t not listed: {listed}"));
        assert_eq!(t["state"], "failed", "{listed}");
        assert!(
            t["error"]
                .as_str()
                .is_some_and(|e| e.contains("binlog_row_image") && e.contains(&named)),
            "{listed}"
        );
    };
    let server = format!("http://{http}");
    failed(&list_snapshots(&server, "img", false));
    runner.stop();
    let records_before = records(&runner).len();
    runner.spawn();
    failed(&list_snapshots(&server, "img", true));
    db.sql("UPDATE img.t SET v = 'restarted' WHERE id = 6");
    capture_support::wait_for_record(&runner, Duration::from_secs(60), &updates("restarted"));
    assert!(
        !records(&runner)[records_before..].iter().any(chunk_read),
        "the failed snapshot was read again after the restart"
    );
    runner.stop();
}

/// `sluice snapshot --list` on `server`'s source `source`. With `retry`,
/// until the source lists a table (a restarted server takes a moment to
/// listen and to load its snapshots from the log).
fn list_snapshots(server: &str, source: &str, retry: bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, out, err) = capture_support::sluice(&[
            "snapshot", "--server", server, "--source", source, "--list",
        ]);
        let listed: Option<serde_json::Value> = (code == 0)
            .then(|| serde_json::from_str(out.trim()).ok())
            .flatten();
        let some = listed
            .as_ref()
            .and_then(|l| l["snapshots"].as_array())
            .is_some_and(|a| !a.is_empty());
        match listed {
            Some(l) if some || !retry => return l,
            _ if retry && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(300))
            }
            _ => panic!("sluice snapshot --list: {code}\n{out}\n{err}"),
        }
    }
}
