//! Little-endian byte helpers shared by every on-disk structure. Decoding
//! goes through [`Cursor`], which never panics: running out of bytes is a
//! [`Short`] error that the caller turns into a `Corrupt` error with the file
//! and byte offset.

/// Not enough bytes (or an impossible value) while decoding. Carries the
/// byte offset inside the decoded buffer and what was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Short {
    pub at: usize,
    pub what: String,
}

impl std::fmt::Display for Short {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {} of the structure)", self.what, self.at)
    }
}

/// A bounds-checked reader over a byte slice.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn fail<T>(&self, what: impl Into<String>) -> Result<T, Short> {
        Err(Short {
            at: self.pos,
            what: what.into(),
        })
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Short> {
        if self.remaining() < n {
            return self.fail(format!("{what}: need {n} bytes, {} left", self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Short> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Short> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, Short> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads a little-endian u32 at `at`, if the slice is long enough.
pub(crate) fn le_u32(buf: &[u8], at: usize) -> Option<u32> {
    let s = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian u64 at `at`, if the slice is long enough.
pub(crate) fn le_u64(buf: &[u8], at: usize) -> Option<u64> {
    let s = buf.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// CRC-32 (IEEE) of a byte slice: the checksum of every on-disk
/// structure. `crc32fast` uses carry-less multiplication (PCLMULQDQ) where
/// the CPU has it; on the benchmark machine that measured 1.8× faster than
/// the SSE 4.2 CRC-32C instruction path of the `crc32c` crate.
pub(crate) fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

const ZERO_PAGE: [u8; 4096] = [0; 4096];

/// Index of the first non-zero byte (compares page-sized chunks with
/// `memcmp`, fast even without optimisation).
pub(crate) fn first_nonzero(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    for chunk in b.chunks(ZERO_PAGE.len()) {
        if chunk != &ZERO_PAGE[..chunk.len()] {
            return chunk.iter().position(|&x| x != 0).map(|i| at + i);
        }
        at += chunk.len();
    }
    None
}
