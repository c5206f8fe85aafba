//! Value fidelity under MariaDB's default settings
//! (`binlog_row_metadata=NO_LOG`): `sluice run` captures edge values of
//! every column type into its log, and every captured value, in the json,
//! canal-json and debezium-json outputs of `sluice tail` and in the Canal
//! TCP server's entries, equals what the
//! server's own `SELECT` (`CAST`, `HEX`, `ST_AsBinary`) returns for the
//! row. Then again after live DDL that changes signedness, charsets, ENUM
//! members and column order (`MODIFY`, `CHANGE`, `ADD … FIRST/AFTER`,
//! `RENAME TABLE`): each row is compared with the server's view of it
//! right after it was written.

mod capture_support;

use capture_support::{server_id, sluice, Runner};
use serde_json::Value as Json;
use sluice_testkit::MariaDb;
use std::collections::HashMap;
use std::fmt::Write as _;

/// How a column is compared.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Class {
    /// Integers and DECIMAL: `CAST(c AS CHAR)`, every digit.
    Number,
    /// Character data: the UTF-8 bytes of the text, `HEX(CONVERT(c USING utf8mb4))`.
    Text,
    /// Binary strings: `HEX(c)`.
    Bytes,
    Enum,
    Set,
    /// BIT and YEAR: `c + 0`.
    Bits,
    /// DATE, TIME, DATETIME as the server prints them.
    Temporal,
    /// SRID and WKB from the server's `ST_AsBinary`.
    Geometry,
}

use Class::*;

/// Columns of the edge-value table: (name, type, class).
const COLUMNS: &[(&str, &str, Class)] = &[
    ("ti", "TINYINT", Number),
    ("tu", "TINYINT UNSIGNED", Number),
    ("si", "SMALLINT", Number),
    ("su", "SMALLINT UNSIGNED", Number),
    ("mi", "MEDIUMINT", Number),
    ("mu", "MEDIUMINT UNSIGNED", Number),
    ("ii", "INT", Number),
    ("iu", "INT UNSIGNED", Number),
    ("bi", "BIGINT", Number),
    ("bu", "BIGINT UNSIGNED", Number),
    ("d65", "DECIMAL(65,30)", Number),
    ("du", "DECIMAL(10,2) UNSIGNED", Number),
    ("vl", "VARCHAR(20) CHARACTER SET latin1", Text),
    ("c3", "CHAR(5) CHARACTER SET utf8mb3", Text),
    ("v4", "VARCHAR(20) CHARACTER SET utf8mb4", Text),
    ("tg", "TEXT CHARACTER SET gbk", Text),
    ("j", "JSON", Text),
    ("bn", "BINARY(4)", Bytes),
    ("vb", "VARBINARY(8)", Bytes),
    ("bl", "BLOB", Bytes),
    // Row 1 writes '' (not a member): the empty error value, index 0.
    ("e", "ENUM('a','b''q','ç','x\\\\y')", Enum),
    ("s", "SET('x','y','z')", Set),
    ("b1", "BIT(1)", Bits),
    ("b9", "BIT(9)", Bits),
    ("b64", "BIT(64)", Bits),
    ("y", "YEAR", Bits),
    ("da", "DATE", Temporal),
    ("t6", "TIME(6)", Temporal),
    ("dt3", "DATETIME(3)", Temporal),
    ("dt6", "DATETIME(6)", Temporal),
    ("g", "GEOMETRY", Geometry),
    // A member that is the empty string (row 1, index 1), not the error
    // value (row 3 writes 0: index 0); both are '' to the server.
    ("e0", "ENUM('','a')", Enum),
];

const ROWS: &[&str] = &[
    "-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,\
     '-99999999999999999999999999999999999.999999999999999999999999999999',0,\
     'café €','naïv','😀 ok','中文',JSON_OBJECT('a', 'ç', 'b', JSON_ARRAY(1, NULL)),\
     x'00',x'',x'00000000','',  '',b'0',b'0',b'0',1901,\
     '1000-01-01','-838:59:59.000000','1000-01-01 00:00:00.000','1000-01-01 00:00:00.000000',\
     ST_GeomFromText('POINT(1 2)', 4326),''",
    "127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,\
     '99999999999999999999999999999999999.999999999999999999999999999999',99999999.99,\
     'Ÿÿ','€€€','ünï',REPEAT('龍',100),'[]',\
     x'ff00ff00',x'0000ff00',x'ff00',  'ç','x,y,z',b'1',b'111111111',b'1111111111111111111111111111111111111111111111111111111111111111',2155,\
     '9999-12-31','838:59:59.999999','9999-12-31 23:59:59.999','9999-12-31 23:59:59.999999',\
     ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),'a'",
    "0,200,-1,40000,-1,9000000,-1,3000000000,-1,9223372036854775808,\
     '-0.000000000000000000000000000001',0.01,\
     '','','','','{}',\
     x'61',x'61',x'6100',  'b''q','',b'0',b'100000000',b'1000000000000000000000000000000000000000000000000000000000000001',0,\
     '0000-00-00','00:00:00.000001','0000-00-00 00:00:00.000','2024-02-29 12:34:56.000001',\
     ST_GeomFromText('LINESTRING(0 0,1.5 2.5)', 3857),0",
    "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,\
     NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
    // A member with a backslash (the server prints it doubled).
    "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,\
     NULL,NULL,NULL,'x\\\\y',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL",
];

fn sql_expr(col: &str, class: Class) -> String {
    match class {
        Number | Temporal => format!("CAST(`{col}` AS CHAR)"),
        Text | Enum | Set => format!("HEX(CONVERT(`{col}` USING utf8mb4))"),
        Bytes => format!("HEX(`{col}`)"),
        Bits => format!("`{col}` + 0"),
        Geometry => format!("CONCAT(ST_SRID(`{col}`), ':', HEX(ST_AsBinary(`{col}`)))"),
    }
}

/// Expected values by (table, id): (column name, class, server text,
/// and for ENUM/SET the server's `col + 0`, what Canal entries carry).
type Expected = HashMap<(String, i64), Vec<(String, Class, String, String)>>;

/// What the server says about rows `ids` of `table` with `columns`.
fn expect(db: &MariaDb, table: &str, columns: &[(&str, Class)], ids: &[i64], out: &mut Expected) {
    let mut exprs: Vec<String> = columns.iter().map(|(n, c)| sql_expr(n, *c)).collect();
    exprs.extend(columns.iter().map(|(n, c)| match c {
        Enum | Set => format!("`{n}` + 0"),
        _ => "'-'".into(),
    }));
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let text = db.sql(&format!(
        "SELECT id, {} FROM fid.`{table}` WHERE id IN ({}) ORDER BY id",
        exprs.join(", "),
        list.join(",")
    ));
    let mut seen = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let id: i64 = f[0].parse().unwrap();
        let n = columns.len();
        let vals = columns
            .iter()
            .enumerate()
            .map(|(i, (name, c))| (name.to_string(), *c, f[1 + i].into(), f[1 + n + i].into()))
            .collect();
        out.insert((table.to_string(), id), vals);
        seen += 1;
    }
    assert_eq!(seen, ids.len(), "{table}: rows {ids:?}");
}

fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

/// Standard base64 (with padding), as the formats document.
fn unbase64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {s:?}"),
    };
    let mut out = Vec::new();
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(val(c)) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Json,
    Canal,
    Debezium,
}

/// A captured value in the server's text form; `None` where the format
/// renders the class in a way the server has no text for (Debezium's
/// temporal numbers and BIT bytes, checked by the format's own tests).
fn render(v: &Json, class: Class, f: Format) -> Option<String> {
    if f == Format::Debezium && matches!(class, Temporal | Bits | Geometry) {
        // Zero dates are null there by design (as Debezium does).
        return None;
    }
    if v.is_null() {
        return Some("NULL".into());
    }
    let str_of = |v: &Json| -> String {
        match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            other => panic!("{f:?} {class:?}: {other}"),
        }
    };
    Some(match (class, f) {
        (Number | Bits, Format::Json | Format::Canal) => str_of(v),
        (Number, Format::Debezium) => str_of(v),
        (Bits, Format::Debezium) => return None,
        (Text | Enum, _) => hex(str_of(v).as_bytes()),
        (Set, Format::Json) => {
            let names: Vec<String> = v
                .as_array()
                .unwrap_or_else(|| panic!("SET as {v}"))
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            hex(names.join(",").as_bytes())
        }
        (Set, _) => hex(str_of(v).as_bytes()),
        (Bytes, Format::Canal) => {
            // Canal: the bytes as Latin-1 characters.
            let s = str_of(v);
            hex(&s.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>())
        }
        (Bytes, _) => hex(&unbase64(&str_of(v))),
        (Temporal, Format::Debezium) => return None,
        (Temporal, _) => str_of(v),
        (Geometry, Format::Json) => format!(
            "{}:{}",
            v["srid"],
            hex(&unbase64(v["wkb"].as_str().unwrap()))
        ),
        (Geometry, _) => return None,
    })
}

/// Every inserted row of every format's output: (table, id, row object).
fn inserted(data: &std::path::Path, f: Format) -> Vec<(String, Json)> {
    let name = match f {
        Format::Json => "json",
        Format::Canal => "canal-json",
        Format::Debezium => "debezium-json",
    };
    let (code, out, err) = sluice(&[
        "tail",
        "--data",
        data.to_str().unwrap(),
        "--name",
        "fid",
        "--no-follow",
        "--format",
        name,
    ]);
    assert_eq!(code, 0, "sluice tail --format {name}: {err}");
    let mut rows = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let j: Json = serde_json::from_str(line).unwrap();
        match f {
            Format::Json => {
                for ch in j["changes"].as_array().into_iter().flatten() {
                    if ch["kind"] != "insert" {
                        continue;
                    }
                    assert_eq!(ch["names_known"], true, "{ch}");
                    for r in ch["rows"].as_array().unwrap() {
                        rows.push((ch["table"].as_str().unwrap().into(), r["after"].clone()));
                    }
                }
            }
            Format::Canal => {
                if j["type"] == "INSERT" {
                    for r in j["data"].as_array().unwrap() {
                        rows.push((j["table"].as_str().unwrap().into(), r.clone()));
                    }
                }
            }
            Format::Debezium => {
                if j["op"] == "c" {
                    rows.push((
                        j["source"]["table"].as_str().unwrap().into(),
                        j["after"].clone(),
                    ));
                }
            }
        }
    }
    rows
}

/// A live DDL step: the statement, the table's name after it, its
/// columns (after `id`) and an insert under the new definition.
type Step = (
    &'static str,
    &'static str,
    &'static [(&'static str, Class)],
    &'static str,
);

#[test]
fn every_value_equals_the_servers_under_default_settings() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    assert_eq!(db.sql("SELECT @@binlog_row_metadata").trim(), "NO_LOG");
    let (file, pos) = capture_support::master_status(&db);
    let mut want = Expected::new();

    // Edge values of every type.
    let defs: Vec<String> = COLUMNS
        .iter()
        .map(|(n, t, _)| format!("`{n}` {t}"))
        .collect();
    let mut sql = format!(
        "SET SESSION sql_mode = ''; CREATE DATABASE fid CHARACTER SET utf8mb4; USE fid; \
         CREATE TABLE edge (id INT PRIMARY KEY, {});",
        defs.join(", ")
    );
    for (i, r) in ROWS.iter().enumerate() {
        let _ = write!(sql, "INSERT INTO edge VALUES ({}, {r});", i + 1);
    }
    db.sql(&sql);
    let cols: Vec<(&str, Class)> = COLUMNS.iter().map(|(n, _, c)| (*n, *c)).collect();
    let ids: Vec<i64> = (1..=ROWS.len() as i64).collect();
    expect(&db, "edge", &cols, &ids, &mut want);

    // Live DDL: each step, then rows written under the new definition.
    db.sql(
        "USE fid; CREATE TABLE w (id INT PRIMARY KEY, a TINYINT, b VARCHAR(10) CHARACTER SET latin1, \
         e ENUM('x','y'), u INT UNSIGNED); \
         INSERT INTO w VALUES (1, -1, 'é', 'y', 4294967295);",
    );
    let mut w: Vec<(&str, Class)> = vec![("a", Number), ("b", Text), ("e", Enum), ("u", Number)];
    expect(&db, "w", &w, &[1], &mut want);
    let steps: &[Step] = &[
        // Signed → unsigned, latin1 → gbk, new ENUM members.
        (
            "ALTER TABLE w MODIFY a TINYINT UNSIGNED, MODIFY b VARCHAR(10) CHARACTER SET gbk, \
             MODIFY e ENUM('x','y','z','ü')",
            "w",
            &[("a", Number), ("b", Text), ("e", Enum), ("u", Number)],
            "INSERT INTO w VALUES (2, 255, '中', 'ü', 7)",
        ),
        // Unsigned → signed through CHANGE with a new name.
        (
            "ALTER TABLE w CHANGE u s BIGINT",
            "w",
            &[("a", Number), ("b", Text), ("e", Enum), ("s", Number)],
            "INSERT INTO w VALUES (3, 200, 'x', 'z', -9223372036854775808)",
        ),
        // Column order: a new first column and one in the middle.
        (
            "ALTER TABLE w ADD f MEDIUMINT UNSIGNED FIRST, ADD m SET('p','q') AFTER a",
            "w",
            &[
                ("f", Number),
                ("a", Number),
                ("m", Set),
                ("b", Text),
                ("e", Enum),
                ("s", Number),
            ],
            "INSERT INTO w (f, id, a, m, b, e, s) VALUES (16777215, 4, 1, 'p,q', 'ÿ', 'x', 1)",
        ),
        // A rename: rows of the new name, named as before.
        (
            "RENAME TABLE w TO w2",
            "w2",
            &[
                ("f", Number),
                ("a", Number),
                ("m", Set),
                ("b", Text),
                ("e", Enum),
                ("s", Number),
            ],
            "INSERT INTO w2 (f, id, a, m, b, e, s) VALUES (8388608, 5, 128, 'q', 'é', 'y', -1)",
        ),
    ];
    for (i, (ddl, table, columns, insert)) in steps.iter().enumerate() {
        db.sql(&format!(
            "SET SESSION sql_mode = ''; USE fid; {ddl}; {insert};"
        ));
        w = columns.to_vec();
        expect(&db, table, &w, &[i as i64 + 2], &mut want);
    }

    let data = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(
        data.path(),
        "fid",
        &[
            "--source".into(),
            db.url(),
            "--server-id".into(),
            server_id(),
            "--start".into(),
            format!("{file}:{pos}"),
            "--include".into(),
            r"fid\..*".into(),
        ],
    );
    runner.until_current();
    let logs = runner.all_logs();
    assert!(
        !logs.contains("columns left unnamed"),
        "capture warned:\n{logs}"
    );

    for f in [Format::Json, Format::Canal, Format::Debezium] {
        let rows = inserted(data.path(), f);
        assert_eq!(rows.len(), want.len(), "{f:?}: inserted rows");
        let mut compared = 0;
        for (table, row) in rows {
            let id: i64 = match &row["id"] {
                Json::String(s) => s.parse().unwrap(),
                n => n.as_i64().unwrap_or_else(|| panic!("{f:?} id {n}")),
            };
            let expected = want
                .get(&(table.clone(), id))
                .unwrap_or_else(|| panic!("{f:?}: unexpected row {table} {id}"));
            let obj = row.as_object().unwrap();
            assert_eq!(obj.len(), expected.len() + 1, "{f:?} {table} {id}: {row}");
            for (name, class, server, _) in expected {
                let v = obj
                    .get(name)
                    .unwrap_or_else(|| panic!("{f:?} {table} {id}: no column {name}: {row}"));
                if let Some(got) = render(v, *class, f) {
                    assert_eq!(
                        &got, server,
                        "{f:?} {table} row {id} column {name}: captured {v}"
                    );
                    compared += 1;
                }
            }
        }
        eprintln!("{f:?}: {compared} values equal to the server's");
        assert!(compared > 80, "{f:?}: only {compared} values compared");
    }
    canal_entries(data.path(), &want);
}

/// The Canal TCP server's entries of the same log: each column's string
/// as Canal renders it (ENUM index, SET bitmask, bytes as Latin-1
/// characters), equal to the server's.
fn canal_entries(data: &std::path::Path, want: &Expected) {
    use prost::Message;
    use sluice::proto::canal as c;
    use sluice::serve::canal::entry::record_entries;
    use sluice::serve::canal::filter::Filter;
    use sluice::serve::canal::value::TimeZone;
    let log = sluice_storage::Log::open_read_only(&sluice::pipeline::log_dir(data, "fid"))
        .expect("open the log");
    let mut reader = log.read_from(log.start_offset()).expect("read the log");
    let mut entries = Vec::new();
    while let Some(r) = reader.next().expect("read a record") {
        let record = sluice::proto::Record::decode(r.payload().as_ref()).expect("a record");
        let mut open = false;
        record_entries(
            &record,
            true,
            &Filter::all(),
            TimeZone::Utc,
            &mut open,
            &mut entries,
        );
    }
    let mut compared = 0;
    let mut rows = 0;
    for e in entries {
        if e.entry_type != Some(c::EntryType::Rowdata as i32) {
            continue;
        }
        let table = e.header.as_ref().unwrap().table_name.clone();
        let rc = c::RowChange::decode(&e.store_value[..]).unwrap();
        if rc.event_type != Some(c::EventType::Insert as i32) {
            continue;
        }
        for row in rc.row_datas {
            rows += 1;
            let col = |n: &str| row.after_columns.iter().find(|c| c.name == n);
            let id: i64 = col("id").unwrap().value.parse().unwrap();
            let expected = &want[&(table.clone(), id)];
            assert_eq!(row.after_columns.len(), expected.len() + 1, "{table} {id}");
            for (name, class, server, number) in expected {
                let c = col(name).unwrap_or_else(|| panic!("entry {table} {id}: no {name}"));
                let got = if c.is_null == Some(true) {
                    "NULL".to_string()
                } else {
                    match class {
                        Number | Bits if name != "y" => c.value.clone(),
                        Text => hex(c.value.as_bytes()),
                        Bytes => hex(&c.value.chars().map(|x| x as u32 as u8).collect::<Vec<u8>>()),
                        Enum | Set => {
                            assert_eq!(&c.value, number, "entry {table} {id} {name}");
                            compared += 1;
                            continue;
                        }
                        _ => continue,
                    }
                };
                assert_eq!(&got, server, "Canal entry {table} row {id} column {name}");
                compared += 1;
            }
        }
    }
    assert_eq!(rows, want.len(), "Canal entries: inserted rows");
    eprintln!("Canal entries: {compared} values equal to the server's");
    assert!(compared > 80);
}
