//! Bounds-checked reading of MySQL's bytes: binlog events and the
//! client/server protocol's packets are built from the same basic types,
//! so `decode` and `source` both read them through this one [`Reader`]
//! and cannot disagree about them.
//!
//! Types (little-endian unless a format says big-endian):
//! - `int<n>`: an n-byte unsigned integer, n ≤ 8.
//! - `int<lenenc>`: a first byte 0x00–0xFA is the value; 0xFC is followed
//!   by an `int<2>`, 0xFD by an `int<3>`, 0xFE by an `int<8>`. 0xFB stands
//!   for SQL NULL and only in a cell of a text result set row
//!   ([`Reader::lenenc_or_null`]); everywhere else ([`Reader::lenenc`]: OK
//!   packets, column counts, every binlog packed integer) it is invalid,
//!   as 0xFF always is (it starts an ERR packet). The server's writer
//!   (`net_store_length`) never starts a number with either: 251 is
//!   written `FC FB 00`.
//! - `string<NUL>`: bytes up to a 0x00 terminator.
//! - `string<lenenc>`: an `int<lenenc>` length, then that many bytes.
//! - `string<EOF>`: the rest of the input.
//! - the serialization library's variable-length integer (MySQL 8.4's
//!   tagged GTID event), see [`Reader::varlen_u64`].
//!
//! Every read checks what is left first and fails with a [`WireError`]
//! naming the field, its byte offset and, for a protocol packet, the
//! packet: never a panic. A length read from the input only ever takes a
//! sub-slice of the bytes present ([`Reader::lenenc_len`] checks a count
//! against them), so it cannot size an allocation beyond the input.

use std::fmt;

/// A field that did not fit in what was left, or had an impossible value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The protocol packet being read (`None` in binlog events: their
    /// field names already say which event).
    pub packet: Option<&'static str>,
    pub field: &'static str,
    /// Offset of the field in the bytes the reader was given.
    pub offset: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field needs `need` bytes, `have` are left.
    Truncated { need: usize, have: usize },
    /// The bytes are there but cannot be this field.
    Invalid(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Truncated { need, have } => {
                write!(f, "needs {need} bytes, only {have} left")
            }
            Problem::Invalid(detail) => f.write_str(detail),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(packet) = self.packet {
            write!(f, "{packet} packet, ")?;
        }
        write!(
            f,
            "field {} at byte {}: {}",
            self.field, self.offset, self.problem
        )
    }
}

impl std::error::Error for WireError {}

pub type WireResult<T> = Result<T, WireError>;

/// Reads fields from the front of a byte slice, advancing as it goes.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    packet: Option<&'static str>,
}

impl<'a> Reader<'a> {
    /// A reader over binlog bytes (errors name only the field).
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            packet: None,
        }
    }

    /// A reader over one protocol packet's payload; errors name `packet`.
    pub fn in_packet(buf: &'a [u8], packet: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            packet: Some(packet),
        }
    }

    /// Bytes consumed so far.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error about `field` at the current offset, for checks the caller
    /// makes itself.
    #[cold]
    pub fn invalid(&self, field: &'static str, detail: impl Into<String>) -> WireError {
        self.error(field, self.pos, Problem::Invalid(detail.into()))
    }

    #[cold]
    fn error(&self, field: &'static str, offset: usize, problem: Problem) -> WireError {
        WireError {
            packet: self.packet,
            field,
            offset,
            problem,
        }
    }

    #[cold]
    fn truncated(&self, field: &'static str, need: usize) -> WireError {
        let have = self.remaining();
        self.error(field, self.pos, Problem::Truncated { need, have })
    }

    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        let bytes = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end));
        match bytes {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.truncated(field, n)),
        }
    }

    #[inline]
    pub fn skip(&mut self, n: usize, field: &'static str) -> WireResult<()> {
        self.take(n, field).map(|_| ())
    }

    /// Everything left (`string<EOF>`).
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// The next byte, not consumed.
    #[inline]
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self, field: &'static str) -> WireResult<[u8; N]> {
        let bytes = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    #[inline]
    pub fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(field, 1)),
        }
    }

    #[inline]
    pub fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    #[inline]
    pub fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    #[inline]
    pub fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// The bytes of an `n`-byte integer; more than 8 is no integer.
    #[inline]
    fn int_bytes(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        if n > 8 {
            return Err(self.invalid(
                field,
                format!("an integer of {n} bytes is wider than 64 bits"),
            ));
        }
        self.take(n, field)
    }

    /// An unsigned little-endian integer of `n` (≤ 8) bytes.
    #[inline]
    pub fn uint_le(&mut self, n: usize, field: &'static str) -> WireResult<u64> {
        Ok(le_uint(self.int_bytes(n, field)?))
    }

    /// An unsigned big-endian integer of `n` (≤ 8) bytes.
    #[inline]
    pub fn uint_be(&mut self, n: usize, field: &'static str) -> WireResult<u64> {
        Ok(be_uint(self.int_bytes(n, field)?))
    }

    /// `int<lenenc>`, or `None` for the NULL marker 0xFB: only a cell of a
    /// text result set row may be NULL.
    #[inline]
    pub fn lenenc_or_null(&mut self, field: &'static str) -> WireResult<Option<u64>> {
        let start = self.pos;
        match self.u8(field)? {
            b @ 0..=0xFA => Ok(Some(u64::from(b))),
            0xFB => Ok(None),
            0xFC => self.uint_le(2, field).map(Some),
            0xFD => self.uint_le(3, field).map(Some),
            0xFE => self.u64(field).map(Some),
            0xFF => Err(self.error(
                field,
                start,
                Problem::Invalid("0xFF cannot start a length-encoded integer".into()),
            )),
        }
    }

    /// `int<lenenc>` where no NULL can be: 0xFB is refused like 0xFF.
    #[inline]
    pub fn lenenc(&mut self, field: &'static str) -> WireResult<u64> {
        let start = self.pos;
        match self.lenenc_or_null(field)? {
            Some(v) => Ok(v),
            None => Err(self.error(
                field,
                start,
                Problem::Invalid(
                    "0xFB (the NULL marker of a result set cell) cannot start a \
                     length-encoded integer here"
                        .into(),
                ),
            )),
        }
    }

    /// An `int<lenenc>` used as a length or count: it must fit in what is
    /// left (each counted item taking at least `min_item` bytes), so it
    /// can size an allocation safely.
    #[inline]
    pub fn lenenc_len(&mut self, min_item: usize, field: &'static str) -> WireResult<usize> {
        let n = self.lenenc(field)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        match n.checked_mul(min_item.max(1)) {
            Some(need) if need <= self.remaining() => Ok(n),
            _ => Err(self.truncated(field, n)),
        }
    }

    /// `string<lenenc>`.
    #[inline]
    pub fn lenenc_bytes(&mut self, field: &'static str) -> WireResult<&'a [u8]> {
        let n = self.lenenc_len(1, field)?;
        self.take(n, field)
    }

    /// `string<lenenc>` of a text result set cell; `None` for NULL.
    pub fn lenenc_bytes_or_null(&mut self, field: &'static str) -> WireResult<Option<&'a [u8]>> {
        match self.lenenc_or_null(field)? {
            None => Ok(None),
            Some(n) => self.take_len(n, field).map(Some),
        }
    }

    /// `len` bytes, `len` read from the input.
    #[inline]
    pub fn take_len(&mut self, len: u64, field: &'static str) -> WireResult<&'a [u8]> {
        self.take(usize::try_from(len).unwrap_or(usize::MAX), field)
    }

    /// `string<NUL>`; the terminator is consumed, not returned.
    pub fn nul_bytes(&mut self, field: &'static str) -> WireResult<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                Ok(rest.get(..end).unwrap_or_default())
            }
            None => Err(self.invalid(field, "missing NUL terminator")),
        }
    }

    /// `string<NUL>` if a terminator is present, else the rest (servers
    /// omit the final NUL of the auth plugin name in some versions).
    pub fn nul_or_eof_bytes(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                rest.get(..end).unwrap_or_default()
            }
            None => self.rest(),
        }
    }

    /// MySQL serialization-library variable-length unsigned integer (used
    /// by the tagged GTID event of 8.4+): the count of trailing one bits of
    /// the first byte, plus one, is the length in bytes; for 1–8 bytes the
    /// value is the little-endian number shifted right by that length; with
    /// nine bytes (first byte 0xFF) the next eight bytes are the value.
    pub fn varlen_u64(&mut self, field: &'static str) -> WireResult<u64> {
        let first = self.peek_u8().ok_or_else(|| self.truncated(field, 1))?;
        let len = (first.trailing_ones() as usize) + 1;
        if len == 9 {
            self.skip(1, field)?;
            return self.u64(field);
        }
        Ok(self.uint_le(len, field)? >> len)
    }

    /// Signed variant of [`Reader::varlen_u64`]: zig-zag encoded.
    pub fn varlen_i64(&mut self, field: &'static str) -> WireResult<i64> {
        let v = self.varlen_u64(field)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
}

/// Little-endian unsigned integer of up to 8 bytes (more are ignored).
#[inline]
pub fn le_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Big-endian unsigned integer of up to 8 bytes (more are ignored).
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Append `int<lenenc>` (never starting with 0xFB or 0xFF).
pub fn put_lenenc(out: &mut Vec<u8>, v: u64) {
    if v < 0xFB {
        out.push(v as u8);
    } else if v <= 0xFFFF {
        out.push(0xFC);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xFF_FFFF {
        out.push(0xFD);
        out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xFE);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Append `string<lenenc>`.
pub fn put_lenenc_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_lenenc(out, b.len() as u64);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_fields_and_truncation() {
        let mut r = Reader::new(&[1, 2, 0, 3, 0, 0, 0, 9]);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u32("c").unwrap(), 3);
        let e = r.u16("d").unwrap_err();
        assert_eq!(
            (e.field, e.offset, &e.problem),
            ("d", 7, &Problem::Truncated { need: 2, have: 1 })
        );
        assert_eq!(r.uint_le(1, "e").unwrap(), 9);
        assert!(r.is_empty());
        let mut r = Reader::new(&[1, 2]);
        assert!(r.take(usize::MAX, "x").is_err());
        assert_eq!(r.uint_be(2, "x").unwrap(), 0x0102);
        assert!(Reader::new(&[0; 9]).uint_le(9, "x").is_err());
    }

    #[test]
    fn lenenc_forms() {
        let mut r = Reader::new(&[
            250, 0xFC, 0x34, 0x12, 0xFD, 1, 2, 3, 0xFE, 1, 0, 0, 0, 0, 0, 0, 1,
        ]);
        assert_eq!(r.lenenc("a").unwrap(), 250);
        assert_eq!(r.lenenc("a").unwrap(), 0x1234);
        assert_eq!(r.lenenc("a").unwrap(), 0x030201);
        assert_eq!(r.lenenc("a").unwrap(), 0x0100_0000_0000_0001);
        assert!(r.is_empty());
        assert!(r.lenenc("a").is_err());
        assert!(Reader::new(&[0xFE, 1]).lenenc("x").is_err());
    }

    #[test]
    fn null_marker_only_where_null_can_be() {
        let e = Reader::new(&[0xFB]).lenenc("count").unwrap_err();
        assert_eq!((e.field, e.offset), ("count", 0));
        assert!(e.to_string().contains("0xFB"), "{e}");
        assert_eq!(Reader::new(&[0xFB]).lenenc_or_null("cell").unwrap(), None);
        assert_eq!(
            Reader::new(&[0xFB]).lenenc_bytes_or_null("cell").unwrap(),
            None
        );
        assert!(Reader::new(&[0xFB]).lenenc_bytes("s").is_err());
        for nullable in [false, true] {
            let mut r = Reader::new(&[1, 0xFF]);
            r.u8("x").unwrap();
            let e = match nullable {
                true => r.lenenc_or_null("n").unwrap_err(),
                false => r.lenenc("n").unwrap_err(),
            };
            assert_eq!(e.offset, 1);
            assert!(e.to_string().contains("0xFF"), "{e}");
        }
    }

    #[test]
    fn errors_name_packet_field_and_offset() {
        let mut r = Reader::in_packet(&[1, 2, 3], "handshake");
        r.u8("a").unwrap();
        let e = r.u32("connection id").unwrap_err();
        assert_eq!(
            e.to_string(),
            "handshake packet, field connection id at byte 1: needs 4 bytes, only 2 left"
        );
        assert!(Reader::new(b"abc").nul_bytes("name").is_err());
        assert_eq!(Reader::new(b"ab\0c").nul_bytes("name").unwrap(), b"ab");
        assert_eq!(Reader::new(b"abc").nul_or_eof_bytes(), b"abc");
    }

    #[test]
    fn lengths_beyond_the_input_are_refused() {
        let mut r = Reader::new(&[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1]);
        assert!(matches!(
            r.lenenc_len(1, "x"),
            Err(WireError {
                problem: Problem::Truncated { .. },
                ..
            })
        ));
        assert!(Reader::new(&[3, 1, 2]).lenenc_bytes("x").is_err());
        assert!(Reader::new(&[2, 1, 2]).lenenc_len(2, "x").is_err());
        assert_eq!(Reader::new(&[2, 1, 2, 3, 4]).lenenc_len(2, "x").unwrap(), 2);
    }

    #[test]
    fn varlen_forms() {
        // one byte: value << 1
        assert_eq!(Reader::new(&[0x78]).varlen_u64("x").unwrap(), 60);
        // two bytes: trailing one bit, value << 2
        assert_eq!(Reader::new(&[0xa1, 0x04]).varlen_u64("x").unwrap(), 296);
        // signed zig-zag
        assert_eq!(Reader::new(&[0x0c]).varlen_i64("x").unwrap(), 6 >> 1);
        assert_eq!(Reader::new(&[0x02]).varlen_i64("x").unwrap(), -1);
        let mut nine = vec![0xFF];
        nine.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Reader::new(&nine).varlen_u64("x").unwrap(), u64::MAX);
        assert!(Reader::new(&[0x01]).varlen_u64("x").is_err());
    }

    fn any_op() -> impl Strategy<Value = u8> {
        0u8..16
    }

    proptest! {
        #[test]
        fn lenenc_round_trips(v in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            put_lenenc(&mut out, v);
            prop_assert!(out[0] != 0xFB && out[0] != 0xFF);
            out.extend_from_slice(&tail);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.lenenc("v").unwrap(), v);
            prop_assert_eq!(r.rest(), &tail[..]);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.lenenc_or_null("v").unwrap(), Some(v));
        }

        #[test]
        fn lenenc_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            put_lenenc_bytes(&mut out, &b);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.lenenc_bytes("s").unwrap(), &b[..]);
            prop_assert!(r.is_empty());
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.lenenc_bytes_or_null("s").unwrap(), Some(&b[..]));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            ops in proptest::collection::vec((any_op(), 0usize..12), 0..32),
        ) {
            let mut r = Reader::new(&data);
            for (op, n) in ops {
                let before = r.pos();
                let ok = match op {
                    0 => r.u8("f").is_ok(),
                    1 => r.u16("f").is_ok(),
                    2 => r.u32("f").is_ok(),
                    3 => r.u64("f").is_ok(),
                    4 => r.uint_le(n, "f").is_ok(),
                    5 => r.uint_be(n, "f").is_ok(),
                    6 => r.lenenc("f").is_ok(),
                    7 => r.lenenc_or_null("f").is_ok(),
                    8 => r.lenenc_len(n, "f").is_ok(),
                    9 => r.lenenc_bytes("f").is_ok(),
                    10 => r.lenenc_bytes_or_null("f").is_ok(),
                    11 => r.nul_bytes("f").is_ok(),
                    12 => { r.nul_or_eof_bytes(); true }
                    13 => r.varlen_i64("f").is_ok(),
                    14 => r.take(n, "f").is_ok(),
                    _ => r.array::<3>("f").is_ok(),
                };
                prop_assert!(r.pos() <= data.len());
                prop_assert_eq!(r.remaining(), data.len() - r.pos());
                if ok {
                    prop_assert!(r.pos() >= before);
                }
            }
        }
    }
}
