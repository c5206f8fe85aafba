//! Retention: deleting the oldest whole segments by age and by total size.
//! Never the active segment. A segment holding records that a protected
//! consumer group has not read is kept, unless the log is over
//! `retention_max_bytes`; every group whose unread records are deleted is
//! marked lost (`groups::Lost`) with the range. The new log start is written durably first;
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
    /// Retention stopped at a segment that a protected group still needs.
    pub held: bool,
    /// Groups that lost records in this pass.
    pub lost: Vec<crate::GroupInfo>,
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
        // Read before the state lock (group files are on disk); a group's
        // offset only grows, so a floor read early is a safe one.
        let start = self.start_offset();
        let floor = self
            .groups()
            .list()?
            .into_iter()
            .filter(|g| g.protected && g.offset >= start)
            .map(|g| g.offset)
            .min();
        let mut st = self.inner.state.write();
        let mut total: u64 = st.segments.iter().map(|s| s.info.read().data_bytes()).sum();
        let mut drop_n = 0;
        let mut held = false;
        // Never the active (last) segment.
        while drop_n + 1 < st.segments.len() {
            let info = st.segments[drop_n].info.read().clone();
            let over_cap = cfg.retention_max_bytes.is_some_and(|cap| total > cap);
            let too_big = cfg.retention_bytes.is_some_and(|max| total > max);
            let too_old = cfg.retention_age.is_some_and(|age| {
                info.sealed_at_ms
                    .is_some_and(|t| now.saturating_sub(t) >= age.as_millis() as i64)
            });
            if !(too_big || too_old || over_cap) {
                break;
            }
            // The segment ends where the next one begins.
            let end = st.segments[drop_n + 1].base;
            if end > self.inner.keep_from.load(Ordering::Acquire) {
                held = true;
                break;
            }
            let needed = floor.is_some_and(|f| end > f);
            if needed && !over_cap {
                held = true;
                break;
            }
            total -= info.data_bytes();
            drop_n += 1;
        }
        if drop_n == 0 {
            return Ok(RetentionReport {
                deleted: Vec::new(),
                start_offset: st.start,
                held,
                lost: Vec::new(),
            });
        }
        let old_start = st.start;
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
        let lost = self.groups().mark_lost(old_start, new_start)?;
        Ok(RetentionReport {
            deleted,
            start_offset: new_start,
            held,
            lost,
        })
    }

    /// Deletes whole sealed segments below `offset` (at most up to the
    /// active segment and the [`keep_from`](Log::keep_from) hold), as
    /// retention would, protected groups or not (they are marked lost).
    /// Returns the new log start.
    pub fn delete_before(&self, offset: u64) -> Result<u64, StorageError> {
        if self.is_read_only() {
            return Err(StorageError::ReadOnly(self.dir().to_path_buf()));
        }
        let mut st = self.inner.state.write();
        let offset = offset.min(self.inner.keep_from.load(Ordering::Acquire));
        let mut drop_n = 0;
        while drop_n + 1 < st.segments.len() && st.segments[drop_n + 1].base <= offset {
            drop_n += 1;
        }
        if drop_n == 0 {
            return Ok(st.start);
        }
        let old_start = st.start;
        let new_start = st.segments[drop_n].base.max(st.start);
        write_start(self.dir(), new_start)?;
        st.start = new_start;
        self.inner.start.store(new_start, Ordering::Release);
        let removed: Vec<_> = st.segments.drain(..drop_n).collect();
        drop(st);
        for s in removed {
            s.guard.delete.store(true, Ordering::Release);
        }
        self.groups().mark_lost(old_start, new_start)?;
        Ok(new_start)
    }
}
