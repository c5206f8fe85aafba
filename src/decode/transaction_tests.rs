//! Transaction grouping on synthetic event streams: every boundary rule
//! of the module docs, the live mode's positions and file names.

use super::*;
use crate::decode::event_type as et;

/// Builds a v4 event stream without checksums (MySQL 8.0 or MariaDB).
struct Stream {
    bytes: Vec<u8>,
    events: Vec<(u64, Vec<u8>)>,
}

impl Stream {
    fn new(server_version: &str) -> Stream {
        let mut s = Stream {
            bytes: Vec::new(),
            events: Vec::new(),
        };
        let mut body = 4u16.to_le_bytes().to_vec();
        let mut ver = server_version.as_bytes().to_vec();
        ver.resize(50, 0);
        body.extend_from_slice(&ver);
        body.extend_from_slice(&0u32.to_le_bytes());
        body.push(19);
        body.extend((1..=42u8).map(|t| FormatDescription::default().post_header_len(t)));
        body.push(0); // checksum off
        body.extend_from_slice(&[0; 4]);
        s.push(et::FORMAT_DESCRIPTION, &body);
        s
    }

    fn push(&mut self, type_code: u8, body: &[u8]) -> u64 {
        let start = 4 + self.bytes.len() as u64;
        let size = 19 + body.len() as u32;
        let mut ev = 1_700_000_000u32.to_le_bytes().to_vec();
        ev.push(type_code);
        ev.extend_from_slice(&7u32.to_le_bytes());
        ev.extend_from_slice(&size.to_le_bytes());
        ev.extend_from_slice(&(start as u32 + size).to_le_bytes());
        ev.extend_from_slice(&0u16.to_le_bytes());
        ev.extend_from_slice(body);
        self.bytes.extend_from_slice(&ev);
        self.events.push((start, ev));
        start
    }

    fn query(&mut self, schema: &str, sql: &str) -> u64 {
        let mut b = 1u32.to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(schema.len() as u8);
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(schema.as_bytes());
        b.push(0);
        b.extend_from_slice(sql.as_bytes());
        self.push(et::QUERY, &b)
    }

    fn xid(&mut self) -> u64 {
        self.push(et::XID, &9u64.to_le_bytes())
    }

    fn mysql_gtid(&mut self, gno: u64) -> u64 {
        let mut b = vec![1u8];
        b.extend_from_slice(&[0xAB; 16]);
        b.extend_from_slice(&gno.to_le_bytes());
        self.push(et::GTID, &b)
    }

    fn maria_gtid(&mut self, seq: u64, flags: u8) -> u64 {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(flags);
        b.extend_from_slice(&[0; 6]);
        self.push(et::MARIADB_GTID, &b)
    }

    fn end(&self) -> u64 {
        4 + self.bytes.len() as u64
    }

    /// Decode offline; returns records and warnings.
    fn decode(&self) -> (Vec<proto::Record>, Vec<String>) {
        let mut d = Decoder::new("f.000001");
        let mut out = Vec::new();
        for (off, ev) in &self.events {
            if let Some(r) = d.push_event(*off, ev).expect("event decodes") {
                out.push(r);
            }
            out.extend(std::iter::from_fn(|| d.next_ready()));
        }
        d.finish();
        out.extend(std::iter::from_fn(|| d.next_ready()));
        (out, d.take_warnings())
    }
}

fn texts(r: &proto::Record) -> Vec<String> {
    r.statements.iter().map(|s| s.text.clone()).collect()
}

#[test]
fn begin_commit_xid_rollback_and_ddl() {
    let mut s = Stream::new("8.0.30");
    let g1 = s.mysql_gtid(1);
    s.query("db", "BEGIN");
    s.query("db", "INSERT INTO t VALUES (1)");
    s.xid();
    let end1 = s.end();
    s.mysql_gtid(2);
    s.query("db", "BEGIN");
    s.query("db", "INSERT INTO t VALUES (2)");
    s.query("db", "ROLLBACK");
    let g3 = s.mysql_gtid(3);
    s.query("db", "CREATE TABLE x (a int)");
    let end3 = s.end();
    let (recs, warnings) = s.decode();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(recs.len(), 2);
    let p = recs[0].position.clone().unwrap();
    assert_eq!((p.start, p.next), (g1, end1));
    assert_eq!(recs[0].gtid, "abababab-abab-abab-abab-abababababab:1");
    assert_eq!(texts(&recs[0]), ["INSERT INTO t VALUES (1)"]);
    assert_eq!(recs[0].server_id, 7);
    assert_eq!(recs[0].commit_time_ms, 1_700_000_000_000);
    let p = recs[1].position.clone().unwrap();
    assert_eq!((p.start, p.next), (g3, end3));
    let ddl = recs[1].ddl.clone().unwrap();
    assert_eq!(
        (ddl.schema.as_str(), ddl.statement.as_str()),
        ("db", "CREATE TABLE x (a int)")
    );
}

#[test]
fn two_phase_xa_is_held_until_commit_and_dropped_on_rollback() {
    let mut s = Stream::new("8.0.30");
    s.mysql_gtid(1);
    s.query("db", "XA START X'31',X'',1");
    s.query("db", "INSERT INTO t VALUES (1)");
    s.query("db", "XA END X'31',X'',1");
    let mut prep = vec![0u8];
    prep.extend_from_slice(&1u32.to_le_bytes());
    prep.extend_from_slice(&1u32.to_le_bytes());
    prep.extend_from_slice(&0u32.to_le_bytes());
    prep.push(b'1');
    s.push(et::XA_PREPARE, &prep);
    s.mysql_gtid(2);
    s.query("db", "XA START X'32',X'',1");
    s.query("db", "INSERT INTO t VALUES (2)");
    s.query("db", "XA END X'32',X'',1");
    let mut prep2 = prep.clone();
    *prep2.last_mut().unwrap() = b'2';
    s.push(et::XA_PREPARE, &prep2);
    let g3 = s.mysql_gtid(3);
    s.query("db", "XA COMMIT X'31',X'',1");
    s.mysql_gtid(4);
    s.query("db", "XA ROLLBACK X'32',X'',1");
    let (recs, warnings) = s.decode();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(recs.len(), 1);
    assert_eq!(texts(&recs[0]), ["INSERT INTO t VALUES (1)"]);
    assert!(recs[0].gtid.ends_with(":3"));
    assert_eq!(recs[0].position.clone().unwrap().start, g3);
}

#[test]
fn mariadb_gtid_opens_the_group_and_standalone_marks_ddl() {
    let mut s = Stream::new("10.11.6-MariaDB-log");
    let g1 = s.maria_gtid(5, 0);
    s.query("db", "BEGIN");
    s.query("db", "UPDATE t SET a = 1");
    s.query("db", "COMMIT");
    let end1 = s.end();
    s.maria_gtid(6, mariadb_flags::STANDALONE);
    s.query("db", "DROP TABLE t /* generated by server */");
    s.maria_gtid(7, 0);
    s.query("db", "INSERT INTO u VALUES (1)");
    s.xid();
    let (recs, warnings) = s.decode();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].gtid, "0-7-5");
    let p = recs[0].position.clone().unwrap();
    assert_eq!((p.start, p.next), (g1, end1));
    assert_eq!(recs[1].gtid, "0-7-6");
    assert!(recs[1].ddl.is_some());
    assert_eq!(recs[2].gtid, "0-7-7");
    assert_eq!(texts(&recs[2]), ["INSERT INTO u VALUES (1)"]);
}

mod mariadb_flags {
    pub const STANDALONE: u8 = crate::decode::events::mariadb::FL_STANDALONE;
}

#[test]
fn autocommitted_statements_take_their_xid_or_stand_alone() {
    let mut s = Stream::new("5.0.91-log");
    let a = s.query("db", "INSERT INTO innodb_t VALUES (1)");
    s.xid();
    let end_a = s.end();
    let b = s.query("db", "INSERT INTO myisam_t VALUES (2)");
    let end_b = s.end();
    s.query("db", "INSERT INTO myisam_t VALUES (3)");
    let (recs, warnings) = s.decode();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(recs.len(), 3);
    let pos = |r: &proto::Record| {
        let p = r.position.clone().unwrap();
        (p.start, p.next)
    };
    assert_eq!(pos(&recs[0]), (a, end_a));
    assert_eq!(pos(&recs[1]), (b, end_b));
    assert_eq!(texts(&recs[2]), ["INSERT INTO myisam_t VALUES (3)"]);
}

#[test]
fn an_unfinished_transaction_is_dropped_with_a_warning() {
    let mut s = Stream::new("8.0.30");
    s.mysql_gtid(1);
    s.query("db", "BEGIN");
    s.query("db", "INSERT INTO t VALUES (1)");
    let (recs, warnings) = s.decode();
    assert!(recs.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("dropped uncommitted"), "{warnings:?}");
}

#[test]
fn live_mode_follows_rotate_and_header_positions() {
    let mut s = Stream::new("8.0.30");
    s.mysql_gtid(1);
    s.query("db", "BEGIN");
    s.query("db", "INSERT INTO t VALUES (1)");
    s.xid();
    let mut d = Decoder::live("", 4, ChecksumAlg::Off);
    // The server's artificial ROTATE names the file (log_pos 0).
    let mut rot = 4u64.to_le_bytes().to_vec();
    rot.extend_from_slice(b"binlog.000042");
    let mut ev = 0u32.to_le_bytes().to_vec();
    ev.push(et::ROTATE);
    ev.extend_from_slice(&7u32.to_le_bytes());
    ev.extend_from_slice(&(19 + rot.len() as u32).to_le_bytes());
    ev.extend_from_slice(&0u32.to_le_bytes());
    ev.extend_from_slice(&0x20u16.to_le_bytes());
    ev.extend_from_slice(&rot);
    let live = |d: &mut Decoder, ev: &[u8]| {
        let header = EventHeader::parse(ev, HEADER_LEN).unwrap();
        d.push_live(&header, ev).unwrap()
    };
    assert!(live(&mut d, &ev).is_none());
    assert_eq!(d.file(), "binlog.000042");
    let mut rec = None;
    for (_, ev) in &s.events {
        if let Some(r) = live(&mut d, ev) {
            rec = Some(r);
        }
    }
    let rec = rec.expect("a record");
    let p = rec.position.unwrap();
    assert_eq!(p.file, "binlog.000042");
    assert_eq!(p.start, s.events[1].0);
    assert_eq!(p.next, s.end());
    assert_eq!(d.gtid_state().last_gtid, rec.gtid);
}

#[test]
fn checksum_mismatch_names_file_and_offset() {
    let mut s = Stream::new("8.0.30");
    s.query("db", "CREATE TABLE x (a int)");
    let mut d = Decoder::new("c.000001");
    d.set_format_description(FormatDescription {
        checksum: ChecksumAlg::Crc32,
        ..FormatDescription::default()
    });
    let (off, ev) = &s.events[1];
    let mut ev = ev.clone();
    ev.extend_from_slice(&[0, 0, 0, 0]);
    let size = ev.len() as u32;
    ev[9..13].copy_from_slice(&size.to_le_bytes());
    let err = d.push_event(*off, &ev).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("c.000001 at byte {off}: checksum mismatch")),
        "{err}"
    );
}

#[test]
fn start_encryption_is_refused_clearly() {
    let mut s = Stream::new("10.11.6-MariaDB-log");
    let off = s.push(et::MARIADB_START_ENCRYPTION, &[1, 0, 0, 0, 0]);
    let mut d = Decoder::new("e.000001");
    d.push_event(s.events[0].0, &s.events[0].1).unwrap();
    let err = d.push_event(off, &s.events[1].1).unwrap_err().to_string();
    assert!(err.contains("encrypted binlog is not supported"), "{err}");
    assert!(err.starts_with(&format!("e.000001 at byte {off}")), "{err}");
}

#[test]
fn mariadb_compressed_query_is_inflated() {
    use std::io::Write;
    let sql = "CREATE TABLE compressed_one (a int, b varchar(200))";
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(sql.as_bytes()).unwrap();
    let mut packed = vec![0x81, sql.len() as u8];
    packed.extend_from_slice(&z.finish().unwrap());
    let mut s = Stream::new("10.11.6-MariaDB-log");
    let mut b = 1u32.to_le_bytes().to_vec();
    b.extend_from_slice(&0u32.to_le_bytes());
    b.push(2);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"db\0");
    b.extend_from_slice(&packed);
    s.maria_gtid(1, mariadb_flags::STANDALONE);
    s.push(et::MARIADB_QUERY_COMPRESSED, &b);
    let (recs, _) = s.decode();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].ddl.clone().unwrap().statement, sql);
}

impl Stream {
    /// TABLE_MAP of `db`.`t` (one INT column) under table id `id`.
    fn table_map(&mut self, id: u8) -> u64 {
        let mut b = vec![id, 0, 0, 0, 0, 0, 1, 0];
        b.extend_from_slice(&[2, b'd', b'b', 0, 1, b't', 0]);
        b.extend_from_slice(&[1, 3, 0, 0]); // 1 column, LONG, no metadata, not nullable
        self.push(et::TABLE_MAP, &b)
    }

    /// WRITE_ROWS v2 of table id `id` holding the INT values `values`.
    fn write_rows(&mut self, id: u8, values: &[u32]) -> u64 {
        let mut b = vec![id, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 1];
        for v in values {
            b.push(0);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.push(et::WRITE_ROWS, &b)
    }
}

fn ints(change: &proto::TableChange) -> Vec<i64> {
    change
        .rows
        .iter()
        .map(|r| match r.after.as_ref().map(|i| &i.values[0].kind) {
            Some(Some(proto::value::Kind::Int(v))) => *v,
            other => panic!("not an INT: {other:?}"),
        })
        .collect()
}

#[test]
fn consecutive_rows_events_of_one_table_make_one_change() {
    let mut s = Stream::new("8.0.36");
    s.query("db", "BEGIN");
    s.table_map(5);
    s.write_rows(5, &[1, 2]);
    s.write_rows(5, &[3]);
    // The server repeats the TABLE_MAP for the next statement.
    s.table_map(5);
    s.write_rows(5, &[4]);
    s.xid();
    s.query("db", "BEGIN");
    s.table_map(5);
    s.write_rows(5, &[5]);
    s.xid();
    let (records, warnings) = s.decode();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].changes.len(), 1);
    assert_eq!(ints(&records[0].changes[0]), [1, 2, 3, 4]);
    assert_eq!(ints(&records[1].changes[0]), [5]);
}

#[test]
fn a_rows_event_needs_a_table_map_of_its_own_group() {
    let mut s = Stream::new("8.0.36");
    s.query("db", "BEGIN");
    s.table_map(5);
    s.write_rows(5, &[1]);
    s.xid();
    s.query("db", "BEGIN");
    s.write_rows(5, &[2]);
    let mut d = Decoder::new("f.000001");
    let mut result = Ok(None);
    for (off, ev) in &s.events {
        result = d.push_event(*off, ev);
        if result.is_err() {
            break;
        }
    }
    let err = result.expect_err("the second group has no TABLE_MAP");
    assert!(err.to_string().contains("table"), "{err}");
}

#[test]
fn open_changes_can_be_taken_ahead_of_the_commit() {
    let mut s = Stream::new("8.0.36");
    s.query("db", "BEGIN");
    s.table_map(5);
    let take_after = s.write_rows(5, &[1, 2]);
    s.write_rows(5, &[3]);
    s.xid();
    let mut d = Decoder::new("f.000001");
    let mut taken = Vec::new();
    let mut records = Vec::new();
    for (off, ev) in &s.events {
        records.extend(d.push_event(*off, ev).expect("event decodes"));
        if *off == take_after {
            assert_eq!(d.open_rows_bytes(), ev.len() - 19);
            assert_eq!(d.open_start(), Some(s.events[1].0));
            taken = d.take_open_changes().expect("changes to take");
            assert_eq!(d.open_rows_bytes(), 0);
        }
    }
    assert_eq!(taken.len(), 1);
    assert_eq!(ints(&taken[0]), [1, 2]);
    assert_eq!(records.len(), 1);
    assert_eq!(ints(&records[0].changes[0]), [3]);
    assert_eq!(
        records[0].position.as_ref().map(|p| p.start),
        Some(s.events[1].0)
    );
}

#[test]
fn open_changes_stay_while_the_transaction_holds_a_ddl() {
    // CREATE TABLE ... SELECT: the DDL, then the rows, in one group.
    let mut s = Stream::new("8.0.36");
    s.query("db", "BEGIN");
    s.query("db", "CREATE TABLE t (a INT) SELECT 1 AS a");
    s.table_map(5);
    s.write_rows(5, &[1]);
    s.xid();
    let mut d = Decoder::new("f.000001");
    let mut records = Vec::new();
    for (off, ev) in &s.events[..s.events.len() - 1] {
        records.extend(d.push_event(*off, ev).expect("event decodes"));
    }
    assert!(d.open_rows_bytes() > 0);
    assert!(d.take_open_changes().is_none());
    let (off, ev) = &s.events[s.events.len() - 1];
    records.extend(d.push_event(*off, ev).expect("XID decodes"));
    assert_eq!(records.len(), 1);
    assert!(records[0].ddl.is_some());
    assert_eq!(ints(&records[0].changes[0]), [1]);
}
