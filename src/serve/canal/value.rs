//! Column values as Canal renders them: every value becomes a string in
//! `Column.value`, with a `java.sql.Types` code in `Column.sqlType`.
//!
//! Canal's clients (and the code people wrote against them) parse these
//! strings, so the rendering follows Canal's, type by type:
//!
//! | MySQL type | `value` | `sqlType` |
//! |---|---|---|
//! | TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT | decimal; unsigned values print unsigned | TINYINT / SMALLINT / INTEGER / INTEGER / BIGINT, one size up when an unsigned value exceeds the signed range (DECIMAL for BIGINT) |
//! | FLOAT, DOUBLE | Java's `Float.toString` / `Double.toString` (`1.0`, `1.0E10`) | REAL / DOUBLE |
//! | DECIMAL | every digit, plain notation | DECIMAL |
//! | DATE, TIME, DATETIME | `yyyy-MM-dd`, `HH:mm:ss[.f]`, `yyyy-MM-dd HH:mm:ss[.f]`, fraction to the column's precision | DATE / TIME / TIMESTAMP |
//! | TIMESTAMP | like DATETIME, in the server's time zone; 0 is `0000-00-00 00:00:00` | TIMESTAMP |
//! | YEAR | four digits, `0000` for the zero year | VARCHAR |
//! | CHAR, VARCHAR | the text | CHAR / VARCHAR |
//! | TEXT family | the text | CLOB |
//! | BINARY, VARBINARY, BLOB family, GEOMETRY | the bytes as an ISO-8859-1 string (one char per byte) | BLOB |
//! | BIT | the bits as an unsigned decimal number | BIT |
//! | ENUM | the 1-based index | INTEGER |
//! | SET | the bit mask as a decimal number | BIT |
//! | JSON | the JSON text | LONGVARCHAR |
//!
//! GEOMETRY is rendered as MySQL stores it: the SRID (4 bytes, little
//! endian) followed by the WKB. VECTOR, which Canal predates, is rendered as
//! a JSON array of its floats with `sqlType` VARCHAR.

use crate::proto::{value::Kind, Column, Timestamp, Value};

/// `java.sql.Types` codes.
pub mod sql_types {
    pub const BIT: i32 = -7;
    pub const TINYINT: i32 = -6;
    pub const BIGINT: i32 = -5;
    pub const LONGVARCHAR: i32 = -1;
    pub const NULL: i32 = 0;
    pub const CHAR: i32 = 1;
    pub const DECIMAL: i32 = 3;
    pub const INTEGER: i32 = 4;
    pub const SMALLINT: i32 = 5;
    pub const REAL: i32 = 7;
    pub const DOUBLE: i32 = 8;
    pub const VARCHAR: i32 = 12;
    pub const DATE: i32 = 91;
    pub const TIME: i32 = 92;
    pub const TIMESTAMP: i32 = 93;
    pub const OTHER: i32 = 1111;
    pub const BLOB: i32 = 2004;
    pub const CLOB: i32 = 2005;
}

/// MySQL's binlog column type codes (`MYSQL_TYPE_*`).
pub mod type_codes {
    pub const DECIMAL: u32 = 0;
    pub const TINY: u32 = 1;
    pub const SHORT: u32 = 2;
    pub const LONG: u32 = 3;
    pub const FLOAT: u32 = 4;
    pub const DOUBLE: u32 = 5;
    pub const NULL: u32 = 6;
    pub const TIMESTAMP: u32 = 7;
    pub const LONGLONG: u32 = 8;
    pub const INT24: u32 = 9;
    pub const DATE: u32 = 10;
    pub const TIME: u32 = 11;
    pub const DATETIME: u32 = 12;
    pub const YEAR: u32 = 13;
    pub const NEWDATE: u32 = 14;
    pub const VARCHAR: u32 = 15;
    pub const BIT: u32 = 16;
    pub const TIMESTAMP2: u32 = 17;
    pub const DATETIME2: u32 = 18;
    pub const TIME2: u32 = 19;
    pub const VECTOR: u32 = 242;
    pub const JSON: u32 = 245;
    pub const NEWDECIMAL: u32 = 246;
    pub const ENUM: u32 = 247;
    pub const SET: u32 = 248;
    pub const TINY_BLOB: u32 = 249;
    pub const MEDIUM_BLOB: u32 = 250;
    pub const LONG_BLOB: u32 = 251;
    pub const BLOB: u32 = 252;
    pub const VAR_STRING: u32 = 253;
    pub const STRING: u32 = 254;
    pub const GEOMETRY: u32 = 255;
}

/// The time zone TIMESTAMP values are rendered in (Canal renders them in
/// its JVM's zone, which is normally the database server's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum TimeZone {
    /// The zone of the machine sluice runs on.
    #[default]
    Local,
    /// UTC.
    Utc,
    /// A named IANA zone.
    Named(chrono_tz::Tz),
}

impl TimeZone {
    /// Parses `local`, `UTC` or an IANA name such as `Asia/Shanghai`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "local" | "LOCAL" | "Local" => Ok(TimeZone::Local),
            "UTC" | "utc" | "Z" => Ok(TimeZone::Utc),
            name => name
                .parse::<chrono_tz::Tz>()
                .map(TimeZone::Named)
                .map_err(|e| format!("unknown time zone {name:?}: {e}")),
        }
    }
}

/// A column value rendered for Canal: `None` value means SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub value: Option<String>,
    pub sql_type: i32,
}

/// Whether a column holds binary data (rendered ISO-8859-1, `BLOB`) rather
/// than text.
fn is_binary(column: &Column) -> bool {
    let t = column.mysql_type.to_ascii_lowercase();
    column.charset.eq_ignore_ascii_case("binary") || t.contains("binary") || t.contains("blob")
}

/// The `sqlType` Canal gives a column of this kind, before the unsigned
/// promotion that depends on the value.
pub fn base_sql_type(column: &Column) -> i32 {
    use sql_types as j;
    use type_codes as t;
    match column.type_code {
        t::DECIMAL | t::NEWDECIMAL => j::DECIMAL,
        t::TINY => j::TINYINT,
        t::SHORT => j::SMALLINT,
        t::LONG | t::INT24 => j::INTEGER,
        t::LONGLONG => j::BIGINT,
        t::FLOAT => j::REAL,
        t::DOUBLE => j::DOUBLE,
        t::NULL => j::NULL,
        t::TIMESTAMP | t::TIMESTAMP2 | t::DATETIME | t::DATETIME2 => j::TIMESTAMP,
        t::DATE | t::NEWDATE => j::DATE,
        t::TIME | t::TIME2 => j::TIME,
        t::YEAR => j::VARCHAR,
        t::BIT | t::SET => j::BIT,
        t::ENUM => j::INTEGER,
        t::JSON => j::LONGVARCHAR,
        t::GEOMETRY => j::BLOB,
        t::VECTOR => j::VARCHAR,
        t::TINY_BLOB | t::MEDIUM_BLOB | t::LONG_BLOB | t::BLOB => {
            if is_binary(column) {
                j::BLOB
            } else {
                j::CLOB
            }
        }
        t::VARCHAR | t::VAR_STRING => {
            if is_binary(column) {
                j::BLOB
            } else {
                j::VARCHAR
            }
        }
        t::STRING => {
            if is_binary(column) {
                j::BLOB
            } else {
                j::CHAR
            }
        }
        _ => j::OTHER,
    }
}

/// A partial JSON update (MINIMAL image, no stored document) as the SQL
/// expression that applies it, as Canal shows it:
/// `JSON_REPLACE(`doc`, '$.a', 1)`.
fn json_diff_expression(column: &str, diff: &crate::proto::JsonDiff) -> String {
    let mut expr = format!("`{column}`");
    for op in &diff.ops {
        let path = op.path.replace('\\', "\\\\").replace('\'', "\\'");
        expr = match op.kind() {
            crate::proto::JsonDiffKind::JsonReplace => {
                format!("JSON_REPLACE({expr}, '{path}', {})", op.value)
            }
            crate::proto::JsonDiffKind::JsonInsert => {
                format!("JSON_INSERT({expr}, '{path}', {})", op.value)
            }
            crate::proto::JsonDiffKind::JsonRemove => format!("JSON_REMOVE({expr}, '{path}')"),
        };
    }
    expr
}

/// Renders one value of `column`. Returns `None` for a value absent from
/// the row image (Canal leaves such columns out).
pub fn render(column: &Column, value: &Value, tz: TimeZone) -> Option<Rendered> {
    use sql_types as j;
    let base = base_sql_type(column);
    let kind = value.kind.as_ref()?;
    let (text, sql_type) = match kind {
        Kind::Absent(_) => return None,
        Kind::Null(_) => (None, base),
        Kind::Int(v) => (Some(v.to_string()), base),
        Kind::Uint(v) => {
            let promoted = match column.type_code {
                type_codes::TINY if *v > i8::MAX as u64 => j::SMALLINT,
                type_codes::SHORT if *v > i16::MAX as u64 => j::INTEGER,
                type_codes::INT24 if *v > 0x7f_ffff => j::INTEGER,
                type_codes::LONG if *v > i32::MAX as u64 => j::BIGINT,
                type_codes::LONGLONG if *v > i64::MAX as u64 => j::DECIMAL,
                _ => base,
            };
            (Some(v.to_string()), promoted)
        }
        Kind::Float(v) => (Some(java_float(f64::from(*v), true)), base),
        Kind::Double(v) => (Some(java_float(*v, false)), base),
        Kind::Decimal(s) | Kind::Date(s) | Kind::Time(s) | Kind::Datetime(s) | Kind::Json(s) => {
            (Some(s.clone()), base)
        }
        Kind::Timestamp(ts) => (Some(render_timestamp(ts, tz)), base),
        Kind::JsonDiff(diff) => (Some(json_diff_expression(&column.name, diff)), base),
        Kind::Text(s) => (Some(s.clone()), base),
        Kind::Bytes(b) => {
            let sql = if base == j::CLOB || base == j::VARCHAR || base == j::CHAR {
                // Text whose charset the decoder did not know: Canal would
                // still treat it as bytes.
                j::BLOB
            } else {
                base
            };
            (Some(latin1(b)), sql)
        }
        Kind::Bit(b) => (Some(b.bits.to_string()), base),
        Kind::Enum(e) => (Some(e.index.to_string()), base),
        Kind::Set(s) => (Some(s.bits.to_string()), base),
        Kind::Year(y) => {
            let text = if *y == 0 {
                "0000".to_string()
            } else {
                y.to_string()
            };
            (Some(text), base)
        }
        Kind::Geometry(g) => {
            let mut raw = Vec::with_capacity(4 + g.wkb.len());
            raw.extend_from_slice(&g.srid.to_le_bytes());
            raw.extend_from_slice(&g.wkb);
            (Some(latin1(&raw)), base)
        }
        Kind::Vector(v) => {
            let mut s = String::from("[");
            for (i, f) in v.values.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&java_float(f64::from(*f), true));
            }
            s.push(']');
            (Some(s), base)
        }
    };
    Some(Rendered {
        value: text,
        sql_type,
    })
}

pub use crate::format::value::{java_float, latin1};

/// A TIMESTAMP in `tz` as `yyyy-MM-dd HH:mm:ss[.f]`, with as many fraction
/// digits as the column declares. The zero timestamp stays zero.
pub fn render_timestamp(ts: &Timestamp, tz: TimeZone) -> String {
    use chrono::{DateTime, Utc};
    let fsp = ts.fsp.min(6) as usize;
    let mut out = if ts.seconds == 0 && ts.micros == 0 {
        "0000-00-00 00:00:00".to_string()
    } else {
        match DateTime::<Utc>::from_timestamp(ts.seconds, 0) {
            Some(utc) => {
                const F: &str = "%Y-%m-%d %H:%M:%S";
                match tz {
                    TimeZone::Utc => utc.format(F).to_string(),
                    TimeZone::Local => utc.with_timezone(&chrono::Local).format(F).to_string(),
                    TimeZone::Named(z) => utc.with_timezone(&z).format(F).to_string(),
                }
            }
            // Out of chrono's range: cannot come from MySQL; print the raw
            // number rather than fail.
            None => ts.seconds.to_string(),
        }
    };
    if fsp > 0 {
        let digits = format!("{:06}", ts.micros.min(999_999));
        out.push('.');
        out.push_str(digits.get(..fsp).unwrap_or(&digits));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Bit, Enum, Geometry, Set};

    fn col(type_code: u32, mysql_type: &str, charset: &str) -> Column {
        Column {
            name: "c".into(),
            mysql_type: mysql_type.into(),
            type_code,
            charset: charset.into(),
            ..Default::default()
        }
    }

    fn v(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    #[test]
    fn java_double_formatting() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e10, "1.0E10"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-1.5e-7, "-1.5E-7"),
            (100.0, "100.0"),
        ];
        for (x, want) in cases {
            assert_eq!(java_float(*x, false), *want, "{x}");
        }
        assert_eq!(java_float(f64::from(0.1f32), true), "0.1");
        assert_eq!(java_float(f64::from(3.4028235e38f32), true), "3.4028235E38");
        assert_eq!(java_float(f64::NAN, false), "NaN");
        assert_eq!(java_float(f64::NEG_INFINITY, false), "-Infinity");
        assert_eq!(java_float(-0.0, false), "-0.0");
    }

    #[test]
    fn unsigned_values_promote_the_sql_type_only_past_the_signed_range() {
        let c = col(type_codes::LONG, "int(10) unsigned", "");
        let small = render(&c, &v(Kind::Uint(5)), TimeZone::Utc).unwrap();
        assert_eq!(
            (small.value.as_deref(), small.sql_type),
            (Some("5"), sql_types::INTEGER)
        );
        let big = render(&c, &v(Kind::Uint(4_294_967_295)), TimeZone::Utc).unwrap();
        assert_eq!(
            (big.value.as_deref(), big.sql_type),
            (Some("4294967295"), sql_types::BIGINT)
        );
        let c = col(type_codes::LONGLONG, "bigint(20) unsigned", "");
        let max = render(&c, &v(Kind::Uint(u64::MAX)), TimeZone::Utc).unwrap();
        assert_eq!(max.value.as_deref(), Some("18446744073709551615"));
        assert_eq!(max.sql_type, sql_types::DECIMAL);
    }

    #[test]
    fn timestamps_render_in_the_configured_zone_with_the_column_precision() {
        let ts = Timestamp {
            seconds: 1_700_000_000,
            micros: 123_456,
            fsp: 3,
        };
        assert_eq!(
            render_timestamp(&ts, TimeZone::Utc),
            "2023-11-14 22:13:20.123"
        );
        let shanghai = TimeZone::parse("Asia/Shanghai").unwrap();
        assert_eq!(render_timestamp(&ts, shanghai), "2023-11-15 06:13:20.123");
        let zero = Timestamp {
            seconds: 0,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(
            render_timestamp(&zero, TimeZone::Utc),
            "0000-00-00 00:00:00"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn binary_renders_as_latin1_text_and_blob() {
        let c = col(type_codes::VARCHAR, "varbinary(16)", "binary");
        let r = render(&c, &v(Kind::Bytes(vec![0x41, 0xff, 0x00])), TimeZone::Utc).unwrap();
        assert_eq!(r.value.as_deref(), Some("A\u{ff}\u{0}"));
        assert_eq!(r.sql_type, sql_types::BLOB);
        let c = col(type_codes::BLOB, "text", "utf8mb4");
        let r = render(&c, &v(Kind::Text("héllo".into())), TimeZone::Utc).unwrap();
        assert_eq!(
            (r.value.as_deref(), r.sql_type),
            (Some("héllo"), sql_types::CLOB)
        );
    }

    #[test]
    fn other_kinds_render_like_canal() {
        let bit = render(
            &col(type_codes::BIT, "bit(12)", ""),
            &v(Kind::Bit(Bit {
                bits: 0xabc,
                width: 12,
            })),
            TimeZone::Utc,
        )
        .unwrap();
        assert_eq!(
            (bit.value.as_deref(), bit.sql_type),
            (Some("2748"), sql_types::BIT)
        );
        let en = render(
            &col(type_codes::ENUM, "enum('a','b')", ""),
            &v(Kind::Enum(Enum {
                index: 2,
                name: Some("b".into()),
            })),
            TimeZone::Utc,
        )
        .unwrap();
        assert_eq!(
            (en.value.as_deref(), en.sql_type),
            (Some("2"), sql_types::INTEGER)
        );
        let set = render(
            &col(type_codes::SET, "set('a','b')", ""),
            &v(Kind::Set(Set {
                bits: 3,
                names: vec![],
            })),
            TimeZone::Utc,
        )
        .unwrap();
        assert_eq!(set.value.as_deref(), Some("3"));
        let year = render(
            &col(type_codes::YEAR, "year(4)", ""),
            &v(Kind::Year(0)),
            TimeZone::Utc,
        );
        assert_eq!(year.unwrap().value.as_deref(), Some("0000"));
        let geo = render(
            &col(type_codes::GEOMETRY, "point", ""),
            &v(Kind::Geometry(Geometry {
                srid: 1,
                wkb: vec![1, 2],
            })),
            TimeZone::Utc,
        )
        .unwrap();
        assert_eq!(geo.value.as_deref(), Some("\u{1}\u{0}\u{0}\u{0}\u{1}\u{2}"));
        let null = render(
            &col(type_codes::LONG, "int(11)", ""),
            &v(Kind::Null(true)),
            TimeZone::Utc,
        );
        assert_eq!(null.unwrap().value, None);
        let absent = render(
            &col(type_codes::LONG, "int(11)", ""),
            &v(Kind::Absent(true)),
            TimeZone::Utc,
        );
        assert!(absent.is_none());
        assert!(render(
            &col(type_codes::LONG, "int(11)", ""),
            &Value { kind: None },
            TimeZone::Utc
        )
        .is_none());
    }
}
