//! Proves the test harness is real: a private MariaDB starts, writes a ROW
//! binlog, and is gone (by pid) once its handle drops.

use sluice_testkit::MariaDb;

#[test]
fn private_mariadb_writes_row_events_to_its_binlog() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let pid = db.pid();
    // The server's own defaults, as users run it.
    assert_eq!(db.sql("SELECT @@binlog_row_metadata").trim(), "NO_LOG");
    assert_eq!(db.sql("SELECT @@binlog_row_image").trim(), "FULL");
    db.sql(
        "CREATE DATABASE smoke;
         CREATE TABLE smoke.t (id INT PRIMARY KEY, name VARCHAR(20));
         INSERT INTO smoke.t VALUES (1, 'one'), (2, 'two');",
    );
    assert_eq!(
        db.sql("SELECT id, name FROM smoke.t ORDER BY id"),
        "1\tone\n2\ttwo\n"
    );
    assert_eq!(db.sql("SELECT @@binlog_format").trim(), "ROW");

    let events = db.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'");
    let table_map = events
        .lines()
        .any(|l| l.contains("Table_map") && l.contains("(smoke.t)"));
    let write_rows = events.lines().filter(|l| l.contains("Write_rows")).count();
    assert!(table_map, "no Table_map for smoke.t in:\n{events}");
    assert_eq!(write_rows, 1, "expected one Write_rows event in:\n{events}");
    assert!(db
        .binlog_files()
        .iter()
        .any(|f| f.ends_with("mysql-bin.000001")));

    let datadir = db.datadir();
    drop(db);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "mariadbd {pid} still running after drop"
    );
    assert!(
        !datadir.exists(),
        "datadir {} left behind",
        datadir.display()
    );
}

#[test]
fn private_mariadb_accepts_the_test_account_over_tcp_and_serves_tls() {
    let Some(db) = MariaDb::start(sluice_testkit::MariaDbOptions {
        tls: true,
        row_metadata: Some("FULL".into()),
        ..Default::default()
    }) else {
        return;
    };
    assert_eq!(db.sql("SELECT @@binlog_row_metadata").trim(), "FULL");
    assert_eq!(db.sql("SELECT @@have_ssl").trim(), "YES");
    let anonymous = db.sql("SELECT COUNT(*) FROM mysql.global_priv WHERE User = ''");
    assert_eq!(anonymous.trim(), "0");
    let grants = db.sql(&format!("SHOW GRANTS FOR '{}'@'%'", db.user()));
    assert!(grants.contains("ALL PRIVILEGES"), "{grants}");
}
