//! MySQL's binary JSON (the JSON column type, MySQL 5.7+) to a tree and to
//! JSON text as MySQL prints it (`{"a": 1, "b": [true, null]}`).
//! MariaDB stores JSON as text and never uses this format.
//!
//! ```text
//! value      type (1 byte) then the value of that type
//! types      0x00 small object  0x01 large object  0x02 small array
//!            0x03 large array   0x04 literal (0 null, 1 true, 2 false)
//!            0x05 int16 0x06 uint16 0x07 int32 0x08 uint32 0x09 int64
//!            0x0A uint64 0x0B double 0x0C string 0x0F opaque
//! object     count, size (2 bytes each when small, 4 when large),
//!            count key entries (offset, u16 length),
//!            count value entries (type byte, offset or inlined value),
//!            then keys and values; offsets count from the count field
//! array      count, size, count value entries, then values
//! inlined    literal, int16, uint16 always; int32, uint32 when large
//! string     length as 7 bits per byte, low first (high bit = more),
//!            then UTF-8 bytes
//! opaque     MySQL type byte, length (as for strings), bytes: DECIMAL is
//!            precision, scale, binary decimal; DATE/TIME/DATETIME/
//!            TIMESTAMP an 8-byte LE packed temporal value
//! ```
//!
//! Offsets may point anywhere in the value, so decoding bounds every read
//! and charges each visited node to a budget tied to the input length: a
//! crafted document whose entries share sub-trees cannot expand without
//! limit, and nesting is capped at [`MAX_DEPTH`].

use super::column_type::code;
use super::decimal;
use super::value::temporal;
use super::DecodeError;
use crate::wire::le_uint;

/// Deepest nesting accepted (MySQL itself allows 100).
pub const MAX_DEPTH: usize = 150;

/// A JSON document, object keys in stored order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    /// A number or scalar kept as its exact text (DECIMAL).
    Number(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

fn bad(detail: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        what: "binary JSON",
        detail: detail.into(),
    }
}

/// Parse a whole binary JSON value (an empty value is JSON null, as the
/// server writes for an empty JSON column).
pub fn parse(data: &[u8]) -> Result<Json, DecodeError> {
    let Some((&t, body)) = data.split_first() else {
        return Ok(Json::Null);
    };
    let mut budget = data.len() + 64;
    parse_value(t, body, 0, &mut budget)
}

/// Binary JSON straight to text.
pub fn to_text(data: &[u8]) -> Result<String, DecodeError> {
    let j = parse(data)?;
    let mut out = String::with_capacity(data.len() + 16);
    write_json(&j, &mut out);
    Ok(out)
}

fn get(data: &[u8], at: usize, n: usize) -> Result<&[u8], DecodeError> {
    at.checked_add(n)
        .and_then(|end| data.get(at..end))
        .ok_or_else(|| {
            bad(format!(
                "{n} bytes at {at} past the end ({} bytes)",
                data.len()
            ))
        })
}

fn parse_value(t: u8, data: &[u8], depth: usize, budget: &mut usize) -> Result<Json, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| bad("document expands beyond its size"))?;
    match t {
        0x00 => container(data, false, true, depth, budget),
        0x01 => container(data, true, true, depth, budget),
        0x02 => container(data, false, false, depth, budget),
        0x03 => container(data, true, false, depth, budget),
        0x04 => literal(*get(data, 0, 1)?.first().unwrap_or(&0xFF)),
        0x05 => Ok(Json::Int(
            i64::from(le_uint(get(data, 0, 2)?) as u16 as i16),
        )),
        0x06 => Ok(Json::Uint(le_uint(get(data, 0, 2)?))),
        0x07 => Ok(Json::Int(
            i64::from(le_uint(get(data, 0, 4)?) as u32 as i32),
        )),
        0x08 => Ok(Json::Uint(le_uint(get(data, 0, 4)?))),
        0x09 => Ok(Json::Int(le_uint(get(data, 0, 8)?) as i64)),
        0x0A => Ok(Json::Uint(le_uint(get(data, 0, 8)?))),
        0x0B => Ok(Json::Double(f64::from_bits(le_uint(get(data, 0, 8)?)))),
        0x0C => {
            let (len, n) = varlen(data)?;
            let b = get(data, n, len)?;
            Ok(Json::String(String::from_utf8_lossy(b).into_owned()))
        }
        0x0F => opaque(data),
        other => Err(bad(format!("unknown value type {other:#04x}"))),
    }
}

fn literal(b: u8) -> Result<Json, DecodeError> {
    match b {
        0 => Ok(Json::Null),
        1 => Ok(Json::Bool(true)),
        2 => Ok(Json::Bool(false)),
        other => Err(bad(format!("unknown literal {other}"))),
    }
}

/// A string/opaque length: 7 bits per byte, low group first; at most 5 bytes.
fn varlen(data: &[u8]) -> Result<(usize, usize), DecodeError> {
    let mut len: u64 = 0;
    for i in 0..5 {
        let b = *data
            .get(i)
            .ok_or_else(|| bad("string length past the end"))?;
        len |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let len = usize::try_from(len).map_err(|_| bad("string length too large"))?;
            return Ok((len, i + 1));
        }
    }
    Err(bad("string length longer than 5 bytes"))
}

fn container(
    data: &[u8],
    large: bool,
    object: bool,
    depth: usize,
    budget: &mut usize,
) -> Result<Json, DecodeError> {
    let w = if large { 4 } else { 2 };
    let count = le_uint(get(data, 0, w)?) as usize;
    let size = le_uint(get(data, w, w)?) as usize;
    if size > data.len() {
        return Err(bad(format!(
            "container size {size} but {} bytes left",
            data.len()
        )));
    }
    let data = &data[..size];
    let key_entry = w + 2;
    let value_entry = 1 + w;
    let header = 2 * w;
    let keys_len = if object {
        count.checked_mul(key_entry)
    } else {
        Some(0)
    };
    let values_at = keys_len.and_then(|k| k.checked_add(header));
    let entries_end = values_at.and_then(|v| {
        count
            .checked_mul(value_entry)
            .and_then(|x| x.checked_add(v))
    });
    match entries_end {
        Some(end) if end <= size => {}
        _ => return Err(bad(format!("{count} entries do not fit in {size} bytes"))),
    }
    let values_at = values_at.unwrap_or(0);
    let mut keys = Vec::new();
    if object {
        keys.reserve(count);
        for i in 0..count {
            let e = header + i * key_entry;
            let off = le_uint(get(data, e, w)?) as usize;
            let len = le_uint(get(data, e + w, 2)?) as usize;
            let k = get(data, off, len)?;
            keys.push(String::from_utf8_lossy(k).into_owned());
        }
    }
    let mut values = Vec::with_capacity(count);
    for i in 0..count {
        let e = values_at + i * value_entry;
        let t = get(data, e, 1)?[0];
        let inline = match t {
            0x04..=0x06 => true,
            0x07 | 0x08 => large,
            _ => false,
        };
        let v = if inline {
            parse_value(t, get(data, e + 1, w)?, depth + 1, budget)?
        } else {
            let off = le_uint(get(data, e + 1, w)?) as usize;
            let sub = data
                .get(off..)
                .ok_or_else(|| bad(format!("value offset {off} past the end")))?;
            parse_value(t, sub, depth + 1, budget)?
        };
        values.push(v);
    }
    if object {
        Ok(Json::Object(keys.into_iter().zip(values).collect()))
    } else {
        Ok(Json::Array(values))
    }
}

fn opaque(data: &[u8]) -> Result<Json, DecodeError> {
    let t = *get(data, 0, 1)?.first().unwrap_or(&0);
    let (len, n) = varlen(&data[1..])?;
    let b = get(data, 1 + n, len)?;
    match t {
        code::NEWDECIMAL => {
            let (p, s) = match b {
                [p, s, ..] => (*p, *s),
                _ => return Err(bad("opaque DECIMAL without precision and scale")),
            };
            let mut out = String::new();
            let size = decimal::binary_size(p, s)?;
            decimal::decode_into(get(b, 2, size)?, p, s, &mut out)?;
            Ok(Json::Number(out))
        }
        code::DATE | code::DATETIME | code::TIMESTAMP | code::TIME => {
            let packed = le_uint(get(b, 0, 8)?) as i64;
            Ok(Json::String(match t {
                code::DATE => temporal::packed_datetime_text(packed, false),
                code::TIME => temporal::packed_time_text(packed),
                _ => temporal::packed_datetime_text(packed, true),
            }))
        }
        _ => {
            // MySQL prints other opaque values as base64 with their type.
            Ok(Json::String(format!("base64:type{t}:{}", base64(b))))
        }
    }
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(A[((v >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// JSON text with MySQL's spacing: `", "` between items, `": "` after keys.
pub fn write_json(j: &Json, out: &mut String) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::Int(v) => out.push_str(&v.to_string()),
        Json::Uint(v) => out.push_str(&v.to_string()),
        Json::Double(v) => out.push_str(&format_double(*v)),
        Json::Number(s) => out.push_str(s),
        Json::String(s) => write_string(s, out),
        Json::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Json::Object(o) => {
            out.push('{');
            for (i, (k, v)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

fn format_double(v: f64) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    let s = v.to_string();
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(to_text(&[0x04, 0]).unwrap(), "null");
        assert_eq!(to_text(&[0x04, 1]).unwrap(), "true");
        assert_eq!(to_text(&[0x05, 0xFE, 0xFF]).unwrap(), "-2");
        assert_eq!(to_text(&[0x0C, 3, b'a', b'"', b'c']).unwrap(), "\"a\\\"c\"");
        let mut d = vec![0x0B];
        d.extend(1.5f64.to_le_bytes());
        assert_eq!(to_text(&d).unwrap(), "1.5");
        assert_eq!(to_text(&[]).unwrap(), "null");
    }

    #[test]
    fn small_object_with_nested_array() {
        // {"a": 1, "b": [true]} as a small object.
        // header: count=2, size; keys at 2*2+2*4 = 4+8 = 12? compute below.
        let mut o = Vec::new();
        o.extend(2u16.to_le_bytes()); // count
        o.extend(0u16.to_le_bytes()); // size, patched
                                      // key entries (offset, len): keys start after value entries.
        let key_at = 4 + 2 * 4 + 2 * 3;
        o.extend((key_at as u16).to_le_bytes());
        o.extend(1u16.to_le_bytes());
        o.extend((key_at as u16 + 1).to_le_bytes());
        o.extend(1u16.to_le_bytes());
        // value entries: int16 1 inlined; array at offset after keys.
        o.push(0x05);
        o.extend(1u16.to_le_bytes());
        o.push(0x02);
        o.extend((key_at as u16 + 2).to_le_bytes());
        o.extend(b"ab");
        // small array [true]: count 1, size 4+3, literal true inline.
        o.extend(1u16.to_le_bytes());
        o.extend(7u16.to_le_bytes());
        o.push(0x04);
        o.extend(1u16.to_le_bytes());
        let size = o.len() as u16;
        o[2..4].copy_from_slice(&size.to_le_bytes());
        let mut doc = vec![0x00];
        doc.extend(o);
        assert_eq!(to_text(&doc).unwrap(), r#"{"a": 1, "b": [true]}"#);
        // Every truncation is an error, not a panic.
        for n in 1..doc.len() {
            assert!(to_text(&doc[..n]).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn opaque_decimal_and_datetime() {
        let mut d = vec![0x0F, code::NEWDECIMAL, 5, 5, 2, 0x80, 0x0C, 30];
        assert_eq!(to_text(&d).unwrap(), "12.30");
        d.clear();
        // 2015-01-15 23:24:25: packed = int << 24.
        let ym: i64 = 2015 * 13 + 1;
        let int = (((ym << 5) | 15) << 17) | (23 << 12) | (24 << 6) | 25;
        d.extend([0x0F, code::DATETIME, 8]);
        d.extend((int << 24).to_le_bytes());
        assert_eq!(to_text(&d).unwrap(), "\"2015-01-15 23:24:25.000000\"");
    }

    #[test]
    fn shared_subtrees_cannot_explode() {
        // An array of 2 entries both pointing at itself would recurse; one
        // pointing at offset 0 forever must stop at the depth/budget.
        let mut a = vec![0x02];
        a.extend(2u16.to_le_bytes());
        a.extend(10u16.to_le_bytes());
        a.extend([0x02, 0, 0, 0x02, 0, 0]);
        assert!(to_text(&a).is_err());
    }
}
