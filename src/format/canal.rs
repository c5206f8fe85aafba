//! Canal's FlatMessage (`canal-json`, what Flink's canal-json format
//! reads): one object per row event, per DDL and per non-row statement.
//!
//! ```json
//! {"data": [{"id": "1", "name": "a"}], "database": "db", "es": 1700000000000,
//!  "gtid": "0-1-5", "id": 12, "isDdl": false,
//!  "mysqlType": {"id": "int(11)", "name": "varchar(20)"},
//!  "old": [{"name": "b"}], "pkNames": ["id"], "sql": "",
//!  "sqlType": {"id": 4, "name": 12}, "table": "t", "ts": 1700000000123,
//!  "type": "UPDATE"}
//! ```
//!
//! As Canal does: values are strings (`null` for SQL NULL; binary as the
//! Latin-1 characters of its bytes; FLOAT/DOUBLE as Java prints them;
//! TIMESTAMP as `yyyy-MM-dd HH:mm:ss[.ffffff]`, here in UTC); `old` holds,
//! for updates, only the columns whose value changed; `data` is the after
//! image for INSERT/UPDATE and the before image for DELETE; columns absent
//! from an image (MINIMAL row image) are left out; `sqlType` holds
//! java.sql.Types codes; `id` is the log offset, `es` the commit time,
//! `ts` the time of rendering. A snapshot read is an `INSERT` with
//! `"snapshot": true`. DDL messages have `isDdl: true`, the
//! statement in `sql` and a `type` of CREATE, ALTER, ERASE (drop), RENAME,
//! TRUNCATE, CINDEX or DINDEX; other statements come as type QUERY.
//!
//! One statement's rows are one table change in the log (a bulk insert
//! can hold a part's worth of rows); such a change comes as several
//! messages of about [`MESSAGE_ROW_BYTES`] of rows each, as a binlog cuts a
//! statement into rows events, so no single line grows without bound.

use super::value::{canal_text, is_absent};
use super::{column_name, write_line};
use crate::decode::events::query::leading_words;
use crate::pipeline::split::{row_chunks, with_rows};
use crate::proto;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Cow;

/// java.sql.Types code for a column, as Canal maps MySQL types.
pub fn sql_type(col: &proto::Column) -> i32 {
    let binary = col.charset == "binary";
    match col.type_code {
        0 | 246 => 3, // DECIMAL
        1 => {
            if col.unsigned {
                5
            } else {
                -6
            }
        } // TINYINT
        2 => {
            if col.unsigned {
                4
            } else {
                5
            }
        } // SMALLINT
        9 => 4,       // MEDIUMINT → INTEGER
        3 => {
            if col.unsigned {
                -5
            } else {
                4
            }
        } // INT
        8 => {
            if col.unsigned {
                3
            } else {
                -5
            }
        } // BIGINT
        4 => 7,       // FLOAT → REAL
        5 => 8,       // DOUBLE
        6 => 0,       // NULL
        7 | 17 | 12 | 18 => 93, // TIMESTAMP, DATETIME
        10 | 14 => 91, // DATE
        11 | 19 => 92, // TIME
        13 => 12,     // YEAR → VARCHAR
        15 | 253 => {
            if binary {
                -3
            } else {
                12
            }
        } // VARCHAR / VARBINARY
        254 => {
            if binary {
                -2
            } else {
                1
            }
        } // CHAR / BINARY
        16 => -7,     // BIT
        245 => -1,    // JSON → LONGVARCHAR
        247 | 248 => 1, // ENUM, SET → CHAR
        249..=252 => {
            if binary {
                2004
            } else {
                2005
            }
        } // BLOB / TEXT
        255 => -2,    // GEOMETRY → BINARY
        _ => 1111,    // OTHER (VECTOR, ...)
    }
}

/// Canal's event type of a DDL statement.
pub fn ddl_type(sql: &str) -> &'static str {
    let w = leading_words(sql, 4);
    let word = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    match word(0) {
        "CREATE" => {
            if w.iter().take(4).any(|x| x == "INDEX") {
                "CINDEX"
            } else {
                "CREATE"
            }
        }
        "ALTER" => "ALTER",
        "DROP" => {
            if word(1) == "INDEX" {
                "DINDEX"
            } else {
                "ERASE"
            }
        }
        "RENAME" => "RENAME",
        "TRUNCATE" => "TRUNCATE",
        _ => "QUERY",
    }
}

/// The `schema`.`table` a DDL names, when it names one (best effort).
pub fn ddl_table(sql: &str) -> Option<(Option<String>, String)> {
    let upper = sql.to_ascii_uppercase();
    let key = ["TABLE", "VIEW", " ON "]
        .iter()
        .filter_map(|k| upper.find(k).map(|i| i + k.len()))
        .min()?;
    let mut rest = sql.get(key..)?.trim_start();
    for skip in ["IF NOT EXISTS", "IF EXISTS"] {
        if rest.len() >= skip.len()
            && rest
                .get(..skip.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(skip))
        {
            rest = rest.get(skip.len()..)?.trim_start();
        }
    }
    let mut name = String::new();
    let mut quoted = false;
    for ch in rest.chars() {
        match ch {
            '`' => quoted = !quoted,
            c if !quoted && (c.is_whitespace() || c == '(' || c == ',' || c == ';') => break,
            c => name.push(c),
        }
    }
    if name.is_empty() {
        return None;
    }
    match name.split_once('.') {
        Some((db, t)) => Some((Some(db.to_string()), t.to_string())),
        None => Some((None, name)),
    }
}

struct Message<'a> {
    record: &'a proto::Record,
    offset: u64,
    now_ms: i64,
    body: Body<'a>,
}

/// Rows (in their log encoding) per message, at most: a row larger than
/// this gets a message of its own.
pub const MESSAGE_ROW_BYTES: usize = 128 << 10;

enum Body<'a> {
    Rows(Cow<'a, proto::TableChange>),
    Ddl(&'a proto::Ddl),
    Statement(&'a proto::Statement),
}

struct Data<'a> {
    change: &'a proto::TableChange,
    old: bool,
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let c = self.change;
        let mut seq = s.serialize_seq(Some(c.rows.len()))?;
        for row in &c.rows {
            let image = if self.old || c.kind == proto::ChangeKind::Delete as i32 {
                row.before.as_ref()
            } else {
                row.after.as_ref()
            };
            seq.serialize_element(&ImageMap {
                columns: &c.columns,
                image,
                other: if self.old { row.after.as_ref() } else { None },
            })?;
        }
        seq.end()
    }
}

/// One image as column → text; with `other`, only the columns whose
/// value differs from it (Canal's `old`).
struct ImageMap<'a> {
    columns: &'a [proto::Column],
    image: Option<&'a proto::Image>,
    other: Option<&'a proto::Image>,
}

impl Serialize for ImageMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(img) = self.image {
            for (i, v) in img.values.iter().enumerate() {
                if is_absent(v) {
                    continue;
                }
                if let Some(other) = self.other {
                    match other.values.get(i) {
                        Some(o) if o == v || is_absent(o) => continue,
                        _ => {}
                    }
                }
                let name = match self.columns.get(i) {
                    Some(col) => column_name(col, i),
                    None => format!("@{}", i + 1).into(),
                };
                m.serialize_entry(&*name, &canal_text(v))?;
            }
        }
        m.end()
    }
}

struct ColumnMap<'a, F>(&'a [proto::Column], F);

impl<F, T> Serialize for ColumnMap<'_, F>
where
    F: Fn(&proto::Column) -> T,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (i, col) in self.0.iter().enumerate() {
            m.serialize_entry(&*column_name(col, i), &(self.1)(col))?;
        }
        m.end()
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut m = s.serialize_map(Some(14))?;
        match &self.body {
            Body::Rows(c) => {
                m.serialize_entry(
                    "data",
                    &Data {
                        change: c,
                        old: false,
                    },
                )?;
                m.serialize_entry("database", &c.schema)?;
            }
            Body::Ddl(d) => {
                m.serialize_entry("data", &())?;
                let db = ddl_table(&d.statement)
                    .and_then(|(db, _)| db)
                    .unwrap_or_else(|| d.schema.clone());
                m.serialize_entry("database", &db)?;
            }
            Body::Statement(st) => {
                m.serialize_entry("data", &())?;
                m.serialize_entry("database", &st.schema)?;
            }
        }
        m.serialize_entry("es", &r.commit_time_ms)?;
        m.serialize_entry("gtid", &r.gtid)?;
        m.serialize_entry("id", &self.offset)?;
        m.serialize_entry("isDdl", &matches!(self.body, Body::Ddl(_)))?;
        match &self.body {
            Body::Rows(c) => {
                m.serialize_entry(
                    "mysqlType",
                    &ColumnMap(&c.columns, |col: &proto::Column| col.mysql_type.clone()),
                )?;
                if c.kind == proto::ChangeKind::Update as i32 {
                    m.serialize_entry(
                        "old",
                        &Data {
                            change: c,
                            old: true,
                        },
                    )?;
                } else {
                    m.serialize_entry("old", &())?;
                }
                let pks: Vec<String> = c
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, col)| col.primary_key)
                    .map(|(i, col)| column_name(col, i).into_owned())
                    .collect();
                if pks.is_empty() {
                    m.serialize_entry("pkNames", &())?;
                } else {
                    m.serialize_entry("pkNames", &pks)?;
                }
                m.serialize_entry("sql", "")?;
                m.serialize_entry("sqlType", &ColumnMap(&c.columns, sql_type))?;
                m.serialize_entry("table", &c.table)?;
            }
            Body::Ddl(d) => {
                m.serialize_entry("mysqlType", &())?;
                m.serialize_entry("old", &())?;
                m.serialize_entry("pkNames", &())?;
                m.serialize_entry("sql", &d.statement)?;
                m.serialize_entry("sqlType", &())?;
                let table = ddl_table(&d.statement).map(|(_, t)| t).unwrap_or_default();
                m.serialize_entry("table", &table)?;
            }
            Body::Statement(st) => {
                m.serialize_entry("mysqlType", &())?;
                m.serialize_entry("old", &())?;
                m.serialize_entry("pkNames", &())?;
                m.serialize_entry("sql", &st.text)?;
                m.serialize_entry("sqlType", &())?;
                m.serialize_entry("table", "")?;
            }
        }
        if let Body::Rows(c) = &self.body {
            // A snapshot read is an INSERT that says it comes from one.
            if c.kind == proto::ChangeKind::Read as i32 {
                m.serialize_entry("snapshot", &true)?;
            }
        }
        m.serialize_entry("ts", &self.now_ms)?;
        let kind = match &self.body {
            Body::Rows(c) => match proto::ChangeKind::try_from(c.kind) {
                Ok(proto::ChangeKind::Insert | proto::ChangeKind::Read) => "INSERT",
                Ok(proto::ChangeKind::Update) => "UPDATE",
                Ok(proto::ChangeKind::Delete) => "DELETE",
                _ => "QUERY",
            },
            Body::Ddl(d) => ddl_type(&d.statement),
            Body::Statement(_) => "QUERY",
        };
        m.serialize_entry("type", kind)?;
        m.end()
    }
}

fn messages(record: &proto::Record, offset: u64, now_ms: i64) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    let msg = |body| Message {
        record,
        offset,
        now_ms,
        body,
    };
    for st in &record.statements {
        out.push(msg(Body::Statement(st)));
    }
    if let Some(d) = &record.ddl {
        out.push(msg(Body::Ddl(d)));
    }
    for c in &record.changes {
        let chunks = row_chunks(c, MESSAGE_ROW_BYTES);
        if chunks.len() == 1 {
            out.push(msg(Body::Rows(Cow::Borrowed(c))));
            continue;
        }
        for rows in chunks {
            out.push(msg(Body::Rows(Cow::Owned(with_rows(c, rows)))));
        }
    }
    out
}

/// The FlatMessages of a record. `now_ms` fills `ts`.
pub fn values(record: &proto::Record, offset: u64, now_ms: i64) -> Vec<serde_json::Value> {
    messages(record, offset, now_ms)
        .iter()
        .filter_map(|m| serde_json::to_value(m).ok())
        .collect()
}

/// Append the record's FlatMessages, one per line.
pub fn write(record: &proto::Record, offset: u64, now_ms: i64, out: &mut Vec<u8>) {
    for m in messages(record, offset, now_ms) {
        write_line(&m, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_change_comes_as_several_messages_in_row_order() {
        let text = |s: String| proto::Value {
            kind: Some(proto::value::Kind::Text(s)),
        };
        let rows: Vec<proto::Row> = (0..3000)
            .map(|i| proto::Row {
                before: None,
                after: Some(proto::Image {
                    values: vec![text(i.to_string()), text("x".repeat(100))],
                }),
            })
            .collect();
        let column = |name: &str| proto::Column {
            name: name.into(),
            ..Default::default()
        };
        let record = proto::Record {
            changes: vec![proto::TableChange {
                schema: "db".into(),
                table: "t".into(),
                kind: proto::ChangeKind::Insert as i32,
                columns: vec![column("id"), column("v")],
                names_known: true,
                rows,
                query: String::new(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let messages = values(&record, 7, 0);
        assert!(messages.len() >= 3, "{} messages", messages.len());
        let mut ids = Vec::new();
        for m in &messages {
            assert_eq!(m["type"], "INSERT");
            assert_eq!(m["id"], 7);
            let data = m["data"].as_array().unwrap();
            assert!(serde_json::to_vec(data).unwrap().len() < 2 * MESSAGE_ROW_BYTES);
            ids.extend(data.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        }
        let expected: Vec<String> = (0..3000).map(|i: i32| i.to_string()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn ddl_kinds_and_tables() {
        assert_eq!(ddl_type("CREATE TABLE t (a int)"), "CREATE");
        assert_eq!(ddl_type("create unique index i on t(a)"), "CINDEX");
        assert_eq!(
            ddl_type("DROP TABLE `t` /* generated by server */"),
            "ERASE"
        );
        assert_eq!(ddl_type("DROP INDEX i ON t"), "DINDEX");
        assert_eq!(
            ddl_table("CREATE TABLE IF NOT EXISTS `db`.`t` (a int)"),
            Some((Some("db".into()), "t".into()))
        );
        assert_eq!(ddl_table("drop table t1"), Some((None, "t1".into())));
        assert_eq!(ddl_table("CREATE DATABASE x"), None);
    }
}
