//! The single writer: encodes a batch, writes it at the end of the active
//! segment, updates the segment's info and index, and makes it durable
//! under the fsync policy. Concurrent appenders are serialised on the
//! writer lock; under `Always` they share fsyncs (group commit: whoever
//! takes the sync lock fsyncs everything written so far and publishes it
//! for all). Rolling seals the active segment (index file, footer, trailer,
//! fsync) and starts a new one. An fsync that finds the disk full makes
//! the writer go back to the durable end ([`Rewound`]).

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::batch;
use crate::config::FsyncPolicy;
use crate::live::{account_record, write_index, Seg, Tail};
use crate::log::Log;
use crate::record::NewRecord;
use crate::segment::{self, TRAILER_LEN};
use crate::{fault, is_disk_full, StorageError};

/// The writer's state (in a read-only log: the tail scanned so far).
pub(crate) struct Writer {
    /// The active (last) segment.
    pub active: Option<Arc<Seg>>,
    pub tail: Tail,
    /// Current length of the active segment's file.
    pub cap: u64,
    /// When the active segment was created (for `segment_age`): wall
    /// clock, so that neither a restart nor a reboot resets its age.
    pub created_at: SystemTime,
    /// The last tail a full disk made the writer drop, if any.
    pub rewound: Option<Rewound>,
    buf: Vec<u8>,
    compressor: batch::BodyCompressor,
}

impl Writer {
    pub fn new(active: Option<Arc<Seg>>, tail: Tail, cap: u64) -> Writer {
        // The file's birth time where the file system keeps one.
        let created_at = active
            .as_ref()
            .and_then(|s| s.file.metadata().and_then(|m| m.created()).ok())
            .unwrap_or_else(SystemTime::now);
        Writer {
            active,
            tail,
            cap,
            created_at,
            rewound: None,
            buf: Vec::new(),
            compressor: batch::BodyCompressor::default(),
        }
    }

    /// Whether the active segment is `age` old or older.
    pub fn aged(&self, age: Duration) -> bool {
        SystemTime::now()
            .duration_since(self.created_at)
            .is_ok_and(|d| d >= age)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Preallocated size of a new segment file (sparse: costs no disk).
pub(crate) fn initial_capacity(segment_bytes: u64) -> u64 {
    segment_bytes.min(1 << 30) + (64 << 10)
}

pub(crate) fn append(log: &Log, records: &[NewRecord<'_>]) -> Result<Range<u64>, StorageError> {
    append_records(log, records).inspect_err(|e| reported(log, e))
}

fn append_records(log: &Log, records: &[NewRecord<'_>]) -> Result<Range<u64>, StorageError> {
    let inner = &log.inner;
    if inner.read_only {
        return Err(StorageError::ReadOnly(inner.dir.clone()));
    }
    if inner.poisoned.load(Ordering::Acquire) {
        return Err(StorageError::Poisoned(inner.dir.clone()));
    }
    let cfg = &inner.config;
    let mut w = inner.writer.lock();
    if records.is_empty() {
        let n = w.tail.next_offset;
        return Ok(n..n);
    }
    let mut rolled = false;
    if w.rewound.as_ref().is_some_and(|r| r.pending) || needs_roll(&w, cfg) {
        // Both fsync, so under the sync lock (taken before the writer
        // lock): no other fsync of the segment runs meanwhile and takes
        // the error that is this one's.
        drop(w);
        let _sync = inner.sync_lock.lock();
        w = inner.writer.lock();
        if let Some(r) = w.rewound.as_mut().filter(|r| r.pending) {
            if !r.reported {
                // Whoever appended the dropped records has not heard yet
                // (the fsync thread dropped them): this append would
                // follow records that are gone.
                r.reported = true;
                return Err(r.error());
            }
            heal(log, &mut w)?;
        }
        if needs_roll(&w, cfg) {
            roll(log, &mut w)?;
            rolled = true;
        }
    }
    let active = w
        .active
        .clone()
        .ok_or_else(|| StorageError::ReadOnly(inner.dir.clone()))?;
    let base = w.tail.next_offset;
    let mut buf = std::mem::take(&mut w.buf);
    buf.clear();
    batch::encode(base, records, cfg.compression, &mut w.compressor, &mut buf)?;
    let len = buf.len() as u64;
    let pos = active.info.read().data_end;
    ensure_capacity(&mut w, &active, pos + len)?;
    let written = segment::write_at(&active.file, &active.path, pos, &buf);
    w.buf = buf;
    written?;
    {
        let mut info = active.info.write();
        let mut ix = active.index.write();
        let index = Arc::make_mut(ix.get_or_insert_with(Default::default));
        index.before_batch(base, pos, cfg.index_interval_bytes, &w.tail.gtid);
        for (i, r) in records.iter().enumerate() {
            account_record(
                &mut info,
                index,
                &mut w.tail,
                base + i as u64,
                r.commit_time_ms,
                r.position,
                &r.gtid,
            );
        }
        index.after_batch(len);
        // The set after a segment is the log's cumulative set.
        info.gtid_after = w.tail.gtid.clone();
        info.batch_count += 1;
        info.data_end = pos + len;
        w.tail.next_offset = base + records.len() as u64;
    }
    let end = w.tail.next_offset;
    let epoch = inner.epoch.load(Ordering::Acquire);
    drop(w);
    match cfg.fsync {
        FsyncPolicy::Never => log.publish_durable(end),
        FsyncPolicy::Always => sync_to(log, end, epoch)?,
        FsyncPolicy::Interval(_) => {}
    }
    if rolled && (cfg.retention_bytes.is_some() || cfg.retention_age.is_some()) {
        if let Err(e) = log.apply_retention() {
            tracing::warn!(error = %e, "retention after a segment roll failed");
        }
    }
    Ok(base..end)
}

/// Whether the active segment is full or old and holds records.
fn needs_roll(w: &Writer, cfg: &crate::config::LogConfig) -> bool {
    let Some(active) = w.active.as_ref() else {
        return false;
    };
    let info = active.info.read();
    let full = info.data_bytes() >= cfg.segment_bytes;
    let old = cfg.segment_age.is_some_and(|a| w.aged(a));
    info.records() > 0 && (full || old)
}

/// Notes that the appender heard of the records a full disk dropped (it
/// got `e`), so that its next append may go on from the durable end.
fn reported(log: &Log, e: &StorageError) {
    if matches!(e, StorageError::DiskFullSync { .. }) {
        if let Some(r) = log.inner.writer.lock().rewound.as_mut() {
            r.reported = true;
        }
    }
}

/// Fsyncs everything appended so far. `report`: the caller is the
/// appender (see [`Rewound::reported`]), not the fsync thread.
pub(crate) fn flush(log: &Log, report: bool) -> Result<(), StorageError> {
    let (end, epoch) = {
        let w = log.inner.writer.lock();
        (w.tail.next_offset, log.inner.epoch.load(Ordering::Acquire))
    };
    let r = sync_to(log, end, epoch);
    if report {
        if let Err(e) = &r {
            reported(log, e);
        }
    }
    r
}

/// Makes everything up to at least `end`, appended while the writer's
/// epoch was `epoch`, durable (group commit). Fails when a full disk made
/// the writer drop it meanwhile.
pub(crate) fn sync_to(log: &Log, end: u64, epoch: u64) -> Result<(), StorageError> {
    let inner = &log.inner;
    // Offsets below the durable end are never dropped; those of an older
    // epoch may have been, and then belong to other records.
    let done = || {
        inner.config.fsync != FsyncPolicy::Never
            && log.durable_end() >= end
            && inner.epoch.load(Ordering::Acquire) == epoch
    };
    if done() {
        return Ok(());
    }
    // Every fsync of segment data, and every rewind, holds this lock.
    let _leader = inner.sync_lock.lock();
    if done() {
        return Ok(());
    }
    let (target, active) = {
        let w = inner.writer.lock();
        if inner.epoch.load(Ordering::Acquire) != epoch {
            return Err(w
                .rewound
                .as_ref()
                .map_or_else(|| StorageError::Poisoned(inner.dir.clone()), Rewound::error));
        }
        (w.tail.next_offset, w.active.clone())
    };
    if let Some(seg) = active {
        if let Err(e) = fault::sync_data(&seg.file, &seg.path) {
            let mut w = inner.writer.lock();
            return Err(sync_failed(log, &mut w, &seg.path, e));
        }
    }
    log.publish_durable(target);
    Ok(())
}

/// Records a full disk made the writer drop: an fsync of the active
/// segment failed with `ENOSPC` or `EDQUOT`.
///
/// Why it goes back rather than fsyncing again: after a failed fsync the
/// kernel may have dropped the dirty pages, or marked them clean without
/// writing them (and forgotten the error once reported), so a later fsync
/// that succeeds proves nothing about them. The only durable records are
/// those an fsync that succeeded covered. So the writer goes back to the
/// durable end, clears the file after it, and the records after it are
/// appended again (capture pulls them from the source again). No reader
/// was served them: readers see only the durable end.
pub(crate) struct Rewound {
    pub path: std::path::PathBuf,
    /// The first dropped offset (the durable end).
    pub from: u64,
    /// One past the last dropped offset.
    pub to: u64,
    pub errno: i32,
    /// The appender was told (an append or flush returned the error):
    /// appends may go on at `from`. Until then appends are refused, for
    /// the appender might not know its last records are gone.
    pub reported: bool,
    /// The bytes after the durable end are not yet cleared and fsynced:
    /// appends wait for that (see [`heal`]).
    pub pending: bool,
    /// The bytes after the durable end are cleared.
    pub cleared: bool,
}

impl Rewound {
    pub fn error(&self) -> StorageError {
        StorageError::DiskFullSync {
            path: self.path.clone(),
            from: self.from,
            to: self.to,
            source: std::io::Error::from_raw_os_error(self.errno),
        }
    }
}

/// The error of a failed fsync of the active segment `path` (holding the
/// sync and writer locks): on a full disk, under a policy that fsyncs,
/// the writer goes back to the durable end ([`Rewound`]); otherwise the
/// log is poisoned. Under `never` readers were already served what the
/// fsync covered, nothing is dropped: the error is only retryable.
fn sync_failed(
    log: &Log,
    w: &mut Writer,
    path: &std::path::Path,
    e: std::io::Error,
) -> StorageError {
    let inner = &log.inner;
    if !is_disk_full(&e) {
        inner.poisoned.store(true, Ordering::Release);
        return StorageError::FsyncFailed {
            path: path.to_path_buf(),
            source: e,
        };
    }
    if inner.config.fsync == FsyncPolicy::Never {
        return StorageError::io("fsync", path, e);
    }
    let Some(active) = w.active.clone() else {
        return StorageError::io("fsync", path, e);
    };
    // Everything before the active segment is durable: it was sealed by
    // an fsync that succeeded, and its header was fsynced at creation.
    let from = log.durable_end().max(active.base);
    let to = w.tail.next_offset;
    let tail = match active.rewind_to(from, inner.config.index_interval_bytes) {
        Ok(t) => t,
        Err(err) => {
            inner.poisoned.store(true, Ordering::Release);
            tracing::error!(error = %err, "after an fsync failed on a full disk, the durable records could not be read back");
            return err;
        }
    };
    w.tail = tail;
    inner.epoch.fetch_add(1, Ordering::AcqRel);
    // Cleared now, while nothing else is written (a hole needs no space),
    // so that a restart before the next append cannot read them back.
    let cleared = clear_after_durable(&active);
    tracing::error!(
        path = %path.display(),
        from,
        to,
        error = %e,
        "fsync found the disk full: records {from}..{to} were not durable and are dropped; appends continue at offset {from} once an fsync succeeds"
    );
    let r = Rewound {
        path: path.to_path_buf(),
        from,
        to,
        errno: e.raw_os_error().unwrap_or(libc::ENOSPC),
        reported: false,
        pending: true,
        cleared,
    };
    let err = r.error();
    w.rewound = Some(r);
    err
}

/// Clears the active segment after its last batch; false if that failed.
fn clear_after_durable(seg: &Seg) -> bool {
    let end = seg.info.read().data_end;
    seg.clear_from(end)
        .inspect_err(|e| tracing::warn!(error = %e, "could not clear the dropped tail yet"))
        .is_ok()
}

/// Before appending after a rewind (holding both locks): the dropped tail
/// cleared and that fsynced, so that no crash can leave new batches mixed
/// with dropped ones on disk. Fails (retryable) while the disk is full.
fn heal(log: &Log, w: &mut Writer) -> Result<(), StorageError> {
    let Some(active) = w.active.clone() else {
        return Ok(());
    };
    let Some(r) = w.rewound.as_mut() else {
        return Ok(());
    };
    if !r.cleared {
        let end = active.info.read().data_end;
        active.clear_from(end)?;
        r.cleared = true;
    }
    if let Err(e) = fault::sync_data(&active.file, &active.path) {
        let err = StorageError::fsync(&active.path, e);
        if matches!(err, StorageError::FsyncFailed { .. }) {
            log.inner.poisoned.store(true, Ordering::Release);
        }
        return Err(err);
    }
    r.pending = false;
    tracing::info!(
        offset = r.from,
        "the log's fsyncs succeed again: appends continue at offset {}",
        r.from
    );
    Ok(())
}

fn ensure_capacity(w: &mut Writer, seg: &Seg, need: u64) -> Result<(), StorageError> {
    if need <= w.cap {
        return Ok(());
    }
    let step = (w.cap / 2).clamp(1 << 20, 256 << 20);
    let new_cap = need.max(w.cap + step);
    seg.file
        .set_len(new_cap)
        .map_err(|e| StorageError::io("grow", &seg.path, e))?;
    seg.remap()?;
    w.cap = new_cap;
    Ok(())
}

/// Seals the active segment and starts a new one at the next offset.
/// The caller holds the sync lock (and the writer lock, `w`).
pub(crate) fn roll(log: &Log, w: &mut Writer) -> Result<(), StorageError> {
    let inner = &log.inner;
    let Some(active) = w.active.clone() else {
        return Ok(());
    };
    if let Err(e) = fault::sync_data(&active.file, &active.path) {
        return Err(sync_failed(log, w, &active.path, e));
    }
    // What fails from here on is rewritten whole by the retry (index file,
    // footer, trailer) before its next fsync.
    seal_synced(&active, &mut w.cap).inspect_err(|e| {
        if matches!(e, StorageError::FsyncFailed { .. }) {
            inner.poisoned.store(true, Ordering::Release);
        }
    })?;
    if inner.config.fsync != FsyncPolicy::Never {
        log.publish_durable(w.tail.next_offset);
    }
    let seg = Seg::create(
        &inner.dir,
        w.tail.next_offset,
        &w.tail.gtid,
        w.tail.last.as_ref(),
        initial_capacity(inner.config.segment_bytes),
    )
    .inspect_err(|_| {
        // A half-written new segment (a full disk) must not be found by
        // recovery; the sealed one stays active and the roll is retried.
        let _ = std::fs::remove_file(inner.dir.join(segment::segment_name(w.tail.next_offset)));
    })?;
    let seg = Arc::new(seg);
    w.cap = seg.file.metadata().map(|m| m.len()).unwrap_or(0);
    w.created_at = SystemTime::now();
    w.active = Some(seg.clone());
    inner.state.write().segments.push(seg);
    tracing::debug!(base = w.tail.next_offset, "rolled to a new segment");
    Ok(())
}

/// Writes a segment's index file, footer and trailer, and fsyncs it.
/// `cap` is the file's current length (grown if the footer needs room).
pub(crate) fn seal(seg: &Seg, cap: &mut u64) -> Result<(), StorageError> {
    fault::sync_data(&seg.file, &seg.path).map_err(|e| StorageError::fsync(&seg.path, e))?;
    seal_synced(seg, cap)
}

/// [`seal`] of a segment whose batches are fsynced.
fn seal_synced(seg: &Seg, cap: &mut u64) -> Result<(), StorageError> {
    let index = seg.index.read().clone().unwrap_or_default();
    write_index(&seg.index_path, &index, seg.base)?;
    let mut info = seg.info.read().clone();
    let sealed_at = now_ms();
    let footer = segment::encode_footer(&info, sealed_at);
    let need = info.data_end + footer.len() as u64 + TRAILER_LEN;
    if need > *cap {
        seg.file
            .set_len(need)
            .map_err(|e| StorageError::io("grow", &seg.path, e))?;
        *cap = need;
    }
    segment::write_at(&seg.file, &seg.path, info.data_end, &footer)?;
    let trailer = segment::encode_trailer(info.data_end, footer.len() as u32);
    segment::write_at(&seg.file, &seg.path, *cap - TRAILER_LEN, &trailer)?;
    fault::sync_data(&seg.file, &seg.path).map_err(|e| StorageError::fsync(&seg.path, e))?;
    seg.remap()?;
    info.sealed_at_ms = Some(sealed_at);
    *seg.info.write() = info;
    Ok(())
}
