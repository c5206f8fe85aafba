//! The sparse index of one segment: every `index_interval_bytes` of
//! batches, an entry for the batch that starts there, with what is known
//! about everything before it. One entry answers all lookups:
//!
//! - offset → file position: the last entry whose offset ≤ the target;
//! - time → offset: records before an entry all have commit time ≤ its
//!   `max_time_before`, so the first record with time ≥ T is at or after the
//!   last entry whose `max_time_before` < T;
//! - position → offset: likewise with `max_pos_before` ≤ P;
//! - GTID set S → offset: `gtid_before` is the log's cumulative set, so the
//!   first record not contained in S is at or after the last entry whose
//!   `gtid_before` ⊆ S.
//!
//! Each lookup is a binary search, then a scan of at most one interval.
//!
//! The active segment's index lives in memory (recovery rebuilds it while
//! scanning the unsealed tail). A sealed segment's index is written next to
//! it as `{base:020}.index` when sealing, read lazily on first use and held
//! in memory; a missing or corrupt index file is rebuilt from the data.
//!
//! Index file layout (little endian):
//!
//! ```text
//!   0  8 bytes  magic "SLCIDX01"
//!   8  u64      base_offset of the segment
//!  16  u32      entry_count
//!  20  entry_count × entry
//!        u64 offset | u64 file_pos | i64 max_time_before
//!        | u32 max_file_before | u64 max_pos_before | gtid set (gtid.rs)
//!  ..  u32      CRC-32 of every byte before it
//! ```
//!
//! Before the first record of a segment, `max_time_before` is `i64::MIN`
//! and `max_pos_before` is `0:0`.

use std::path::Path;

use crate::codec::{crc, put_i64, put_u32, put_u64, Cursor, Short};
use crate::gtid::GtidSet;
use crate::record::SourcePos;
use crate::StorageError;

const INDEX_MAGIC: &[u8; 8] = b"SLCIDX01";

/// One sparse index entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the first record of the batch.
    pub offset: u64,
    /// Byte position of the batch in the segment file.
    pub file_pos: u64,
    /// Largest commit time of the segment's records before this batch.
    pub max_time_before: i64,
    /// Largest source position of the segment's records before this batch.
    pub max_pos_before: SourcePos,
    /// The log's cumulative GTID set before this batch.
    pub gtid_before: GtidSet,
}

/// The sparse index of one segment, plus the running state needed to
/// extend it batch by batch.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub entries: Vec<IndexEntry>,
    /// Bytes of batches since the last entry.
    since_last: u64,
    /// Running maxima over the records indexed so far.
    max_time: Option<i64>,
    max_pos: SourcePos,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Called before a batch at `file_pos` is appended; adds an entry when
    /// the interval has been reached (and always for the first batch).
    pub fn before_batch(
        &mut self,
        offset: u64,
        file_pos: u64,
        interval: u64,
        gtid_before: &GtidSet,
    ) {
        if self.entries.is_empty() || self.since_last >= interval {
            self.entries.push(IndexEntry {
                offset,
                file_pos,
                max_time_before: self.max_time.unwrap_or(i64::MIN),
                max_pos_before: self.max_pos,
                gtid_before: gtid_before.clone(),
            });
            self.since_last = 0;
        }
    }

    /// Accounts for a record of the batch being appended.
    pub fn record(&mut self, time: i64, pos: SourcePos) {
        self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
        self.max_pos = self.max_pos.max(pos);
    }

    /// Accounts for the bytes of the batch just appended.
    pub fn after_batch(&mut self, len: u64) {
        self.since_last += len;
    }

    /// The entry to start scanning from for offset `target`.
    pub fn for_offset(&self, target: u64) -> Option<&IndexEntry> {
        let i = self.entries.partition_point(|e| e.offset <= target);
        i.checked_sub(1).and_then(|i| self.entries.get(i))
    }

    /// The entry to start scanning from for "first record with time ≥ t".
    pub fn for_time(&self, t: i64) -> Option<&IndexEntry> {
        let i = self.entries.partition_point(|e| e.max_time_before < t);
        i.checked_sub(1).and_then(|i| self.entries.get(i))
    }

    /// The entry to start scanning from for "first record with position > p".
    pub fn for_position(&self, p: SourcePos) -> Option<&IndexEntry> {
        let i = self.entries.partition_point(|e| e.max_pos_before <= p);
        i.checked_sub(1).and_then(|i| self.entries.get(i))
    }

    /// The entry to start scanning from for "first record not in s".
    pub fn for_gtid(&self, s: &GtidSet) -> Option<&IndexEntry> {
        let i = self.entries.partition_point(|e| e.gtid_before.is_subset(s));
        i.checked_sub(1).and_then(|i| self.entries.get(i))
    }

    /// Encodes the index file.
    pub fn encode(&self, base: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.entries.len() * 64);
        out.extend_from_slice(INDEX_MAGIC);
        put_u64(&mut out, base);
        put_u32(&mut out, self.entries.len() as u32);
        for e in &self.entries {
            put_u64(&mut out, e.offset);
            put_u64(&mut out, e.file_pos);
            put_i64(&mut out, e.max_time_before);
            put_u32(&mut out, e.max_pos_before.file_no);
            put_u64(&mut out, e.max_pos_before.pos);
            e.gtid_before.encode(&mut out);
        }
        let c = crc(&out);
        put_u32(&mut out, c);
        out
    }

    /// Decodes an index file of the segment with base offset `base`.
    pub fn decode(bytes: &[u8], base: u64, path: &Path) -> Result<Index, StorageError> {
        let corrupt = |e: Short| StorageError::corrupt(path, e.at as u64, e.what);
        if bytes.len() < 24 {
            return Err(StorageError::corrupt(path, 0, "index file too short"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc(body) != stored {
            return Err(StorageError::corrupt(
                path,
                body.len() as u64,
                "index checksum mismatch",
            ));
        }
        let mut c = Cursor::new(body);
        let parse = |c: &mut Cursor<'_>| -> Result<Vec<IndexEntry>, Short> {
            if &c.array::<8>("index magic")? != INDEX_MAGIC {
                return c.fail("bad index magic");
            }
            if c.u64("base offset")? != base {
                return c.fail("index belongs to another segment");
            }
            let n = c.u32("entry count")? as usize;
            if n > c.remaining() / 36 {
                return c.fail("entry count larger than the file");
            }
            let mut entries: Vec<IndexEntry> = Vec::with_capacity(n);
            for _ in 0..n {
                let e = IndexEntry {
                    offset: c.u64("offset")?,
                    file_pos: c.u64("file position")?,
                    max_time_before: c.i64("max time")?,
                    max_pos_before: SourcePos::new(c.u32("max file")?, c.u64("max pos")?),
                    gtid_before: GtidSet::decode(c)?,
                };
                if entries
                    .last()
                    .is_some_and(|p| p.offset >= e.offset || p.file_pos >= e.file_pos)
                {
                    return c.fail("index entries out of order");
                }
                entries.push(e);
            }
            if c.remaining() != 0 {
                return c.fail("trailing bytes in index");
            }
            Ok(entries)
        };
        let entries = parse(&mut c).map_err(corrupt)?;
        Ok(Index {
            entries,
            ..Index::default()
        })
    }
}
