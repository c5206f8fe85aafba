//! Binlog dumps from a real private MariaDB: events arrive whole and at
//! the positions `SHOW BINLOG EVENTS` gives, by file/position and by GTID,
//! including rows written while streaming; heartbeats keep an idle stream
//! alive; a killed connection is a retryable error and the stream resumes.

use sluice::decode::event_type;
use sluice::source::{
    open_stream_with_retry, Backoff, BinlogStream, Connection, DumpFrom, DumpOptions, SourceConfig,
    StartPoint,
};
use sluice_testkit::MariaDb;
use std::time::{Duration, Instant};

/// Each test streams as its own replica: the server drops an older dump
/// when a replica with the same server id connects.
fn config(db: &MariaDb) -> SourceConfig {
    static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(100);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    SourceConfig::from_url(&format!("{}?heartbeat=2&server_id={id}", db.url())).unwrap()
}

/// (pos, end_log_pos, type code) of `SHOW BINLOG EVENTS IN file`.
fn show_binlog_events(db: &MariaDb, file: &str) -> Vec<(u32, u32, u8, String)> {
    db.sql(&format!("SHOW BINLOG EVENTS IN '{file}'"))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let code = match f[2] {
                "Query" => event_type::QUERY,
                "Rotate" => event_type::ROTATE,
                "Format_desc" => event_type::FORMAT_DESCRIPTION,
                "Xid" => event_type::XID,
                "Table_map" => 19,
                "Write_rows_v1" => 23,
                "Update_rows_v1" => 24,
                "Delete_rows_v1" => 25,
                "Annotate_rows" => event_type::MARIADB_ANNOTATE_ROWS,
                "Binlog_checkpoint" => event_type::MARIADB_BINLOG_CHECKPOINT,
                "Gtid" => event_type::MARIADB_GTID,
                "Gtid_list" => event_type::MARIADB_GTID_LIST,
                "Stop" => 3,
                other => panic!("unknown event type {other} in {l}"),
            };
            (
                f[1].parse().unwrap(),
                f[4].parse().unwrap(),
                code,
                f.get(5).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

/// Read events until one ends at or after `end` in `file` (skipping
/// artificial ones); returns (pos, end, type) of each real event.
async fn read_until(stream: &mut BinlogStream, end: u32) -> Vec<(u32, u32, u8)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let event = stream.next_event().await.unwrap().expect("stream ended");
        let (h, event) = (event.header, event.bytes);
        assert_eq!(h.event_size as usize, event.len(), "event arrives whole");
        if let Some(pos) = h.start_pos() {
            out.push((pos, h.log_pos, h.type_code));
            if h.log_pos >= end {
                return out;
            }
        }
    }
    panic!("did not reach position {end}; got {out:?}");
}

fn crc_ok(event: &[u8]) -> bool {
    let (body, tail) = event.split_at(event.len() - 4);
    crc32fast::hash(body) == u32::from_le_bytes(tail.try_into().unwrap())
}

#[tokio::test]
async fn file_pos_dump_matches_show_binlog_events() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql(
        "CREATE DATABASE dump_fp;
         CREATE TABLE dump_fp.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO dump_fp.t VALUES (1, 'a'), (2, 'b');
         UPDATE dump_fp.t SET v = 'c' WHERE id = 1;
         DELETE FROM dump_fp.t WHERE id = 2;",
    );
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let status = conn.master_status().await.unwrap();
    let files = conn.binary_logs().await.unwrap();
    let first = files[0].name.clone();
    assert_eq!(first, status.file, "no rotation on this server");
    let mut stream = conn
        .start_dump_with(
            &DumpFrom::file_pos(first.clone(), 4),
            DumpOptions {
                annotate_rows: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = read_until(&mut stream, status.pos as u32).await;
    assert_eq!(stream.position(), (first.as_str(), status.pos));
    let expected: Vec<(u32, u32, u8)> = show_binlog_events(db, &first)
        .into_iter()
        .filter(|e| e.1 <= status.pos as u32)
        .map(|(p, e, t, _)| (p, e, t))
        .collect();
    assert_eq!(got, expected);
    // Our statements are all there, as row events.
    for t in [23, 24, 25] {
        assert!(got.iter().any(|e| e.2 == t), "no event of type {t}");
    }

    // Without annotate_rows, the same minus ANNOTATE_ROWS events, and a
    // start mid-file begins exactly there.
    let mid = expected
        .iter()
        .find(|e| e.2 == event_type::MARIADB_GTID)
        .unwrap()
        .0;
    let conn = Connection::connect(&config(db)).await.unwrap();
    let mut stream = conn
        .start_dump(&DumpFrom::file_pos(first.clone(), u64::from(mid)))
        .await
        .unwrap();
    let got = read_until(&mut stream, status.pos as u32).await;
    let skip_fde: Vec<_> = got
        .into_iter()
        .filter(|e| e.2 != event_type::FORMAT_DESCRIPTION)
        .collect();
    let expected: Vec<_> = expected
        .into_iter()
        .filter(|e| e.0 >= mid && e.2 != event_type::MARIADB_ANNOTATE_ROWS)
        .collect();
    assert_eq!(skip_fde, expected);
}

#[tokio::test]
async fn rows_written_while_streaming_arrive_with_valid_checksums() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE dump_live; CREATE TABLE dump_live.t (id INT PRIMARY KEY, v TEXT);");
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let from = conn.resolve_start(&StartPoint::Current).await.unwrap();
    let mut stream = conn.start_dump(&from).await.unwrap();
    let url = db.url();
    let writer = tokio::spawn(async move {
        let pool = mysql_async::Pool::new(url.as_str());
        let mut c = pool.get_conn().await.unwrap();
        for i in 0..20 {
            mysql_async::prelude::Queryable::query_drop(
                &mut c,
                format!("INSERT INTO dump_live.t VALUES ({i}, REPEAT('r', {i} * 100))"),
            )
            .await
            .unwrap();
        }
        drop(c);
        pool.disconnect().await.unwrap();
    });
    let mut maps = 0;
    let mut writes = 0;
    let mut last_end = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after_our_map = false;
    while writes < 20 && Instant::now() < deadline {
        let event = stream.next_event().await.unwrap().unwrap();
        let (h, event) = (event.header, event.bytes);
        assert!(crc_ok(&event), "CRC32 of event type {}", h.type_code);
        if h.type_code == 19 {
            after_our_map = event.windows(9).any(|w| w == b"dump_live");
            maps += usize::from(after_our_map);
        }
        if h.type_code == 23 && after_our_map {
            writes += 1;
            // The row's value is in the event: REPEAT('r', i * 100).
            let rs = event.iter().filter(|&&b| b == b'r').count();
            assert!(
                rs >= (writes - 1) * 100,
                "row {} carries its value",
                writes - 1
            );
        }
        if !h.is_artificial() {
            assert!(h.log_pos > last_end, "positions increase");
            last_end = h.log_pos;
        }
    }
    writer.await.unwrap();
    assert_eq!(maps, 20);
    assert_eq!(writes, 20);
}

/// The GTID event body starts with the sequence number (int<8>).
fn gtid_seq(event: &[u8]) -> u64 {
    u64::from_le_bytes(event[19..27].try_into().unwrap())
}

#[tokio::test]
async fn mariadb_gtid_dump_starts_after_the_given_gtid() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE dump_gtid; CREATE TABLE dump_gtid.t (id INT PRIMARY KEY);");
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let status = conn.master_status().await.unwrap();
    let gtid = status.gtid_set.clone().unwrap();
    let seq: u64 = gtid.rsplit('-').next().unwrap().parse().unwrap();
    db.sql("INSERT INTO dump_gtid.t VALUES (1); INSERT INTO dump_gtid.t VALUES (2);");
    let from = conn
        .resolve_start(&StartPoint::parse(&format!("gtid:{gtid}")).unwrap())
        .await
        .unwrap();
    assert_eq!(from.gtid_set.as_deref(), Some(gtid.as_str()));
    let mut stream = conn.start_dump(&from).await.unwrap();
    let mut first_gtid = None;
    let mut ours = 0;
    while ours < 2 {
        let event = stream.next_event().await.unwrap().unwrap();
        let (h, event) = (event.header, event.bytes);
        if h.type_code == event_type::MARIADB_GTID && first_gtid.is_none() {
            first_gtid = Some((gtid_seq(&event), h.start_pos().unwrap()));
        }
        if h.type_code == 19 && event.windows(9).any(|w| w == b"dump_gtid") {
            ours += 1;
        }
    }
    let (first_seq, first_pos) = first_gtid.unwrap();
    assert_eq!(first_seq, seq + 1);
    let listed = show_binlog_events(db, &status.file);
    let row = listed
        .iter()
        .find(|e| e.3.contains(&format!("GTID 0-1-{}", seq + 1)))
        .expect("GTID in SHOW BINLOG EVENTS");
    assert_eq!(row.0, first_pos);

    // A malformed GTID list is a configuration error before anything is sent.
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let e = conn
        .resolve_start(&StartPoint::Gtid("0-1".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, sluice::source::SourceError::Config(_)), "{e}");
}

#[tokio::test]
async fn heartbeats_arrive_on_an_idle_stream() {
    let Some(db) = MariaDb::shared() else { return };
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let from = conn.resolve_start(&StartPoint::Current).await.unwrap();
    let mut stream = conn.start_dump(&from).await.unwrap();
    assert_eq!(stream.dead_after(), Duration::from_secs(4));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut heartbeats = 0;
    while heartbeats < 3 {
        assert!(Instant::now() < deadline, "no heartbeats");
        // Each read is bounded by twice the heartbeat period: getting here
        // without a Timeout error means the server kept the stream alive.
        let event = stream.next_event().await.unwrap().unwrap();
        if event.header.type_code == event_type::HEARTBEAT {
            heartbeats += 1;
        }
    }
}

#[tokio::test]
async fn a_killed_connection_is_retryable_and_the_stream_resumes() {
    let Some(db) = MariaDb::shared() else { return };
    let cfg = config(db);
    let mut conn = Connection::connect(&cfg).await.unwrap();
    let from = conn.resolve_start(&StartPoint::Current).await.unwrap();
    let id = conn.server_info().connection_id;
    let mut stream = conn.start_dump(&from).await.unwrap();
    // Read the initial events so the dump thread is running.
    let first = stream.next_event().await.unwrap().unwrap();
    assert_eq!(first.header.type_code, event_type::ROTATE);
    db.sql(&format!("KILL {id}"));
    let e = loop {
        match stream.next_event().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended without an error"),
            Err(e) => break e,
        }
    };
    assert!(e.is_retryable(), "{e:?}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{}", db.port())),
        "{e}"
    );

    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    let mut stream = open_stream_with_retry(&cfg, &from, &mut backoff)
        .await
        .unwrap();
    db.sql("CREATE DATABASE IF NOT EXISTS dump_kill");
    loop {
        let event = stream.next_event().await.unwrap().unwrap();
        if event.header.type_code == event_type::QUERY
            && event.bytes.windows(9).any(|w| w == b"dump_kill")
        {
            break;
        }
    }
}
