//! Binlog files: map a file into memory and cut it into events without
//! copying.
//!
//! File layout: the 4-byte magic `FE 62 69 6E`, then events back to back,
//! each announcing its own size in its common header (`header.rs`). v1
//! files (MySQL 3.23) are recognised by a first START_EVENT_V3 of 69 bytes
//! under a 13-byte header.

use super::event_type as et;
use super::header::{HEADER_LEN, HEADER_LEN_V1};
use super::DecodeError;
use std::path::Path;

/// The magic at the start of every binlog file.
pub const MAGIC: [u8; 4] = [0xFE, b'b', b'i', b'n'];

enum Storage {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// A binlog file's bytes, memory-mapped.
pub struct BinlogFile {
    storage: Storage,
    name: String,
}

impl BinlogFile {
    /// Map `path` read-only.
    ///
    /// The map is only sound while no one truncates the file: a binlog the
    /// server still writes may grow (harmless: we see the prefix mapped at
    /// open), but truncating it under us would raise SIGBUS. sluice maps
    /// only files given to `sluice decode` and the tests' own copies.
    pub fn open(path: &Path) -> std::io::Result<BinlogFile> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let storage = if len == 0 {
            Storage::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only and private to this process; the
            // file is not modified through it. Concurrent truncation by
            // another process is the documented SIGBUS risk above.
            Storage::Mapped(unsafe { memmap2::Mmap::map(&file)? })
        };
        Ok(BinlogFile { storage, name })
    }

    /// Wrap bytes already in memory (tests, network captures).
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> BinlogFile {
        BinlogFile {
            storage: Storage::Owned(bytes),
            name: name.into(),
        }
    }

    /// The file's name (no directory): what positions refer to.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        }
    }

    /// The events of the file, as (offset, bytes).
    pub fn events(&self) -> EventSlices<'_> {
        EventSlices::new(self.bytes())
    }
}

/// A file that cannot be cut into events past `offset`.
#[derive(Debug)]
pub struct FramingError {
    pub offset: u64,
    pub error: DecodeError,
}

/// Cuts a binlog file's bytes into events. Stops at the first framing
/// error (bad magic, truncated header or event, impossible size), which
/// it yields once.
pub struct EventSlices<'a> {
    data: &'a [u8],
    pos: usize,
    header_len: usize,
    done: bool,
}

impl<'a> EventSlices<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        // v1: START_EVENT_V3 of 13 + 56 bytes first.
        let first_type = data.get(4 + 4).copied();
        let first_size = data
            .get(4 + 9..4 + 13)
            .map(|b| b.iter().rev().fold(0u32, |a, &x| (a << 8) | u32::from(x)));
        let header_len = if first_type == Some(et::START_V3) && first_size == Some(13 + 56) {
            HEADER_LEN_V1
        } else {
            HEADER_LEN
        };
        EventSlices {
            data,
            pos: 0,
            header_len,
            done: false,
        }
    }

    /// The common header length the file uses (13 for v1 files).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    fn fail(&mut self, offset: u64, error: DecodeError) -> Option<<Self as Iterator>::Item> {
        self.done = true;
        Some(Err(FramingError { offset, error }))
    }
}

impl<'a> Iterator for EventSlices<'a> {
    type Item = Result<(u64, &'a [u8]), FramingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos == 0 {
            if self.data.get(..4) != Some(&MAGIC[..]) {
                return self.fail(
                    0,
                    DecodeError::Invalid {
                        what: "binlog file",
                        detail: "does not start with the binlog magic FE 62 69 6E".into(),
                    },
                );
            }
            self.pos = 4;
        }
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.pos as u64;
        if rest.len() < self.header_len {
            return self.fail(
                offset,
                DecodeError::Truncated {
                    what: "event header (the file ends inside it)",
                    need: self.header_len,
                    have: rest.len(),
                },
            );
        }
        let size = rest
            .get(9..13)
            .map(|b| {
                b.iter()
                    .rev()
                    .fold(0usize, |a, &x| (a << 8) | usize::from(x))
            })
            .unwrap_or(0);
        if size < self.header_len {
            return self.fail(
                offset,
                DecodeError::Invalid {
                    what: "event size",
                    detail: format!("{size} is smaller than the {}-byte header", self.header_len),
                },
            );
        }
        let Some(bytes) = rest.get(..size) else {
            return self.fail(
                offset,
                DecodeError::Truncated {
                    what: "event (the file ends inside it)",
                    need: size,
                    have: rest.len(),
                },
            );
        };
        self.pos += size;
        Some(Ok((offset, bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_all;

    fn v1_event(type_code: u8, body: &[u8]) -> Vec<u8> {
        let mut ev = 1_000_000_000u32.to_le_bytes().to_vec();
        ev.push(type_code);
        ev.extend_from_slice(&3u32.to_le_bytes());
        ev.extend_from_slice(&(13 + body.len() as u32).to_le_bytes());
        ev.extend_from_slice(body);
        ev
    }

    #[test]
    fn a_v1_file_with_13_byte_headers_decodes() {
        let mut start = 1u16.to_le_bytes().to_vec();
        let mut ver = b"3.23.58-log".to_vec();
        ver.resize(50, 0);
        start.extend_from_slice(&ver);
        start.extend_from_slice(&0u32.to_le_bytes());
        let mut query = 5u32.to_le_bytes().to_vec(); // thread id
        query.extend_from_slice(&0u32.to_le_bytes()); // exec time
        query.push(4); // schema length
        query.extend_from_slice(&0u16.to_le_bytes()); // error code
        query.extend_from_slice(b"test\0CREATE TABLE old (a int)");
        let mut bytes = MAGIC.to_vec();
        bytes.extend(v1_event(et::START_V3, &start));
        let q_at = bytes.len() as u64;
        bytes.extend(v1_event(et::QUERY, &query));
        let file = BinlogFile::from_bytes("v1-bin.001", bytes.clone());
        assert_eq!(file.events().header_len(), HEADER_LEN_V1);
        let d = decode_all(&file);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.decoder.format_description().server_version, "3.23.58-log");
        assert_eq!(d.records.len(), 1);
        let r = &d.records[0];
        assert_eq!(r.ddl.clone().unwrap().statement, "CREATE TABLE old (a int)");
        assert_eq!(r.ddl.clone().unwrap().schema, "test");
        let p = r.position.clone().unwrap();
        assert_eq!((p.start, p.next), (q_at, bytes.len() as u64));
    }

    #[test]
    fn framing_errors_say_where() {
        let no_magic = BinlogFile::from_bytes("x", b"GIF89a".to_vec());
        let e = no_magic.events().next().unwrap().unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.error.to_string().contains("magic"));
        let mut small = MAGIC.to_vec();
        small.extend_from_slice(&[0; 19]); // event size 0
        let e = BinlogFile::from_bytes("y", small)
            .events()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.error.to_string().contains("smaller than"));
        assert!(BinlogFile::from_bytes("z", MAGIC.to_vec())
            .events()
            .next()
            .is_none());
    }
}
