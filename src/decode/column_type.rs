//! Binlog column type codes (`MYSQL_TYPE_*`) and the per-column decoding
//! plan ([`ColKind`]) that TABLE_MAP parsing derives from a type code and
//! its metadata, so that row decoding dispatches once per value on a
//! small enum instead of re-reading metadata.

/// `MYSQL_TYPE_*` codes as they appear in TABLE_MAP events.
pub mod code {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const VECTOR: u8 = 242;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// How many metadata bytes TABLE_MAP carries for a column of type `t`.
pub fn metadata_len(t: u8) -> usize {
    use code::*;
    match t {
        FLOAT | DOUBLE | BLOB | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | GEOMETRY | JSON
        | TIMESTAMP2 | DATETIME2 | TIME2 | VECTOR => 1,
        VARCHAR | VAR_STRING | BIT | NEWDECIMAL | STRING | ENUM | SET => 2,
        _ => 0,
    }
}

/// What a value of one column looks like in a row image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColKind {
    Tiny,
    Short,
    Int24,
    Long,
    LongLong,
    Float,
    Double,
    /// The NULL type: no bytes.
    #[default]
    Null,
    Year,
    /// DATE and NEWDATE: 3 bytes.
    Date,
    /// Old TIME: 3 bytes, signed HHMMSS.
    Time,
    /// Old DATETIME: 8 bytes, YYYYMMDDhhmmss.
    Datetime,
    /// Old TIMESTAMP: 4 bytes, seconds.
    Timestamp,
    Time2 {
        fsp: u8,
    },
    Datetime2 {
        fsp: u8,
    },
    Timestamp2 {
        fsp: u8,
    },
    NewDecimal {
        precision: u8,
        scale: u8,
    },
    /// VARCHAR, VAR_STRING and CHAR: a 1- or 2-byte length, then bytes.
    /// `max` is the declared maximum byte length.
    String {
        len_bytes: u8,
        max: u16,
        fixed: bool,
    },
    Bit {
        bits: u8,
    },
    Enum {
        pack: u8,
    },
    Set {
        pack: u8,
    },
    /// BLOB/TEXT family: a `len_bytes`-byte length, then bytes.
    Blob {
        len_bytes: u8,
    },
    Json {
        len_bytes: u8,
    },
    Geometry {
        len_bytes: u8,
    },
    Vector {
        len_bytes: u8,
    },
    /// A type this decoder cannot size (old DECIMAL, unknown codes).
    Unsupported {
        code: u8,
    },
}

/// The resolved type code and decoding plan for a raw type and its raw
/// metadata bytes (`m0`, `m1` in the order TABLE_MAP stores them).
pub fn plan(t: u8, m: &[u8]) -> (u8, ColKind) {
    use code::*;
    let m0 = m.first().copied().unwrap_or(0);
    let m1 = m.get(1).copied().unwrap_or(0);
    let kind = match t {
        TINY => ColKind::Tiny,
        SHORT => ColKind::Short,
        INT24 => ColKind::Int24,
        LONG => ColKind::Long,
        LONGLONG => ColKind::LongLong,
        FLOAT => ColKind::Float,
        DOUBLE => ColKind::Double,
        NULL => ColKind::Null,
        YEAR => ColKind::Year,
        DATE | NEWDATE => ColKind::Date,
        TIME => ColKind::Time,
        DATETIME => ColKind::Datetime,
        TIMESTAMP => ColKind::Timestamp,
        TIME2 => ColKind::Time2 { fsp: m0.min(6) },
        DATETIME2 => ColKind::Datetime2 { fsp: m0.min(6) },
        TIMESTAMP2 => ColKind::Timestamp2 { fsp: m0.min(6) },
        NEWDECIMAL => ColKind::NewDecimal {
            precision: m0,
            scale: m1,
        },
        VARCHAR | VAR_STRING => {
            let max = u16::from_le_bytes([m0, m1]);
            ColKind::String {
                len_bytes: if max < 256 { 1 } else { 2 },
                max,
                fixed: false,
            }
        }
        BIT => ColKind::Bit {
            bits: (u16::from(m1) * 8 + u16::from(m0)).min(64) as u8,
        },
        STRING | ENUM | SET => {
            // CHAR lengths above 255 borrow two bits of the real-type byte.
            let (real, len) = if m0 == 0 && t != STRING {
                (t, u16::from(m1))
            } else if m0 & 0x30 != 0x30 {
                (
                    m0 | 0x30,
                    u16::from(m1) | ((u16::from(m0 & 0x30) ^ 0x30) << 4),
                )
            } else {
                (m0, u16::from(m1))
            };
            match real {
                ENUM => return (ENUM, ColKind::Enum { pack: m1 }),
                SET => return (SET, ColKind::Set { pack: m1 }),
                _ => ColKind::String {
                    len_bytes: if len < 256 { 1 } else { 2 },
                    max: len,
                    fixed: true,
                },
            }
        }
        BLOB | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB => ColKind::Blob { len_bytes: m0 },
        JSON => ColKind::Json { len_bytes: m0 },
        GEOMETRY => ColKind::Geometry { len_bytes: m0 },
        VECTOR => ColKind::Vector { len_bytes: m0 },
        other => ColKind::Unsupported { code: other },
    };
    (t, kind)
}

/// Columns that SIGNEDNESS metadata has a bit for.
pub fn is_numeric(t: u8) -> bool {
    use code::*;
    matches!(
        t,
        TINY | SHORT | INT24 | LONG | LONGLONG | FLOAT | DOUBLE | NEWDECIMAL | DECIMAL
    )
}

/// Columns that DEFAULT_CHARSET / COLUMN_CHARSET metadata counts (after
/// resolving STRING to ENUM/SET, which have their own charset metadata).
pub fn is_character(t: u8) -> bool {
    use code::*;
    matches!(
        t,
        STRING | VAR_STRING | VARCHAR | BLOB | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_real_types() {
        assert_eq!(
            plan(code::STRING, &[0xFE, 40]).1,
            ColKind::String {
                len_bytes: 1,
                max: 40,
                fixed: true
            }
        );
        assert_eq!(
            plan(code::STRING, &[0xF7, 1]),
            (code::ENUM, ColKind::Enum { pack: 1 })
        );
        assert_eq!(
            plan(code::STRING, &[0xF8, 8]),
            (code::SET, ColKind::Set { pack: 8 })
        );
        // CHAR(255) utf8mb4 = 1020 bytes: 0x3FC, high bits folded into m0.
        let (_, k) = plan(code::STRING, &[0xFE ^ 0x30, 0xFC]);
        assert_eq!(
            k,
            ColKind::String {
                len_bytes: 2,
                max: 0x3FC,
                fixed: true
            }
        );
        assert_eq!(
            plan(code::VARCHAR, &[0x2C, 0x01]).1,
            ColKind::String {
                len_bytes: 2,
                max: 300,
                fixed: false
            }
        );
        assert_eq!(plan(code::BIT, &[1, 7]).1, ColKind::Bit { bits: 57 });
        assert_eq!(plan(code::BIT, &[0, 8]).1, ColKind::Bit { bits: 64 });
    }
}
