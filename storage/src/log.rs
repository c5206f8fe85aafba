//! [`Log`]: the handle everything else goes through. Holds the list of
//! segments, the log start offset, the durable watermark with its waiters
//! and listeners, and (when opened for writing) the single writer.
//!
//! Files of a log directory:
//!
//! ```text
//! LOCK                      advisory lock of the writer process (empty)
//! {base:020}.log            segments (segment.rs)
//! {base:020}.index          sparse index of a sealed segment (index.rs)
//! log-start                 the log start offset (below)
//! groups/{hex name}.group   consumer groups (groups.rs)
//! ```
//!
//! `log-start` (replaced atomically: temp file, fsync, rename, fsync dir):
//!
//! ```text
//!   0  8 bytes  magic "SLCSTART"
//!   8  u64      start offset
//!  16  u32      CRC-32 of bytes 0..16
//! ```

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::codec::{crc, le_u32, le_u64};
use crate::config::{FsyncPolicy, LogConfig};
use crate::gtid::GtidSet;
use crate::live::{sync_dir, Seg};
use crate::record::{NewRecord, RecordKeys};
use crate::segment::SegmentInfo;
use crate::writer::Writer;
use crate::{os, StorageError};

const START_MAGIC: &[u8; 8] = b"SLCSTART";
/// How often a read-only log re-reads the directory while waiting.
const READ_ONLY_POLL: Duration = Duration::from_millis(20);

/// The resume point of the log: what the last record was and every GTID
/// the log holds (what the source should be asked to skip).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastRecord {
    /// The next offset the log will assign.
    pub next_offset: u64,
    /// The last record's keys, if the log ever had a record (kept even when
    /// retention deleted it).
    pub last: Option<RecordKeys>,
    /// The union of the GTID contributions of every record ever appended
    /// (including segments since deleted by retention).
    pub gtid_executed: GtidSet,
}

/// A handle to an open segment log. Cheap to clone; every clone shares the
/// same log. `Send + Sync`: one thread may append while others read.
#[derive(Clone)]
pub struct Log {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct State {
    pub segments: Vec<Arc<Seg>>,
    pub start: u64,
}

type Listener = Arc<dyn Fn(u64) + Send + Sync>;

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub config: LogConfig,
    pub read_only: bool,
    pub state: RwLock<State>,
    /// Mirror of `state.start` (read per record by readers), updated while
    /// `state` is write-locked.
    pub start: AtomicU64,
    /// The writer (writer mode) or the scanning tail (read-only mode).
    pub writer: Mutex<Writer>,
    /// The durable end: one past the last offset readers may see.
    pub durable: AtomicU64,
    pub durable_lock: Mutex<()>,
    pub durable_cv: Condvar,
    pub listeners: Mutex<Vec<(u64, Listener)>>,
    /// The last durable end passed to listeners.
    pub notified: Mutex<u64>,
    pub next_listener: AtomicU64,
    /// Held by the thread doing a group-commit fsync.
    pub sync_lock: Mutex<()>,
    /// Set after a failed fsync (not a full disk): appends are refused.
    pub poisoned: AtomicBool,
    /// Bumped (under the sync and writer locks) each time a full disk
    /// makes the writer drop what was not durable (`writer::Rewound`).
    pub epoch: AtomicU64,
    /// Retention keeps the segment holding this offset and all after it
    /// (`u64::MAX`: no such hold). See [`Log::keep_from`].
    pub keep_from: AtomicU64,
    pub groups_lock: Mutex<()>,
    /// Set when the log closes, to stop the fsync thread.
    pub stop: Arc<(Mutex<bool>, Condvar)>,
    _lock_file: Option<File>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        {
            let (flag, cv) = &*self.stop;
            *flag.lock() = true;
            cv.notify_all();
        }
        if !self.read_only && !self.poisoned.load(Ordering::Acquire) {
            let w = self.writer.lock();
            if let Some(seg) = w.active.as_ref() {
                // What a full disk made the writer drop must not be read
                // back by the next open.
                if w.rewound.as_ref().is_some_and(|r| !r.cleared) {
                    let _ = seg.clear_from(seg.info.read().data_end);
                }
                let _ = crate::fault::sync_data(&seg.file, &seg.path);
            }
        }
    }
}

impl Log {
    /// Opens (or creates) the log in `dir` for writing. Takes the directory's
    /// writer lock, recovers the unsealed tail (a torn last batch is cut off
    /// and the lost range logged), deletes segments that retention had
    /// already dropped, and starts the fsync thread for
    /// [`FsyncPolicy::Interval`].
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log, StorageError> {
        config.check()?;
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io("create", dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StorageError::io("open", &lock_path, e))?;
        if !os::try_lock_exclusive(&lock).map_err(|e| StorageError::io("lock", &lock_path, e))? {
            return Err(StorageError::Locked(dir.to_path_buf()));
        }
        let (state, writer) = crate::recovery::open_dir(dir, &config, false)?;
        // For readers in other processes (`sluice-inspect`): the settings
        // this writer runs with. Informational only; nothing reads it back.
        atomic_write(dir, &dir.join(SETTINGS_FILE), config.to_text().as_bytes())?;
        let log = Log::assemble(dir, config, false, state, writer, Some(lock));
        if let FsyncPolicy::Interval(every) = log.inner.config.fsync {
            log.spawn_every("sluice-log-fsync", every, |log| {
                if let Err(e) = crate::writer::flush(log, false) {
                    tracing::error!(error = %e, "periodic fsync of the log failed");
                }
            })?;
        }
        if let Some(every) = age_check_period(&log.inner.config) {
            // Rolling by age and retention by age must happen on an idle
            // log too, not only when an append comes.
            log.spawn_every("sluice-log-age", every, |log| {
                if let Err(e) = log.apply_age() {
                    tracing::warn!(error = %e, "rolling or retention by age failed");
                }
            })?;
        }
        Ok(log)
    }

    /// Opens the log in `dir` for reading only, while another process may
    /// be writing it. New segments and batches written by that process are
    /// picked up by [`Log::refresh`], which [`Log::wait_for`] calls while it
    /// waits. Such a reader sees every complete, checksummed batch on disk
    /// (it cannot know the writer's fsync state). A folder without segment
    /// files is refused ([`StorageError::NoLog`], naming the logs below it)
    /// rather than read as an empty log.
    pub fn open_read_only(dir: &Path) -> Result<Log, StorageError> {
        crate::locate::require_log(dir)?;
        let config = LogConfig::default();
        let (state, writer) = crate::recovery::open_dir(dir, &config, true)?;
        Ok(Log::assemble(dir, config, true, state, writer, None))
    }

    fn assemble(
        dir: &Path,
        config: LogConfig,
        read_only: bool,
        state: State,
        writer: Writer,
        lock: Option<File>,
    ) -> Log {
        let durable = writer.tail.next_offset;
        let start = state.start;
        Log {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                config,
                read_only,
                state: RwLock::new(state),
                start: AtomicU64::new(start),
                writer: Mutex::new(writer),
                durable: AtomicU64::new(durable),
                durable_lock: Mutex::new(()),
                durable_cv: Condvar::new(),
                listeners: Mutex::new(Vec::new()),
                notified: Mutex::new(durable),
                next_listener: AtomicU64::new(0),
                sync_lock: Mutex::new(()),
                poisoned: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                keep_from: AtomicU64::new(u64::MAX),
                groups_lock: Mutex::new(()),
                stop: Arc::new((Mutex::new(false), Condvar::new())),
                _lock_file: lock,
            }),
        }
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Makes retention keep the segment that holds `offset` and every
    /// later one, even past `retention_max_bytes`: the writer's own need
    /// (sluice: its newest schema checkpoint), which no policy may delete.
    /// Held in memory by this process; replaces an earlier hold.
    pub fn keep_from(&self, offset: u64) {
        self.inner.keep_from.store(offset, Ordering::Release);
    }

    /// Base offset of the active (last) segment: it changes when the log
    /// rolls.
    pub fn active_segment_base(&self) -> u64 {
        let st = self.inner.state.read();
        st.segments.last().map_or(st.start, |s| s.base)
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// The writer's settings as `key = value` lines: this log's own for a
    /// writable log, the `settings` file its writer left for a read-only
    /// one (`None` when no writer ever wrote one).
    pub fn settings_text(&self) -> Option<String> {
        if self.inner.read_only {
            std::fs::read_to_string(self.dir().join(SETTINGS_FILE)).ok()
        } else {
            Some(self.inner.config.to_text())
        }
    }

    /// Whether the log was opened with [`Log::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Appends one batch of records and returns the offsets assigned to
    /// them. Under [`FsyncPolicy::Always`] the batch is on disk when this
    /// returns. An empty slice appends nothing and returns an empty range
    /// at the end of the log.
    pub fn append(&self, records: &[NewRecord<'_>]) -> Result<Range<u64>, StorageError> {
        crate::writer::append(self, records)
    }

    /// Seals the active segment (if it holds any record) and starts a new
    /// one, as reaching `segment_bytes` or `segment_age` would.
    pub fn roll(&self) -> Result<(), StorageError> {
        if self.inner.read_only {
            return Err(StorageError::ReadOnly(self.inner.dir.clone()));
        }
        if self.inner.poisoned.load(Ordering::Acquire) {
            return Err(StorageError::Poisoned(self.inner.dir.clone()));
        }
        // Sealing fsyncs: the sync lock first, as everywhere.
        let _sync = self.inner.sync_lock.lock();
        let mut w = self.inner.writer.lock();
        let empty = w
            .active
            .as_ref()
            .is_none_or(|s| s.info.read().records() == 0);
        if !empty {
            crate::writer::roll(self, &mut w)?;
        }
        Ok(())
    }

    /// Fsyncs everything appended so far and makes it visible to readers.
    pub fn flush(&self) -> Result<(), StorageError> {
        if self.inner.read_only {
            return self.refresh();
        }
        crate::writer::flush(self, true)
    }

    /// One past the last offset readers may see (the durable watermark).
    pub fn durable_end(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// The first offset still in the log (moved forward by retention).
    pub fn start_offset(&self) -> u64 {
        self.inner.start.load(Ordering::Acquire)
    }

    /// The resume point: the last appended record's keys and the
    /// cumulative GTID set (after a reopen: the last record on disk).
    pub fn last_record(&self) -> LastRecord {
        let w = self.inner.writer.lock();
        LastRecord {
            next_offset: w.tail.next_offset,
            last: w.tail.last.clone(),
            gtid_executed: w.tail.gtid.clone(),
        }
    }

    /// What each segment holds, oldest first (the last one is the active
    /// segment).
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let st = self.inner.state.read();
        st.segments.iter().map(|s| s.info.read().clone()).collect()
    }

    /// Blocks until a record at `offset` is durable (returns true) or the
    /// timeout passes (returns false). No busy polling in writer mode; a
    /// read-only log re-reads the directory every 20 ms while waiting.
    pub fn wait_for(&self, offset: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if self.inner.read_only {
            loop {
                if self.durable_end() > offset {
                    return true;
                }
                if let Err(e) = self.refresh() {
                    tracing::debug!(error = %e, "refresh of read-only log failed");
                }
                if self.durable_end() > offset {
                    return true;
                }
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                std::thread::sleep(READ_ONLY_POLL.min(deadline - now));
            }
        }
        let mut g = self.inner.durable_lock.lock();
        loop {
            if self.durable_end() > offset {
                return true;
            }
            if self
                .inner
                .durable_cv
                .wait_until(&mut g, deadline)
                .timed_out()
            {
                return self.durable_end() > offset;
            }
        }
    }

    /// Registers `listener`, called with the new durable end each time it
    /// advances, in increasing order (on the appending or fsyncing thread:
    /// keep it short, e.g. `tokio::sync::Notify::notify_waiters`, and do
    /// not call back into the log from it). Returns an id for
    /// [`Log::remove_listener`].
    pub fn on_durable(&self, listener: impl Fn(u64) + Send + Sync + 'static) -> u64 {
        let id = self.inner.next_listener.fetch_add(1, Ordering::Relaxed);
        self.inner.listeners.lock().push((id, Arc::new(listener)));
        id
    }

    /// Unregisters a listener; returns whether it was registered.
    pub fn remove_listener(&self, id: u64) -> bool {
        let mut l = self.inner.listeners.lock();
        let before = l.len();
        l.retain(|(i, _)| *i != id);
        l.len() != before
    }

    /// Re-reads the directory: new segments, new batches at the end, a
    /// moved log start. Needed only for read-only logs (a no-op otherwise).
    pub fn refresh(&self) -> Result<(), StorageError> {
        if !self.inner.read_only {
            return Ok(());
        }
        crate::recovery::refresh(self)
    }

    /// Moves the durable watermark to `end` (if that is forward), wakes
    /// waiters and calls listeners.
    pub(crate) fn publish_durable(&self, end: u64) {
        let prev = self.inner.durable.fetch_max(end, Ordering::AcqRel);
        if prev >= end {
            return;
        }
        {
            let _g = self.inner.durable_lock.lock();
            self.inner.durable_cv.notify_all();
        }
        // Listeners see the watermark only move forward, even when two
        // threads publish at once (an appender and the fsync thread).
        let mut notified = self.inner.notified.lock();
        let now = self.durable_end();
        if now <= *notified {
            return;
        }
        *notified = now;
        let listeners: Vec<Listener> = self
            .inner
            .listeners
            .lock()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for l in listeners {
            l(now);
        }
    }

    /// The segments, oldest first, and the start offset.
    pub(crate) fn snapshot(&self) -> (Vec<Arc<Seg>>, u64) {
        let st = self.inner.state.read();
        (st.segments.clone(), st.start)
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.inner.dir)
            .field("read_only", &self.inner.read_only)
            .field("start", &self.start_offset())
            .field("durable_end", &self.durable_end())
            .finish()
    }
}

impl Log {
    /// Runs `work` every `period` on a thread of its own until the log is
    /// closed.
    fn spawn_every(
        &self,
        name: &str,
        period: Duration,
        work: fn(&Log),
    ) -> Result<(), StorageError> {
        let weak = Arc::downgrade(&self.inner);
        let stop = self.inner.stop.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || every(weak, stop, period, work))
            .map(|_| ())
            .map_err(|e| StorageError::io("spawn a background thread for", &self.inner.dir, e))
    }

    /// Rolls the active segment when it is older than `segment_age` and
    /// holds records, then applies retention.
    fn apply_age(&self) -> Result<(), StorageError> {
        let cfg = &self.inner.config;
        let aged = cfg
            .segment_age
            .is_some_and(|a| self.inner.writer.lock().aged(a));
        if aged {
            self.roll()?;
        }
        if cfg.retention_bytes.is_some() || cfg.retention_age.is_some() {
            self.apply_retention()?;
        }
        Ok(())
    }
}

/// How often the age thread looks: a tenth of the shortest age, between
/// 10 ms and a minute; `None` when no age is configured.
fn age_check_period(cfg: &LogConfig) -> Option<Duration> {
    let shortest = [cfg.segment_age, cfg.retention_age]
        .into_iter()
        .flatten()
        .min()?;
    Some((shortest / 10).clamp(Duration::from_millis(10), Duration::from_secs(60)))
}

fn every(weak: Weak<Inner>, stop: Arc<(Mutex<bool>, Condvar)>, period: Duration, work: fn(&Log)) {
    loop {
        {
            let (flag, cv) = &*stop;
            let mut stopped = flag.lock();
            if !*stopped {
                let _ = cv.wait_for(&mut stopped, period);
            }
            if *stopped {
                return;
            }
        }
        // Only a weak reference is held while sleeping, so the log closes
        // (and releases its lock) as soon as the last user handle is gone.
        let Some(inner) = weak.upgrade() else { return };
        work(&Log { inner });
    }
}

/// Reads the `log-start` file; `Ok(None)` when there is none.
pub(crate) fn read_start(dir: &Path) -> Result<Option<u64>, StorageError> {
    let path = dir.join("log-start");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", &path, e)),
    };
    if bytes.len() != 20
        || &bytes[..8] != START_MAGIC
        || le_u32(&bytes, 16) != Some(crc(&bytes[..16]))
    {
        return Err(StorageError::corrupt(
            &path,
            0,
            "log-start file is not valid",
        ));
    }
    Ok(le_u64(&bytes, 8))
}

/// The writer's settings, as text (`LogConfig::to_text`).
const SETTINGS_FILE: &str = "settings";

/// Writes the `log-start` file atomically and durably.
pub(crate) fn write_start(dir: &Path, start: u64) -> Result<(), StorageError> {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(START_MAGIC);
    b.extend_from_slice(&start.to_le_bytes());
    let c = crc(&b);
    b.extend_from_slice(&c.to_le_bytes());
    atomic_write(dir, &dir.join("log-start"), &b)
}

/// Replaces `path` with `bytes` atomically: temp file, fsync, rename, fsync
/// of the directory.
pub(crate) fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write;
        let mut f = File::create(&tmp).map_err(|e| StorageError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| StorageError::io("write", &tmp, e))?;
        // On a full disk the retry rewrites the whole file before its
        // fsync: pages a failed fsync dropped are never trusted to a
        // later one.
        crate::fault::sync_all(&f, &tmp).map_err(|e| StorageError::fsync(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| StorageError::io("rename", path, e))?;
    sync_dir(dir)
}
