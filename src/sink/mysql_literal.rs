//! SQL literals for the MySQL mirror: every [`Value`] of the change event
//! model rendered as text a MySQL/MariaDB session (utf8mb4, `time_zone =
//! '+00:00'`, without `NO_BACKSLASH_ESCAPES`) reads back as the same value.
//! Kept apart from the statement building so each stays small.

use crate::proto::{value::Kind, Value};
use std::fmt::Write as _;

/// A value as SQL.
#[derive(Debug, PartialEq)]
pub enum Literal {
    Sql(String),
    Null,
    Absent,
    Unsupported(&'static str),
}

/// `s` as a quoted string literal: `\`, `'`, NUL, newlines and Ctrl-Z
/// escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 3);
    out.push_str("X'");
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out.push('\'');
    out
}

/// Render one value.
pub fn literal(value: &Value) -> Literal {
    let Some(kind) = &value.kind else {
        return Literal::Absent;
    };
    Literal::Sql(match kind {
        Kind::Null(_) => return Literal::Null,
        Kind::Absent(_) => return Literal::Absent,
        Kind::Int(v) => v.to_string(),
        Kind::Uint(v) => v.to_string(),
        Kind::Float(v) if v.is_finite() => format!("{v:e}"),
        Kind::Double(v) if v.is_finite() => format!("{v:e}"),
        Kind::Float(_) | Kind::Double(_) => return Literal::Unsupported("not a finite number"),
        Kind::Decimal(s) | Kind::Date(s) | Kind::Time(s) | Kind::Datetime(s) | Kind::Json(s) => {
            quote(s)
        }
        Kind::Text(s) => quote(s),
        Kind::Timestamp(t) => {
            if t.seconds == 0 && t.micros == 0 {
                quote("0000-00-00 00:00:00")
            } else {
                match chrono::DateTime::from_timestamp(t.seconds, t.micros.saturating_mul(1000)) {
                    Some(dt) => quote(&dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
                    None => return Literal::Unsupported("timestamp out of range"),
                }
            }
        }
        Kind::Bytes(b) => hex(b),
        Kind::Bit(b) => b.bits.to_string(),
        Kind::Enum(e) => match &e.name {
            Some(name) => quote(name),
            None => e.index.to_string(),
        },
        Kind::Set(s) => {
            if s.names.is_empty() {
                s.bits.to_string()
            } else {
                quote(&s.names.join(","))
            }
        }
        Kind::Year(y) => y.to_string(),
        Kind::Geometry(g) => format!("ST_GeomFromWKB({}, {})", hex(&g.wkb), g.srid),
        Kind::Vector(v) => {
            let bytes: Vec<u8> = v.values.iter().flat_map(|f| f.to_le_bytes()).collect();
            hex(&bytes)
        }
        Kind::JsonDiff(_) => {
            return Literal::Unsupported(
                "partial JSON update (binlog_row_value_options=PARTIAL_JSON) is not applied",
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(
            literal(&v(Kind::Text("a'b\\c\0\n".into()))),
            Literal::Sql(r"'a\'b\\c\0\n'".into())
        );
        assert_eq!(
            literal(&v(Kind::Bytes(vec![0, 0xff, 0x27]))),
            Literal::Sql("X'00FF27'".into())
        );
        assert_eq!(literal(&v(Kind::Null(true))), Literal::Null);
        assert_eq!(literal(&v(Kind::Absent(true))), Literal::Absent);
        assert_eq!(
            literal(&v(Kind::Decimal("-1.50".into()))),
            Literal::Sql("'-1.50'".into())
        );
        assert_eq!(literal(&v(Kind::Int(-7))), Literal::Sql("-7".into()));
        assert_eq!(
            literal(&v(Kind::Timestamp(crate::proto::Timestamp {
                seconds: 86400,
                micros: 5,
                fsp: 6
            }))),
            Literal::Sql("'1970-01-02 00:00:00.000005'".into())
        );
        assert_eq!(
            literal(&v(Kind::Double(f64::NAN))),
            Literal::Unsupported("not a finite number")
        );
    }
}
