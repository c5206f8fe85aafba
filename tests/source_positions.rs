//! Start positions and purged binlogs, each on its own private MariaDB
//! (these tests rotate and purge binlogs).

use sluice::decode::event_type;
use sluice::source::{Connection, DumpFrom, SourceConfig, SourceError, StartPoint};
use sluice_testkit::MariaDb;
use std::time::Duration;

fn config(db: &MariaDb) -> SourceConfig {
    SourceConfig::from_url(&format!("{}?heartbeat=2", db.url())).unwrap()
}

fn unix_now(db: &MariaDb) -> i64 {
    db.sql("SELECT UNIX_TIMESTAMP()").trim().parse().unwrap()
}

/// Position of the first `Gtid` event of `file` in SHOW BINLOG EVENTS.
fn first_gtid_pos(db: &MariaDb, file: &str) -> u64 {
    db.sql(&format!("SHOW BINLOG EVENTS IN '{file}'"))
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f[2] == "Gtid")
        .map(|f| f[1].parse().unwrap())
        .expect("a Gtid event")
}

#[tokio::test]
async fn start_points_resolve_against_the_server() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    db.sql("CREATE DATABASE sp; CREATE TABLE sp.t (id INT PRIMARY KEY);");
    let t0 = unix_now(&db);
    std::thread::sleep(Duration::from_millis(2100));
    db.sql("FLUSH BINARY LOGS; INSERT INTO sp.t VALUES (1);");
    let t1 = unix_now(&db);
    std::thread::sleep(Duration::from_millis(2100));
    db.sql("FLUSH BINARY LOGS; INSERT INTO sp.t VALUES (2);");
    let t2 = unix_now(&db);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(t0 < t1 && t1 < t2);

    let mut conn = Connection::connect(&config(&db)).await.unwrap();
    let resolve = |s: &str| StartPoint::parse(s).unwrap();
    assert_eq!(
        conn.resolve_start(&resolve("earliest")).await.unwrap(),
        DumpFrom::file_pos("mysql-bin.000001", 4)
    );
    let status: Vec<String> = db
        .sql("SHOW MASTER STATUS")
        .split('\t')
        .map(str::to_string)
        .collect();
    assert_eq!(
        conn.resolve_start(&resolve("current")).await.unwrap(),
        DumpFrom::file_pos(status[0].clone(), status[1].parse().unwrap())
    );
    let ms = conn.master_status().await.unwrap();
    assert_eq!(
        ms.gtid_set.as_deref(),
        Some(db.sql("SELECT @@gtid_binlog_pos").trim())
    );
    assert_eq!(
        conn.resolve_start(&resolve("mysql-bin.000002:4"))
            .await
            .unwrap(),
        DumpFrom::file_pos("mysql-bin.000002", 4)
    );
    let e = conn
        .resolve_start(&resolve("mysql-bin.000002:99999999"))
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Config(_)), "{e}");
    let e = conn
        .resolve_start(&resolve("mysql-bin.000099:4"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(
        conn.resolve_start(&resolve("gtid:0-1-2")).await.unwrap(),
        DumpFrom::gtid("0-1-2")
    );

    // Times: the transaction of file 2 was written at t1, of file 3 at t2.
    let time = |t: i64| {
        let dt = chrono::DateTime::from_timestamp(t, 0).unwrap();
        StartPoint::parse(&format!("time:{}", dt.to_rfc3339())).unwrap()
    };
    let at_t1 = conn.resolve_start(&time(t1)).await.unwrap();
    assert_eq!(
        at_t1,
        DumpFrom::file_pos("mysql-bin.000002", first_gtid_pos(&db, "mysql-bin.000002"))
    );
    let at_t2 = conn.resolve_start(&time(t2)).await.unwrap();
    assert_eq!(
        at_t2,
        DumpFrom::file_pos("mysql-bin.000003", first_gtid_pos(&db, "mysql-bin.000003"))
    );
    // Between t1 and t2: the next transaction is the one of file 3.
    assert_eq!(conn.resolve_start(&time(t1 + 1)).await.unwrap(), at_t2);
    // Before everything: the earliest position.
    assert_eq!(
        conn.resolve_start(&time(t0 - 3600)).await.unwrap(),
        DumpFrom::file_pos("mysql-bin.000001", 4)
    );
    // After everything: the current end.
    assert_eq!(
        conn.resolve_start(&time(t2 + 3600)).await.unwrap(),
        DumpFrom::file_pos(status[0].clone(), status[1].parse().unwrap())
    );
}

#[tokio::test]
async fn purged_positions_name_the_oldest_binlog() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    db.sql(
        "CREATE DATABASE pg; CREATE TABLE pg.t (id INT PRIMARY KEY); INSERT INTO pg.t VALUES (1);",
    );
    let old_gtid = db.sql("SELECT @@gtid_binlog_pos").trim().to_string();
    db.sql("INSERT INTO pg.t VALUES (2); FLUSH BINARY LOGS; INSERT INTO pg.t VALUES (3); FLUSH BINARY LOGS;");
    // MariaDB keeps a file until its transactions are checkpointed in the
    // engine (asynchronously), so purge until file 1 is gone; the oldest
    // left may be 000002 or 000003.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let oldest_left = loop {
        db.sql("PURGE BINARY LOGS TO 'mysql-bin.000003'");
        let oldest = db
            .sql("SHOW BINARY LOGS")
            .lines()
            .next()
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string();
        if oldest != "mysql-bin.000001" || std::time::Instant::now() > deadline {
            break oldest;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(oldest_left, "mysql-bin.000001");
    let cfg = config(&db);

    // Refused when resolving the start position …
    let mut conn = Connection::connect(&cfg).await.unwrap();
    let e = conn
        .resolve_start(&StartPoint::parse("mysql-bin.000001:4").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Purged { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert!(
        e.to_string().contains(&format!(
            "the oldest binlog still available is {oldest_left}"
        )),
        "{e}"
    );

    // … and when dumping from it directly.
    let e = conn
        .start_dump(&DumpFrom::file_pos("mysql-bin.000001", 4))
        .await
        .unwrap_err();
    let SourceError::Purged {
        oldest, requested, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(oldest.as_deref(), Some(oldest_left.as_str()));
    assert_eq!(requested, "mysql-bin.000001");

    // A GTID whose binlog is gone: the server refuses, and the error is
    // the same definite one.
    let conn = Connection::connect(&cfg).await.unwrap();
    let mut stream = conn.start_dump(&DumpFrom::gtid(old_gtid)).await.unwrap();
    let e = loop {
        match stream.next_event().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended"),
            Err(e) => break e,
        }
    };
    let SourceError::Purged { oldest, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(oldest.as_deref(), Some(oldest_left.as_str()));
}

#[tokio::test]
async fn an_event_larger_than_16mb_arrives_whole() {
    let Some(db) = MariaDb::start(sluice_testkit::MariaDbOptions {
        max_allowed_packet: Some("64M".into()),
        ..Default::default()
    }) else {
        return;
    };
    db.sql("CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB);");
    let mut conn = Connection::connect(&config(&db)).await.unwrap();
    let from = conn.resolve_start(&StartPoint::Current).await.unwrap();
    let size = 20 * 1024 * 1024 + 7;
    db.sql(&format!(
        "INSERT INTO big.t VALUES (1, REPEAT(CHAR(65 + 1), {size}))"
    ));
    let mut stream = conn.start_dump(&from).await.unwrap();
    loop {
        let event = stream.next_event().await.unwrap().unwrap();
        let (h, event) = (event.header, event.bytes);
        if h.type_code == 23 {
            assert!(event.len() > size, "{} bytes", event.len());
            assert_eq!(h.event_size as usize, event.len());
            let (body, tail) = event.split_at(event.len() - 4);
            assert_eq!(
                crc32fast::hash(body),
                u32::from_le_bytes(tail.try_into().unwrap()),
                "the joined event is byte-exact"
            );
            assert_eq!(body.iter().filter(|&&b| b == b'B').count(), size);
            break;
        }
        assert_ne!(h.type_code, event_type::XID, "row event missing");
    }
}

#[tokio::test]
async fn a_server_restart_is_retryable_and_reconnect_succeeds() {
    let Some(mut db) = MariaDb::start_default() else {
        return;
    };
    let cfg = config(&db);
    let conn = Connection::connect(&cfg).await.unwrap();
    let from = DumpFrom::file_pos("mysql-bin.000001", 4);
    let mut stream = conn.start_dump(&from).await.unwrap();
    stream.next_event().await.unwrap().unwrap();
    let restarted = std::thread::spawn(move || {
        db.restart();
        db
    });
    let e = loop {
        match stream.next_event().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended"),
            Err(e) => break e,
        }
    };
    assert!(e.is_retryable(), "{e:?}");
    let mut backoff =
        sluice::source::Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    let mut stream = sluice::source::open_stream_with_retry(&cfg, &from, &mut backoff)
        .await
        .unwrap();
    let first = stream.next_event().await.unwrap().unwrap();
    assert_eq!(first.header.type_code, event_type::ROTATE);
    let db = restarted.join().unwrap();
    // The restart rotated the binlog: the stream follows into the new file.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stream.position().0 == "mysql-bin.000001" {
        assert!(std::time::Instant::now() < deadline, "no rotation seen");
        stream.next_event().await.unwrap().unwrap();
    }
    assert_eq!(stream.position().0, "mysql-bin.000002");
    drop(db);
}

#[tokio::test]
async fn preflight_reports_settings_and_refuses_statement_format() {
    let Some(db) = MariaDb::start(sluice_testkit::MariaDbOptions {
        row_metadata: Some("FULL".into()),
        ..Default::default()
    }) else {
        return;
    };
    let mut conn = Connection::connect(&config(&db)).await.unwrap();
    let s = conn.preflight().await.unwrap();
    assert!(s.log_bin);
    assert_eq!(s.format, "ROW");
    assert_eq!(s.row_image, "FULL");
    assert_eq!(s.row_metadata.as_deref(), Some("FULL"));
    assert_eq!(s.gtid_mode, None);

    db.sql("SET GLOBAL binlog_format = 'STATEMENT'");
    let e = conn.preflight().await.unwrap_err();
    assert!(matches!(e, SourceError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("binlog_format is STATEMENT"), "{e}");
    assert!(!e.is_retryable());
}
