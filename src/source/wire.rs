//! Bounds-checked reading and writing of the protocol's basic types inside
//! one packet payload. Every read checks the length first, so a short or
//! garbled packet becomes a [`WireError`] naming the field and offset —
//! never a panic.
//!
//! Types (all little-endian):
//! - `int<n>`: n-byte unsigned integer (n = 1, 2, 3, 4, 6, 8).
//! - `int<lenenc>`: first byte < 0xFB is the value; 0xFC + int<2>;
//!   0xFD + int<3>; 0xFE + int<8>. 0xFB means SQL NULL in a text row;
//!   0xFF never starts a length-encoded integer.
//! - `string<NUL>`: bytes up to a 0x00 terminator.
//! - `string<lenenc>`: an `int<lenenc>` length, then that many bytes.
//! - `string<EOF>`: the rest of the payload.

use super::error::SourceError;

/// A field that did not fit, or had an impossible value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub packet: &'static str,
    pub field: &'static str,
    pub offset: usize,
    pub detail: String,
}

impl WireError {
    pub fn at(self, addr: &str) -> SourceError {
        SourceError::malformed(
            addr,
            format!(
                "{} packet, field {} at byte {}: {}",
                self.packet, self.field, self.offset, self.detail
            ),
        )
    }
}

pub type WireResult<T> = Result<T, WireError>;

/// A cursor over one packet payload.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    packet: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], packet: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            packet,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn err(&self, field: &'static str, detail: String) -> WireError {
        WireError {
            packet: self.packet,
            field,
            offset: self.pos,
            detail,
        }
    }

    pub fn bytes(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        match rest.get(..n) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.err(field, format!("needs {n} bytes, only {} left", rest.len()))),
        }
    }

    pub fn skip(&mut self, n: usize, field: &'static str) -> WireResult<()> {
        self.bytes(n, field).map(|_| ())
    }

    pub fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        Ok(self.bytes(1, field)?[0])
    }

    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// An n-byte little-endian integer, n ≤ 8.
    pub fn uint(&mut self, n: usize, field: &'static str) -> WireResult<u64> {
        let b = self.bytes(n.min(8), field)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte)))
    }

    pub fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        Ok(self.uint(2, field)? as u16)
    }

    pub fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        Ok(self.uint(4, field)? as u32)
    }

    pub fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        self.uint(8, field)
    }

    /// `int<lenenc>`; `Ok(None)` for the NULL marker 0xFB.
    pub fn lenenc_or_null(&mut self, field: &'static str) -> WireResult<Option<u64>> {
        let first = self.u8(field)?;
        match first {
            0..=0xFA => Ok(Some(u64::from(first))),
            0xFB => Ok(None),
            0xFC => self.uint(2, field).map(Some),
            0xFD => self.uint(3, field).map(Some),
            0xFE => self.uint(8, field).map(Some),
            0xFF => {
                self.pos -= 1;
                Err(self.err(field, "0xFF cannot start a length-encoded integer".into()))
            }
        }
    }

    pub fn lenenc(&mut self, field: &'static str) -> WireResult<u64> {
        match self.lenenc_or_null(field)? {
            Some(v) => Ok(v),
            None => {
                self.pos -= 1;
                Err(self.err(field, "unexpected NULL marker 0xFB".into()))
            }
        }
    }

    /// `string<lenenc>`; `Ok(None)` for NULL.
    pub fn lenenc_bytes_or_null(&mut self, field: &'static str) -> WireResult<Option<&'a [u8]>> {
        match self.lenenc_or_null(field)? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n)
                    .map_err(|_| self.err(field, format!("length {n} too large")))?;
                self.bytes(n, field).map(Some)
            }
        }
    }

    pub fn lenenc_bytes(&mut self, field: &'static str) -> WireResult<&'a [u8]> {
        let n = self.lenenc(field)?;
        let n = usize::try_from(n).map_err(|_| self.err(field, format!("length {n} too large")))?;
        self.bytes(n, field)
    }

    /// `string<NUL>`; the terminator is consumed, not returned.
    pub fn nul_bytes(&mut self, field: &'static str) -> WireResult<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                Ok(&rest[..end])
            }
            None => Err(self.err(field, "missing NUL terminator".into())),
        }
    }

    /// `string<NUL>` if a terminator is present, else the rest (servers
    /// omit the final NUL of the auth plugin name in some versions).
    pub fn nul_or_eof_bytes(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                &rest[..end]
            }
            None => {
                self.pos = self.buf.len();
                rest
            }
        }
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }
}

/// Append `int<lenenc>`.
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
    fn lenenc_round_trip_at_each_width() {
        for v in [
            0u64,
            250,
            251,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_lenenc(&mut out, v);
            let mut r = Reader::new(&out, "test");
            assert_eq!(r.lenenc("v").unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn short_reads_name_the_field_and_offset() {
        let mut r = Reader::new(&[1, 2, 3], "handshake");
        r.u8("a").unwrap();
        let e = r.u32("connection id").unwrap_err();
        assert_eq!(e.field, "connection id");
        assert_eq!(e.offset, 1);
        assert!(e.detail.contains("needs 4 bytes, only 2 left"), "{e:?}");
        let e = Reader::new(&[0xFC, 1], "x").lenenc("len").unwrap_err();
        assert_eq!(e.field, "len");
        assert!(Reader::new(b"abc", "x").nul_bytes("name").is_err());
    }

    proptest! {
        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), ops in proptest::collection::vec(0u8..8, 0..32)) {
            let mut r = Reader::new(&data, "fuzz");
            for op in ops {
                let _ = match op {
                    0 => r.u8("f").map(|_| ()),
                    1 => r.u16("f").map(|_| ()),
                    2 => r.u32("f").map(|_| ()),
                    3 => r.lenenc_or_null("f").map(|_| ()),
                    4 => r.lenenc_bytes_or_null("f").map(|_| ()),
                    5 => r.nul_bytes("f").map(|_| ()),
                    6 => { r.nul_or_eof_bytes(); Ok(()) }
                    _ => r.bytes(3, "f").map(|_| ()),
                };
                prop_assert!(r.pos() <= data.len());
            }
        }
    }
}
