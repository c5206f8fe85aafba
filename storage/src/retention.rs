//! Retention: deleting the oldest whole segments by age and by total size.
//! Never the active segment. The new log start is written durably first;
//! then the segments leave the list, and their files are unlinked when the
//! last reader holding a map of them lets go (see `live::FileGuard`). A
//! crash in between is finished on the next open (segments wholly below the
//! durable start are deleted).

use std::sync::atomic::Ordering;

use crate::log::{write_start, Log};
use crate::writer::now_ms;
use crate::StorageError;

/// What [`Log::apply_retention`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Base offsets of the segments removed.
    pub deleted: Vec<u64>,
    /// The log start offset afterwards.
    pub start_offset: u64,
}

impl Log {
    /// Applies the configured retention (`retention_bytes`,
    /// `retention_age`). Runs automatically after each segment roll, and,
    /// when an age is configured, from the log's age thread (so an idle log
    /// ages out too).
    pub fn apply_retention(&self) -> Result<RetentionReport, StorageError> {
        if self.is_read_only() {
            return Err(StorageError::ReadOnly(self.dir().to_path_buf()));
        }
        let cfg = &self.inner.config;
        let now = now_ms();
        let mut st = self.inner.state.write();
        let mut total: u64 = st.segments.iter().map(|s| s.info.read().data_bytes()).sum();
        let mut drop_n = 0;
        // Never the active (last) segment.
        while drop_n + 1 < st.segments.len() {
            let info = st.segments[drop_n].info.read().clone();
            let too_big = cfg.retention_bytes.is_some_and(|max| total > max);
            let too_old = cfg.retention_age.is_some_and(|age| {
                info.sealed_at_ms
                    .is_some_and(|t| now.saturating_sub(t) >= age.as_millis() as i64)
            });
            if !(too_big || too_old) {
                break;
            }
            total -= info.data_bytes();
            drop_n += 1;
        }
        if drop_n == 0 {
            return Ok(RetentionReport {
                deleted: Vec::new(),
                start_offset: st.start,
            });
        }
        let new_start = st.segments[drop_n].base.max(st.start);
        write_start(self.dir(), new_start)?;
        st.start = new_start;
        self.inner.start.store(new_start, Ordering::Release);
        let removed: Vec<_> = st.segments.drain(..drop_n).collect();
        drop(st);
        let deleted = removed.iter().map(|s| s.base).collect();
        for s in removed {
            s.guard.delete.store(true, Ordering::Release);
        }
        tracing::info!(start = new_start, "retention moved the log start");
        Ok(RetentionReport {
            deleted,
            start_offset: new_start,
        })
    }

    /// Deletes whole sealed segments below `offset` (at most up to the
    /// active segment), as retention would. Returns the new log start.
    pub fn delete_before(&self, offset: u64) -> Result<u64, StorageError> {
        if self.is_read_only() {
            return Err(StorageError::ReadOnly(self.dir().to_path_buf()));
        }
        let mut st = self.inner.state.write();
        let mut drop_n = 0;
        while drop_n + 1 < st.segments.len() && st.segments[drop_n + 1].base <= offset {
            drop_n += 1;
        }
        if drop_n == 0 {
            return Ok(st.start);
        }
        let new_start = st.segments[drop_n].base.max(st.start);
        write_start(self.dir(), new_start)?;
        st.start = new_start;
        self.inner.start.store(new_start, Ordering::Release);
        let removed: Vec<_> = st.segments.drain(..drop_n).collect();
        drop(st);
        for s in removed {
            s.guard.delete.store(true, Ordering::Release);
        }
        Ok(new_start)
    }
}
