//! Exactly once: `sluice run` killed with SIGKILL at random moments during
//! a concurrent write load and restarted each time (resuming by position,
//! and by GTID); the MariaDB server restarted and crashed mid-stream; the
//! replica connection cut with `KILL`. At the end the log equals the
//! server's own binlog decoded offline: no duplicate, no gap, no partial
//! transaction, and the column names stay right across DDL; it also has
//! what MariaDB's own `mariadb-binlog` reads in the binlog (each GTID once,
//! the same row changes) and replays to the tables' final contents. Also: the
//! start positions of a new log (earliest, current, FILE:POS, gtid:, time:).

mod capture_support;

use capture_support::load::{self, Spec};
use capture_support::*;
use rand::Rng;
use sluice_testkit::MariaDb;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn runner_for(db: &MariaDb, data: &std::path::Path, schema: &str, extra: &[&str]) -> Runner {
    let mut args = vec![
        "--source".to_string(),
        db.url(),
        "--server-id".into(),
        server_id(),
        "--start".into(),
        "current".into(),
        "--include".into(),
        format!("{schema}\\..*"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Runner::new(data, "crash", &args)
}

fn spec(db: &MariaDb, schema: &str, stop: &Arc<AtomicBool>) -> Spec {
    Spec {
        url: db.url(),
        schema: schema.into(),
        workers: 3,
        ops: 1_000_000,
        big_rows: 20_000,
        ddl: true,
        pause: Duration::from_millis(10),
        stop: stop.clone(),
    }
}

/// The log equals the offline decode from the start position on; it has
/// the transactions (by GTID) and row changes that MariaDB's own
/// `mariadb-binlog` finds in the server's binlog, each once; replayed, it
/// gives the tables' final contents; and the DDL table's column names are
/// right everywhere.
fn check_exactly_once(db: &MariaDb, runner: &Runner, schema: &str, start: &(String, u64)) {
    let keep = |s: &str, _: &str| s == schema;
    let keep_ddl = |q: &str| q.contains(schema);
    let log = canonical(&tail(&runner.data, &runner.name), &keep, &keep_ddl);
    let offline = from_position(canonical(&offline(db), &keep, &keep_ddl), &start.0, start.1);
    assert!(
        offline.len() > 50,
        "too little load: {} transactions",
        offline.len()
    );
    assert_same(&log, &offline, schema);
    assert_eq!(load::check_ddl_names(&log), load::expected_ddl_names());

    let by_server = mariadb_binlog::changes(db, schema, start);
    let in_log = mariadb_binlog::of_log(&log);
    assert!(
        by_server.gtids.len() > 50,
        "mariadb-binlog found only {} transactions",
        by_server.gtids.len()
    );
    let mut unique = in_log.gtids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), in_log.gtids.len(), "a GTID twice in the log");
    if in_log.gtids != by_server.gtids {
        let at = in_log
            .gtids
            .iter()
            .zip(&by_server.gtids)
            .position(|(a, b)| a != b)
            .unwrap_or(in_log.gtids.len().min(by_server.gtids.len()));
        panic!(
            "the log's transactions differ from mariadb-binlog's at #{at}: log {:?}, binlog {:?} \
             ({} vs {} transactions)",
            in_log.gtids.get(at),
            by_server.gtids.get(at),
            in_log.gtids.len(),
            by_server.gtids.len()
        );
    }
    assert_eq!(
        in_log.rows, by_server.rows,
        "the log's row changes differ from mariadb-binlog's"
    );
    for table in ["load_a", "load_b", "big", "ddl_t2"] {
        let from_db = load::final_from_db(db, schema, table);
        assert!(!from_db.is_empty(), "{schema}.{table} is empty");
        assert!(
            load::final_from_log(&log, schema, table) == from_db,
            "{schema}.{table}: the log's final rows differ from the table's"
        );
    }
}

async fn kill_loop(db: &MariaDb, schema: &str, kills: usize, extra: &[&str]) {
    load::setup(db, schema);
    let data = tempfile::tempdir().unwrap();
    let mut runner = runner_for(db, data.path(), schema, extra);
    runner.spawn();
    let start = wait_for_start(&runner);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load::run(spec(db, schema, &stop)));
    for _ in 0..kills {
        let ms = rand::thread_rng().gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        runner.kill();
        runner.spawn();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let stats = load.await.unwrap();
    assert!(stats.ok.load(Ordering::Relaxed) > 100, "{stats:?}");
    runner.kill();
    runner.until_current();
    check_exactly_once(db, &runner, schema, &start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_resuming_by_position() {
    let Some(db) = MariaDb::shared() else { return };
    kill_loop(db, "crash_pos", 12, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_resuming_by_gtid() {
    let Some(db) = MariaDb::shared() else { return };
    kill_loop(db, "crash_gtid", 6, &["--resume", "gtid"]).await;
}

/// The `Binlog Dump` threads of replicas, from SHOW PROCESSLIST.
fn dump_threads(db: &MariaDb) -> Vec<String> {
    db.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_restart_crash_and_cut_connections_mid_stream() {
    let Some(mut db) = MariaDb::start_default() else {
        return;
    };
    let schema = "crash_srv";
    load::setup(&db, schema);
    let data = tempfile::tempdir().unwrap();
    // A short heartbeat so a dead connection is noticed quickly.
    let mut runner = Runner::new(
        data.path(),
        "crash",
        &[
            "--source".into(),
            format!("{}?heartbeat=1", db.url()),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            "current".into(),
            "--include".into(),
            format!("{schema}\\..*"),
        ],
    );
    runner.spawn();
    let start = wait_for_start(&runner);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load::run(spec(&db, schema, &stop)));

    // Cut the replica's connection three times.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut threads = dump_threads(&db);
        for _ in 0..100 {
            if !threads.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            threads = dump_threads(&db);
        }
        assert!(
            !threads.is_empty(),
            "no Binlog Dump thread:\n{}",
            runner.all_logs()
        );
        for id in threads {
            db.try_sql(&format!("KILL {id}")).ok();
        }
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    db.restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    db.crash_and_restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    // The same process reconnected by itself and caught up.
    db.sql(&format!("INSERT INTO {schema}.sentinel VALUES (1)"));
    wait_for_record(&runner, Duration::from_secs(120), &|r| {
        inserts_into(r, schema, "sentinel")
    });
    runner.stop();
    let logs = runner.all_logs();
    assert_eq!(
        logs.matches("new log").count(),
        1,
        "one process for the whole test:\n{logs}"
    );
    check_exactly_once(&db, &runner, schema, &start);
    // The server rotated its binlog on restart: the log spans files.
    assert!(db.binlog_files().len() >= 3);
}

/// ids of `schema.t` inserted in the log, in order.
fn ids(runner: &Runner, schema: &str) -> Vec<i64> {
    canonical(
        &tail(&runner.data, &runner.name),
        &|s, _| s == schema,
        &|_| false,
    )
    .iter()
    .flat_map(|t| t.changes.iter())
    .flat_map(|c| c.rows.iter())
    .map(|(_, a)| a.as_ref().unwrap()[0].as_i64().unwrap())
    .collect()
}

#[test]
fn start_positions_of_a_new_log() {
    let Some(db) = MariaDb::shared() else { return };
    let s = "cap_start";
    db.sql(&format!(
        "CREATE DATABASE {s}; CREATE TABLE {s}.t (id INT PRIMARY KEY);"
    ));
    db.sql(&format!("INSERT INTO {s}.t VALUES (1)"));
    let (file, pos) = master_status(db);
    let gtid = db.sql("SELECT @@gtid_binlog_pos").trim().to_string();
    db.sql(&format!("INSERT INTO {s}.t VALUES (2)"));
    std::thread::sleep(Duration::from_millis(1100));
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    std::thread::sleep(Duration::from_millis(1100));
    db.sql(&format!("INSERT INTO {s}.t VALUES (3)"));
    db.sql(&format!("FLUSH BINARY LOGS; INSERT INTO {s}.t VALUES (4)"));

    let run = |start: &str, extra: &[&str]| {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--source".to_string(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            start.into(),
            "--include".into(),
            format!("{s}\\..*"),
        ];
        args.extend(extra.iter().map(|x| x.to_string()));
        let mut runner = Runner::new(data.path(), "start", &args);
        runner.until_current();
        (ids(&runner, s), runner, data)
    };
    assert_eq!(run("earliest", &[]).0, [1, 2, 3, 4]);
    assert_eq!(run(&format!("{file}:{pos}"), &[]).0, [2, 3, 4]);
    let (got, runner, _keep) = run(&format!("gtid:{gtid}"), &[]);
    assert_eq!(got, [2, 3, 4]);
    // A log started by GTID resumes by GTID: nothing twice.
    db.sql(&format!("INSERT INTO {s}.t VALUES (5)"));
    let mut runner = Runner::new(&runner.data, "start", &runner.args);
    runner
        .args
        .extend(["--resume".to_string(), "gtid".to_string()]);
    runner.until_current();
    assert_eq!(ids(&runner, s), [2, 3, 4, 5]);
    assert_eq!(run(&format!("time:{time}"), &[]).0, [3, 4, 5]);

    // current: only what comes after the start.
    let data = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(
        data.path(),
        "start",
        &[
            "--source".into(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            "current".into(),
            "--include".into(),
            format!("{s}\\..*"),
        ],
    );
    runner.spawn();
    wait_for_start(&runner);
    db.sql(&format!("INSERT INTO {s}.t VALUES (6)"));
    wait_for_record(&runner, Duration::from_secs(60), &|r| {
        inserts_into(r, s, "t")
    });
    runner.stop();
    assert_eq!(ids(&runner, s), [6]);
}
