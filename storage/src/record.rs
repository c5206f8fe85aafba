//! The record types of the public API: what a caller appends
//! ([`NewRecord`]) and what a reader gets back ([`Record`]). A record is an
//! opaque payload plus a few keys the log indexes: commit time, source
//! position and GTID contribution. Nothing here knows what the payload is.

use bytes::Bytes;

use crate::codec::Cursor;
use crate::gtid::GtidSet;

/// A position in the source's stream: a file number and a byte position in
/// that file (for MySQL, the binlog file's numeric suffix and the position
/// of the next transaction). Ordered lexicographically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourcePos {
    /// The file number.
    pub file_no: u32,
    /// The byte position in the file.
    pub pos: u64,
}

impl SourcePos {
    /// A position.
    pub const fn new(file_no: u32, pos: u64) -> Self {
        SourcePos { file_no, pos }
    }
}

impl std::fmt::Display for SourcePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file_no, self.pos)
    }
}

/// A record to append. The log assigns its offset.
#[derive(Clone, Debug, Default)]
pub struct NewRecord<'a> {
    /// The opaque payload.
    pub payload: &'a [u8],
    /// Commit time in milliseconds since the Unix epoch.
    pub commit_time_ms: i64,
    /// The source position after this record (where to resume).
    pub position: SourcePos,
    /// The GTIDs this record contributes (usually one number of one stream;
    /// empty when the source has none).
    pub gtid: GtidSet,
}

/// The keys of a record, without its payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordKeys {
    /// The record's log offset.
    pub offset: u64,
    /// Commit time in milliseconds since the Unix epoch.
    pub commit_time_ms: i64,
    /// The source position after this record.
    pub position: SourcePos,
}

/// A record read from the log. The payload is a zero-copy view into the
/// memory-mapped segment (or into the decompressed batch); holding it keeps
/// that segment's file alive even if retention removes it from the log.
#[derive(Clone, Debug)]
pub struct Record {
    /// The record's log offset.
    pub offset: u64,
    /// Commit time in milliseconds since the Unix epoch.
    pub commit_time_ms: i64,
    /// The source position after this record.
    pub position: SourcePos,
    pub(crate) gtid: Bytes,
    pub(crate) payload: Bytes,
}

impl Record {
    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload out of the record.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The record's GTID contribution. (Its encoding was checked when the
    /// batch was read, so this does not fail; an undecodable set, which
    /// cannot pass that check, would come back empty.)
    pub fn gtid(&self) -> GtidSet {
        GtidSet::from_bytes(&self.gtid).unwrap_or_default()
    }

    /// The record's keys.
    pub fn keys(&self) -> RecordKeys {
        RecordKeys {
            offset: self.offset,
            commit_time_ms: self.commit_time_ms,
            position: self.position,
        }
    }
}

/// Checks that `bytes` is a well-formed GTID set encoding without building
/// it (used on the read path, where allocation per record would cost).
pub(crate) fn check_gtid(bytes: &[u8]) -> bool {
    let mut c = Cursor::new(bytes);
    GtidSet::validate(&mut c).is_ok() && c.remaining() == 0
}
