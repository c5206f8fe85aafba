//! Writing staged records to the log, and doing it behind the capture
//! loop: a batch of row records is appended on the blocking pool while the
//! loop decodes and encodes the next one (on small transactions the log's
//! share — batch encoding, zstd, the write — is about a quarter of the
//! work, which then runs on the other core).
//!
//! One batch is in flight at most, and the loop waits for it
//! ([`InFlight::wait`]) before it appends anything else, so records reach
//! the log in binlog order and an error stops everything after it. Records
//! the schema record list must note (DDL, snapshots) are appended by the
//! loop itself, after that wait.

use super::resume::file_number;
use super::staging::Staged;
use super::status::StatusHandle;
use sluice_storage::{Log, NewRecord, SourcePos, StorageError};
use std::time::Instant;

/// At most this many bytes of records go into one append.
pub(super) const BATCH_BYTES: usize = 8 << 20;

/// `staged` cut into appends of at most [`BATCH_BYTES`] (a record larger
/// than that goes alone).
pub(super) fn cut(staged: Vec<Staged>) -> Vec<Vec<Staged>> {
    let mut batches = Vec::new();
    let mut batch: Vec<Staged> = Vec::new();
    let mut batch_bytes = 0usize;
    for s in staged {
        if batch_bytes + s.bytes.len() > BATCH_BYTES && !batch.is_empty() {
            batches.push(std::mem::take(&mut batch));
            batch_bytes = 0;
        }
        batch_bytes += s.bytes.len();
        batch.push(s);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// Append `batch` as one log append; with `status`, count it there (once
/// per batch: per record, the status lock and the metric labels were a
/// visible share of capturing small transactions).
pub(super) fn write(
    log: &Log,
    source: &str,
    batch: &[Staged],
    status: Option<&StatusHandle>,
) -> Result<(), StorageError> {
    let mut news = Vec::with_capacity(batch.len());
    for s in batch {
        let gtid = if s.index_gtid {
            crate::gtid::contribution(&s.gtid).unwrap_or_else(|e| {
                tracing::warn!(source, "{e}: not indexed by GTID");
                Default::default()
            })
        } else {
            Default::default()
        };
        news.push(NewRecord {
            payload: &s.bytes,
            commit_time_ms: s.commit_time_ms,
            position: SourcePos::new(file_number(&s.file), s.next),
            gtid,
        });
    }
    let started = Instant::now();
    log.append(&news)?;
    metrics::histogram!("sluice_append_seconds", "source" => source.to_string())
        .record(started.elapsed().as_secs_f64());
    let (Some(status), Some(last)) = (status, batch.last()) else {
        return Ok(());
    };
    let (mut rows, mut transactions) = (0, 0);
    for s in batch {
        rows += s.rows;
        transactions += u64::from(s.last_part);
    }
    let gtid = batch
        .iter()
        .rev()
        .find(|s| !s.gtid.is_empty())
        .map_or("", |s| s.gtid.as_str());
    status.captured(
        &last.file,
        last.next,
        gtid,
        last.commit_time_ms,
        rows,
        transactions,
    );
    Ok(())
}

/// Row records being appended on the blocking pool.
pub(super) struct InFlight {
    task: tokio::task::JoinHandle<Result<(), StorageError>>,
    /// Where the last record ended (file, next, commit time), when it
    /// ended a transaction: the place for a schema checkpoint.
    pub boundary: Option<(String, u64, i64)>,
}

impl InFlight {
    /// Start appending `staged` (no DDL or snapshot records among them).
    pub fn start(log: &Log, source: &str, status: &StatusHandle, staged: Vec<Staged>) -> Self {
        let boundary = staged
            .last()
            .filter(|s| s.last_part)
            .map(|s| (s.file.clone(), s.next, s.commit_time_ms));
        let (log, source, status) = (log.clone(), source.to_string(), status.clone());
        let task = tokio::task::spawn_blocking(move || {
            for batch in cut(staged) {
                write(&log, &source, &batch, Some(&status))?;
            }
            Ok(())
        });
        InFlight { task, boundary }
    }

    /// Wait until the records are in the log (or failed). `Err(text)`:
    /// the append task itself failed.
    pub async fn wait(self) -> Result<Result<(), StorageError>, String> {
        self.task
            .await
            .map_err(|e| format!("the log append task failed: {e}"))
    }
}
