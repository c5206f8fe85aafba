//! Fault injection: fsyncs that fail with `ENOSPC`, for tests of what the
//! log does when the disk fills while it syncs. A real full file system
//! cannot be made to do that on demand (a full tmpfs refuses writes, but
//! its fsync has nothing to write back and never fails).
//!
//! Every fsync of the crate goes through [`sync_data`] / [`sync_all`]. Two
//! switches make them fail; both are off unless set, and then a check
//! costs two atomic loads:
//!
//! - [`fail_fsync_under`]: fsyncs of files in a folder (or below it) fail
//!   while the returned guard lives (tests in the same process);
//! - the environment variable `SLUICE_FAULT_FSYNC_ENOSPC=FILE`, read once:
//!   every fsync of the process fails while `FILE` exists (tests driving
//!   the `sluice` binary).
//!
//! A failing fsync does not sync at all: to the log that is the worst a
//! kernel may do (drop the dirty pages, or keep them without writing them).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// The environment variable naming the file whose existence fails fsyncs.
pub const FSYNC_ENV: &str = "SLUICE_FAULT_FSYNC_ENOSPC";

/// Folders whose files' fsyncs fail, one entry per live guard.
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// `FOLDERS.len()`, read without the lock.
static ARMED: AtomicUsize = AtomicUsize::new(0);
static TRIGGER: OnceLock<Option<PathBuf>> = OnceLock::new();

/// While alive, fsyncs of files in its folder fail with `ENOSPC`.
#[must_use = "the fault lasts as long as the guard"]
pub struct FsyncFault(PathBuf);

impl Drop for FsyncFault {
    fn drop(&mut self) {
        let mut f = FOLDERS.lock();
        if let Some(i) = f.iter().position(|p| *p == self.0) {
            f.swap_remove(i);
        }
        ARMED.store(f.len(), Ordering::Release);
    }
}

/// Makes every fsync of a file in `dir` (or below it, and of `dir`
/// itself) fail with `ENOSPC` until the guard is dropped. `dir` is
/// compared as given: pass the path the log was opened with.
pub fn fail_fsync_under(dir: &Path) -> FsyncFault {
    let mut f = FOLDERS.lock();
    f.push(dir.to_path_buf());
    ARMED.store(f.len(), Ordering::Release);
    FsyncFault(dir.to_path_buf())
}

/// The injected error for an fsync of `path`, if one is set.
fn injected(path: &Path) -> Option<io::Error> {
    let enospc = || io::Error::from_raw_os_error(libc::ENOSPC);
    if ARMED.load(Ordering::Acquire) > 0 && FOLDERS.lock().iter().any(|d| path.starts_with(d)) {
        return Some(enospc());
    }
    let trigger = TRIGGER.get_or_init(|| std::env::var_os(FSYNC_ENV).map(PathBuf::from));
    match trigger {
        Some(file) if file.exists() => Some(enospc()),
        _ => None,
    }
}

/// `file.sync_data()`, unless a fault is injected for `path`.
pub fn sync_data(file: &File, path: &Path) -> io::Result<()> {
    match injected(path) {
        Some(e) => Err(e),
        None => file.sync_data(),
    }
}

/// `file.sync_all()`, unless a fault is injected for `path`.
pub fn sync_all(file: &File, path: &Path) -> io::Result<()> {
    match injected(path) {
        Some(e) => Err(e),
        None => file.sync_all(),
    }
}
