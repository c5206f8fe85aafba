//! Character sets of string columns: collation id (from TABLE_MAP's
//! optional metadata) → character set, and bytes → text with that set.
//!
//! The ids are MySQL's and MariaDB's collation numbers (`SHOW COLLATION`).
//! MariaDB's NO PAD collations are the PAD collation's id + 1024, its
//! UCA 14.0 collations live in 2048..3328, one block of 256 per set.
//! Text that is not valid in its set is kept as bytes (lossless), never
//! replaced.
//!
//! Text decodes as the server itself reads it (`tests/charset_fidelity.rs`
//! compares every one- and two-byte string with the server's `CONVERT`):
//! single-byte sets through tables taken from the server, multi-byte sets
//! through `encoding_rs` with the server's own characters where MySQL's
//! mapping differs from the web's (`sjis` is JIS X 0208, not Windows',
//! `big5` is not Big5-HKSCS, EUC-JP's user-defined rows are private use),
//! both in `charset_tables.rs`, written by `examples/charset_tables.rs`.

use std::borrow::Cow;

#[path = "charset_tables.rs"]
mod tables;

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
    /// A single-byte set read through its table.
    Single(&'static SingleByte),
    /// A multi-byte set.
    Multi(&'static MultiByte),
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
            Charset::Single(set) => set.name,
            Charset::Multi(set) => set.name,
            Charset::Unknown => "",
        }
    }

    /// Bytes per character at most (for `varchar(N)` from a byte length).
    pub fn max_len(&self) -> u32 {
        match self {
            Charset::Utf8mb4 | Charset::Utf16 | Charset::Utf16le | Charset::Utf32 => 4,
            Charset::Utf8mb3 => 3,
            Charset::Ucs2 => 2,
            Charset::Multi(set) => set.max_len,
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
            Charset::Single(set) => set.decode(b),
            Charset::Multi(set) => set.decode(b),
        }
    }
}

/// A single-byte set: the character of each byte (`0xFFFF`: none).
#[derive(Debug, PartialEq, Eq)]
pub struct SingleByte {
    pub name: &'static str,
    chars: &'static [u16; 256],
}

impl SingleByte {
    fn decode<'a>(&self, b: &'a [u8]) -> Option<Cow<'a, str>> {
        b.iter()
            .map(|&byte| match self.chars[usize::from(byte)] {
                0xFFFF => None,
                c => char::from_u32(u32::from(c)),
            })
            .collect::<Option<String>>()
            .map(Cow::Owned)
    }
}

/// How many bytes a character of a multi-byte set takes, from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// Big5, GBK, GB2312, EUC-KR: a byte 0x81..=0xFE starts two.
    Lead81,
    /// GB18030: as `Lead81`, or four when the second byte is a digit.
    Gb18030,
    /// Shift JIS: 0x81..=0x9F and 0xE0..=0xFC start two.
    ShiftJis,
    /// EUC-JP: 0x8E and 0xA1..=0xFE start two, 0x8F three.
    Euc,
}

impl Width {
    /// The length of the character at the start of `b`, `None` when `b`
    /// ends inside it.
    pub fn len(self, b: &[u8]) -> Option<usize> {
        let lead = *b.first()?;
        let n = match (self, lead) {
            (_, 0..=0x7F) => 1,
            (Width::Lead81, 0x81..=0xFE) => 2,
            (Width::Gb18030, 0x81..=0xFE) => match b.get(1) {
                Some(b'0'..=b'9') => 4,
                _ => 2,
            },
            (Width::ShiftJis, 0x81..=0x9F | 0xE0..=0xFC) => 2,
            (Width::Euc, 0x8E | 0xA1..=0xFE) => 2,
            (Width::Euc, 0x8F) => 3,
            _ => 1,
        };
        (n <= b.len()).then_some(n)
    }
}

/// A multi-byte set: `encoding_rs`'s decoder, except for the codes in
/// `fixes` (`(first code, last code, character of the first)`, runs of
/// consecutive characters; a code is the character's bytes big-endian).
#[derive(Debug, PartialEq, Eq)]
pub struct MultiByte {
    pub name: &'static str,
    pub encoding: &'static encoding_rs::Encoding,
    pub width: Width,
    max_len: u32,
    fixes: &'static [(u32, u32, u32)],
}

impl MultiByte {
    fn fix(&self, code: u32) -> Option<char> {
        let i = self.fixes.partition_point(|&(_, last, _)| last < code);
        let &(first, last, c) = self.fixes.get(i)?;
        if (first..=last).contains(&code) {
            char::from_u32(c + (code - first))
        } else {
            None
        }
    }

    fn decode<'a>(&self, b: &'a [u8]) -> Option<Cow<'a, str>> {
        let whole = || {
            self.encoding
                .decode_without_bom_handling_and_without_replacement(b)
        };
        if self.fixes.is_empty() || b.is_ascii() {
            return whole();
        }
        // Runs of characters `encoding_rs` reads right go to it whole;
        // a fixed character is pushed by itself.
        let mut out = String::with_capacity(b.len() * 2);
        let (mut run, mut at) = (0, 0);
        while at < b.len() {
            let n = self.width.len(&b[at..])?;
            if n > 1 {
                let code = b[at..at + n]
                    .iter()
                    .fold(0u32, |c, &x| c << 8 | u32::from(x));
                if let Some(c) = self.fix(code) {
                    out.push_str(
                        &self
                            .encoding
                            .decode_without_bom_handling_and_without_replacement(&b[run..at])?,
                    );
                    out.push(c);
                    run = at + n;
                }
            }
            at += n;
        }
        if run == 0 {
            return whole();
        }
        out.push_str(
            &self
                .encoding
                .decode_without_bom_handling_and_without_replacement(&b[run..])?,
        );
        Some(Cow::Owned(out))
    }
}

/// The sets read through tables and corrections from the server.
mod sets {
    use super::tables as t;
    use super::{MultiByte, SingleByte, Width};

    pub static ARMSCII8: SingleByte = SingleByte {
        name: "armscii8",
        chars: &t::ARMSCII8,
    };
    pub static CP1250: SingleByte = SingleByte {
        name: "cp1250",
        chars: &t::CP1250,
    };
    pub static CP1251: SingleByte = SingleByte {
        name: "cp1251",
        chars: &t::CP1251,
    };
    pub static CP1256: SingleByte = SingleByte {
        name: "cp1256",
        chars: &t::CP1256,
    };
    pub static CP1257: SingleByte = SingleByte {
        name: "cp1257",
        chars: &t::CP1257,
    };
    pub static CP850: SingleByte = SingleByte {
        name: "cp850",
        chars: &t::CP850,
    };
    pub static CP852: SingleByte = SingleByte {
        name: "cp852",
        chars: &t::CP852,
    };
    pub static CP866: SingleByte = SingleByte {
        name: "cp866",
        chars: &t::CP866,
    };
    pub static DEC8: SingleByte = SingleByte {
        name: "dec8",
        chars: &t::DEC8,
    };
    pub static GEOSTD8: SingleByte = SingleByte {
        name: "geostd8",
        chars: &t::GEOSTD8,
    };
    pub static GREEK: SingleByte = SingleByte {
        name: "greek",
        chars: &t::GREEK,
    };
    pub static HEBREW: SingleByte = SingleByte {
        name: "hebrew",
        chars: &t::HEBREW,
    };
    pub static HP8: SingleByte = SingleByte {
        name: "hp8",
        chars: &t::HP8,
    };
    pub static KEYBCS2: SingleByte = SingleByte {
        name: "keybcs2",
        chars: &t::KEYBCS2,
    };
    pub static KOI8R: SingleByte = SingleByte {
        name: "koi8r",
        chars: &t::KOI8R,
    };
    pub static KOI8U: SingleByte = SingleByte {
        name: "koi8u",
        chars: &t::KOI8U,
    };
    pub static LATIN2: SingleByte = SingleByte {
        name: "latin2",
        chars: &t::LATIN2,
    };
    pub static LATIN5: SingleByte = SingleByte {
        name: "latin5",
        chars: &t::LATIN5,
    };
    pub static LATIN7: SingleByte = SingleByte {
        name: "latin7",
        chars: &t::LATIN7,
    };
    pub static MACCE: SingleByte = SingleByte {
        name: "macce",
        chars: &t::MACCE,
    };
    pub static MACROMAN: SingleByte = SingleByte {
        name: "macroman",
        chars: &t::MACROMAN,
    };
    pub static SWE7: SingleByte = SingleByte {
        name: "swe7",
        chars: &t::SWE7,
    };
    pub static TIS620: SingleByte = SingleByte {
        name: "tis620",
        chars: &t::TIS620,
    };
    pub static BIG5: MultiByte = MultiByte {
        name: "big5",
        encoding: encoding_rs::BIG5,
        width: Width::Lead81,
        max_len: 2,
        fixes: t::BIG5_FIXES,
    };
    pub static CP932: MultiByte = MultiByte {
        name: "cp932",
        encoding: encoding_rs::SHIFT_JIS,
        width: Width::ShiftJis,
        max_len: 2,
        fixes: t::CP932_FIXES,
    };
    pub static EUCJPMS: MultiByte = MultiByte {
        name: "eucjpms",
        encoding: encoding_rs::EUC_JP,
        width: Width::Euc,
        max_len: 3,
        fixes: t::EUCJPMS_FIXES,
    };
    pub static EUCKR: MultiByte = MultiByte {
        name: "euckr",
        encoding: encoding_rs::EUC_KR,
        width: Width::Lead81,
        max_len: 2,
        fixes: t::EUCKR_FIXES,
    };
    pub static GB18030: MultiByte = MultiByte {
        name: "gb18030",
        encoding: encoding_rs::GB18030,
        width: Width::Gb18030,
        max_len: 4,
        fixes: t::GB18030_FIXES,
    };
    pub static GB2312: MultiByte = MultiByte {
        name: "gb2312",
        encoding: encoding_rs::GBK,
        width: Width::Lead81,
        max_len: 2,
        fixes: t::GB2312_FIXES,
    };
    pub static GBK: MultiByte = MultiByte {
        name: "gbk",
        encoding: encoding_rs::GBK,
        width: Width::Lead81,
        max_len: 2,
        fixes: t::GBK_FIXES,
    };
    pub static SJIS: MultiByte = MultiByte {
        name: "sjis",
        encoding: encoding_rs::SHIFT_JIS,
        width: Width::ShiftJis,
        max_len: 2,
        fixes: t::SJIS_FIXES,
    };
    pub static UJIS: MultiByte = MultiByte {
        name: "ujis",
        encoding: encoding_rs::EUC_JP,
        width: Width::Euc,
        max_len: 3,
        fixes: t::UJIS_FIXES,
    };
}
use sets::*;

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
        "macroman" => 39,
        "macce" => 38,
        "dec8" => 3,
        "cp850" => 4,
        "hp8" => 6,
        "swe7" => 10,
        "armscii8" => 32,
        "keybcs2" => 37,
        "cp852" => 40,
        "geostd8" => 92,
        _ => return Charset::Unknown,
    };
    charset_of_collation(id)
}

/// The character set of a collation id.
pub fn charset_of_collation(id: u32) -> Charset {
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
        28 | 87 => Charset::Multi(&GBK),
        24 | 86 => Charset::Multi(&GB2312),
        248..=250 => Charset::Multi(&GB18030),
        1 | 84 => Charset::Multi(&BIG5),
        13 | 88 => Charset::Multi(&SJIS),
        95 | 96 => Charset::Multi(&CP932),
        12 | 91 => Charset::Multi(&UJIS),
        97 | 98 => Charset::Multi(&EUCJPMS),
        19 | 85 => Charset::Multi(&EUCKR),
        2 | 9 | 21 | 27 | 77 => Charset::Single(&LATIN2),
        26 | 34 | 44 | 66 | 99 => Charset::Single(&CP1250),
        14 | 23 | 50 | 51 | 52 => Charset::Single(&CP1251),
        57 | 67 => Charset::Single(&CP1256),
        29 | 58 | 59 => Charset::Single(&CP1257),
        25 | 70 => Charset::Single(&GREEK),
        16 | 71 => Charset::Single(&HEBREW),
        30 | 78 => Charset::Single(&LATIN5),
        20 | 41 | 42 | 79 => Charset::Single(&LATIN7),
        7 | 74 => Charset::Single(&KOI8R),
        22 | 75 => Charset::Single(&KOI8U),
        36 | 68 => Charset::Single(&CP866),
        39 | 53 => Charset::Single(&MACROMAN),
        38 | 43 => Charset::Single(&MACCE),
        18 | 89 => Charset::Single(&TIS620),
        3 | 69 => Charset::Single(&DEC8),
        4 | 80 => Charset::Single(&CP850),
        6 | 72 => Charset::Single(&HP8),
        10 | 82 => Charset::Single(&SWE7),
        32 | 64 => Charset::Single(&ARMSCII8),
        37 | 73 => Charset::Single(&KEYBCS2),
        40 | 81 => Charset::Single(&CP852),
        92 | 93 => Charset::Single(&GEOSTD8),
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
        assert_eq!(charset_of_name("swe7").name(), "swe7");
        assert_eq!(charset_of_name("no_such_set"), Charset::Unknown);
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
