//! A snapshot row as the server's text protocol gives it → typed
//! [`Value`]s, the same ones the binlog decoder gives for the same row.
//!
//! The SELECT asks for each column in the form this module reads
//! ([`select_expr`]): binary data as `HEX()` (the text protocol would
//! otherwise hand it to us as lossy text), ENUM and SET as `index,names`
//! (the binlog carries the index or bit mask, the text only the names),
//! TIMESTAMP in a session at `time_zone = '+00:00'` (an instant in UTC).
//! Everything the server sends is checked; a value that does not read
//! is an error naming the column, never a guess.

use crate::proto::{value::Kind, Bit, Column, Enum, Geometry, Set, Timestamp, Value, Vector};

/// How one column is selected and read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Signed,
    Unsigned,
    Float,
    Double,
    Decimal,
    Date,
    Time,
    Datetime,
    Timestamp,
    Year,
    Text,
    Json,
    Bytes,
    Bit,
    Enum,
    Set,
    Geometry,
    Vector,
}

/// The type's name before any `(`, lower case: `int(10) unsigned` → `int`.
fn base_type(mysql_type: &str) -> String {
    mysql_type
        .split(['(', ' '])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn form(column: &Column) -> Form {
    let binary = column.charset == "binary";
    match base_type(&column.mysql_type).as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
            if column.unsigned {
                Form::Unsigned
            } else {
                Form::Signed
            }
        }
        "float" => Form::Float,
        "double" | "real" => Form::Double,
        "decimal" | "numeric" => Form::Decimal,
        "date" => Form::Date,
        "time" => Form::Time,
        "datetime" => Form::Datetime,
        "timestamp" => Form::Timestamp,
        "year" => Form::Year,
        "bit" => Form::Bit,
        "enum" => Form::Enum,
        "set" => Form::Set,
        "json" => Form::Json,
        "vector" => Form::Vector,
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => Form::Geometry,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Form::Bytes,
        _ if binary => Form::Bytes,
        _ => Form::Text,
    }
}

/// The SELECT expression for `column` (its name quoted as `quoted`).
pub fn select_expr(column: &Column, quoted: &str) -> String {
    match form(column) {
        Form::Bytes | Form::Bit | Form::Geometry | Form::Vector => format!("HEX({quoted})"),
        Form::Enum | Form::Set => format!("CONCAT({quoted}+0, ',', {quoted})"),
        _ => quoted.to_string(),
    }
}

/// Reads one cell, selected with [`select_expr`], as `column`'s value.
pub fn read_value(column: &Column, cell: Option<String>) -> Result<Value, String> {
    let Some(owned) = cell else {
        return Ok(Value {
            kind: Some(Kind::Null(true)),
        });
    };
    let text = owned.as_str();
    let bad = |what: &str| format!("column {}: {what}: {text:?}", column.name);
    let kind = match form(column) {
        Form::Signed => Kind::Int(text.parse().map_err(|_| bad("not an integer"))?),
        Form::Unsigned => Kind::Uint(text.parse().map_err(|_| bad("not an unsigned integer"))?),
        Form::Float => Kind::Float(text.parse().map_err(|_| bad("not a number"))?),
        Form::Double => Kind::Double(text.parse().map_err(|_| bad("not a number"))?),
        Form::Decimal => Kind::Decimal(text.to_string()),
        Form::Date => Kind::Date(text.to_string()),
        Form::Time => Kind::Time(text.to_string()),
        Form::Datetime => Kind::Datetime(text.to_string()),
        Form::Timestamp => Kind::Timestamp(
            timestamp(text, fsp(&column.mysql_type)).ok_or_else(|| bad("not a timestamp"))?,
        ),
        Form::Year => Kind::Year(text.parse().map_err(|_| bad("not a year"))?),
        Form::Text => Kind::Text(owned),
        Form::Json => Kind::Json(text.to_string()),
        Form::Bytes => Kind::Bytes(unhex(text).ok_or_else(|| bad("not hex"))?),
        Form::Bit => {
            let bytes = unhex(text).ok_or_else(|| bad("not hex"))?;
            if bytes.len() > 8 {
                return Err(bad("more than 64 bits"));
            }
            let bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            Kind::Bit(Bit {
                bits,
                width: width(&column.mysql_type).unwrap_or(1),
            })
        }
        Form::Enum => {
            let (index, name) = text.split_once(',').ok_or_else(|| bad("not index,name"))?;
            Kind::Enum(Enum {
                index: index.parse().map_err(|_| bad("not an ENUM index"))?,
                name: Some(name.to_string()),
            })
        }
        Form::Set => {
            let (bits, names) = text.split_once(',').ok_or_else(|| bad("not bits,names"))?;
            Kind::Set(Set {
                bits: bits.parse().map_err(|_| bad("not SET bits"))?,
                names: if names.is_empty() {
                    Vec::new()
                } else {
                    names.split(',').map(str::to_string).collect()
                },
            })
        }
        Form::Geometry => {
            let bytes = unhex(text).ok_or_else(|| bad("not hex"))?;
            let srid: [u8; 4] = bytes
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("a geometry shorter than its SRID"))?;
            Kind::Geometry(Geometry {
                srid: u32::from_le_bytes(srid),
                wkb: bytes[4..].to_vec(),
            })
        }
        Form::Vector => {
            let bytes = unhex(text).ok_or_else(|| bad("not hex"))?;
            if bytes.len() % 4 != 0 {
                return Err(bad("a vector not made of 4-byte floats"));
            }
            Kind::Vector(Vector {
                values: bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            })
        }
    };
    Ok(Value { kind: Some(kind) })
}

/// `timestamp(3)` → 3; no parenthesis → 0.
fn fsp(mysql_type: &str) -> u32 {
    width(mysql_type).unwrap_or(0)
}

/// The number in the type's parenthesis: `bit(5)` → 5.
fn width(mysql_type: &str) -> Option<u32> {
    let inner = mysql_type.split_once('(')?.1.split_once(')')?.0;
    inner.trim().parse().ok()
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC → an instant; the zero value
/// `0000-00-00 00:00:00` is the epoch, as the binlog stores it.
fn timestamp(text: &str, fsp: u32) -> Option<Timestamp> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let micros = if frac.is_empty() {
        0
    } else {
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{frac:0<6}").parse().ok()?
    };
    let seconds = if whole.starts_with("0000-00-00") {
        0
    } else {
        chrono::NaiveDateTime::parse_from_str(whole, "%Y-%m-%d %H:%M:%S")
            .ok()?
            .and_utc()
            .timestamp()
    };
    Some(Timestamp {
        seconds,
        micros,
        fsp,
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(mysql_type: &str, unsigned: bool, charset: &str) -> Column {
        Column {
            name: "c".into(),
            mysql_type: mysql_type.into(),
            unsigned,
            charset: charset.into(),
            ..Default::default()
        }
    }

    fn kind(c: &Column, text: &str) -> Kind {
        read_value(c, Some(text.to_string())).unwrap().kind.unwrap()
    }

    #[test]
    fn integers_keep_their_sign_and_range() {
        let u = col("bigint(20) unsigned", true, "");
        assert_eq!(kind(&u, "18446744073709551615"), Kind::Uint(u64::MAX));
        assert_eq!(kind(&col("int(11)", false, ""), "-5"), Kind::Int(-5));
        assert!(read_value(&u, Some("-1".into())).is_err());
    }

    #[test]
    fn binary_enum_set_timestamp_bit() {
        let b = col("varbinary(8)", false, "binary");
        assert_eq!(select_expr(&b, "`c`"), "HEX(`c`)");
        assert_eq!(kind(&b, "00FF"), Kind::Bytes(vec![0, 255]));
        assert!(read_value(&b, Some("0G".into())).is_err());
        let e = col("enum('','a')", false, "utf8mb4");
        assert_eq!(
            kind(&e, "1,"),
            Kind::Enum(Enum {
                index: 1,
                name: Some(String::new())
            })
        );
        let s = col("set('a','b')", false, "utf8mb4");
        assert_eq!(
            kind(&s, "3,a,b"),
            Kind::Set(Set {
                bits: 3,
                names: vec!["a".into(), "b".into()]
            })
        );
        let t = col("timestamp(3)", false, "");
        assert_eq!(
            kind(&t, "1970-01-02 00:00:01.5"),
            Kind::Timestamp(Timestamp {
                seconds: 86401,
                micros: 500_000,
                fsp: 3
            })
        );
        assert_eq!(
            kind(&col("bit(12)", false, ""), "0A01"),
            Kind::Bit(Bit {
                bits: 0x0A01,
                width: 12
            })
        );
        assert_eq!(read_value(&t, None).unwrap().kind, Some(Kind::Null(true)));
    }

    proptest::proptest! {
        /// Whatever a server sends in a cell, of any column type: a value
        /// or an error naming the column, never a panic.
        #[test]
        fn any_cell_of_any_type_reads_or_errs(
            cell in proptest::option::of(".{0,40}"),
            hexish in "[0-9A-Fa-f]{0,24}",
            t in proptest::sample::select(vec![
                "int(11)", "bigint(20) unsigned", "float", "double", "decimal(10,2)",
                "date", "time(3)", "datetime(6)", "timestamp(6)", "year(4)", "bit(12)",
                "enum('a','b')", "set('a','b')", "json", "geometry", "vector(2)",
                "varbinary(8)", "varchar(8)",
            ]),
        ) {
            let c = col(t, t.contains("unsigned"), if t == "varbinary(8)" { "binary" } else { "utf8mb4" });
            for text in [cell.clone(), Some(hexish.clone())] {
                match read_value(&c, text) {
                    Ok(v) => proptest::prop_assert!(v.kind.is_some()),
                    Err(e) => proptest::prop_assert!(e.starts_with("column c:")),
                }
            }
        }
    }
}
