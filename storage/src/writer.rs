//! The single writer: encodes a batch, writes it at the end of the active
//! segment, updates the segment's info and index, and makes it durable
//! under the fsync policy. Concurrent appenders are serialised on the
//! writer lock; under `Always` they share fsyncs (group commit: whoever
//! takes the sync lock fsyncs everything written so far and publishes it
//! for all). Rolling seals the active segment (index file, footer, trailer,
//! fsync) and starts a new one.

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
use crate::StorageError;

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
    {
        let active = w
            .active
            .clone()
            .ok_or_else(|| StorageError::ReadOnly(inner.dir.clone()))?;
        let info = active.info.read();
        let full = info.data_bytes() >= cfg.segment_bytes;
        let old = cfg.segment_age.is_some_and(|a| w.aged(a));
        let nonempty = info.records() > 0;
        drop(info);
        if nonempty && (full || old) {
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
    drop(w);
    match cfg.fsync {
        FsyncPolicy::Never => log.publish_durable(end),
        FsyncPolicy::Always => sync_to(log, end)?,
        FsyncPolicy::Interval(_) => {}
    }
    if rolled && (cfg.retention_bytes.is_some() || cfg.retention_age.is_some()) {
        if let Err(e) = log.apply_retention() {
            tracing::warn!(error = %e, "retention after a segment roll failed");
        }
    }
    Ok(base..end)
}

/// Makes everything up to at least `end` durable (group commit).
pub(crate) fn sync_to(log: &Log, end: u64) -> Result<(), StorageError> {
    let inner = &log.inner;
    if log.durable_end() >= end && inner.config.fsync != FsyncPolicy::Never {
        return Ok(());
    }
    let _leader = inner.sync_lock.lock();
    if log.durable_end() >= end && inner.config.fsync != FsyncPolicy::Never {
        return Ok(());
    }
    let (target, active) = {
        let w = inner.writer.lock();
        (w.tail.next_offset, w.active.clone())
    };
    if let Some(seg) = active {
        if let Err(e) = seg.file.sync_data() {
            inner.poisoned.store(true, Ordering::Release);
            return Err(StorageError::FsyncFailed {
                path: seg.path.clone(),
                source: e,
            });
        }
    }
    log.publish_durable(target);
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
pub(crate) fn roll(log: &Log, w: &mut Writer) -> Result<(), StorageError> {
    let inner = &log.inner;
    let Some(active) = w.active.clone() else {
        return Ok(());
    };
    let mut cap = w.cap;
    seal(&active, &mut cap).inspect_err(|e| {
        if matches!(e, StorageError::FsyncFailed { .. }) {
            inner.poisoned.store(true, Ordering::Release);
        }
    })?;
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
    let fsync_err = |path: &std::path::Path, e| StorageError::FsyncFailed {
        path: path.to_path_buf(),
        source: e,
    };
    seg.file.sync_data().map_err(|e| fsync_err(&seg.path, e))?;
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
    seg.file.sync_data().map_err(|e| fsync_err(&seg.path, e))?;
    seg.remap()?;
    info.sealed_at_ms = Some(sealed_at);
    *seg.info.write() = info;
    Ok(())
}
