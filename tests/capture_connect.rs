//! `sluice run` connecting for real: TLS with certificate verification,
//! each authentication plugin MariaDB offers (mysql_native_password,
//! client_ed25519), and the failures a user meets first — a wrong
//! password, an unreachable server, a purged start or resume position —
//! each a clear message and a non-zero exit.

mod capture_support;

use capture_support::*;
use sluice_testkit::{MariaDb, MariaDbOptions};
use std::time::{Duration, Instant};

/// `sluice run --until current` with `source`; (exit code, stderr).
fn run_once(source: &str, data: &std::path::Path, start: &str, include: &str) -> (i32, String) {
    let d = data.to_str().unwrap();
    let id = server_id();
    let (code, _, err) = sluice(&[
        "run",
        "--source",
        source,
        "--data",
        d,
        "--server-id",
        &id,
        "--start",
        start,
        "--include",
        include,
        "--until",
        "current",
    ]);
    (code, err)
}

fn inserted_ids(data: &std::path::Path, schema: &str) -> Vec<i64> {
    canonical(&tail(data, "main"), &|s, _| s == schema, &|_| false)
        .iter()
        .flat_map(|t| t.changes.iter())
        .flat_map(|c| c.rows.iter())
        .map(|(_, a)| a.as_ref().unwrap()[0].as_i64().unwrap())
        .collect()
}

#[test]
fn tls_with_certificate_verification() {
    let Some(db) = MariaDb::start(MariaDbOptions {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let ca = db.tls().unwrap().ca.display().to_string();
    db.sql("CREATE DATABASE tls_db; CREATE TABLE tls_db.t (id INT PRIMARY KEY); INSERT INTO tls_db.t VALUES (1), (2);");
    let data = tempfile::tempdir().unwrap();
    let url = format!("{}?tls=verify&ca={ca}", db.url());
    let (code, err) = run_once(&url, data.path(), "earliest", r"tls_db\..*");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("plain text"), "{err}");
    assert_eq!(inserted_ids(data.path(), "tls_db"), [1, 2]);

    // Without the CA the certificate cannot be verified: a clear error.
    let other = tempfile::tempdir().unwrap();
    let (code, err) = run_once(
        &format!("{}?tls=verify", db.url()),
        other.path(),
        "earliest",
        ".*",
    );
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Required TLS on a server without it is refused, not downgraded.
    let plain = MariaDb::shared().unwrap();
    let (code, err) = run_once(
        &format!("{}?tls=required", plain.url()),
        other.path(),
        "current",
        ".*",
    );
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("tls"), "{err}");
}

#[test]
fn each_auth_plugin_mariadb_offers() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("INSTALL SONAME 'auth_ed25519'");
    db.sql(
        "CREATE DATABASE auth_db; CREATE TABLE auth_db.t (id INT PRIMARY KEY);
         CREATE USER u_native@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('native-pw');
         CREATE USER u_ed@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw');
         GRANT ALL PRIVILEGES ON *.* TO u_native@'%';
         GRANT ALL PRIVILEGES ON *.* TO u_ed@'%';
         INSERT INTO auth_db.t VALUES (7);",
    );
    for (user, pw) in [("u_native", "native-pw"), ("u_ed", "ed-pw")] {
        let data = tempfile::tempdir().unwrap();
        let url = format!("mysql://{user}:{pw}@127.0.0.1:{}", db.port());
        let (code, err) = run_once(&url, data.path(), "earliest", r"auth_db\..*");
        assert_eq!(code, 0, "{user}: {err}");
        assert_eq!(inserted_ids(data.path(), "auth_db"), [7], "{user}");
        // Wrong password for the same plugin: a clear error, non-zero.
        let url = format!("mysql://{user}:wrong@127.0.0.1:{}", db.port());
        let (code, err) = run_once(&url, data.path(), "earliest", ".*");
        assert_ne!(code, 0, "{user} with a wrong password");
        assert!(err.contains("Access denied"), "{user}: {err}");
        assert!(!err.contains("wrong"), "the password is printed: {err}");
    }
}

#[test]
fn wrong_password_and_unreachable_server_fail_clearly() {
    let Some(db) = MariaDb::shared() else { return };
    let data = tempfile::tempdir().unwrap();
    let url = format!(
        "mysql://{}:not-the-password@127.0.0.1:{}",
        db.user(),
        db.port()
    );
    // Without --until too: a first connection that cannot succeed ends the run.
    let mut runner = Runner::new(
        data.path(),
        "main",
        &["--source".into(), url, "--server-id".into(), server_id()],
    );
    runner.spawn();
    let status = wait_timeout(runner.child.as_mut().unwrap(), Duration::from_secs(30));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let err = runner.last_log();
    assert!(err.contains("Access denied"), "{err}");
    assert!(
        !err.contains("not-the-password"),
        "the password is printed: {err}"
    );

    // Nothing listens on this port.
    let port = sluice_testkit::free_port();
    let url = format!("mysql://u:p@127.0.0.1:{port}");
    let started = Instant::now();
    let mut runner = Runner::new(data.path(), "main", &["--source".into(), url.clone()]);
    runner.spawn();
    let status = wait_timeout(runner.child.as_mut().unwrap(), Duration::from_secs(60));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let err = runner.last_log();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let (code, err) = run_once(&url, data.path(), "current", ".*");
    assert_ne!(code, 0);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn a_purged_position_names_the_oldest_binlog() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    db.sql(
        "CREATE DATABASE pg; CREATE TABLE pg.t (id INT PRIMARY KEY); INSERT INTO pg.t VALUES (1);",
    );
    // A log that captured up to here.
    let data = tempfile::tempdir().unwrap();
    let (code, err) = run_once(&db.url(), data.path(), "earliest", r"pg\..*");
    assert_eq!(code, 0, "{err}");
    db.sql("FLUSH BINARY LOGS; FLUSH BINARY LOGS;");
    let (newest, _) = master_status(&db);
    // MariaDB removes a file only once the engine has checkpointed it:
    // repeat the purge until the old files are gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        db.sql(&format!("PURGE BINARY LOGS TO '{newest}'"));
        if !db.sql("SHOW BINARY LOGS").contains("mysql-bin.000001") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "PURGE never removed mysql-bin.000001"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    db.sql("INSERT INTO pg.t VALUES (2);");

    // A new log asked to start in a purged file.
    let other = tempfile::tempdir().unwrap();
    let (code, err) = run_once(&db.url(), other.path(), "mysql-bin.000001:4", ".*");
    assert_ne!(code, 0);
    assert!(err.contains("purged") && err.contains(&newest), "{err}");
    // The existing log's resume point is purged.
    let (code, err) = run_once(&db.url(), data.path(), "earliest", r"pg\..*");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("purged") && err.contains(&newest), "{err}");
    assert_eq!(
        inserted_ids(data.path(), "pg"),
        [1],
        "nothing skipped silently"
    );
}

/// A restart of `sluice run` while its source is down: a log that holds
/// records has reached this server before, so the run waits out the
/// outage (past the few first-connect retries of a new log) and then
/// captures on from where the log ends, every row once.
#[test]
fn a_restart_while_the_server_is_down_waits_for_it() {
    let Some(mut db) = MariaDb::start_default() else {
        return;
    };
    db.sql("CREATE DATABASE rw; CREATE TABLE rw.t (id INT PRIMARY KEY)");
    let data = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(
        data.path(),
        "main",
        &[
            "--source".into(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--include".into(),
            "rw\\..*".into(),
        ],
    );
    runner.spawn();
    wait_for_start(&runner);
    db.sql("INSERT INTO rw.t VALUES (1), (2)");
    wait_for_record(&runner, Duration::from_secs(60), &|r| {
        inserts_into(r, "rw", "t")
    });
    runner.stop();

    db.stop();
    runner.spawn();
    // Longer than a new log's first-connect retries (about 6 s).
    std::thread::sleep(Duration::from_secs(10));
    let child = runner.child.as_mut().unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "sluice run gave up while the server was down:\n{}",
        runner.last_log()
    );
    assert!(
        runner.last_log().contains("cannot connect"),
        "{}",
        runner.last_log()
    );
    db.start_again();
    db.sql("INSERT INTO rw.t VALUES (3), (4)");
    let deadline = Instant::now() + Duration::from_secs(90);
    while inserted_ids(data.path(), "rw").len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the rows written after the outage never reached the log:\n{}",
            runner.all_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    runner.stop();
    let ids = inserted_ids(data.path(), "rw");
    let server: Vec<i64> = db
        .sql("SELECT id FROM rw.t ORDER BY id")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(ids, server, "the log's rows vs the table's");
}
