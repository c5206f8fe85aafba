//! The Debezium envelope (`debezium-json`): one object per row.
//!
//! ```json
//! {"before": null, "after": {"id": 1, "name": "a"},
//!  "source": {"version": "0.1.0", "connector": "mysql", "name": "sluice",
//!             "ts_ms": 1700000000000, "snapshot": "false", "db": "db",
//!             "table": "t", "server_id": 1, "gtid": "0-1-5",
//!             "file": "mysql-bin.000001", "pos": 4, "row": 0,
//!             "query": null},
//!  "op": "c", "ts_ms": 1700000000123}
//! ```
//!
//! `op` is `c`, `u` or `d`, or `r` for a snapshot read (then
//! `source.snapshot` is `"true"`, and `"last"` on the snapshot's final
//! row); `source.pos` is the transaction's start
//! position and `source.row` the row's index in its event, as Debezium's
//! MySQL connector gives them. Values follow Debezium's default
//! converters where they are unambiguous: integers and floats as numbers,
//! DATE as days since the epoch, DATETIME as epoch milliseconds (fsp ≤ 3)
//! or microseconds (fsp > 3), TIME as microseconds, TIMESTAMP as an
//! ISO-8601 UTC string, YEAR as a number, BIT(1) as a boolean, binary and
//! wider BIT as base64; DECIMAL as a string (Debezium's
//! `decimal.handling.mode=string`); zero dates as `null`. Columns absent
//! from an image are left out.

use super::value::{base64, enum_name, is_absent, timestamp_rfc3339, Typed};
use super::{column_name, write_line};
use crate::proto::{self, value::Kind};
use serde::ser::{Serialize, SerializeMap, Serializer};

struct Envelope<'a> {
    record: &'a proto::Record,
    change: &'a proto::TableChange,
    row: &'a proto::Row,
    index: usize,
    now_ms: i64,
}

struct Image<'a>(&'a [proto::Column], &'a proto::Image);

struct Dbz<'a>(&'a proto::Value);

fn days_since_epoch(date: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    Some((d - epoch).num_days())
}

fn datetime_micros(dt: &str) -> Option<i64> {
    let days = days_since_epoch(dt)?;
    let time = dt.get(11..).unwrap_or("00:00:00");
    let mut parts = time.splitn(2, '.');
    let hms = parts.next()?;
    let frac = parts.next().unwrap_or("");
    let mut it = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1_000_000) + micros)
}

fn time_micros(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let mut parts = body.splitn(2, '.');
    let hms = parts.next()?;
    let frac = parts.next().unwrap_or("");
    let mut it = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    let v = (h * 3600 + m * 60 + s) * 1_000_000 + micros;
    Some(if neg { -v } else { v })
}

impl Serialize for Dbz<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.kind {
            Some(Kind::Date(d)) => match days_since_epoch(d) {
                Some(n) => s.serialize_i64(n),
                None => s.serialize_unit(),
            },
            Some(Kind::Datetime(dt)) => match datetime_micros(dt) {
                Some(us) => {
                    let fsp = dt.split_once('.').map(|(_, f)| f.len()).unwrap_or(0);
                    if fsp > 3 {
                        s.serialize_i64(us)
                    } else {
                        s.serialize_i64(us.div_euclid(1000))
                    }
                }
                None => s.serialize_unit(),
            },
            Some(Kind::Time(t)) => match time_micros(t) {
                Some(us) => s.serialize_i64(us),
                None => s.serialize_unit(),
            },
            Some(Kind::Timestamp(t)) => {
                if t.seconds == 0 && t.micros == 0 {
                    s.serialize_unit()
                } else {
                    s.serialize_str(&timestamp_rfc3339(t))
                }
            }
            Some(Kind::Bit(b)) => {
                if b.width == 1 {
                    s.serialize_bool(b.bits != 0)
                } else {
                    let n = (b.width as usize).div_ceil(8).clamp(1, 8);
                    s.serialize_str(&base64(b.bits.to_le_bytes().get(..n).unwrap_or_default()))
                }
            }
            Some(Kind::Json(j)) => s.serialize_str(j),
            Some(Kind::Enum(e)) => match enum_name(e) {
                Some(name) => s.serialize_str(name),
                None => s.serialize_str(&e.index.to_string()),
            },
            Some(Kind::Set(set)) => s.serialize_str(&set.names.join(",")),
            _ => Typed(self.0).serialize(s),
        }
    }
}

impl Serialize for Image<'_> {
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
            m.serialize_entry(&*name, &Dbz(v))?;
        }
        m.end()
    }
}

impl Serialize for Envelope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.change;
        let pos = self.record.position.clone().unwrap_or_default();
        let mut m = s.serialize_map(Some(5))?;
        match &self.row.before {
            Some(b) => m.serialize_entry("before", &Image(&c.columns, b))?,
            None => m.serialize_entry("before", &())?,
        }
        match &self.row.after {
            Some(a) => m.serialize_entry("after", &Image(&c.columns, a))?,
            None => m.serialize_entry("after", &())?,
        }
        let gtid = (!self.record.gtid.is_empty()).then_some(&self.record.gtid);
        let query = (!c.query.is_empty()).then_some(&c.query);
        // Debezium's snapshot marker: "last" on the snapshot's final row.
        let snapshot = if c.kind != proto::ChangeKind::Read as i32 {
            "false"
        } else if self
            .record
            .snapshot_chunk
            .as_ref()
            .is_some_and(|s| s.snapshot_done)
            && self
                .record
                .changes
                .last()
                .is_some_and(|l| std::ptr::eq(l, c))
            && self.index + 1 == c.rows.len()
        {
            "last"
        } else {
            "true"
        };
        m.serialize_entry(
            "source",
            &serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "connector": "mysql",
                "name": "sluice",
                "ts_ms": self.record.commit_time_ms,
                "snapshot": snapshot,
                "db": c.schema,
                "table": c.table,
                "server_id": self.record.server_id,
                "gtid": gtid,
                "file": pos.file,
                "pos": pos.start,
                "row": self.index,
                "query": query,
            }),
        )?;
        let op = match proto::ChangeKind::try_from(c.kind) {
            Ok(proto::ChangeKind::Insert) => "c",
            Ok(proto::ChangeKind::Update) => "u",
            Ok(proto::ChangeKind::Delete) => "d",
            // A snapshot read (and anything unknown): Debezium's read.
            _ => "r",
        };
        m.serialize_entry("op", op)?;
        m.serialize_entry("ts_ms", &self.now_ms)?;
        m.end()
    }
}

fn envelopes(record: &proto::Record, now_ms: i64) -> impl Iterator<Item = Envelope<'_>> {
    record.changes.iter().flat_map(move |change| {
        change
            .rows
            .iter()
            .enumerate()
            .map(move |(index, row)| Envelope {
                record,
                change,
                row,
                index,
                now_ms,
            })
    })
}

/// One envelope per row of the record (DDL and statements have none).
pub fn values(record: &proto::Record, _offset: u64, now_ms: i64) -> Vec<serde_json::Value> {
    envelopes(record, now_ms)
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect()
}

/// Append one envelope per row, one per line.
pub fn write(record: &proto::Record, _offset: u64, now_ms: i64, out: &mut Vec<u8>) {
    for e in envelopes(record, now_ms) {
        write_line(&e, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_conversions() {
        assert_eq!(days_since_epoch("1970-01-02"), Some(1));
        assert_eq!(days_since_epoch("0000-00-00"), None);
        assert_eq!(datetime_micros("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(time_micros("-838:59:59.000001"), Some(-3_020_399_000_001));
    }
}
