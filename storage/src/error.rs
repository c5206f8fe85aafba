//! The one error type of the crate. Every variant carries the context needed
//! to act on it (file and byte offset for corruption, offsets for range
//! errors), and [`StorageError::is_retryable`] splits them into transient
//! failures (retry later) and definite ones (stop and say so).

use std::io;
use std::path::PathBuf;

/// Errors of the segment log.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system call failed on a file of the log.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "write", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An fsync failed, not for a full disk (that is
    /// [`StorageError::DiskFullSync`], or a retryable `Io` error for files
    /// rewritten whole). The log refuses further appends: after a failed
    /// fsync the kernel may have dropped dirty pages, so what is on disk is
    /// unknown until the log is reopened (which re-scans the tail).
    #[error("fsync of {path} failed, the log is closed for appends until reopened: {source}")]
    FsyncFailed {
        /// The file being synced.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An fsync of a segment found the disk full (`ENOSPC`, `EDQUOT`). What
    /// it covered is not known to be on disk (the kernel may have dropped
    /// the pages, or kept them without writing them), so it is never
    /// trusted to a later fsync: the writer went back to the last durable
    /// record, dropping records `from..to` (which no reader was served),
    /// and appends continue at `from` once an fsync succeeds again.
    #[error(
        "fsync of {path} found the disk full: records {from}..{to} were not durable and are \
         dropped; the log takes appends again from offset {from} once space is freed: {source}"
    )]
    DiskFullSync {
        /// The file being synced.
        path: PathBuf,
        /// The first dropped offset: where appends continue.
        from: u64,
        /// One past the last dropped offset (`from` when none was).
        to: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk do not decode or fail a checksum.
    #[error("corrupt {path} at byte {pos}: {what}")]
    Corrupt {
        /// The file holding the bad bytes.
        path: PathBuf,
        /// Byte offset in that file where the bad structure starts.
        pos: u64,
        /// What is wrong.
        what: String,
    },
    /// The offset was deleted by retention (or never existed below the start).
    #[error("offset {requested} is below the log start {start} (deleted by retention)")]
    BelowStart {
        /// The offset asked for.
        requested: u64,
        /// The first offset still in the log.
        start: u64,
    },
    /// The offset is past the end of the log.
    #[error("offset {requested} is beyond the log end {end}")]
    BeyondEnd {
        /// The offset asked for.
        requested: u64,
        /// The next offset the log will assign.
        end: u64,
    },
    /// A write was attempted on a log opened with [`crate::Log::open_read_only`].
    #[error("the log at {0} is read-only")]
    ReadOnly(PathBuf),
    /// An earlier fsync failed; the log takes no more appends until it is
    /// reopened (which re-scans the tail).
    #[error("the log at {0} stopped taking appends after a failed fsync; reopen it")]
    Poisoned(PathBuf),
    /// Another process holds the writer lock of this directory.
    #[error("the log at {0} is already opened for writing by another process")]
    Locked(PathBuf),
    /// A record or batch exceeds a format limit.
    #[error("{what} of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A consumer group that does not exist.
    #[error("consumer group {0:?} does not exist")]
    GroupNotFound(String),
    /// A consumer group that already exists.
    #[error("consumer group {0:?} already exists")]
    GroupExists(String),
    /// A group name that cannot be stored (empty or longer than 255 bytes).
    #[error("invalid consumer group name {0:?}: must be 1..=255 bytes")]
    InvalidGroupName(String),
    /// The group's committed offset fell below the log start and the group
    /// has no reset policy.
    #[error(
        "consumer group {name:?} is at offset {offset}, below the log start {start} \
         (deleted by retention); seek it or recreate it with a reset policy"
    )]
    GroupOutOfRange {
        /// The group.
        name: String,
        /// Its committed offset.
        offset: u64,
        /// The first offset still in the log.
        start: u64,
    },
    /// A reader was given a folder that does not exist.
    #[error("no such folder: {}", .0.display())]
    NoFolder(PathBuf),
    /// A reader was given a file where a log folder was expected.
    #[error("{} is a file, not a log folder", .0.display())]
    NotAFolder(PathBuf),
    /// A reader was given a folder without segment files; `found` names
    /// the logs below it (a data folder's `NAME/log`).
    #[error("no log in {}{}", dir.display(), crate::locate::found_text(found))]
    NoLog {
        /// The folder given.
        dir: PathBuf,
        /// Logs one or two levels below it.
        found: Vec<crate::locate::FoundLog>,
    },
    /// The data folder holds no log for this source at `DATA/NAME/log`.
    #[error("no log for source {name:?} in {}{}", data.display(), crate::locate::source_hint(data, found))]
    NoSourceLog {
        /// The source name given.
        name: String,
        /// The data folder given.
        data: PathBuf,
        /// Logs one or two levels below it.
        found: Vec<crate::locate::FoundLog>,
    },
    /// The configuration is not usable.
    #[error("invalid log configuration: {0}")]
    Config(String),
}

impl StorageError {
    /// Whether retrying the same operation later may succeed (an I/O hiccup,
    /// a full disk, a lock held by another process). Corruption, range
    /// errors and a failed fsync are definite.
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => !matches!(
                source.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
            ),
            StorageError::Locked(_) | StorageError::DiskFullSync { .. } => true,
            _ => false,
        }
    }

    /// Whether the file system is full or the quota used up (`ENOSPC`,
    /// `EDQUOT`) while writing or fsyncing: retried once space is freed.
    /// Nothing half-written or unsynced counts: the tail is rewritten from
    /// the last durable batch ([`StorageError::DiskFullSync`]), a small
    /// file (group, index, footer) is rewritten whole before its next
    /// fsync. Any other failed fsync poisons the writer.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => is_disk_full(source),
            StorageError::DiskFullSync { .. } => true,
            _ => false,
        }
    }

    /// Whether this says the folder given is no log: missing, a file, or
    /// without segment files (a usage error, not damage).
    pub fn is_wrong_folder(&self) -> bool {
        matches!(
            self,
            StorageError::NoFolder(_)
                | StorageError::NotAFolder(_)
                | StorageError::NoLog { .. }
                | StorageError::NoSourceLog { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A failed fsync of `path`, which is rewritten whole before it is
    /// fsynced again: on a full disk a retryable `Io` error ("fsync"),
    /// otherwise [`StorageError::FsyncFailed`].
    pub(crate) fn fsync(path: impl Into<PathBuf>, source: io::Error) -> Self {
        if is_disk_full(&source) {
            StorageError::io("fsync", path, source)
        } else {
            StorageError::FsyncFailed {
                path: path.into(),
                source,
            }
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, pos: u64, what: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.into(),
            pos,
            what: what.into(),
        }
    }
}

/// `ENOSPC` or `EDQUOT`.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Result alias of the crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
