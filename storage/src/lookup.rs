//! Lookups by commit time, source position and GTID set, and locating an
//! offset on disk. Each picks the segment from the in-memory segment infos,
//! the starting batch from that segment's sparse index (binary search), and
//! then scans at most about one index interval of batches.

use std::path::PathBuf;

use crate::batch::{self, RawRecord};
use crate::gtid::GtidSet;
use crate::index::Index;
use crate::log::Log;
use crate::record::SourcePos;
use crate::segment::{self, At, SegmentInfo};
use crate::StorageError;

/// Where an offset is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte position of the batch holding the offset.
    pub batch_pos: u64,
    /// Offsets of that batch.
    pub batch_offsets: std::ops::Range<u64>,
}

impl Log {
    /// The offset of the first record with commit time ≥ `time_ms`, or the
    /// durable end if there is none yet.
    pub fn find_time(&self, time_ms: i64) -> Result<u64, StorageError> {
        self.find(
            |i| i.time_range.is_some_and(|(_, max)| max >= time_ms),
            |ix| ix.for_time(time_ms).map(|e| e.file_pos),
            |r, _| r.commit_time_ms >= time_ms,
        )
    }

    /// The offset of the first record whose source position is after `pos`
    /// (where a source that has applied everything up to `pos` resumes), or
    /// the durable end if there is none yet.
    pub fn find_position(&self, pos: SourcePos) -> Result<u64, StorageError> {
        self.find(
            |i| i.max_position.is_some_and(|m| m > pos),
            |ix| ix.for_position(pos).map(|e| e.file_pos),
            |r, _| r.position > pos,
        )
    }

    /// The offset of the first record whose GTID contribution is not
    /// contained in `set` (records without GTIDs count as contained), or
    /// the durable end if every record is contained.
    pub fn find_gtid(&self, set: &GtidSet) -> Result<u64, StorageError> {
        self.find(
            |i| !i.gtid_after.is_subset(set),
            |ix| ix.for_gtid(set).map(|e| e.file_pos),
            |_, g| GtidSet::from_bytes(g).is_ok_and(|g| !g.is_subset(set)),
        )
    }

    /// Where the record at `offset` is stored.
    pub fn locate(&self, offset: u64) -> Result<Location, StorageError> {
        self.refresh()?;
        let (segs, start) = self.snapshot();
        let end = self.durable_end();
        if offset < start {
            return Err(StorageError::BelowStart {
                requested: offset,
                start,
            });
        }
        if offset >= end {
            return Err(StorageError::BeyondEnd {
                requested: offset,
                end,
            });
        }
        let i = segs.partition_point(|s| s.base <= offset);
        let Some(seg) = i.checked_sub(1).and_then(|i| segs.get(i)) else {
            return Err(StorageError::BelowStart {
                requested: offset,
                start,
            });
        };
        let index = seg.load_index(self.inner.config.index_interval_bytes)?;
        let info = seg.info.read().clone();
        let map = seg.map();
        let mut pos = index
            .for_offset(offset)
            .map_or(info.data_start, |e| e.file_pos);
        loop {
            let bytes = map
                .get(pos as usize..(info.data_end as usize).min(map.len()))
                .unwrap_or_default();
            match batch::parse_header(bytes) {
                Ok(h) if h.next_offset() <= offset => pos += h.total_len(),
                Ok(h) => {
                    return Ok(Location {
                        segment: seg.path.clone(),
                        batch_pos: pos,
                        batch_offsets: h.base_offset..h.next_offset(),
                    })
                }
                Err(batch::HeaderProblem::End) => {
                    return Err(StorageError::corrupt(
                        &seg.path,
                        pos,
                        "offset not in its segment",
                    ))
                }
                Err(batch::HeaderProblem::Bad(w)) => {
                    return Err(StorageError::corrupt(&seg.path, pos, w))
                }
            }
        }
    }

    fn find(
        &self,
        may_hold: impl Fn(&SegmentInfo) -> bool,
        entry: impl Fn(&Index) -> Option<u64>,
        mut hit: impl FnMut(&RawRecord, &[u8]) -> bool,
    ) -> Result<u64, StorageError> {
        self.refresh()?;
        let (segs, start) = self.snapshot();
        let end = self.durable_end();
        for seg in &segs {
            {
                let info = seg.info.read();
                if info.records() == 0 || info.base_offset >= end || !may_hold(&info) {
                    continue;
                }
            }
            let info = seg.info.read().clone();
            let index = seg.load_index(self.inner.config.index_interval_bytes)?;
            let mut pos = entry(&index).unwrap_or(info.data_start);
            let map = seg.map();
            while pos < info.data_end {
                let b = match segment::batch_at(&map, pos, info.data_end) {
                    At::Batch(b) => b,
                    At::End => break,
                    At::Bad(what) => return Err(StorageError::corrupt(&seg.path, pos, what)),
                };
                let base = b.header.base_offset;
                let mut found = None;
                let _ = batch::walk(&b.raw, b.header.record_count, |i, r, g| {
                    if found.is_none() && hit(r, g) {
                        found = Some(base + i as u64);
                    }
                });
                if let Some(o) = found {
                    return Ok(o.clamp(start, end));
                }
                if b.header.next_offset() >= end {
                    return Ok(end);
                }
                pos += b.header.total_len();
            }
        }
        Ok(end)
    }
}
