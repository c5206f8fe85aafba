//! sluice's own JSON: one object per record (transaction or DDL).
//!
//! ```json
//! {"offset": 12, "file": "mysql-bin.000001", "start": 4, "next": 120,
//!  "gtid": "0-1-5", "server_id": 1, "commit_time_ms": 1700000000000,
//!  "part": 0, "last_part": true,
//!  "changes": [
//!    {"schema": "db", "table": "t", "kind": "update", "names_known": true,
//!     "query": "UPDATE t SET ...",                       // only when known
//!     "columns": [{"name": "id", "type": "int(11)", "type_code": 3,
//!                  "pk": true, "unsigned": false, "nullable": false,
//!                  "charset": ""}],
//!     "rows": [{"before": {"id": 1}, "after": {"id": 2}}]}],
//!  "ddl": {"schema": "db", "statement": "CREATE TABLE ..."},  // DDL records only
//!  "statements": [{"schema": "db", "text": "INSERT ..."}]}    // only when present
//! ```
//!
//! `kind` is `insert`, `update`, `delete`, or `read`: a snapshot read
//! (`snapshot = "initial"`), the row as it is at the record's position.
//! Rows are objects keyed by column name (`@1`, `@2`, ... when the binlog
//! has no names); `before` appears for updates and deletes, `after` for
//! inserts, updates and reads. A column absent from an image (MINIMAL row image)
//! is left out of that image's object; SQL NULL is `null`. Values are
//! typed as [`super::value::Typed`] documents.

use super::value::{is_absent, Typed};
use super::{column_name, kind_name, write_line};
use crate::proto;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

struct RecordJson<'a>(&'a proto::Record, u64);
struct ChangeJson<'a>(&'a proto::TableChange);
struct ColumnsJson<'a>(&'a [proto::Column]);
struct RowsJson<'a>(&'a proto::TableChange);
struct ImageJson<'a>(&'a [proto::Column], &'a proto::Image);

impl Serialize for RecordJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let pos = r.position.clone().unwrap_or_default();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("offset", &self.1)?;
        m.serialize_entry("file", &pos.file)?;
        m.serialize_entry("start", &pos.start)?;
        m.serialize_entry("next", &pos.next)?;
        m.serialize_entry("gtid", &r.gtid)?;
        m.serialize_entry("server_id", &r.server_id)?;
        m.serialize_entry("commit_time_ms", &r.commit_time_ms)?;
        m.serialize_entry("part", &r.part)?;
        m.serialize_entry("last_part", &r.last_part)?;
        let changes: Vec<ChangeJson<'_>> = r.changes.iter().map(ChangeJson).collect();
        m.serialize_entry("changes", &changes)?;
        if let Some(ddl) = &r.ddl {
            m.serialize_entry(
                "ddl",
                &serde_json::json!({"schema": ddl.schema, "statement": ddl.statement}),
            )?;
        }
        if !r.statements.is_empty() {
            let st: Vec<serde_json::Value> = r
                .statements
                .iter()
                .map(|s| serde_json::json!({"schema": s.schema, "text": s.text}))
                .collect();
            m.serialize_entry("statements", &st)?;
        }
        m.end()
    }
}

impl Serialize for ChangeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("schema", &c.schema)?;
        m.serialize_entry("table", &c.table)?;
        m.serialize_entry("kind", kind_name(c.kind))?;
        m.serialize_entry("names_known", &c.names_known)?;
        if !c.query.is_empty() {
            m.serialize_entry("query", &c.query)?;
        }
        m.serialize_entry("columns", &ColumnsJson(&c.columns))?;
        m.serialize_entry("rows", &RowsJson(c))?;
        m.end()
    }
}

impl Serialize for ColumnsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (i, col) in self.0.iter().enumerate() {
            seq.serialize_element(&serde_json::json!({
                "name": column_name(col, i),
                "type": col.mysql_type,
                "type_code": col.type_code,
                "pk": col.primary_key,
                "unsigned": col.unsigned,
                "nullable": col.nullable,
                "charset": col.charset,
            }))?;
        }
        seq.end()
    }
}

impl Serialize for RowsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(Some(c.rows.len()))?;
        for row in &c.rows {
            seq.serialize_element(&RowJson(&c.columns, row))?;
        }
        seq.end()
    }
}

struct RowJson<'a>(&'a [proto::Column], &'a proto::Row);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(b) = &self.1.before {
            m.serialize_entry("before", &ImageJson(self.0, b))?;
        }
        if let Some(a) = &self.1.after {
            m.serialize_entry("after", &ImageJson(self.0, a))?;
        }
        m.end()
    }
}

impl Serialize for ImageJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (i, v) in self.1.values.iter().enumerate() {
            if is_absent(v) {
                continue;
            }
            let name = match self.0.get(i) {
                Some(col) => column_name(col, i),
                None => format!("@{}", i + 1).into(),
            };
            m.serialize_entry(&*name, &Typed(v))?;
        }
        m.end()
    }
}

/// The record as one JSON value.
pub fn values(record: &proto::Record, offset: u64) -> Vec<serde_json::Value> {
    vec![serde_json::to_value(RecordJson(record, offset)).unwrap_or(serde_json::Value::Null)]
}

/// Append the record as one line of JSON.
pub fn write(record: &proto::Record, offset: u64, out: &mut Vec<u8>) {
    write_line(&RecordJson(record, offset), out);
}
