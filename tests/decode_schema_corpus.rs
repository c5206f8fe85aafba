//! MySQL 5.7 binlogs of the shared corpus (`../shared/binlogs`, or
//! `SLUICE_BINLOGS`) carry no optional TABLE_MAP metadata: no names, no
//! signedness, no charsets. Decoded with a schema history given the
//! tables' `CREATE TABLE` text, every row value equals the one in the
//! `mysqlbinlog -v` dump that the corpus ships beside the file (an
//! independent decoder), and the columns carry the names of the
//! statement. The `CREATE TABLE` text is read from those dumps at run
//! time (the history would otherwise learn it from the binlog's own DDL,
//! which some of the files do not contain). These files hold INT and
//! VARCHAR columns only: the names and the row layout are what they
//! prove; unsigned, ENUM/SET and charset values under NO_LOG are proven
//! against a live server (`decode_types`, `value_fidelity`).

use sluice::decode::{decode_file, BinlogFile, Decoder, Item};
use sluice::proto::value::Kind;
use sluice::proto::{Image, Value};
use sluice::schema::{Dialect, SchemaHistory};
use std::path::Path;

/// (binlog, its mysqlbinlog -v dump)
const FILES: &[(&str, &str)] = &[
    (
        "kingbus__mysql_bin.000011",
        "kingbus__mysql_bin.000011.expected.11.txt",
    ),
    (
        "kingbus__mysql_bin.000012",
        "kingbus__mysql_bin.000012.expected.12.txt",
    ),
    (
        "kingbus__mysql_bin.000013",
        "kingbus__mysql_bin.000013.expected.13.txt",
    ),
    (
        "kingbus__flikedev1-c8pyy-relay-bin.000284",
        "kingbus__flikedev1-c8pyy-relay-bin.000284.expected.284.txt",
    ),
    (
        "kingbus__flikedev1-c8pyy-relay-bin.000288",
        "kingbus__flikedev1-c8pyy-relay-bin.000288.expected.288.txt",
    ),
    (
        "mysql-cdc-rs__5.7_30_write_rows_v2_log.bin",
        "mysql-cdc-rs__5.7_30_write_rows_v2_log.bin.expected.dump.txt",
    ),
    (
        "mysql-cdc-rs__5.7_29_row_query_log.bin",
        "mysql-cdc-rs__5.7_29_row_query_log.bin.expected.dump.txt",
    ),
];

/// `(default schema, statement)` of every CREATE TABLE in a dump.
fn create_tables(dump: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut schema = String::new();
    let mut stmt: Option<String> = None;
    for line in dump.lines() {
        if let Some(s) = stmt.as_mut() {
            if line.starts_with("/*!*/;") {
                out.push((schema.clone(), std::mem::take(s)));
                stmt = None;
            } else {
                s.push_str(line);
                s.push('\n');
            }
        } else if let Some(db) = line.strip_prefix("use `") {
            schema = db.split('`').next().unwrap_or_default().to_string();
        } else if line.to_ascii_lowercase().starts_with("create table") {
            stmt = Some(format!("{line}\n"));
        }
    }
    out
}

/// The `@N=value` texts of the dump, in order (before image, then after
/// image, row by row).
fn dump_values(dump: &str) -> Vec<String> {
    dump.lines()
        .filter_map(|l| l.strip_prefix("###   @"))
        .map(|l| {
            let v = l.split_once('=').map(|(_, v)| v).unwrap_or_default();
            v.split(" /*").next().unwrap_or_default().to_string()
        })
        .collect()
}

/// A decoded value as mysqlbinlog -v prints it.
fn render(v: &Value) -> String {
    match v.kind.as_ref().expect("value") {
        Kind::Null(_) => "NULL".into(),
        Kind::Int(i) => i.to_string(),
        Kind::Uint(u) => u.to_string(),
        Kind::Text(s) => format!("'{}'", s.replace('\'', "\\'")),
        other => format!("{other:?}"),
    }
}

fn images(img: &Option<Image>) -> impl Iterator<Item = &Value> {
    img.iter().flat_map(|i| i.values.iter())
}

#[test]
fn mysql_5_7_rows_without_metadata_take_the_given_schema() {
    let Some(dir) = sluice_testkit::binlog_corpus() else {
        return;
    };
    let read = |name: &str| std::fs::read_to_string(Path::new(&dir).join(name));
    // Every CREATE TABLE of every dump: the schema the test gives.
    let mut ddl = Vec::new();
    for (_, dump) in FILES {
        ddl.extend(create_tables(&read(dump).expect("read dump")));
    }
    assert!(!ddl.is_empty(), "no CREATE TABLE in the dumps");
    let mut checked = 0;
    for (bin, dump) in FILES {
        let mut history = SchemaHistory::new(Dialect::from_server_version("5.7.23-log", "utf8"));
        for (schema, stmt) in &ddl {
            history.set_database(schema, "utf8mb4");
            history.apply_ddl(schema, stmt);
        }
        let file = BinlogFile::open(&Path::new(&dir).join(bin)).expect("open binlog");
        let mut decoder = Decoder::new(*bin);
        let mut got = Vec::new();
        decode_file(&file, &mut decoder, |item| {
            match item {
                Item::Record(mut r) => {
                    for ch in &r.changes {
                        assert!(
                            !ch.signedness_known && !ch.names_known,
                            "{bin}: expected a TABLE_MAP without metadata"
                        );
                    }
                    history.process_record(&mut r, None).expect("history");
                    for ch in &r.changes {
                        assert!(
                            ch.names_known,
                            "{bin}: {}.{} not named",
                            ch.schema, ch.table
                        );
                        let want: Vec<&str> = history
                            .table(&ch.schema, &ch.table)
                            .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
                            .unwrap_or_default();
                        let names: Vec<&str> = ch.columns.iter().map(|c| c.name.as_str()).collect();
                        assert_eq!(names, want, "{bin}: column names");
                        for row in &ch.rows {
                            got.extend(images(&row.before).map(render));
                            got.extend(images(&row.after).map(render));
                        }
                    }
                }
                Item::Error(e) => panic!("{bin}: {e}"),
                Item::Warning(_) => {}
            }
            Ok::<(), ()>(())
        })
        .expect("decode");
        let want = dump_values(&read(dump).expect("read dump"));
        assert!(!want.is_empty(), "{dump}: no rows");
        assert_eq!(got, want, "{bin}: values against mysqlbinlog -v");
        checked += want.len();
    }
    eprintln!("{checked} values equal to mysqlbinlog -v");
}
