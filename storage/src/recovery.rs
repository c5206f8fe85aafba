//! Opening a log directory, and recovering after a crash.
//!
//! Policy: *tolerate a torn tail*. Sealed segments are trusted by their
//! footer (checked by CRC; their batches are checked when read and by
//! `verify`). Only unsealed segments are scanned — normally just the last
//! one, so restart time does not grow with the size of the log. In the last
//! segment, the first batch that is not complete and checksummed ends the
//! log: everything after it is overwritten with zeros (never truncated, see
//! `os.rs`) and the discarded range is logged at WARN; unless the fsync
//! policy is `never`, the recovered tail is fsynced before it is served.
//! Damage anywhere else (a non-last segment without a footer that does not
//! scan cleanly, a gap between segments) is not silently repaired: opening
//! fails with a `Corrupt` error naming the file and byte, for an operator
//! to inspect.
//!
//! A read-only open never writes: it ignores an incomplete tail (the writer
//! may be in the middle of it) and re-reads the directory on `refresh`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::batch::{self, HeaderProblem};
use crate::config::{FsyncPolicy, LogConfig};
use crate::gtid::GtidSet;
use crate::live::{Seg, Tail};
use crate::log::{read_start, Log, State};
use crate::record::RecordKeys;
use crate::segment::{self, At};
use crate::writer::{initial_capacity, seal, Writer};
use crate::StorageError;

/// Base offsets of the segment files in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let rd = std::fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    let mut bases = Vec::new();
    for e in rd {
        let e = e.map_err(|e| StorageError::io("list", dir, e))?;
        if let Some(b) = e.file_name().to_str().and_then(segment::parse_segment_name) {
            bases.push(b);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

fn start_file(dir: &Path) -> Option<u64> {
    match read_start(dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the log-start file; the first segment is the start");
            None
        }
    }
}

/// Opens every segment of `dir`, recovers the tail, and returns the state
/// and the writer (or read-only tail).
pub(crate) fn open_dir(
    dir: &Path,
    config: &LogConfig,
    read_only: bool,
) -> Result<(State, Writer), StorageError> {
    let interval = config.index_interval_bytes;
    let start_hint = start_file(dir);
    let mut bases = list_segments(dir)?;
    // Segments wholly below the durable start were dropped by retention
    // before a crash: finish deleting them.
    if let Some(start) = start_hint {
        while bases.len() > 1 && bases[1] <= start {
            let b = bases.remove(0);
            if !read_only {
                for name in [segment::segment_name(b), segment::index_name(b)] {
                    let _ = std::fs::remove_file(dir.join(name));
                }
            }
        }
    }
    let mut segs: Vec<Arc<Seg>> = Vec::with_capacity(bases.len());
    let mut tail = Tail::default();
    let count = bases.len();
    for (i, &base) in bases.iter().enumerate() {
        let last = i + 1 == count;
        let seg = match Seg::open(dir, base, !read_only) {
            Ok(s) => s,
            Err(StorageError::Corrupt { .. }) if last && is_blank(dir, base) => {
                // Created but its header never reached the disk.
                if read_only {
                    break;
                }
                let gtid = segs
                    .last()
                    .map(|s| s.info.read().gtid_after.clone())
                    .unwrap_or_default();
                let prev = last_keys(&segs, interval)?;
                Seg::create(
                    dir,
                    base,
                    &gtid,
                    prev.as_ref(),
                    initial_capacity(config.segment_bytes),
                )?
            }
            Err(e) => return Err(e),
        };
        if let Some(prev) = segs.last() {
            let next = prev.info.read().next_offset;
            if next != base {
                return Err(StorageError::corrupt(
                    &seg.path,
                    0,
                    format!("segment starts at offset {base}, but the previous one ends at {next}"),
                ));
            }
        }
        let footer = match segment::read_footer(&seg.map(), &seg.path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "segment footer unusable; scanning the segment");
                None
            }
        };
        match footer {
            Some(info) if info.base_offset == base => {
                tail = Tail {
                    next_offset: info.next_offset,
                    gtid: info.gtid_after.clone(),
                    last: None,
                };
                *seg.info.write() = info;
            }
            _ => {
                let before = seg.info.read().gtid_before.clone();
                tail = Tail {
                    next_offset: base,
                    gtid: before,
                    last: None,
                };
                let scan = seg.scan_tail(&mut tail, interval);
                if let Some((pos, what)) = scan.problem {
                    if !last {
                        return Err(StorageError::corrupt(&seg.path, pos, what));
                    }
                    if !read_only {
                        cut_tail(&seg, pos, &what, tail.next_offset)?;
                    }
                }
                // The tail was written, perhaps not fsynced, before the
                // crash. Readers see only durable records: under a policy
                // that fsyncs, make it (and the cut) durable now. The work
                // is what the policy left unsynced: one batch under
                // `always`, one interval under `interval`. Under `never`
                // nothing is promised, and the fsync could cost up to a
                // segment of the crashed writer's dirty pages.
                if last && !read_only && config.fsync != FsyncPolicy::Never {
                    crate::fault::sync_data(&seg.file, &seg.path)
                        .map_err(|e| StorageError::fsync(&seg.path, e))?;
                }
                if !last && !read_only {
                    let mut cap = seg.file.metadata().map(|m| m.len()).unwrap_or(0);
                    seal(&seg, &mut cap)?;
                }
            }
        }
        segs.push(Arc::new(seg));
    }
    let mut start = start_hint.unwrap_or(0);
    if let Some(first) = segs.first() {
        start = start.max(first.base);
        if let Some(last) = segs.last() {
            start = start.min(last.info.read().next_offset);
        }
    }
    if segs.is_empty() && !read_only {
        let seg = Seg::create(
            dir,
            start,
            &GtidSet::new(),
            None,
            initial_capacity(config.segment_bytes),
        )?;
        tail.next_offset = start;
        segs.push(Arc::new(seg));
    }
    if segs.is_empty() {
        tail.next_offset = start;
    }
    // A sealed last segment (a crash between sealing and creating the next
    // one) gets a fresh active segment after it.
    if !read_only {
        if let Some(last) = segs.last().cloned() {
            if last.info.read().sealed() {
                let prev = last_keys(&segs, interval)?;
                let seg = Seg::create(
                    dir,
                    tail.next_offset,
                    &tail.gtid,
                    prev.as_ref(),
                    initial_capacity(config.segment_bytes),
                )?;
                segs.push(Arc::new(seg));
            }
        }
    }
    tail.last = last_keys(&segs, interval)?;
    let active = segs.last().cloned();
    let cap = active
        .as_ref()
        .and_then(|s| s.file.metadata().ok())
        .map(|m| m.len())
        .unwrap_or(0);
    let writer = Writer::new(active, tail, cap);
    Ok((
        State {
            segments: segs,
            start,
        },
        writer,
    ))
}

/// Whether a segment file is all zeros (created, header not yet written).
fn is_blank(dir: &Path, base: u64) -> bool {
    let path = dir.join(segment::segment_name(base));
    match std::fs::File::open(&path) {
        Ok(f) => {
            use std::io::Read;
            let mut buf = vec![0u8; 4096];
            let mut f = f;
            let n = f.read(&mut buf).unwrap_or(0);
            crate::codec::first_nonzero(&buf[..n]).is_none()
        }
        Err(_) => false,
    }
}

/// Discards a torn or corrupt tail of the last segment from `pos` on.
fn cut_tail(seg: &Seg, pos: u64, what: &str, next_offset: u64) -> Result<(), StorageError> {
    let map = seg.map();
    let bytes = map.get(pos as usize..).unwrap_or_default();
    let lost = match batch::parse_header(bytes) {
        Ok(h) => format!(
            "offsets {}..{} and anything after",
            h.base_offset,
            h.next_offset()
        ),
        Err(HeaderProblem::Bad(_)) | Err(HeaderProblem::End) => {
            format!("anything from offset {next_offset} on")
        }
    };
    let discarded = seg.zero_from(pos)?;
    tracing::warn!(
        segment = %seg.path.display(),
        byte = pos,
        discarded_bytes = discarded,
        next_offset,
        "torn tail truncated: {what}; lost {lost}"
    );
    Ok(())
}

/// The keys of the last record of the log (looking back past an empty
/// active segment).
fn last_keys(segs: &[Arc<Seg>], interval: u64) -> Result<Option<RecordKeys>, StorageError> {
    for seg in segs.iter().rev() {
        let info = seg.info.read().clone();
        if info.records() == 0 {
            if seg.prev.is_some() {
                return Ok(seg.prev.clone());
            }
            continue;
        }
        let index = seg.load_index(interval)?;
        let mut pos = index.entries.last().map_or(info.data_start, |e| e.file_pos);
        let map = seg.map();
        let mut last = None;
        while pos < info.data_end {
            match segment::batch_at(&map, pos, info.data_end) {
                At::Batch(b) => {
                    let base = b.header.base_offset;
                    let _ = batch::walk(&b.raw, b.header.record_count, |i, r, _| {
                        last = Some(RecordKeys {
                            offset: base + i as u64,
                            commit_time_ms: r.commit_time_ms,
                            position: r.position,
                        });
                    });
                    pos += b.header.total_len();
                }
                At::End => break,
                At::Bad(what) => return Err(StorageError::corrupt(&seg.path, pos, what)),
            }
        }
        return Ok(last);
    }
    Ok(None)
}

/// Re-reads the directory of a read-only log.
pub(crate) fn refresh(log: &Log) -> Result<(), StorageError> {
    let inner = &log.inner;
    let dir = &inner.dir;
    let interval = inner.config.index_interval_bytes;
    let mut w = inner.writer.lock();
    let start_hint = start_file(dir);
    let on_disk = list_segments(dir)?;
    let (mut segs, mut start) = log.snapshot();
    if let Some(s) = start_hint {
        start = start.max(s);
    }
    // Forget segments the writer deleted.
    segs.retain(|s| on_disk.binary_search(&s.base).is_ok() || s.info.read().next_offset > start);
    while segs.len() > 1 && segs[1].base <= start {
        segs.remove(0);
    }
    // Catch up on the last known segment, then open newer ones.
    let mut tail = w.tail.clone();
    if let Some(last) = segs.last().cloned() {
        catch_up(&last, &mut tail, interval)?;
    }
    let known_end = segs.last().map(|s| s.base);
    for &base in on_disk.iter().filter(|&&b| known_end.is_none_or(|k| b > k)) {
        if let Some(last) = segs.last() {
            if !last.info.read().sealed() || last.info.read().next_offset != base {
                break;
            }
        }
        let seg = match Seg::open(dir, base, false) {
            Ok(s) => Arc::new(s),
            Err(StorageError::Corrupt { .. }) => break, // still being created
            Err(e) => return Err(e),
        };
        if segs.is_empty() {
            tail = Tail {
                next_offset: base,
                gtid: seg.info.read().gtid_before.clone(),
                last: None,
            };
        }
        catch_up(&seg, &mut tail, interval)?;
        segs.push(seg);
    }
    if let Some(first) = segs.first() {
        start = start.max(first.base);
    }
    w.tail = tail;
    w.active = segs.last().cloned();
    let end = w.tail.next_offset;
    {
        let mut st = inner.state.write();
        st.segments = segs;
        st.start = start;
        inner.start.store(start, Ordering::Release);
    }
    drop(w);
    log.publish_durable(end);
    Ok(())
}

/// Brings a segment (read-only) up to date with its file.
fn catch_up(seg: &Seg, tail: &mut Tail, interval: u64) -> Result<(), StorageError> {
    if seg.info.read().sealed() {
        return Ok(());
    }
    let len = seg
        .file
        .metadata()
        .map_err(|e| StorageError::io("stat", &seg.path, e))?
        .len();
    if len != seg.map().len() as u64 {
        seg.remap()?;
    }
    if seg.index.read().is_none() {
        *seg.index.write() = Some(Arc::new(crate::index::Index::new()));
    }
    let _ = seg.scan_tail(tail, interval);
    if let Ok(Some(mut info)) = segment::read_footer(&seg.map(), &seg.path) {
        let cur = seg.info.read().clone();
        if info.next_offset == cur.next_offset && info.data_end == cur.data_end {
            info.path = cur.path;
            *seg.info.write() = info;
        }
    }
    Ok(())
}
