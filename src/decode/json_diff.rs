//! PARTIAL_UPDATE_ROWS JSON diffs (MySQL 8.0 `binlog_row_value_options=
//! PARTIAL_JSON`): apply the logged operations to the before image's
//! JSON to rebuild the full after image.
//!
//! ```text
//! diff        repeated until the end of the column value:
//!   op        1 byte: 0 REPLACE, 1 INSERT, 2 REMOVE
//!   path      packed length, then a JSON path text such as $.a."b c"[2]
//!   value     (not for REMOVE) packed length, then a binary JSON value
//! ```
//!
//! Object keys are kept in MySQL's stored order (shorter keys first, then
//! bytewise), so an inserted key lands where the server put it.

use super::json_binary::{self, Json};
use super::DecodeError;
use crate::proto;
use crate::wire::Reader;

fn bad(detail: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        what: "JSON diff",
        detail: detail.into(),
    }
}

#[derive(Debug, PartialEq)]
enum Leg {
    Key(String),
    Index(usize),
    Last,
}

/// Apply `diff` to the binary JSON `old` (the before image's value) and
/// return the after image as JSON text.
pub fn apply(old: Option<&[u8]>, diff: &[u8]) -> Result<String, DecodeError> {
    let old =
        old.ok_or_else(|| bad("the before image lacks the JSON column the diff applies to"))?;
    let mut doc = json_binary::parse(old)?;
    let mut c = Reader::new(diff);
    while !c.is_empty() {
        let op = c.u8("JSON diff operation")?;
        let path = c.lenenc_bytes("JSON diff path")?;
        let path = std::str::from_utf8(path).map_err(|_| bad("path is not UTF-8"))?;
        let legs = parse_path(path)?;
        match op {
            0 | 1 => {
                let v = c.lenenc_bytes("JSON diff value")?;
                let v = json_binary::parse(v)?;
                set(&mut doc, &legs, v, op == 1, path)?;
            }
            2 => remove(&mut doc, &legs, path)?,
            other => return Err(bad(format!("unknown operation {other}"))),
        }
    }
    let mut out = String::new();
    json_binary::write_json(&doc, &mut out);
    Ok(out)
}

/// The operations of `diff` as they are, for when the before image does
/// not carry the document to apply them to.
pub fn ops(diff: &[u8]) -> Result<proto::JsonDiff, DecodeError> {
    let mut c = Reader::new(diff);
    let mut ops = Vec::new();
    while !c.is_empty() {
        let op = c.u8("JSON diff operation")?;
        let path = c.lenenc_bytes("JSON diff path")?;
        let path = String::from_utf8(path.to_vec()).map_err(|_| bad("path is not UTF-8"))?;
        let (kind, value) = match op {
            0 | 1 => {
                let v = c.lenenc_bytes("JSON diff value")?;
                let kind = if op == 0 {
                    proto::JsonDiffKind::JsonReplace
                } else {
                    proto::JsonDiffKind::JsonInsert
                };
                (kind, json_binary::to_text(v)?)
            }
            2 => (proto::JsonDiffKind::JsonRemove, String::new()),
            other => return Err(bad(format!("unknown operation {other}"))),
        };
        ops.push(proto::JsonDiffOp {
            kind: kind as i32,
            path,
            value,
        });
    }
    Ok(proto::JsonDiff { ops })
}

fn parse_path(p: &str) -> Result<Vec<Leg>, DecodeError> {
    let b = p.as_bytes();
    if b.first() != Some(&b'$') {
        return Err(bad(format!("path {p:?} does not start with $")));
    }
    let mut legs = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                if b.get(i) == Some(&b'"') {
                    let (key, next) = quoted_key(p, i + 1)?;
                    legs.push(Leg::Key(key));
                    i = next;
                } else {
                    let start = i;
                    while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                        i += 1;
                    }
                    if start == i {
                        return Err(bad(format!("empty key in {p:?}")));
                    }
                    legs.push(Leg::Key(p[start..i].to_string()));
                }
            }
            b'[' => {
                let end = p[i..]
                    .find(']')
                    .ok_or_else(|| bad(format!("unclosed [ in {p:?}")))?
                    + i;
                let inner = p[i + 1..end].trim();
                if inner == "last" {
                    legs.push(Leg::Last);
                } else {
                    let n: usize = inner
                        .parse()
                        .map_err(|_| bad(format!("array index {inner:?} in {p:?}")))?;
                    legs.push(Leg::Index(n));
                }
                i = end + 1;
            }
            b' ' => i += 1,
            _ => {
                // `i` is on a character boundary: every leg ends at an
                // ASCII byte.
                let ch = p[i..].chars().next().unwrap_or_default();
                return Err(bad(format!("unexpected {ch:?} in path {p:?}")));
            }
        }
    }
    Ok(legs)
}

/// A quoted key leg, `p[from..]` being what follows its opening quote:
/// the key and the index just past its closing quote. The server writes
/// such keys with JSON string rules (RFC 8259 section 7: `\"` `\\` `\/`
/// `\b` `\f` `\n` `\r` `\t`, `\uXXXX` with UTF-16 surrogate pairs for
/// characters beyond U+FFFF, no raw control characters), so anything else
/// is an error rather than a guess. Walks characters, never bytes, so an
/// escape before a multi-byte character cannot split it.
fn quoted_key(p: &str, from: usize) -> Result<(String, usize), DecodeError> {
    let mut key = String::new();
    let mut chars = p[from..].char_indices();
    while let Some((at, ch)) = chars.next() {
        match ch {
            '"' => return Ok((key, from + at + 1)),
            '\\' => {
                let (_, e) = chars
                    .next()
                    .ok_or_else(|| bad(format!("unterminated key in {p:?}")))?;
                key.push(match e {
                    '"' | '\\' | '/' => e,
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => unicode_escape(&mut chars, p)?,
                    other => return Err(bad(format!("bad escape \\{other} in path {p:?}"))),
                });
            }
            c if u32::from(c) < 0x20 => {
                return Err(bad(format!("unescaped control character in path {p:?}")))
            }
            c => key.push(c),
        }
    }
    Err(bad(format!("unterminated key in {p:?}")))
}

/// The character of a `\uXXXX` escape whose `\u` has been read; a high
/// surrogate must be followed by `\u` and a low one.
fn unicode_escape(chars: &mut std::str::CharIndices<'_>, p: &str) -> Result<char, DecodeError> {
    let unit = hex4(chars, p)?;
    let code = match unit {
        0xD800..=0xDBFF => {
            let low = match (chars.next(), chars.next()) {
                (Some((_, '\\')), Some((_, 'u'))) => hex4(chars, p)?,
                _ => {
                    return Err(bad(format!(
                        "unpaired surrogate \\u{unit:04X} in path {p:?}"
                    )))
                }
            };
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(bad(format!(
                    "unpaired surrogate \\u{unit:04X} in path {p:?}"
                )));
            }
            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        }
        0xDC00..=0xDFFF => {
            return Err(bad(format!(
                "unpaired surrogate \\u{unit:04X} in path {p:?}"
            )))
        }
        _ => unit,
    };
    // Cannot fail: surrogates are handled above and pairs stay <= U+10FFFF.
    char::from_u32(code).ok_or_else(|| bad(format!("bad \\u escape in path {p:?}")))
}

fn hex4(chars: &mut std::str::CharIndices<'_>, p: &str) -> Result<u32, DecodeError> {
    let mut v = 0;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|(_, c)| c.to_digit(16))
            .ok_or_else(|| bad(format!("\\u needs four hex digits in path {p:?}")))?;
        v = v * 16 + d;
    }
    Ok(v)
}

fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

fn walk<'a>(doc: &'a mut Json, legs: &[Leg], path: &str) -> Result<&'a mut Json, DecodeError> {
    let mut cur = doc;
    for leg in legs {
        cur = match (cur, leg) {
            (Json::Object(o), Leg::Key(k)) => o
                .iter_mut()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v)
                .ok_or_else(|| bad(format!("path {path:?} not in the before image")))?,
            (Json::Array(a), Leg::Index(n)) => a
                .get_mut(*n)
                .ok_or_else(|| bad(format!("path {path:?} not in the before image")))?,
            (Json::Array(a), Leg::Last) => a
                .last_mut()
                .ok_or_else(|| bad(format!("path {path:?} not in the before image")))?,
            _ => return Err(bad(format!("path {path:?} does not match the document"))),
        };
    }
    Ok(cur)
}

fn set(doc: &mut Json, legs: &[Leg], v: Json, insert: bool, path: &str) -> Result<(), DecodeError> {
    let Some((last, parent)) = legs.split_last() else {
        *doc = v;
        return Ok(());
    };
    let parent = walk(doc, parent, path)?;
    match (parent, last) {
        (Json::Object(o), Leg::Key(k)) => {
            if let Some(slot) = o.iter_mut().find(|(x, _)| x == k) {
                slot.1 = v;
            } else if insert {
                let at = o.partition_point(|(x, _)| key_order(x, k).is_lt());
                o.insert(at, (k.clone(), v));
            } else {
                return Err(bad(format!("REPLACE of missing {path:?}")));
            }
        }
        (Json::Array(a), Leg::Index(n)) => {
            if insert {
                let at = (*n).min(a.len());
                a.insert(at, v);
            } else {
                *a.get_mut(*n)
                    .ok_or_else(|| bad(format!("REPLACE of missing {path:?}")))? = v;
            }
        }
        (Json::Array(a), Leg::Last) => {
            if insert {
                a.push(v);
            } else {
                *a.last_mut()
                    .ok_or_else(|| bad(format!("REPLACE of missing {path:?}")))? = v;
            }
        }
        _ => return Err(bad(format!("path {path:?} does not match the document"))),
    }
    Ok(())
}

fn remove(doc: &mut Json, legs: &[Leg], path: &str) -> Result<(), DecodeError> {
    let Some((last, parent)) = legs.split_last() else {
        return Err(bad("REMOVE of the whole document"));
    };
    let parent = walk(doc, parent, path)?;
    match (parent, last) {
        (Json::Object(o), Leg::Key(k)) => {
            let at = o.iter().position(|(x, _)| x == k);
            at.map(|at| o.remove(at))
                .ok_or_else(|| bad(format!("REMOVE of missing {path:?}")))?;
        }
        (Json::Array(a), Leg::Index(n)) if *n < a.len() => {
            a.remove(*n);
        }
        (Json::Array(a), Leg::Last) if !a.is_empty() => {
            a.pop();
        }
        _ => return Err(bad(format!("REMOVE of missing {path:?}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Vec<u8> {
        let mut v = vec![0x0C, text.len() as u8];
        v.extend(text.as_bytes());
        v
    }

    fn small_obj(keys: &[&str], vals: &[i16]) -> Vec<u8> {
        let n = keys.len();
        let header = 4 + n * 4 + n * 3;
        let mut o = Vec::new();
        o.extend((n as u16).to_le_bytes());
        o.extend(0u16.to_le_bytes());
        let mut off = header;
        for k in keys {
            o.extend((off as u16).to_le_bytes());
            o.extend((k.len() as u16).to_le_bytes());
            off += k.len();
        }
        for v in vals {
            o.push(0x05);
            o.extend(v.to_le_bytes());
        }
        for k in keys {
            o.extend(k.as_bytes());
        }
        let size = o.len() as u16;
        o[2..4].copy_from_slice(&size.to_le_bytes());
        let mut d = vec![0x00];
        d.extend(o);
        d
    }

    fn op(code: u8, path: &str, value: Option<&[u8]>) -> Vec<u8> {
        let mut d = vec![code, path.len() as u8];
        d.extend(path.as_bytes());
        if let Some(v) = value {
            d.push(v.len() as u8);
            d.extend(v);
        }
        d
    }

    #[test]
    fn replace_insert_remove() {
        let old = small_obj(&["a", "bb"], &[1, 2]);
        let mut diff = op(0, "$.a", Some(&s("x")));
        diff.extend(op(1, "$.c", Some(&[0x04, 1])));
        diff.extend(op(2, "$.bb", None));
        assert_eq!(
            apply(Some(&old), &diff).unwrap(),
            r#"{"a": "x", "c": true}"#
        );
        let diff = op(1, "$.\"z y\"", Some(&[0x04, 0]));
        assert_eq!(
            apply(Some(&old), &diff).unwrap(),
            r#"{"a": 1, "bb": 2, "z y": null}"#
        );
    }

    #[test]
    fn bad_diffs_are_errors() {
        let old = small_obj(&["a"], &[1]);
        assert!(apply(Some(&old), &op(0, "$.nope", Some(&[0x04, 0]))).is_err());
        assert!(apply(Some(&old), &op(2, "$[3]", None)).is_err());
        assert!(apply(Some(&old), &op(9, "$.a", None)).is_err());
        assert!(apply(None, &op(2, "$.a", None)).is_err());
        assert!(apply(Some(&old), &[0, 9, b'$']).is_err());
        assert_eq!(parse_path("$[last]").unwrap(), vec![Leg::Last]);
        assert!(ops(&op(0, "$.a", Some(&[0x04, 9]))).is_err());
    }

    #[test]
    fn quoted_keys_use_json_string_escapes() {
        let key = |p: &str| parse_path(p).map(|l| l.into_iter().next());
        let k = |s: &str| Some(Leg::Key(s.to_string()));
        assert_eq!(key(r#"$."a\u00e9b""#).unwrap(), k("a\u{e9}b"));
        assert_eq!(key(r#"$."\uD83D\uDE00x""#).unwrap(), k("\u{1F600}x"));
        assert_eq!(key(r#"$."q\"\\\/\n""#).unwrap(), k("q\"\\/\n"));
        assert_eq!(key("$.\"é\\tü\"").unwrap(), k("é\tü"));
        // A backslash before a multi-byte character used to split it.
        for bad_path in [
            "$.\"\\é\"",
            "$.\"\\\u{1F600}\"",
            r#"$."\uD83D""#,
            r#"$."\uDE00""#,
            r#"$."\uD83D\u0041""#,
            r#"$."\u12""#,
            r#"$."\u12é4""#,
            r#"$."\x""#,
            "$.\"a\u{1}\"",
            "$.\"a\\",
            "$é",
        ] {
            assert!(parse_path(bad_path).is_err(), "{bad_path:?}");
        }
        assert_eq!(key("$.a€").unwrap(), k("a€"));
    }

    #[test]
    fn ops_without_a_before_image() {
        let mut diff = op(0, "$.age", Some(&[0x05, 26, 0]));
        diff.extend(op(2, "$.x", None));
        let d = ops(&diff).unwrap();
        assert_eq!(d.ops.len(), 2);
        assert_eq!(
            (d.ops[0].path.as_str(), d.ops[0].value.as_str()),
            ("$.age", "26")
        );
        assert_eq!(d.ops[1].kind, proto::JsonDiffKind::JsonRemove as i32);
    }
}
