//! One column value of a row image, from its binlog bytes to a typed
//! [`proto::Value`]. The layout of each type is documented beside its
//! decoder; temporal types live in [`temporal`].
//!
//! ```text
//! TINY/SHORT/INT24/LONG/LONGLONG  1/2/3/4/8 bytes LE, sign from metadata
//! FLOAT, DOUBLE                   4 / 8 bytes LE IEEE 754
//! YEAR                            1 byte: 0, or year - 1900
//! NEWDECIMAL                      see decimal.rs
//! CHAR/VARCHAR                    1-byte length (max < 256) or 2-byte LE
//! BLOB/TEXT/JSON/GEOMETRY/VECTOR  1..4-byte LE length (metadata), bytes
//! BIT(n)                          (n + 7) / 8 bytes, big-endian
//! ENUM                            1 or 2 bytes LE index (1-based)
//! SET                             1..8 bytes LE bitmask
//! GEOMETRY                        4-byte LE SRID, then WKB
//! VECTOR                          4-byte LE IEEE 754 floats
//! ```

pub mod temporal;

use super::charset::Charset;
use super::column_type::ColKind;
use super::table_map::ColumnDef;
use super::{decimal, json_binary, DecodeError};
use crate::proto;
use crate::proto::value::Kind;
use crate::wire::{le_uint, Reader};

/// Decode the value of `col` at the cursor.
#[inline]
pub fn decode(c: &mut Reader<'_>, col: &ColumnDef) -> Result<Kind, DecodeError> {
    Ok(match col.kind {
        ColKind::Tiny => {
            let b = c.u8("TINYINT value")?;
            if col.unsigned {
                Kind::Uint(u64::from(b))
            } else {
                Kind::Int(i64::from(b as i8))
            }
        }
        ColKind::Short => {
            let v = c.u16("SMALLINT value")?;
            if col.unsigned {
                Kind::Uint(u64::from(v))
            } else {
                Kind::Int(i64::from(v as i16))
            }
        }
        ColKind::Int24 => {
            let v = c.uint_le(3, "MEDIUMINT value")? as u32;
            if col.unsigned {
                Kind::Uint(u64::from(v))
            } else {
                Kind::Int(i64::from(((v << 8) as i32) >> 8))
            }
        }
        ColKind::Long => {
            let v = c.u32("INT value")?;
            if col.unsigned {
                Kind::Uint(u64::from(v))
            } else {
                Kind::Int(i64::from(v as i32))
            }
        }
        ColKind::LongLong => {
            let v = c.u64("BIGINT value")?;
            if col.unsigned {
                Kind::Uint(v)
            } else {
                Kind::Int(v as i64)
            }
        }
        ColKind::Float => Kind::Float(f32::from_bits(c.u32("FLOAT value")?)),
        ColKind::Double => Kind::Double(f64::from_bits(c.u64("DOUBLE value")?)),
        ColKind::Null => Kind::Null(true),
        ColKind::Year => {
            let y = c.u8("YEAR value")?;
            Kind::Year(if y == 0 { 0 } else { 1900 + u32::from(y) })
        }
        ColKind::Date => Kind::Date(temporal::date(c)?),
        ColKind::Time => Kind::Time(temporal::time_old(c)?),
        ColKind::Datetime => Kind::Datetime(temporal::datetime_old(c)?),
        ColKind::Timestamp => Kind::Timestamp(temporal::timestamp_old(c)?),
        ColKind::Time2 { fsp } => Kind::Time(temporal::time2(c, fsp)?),
        ColKind::Datetime2 { fsp } => Kind::Datetime(temporal::datetime2(c, fsp)?),
        ColKind::Timestamp2 { fsp } => Kind::Timestamp(temporal::timestamp2(c, fsp)?),
        ColKind::NewDecimal { precision, scale } => {
            let n = decimal::binary_size(precision, scale)?;
            let b = c.take(n, "DECIMAL value")?;
            let mut s = String::with_capacity(usize::from(precision) + 2);
            decimal::decode_into(b, precision, scale, &mut s)?;
            Kind::Decimal(s)
        }
        ColKind::String {
            len_bytes,
            fixed,
            max,
        } => {
            let len = c.uint_le(usize::from(len_bytes), "string length")? as usize;
            let b = c.take(len, "string value")?;
            match col.charset {
                Charset::Binary => {
                    // BINARY(n) is stored without its trailing 0x00 padding.
                    let mut v = b.to_vec();
                    if fixed && v.len() < usize::from(max) {
                        v.resize(usize::from(max), 0);
                    }
                    Kind::Bytes(v)
                }
                Charset::Unknown => match std::str::from_utf8(b) {
                    Ok(s) => Kind::Text(s.to_owned()),
                    Err(_) => Kind::Bytes(b.to_vec()),
                },
                cs => text(cs, b),
            }
        }
        ColKind::Blob { len_bytes } => {
            let b = lp_bytes(c, len_bytes, "BLOB/TEXT")?;
            match col.charset {
                Charset::Binary | Charset::Unknown => Kind::Bytes(b.to_vec()),
                cs => text(cs, b),
            }
        }
        ColKind::Json { len_bytes } => {
            let b = lp_bytes(c, len_bytes, "JSON")?;
            Kind::Json(json_binary::to_text(b)?)
        }
        ColKind::Geometry { len_bytes } => {
            let b = lp_bytes(c, len_bytes, "GEOMETRY")?;
            if b.is_empty() {
                Kind::Geometry(proto::Geometry::default())
            } else if b.len() < 4 {
                return Err(DecodeError::Truncated {
                    what: "GEOMETRY SRID",
                    need: 4,
                    have: b.len(),
                });
            } else {
                Kind::Geometry(proto::Geometry {
                    srid: le_uint(&b[..4]) as u32,
                    wkb: b[4..].to_vec(),
                })
            }
        }
        ColKind::Vector { len_bytes } => {
            let b = lp_bytes(c, len_bytes, "VECTOR")?;
            if b.len() % 4 != 0 {
                return Err(DecodeError::Invalid {
                    what: "VECTOR value",
                    detail: format!("{} bytes is not a whole number of floats", b.len()),
                });
            }
            Kind::Vector(proto::Vector {
                values: b
                    .chunks_exact(4)
                    .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                    .collect(),
            })
        }
        ColKind::Bit { bits } => {
            let n = usize::from(bits).div_ceil(8);
            let v = c.uint_be(n, "BIT value")?;
            Kind::Bit(proto::Bit {
                bits: v,
                width: u32::from(bits),
            })
        }
        ColKind::Enum { pack } => {
            let idx = c.uint_le(usize::from(pack.clamp(1, 2)), "ENUM value")? as u32;
            let name = col
                .enum_values
                .as_ref()
                .and_then(|v| v.get((idx as usize).wrapping_sub(1)))
                .cloned();
            Kind::Enum(proto::Enum { index: idx, name })
        }
        ColKind::Set { pack } => {
            let bits = c.uint_le(usize::from(pack.clamp(1, 8)), "SET value")?;
            let names = match &col.set_values {
                Some(vals) => vals
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
                    .map(|(_, s)| s.clone())
                    .collect(),
                None => Vec::new(),
            };
            Kind::Set(proto::Set { bits, names })
        }
        ColKind::Unsupported { code } => {
            return Err(DecodeError::Unsupported(format!(
                "column type {code} cannot be decoded from a row image (no length in its metadata)"
            )))
        }
    })
}

#[inline]
fn lp_bytes<'a>(
    c: &mut Reader<'a>,
    len_bytes: u8,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if !(1..=4).contains(&len_bytes) {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("length prefix of {len_bytes} bytes"),
        });
    }
    let len = c.uint_le(usize::from(len_bytes), what)? as usize;
    Ok(c.take(len, what)?)
}

#[inline]
fn text(cs: Charset, b: &[u8]) -> Kind {
    match cs.decode(b) {
        Some(s) => Kind::Text(s.into_owned()),
        None => Kind::Bytes(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::charset::charset_of_collation;
    use crate::decode::column_type::{code, plan};

    fn col(t: u8, meta: &[u8], unsigned: bool, collation: Option<u32>) -> ColumnDef {
        let (type_code, kind) = plan(t, meta);
        ColumnDef {
            type_code,
            kind,
            unsigned,
            collation,
            charset: collation.map(charset_of_collation).unwrap_or_default(),
            ..ColumnDef::default()
        }
    }

    fn one(bytes: &[u8], c: &ColumnDef) -> Kind {
        let mut cur = Reader::new(bytes);
        let k = decode(&mut cur, c).unwrap();
        assert!(cur.is_empty(), "left {} bytes", cur.remaining());
        k
    }

    #[test]
    fn integers_at_their_limits() {
        let t = |ty, b: &[u8], u| one(b, &col(ty, &[], u, None));
        assert_eq!(t(code::TINY, &[0x80], false), Kind::Int(-128));
        assert_eq!(t(code::TINY, &[0xFF], true), Kind::Uint(255));
        assert_eq!(t(code::SHORT, &[0x00, 0x80], false), Kind::Int(-32768));
        assert_eq!(
            t(code::INT24, &[0x00, 0x00, 0x80], false),
            Kind::Int(-8_388_608)
        );
        assert_eq!(
            t(code::INT24, &[0xFF, 0xFF, 0xFF], true),
            Kind::Uint(16_777_215)
        );
        assert_eq!(
            t(code::LONG, &[0xFF, 0xFF, 0xFF, 0x7F], false),
            Kind::Int(i64::from(i32::MAX))
        );
        assert_eq!(
            t(code::LONG, &[0xFF; 4], true),
            Kind::Uint(u64::from(u32::MAX))
        );
        assert_eq!(
            t(code::LONGLONG, &[0, 0, 0, 0, 0, 0, 0, 0x80], false),
            Kind::Int(i64::MIN)
        );
        assert_eq!(t(code::LONGLONG, &[0xFF; 8], true), Kind::Uint(u64::MAX));
    }

    #[test]
    fn floats_year_bit() {
        let f = col(code::FLOAT, &[4], false, None);
        assert_eq!(one(&1.5f32.to_le_bytes(), &f), Kind::Float(1.5));
        let d = col(code::DOUBLE, &[8], false, None);
        assert_eq!(one(&(-2.25f64).to_le_bytes(), &d), Kind::Double(-2.25));
        let y = col(code::YEAR, &[], false, None);
        assert_eq!(one(&[0], &y), Kind::Year(0));
        assert_eq!(one(&[255], &y), Kind::Year(2155));
        let b = col(code::BIT, &[0, 8], false, None);
        assert_eq!(
            one(&[0x80, 0, 0, 0, 0, 0, 0, 1], &b),
            Kind::Bit(proto::Bit {
                bits: 0x8000_0000_0000_0001,
                width: 64
            })
        );
        let b = col(code::BIT, &[3, 0], false, None);
        assert_eq!(one(&[5], &b), Kind::Bit(proto::Bit { bits: 5, width: 3 }));
    }

    #[test]
    fn strings_by_charset() {
        let v = col(code::VARCHAR, &[40, 0], false, Some(45));
        assert_eq!(one(b"\x04\xF0\x9F\x98\x80", &v), Kind::Text("😀".into()));
        let l = col(code::VARCHAR, &[0x2C, 1], false, Some(8));
        assert_eq!(one(b"\x04\x00caf\xE9", &l), Kind::Text("café".into()));
        let g = col(code::STRING, &[0xFE, 20], false, Some(28));
        assert_eq!(one(b"\x02\xC4\xE3", &g), Kind::Text("你".into()));
        let bin = col(code::STRING, &[0xFE, 4], false, Some(63));
        assert_eq!(one(b"\x02a\x00", &bin), Kind::Bytes(b"a\0\0\0".to_vec()));
        let blob = col(code::BLOB, &[2], false, Some(63));
        assert_eq!(
            one(b"\x03\x00\x00\x01\x00", &blob),
            Kind::Bytes(vec![0, 1, 0])
        );
        let text = col(code::BLOB, &[4], false, Some(33));
        assert_eq!(one(b"\x02\x00\x00\x00hi", &text), Kind::Text("hi".into()));
        let unknown = col(code::BLOB, &[1], false, None);
        assert_eq!(one(b"\x02hi", &unknown), Kind::Bytes(b"hi".to_vec()));
        // Bad bytes for the set stay bytes.
        assert_eq!(one(b"\x01\xFF", &v), Kind::Bytes(vec![0xFF]));
    }

    #[test]
    fn enum_set_with_and_without_names() {
        let mut e = col(code::STRING, &[0xF7, 1], false, None);
        assert_eq!(
            one(&[2], &e),
            Kind::Enum(proto::Enum {
                index: 2,
                name: None
            })
        );
        e.enum_values = Some(vec!["x".into(), "y".into()]);
        assert_eq!(
            one(&[2], &e),
            Kind::Enum(proto::Enum {
                index: 2,
                name: Some("y".into())
            })
        );
        assert_eq!(
            one(&[0], &e),
            Kind::Enum(proto::Enum {
                index: 0,
                name: None
            })
        );
        // A member that is the empty string is a known name.
        e.enum_values = Some(vec!["".into(), "a".into()]);
        assert_eq!(
            one(&[1], &e),
            Kind::Enum(proto::Enum {
                index: 1,
                name: Some(String::new())
            })
        );
        let mut s = col(code::STRING, &[0xF8, 1], false, None);
        s.set_values = Some(vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(
            one(&[0b101], &s),
            Kind::Set(proto::Set {
                bits: 5,
                names: vec!["a".into(), "c".into()]
            })
        );
    }

    #[test]
    fn geometry_vector_decimal() {
        let g = col(code::GEOMETRY, &[4], false, None);
        let mut b = 9u32.to_le_bytes().to_vec();
        b.extend(4326u32.to_le_bytes());
        b.extend([1, 1, 0, 0, 0]);
        assert_eq!(
            one(&b, &g),
            Kind::Geometry(proto::Geometry {
                srid: 4326,
                wkb: vec![1, 1, 0, 0, 0]
            })
        );
        let v = col(code::VECTOR, &[4], false, None);
        let mut b = 8u32.to_le_bytes().to_vec();
        b.extend(1.0f32.to_le_bytes());
        b.extend((-0.5f32).to_le_bytes());
        assert_eq!(
            one(&b, &v),
            Kind::Vector(proto::Vector {
                values: vec![1.0, -0.5]
            })
        );
        let d = col(code::NEWDECIMAL, &[5, 2], false, None);
        assert_eq!(one(&[0x80, 0x0C, 30], &d), Kind::Decimal("12.30".into()));
    }

    #[test]
    fn truncated_values_are_errors() {
        for (t, m) in [
            (code::LONG, &[][..]),
            (code::VARCHAR, &[10, 0][..]),
            (code::BLOB, &[4][..]),
            (code::DATETIME2, &[6][..]),
            (code::NEWDECIMAL, &[10, 2][..]),
            (code::JSON, &[4][..]),
        ] {
            let c = col(t, m, false, None);
            let mut cur = Reader::new(&[3, 0, 0]);
            assert!(decode(&mut cur, &c).is_err(), "type {t}");
        }
    }
}
