//! The whole system under faults, every process on loopback: a MariaDB
//! primary with a GTID replica, `sluice run` (the real binary) capturing
//! through a two-host URL into its log and feeding a NATS JetStream sink
//! and a MySQL mirror into a third MariaDB, and a write load throughout.
//! In a seeded random order (`SLUICE_CHAOS_SEED` replays one): `kill -9`
//! of sluice (three times), a restart of the source primary, a switchover
//! (the replica promoted, the old primary retired), a restart of the
//! mirror's target, a restart of `nats-server`, `KILL` of the replication
//! connection and of the mirror's connection.
//!
//! At the end, with the expected side from the servers: the log holds
//! each transaction of the new primary's binlog (`mariadb-binlog`) once,
//! with the same row changes, and replays to its table; the mirror's
//! `CHECKSUM TABLE` equals the new primary's; the JetStream stream holds
//! every row change of the log exactly once.

mod capture_support;

use capture_support::*;
use mysql_async::prelude::Queryable;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sluice_testkit::{MariaDb, MariaDbOptions, NatsServer};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillSluice,
    RestartPrimary,
    Switchover,
    RestartTarget,
    RestartNats,
    KillReplication,
    KillMirrorConnection,
}

fn server(id: u32, extra: &[&str]) -> Option<MariaDb> {
    MariaDb::start(MariaDbOptions {
        server_id: id,
        gtid_strict_mode: true,
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
}

fn replicate(replica: &MariaDb, primary: &MariaDb) {
    replica.sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{}', \
         MASTER_PASSWORD='{}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;",
        primary.port(),
        primary.user(),
        primary.password()
    ));
}

fn wait(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn threads(db: &MariaDb, filter: &str) -> Vec<String> {
    db.try_sql(&format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE {filter} AND ID <> CONNECTION_ID()"
    ))
    .unwrap_or_default()
    .lines()
    .map(String::from)
    .collect()
}

fn checksum(db: &MariaDb) -> Option<String> {
    let out = db.try_sql("CHECKSUM TABLE chaos.t").ok()?;
    out.split('\t').nth(1).map(|s| s.trim().to_string())
}

/// The write load: inserts, updates and deletes, single statements and
/// small transactions, always against the current primary; errors (a
/// server going away, read-only during the switchover) are retried on a
/// new connection.
async fn writer(primary: Arc<Mutex<String>>, stop: Arc<AtomicBool>, ok: Arc<AtomicU64>) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut next = 0u64;
    let mut conn: Option<mysql_async::Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            let url = primary.lock().unwrap().clone();
            conn = mysql_async::Conn::from_url(url).await.ok();
            if conn.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        next += 1;
        let some = rng.gen_range(1..=next);
        let sql = match next % 10 {
            3 | 6 => format!("UPDATE chaos.t SET v = v + 1, note = 'u{next}' WHERE id = {some}"),
            9 => format!("DELETE FROM chaos.t WHERE id = {some}"),
            5 => format!(
                "BEGIN; INSERT INTO chaos.t VALUES ({next}, 0, 'tx'); \
                 UPDATE chaos.t SET v = v + 10 WHERE id = {some}; COMMIT"
            ),
            _ => format!("INSERT INTO chaos.t VALUES ({next}, 0, 'n{next}')"),
        };
        let done = match conn.as_mut() {
            Some(c) => c.query_drop(sql).await,
            None => continue,
        };
        match done {
            Ok(()) => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(mysql_async::Error::Server(_)) => {
                // Read-only during the switchover, a duplicate key after
                // an ambiguous commit: the statement did nothing.
                if let Some(c) = conn.as_mut() {
                    c.query_drop("ROLLBACK").await.ok();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => {
                conn = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The JetStream stream: (message ids, row changes of `chaos.t`).
async fn stream_rows(url: &str) -> Option<(Vec<String>, usize)> {
    let client = async_nats::connect(url).await.ok()?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SLUICE").await.ok()?;
    let count = stream.info().await.ok()?.state.messages;
    let mut ids = Vec::new();
    let mut rows = 0;
    for seq in 1..=count {
        let m = stream.get_raw_message(seq).await.ok()?;
        ids.push(
            m.headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
        let v: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
        if v["database"] == "chaos" && v["table"] == "t" {
            rows += v["data"].as_array().map_or(0, |d| d.len());
        }
    }
    Some((ids, rows))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn nothing_lost_or_doubled_when_anything_dies() {
    let started = Instant::now();
    let seed: u64 = std::env::var("SLUICE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("chaos seed {seed} (SLUICE_CHAOS_SEED={seed} replays this order)");
    let mut rng = StdRng::seed_from_u64(seed);

    let Some(mut primary) = server(1, &["--log-slave-updates"]) else {
        return;
    };
    let Some(mut replica) = server(2, &["--log-slave-updates", "--read-only=1"]) else {
        return;
    };
    let Some(mut target) = server(3, &[]) else {
        return;
    };
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    replicate(&replica, &primary);
    // The application's account has no SUPER: `read_only` stops it.
    primary.sql(
        "CREATE DATABASE chaos;
         CREATE TABLE chaos.t (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
         CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw';
         GRANT SELECT, INSERT, UPDATE, DELETE ON chaos.* TO 'app'@'%';",
    );
    target.sql(
        "CREATE DATABASE chaos;
         CREATE TABLE chaos.t (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));",
    );
    wait(
        "the replica to copy the schema",
        Duration::from_secs(30),
        || replica.try_sql("SELECT 1 FROM chaos.t").is_ok(),
    );

    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[source]]
name = "chaos"
url = "mysql://{user}:{pw}@127.0.0.1:{p},127.0.0.1:{r}?heartbeat=1"
server_id = 4901
start = "current"
include = 'chaos\..*'

[[sink]]
name = "mirror"
source = "chaos"
kind = "mysql"
url = "{target}"

[[sink]]
name = "events"
source = "chaos"
kind = "nats"
url = "{nats}"
format = "canal-json"
"#,
            user = primary.user(),
            pw = primary.password(),
            p = primary.port(),
            r = replica.port(),
            target = target.url(),
            nats = nats.url(),
        ),
    )
    .unwrap();
    let mut run = Runner::new(
        data.path(),
        "chaos",
        &["--config".into(), config.to_str().unwrap().into()],
    );
    run.spawn();
    wait_for_start(&run);

    let app_url = |db: &MariaDb| format!("mysql://app:app-pw@127.0.0.1:{}/chaos", db.port());
    let primary_url = Arc::new(Mutex::new(app_url(&primary)));
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let load = tokio::spawn(writer(primary_url.clone(), stop.clone(), ok.clone()));

    let mut faults = vec![
        Fault::KillSluice,
        Fault::KillSluice,
        Fault::KillSluice,
        Fault::RestartPrimary,
        Fault::Switchover,
        Fault::RestartTarget,
        Fault::RestartNats,
        Fault::KillReplication,
        Fault::KillMirrorConnection,
    ];
    faults.shuffle(&mut rng);
    let mut promoted = false;
    let mut injected: BTreeMap<Fault, u32> = BTreeMap::new();
    for fault in &faults {
        let pause = Duration::from_millis(rng.gen_range(500..1500));
        tokio::time::sleep(pause).await;
        let before = ok.load(Ordering::Relaxed);
        tokio::task::block_in_place(|| match fault {
            Fault::KillSluice => {
                run.kill();
                run.spawn();
            }
            Fault::RestartPrimary if promoted => replica.restart(),
            Fault::RestartPrimary => primary.restart(),
            Fault::Switchover => {
                // A planned switchover: writes stop on the old primary,
                // the replica catches up, takes the writes, the old
                // primary goes away for good.
                primary.sql("SET GLOBAL read_only = 1");
                let end = primary.sql("SELECT @@gtid_binlog_pos").trim().to_string();
                wait("the replica to catch up", Duration::from_secs(60), || {
                    replica
                        .try_sql(&format!("SELECT MASTER_GTID_WAIT('{end}', 1)"))
                        .is_ok_and(|r| r.trim() == "0")
                });
                replica.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;");
                *primary_url.lock().unwrap() = app_url(&replica);
                Command::new("kill")
                    .args(["-KILL", &primary.pid().to_string()])
                    .status()
                    .unwrap();
                promoted = true;
            }
            Fault::RestartTarget => target.restart(),
            Fault::RestartNats => nats.restart(),
            Fault::KillReplication => {
                let source = if promoted { &replica } else { &primary };
                for id in threads(source, "COMMAND = 'Binlog Dump'") {
                    source.try_sql(&format!("KILL {id}")).ok();
                }
            }
            Fault::KillMirrorConnection => {
                for id in threads(&target, "USER = 'sluice'") {
                    target.try_sql(&format!("KILL {id}")).ok();
                }
            }
        });
        *injected.entry(*fault).or_default() += 1;
        eprintln!(
            "chaos: {fault:?} after {pause:?} ({} writes so far, {} before it)",
            ok.load(Ordering::Relaxed),
            before
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let writes = ok.load(Ordering::Relaxed);
    assert!(writes > 200, "too little load: {writes} writes");
    eprintln!("chaos: faults injected {injected:?}; {writes} writes");

    // The log: every transaction of the new primary's binlog once.
    let source = &replica;
    let final_table = load::final_from_db(source, "chaos", "t");
    let keep = |s: &str, _: &str| s == "chaos";
    let deadline = Instant::now() + Duration::from_secs(90);
    let log = loop {
        let log = canonical(&tail(&run.data, &run.name), &keep, &|_| false);
        if load::final_from_log(&log, "chaos", "t") == final_table {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "the log never replayed to the new primary's table:\n{}",
            run.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let in_log = mariadb_binlog::of_log(&log);
    let unique: BTreeSet<&String> = in_log.gtids.iter().collect();
    assert_eq!(
        unique.len(),
        in_log.gtids.len(),
        "a transaction twice in the log"
    );
    let first = master_status_first_file(source);
    let by_server = mariadb_binlog::changes(source, "chaos", &first);
    let binlog_set: BTreeSet<&String> = by_server.gtids.iter().collect();
    assert_eq!(
        unique, binlog_set,
        "the log's transactions differ from the binlog's"
    );
    assert_eq!(
        in_log.rows, by_server.rows,
        "the log's row changes differ from the binlog's"
    );

    // The mirror equals the new primary.
    let want = checksum(source);
    wait(
        "the mirror to equal the new primary",
        Duration::from_secs(90),
        || checksum(&target) == want,
    );

    // The stream holds every row change of the log exactly once.
    let log_rows: usize = in_log
        .rows
        .iter()
        .filter(|((table, _), _)| table == "t")
        .map(|(_, n)| n)
        .sum();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some((ids, rows)) = stream_rows(&nats.url()).await {
            let distinct: BTreeSet<&String> = ids.iter().collect();
            assert_eq!(distinct.len(), ids.len(), "a message twice in the stream");
            if rows == log_rows {
                break;
            }
            assert!(
                rows < log_rows,
                "more rows in the stream ({rows}) than in the log ({log_rows})"
            );
        }
        assert!(
            Instant::now() < deadline,
            "the stream never caught up with the log:\n{}",
            run.last_log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    run.stop();
    eprintln!(
        "chaos: {} transactions, {log_rows} row changes checked in {:?}",
        in_log.gtids.len(),
        started.elapsed()
    );
}

/// The start of `db`'s oldest binlog file.
fn master_status_first_file(db: &MariaDb) -> (String, u64) {
    let first = db.binlog_files().into_iter().next().expect("a binlog file");
    (first.file_name().unwrap().to_str().unwrap().to_string(), 4)
}
