//! The only module with `unsafe`: read-only memory maps of segment files,
//! the advisory lock that keeps a second writer out of a directory, the
//! data/hole map of a sparse file, and punching holes.
//!
//! A memory map is dangerous: if the file shrinks below a mapped page, the
//! next access to that page raises SIGBUS and kills the process. The log
//! therefore never shrinks a segment file — not when sealing (the footer is
//! written inside the file and the trailer at its end), not when recovery
//! drops a torn tail (the tail is overwritten with zeros instead), not
//! when a full disk makes the writer drop what it could not fsync (the
//! range is punched out, which keeps the length) — and only ever grows it
//! with `set_len`. Files are removed with `unlink`, which
//! leaves existing maps valid. Maps are shared through reference counts
//! ([`Map`] inside `Bytes`), so a file is only unlinked by retention after
//! the last reader of it is gone.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::StorageError;

/// A read-only map of a whole file, as it was long when mapped.
pub(crate) struct Map {
    map: Option<memmap2::Mmap>,
    /// Kept alive as long as the map: the segment's file guard, which
    /// unlinks a retention-deleted file when the last holder drops it.
    _keep: Arc<dyn Send + Sync>,
}

impl AsRef<[u8]> for Map {
    fn as_ref(&self) -> &[u8] {
        match &self.map {
            Some(m) => m,
            None => &[],
        }
    }
}

/// Maps `file` read-only (its current length) and wraps the map in
/// [`Bytes`], so that slices of it can be handed out without copying.
pub(crate) fn map_file(
    file: &File,
    path: &Path,
    keep: Arc<dyn Send + Sync>,
) -> Result<Bytes, StorageError> {
    let len = file
        .metadata()
        .map_err(|e| StorageError::io("stat", path, e))?
        .len();
    if len == 0 {
        return Ok(Bytes::from_owner(Map {
            map: None,
            _keep: keep,
        }));
    }
    // SAFETY: memmap2 requires that the file is not truncated or modified
    // in the mapped range in ways that invalidate the map while it is alive.
    // The log never truncates a segment file (see the module docs): it only
    // grows it, and removes it by unlink, which keeps the pages valid. Bytes
    // inside the map may change when the writer appends, but only in the
    // region beyond the durable end, which readers do not read; recovery's
    // zeroing of a torn tail, and the writer's punching out of what a
    // full disk kept it from syncing, only touch bytes that were never
    // durable.
    // Readers treat every byte as untrusted (checksums), so a concurrent
    // change is at worst a detected corruption, never undefined behaviour in
    // safe code built on top of a `&[u8]` of plain bytes.
    let map = unsafe { memmap2::MmapOptions::new().map(file) }
        .map_err(|e| StorageError::io("mmap", path, e))?;
    Ok(Bytes::from_owner(Map {
        map: Some(map),
        _keep: keep,
    }))
}

/// Takes an exclusive, non-blocking advisory lock on `file` (released when
/// the file is closed). Returns `Ok(false)` when another process holds it.
pub(crate) fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock only reads the descriptor number, which is valid for
    // the lifetime of the borrowed `File`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// The ranges of `file` within `from..to` that hold data, by `SEEK_DATA` /
/// `SEEK_HOLE`: the holes of a sparse (preallocated) segment read as zeros
/// and need no scanning. Where the file system cannot tell, the whole range.
pub(crate) fn data_ranges(file: &File, from: u64, to: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let fd = file.as_raw_fd();
    let offset = |at: u64| libc::off_t::try_from(at).unwrap_or(libc::off_t::MAX);
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        // SAFETY: lseek only reads the descriptor number, which is valid for
        // the lifetime of the borrowed `File`. It moves the file's cursor,
        // which the log never uses (all its I/O is positional).
        let data = unsafe { libc::lseek(fd, offset(at), libc::SEEK_DATA) };
        if data < 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                // No data at or after `at`.
                Some(libc::ENXIO) => Ok(out),
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => {
                    out.push((at, to));
                    Ok(out)
                }
                _ => Err(err),
            };
        }
        let data = data as u64;
        if data >= to {
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, offset(data), libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let end = (hole as u64).clamp(data + 1, to);
        out.push((data, end));
        at = end;
    }
    Ok(out)
}

/// Frees `len` bytes of `file` from `from` (`FALLOC_FL_PUNCH_HOLE`): they
/// read as zeros after, and the file keeps its length, so maps of it stay
/// valid. Takes no free space. `Unsupported` where the file system (or
/// the system) cannot.
pub(crate) fn punch_hole(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let (Ok(at), Ok(n)) = (libc::off_t::try_from(from), libc::off_t::try_from(len)) else {
            return Err(std::io::ErrorKind::InvalidInput.into());
        };
        // SAFETY: fallocate only reads the descriptor number, which is
        // valid for the lifetime of the borrowed `File`.
        let rc = unsafe {
            libc::fallocate(
                file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                at,
                n,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Err(std::io::ErrorKind::Unsupported.into()),
            _ => Err(err),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, from, len);
        Err(std::io::ErrorKind::Unsupported.into())
    }
}
