//! A segment as the running log holds it: the open file, its current
//! memory map, what it contains ([`SegmentInfo`]) and its sparse index.
//! Shared by the writer, readers and lookups through `Arc<Seg>`; the file
//! is unlinked by [`FileGuard`] once retention dropped it and the last map
//! of it is gone.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::batch::BatchHeader;
use crate::gtid::GtidSet;
use crate::index::Index;
use crate::record::{RecordKeys, SourcePos};
use crate::segment::{self, At, SegmentInfo};
use crate::{fault, os, StorageError};

/// Unlinks a segment's files when dropped, if retention marked it.
pub(crate) struct FileGuard {
    pub paths: Vec<PathBuf>,
    pub delete: AtomicBool,
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        if self.delete.load(Ordering::Acquire) {
            for p in &self.paths {
                if let Err(e) = std::fs::remove_file(p) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(path = %p.display(), error = %e, "could not delete segment file");
                    }
                }
            }
        }
    }
}

/// The log's running state at the end of what has been ingested: the
/// next offset, the cumulative GTID set and the last record's keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tail {
    pub next_offset: u64,
    pub gtid: GtidSet,
    pub last: Option<RecordKeys>,
}

/// One segment of the running log.
pub(crate) struct Seg {
    pub base: u64,
    pub path: PathBuf,
    pub index_path: PathBuf,
    pub file: File,
    pub info: RwLock<SegmentInfo>,
    map: RwLock<Bytes>,
    /// Always present for the active segment; loaded lazily for sealed ones.
    pub index: RwLock<Option<Arc<Index>>>,
    pub guard: Arc<FileGuard>,
    pub writable: bool,
    /// The last record before this segment (from its header).
    pub prev: Option<RecordKeys>,
}

/// The outcome of scanning a segment's batches.
pub(crate) struct Scan {
    /// A bad batch at this position (and why), if the scan stopped on one.
    pub problem: Option<(u64, String)>,
}

impl Seg {
    /// Opens a segment file; does not scan it.
    pub fn open(dir: &Path, base: u64, writable: bool) -> Result<Seg, StorageError> {
        let path = dir.join(segment::segment_name(base));
        let index_path = dir.join(segment::index_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&path)
            .map_err(|e| StorageError::io("open", &path, e))?;
        let guard = Arc::new(FileGuard {
            paths: vec![path.clone(), index_path.clone()],
            delete: AtomicBool::new(false),
        });
        let map = os::map_file(&file, &path, guard.clone())?;
        let header = segment::parse_header(&map)
            .map_err(|e| StorageError::corrupt(&path, e.at as u64, e.what))?;
        let hbase = header.base;
        if hbase != base {
            return Err(StorageError::corrupt(
                &path,
                8,
                format!("header base offset {hbase} does not match the file name"),
            ));
        }
        let info = SegmentInfo::empty(path.clone(), base, header.data_start, header.gtid_before);
        Ok(Seg {
            base,
            path,
            index_path,
            file,
            info: RwLock::new(info),
            map: RwLock::new(map),
            index: RwLock::new(None),
            guard,
            writable,
            prev: header.prev,
        })
    }

    /// Creates a new, empty segment file of `capacity` bytes (sparse).
    pub fn create(
        dir: &Path,
        base: u64,
        gtid_before: &GtidSet,
        prev: Option<&RecordKeys>,
        capacity: u64,
    ) -> Result<Seg, StorageError> {
        let path = dir.join(segment::segment_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StorageError::io("create", &path, e))?;
        let header = segment::encode_header(base, gtid_before, prev);
        file.set_len(capacity.max(header.len() as u64 + 4096))
            .map_err(|e| StorageError::io("preallocate", &path, e))?;
        segment::write_at(&file, &path, 0, &header)?;
        fault::sync_all(&file, &path).map_err(|e| StorageError::fsync(&path, e))?;
        drop(file);
        sync_dir(dir)?;
        let seg = Seg::open(dir, base, true)?;
        *seg.index.write() = Some(Arc::new(Index::new()));
        Ok(seg)
    }

    /// The current map of the file (clone of a refcounted handle).
    pub fn map(&self) -> Bytes {
        self.map.read().clone()
    }

    /// Re-maps the file (after it grew).
    pub fn remap(&self) -> Result<Bytes, StorageError> {
        let m = os::map_file(&self.file, &self.path, self.guard.clone())?;
        *self.map.write() = m.clone();
        Ok(m)
    }

    /// Scans batches from `info.data_end`, accounting each good one into
    /// the info, the index and `tail`, until zeros or a bad batch.
    pub fn scan_tail(&self, tail: &mut Tail, interval: u64) -> Scan {
        let map = self.map();
        let mut index = self.index.read().as_deref().cloned().unwrap_or_default();
        let mut info = self.info.read().clone();
        let mut pos = info.data_end;
        let mut problem = None;
        loop {
            match segment::batch_at(&map, pos, map.len() as u64) {
                At::End => break,
                At::Bad(what) => {
                    problem = Some((pos, what));
                    break;
                }
                At::Batch(b) => {
                    if b.header.base_offset != tail.next_offset {
                        problem = Some((
                            pos,
                            format!(
                                "batch has base offset {}, expected {}",
                                b.header.base_offset, tail.next_offset
                            ),
                        ));
                        break;
                    }
                    account_raw(
                        &mut info, &mut index, tail, pos, &b.header, &b.raw, interval,
                    );
                    pos += b.header.total_len();
                }
            }
        }
        *self.info.write() = info;
        *self.index.write() = Some(Arc::new(index));
        Scan { problem }
    }

    /// The segment's index, loading (or rebuilding) a sealed one.
    pub fn load_index(&self, interval: u64) -> Result<Arc<Index>, StorageError> {
        if let Some(i) = self.index.read().clone() {
            return Ok(i);
        }
        let info = self.info.read().clone();
        let loaded = match std::fs::read(&self.index_path) {
            Ok(bytes) => match Index::decode(&bytes, self.base, &self.index_path) {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::warn!(error = %e, "rebuilding corrupt index");
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!(path = %self.index_path.display(), "rebuilding missing index");
                None
            }
            Err(e) => return Err(StorageError::io("read", &self.index_path, e)),
        };
        let index = match loaded {
            Some(i) => i,
            None => {
                let i = self.rebuild_index(&info, interval)?;
                if self.writable {
                    if let Err(e) = write_index(&self.index_path, &i, self.base) {
                        tracing::warn!(error = %e, "could not write rebuilt index");
                    }
                }
                i
            }
        };
        let index = Arc::new(index);
        *self.index.write() = Some(index.clone());
        Ok(index)
    }

    fn rebuild_index(&self, info: &SegmentInfo, interval: u64) -> Result<Index, StorageError> {
        Ok(self.replay(Until::Byte(info.data_end), interval)?.1)
    }

    /// Goes back to the state after the record before `end` (which ends
    /// a batch of this segment): info, index and the log tail rebuilt from
    /// the batches before it. The bytes after it stay; see
    /// [`Seg::clear_from`].
    pub fn rewind_to(&self, end: u64, interval: u64) -> Result<Tail, StorageError> {
        let (info, index, tail) = self.replay(Until::Offset(end), interval)?;
        *self.info.write() = info;
        *self.index.write() = Some(Arc::new(index));
        Ok(tail)
    }

    /// The segment's info, index and tail after its batches up to `until`.
    fn replay(
        &self,
        until: Until,
        interval: u64,
    ) -> Result<(SegmentInfo, Index, Tail), StorageError> {
        let map = self.map();
        let (data_start, gtid_before) = {
            let info = self.info.read();
            (info.data_start, info.gtid_before.clone())
        };
        let mut index = Index::new();
        let mut info = SegmentInfo::empty(self.path.clone(), self.base, data_start, gtid_before);
        let mut tail = Tail {
            next_offset: self.base,
            gtid: info.gtid_before.clone(),
            last: self.prev.clone(),
        };
        let mut pos = data_start;
        loop {
            let limit = match until {
                Until::Byte(end) if pos >= end => break,
                Until::Offset(end) if tail.next_offset >= end => break,
                Until::Byte(end) => end,
                Until::Offset(_) => map.len() as u64,
            };
            let what = match segment::batch_at(&map, pos, limit) {
                At::Batch(b) => match until {
                    Until::Offset(end) if b.header.next_offset() > end => {
                        format!(
                            "batch ends at offset {}, past {end}",
                            b.header.next_offset()
                        )
                    }
                    _ => {
                        account_raw(
                            &mut info, &mut index, &mut tail, pos, &b.header, &b.raw, interval,
                        );
                        pos += b.header.total_len();
                        continue;
                    }
                },
                At::End if matches!(until, Until::Byte(_)) => break,
                At::End => format!("no batch before offset {end}", end = until.end()),
                At::Bad(what) => what,
            };
            return Err(StorageError::corrupt(&self.path, pos, what));
        }
        Ok((info, index, tail))
    }

    /// Clears the file from byte `pos` to its end, keeping its length:
    /// frees the range (a hole needs no space, so this works on a full
    /// disk), or where the file system cannot, writes zeros over its
    /// data. Only for bytes no reader is served (see `os.rs`).
    pub fn clear_from(&self, pos: u64) -> Result<(), StorageError> {
        let len = self
            .file
            .metadata()
            .map_err(|e| StorageError::io("stat", &self.path, e))?
            .len();
        if pos >= len {
            return Ok(());
        }
        match os::punch_hole(&self.file, pos, len - pos) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                self.zero_from(pos).map(|_| ())
            }
            Err(e) => Err(StorageError::io("free the tail of", &self.path, e)),
        }
    }

    /// Writes zeros over every non-zero byte after `pos`; returns how many
    /// bytes it zeroed. Only the file's data ranges are read: scanning the
    /// rest of a preallocated segment through the map would fault in (and
    /// the time would grow with) its empty pages.
    pub fn zero_from(&self, pos: u64) -> Result<u64, StorageError> {
        let map = self.map();
        let ranges = os::data_ranges(&self.file, pos, map.len() as u64)
            .map_err(|e| StorageError::io("find the data ranges of", &self.path, e))?;
        const CHUNK: u64 = 1 << 20;
        let zeros = vec![0u8; CHUNK as usize];
        let mut zeroed = 0u64;
        for (from, to) in ranges {
            let mut at = from;
            while at < to {
                let n = CHUNK.min(to - at);
                let chunk = map.get(at as usize..(at + n) as usize).unwrap_or_default();
                if crate::codec::first_nonzero(chunk).is_some() {
                    segment::write_at(&self.file, &self.path, at, &zeros[..n as usize])?;
                    zeroed += n;
                }
                at += n;
            }
        }
        Ok(zeroed)
    }
}

/// Where [`Seg::replay`] stops: at a byte position, or after the batch
/// that ends at an offset.
#[derive(Clone, Copy)]
enum Until {
    Byte(u64),
    Offset(u64),
}

impl Until {
    fn end(self) -> u64 {
        match self {
            Until::Byte(e) | Until::Offset(e) => e,
        }
    }
}

/// Accounts one batch (given by its raw body) into a segment's info, its
/// index and the log tail.
pub(crate) fn account_raw(
    info: &mut SegmentInfo,
    index: &mut Index,
    tail: &mut Tail,
    pos: u64,
    header: &BatchHeader,
    raw: &[u8],
    interval: u64,
) {
    index.before_batch(header.base_offset, pos, interval, &tail.gtid);
    let base = header.base_offset;
    let _ = crate::batch::walk(raw, header.record_count, |i, r, g| {
        index.record(r.commit_time_ms, r.position);
        info.add_record(r.commit_time_ms, r.position, None);
        tail.gtid.union_encoded(g);
        tail.last = Some(RecordKeys {
            offset: base + i as u64,
            commit_time_ms: r.commit_time_ms,
            position: r.position,
        });
    });
    index.after_batch(header.total_len());
    // The set after a segment is the log's cumulative set.
    info.gtid_after = tail.gtid.clone();
    info.batch_count += 1;
    info.data_end = pos + header.total_len();
    tail.next_offset = header.next_offset();
}

/// Accounts one record appended by the writer (which has the keys at hand).
pub(crate) fn account_record(
    info: &mut SegmentInfo,
    index: &mut Index,
    tail: &mut Tail,
    offset: u64,
    time: i64,
    pos: SourcePos,
    gtid: &GtidSet,
) {
    index.record(time, pos);
    info.add_record(time, pos, None);
    tail.gtid.union_with(gtid);
    tail.last = Some(RecordKeys {
        offset,
        commit_time_ms: time,
        position: pos,
    });
}

/// Writes an index file and fsyncs it.
pub(crate) fn write_index(path: &Path, index: &Index, base: u64) -> Result<(), StorageError> {
    let bytes = index.encode(base);
    std::fs::write(path, &bytes).map_err(|e| StorageError::io("write", path, e))?;
    let f = File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    fault::sync_all(&f, path).map_err(|e| StorageError::fsync(path, e))
}

/// Fsyncs a directory (after creating, renaming or removing files in it).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let d = File::open(dir).map_err(|e| StorageError::io("open", dir, e))?;
    fault::sync_all(&d, dir).map_err(|e| StorageError::fsync(dir, e))
}
