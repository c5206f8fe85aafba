//! The log's configuration: segment size and age, fsync policy, index
//! density, retention and compression.

use std::time::Duration;

use crate::batch::Compression;
use crate::StorageError;

/// When appended batches are fsynced, and so when readers see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every append is fsynced before it returns (concurrent appends share
    /// one fsync: group commit). Readers see a batch once it is on disk.
    Always,
    /// A background thread fsyncs every this often; readers see batches
    /// after the fsync that covers them.
    Interval(Duration),
    /// Never fsync (the OS writes back when it likes). Readers see a batch
    /// as soon as it is written. A machine crash may lose recent batches; a
    /// process crash loses nothing that `append` returned.
    Never,
}

/// Configuration of a [`crate::Log`].
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// A segment is rolled when it holds at least this many bytes of batches.
    pub segment_bytes: u64,
    /// A non-empty segment is rolled at the first append after it is this old.
    pub segment_age: Option<Duration>,
    /// When appends are fsynced.
    pub fsync: FsyncPolicy,
    /// Bytes of batches between two sparse index entries.
    pub index_interval_bytes: u64,
    /// Delete the oldest sealed segments while the log holds more bytes.
    pub retention_bytes: Option<u64>,
    /// Delete sealed segments sealed longer ago than this.
    pub retention_age: Option<Duration>,
    /// Hard cap on the log's bytes: past it, retention deletes segments
    /// that protected groups still need (and marks those groups lost).
    /// `None`: protected groups hold segments for as long as they need.
    pub retention_max_bytes: Option<u64>,
    /// Compression of batch bodies.
    pub compression: Compression,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 128 << 20,
            segment_age: Some(Duration::from_secs(24 * 3600)),
            fsync: FsyncPolicy::Interval(Duration::from_millis(100)),
            index_interval_bytes: 16 << 10,
            retention_bytes: None,
            retention_age: Some(Duration::from_secs(7 * 24 * 3600)),
            retention_max_bytes: None,
            compression: Compression::None,
        }
    }
}

impl LogConfig {
    /// The settings as `key = value` lines, the text of the log's
    /// `settings` file (see [`crate::Log::open`]): what the writer was last
    /// opened with, for tools that open the log read-only.
    pub fn to_text(&self) -> String {
        let opt_u64 = |v: Option<u64>| v.map_or("none".to_string(), |b| b.to_string());
        let opt_dur =
            |v: Option<Duration>| v.map_or("none".to_string(), |d| format!("{}s", d.as_secs()));
        let fsync = match self.fsync {
            FsyncPolicy::Always => "always".to_string(),
            FsyncPolicy::Interval(d) => format!("interval:{}", d.as_millis()),
            FsyncPolicy::Never => "never".to_string(),
        };
        let compression = match self.compression {
            Compression::None => "none".to_string(),
            Compression::Zstd(level) => format!("zstd:{level}"),
        };
        format!(
            "segment_bytes = {}\nsegment_age = {}\nretention_bytes = {}\nretention_age = {}\n\
             retention_max_bytes = {}\ncompression = {}\nfsync = {}\n",
            self.segment_bytes,
            opt_dur(self.segment_age),
            opt_u64(self.retention_bytes),
            opt_dur(self.retention_age),
            opt_u64(self.retention_max_bytes),
            compression,
            fsync,
        )
    }

    pub(crate) fn check(&self) -> Result<(), StorageError> {
        if self.segment_bytes < 1024 || self.segment_bytes > 64 << 30 {
            return Err(StorageError::Config(format!(
                "segment_bytes {} must be between 1 KiB and 64 GiB",
                self.segment_bytes
            )));
        }
        if self.index_interval_bytes == 0 {
            return Err(StorageError::Config(
                "index_interval_bytes must be at least 1".into(),
            ));
        }
        if let FsyncPolicy::Interval(d) = self.fsync {
            if d.is_zero() {
                return Err(StorageError::Config(
                    "fsync interval must be positive (use Always)".into(),
                ));
            }
        }
        if let (Some(cap), Some(bytes)) = (self.retention_max_bytes, self.retention_bytes) {
            if cap < bytes {
                return Err(StorageError::Config(format!(
                    "retention_max_bytes {cap} is below retention_bytes {bytes}"
                )));
            }
        }
        if let Compression::Zstd(level) = self.compression {
            if !(1..=22).contains(&level) {
                return Err(StorageError::Config(format!(
                    "zstd level {level} must be 1..=22"
                )));
            }
        }
        Ok(())
    }
}
