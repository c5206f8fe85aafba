//! Sequential readers. A [`Reader`] walks the log from an offset, batch by
//! batch, handing out records whose payloads point into the mapped segment
//! (zero copy). It only returns durable records, checks every batch's
//! checksums before returning any of its records, and keeps the segment it
//! is in alive (mapped) even if retention removes it meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::batch;
use crate::live::Seg;
use crate::log::Log;
use crate::record::Record;
use crate::segment::{self, At};

use crate::StorageError;

/// Reads records in offset order from a starting offset.
pub struct Reader {
    log: Log,
    next: u64,
    cur: Option<Current>,
}

struct Current {
    seg: Arc<Seg>,
    /// Position of the batch after the current one.
    next_batch_pos: u64,
    raw: Bytes,
    /// Byte position in `raw` of the record with offset `offset`.
    at: usize,
    offset: u64,
    end_offset: u64,
}

impl Log {
    /// A reader positioned at `offset` (which may be the durable end, to
    /// follow new records). Fails if `offset` is below the log start or
    /// beyond the end.
    pub fn read_from(&self, offset: u64) -> Result<Reader, StorageError> {
        self.refresh()?;
        let start = self.start_offset();
        if offset < start {
            return Err(StorageError::BelowStart {
                requested: offset,
                start,
            });
        }
        // A read-only log can read a moved start before it has scanned the
        // segment holding it: the start is never past the writer's end.
        let end = self
            .last_record()
            .next_offset
            .max(self.durable_end())
            .max(start);
        if offset > end {
            return Err(StorageError::BeyondEnd {
                requested: offset,
                end,
            });
        }
        Ok(Reader {
            log: self.clone(),
            next: offset,
            cur: None,
        })
    }

    /// The record at `offset`, if it is durable.
    pub fn get(&self, offset: u64) -> Result<Option<Record>, StorageError> {
        if offset >= self.durable_end() {
            return Ok(None);
        }
        self.read_from(offset)?.next()
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("next", &self.next).finish()
    }
}

impl Reader {
    /// The offset of the next record this reader returns.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next durable record, or `None` at the durable end (call again
    /// later, or use [`Reader::next_wait`]). Errors with
    /// [`StorageError::BelowStart`] if retention deleted the next offset,
    /// and with `Corrupt` (file + byte) on a batch that fails its checksum.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record>, StorageError> {
        if self.next >= self.log.durable_end() {
            return Ok(None);
        }
        let start = self.log.start_offset();
        if self.next < start {
            self.cur = None;
            return Err(StorageError::BelowStart {
                requested: self.next,
                start,
            });
        }
        let usable = self
            .cur
            .as_ref()
            .is_some_and(|c| c.offset == self.next && c.offset < c.end_offset);
        if !usable {
            let following = self
                .cur
                .as_ref()
                .filter(|c| c.end_offset == self.next)
                .map(|c| (c.seg.clone(), c.next_batch_pos));
            self.cur = None;
            self.cur = Some(match following {
                Some((seg, pos)) => match self.batch_in(&seg, pos)? {
                    Some(c) => c,
                    None => self.seek()?,
                },
                None => self.seek()?,
            });
        }
        let Some(cur) = self.cur.as_mut() else {
            return Ok(None);
        };
        let (r, after) = batch::record_at(&cur.raw, cur.at).map_err(|e| {
            StorageError::corrupt(&cur.seg.path, cur.next_batch_pos, format!("record: {e}"))
        })?;
        let rec = batch::to_record(&cur.raw, cur.offset, &r);
        cur.at = after;
        cur.offset += 1;
        self.next += 1;
        if cur.offset >= cur.end_offset {
            // Keep the segment and position, drop the batch buffer reference.
            cur.raw = Bytes::new();
        }
        Ok(Some(rec))
    }

    /// Like [`Reader::next`], but waits up to `timeout` for a record to
    /// become durable (tail-follow).
    pub fn next_wait(&mut self, timeout: Duration) -> Result<Option<Record>, StorageError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.next()? {
                return Ok(Some(r));
            }
            let now = Instant::now();
            if now >= deadline || !self.log.wait_for(self.next, deadline - now) {
                return self.next();
            }
        }
    }

    /// Reads the batch at `pos` of `seg` and positions on `self.next` in it.
    /// `None` when `pos` is past the segment's data.
    fn batch_in(&self, seg: &Arc<Seg>, pos: u64) -> Result<Option<Current>, StorageError> {
        let data_end = seg.info.read().data_end;
        if pos >= data_end {
            return Ok(None);
        }
        let map = seg.map();
        match segment::batch_at(&map, pos, data_end) {
            At::Batch(b) => {
                if b.header.base_offset > self.next || b.header.next_offset() <= self.next {
                    return Err(StorageError::corrupt(
                        &seg.path,
                        pos,
                        format!(
                            "batch holds offsets {}..{}, expected one with {}",
                            b.header.base_offset,
                            b.header.next_offset(),
                            self.next
                        ),
                    ));
                }
                let mut at = 0;
                for _ in b.header.base_offset..self.next {
                    at = batch::record_at(&b.raw, at)
                        .map_err(|e| StorageError::corrupt(&seg.path, pos, e.to_string()))?
                        .1;
                }
                Ok(Some(Current {
                    seg: seg.clone(),
                    next_batch_pos: pos + b.header.total_len(),
                    raw: b.raw,
                    at,
                    offset: self.next,
                    end_offset: b.header.next_offset(),
                }))
            }
            At::End => Err(StorageError::corrupt(
                &seg.path,
                pos,
                "zeros where a durable batch should be",
            )),
            At::Bad(what) => Err(StorageError::corrupt(&seg.path, pos, what)),
        }
    }

    /// Finds the batch holding `self.next` through the segment list and the
    /// sparse index.
    fn seek(&self) -> Result<Current, StorageError> {
        let (segs, start) = self.log.snapshot();
        if self.next < start {
            return Err(StorageError::BelowStart {
                requested: self.next,
                start,
            });
        }
        let i = segs.partition_point(|s| s.base <= self.next);
        let seg = i.checked_sub(1).and_then(|i| segs.get(i)).cloned().ok_or(
            StorageError::BelowStart {
                requested: self.next,
                start,
            },
        )?;
        let index = seg.load_index(self.log.inner.config.index_interval_bytes)?;
        let info = seg.info.read().clone();
        let mut pos = index
            .for_offset(self.next)
            .map_or(info.data_start, |e| e.file_pos);
        let map = seg.map();
        loop {
            let bytes = map
                .get(pos as usize..(info.data_end as usize).min(map.len()))
                .unwrap_or_default();
            match batch::parse_header(bytes) {
                Ok(h) if h.next_offset() <= self.next => pos += h.total_len(),
                Ok(_) => {
                    return self
                        .batch_in(&seg, pos)?
                        .ok_or_else(|| StorageError::corrupt(&seg.path, pos, "batch vanished"))
                }
                Err(batch::HeaderProblem::End) => {
                    return Err(StorageError::corrupt(
                        &seg.path,
                        pos,
                        format!("offset {} not found in its segment", self.next),
                    ))
                }
                Err(batch::HeaderProblem::Bad(what)) => {
                    return Err(StorageError::corrupt(&seg.path, pos, what))
                }
            }
        }
    }
}
