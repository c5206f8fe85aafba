//! Output formats of change events, shared by `sluice decode`, the HTTP
//! stream, the Canal server and the sinks.
//!
//! - [`json`]: sluice's own JSON, one object per record (see its docs for
//!   the shape).
//! - [`canal`]: Canal's FlatMessage (`canal-json`), one object per row
//!   event (and per DDL / statement).
//! - [`debezium`]: the Debezium envelope (`debezium-json`), one object per
//!   row.
//!
//! Each has a pure `values(&Record, offset) -> Vec<serde_json::Value>` and
//! a `write(&Record, offset, &mut Vec<u8>)` that serializes straight into
//! a buffer (newline-delimited), without building intermediate maps.

pub mod canal;
pub mod debezium;
pub mod json;
pub mod value;

use crate::proto;

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    CanalJson,
    DebeziumJson,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "canal-json" | "canal" => Ok(Format::CanalJson),
            "debezium-json" | "debezium" => Ok(Format::DebeziumJson),
            other => Err(format!(
                "unknown format {other:?} (json, canal-json or debezium-json)"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Json => "json",
            Format::CanalJson => "canal-json",
            Format::DebeziumJson => "debezium-json",
        })
    }
}

impl Format {
    /// Append the record as newline-terminated JSON objects to `out`.
    pub fn write(self, record: &proto::Record, offset: u64, out: &mut Vec<u8>) {
        match self {
            Format::Json => json::write(record, offset, out),
            Format::CanalJson => canal::write(record, offset, now_ms(), out),
            Format::DebeziumJson => debezium::write(record, offset, now_ms(), out),
        }
    }

    /// The record as JSON values.
    pub fn values(self, record: &proto::Record, offset: u64) -> Vec<serde_json::Value> {
        match self {
            Format::Json => json::values(record, offset),
            Format::CanalJson => canal::values(record, offset, now_ms()),
            Format::DebeziumJson => debezium::values(record, offset, now_ms()),
        }
    }
}

/// Milliseconds since the epoch, for the formats' processing-time fields.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `name`, or `@N` (1-based) when the binlog carried no names.
pub fn column_name(col: &proto::Column, index: usize) -> std::borrow::Cow<'_, str> {
    if col.name.is_empty() {
        format!("@{}", index + 1).into()
    } else {
        col.name.as_str().into()
    }
}

pub(crate) fn kind_name(kind: i32) -> &'static str {
    match proto::ChangeKind::try_from(kind) {
        Ok(proto::ChangeKind::Insert) => "insert",
        Ok(proto::ChangeKind::Update) => "update",
        Ok(proto::ChangeKind::Delete) => "delete",
        Ok(proto::ChangeKind::Read) => "read",
        _ => "unspecified",
    }
}

/// Serialize `value` as one line into `out`.
pub(crate) fn write_line<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) {
    // Serializing our own Serialize impls into a Vec cannot fail: no I/O,
    // map keys are strings.
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}
