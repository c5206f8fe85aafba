//! Rendering typed values for the output formats: sluice JSON (typed),
//! Canal's strings, and the small encoders they need (base64, Latin-1,
//! Java's float text).

use crate::proto::{self, value::Kind};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A value in sluice's JSON:
///
/// | kind | JSON |
/// |---|---|
/// | NULL | `null` |
/// | int, uint, float, double, year | number |
/// | decimal, date, time, datetime, text | string (every digit / as MySQL prints it) |
/// | timestamp | string, RFC 3339 UTC with the column's fsp: `"2024-03-31T01:30:00.123Z"` |
/// | bytes | string, base64 |
/// | json | the JSON itself (a string if it does not parse) |
/// | bit | number |
/// | enum | string (name), or number (index) without names |
/// | set | array of names, or number (bitmask) without names |
/// | geometry | `{"srid": n, "wkb": base64}` |
/// | vector | array of numbers |
/// | partial JSON update (MINIMAL image) | `{"json_diff": [{"op": "replace", "path": "$.a", "value": 1}]}` |
///
/// Absent columns (MINIMAL row image) are left out of the row object.
pub struct Typed<'a>(pub &'a proto::Value);

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.kind {
            None | Some(Kind::Null(_)) | Some(Kind::Absent(_)) => s.serialize_unit(),
            Some(Kind::Int(v)) => s.serialize_i64(*v),
            Some(Kind::Uint(v)) => s.serialize_u64(*v),
            Some(Kind::Float(v)) => s.serialize_f32(*v),
            Some(Kind::Double(v)) => s.serialize_f64(*v),
            Some(Kind::Decimal(v))
            | Some(Kind::Date(v))
            | Some(Kind::Time(v))
            | Some(Kind::Datetime(v))
            | Some(Kind::Text(v)) => s.serialize_str(v),
            Some(Kind::Timestamp(t)) => s.serialize_str(&timestamp_rfc3339(t)),
            Some(Kind::Bytes(b)) => s.serialize_str(&base64(b)),
            // Embedded verbatim (validated, never re-parsed into f64), so
            // big numbers keep every digit.
            Some(Kind::Json(j)) => match serde_json::value::RawValue::from_string(j.clone()) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_str(j),
            },
            Some(Kind::Bit(b)) => s.serialize_u64(b.bits),
            Some(Kind::Enum(e)) => match enum_name(e) {
                Some(name) => s.serialize_str(name),
                None => s.serialize_u32(e.index),
            },
            Some(Kind::Set(set)) => {
                if set.names.is_empty() && set.bits != 0 {
                    s.serialize_u64(set.bits)
                } else {
                    set.names.serialize(s)
                }
            }
            Some(Kind::Year(y)) => s.serialize_u32(*y),
            Some(Kind::Geometry(g)) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("srid", &g.srid)?;
                m.serialize_entry("wkb", &base64(&g.wkb))?;
                m.end()
            }
            Some(Kind::Vector(v)) => v.values.serialize(s),
            Some(Kind::JsonDiff(d)) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("json_diff", &json_diff_ops(d))?;
                m.end()
            }
        }
    }
}

/// An ENUM value's text, as the server's `SELECT` shows it: the member's
/// name (which may be the empty string: `ENUM('','a')`), `''` for the
/// empty error value (index 0); `None` when the members are not known, so
/// only the index can be given.
pub fn enum_name(e: &proto::Enum) -> Option<&str> {
    match (&e.name, e.index) {
        (Some(name), _) => Some(name),
        (None, 0) => Some(""),
        (None, _) => None,
    }
}

/// True when the column is missing from the image.
pub fn is_absent(v: &proto::Value) -> bool {
    matches!(v.kind, Some(Kind::Absent(_)))
}

/// True for SQL NULL.
pub fn is_null(v: &proto::Value) -> bool {
    matches!(v.kind, None | Some(Kind::Null(_)))
}

/// The text Canal puts in a FlatMessage for a value; `None` for NULL.
pub fn canal_text(v: &proto::Value) -> Option<String> {
    Some(match &v.kind {
        None | Some(Kind::Null(_)) | Some(Kind::Absent(_)) => return None,
        Some(Kind::Int(v)) => v.to_string(),
        Some(Kind::Uint(v)) => v.to_string(),
        Some(Kind::Float(v)) => java_float(f64::from(*v), true),
        Some(Kind::Double(v)) => java_float(*v, false),
        Some(Kind::Decimal(v))
        | Some(Kind::Date(v))
        | Some(Kind::Time(v))
        | Some(Kind::Datetime(v))
        | Some(Kind::Text(v))
        | Some(Kind::Json(v)) => v.clone(),
        Some(Kind::Timestamp(t)) => timestamp_plain(t),
        Some(Kind::Bytes(b)) => latin1(b),
        Some(Kind::Bit(b)) => b.bits.to_string(),
        Some(Kind::Enum(e)) => match enum_name(e) {
            Some(name) => name.to_string(),
            None => e.index.to_string(),
        },
        Some(Kind::Set(s)) => {
            if s.names.is_empty() && s.bits != 0 {
                s.bits.to_string()
            } else {
                s.names.join(",")
            }
        }
        Some(Kind::Year(y)) => y.to_string(),
        Some(Kind::Geometry(g)) => {
            let mut raw = g.srid.to_le_bytes().to_vec();
            raw.extend_from_slice(&g.wkb);
            latin1(&raw)
        }
        Some(Kind::Vector(v)) => {
            let parts: Vec<String> = v
                .values
                .iter()
                .map(|f| java_float(f64::from(*f), true))
                .collect();
            format!("[{}]", parts.join(","))
        }
        Some(Kind::JsonDiff(d)) => serde_json::Value::Array(json_diff_ops(d)).to_string(),
    })
}

/// A partial JSON update as `[{"op": "replace", "path": "$.a", "value": 1}]`.
pub fn json_diff_ops(d: &proto::JsonDiff) -> Vec<serde_json::Value> {
    d.ops
        .iter()
        .map(|op| {
            let kind = match proto::JsonDiffKind::try_from(op.kind) {
                Ok(proto::JsonDiffKind::JsonInsert) => "insert",
                Ok(proto::JsonDiffKind::JsonRemove) => "remove",
                _ => "replace",
            };
            let mut o = serde_json::json!({"op": kind, "path": op.path});
            if !op.value.is_empty() {
                o["value"] = serde_json::from_str(&op.value)
                    .unwrap_or_else(|_| serde_json::Value::String(op.value.clone()));
            }
            o
        })
        .collect()
}

/// Bytes as a string of the Latin-1 characters with those codes (what
/// Java's `new String(bytes, ISO_8859_1)` gives, as Canal renders binary).
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let idx = |shift: u32| char::from(T[((n >> shift) & 63) as usize]);
        out.push(idx(18));
        out.push(idx(12));
        out.push(if chunk.len() > 1 { idx(6) } else { '=' });
        out.push(if chunk.len() > 2 { idx(0) } else { '=' });
    }
    out
}

/// Java's `Float.toString` / `Double.toString` text: shortest digits,
/// `1.0`, `0.001`, `1.0E7`, `1.0E-4`.
pub fn java_float(v: f64, single: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Shortest round-trip digits in scientific form, e.g. "1.2345e6".
    let sci = if single {
        format!("{:e}", v as f32)
    } else {
        format!("{v:e}")
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let a = v.abs();
    if (1e-3..1e7).contains(&a) {
        let plain = if single {
            format!("{}", v as f32)
        } else {
            format!("{v}")
        };
        if plain.contains('.') {
            plain
        } else {
            plain + ".0"
        }
    } else {
        let m = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{m}E{exp}")
    }
}

fn fraction(t: &proto::Timestamp) -> String {
    if t.fsp == 0 {
        return String::new();
    }
    let digits = format!("{:06}", t.micros.min(999_999));
    format!(".{}", digits.get(..(t.fsp.min(6) as usize)).unwrap_or(""))
}

fn civil(seconds: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm (public domain facts).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, secs / 3600, (secs / 60) % 60, secs % 60)
}

/// `2024-03-31T01:30:00.123Z`
pub fn timestamp_rfc3339(t: &proto::Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(t.seconds);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}Z",
        fraction(t)
    )
}

/// `2024-03-31 01:30:00.123` (UTC), as Canal prints timestamps.
pub fn timestamp_plain(t: &proto::Timestamp) -> String {
    if t.seconds == 0 && t.micros == 0 {
        return format!("0000-00-00 00:00:00{}", fraction(t));
    }
    let (y, mo, d, h, mi, s) = civil(t.seconds);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{}", fraction(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_enum_member_is_a_name_not_an_index() {
        let e = |index, name: Option<&str>| proto::Value {
            kind: Some(Kind::Enum(proto::Enum {
                index,
                name: name.map(Into::into),
            })),
        };
        let json = |v: &proto::Value| serde_json::to_string(&Typed(v)).unwrap();
        // ENUM('','a'): member 1 is ''.
        assert_eq!(canal_text(&e(1, Some(""))).as_deref(), Some(""));
        assert_eq!(json(&e(1, Some(""))), "\"\"");
        // Index 0, the error value, is '' with or without names.
        assert_eq!(canal_text(&e(0, None)).as_deref(), Some(""));
        assert_eq!(json(&e(0, None)), "\"\"");
        // Without names only the index can be given.
        assert_eq!(canal_text(&e(2, None)).as_deref(), Some("2"));
        assert_eq!(json(&e(2, None)), "2");
        assert_eq!(json(&e(2, Some("a"))), "\"a\"");
    }

    #[test]
    fn json_keeps_every_digit() {
        let v = proto::Value {
            kind: Some(Kind::Json(
                r#"{"n":123456789012345678901234567890.5}"#.into(),
            )),
        };
        let out = serde_json::to_string(&Typed(&v)).unwrap();
        assert_eq!(out, r#"{"n":123456789012345678901234567890.5}"#);
        let bad = proto::Value {
            kind: Some(Kind::Json("{not json".into())),
        };
        assert_eq!(
            serde_json::to_string(&Typed(&bad)).unwrap(),
            r#""{not json""#
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn java_float_text() {
        assert_eq!(java_float(1.0, true), "1.0");
        assert_eq!(java_float(1.5, false), "1.5");
        assert_eq!(java_float(1e10, false), "1.0E10");
        assert_eq!(java_float(0.0001, false), "1.0E-4");
        assert_eq!(java_float(0.1, true), "0.1");
        assert_eq!(java_float(123456.7, false), "123456.7");
    }

    #[test]
    fn timestamps() {
        let t = proto::Timestamp {
            seconds: 1_711_848_600,
            micros: 123_000,
            fsp: 3,
        };
        assert_eq!(timestamp_rfc3339(&t), "2024-03-31T01:30:00.123Z");
        assert_eq!(timestamp_plain(&t), "2024-03-31 01:30:00.123");
        let epoch = proto::Timestamp {
            seconds: -1,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(timestamp_rfc3339(&epoch), "1969-12-31T23:59:59Z");
    }
}
