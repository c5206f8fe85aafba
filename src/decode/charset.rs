//! Character sets of string columns: collation id (from TABLE_MAP's
//! optional metadata) → character set, and bytes → text with that set.
//!
//! The ids are MySQL's and MariaDB's collation numbers (`SHOW COLLATION`).
//! MariaDB's NO PAD collations are the PAD collation's id + 1024, its
//! UCA 14.0 collations live in 2048..3328, one block of 256 per set.
//! Text that is not valid in its set is kept as bytes (lossless), never
//! replaced.

use std::borrow::Cow;

/// A character set as far as decoding is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Charset {
    Binary,
    Utf8mb3,
    Utf8mb4,
    Ascii,
    /// MySQL's `latin1` is Windows-1252.
    Latin1,
    Ucs2,
    Utf16,
    Utf16le,
    Utf32,
    /// Any other set that `encoding_rs` knows, with its MySQL name.
    Other(&'static str, &'static encoding_rs::Encoding),
    /// No metadata, or a collation id this table does not know.
    #[default]
    Unknown,
}

impl Charset {
    /// The MySQL name of the set (`utf8mb4`, `latin1`, `binary`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Charset::Binary => "binary",
            Charset::Utf8mb3 => "utf8mb3",
            Charset::Utf8mb4 => "utf8mb4",
            Charset::Ascii => "ascii",
            Charset::Latin1 => "latin1",
            Charset::Ucs2 => "ucs2",
            Charset::Utf16 => "utf16",
            Charset::Utf16le => "utf16le",
            Charset::Utf32 => "utf32",
            Charset::Other(n, _) => n,
            Charset::Unknown => "",
        }
    }

    /// Bytes per character at most (for `varchar(N)` from a byte length).
    pub fn max_len(&self) -> u32 {
        match self {
            Charset::Utf8mb4 | Charset::Utf16 | Charset::Utf16le | Charset::Utf32 => 4,
            Charset::Utf8mb3 => 3,
            Charset::Ucs2 => 2,
            Charset::Other(n, _) => match *n {
                "gbk" | "gb2312" | "big5" | "sjis" | "cp932" | "euckr" => 2,
                "ujis" | "eucjpms" => 3,
                "gb18030" => 4,
                _ => 1,
            },
            _ => 1,
        }
    }

    /// Decode `b` to text; `None` when the set is binary/unknown or the
    /// bytes are not valid in it (the caller then keeps the bytes).
    pub fn decode<'a>(&self, b: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            Charset::Binary | Charset::Unknown => None,
            Charset::Utf8mb3 | Charset::Utf8mb4 | Charset::Ascii => match std::str::from_utf8(b) {
                Ok(s) => Some(Cow::Borrowed(s)),
                Err(_) if *self == Charset::Ascii => {
                    Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(b).0)
                }
                Err(_) => None,
            },
            Charset::Latin1 => {
                // Windows-1252 maps every byte (the five holes to C1
                // controls, as MySQL does), so this never fails.
                Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(b).0)
            }
            Charset::Ucs2 | Charset::Utf16 => {
                encoding_rs::UTF_16BE.decode_without_bom_handling_and_without_replacement(b)
            }
            Charset::Utf16le => {
                encoding_rs::UTF_16LE.decode_without_bom_handling_and_without_replacement(b)
            }
            Charset::Utf32 => {
                if b.len() % 4 != 0 {
                    return None;
                }
                let mut s = String::with_capacity(b.len() / 4);
                for c in b.chunks_exact(4) {
                    let v = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    s.push(char::from_u32(v)?);
                }
                Some(Cow::Owned(s))
            }
            Charset::Other(_, enc) => enc.decode_without_bom_handling_and_without_replacement(b),
        }
    }
}

/// The character set of a MySQL character set name (`utf8mb4`, `utf8`,
/// `latin1`, `gbk`, ...), as the schema history holds it;
/// [`Charset::Unknown`] for a set this table does not decode.
pub fn charset_of_name(name: &str) -> Charset {
    // Through each set's default collation, so the two tables never
    // disagree.
    let id = match name.to_ascii_lowercase().as_str() {
        "binary" => 63,
        "utf8" | "utf8mb3" => 33,
        "utf8mb4" => 45,
        "ascii" => 11,
        "latin1" => 8,
        "ucs2" => 35,
        "utf16" => 54,
        "utf16le" => 56,
        "utf32" => 60,
        "gbk" => 28,
        "gb2312" => 24,
        "gb18030" => 248,
        "big5" => 1,
        "sjis" => 13,
        "cp932" => 95,
        "ujis" => 12,
        "eucjpms" => 97,
        "euckr" => 19,
        "latin2" => 9,
        "cp1250" => 26,
        "cp1251" => 51,
        "cp1256" => 57,
        "cp1257" => 59,
        "greek" => 25,
        "hebrew" => 16,
        "latin5" => 30,
        "latin7" => 41,
        "koi8r" => 7,
        "koi8u" => 22,
        "cp866" => 36,
        "tis620" => 18,
        _ => return Charset::Unknown,
    };
    charset_of_collation(id)
}

/// The character set of a collation id.
pub fn charset_of_collation(id: u32) -> Charset {
    use encoding_rs as e;
    let id = if (1024..2048).contains(&id) {
        id - 1024
    } else {
        id
    };
    match id {
        63 => Charset::Binary,
        33 | 76 | 83 | 192..=215 | 223 | 576..=578 => Charset::Utf8mb3,
        45 | 46 | 224..=247 | 255..=323 | 608..=610 => Charset::Utf8mb4,
        11 | 65 => Charset::Ascii,
        5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => Charset::Latin1,
        35 | 90 | 128..=151 | 159 | 640..=642 => Charset::Ucs2,
        54 | 55 | 101..=124 | 672..=674 => Charset::Utf16,
        56 | 62 => Charset::Utf16le,
        60 | 61 | 160..=183 | 736..=738 => Charset::Utf32,
        2048..=2303 => Charset::Utf8mb3,
        2304..=2559 => Charset::Utf8mb4,
        2560..=2815 => Charset::Ucs2,
        2816..=3071 => Charset::Utf16,
        3072..=3327 => Charset::Utf32,
        28 | 87 => Charset::Other("gbk", e::GBK),
        24 | 86 => Charset::Other("gb2312", e::GBK),
        248..=250 => Charset::Other("gb18030", e::GB18030),
        1 | 84 => Charset::Other("big5", e::BIG5),
        13 | 88 => Charset::Other("sjis", e::SHIFT_JIS),
        95 | 96 => Charset::Other("cp932", e::SHIFT_JIS),
        12 | 91 => Charset::Other("ujis", e::EUC_JP),
        97 | 98 => Charset::Other("eucjpms", e::EUC_JP),
        19 | 85 => Charset::Other("euckr", e::EUC_KR),
        2 | 9 | 21 | 27 | 77 => Charset::Other("latin2", e::ISO_8859_2),
        26 | 34 | 44 | 66 | 99 => Charset::Other("cp1250", e::WINDOWS_1250),
        14 | 23 | 50 | 51 | 52 => Charset::Other("cp1251", e::WINDOWS_1251),
        57 | 67 => Charset::Other("cp1256", e::WINDOWS_1256),
        29 | 58 | 59 => Charset::Other("cp1257", e::WINDOWS_1257),
        25 | 70 => Charset::Other("greek", e::ISO_8859_7),
        16 | 71 => Charset::Other("hebrew", e::ISO_8859_8),
        30 | 78 => Charset::Other("latin5", e::WINDOWS_1254),
        20 | 41 | 42 | 79 => Charset::Other("latin7", e::ISO_8859_13),
        7 | 74 => Charset::Other("koi8r", e::KOI8_R),
        22 | 75 => Charset::Other("koi8u", e::KOI8_U),
        36 | 68 => Charset::Other("cp866", e::IBM866),
        39 | 53 => Charset::Other("macroman", e::MACINTOSH),
        38 | 43 => Charset::Other("macce", e::X_MAC_CYRILLIC),
        18 | 89 => Charset::Other("tis620", e::WINDOWS_874),
        _ => Charset::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_collations() {
        assert_eq!(charset_of_collation(45), Charset::Utf8mb4);
        assert_eq!(charset_of_collation(255), Charset::Utf8mb4);
        assert_eq!(charset_of_collation(2304), Charset::Utf8mb4);
        assert_eq!(charset_of_collation(1070), Charset::Utf8mb4);
        assert_eq!(charset_of_collation(33), Charset::Utf8mb3);
        assert_eq!(charset_of_collation(8), Charset::Latin1);
        assert_eq!(charset_of_collation(63), Charset::Binary);
        assert_eq!(charset_of_collation(28).name(), "gbk");
        assert_eq!(charset_of_collation(9999), Charset::Unknown);
        for (name, cs) in [
            ("utf8", Charset::Utf8mb3),
            ("UTF8MB4", Charset::Utf8mb4),
            ("latin1", Charset::Latin1),
            ("binary", Charset::Binary),
        ] {
            assert_eq!(charset_of_name(name), cs, "{name}");
        }
        for name in ["gbk", "gb18030", "cp1251", "sjis", "euckr", "tis620"] {
            assert_eq!(charset_of_name(name).name(), name);
        }
        assert_eq!(charset_of_name("swe7"), Charset::Unknown);
    }

    #[test]
    fn decodes_with_the_set() {
        assert_eq!(Charset::Latin1.decode(b"caf\xe9").unwrap(), "café");
        assert_eq!(Charset::Latin1.decode(b"\x80").unwrap(), "€");
        assert_eq!(
            charset_of_collation(28)
                .decode(b"\xc4\xe3\xba\xc3")
                .unwrap(),
            "你好"
        );
        assert_eq!(Charset::Utf8mb4.decode("😀".as_bytes()).unwrap(), "😀");
        assert!(Charset::Utf8mb4.decode(b"\xff").is_none());
        assert!(Charset::Binary.decode(b"a").is_none());
        assert_eq!(Charset::Utf32.decode(&[0, 1, 0xF6, 0x00]).unwrap(), "😀");
        assert_eq!(Charset::Ucs2.decode(&[0, 0x41]).unwrap(), "A");
    }
}
