//! A bounds-checked reader over a byte slice. Every binlog parser in
//! `decode` reads through it so that malformed input becomes a
//! [`DecodeError::Truncated`] naming the field, never a panic, and no
//! length read from the input is trusted beyond the bytes actually present.

use super::DecodeError;

/// Reads little-endian (and, where the format says so, big-endian) fields
/// from a slice, advancing as it goes.
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
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The unconsumed bytes, without consuming them.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Take `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                what,
                need: n,
                have: self.remaining(),
            }),
        }
    }

    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        self.take(n, what).map(|_| ())
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(DecodeError::Truncated {
                what,
                need: 1,
                have: 0,
            }),
        }
    }

    #[inline]
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline]
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// An unsigned little-endian integer of `n` (0..=8) bytes.
    #[inline]
    pub fn uint_le(&mut self, n: usize, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(n, what)?;
        Ok(le_uint(b))
    }

    /// An unsigned big-endian integer of `n` (0..=8) bytes.
    #[inline]
    pub fn uint_be(&mut self, n: usize, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(n, what)?;
        Ok(be_uint(b))
    }

    /// A MySQL length-encoded integer (`0xFB` is not special here: binlog
    /// packed integers never encode NULL).
    #[inline]
    pub fn lenenc(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let first = self.u8(what)?;
        match first {
            0..=0xFA => Ok(u64::from(first)),
            0xFB => Ok(0xFB),
            0xFC => self.uint_le(2, what),
            0xFD => self.uint_le(3, what),
            0xFE => self.uint_le(8, what),
            0xFF => Err(DecodeError::Invalid {
                what,
                detail: "length-encoded integer starts with 0xFF".into(),
            }),
        }
    }

    /// A length-encoded integer used as a length or count: it must fit in
    /// what is left of the input (each counted item takes at least
    /// `min_item` bytes), so it can size an allocation safely.
    #[inline]
    pub fn lenenc_len(
        &mut self,
        min_item: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let n = self.lenenc(what)?;
        let have = self.remaining();
        let need = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(min_item.max(1)));
        match need {
            Some(need) if need <= have => Ok(n as usize),
            _ => Err(DecodeError::Truncated {
                what,
                need: usize::try_from(n).unwrap_or(usize::MAX),
                have,
            }),
        }
    }

    /// A length-encoded string: a length, then that many bytes.
    #[inline]
    pub fn lenenc_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.lenenc_len(1, what)?;
        self.take(n, what)
    }
}

/// Little-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().take(8).enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    v
}

/// Big-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for &x in b.iter().take(8) {
        v = (v << 8) | u64::from(x);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_forms() {
        let mut c = Cursor::new(&[
            0x05, 0xFC, 0x34, 0x12, 0xFD, 1, 2, 3, 0xFE, 1, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(c.lenenc("a").unwrap(), 5);
        assert_eq!(c.lenenc("a").unwrap(), 0x1234);
        assert_eq!(c.lenenc("a").unwrap(), 0x030201);
        assert_eq!(c.lenenc("a").unwrap(), 1);
        assert!(c.is_empty());
        assert!(c.lenenc("a").is_err());
    }

    #[test]
    fn lengths_beyond_the_input_are_refused() {
        let mut c = Cursor::new(&[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1]);
        assert!(matches!(
            c.lenenc_len(1, "x"),
            Err(DecodeError::Truncated { .. })
        ));
        let mut c = Cursor::new(&[3, 1, 2]);
        assert!(c.lenenc_bytes("x").is_err());
        let mut c = Cursor::new(&[1, 2]);
        assert!(c.take(usize::MAX, "x").is_err());
        assert_eq!(c.uint_be(2, "x").unwrap(), 0x0102);
    }
}
