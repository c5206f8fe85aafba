//! Every column type family, decoded from a real MariaDB binlog, equals
//! what `SELECT` returns for the same rows: edge values of each integer
//! width, DECIMAL(65,30), DATETIME(6) bounds, zero dates, negative TIME
//! with fractions, TIMESTAMP written under non-UTC session time zones
//! (across a DST change), utf8mb4 emoji, latin1 and gbk text, binary with
//! zero bytes, BIT(64), ENUM/SET, YEAR, GEOMETRY, JSON, NULLs. Inserts,
//! updates and deletes, under binlog_row_metadata NO_LOG (MariaDB's
//! default), MINIMAL and FULL and binlog_row_image FULL and MINIMAL.
//!
//! Each binlog is decoded twice: by the decoder alone (FULL and MINIMAL
//! metadata: what the TABLE_MAP says), and as capture does it, through the
//! `Decoder` and the schema history (`SchemaHistory::process_record`, the
//! history built from the binlog's own DDL), which must give every value
//! exactly under every metadata setting: unsigned integers, ENUM/SET
//! names, text in its charset, padded BINARY.

mod common;

use std::collections::HashMap;
use std::fmt::Write;

use common::walker;
use sluice::decode::table_map::TableMap;
use sluice::decode::{decode_file, rows, BinlogFile, Decoder, Item};
use sluice::proto;
use sluice::proto::value::Kind;
use sluice::schema::{Dialect, SchemaHistory};
use sluice_testkit::{MariaDb, MariaDbOptions};

/// How a column is compared: the SQL expression that renders it, and how
/// the decoded value is rendered to the same text.
#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    /// CAST(col AS CHAR): integers, DECIMAL, DATE/TIME/DATETIME.
    Exact,
    /// Floating point: both sides parsed as f64.
    Float,
    /// HEX of the text in utf8mb4.
    Text,
    /// HEX of the raw bytes.
    Binary,
    /// UNIX_TIMESTAMP(col).
    Timestamp,
    /// col + 0: BIT, YEAR.
    Number,
    Enum,
    Set,
    Geometry,
}

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, &'static str, Cmp)],
    rows: &'static [&'static str],
}

const TABLES: &[Table] = &[
    Table {
        name: "ints",
        columns: &[
            ("ti", "TINYINT", Cmp::Exact),
            ("tu", "TINYINT UNSIGNED", Cmp::Exact),
            ("si", "SMALLINT", Cmp::Exact),
            ("su", "SMALLINT UNSIGNED", Cmp::Exact),
            ("mi", "MEDIUMINT", Cmp::Exact),
            ("mu", "MEDIUMINT UNSIGNED", Cmp::Exact),
            ("ii", "INT", Cmp::Exact),
            ("iu", "INT UNSIGNED", Cmp::Exact),
            ("bi", "BIGINT", Cmp::Exact),
            ("bu", "BIGINT UNSIGNED", Cmp::Exact),
        ],
        rows: &[
            "-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0",
            "127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615",
            "0,1,-1,2,-1,3,-1,4,-1,5",
            "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
        ],
    },
    Table {
        name: "nums",
        columns: &[
            ("f", "FLOAT", Cmp::Float),
            ("d", "DOUBLE", Cmp::Float),
            ("d65", "DECIMAL(65,30)", Cmp::Exact),
            ("d10", "DECIMAL(10,4) UNSIGNED", Cmp::Exact),
            ("d5", "DECIMAL(5,0)", Cmp::Exact),
            ("b64", "BIT(64)", Cmp::Number),
            ("b1", "BIT(1)", Cmp::Number),
            ("b5", "BIT(5)", Cmp::Number),
            ("y", "YEAR", Cmp::Number),
        ],
        rows: &[
            "3.4028234e38,1.7976931348623157e308,'99999999999999999999999999999999999.999999999999999999999999999999',999999.9999,99999,b'1111111111111111111111111111111111111111111111111111111111111111',b'1',b'11111',2155",
            "-1.5,-2.2250738585072014e-308,'-99999999999999999999999999999999999.999999999999999999999999999999',0,-99999,b'1000000000000000000000000000000000000000000000000000000000000001',b'0',b'10101',1901",
            "0.125,0.1,'-0.000000000000000000000000000001',0.0001,-1,0,0,0,0",
            "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
        ],
    },
    Table {
        name: "times",
        columns: &[
            ("da", "DATE", Cmp::Exact),
            ("t0", "TIME", Cmp::Exact),
            ("t1", "TIME(1)", Cmp::Exact),
            ("t3", "TIME(3)", Cmp::Exact),
            ("t6", "TIME(6)", Cmp::Exact),
            ("dt0", "DATETIME", Cmp::Exact),
            ("dt2", "DATETIME(2)", Cmp::Exact),
            ("dt6", "DATETIME(6)", Cmp::Exact),
            ("ts0", "TIMESTAMP NULL", Cmp::Timestamp),
            ("ts3", "TIMESTAMP(3) NULL", Cmp::Timestamp),
            ("ts6", "TIMESTAMP(6) NULL", Cmp::Timestamp),
        ],
        rows: &[
            "'1000-01-01','-838:59:59','-00:00:01.5','-12:34:56.789','-00:00:00.000001','1000-01-01 00:00:00','1000-01-01 00:00:00.01','1000-01-01 00:00:00.000000','1970-01-01 05:30:01','1970-01-01 05:30:01.001','1970-01-01 05:30:01.000001'",
            "'9999-12-31','838:59:59','838:59:59.9','12:34:56.789','838:59:59.000000','9999-12-31 23:59:59','9999-12-31 23:59:59.99','9999-12-31 23:59:59.999999','2038-01-19 08:44:07','2038-01-19 08:44:07.999','2038-01-19 08:44:07.999999'",
            "'0000-00-00','00:00:00','-01:00:00.1','00:00:00.000','-00:00:59.999999','0000-00-00 00:00:00','0000-00-00 00:00:00.00','0000-00-00 00:00:00.000000','0000-00-00 00:00:00','2021-11-07 06:30:00.5','2021-03-14 07:59:59.999999'",
            "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
        ],
    },
    Table {
        name: "strs",
        columns: &[
            ("c", "CHAR(10) CHARACTER SET utf8mb4", Cmp::Text),
            ("c255", "CHAR(255) CHARACTER SET utf8mb4", Cmp::Text),
            ("v", "VARCHAR(300) CHARACTER SET utf8mb4", Cmp::Text),
            ("vl", "VARCHAR(20) CHARACTER SET latin1", Cmp::Text),
            ("vg", "VARCHAR(20) CHARACTER SET gbk", Cmp::Text),
            ("va", "VARCHAR(20) CHARACTER SET ascii", Cmp::Text),
            ("v3", "VARCHAR(20) CHARACTER SET utf8mb3", Cmp::Text),
            ("bn", "BINARY(4)", Cmp::Binary),
            ("vb", "VARBINARY(10)", Cmp::Binary),
            ("tx", "TEXT CHARACTER SET utf8mb4", Cmp::Text),
            ("bl", "BLOB", Cmp::Binary),
            ("mb", "MEDIUMBLOB", Cmp::Binary),
            ("lt", "LONGTEXT CHARACTER SET latin1", Cmp::Text),
            ("j", "JSON", Cmp::Text),
        ],
        rows: &[
            "'a😀','x','ünïcødé 😀 ok','café €','中文','plain','naïve',x'00ff0001',x'0000',  'emoji 😀😀','\\0\\0\\0',x'000102',REPEAT('é',3000),'{\"a\": [1, {\"b\": null}], \"c\": \"ç\"}'",
            "'','','','','','','',x'01',x'',  '','','','','[]'",
            "'padded  ',REPEAT('é',255),REPEAT('x',300),'Ÿÿ','龍','~','€',x'000000ff',x'ff00ff', REPEAT('long text ',1000),REPEAT(x'00ff',40000),x'ff','x','{\"deep\":{\"deeper\":{\"deepest\":[true,false,null,1.5e10]}}}'",
            "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
        ],
    },
    Table {
        name: "enums",
        columns: &[
            ("e", "ENUM('a','b','ç')", Cmp::Enum),
            ("s", "SET('x','y','z')", Cmp::Set),
            ("e2", "ENUM('one','two') CHARACTER SET latin1", Cmp::Enum),
        ],
        rows: &["'a','x,z','two'", "'ç','','one'", "'b','x,y,z','two'", "NULL,NULL,NULL"],
    },
    Table {
        name: "geo",
        columns: &[
            ("g", "GEOMETRY", Cmp::Geometry),
            ("p", "POINT", Cmp::Geometry),
        ],
        rows: &[
            "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4326),ST_GeomFromText('POINT(1 2)', 4326)",
            "ST_GeomFromText('LINESTRING(0 0,1.5 2.5)'),ST_GeomFromText('POINT(-1 -2)')",
            "ST_GeomFromText('MULTIPOINT(1 1,2 2)', 3857),ST_GeomFromText('POINT(0 0)', 3857)",
            "NULL,NULL",
        ],
    },
];

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

fn sql_expr(col: &str, cmp: Cmp, full_meta: bool) -> String {
    match cmp {
        Cmp::Exact => format!("CAST(`{col}` AS CHAR)"),
        Cmp::Float => format!("CAST(`{col}` AS DOUBLE)"),
        Cmp::Text => format!("HEX(CONVERT(`{col}` USING utf8mb4))"),
        Cmp::Binary => format!("HEX(`{col}`)"),
        Cmp::Timestamp => format!("UNIX_TIMESTAMP(`{col}`)"),
        Cmp::Number => format!("`{col}` + 0"),
        Cmp::Enum | Cmp::Set if full_meta => format!("HEX(CONVERT(`{col}` USING utf8mb4))"),
        Cmp::Enum | Cmp::Set => format!("`{col}` + 0"),
        Cmp::Geometry => format!("CONCAT(ST_SRID(`{col}`), ':', HEX(ST_AsBinary(`{col}`)))"),
    }
}

/// The decoded value in the form `sql_expr` gives; `None` when absent.
fn render(v: &proto::Value, full_meta: bool) -> Option<String> {
    let k = v.kind.as_ref().expect("value without kind");
    Some(match k {
        Kind::Absent(_) => return None,
        Kind::Null(_) => "NULL".into(),
        Kind::Int(i) => i.to_string(),
        Kind::Uint(u) => u.to_string(),
        Kind::Float(f) => format!("{:?}", f64::from(*f)),
        Kind::Double(d) => format!("{d:?}"),
        Kind::Decimal(s) | Kind::Date(s) | Kind::Time(s) | Kind::Datetime(s) => s.clone(),
        Kind::Timestamp(t) => {
            let mut s = t.seconds.to_string();
            if t.fsp > 0 {
                let f = format!("{:06}", t.micros);
                s.push('.');
                s.push_str(&f[..t.fsp as usize]);
            }
            s
        }
        Kind::Text(s) | Kind::Json(s) => hex(s.as_bytes()),
        Kind::Bytes(b) => hex(b),
        Kind::Bit(b) => b.bits.to_string(),
        Kind::Year(y) => y.to_string(),
        Kind::Enum(e) if full_meta => hex(e.name.as_deref().unwrap_or_default().as_bytes()),
        Kind::Enum(e) => e.index.to_string(),
        Kind::Set(s) if full_meta => hex(s.names.join(",").as_bytes()),
        Kind::Set(s) => s.bits.to_string(),
        Kind::Geometry(g) => format!("{}:{}", g.srid, hex(&g.wkb)),
        other => format!("{other:?}"),
    })
}

fn normalize(s: &str, cmp: Cmp) -> String {
    if cmp == Cmp::Float && s != "NULL" {
        let v: f64 = s.parse().unwrap_or_else(|_| panic!("float text {s:?}"));
        return format!("{v:?}");
    }
    s.to_string()
}

/// SELECT every row of a table, rendered, by id.
fn snapshot(db: &MariaDb, t: &Table, full_meta: bool) -> HashMap<i64, Vec<String>> {
    let exprs: Vec<String> = t
        .columns
        .iter()
        .map(|(n, _, c)| sql_expr(n, *c, full_meta))
        .collect();
    let out = db.sql(&format!(
        "SET time_zone = '+00:00'; SELECT id, {} FROM dt.{} ORDER BY id",
        exprs.join(", "),
        t.name
    ));
    out.lines()
        .map(|l| {
            let mut f = l.split('\t');
            let id: i64 = f.next().unwrap().parse().unwrap();
            let vals = f
                .zip(t.columns)
                .map(|(v, (_, _, c))| normalize(v, *c))
                .collect();
            (id, vals)
        })
        .collect()
}

struct Change {
    table: String,
    kind: proto::ChangeKind,
    row: proto::Row,
}

fn decode_binlogs(db: &MariaDb) -> Vec<Change> {
    let mut out = Vec::new();
    for f in db.binlog_files() {
        let data = std::fs::read(&f).expect("read binlog");
        if let Ok(dir) = std::env::var("SLUICE_KEEP_BINLOGS") {
            let _ = std::fs::copy(&f, std::path::Path::new(&dir).join(f.file_name().unwrap()));
        }
        let mut maps: HashMap<u64, TableMap> = HashMap::new();
        walker::walk(&data, |ev, fmt| {
            if ev.type_code == 19 {
                let t = TableMap::parse(ev.body, fmt.table_id_size())
                    .unwrap_or_else(|e| panic!("TABLE_MAP at {}: {e}", ev.offset));
                maps.insert(t.table_id, t);
            } else if sluice::decode::event_type::is_rows(ev.type_code) {
                let phl = fmt.post_header_len(ev.type_code);
                let id = rows::table_id(ev.body, 6).unwrap();
                let t = &maps[&id];
                let ch = rows::decode_rows(ev.type_code, ev.body, phl, t)
                    .unwrap_or_else(|e| panic!("rows event at {} of {}: {e}", ev.offset, t.table));
                for row in ch.rows {
                    out.push(Change {
                        table: ch.table.clone(),
                        kind: proto::ChangeKind::try_from(ch.kind).unwrap(),
                        row,
                    });
                }
            }
        })
        .unwrap_or_else(|e| panic!("walking {}: {e}", f.display()));
    }
    out
}

/// The binlogs decoded as capture decodes them: the `Decoder`, then the
/// schema history (built from the binlog's DDL) naming the columns and
/// making the values exact.
fn decode_with_history(db: &MariaDb) -> Vec<Change> {
    let version = db.sql("SELECT VERSION()");
    let mut history = SchemaHistory::new(Dialect::from_server_version(version.trim(), "utf8mb4"));
    let mut decoder = Decoder::new("");
    let mut out = Vec::new();
    for f in db.binlog_files() {
        let file = BinlogFile::open(&f).expect("open binlog");
        decode_file(&file, &mut decoder, |item| {
            match item {
                Item::Record(mut r) => {
                    history
                        .process_record(&mut r, None)
                        .expect("no catalog, no catalog error");
                    for ch in r.changes {
                        if TABLES.iter().any(|t| t.name == ch.table) {
                            assert!(ch.names_known, "{}: columns not named", ch.table);
                        }
                        for row in ch.rows {
                            out.push(Change {
                                table: ch.table.clone(),
                                kind: proto::ChangeKind::try_from(ch.kind).unwrap(),
                                row,
                            });
                        }
                    }
                }
                Item::Error(e) => panic!("{}: {e}", f.display()),
                Item::Warning(_) => {}
            }
            Ok::<(), ()>(())
        })
        .expect("decode");
    }
    out
}

fn load_new_york(db: &MariaDb) -> bool {
    let Ok(out) = std::process::Command::new("mariadb-tzinfo-to-sql")
        .args(["/usr/share/zoneinfo/America/New_York", "America/New_York"])
        .output()
    else {
        return false;
    };
    out.status.success()
        && db
            .try_sql(&format!(
                "SET sql_log_bin = 0; USE mysql; {}",
                String::from_utf8_lossy(&out.stdout)
            ))
            .is_ok()
}

/// One private server at a time from this binary: four concurrent
/// `mariadb-install-db` runs on a loaded machine have failed spuriously.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(row_metadata: &str, row_image: &str) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let options = MariaDbOptions {
        row_metadata: Some(row_metadata.into()),
        row_image: Some(row_image.into()),
        max_allowed_packet: Some("64M".into()),
        ..Default::default()
    };
    // `mariadb-install-db` has failed spuriously on the shared, loaded
    // machine; try a second time before giving up.
    let started = std::panic::catch_unwind(|| MariaDb::start(options.clone()))
        .or_else(|_| std::panic::catch_unwind(|| MariaDb::start(options.clone())));
    let Some(db) = started.unwrap_or_else(|_| panic!("private MariaDB failed to start twice"))
    else {
        return;
    };
    let minimal_image = row_image == "MINIMAL";
    let new_york = load_new_york(&db);
    let mut setup = String::from(
        "SET SESSION sql_mode = ''; CREATE DATABASE dt CHARACTER SET utf8mb4; USE dt;",
    );
    for t in TABLES {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(n, ty, _)| format!("`{n}` {ty}"))
            .collect();
        let _ = write!(
            setup,
            "CREATE TABLE {} (id INT PRIMARY KEY, {});",
            t.name,
            cols.join(", ")
        );
    }
    db.sql(&setup);
    // Inserts: TIMESTAMPs are written under +05:30 (and, where the zone
    // tables load, one row under America/New_York on a DST change).
    for t in TABLES {
        let mut sql = String::from("SET SESSION sql_mode = ''; SET time_zone = '+05:30'; USE dt;");
        for (i, r) in t.rows.iter().enumerate() {
            let _ = write!(sql, "INSERT INTO {} VALUES ({}, {r});", t.name, i + 1);
        }
        db.sql(&sql);
    }
    if new_york {
        db.sql(
            "SET time_zone = 'America/New_York'; INSERT INTO dt.times (id, ts0, ts3, ts6) VALUES \
             (10, '2021-11-07 01:30:00', '2021-11-07 01:59:59.999', '2021-03-14 01:59:59.999999'), \
             (11, '2021-11-07 03:00:00', '2021-03-14 03:00:00.001', '2021-11-07 00:59:59.5')",
        );
    }
    // Expected values with ENUM/SET as names (what the binlog gives with
    // FULL metadata, and what the schema history gives always) and as
    // index/bitmask (the decoder alone without FULL metadata).
    let after_insert: Vec<_> = TABLES.iter().map(|t| snapshot(&db, t, true)).collect();
    let after_insert_raw: Vec<_> = TABLES.iter().map(|t| snapshot(&db, t, false)).collect();
    // Updates: every row takes the values of the next one (all columns
    // change), then every even row is deleted.
    for t in TABLES {
        let sets: Vec<String> = t
            .columns
            .iter()
            .map(|(n, _, _)| format!("a.`{n}` = b.`{n}`"))
            .collect();
        let n = t.rows.len();
        db.sql(&format!(
            "SET SESSION sql_mode = ''; USE dt; CREATE TABLE next_{0} AS SELECT * FROM {0}; \
             UPDATE {0} a JOIN next_{0} b ON b.id = a.id % {n} + 1 SET {1} WHERE a.id <= {n}; \
             DELETE FROM {0} WHERE id % 2 = 0;",
            t.name,
            sets.join(", ")
        ));
    }
    let predict = |before: &[HashMap<i64, Vec<String>>], named: bool| -> Vec<_> {
        TABLES
            .iter()
            .map(|t| {
                // The deleted rows as they were just before the DELETE: the
                // update moved row id%n+1 into id.
                let a = &before[TABLES.iter().position(|x| x.name == t.name).unwrap()];
                let n = t.rows.len() as i64;
                let mut m: HashMap<i64, Vec<String>> = a
                    .keys()
                    .map(|id| {
                        let src = if *id <= n { id % n + 1 } else { *id };
                        (*id, a[&src].clone())
                    })
                    .collect();
                // Rows left after the DELETE must equal SELECT.
                for (id, v) in snapshot(&db, t, named) {
                    assert_eq!(
                        m.get(&id),
                        Some(&v),
                        "{}: predicted state of row {id}",
                        t.name
                    );
                    m.insert(id, v);
                }
                m
            })
            .collect()
    };
    let after_update = predict(&after_insert, true);
    let after_update_raw = predict(&after_insert_raw, false);
    let what = format!("{row_metadata}/{row_image}");
    let ctx = Expect {
        minimal_image,
        new_york,
    };
    if row_metadata != "NO_LOG" {
        // The decoder alone: names only from FULL metadata.
        let full_meta = row_metadata == "FULL";
        let (ins, upd) = if full_meta {
            (&after_insert, &after_update)
        } else {
            (&after_insert_raw, &after_update_raw)
        };
        let checked = compare(&decode_binlogs(&db), ins, upd, full_meta, &ctx);
        eprintln!("{what}, decoder alone: {checked} values compared with SELECT");
        assert!(checked > 200);
    }
    let checked = compare(
        &decode_with_history(&db),
        &after_insert,
        &after_update,
        true,
        &ctx,
    );
    eprintln!("{what}, with the schema history: {checked} values compared with SELECT");
    assert!(checked > 200);
}

struct Expect {
    minimal_image: bool,
    new_york: bool,
}

/// Compares every decoded value with the server's; returns how many.
fn compare(
    changes: &[Change],
    after_insert: &[HashMap<i64, Vec<String>>],
    after_update: &[HashMap<i64, Vec<String>>],
    full_meta: bool,
    ctx: &Expect,
) -> usize {
    let (minimal_image, new_york) = (ctx.minimal_image, ctx.new_york);
    let mut checked = 0usize;
    for (ti, t) in TABLES.iter().enumerate() {
        let cmps: Vec<Cmp> = t.columns.iter().map(|c| c.2).collect();
        let check =
            |img: &proto::Image, want: &HashMap<i64, Vec<String>>, id: i64, what: &str| -> usize {
                assert_eq!(img.values.len(), cmps.len() + 1, "{}: image width", t.name);
                let expected = want
                    .get(&id)
                    .unwrap_or_else(|| panic!("{}: no row {id}", t.name));
                let mut n = 0;
                for (k, want) in expected.iter().enumerate() {
                    match render(&img.values[k + 1], full_meta) {
                        Some(got) => {
                            assert_eq!(
                                &got,
                                want,
                                "{} {what} row {id} column {} ({}): decoded {:?}",
                                t.name,
                                t.columns[k].0,
                                t.columns[k].1,
                                img.values[k + 1]
                            );
                            n += 1;
                        }
                        None => assert!(minimal_image, "{}: absent value under FULL image", t.name),
                    }
                }
                n
            };
        let id_of = |img: &proto::Image| match img.values[0].kind {
            Some(Kind::Int(i)) => i,
            ref other => panic!("{}: id is {other:?}", t.name),
        };
        let mine: Vec<&Change> = changes.iter().filter(|c| c.table == t.name).collect();
        let (mut ins, mut upd, mut del) = (0, 0, 0);
        for c in mine {
            match c.kind {
                proto::ChangeKind::Insert => {
                    let a = c.row.after.as_ref().unwrap();
                    checked += check(a, &after_insert[ti], id_of(a), "insert");
                    ins += 1;
                }
                proto::ChangeKind::Update => {
                    let b = c.row.before.as_ref().unwrap();
                    let id = id_of(b);
                    checked += check(b, &after_insert[ti], id, "update before");
                    checked += check(
                        c.row.after.as_ref().unwrap(),
                        &after_update[ti],
                        id,
                        "update after",
                    );
                    upd += 1;
                }
                proto::ChangeKind::Delete => {
                    let b = c.row.before.as_ref().unwrap();
                    checked += check(b, &after_update[ti], id_of(b), "delete");
                    del += 1;
                }
                _ => unreachable!(),
            }
        }
        let extra = if t.name == "times" && new_york { 2 } else { 0 };
        assert_eq!(ins, t.rows.len() + extra, "{}: inserts decoded", t.name);
        assert_eq!(upd, t.rows.len(), "{}: updates decoded", t.name);
        assert_eq!(
            del,
            (t.rows.len() + extra) / 2,
            "{}: deletes decoded",
            t.name
        );
    }
    checked
}

#[test]
fn default_metadata_full_image() {
    run("NO_LOG", "FULL");
}

#[test]
fn default_metadata_minimal_image() {
    run("NO_LOG", "MINIMAL");
}

#[test]
fn full_metadata_full_image() {
    run("FULL", "FULL");
}

#[test]
fn minimal_metadata_full_image() {
    run("MINIMAL", "FULL");
}

#[test]
fn full_metadata_minimal_image() {
    run("FULL", "MINIMAL");
}

#[test]
fn minimal_metadata_minimal_image() {
    run("MINIMAL", "MINIMAL");
}

/// MariaDB's `log_bin_compress`: rows events 166-171 (zlib) decode to the
/// same rows as SELECT shows.
#[test]
fn mariadb_compressed_rows_events() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(db) = MariaDb::start(MariaDbOptions {
        row_metadata: Some("FULL".into()),
        extra_args: vec![
            "--log-bin-compress=ON".into(),
            "--log-bin-compress-min-len=10".into(),
        ],
        ..Default::default()
    }) else {
        return;
    };
    db.sql(
        "CREATE DATABASE c; USE c; CREATE TABLE c.t (id INT PRIMARY KEY, v VARCHAR(300));
         INSERT INTO c.t SELECT seq, CONCAT(REPEAT('zip', seq % 50), seq) FROM seq_1_to_200;
         UPDATE c.t SET v = CONCAT('u', v) WHERE id <= 100;
         DELETE FROM c.t WHERE id > 150;",
    );
    let mut compressed = 0;
    let mut inserted = HashMap::new();
    let mut updated = HashMap::new();
    let mut deleted = 0;
    for f in db.binlog_files() {
        let data = std::fs::read(&f).unwrap();
        let mut maps: HashMap<u64, TableMap> = HashMap::new();
        walker::walk(&data, |ev, fmt| {
            if ev.type_code == 19 {
                let t = TableMap::parse(ev.body, 6).unwrap();
                maps.insert(t.table_id, t);
            } else if sluice::decode::event_type::is_rows(ev.type_code) {
                compressed += usize::from((166..=171).contains(&ev.type_code));
                let t = &maps[&rows::table_id(ev.body, 6).unwrap()];
                let phl = fmt.post_header_len(ev.type_code);
                let ch = rows::decode_rows(ev.type_code, ev.body, phl, t).unwrap();
                for r in ch.rows {
                    let id_text =
                        |img: &proto::Image| match (&img.values[0].kind, &img.values[1].kind) {
                            (Some(Kind::Int(i)), Some(Kind::Text(s))) => (*i, s.clone()),
                            other => panic!("unexpected {other:?}"),
                        };
                    match (&r.before, &r.after) {
                        (None, Some(a)) => {
                            let (i, s) = id_text(a);
                            inserted.insert(i, s);
                        }
                        (Some(_), Some(a)) => {
                            let (i, s) = id_text(a);
                            updated.insert(i, s);
                        }
                        _ => deleted += 1,
                    }
                }
            }
        })
        .unwrap();
    }
    assert!(compressed > 0, "no compressed rows events were written");
    assert_eq!((inserted.len(), updated.len(), deleted), (200, 100, 50));
    for line in db.sql("SELECT id, v FROM c.t").lines() {
        let (id, v) = line.split_once('\t').unwrap();
        let id: i64 = id.parse().unwrap();
        assert_eq!(
            updated.get(&id).or(inserted.get(&id)),
            Some(&v.to_string()),
            "row {id}"
        );
    }
}
