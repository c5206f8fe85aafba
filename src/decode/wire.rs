//! A bounds-checked cursor over the little-endian fields of binlog events.
//!
//! Every read checks what is left and fails with [`DecodeError::Truncated`]
//! naming the field, so parsers of outside bytes never index past the end
//! and never panic. Lengths read from the bytes are only ever used to take
//! sub-slices of what is present, never to pre-allocate.

use super::DecodeError;

/// Reads fields from the front of a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let have = self.remaining();
        if n > have {
            return Err(DecodeError::Truncated {
                what,
                need: n,
                have,
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(self.buf.get(start..start + n).unwrap_or_default())
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.buf.len());
        self.pos = self.buf.len();
        self.buf.get(start..).unwrap_or_default()
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        self.take(n, what).map(|_| ())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn uuid(&mut self, what: &'static str) -> Result<[u8; 16], DecodeError> {
        self.array(what)
    }

    /// An unsigned little-endian integer of `n` (≤ 8) bytes.
    pub fn uint_n(&mut self, n: usize, what: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.take(n.min(8), what)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// MySQL's length-encoded integer (`net_field_length`): one byte below
    /// 251, else 0xFC + 2, 0xFD + 3, 0xFE + 8 bytes. 0xFB (NULL) and 0xFF
    /// are invalid here.
    pub fn lenenc(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        match self.u8(what)? {
            b @ 0..=250 => Ok(u64::from(b)),
            0xFC => self.uint_n(2, what),
            0xFD => self.uint_n(3, what),
            0xFE => self.u64(what),
            b => Err(DecodeError::Invalid {
                what,
                detail: format!("length-encoded integer starts with {b:#04x}"),
            }),
        }
    }

    /// A length taken from the bytes, checked against what is left so it
    /// can never drive an allocation larger than the input.
    pub fn len_checked(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(n, what)
    }

    /// MySQL serialization-library variable-length unsigned integer (used
    /// by the tagged GTID event of 8.4+): the count of trailing one bits of
    /// the first byte, plus one, is the length in bytes; for 1–8 bytes the
    /// value is the little-endian number shifted right by that length; with
    /// nine bytes (first byte 0xFF) the next eight bytes are the value.
    pub fn varlen_u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let first = self
            .buf
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Truncated {
                what,
                need: 1,
                have: 0,
            })?;
        let len = (first.trailing_ones() as usize) + 1;
        if len == 9 {
            self.skip(1, what)?;
            return self.u64(what);
        }
        let raw = self.uint_n(len, what)?;
        Ok(raw >> len)
    }

    /// Signed variant of [`Cursor::varlen_u64`]: zig-zag encoded.
    pub fn varlen_i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let v = self.varlen_u64(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_fields_and_reports_truncation() {
        let mut c = Cursor::new(&[1, 2, 0, 3, 0, 0, 0, 9]);
        assert_eq!(c.u8("a").unwrap(), 1);
        assert_eq!(c.u16("b").unwrap(), 2);
        assert_eq!(c.u32("c").unwrap(), 3);
        let err = c.u16("d").unwrap_err();
        assert!(matches!(
            err,
            DecodeError::Truncated {
                what: "d",
                need: 2,
                have: 1
            }
        ));
        assert_eq!(c.uint_n(1, "e").unwrap(), 9);
        assert!(c.is_empty());
    }

    #[test]
    fn lenenc_forms() {
        assert_eq!(Cursor::new(&[250]).lenenc("x").unwrap(), 250);
        assert_eq!(Cursor::new(&[0xFC, 1, 2]).lenenc("x").unwrap(), 0x0201);
        assert_eq!(Cursor::new(&[0xFD, 1, 2, 3]).lenenc("x").unwrap(), 0x030201);
        assert_eq!(
            Cursor::new(&[0xFE, 1, 0, 0, 0, 0, 0, 0, 1])
                .lenenc("x")
                .unwrap(),
            0x0100_0000_0000_0001
        );
        assert!(Cursor::new(&[0xFB]).lenenc("x").is_err());
        assert!(Cursor::new(&[0xFE, 1]).lenenc("x").is_err());
    }

    #[test]
    fn varlen_forms() {
        // one byte: value << 1
        assert_eq!(Cursor::new(&[0x78]).varlen_u64("x").unwrap(), 60);
        // two bytes: trailing one bit, value << 2
        assert_eq!(Cursor::new(&[0xa1, 0x04]).varlen_u64("x").unwrap(), 296);
        // signed zig-zag
        assert_eq!(Cursor::new(&[0x0c]).varlen_i64("x").unwrap(), 6 >> 1);
        assert_eq!(Cursor::new(&[0x02]).varlen_i64("x").unwrap(), -1);
        let mut nine = vec![0xFF];
        nine.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Cursor::new(&nine).varlen_u64("x").unwrap(), u64::MAX);
        assert!(Cursor::new(&[0x01]).varlen_u64("x").is_err());
    }
}
