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
