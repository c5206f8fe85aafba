//! The loop every sink runs: read its consumer group from the log, cut
//! records into messages, deliver, and commit the group's offset once the
//! target acknowledged everything before it.
//!
//! Delivery is at least once towards the target; exactly once for the
//! user comes from the target side: NATS drops a repeated `Nats-Msg-Id`,
//! the MySQL mirror applies idempotently. Commits are batched (every
//! `commit_every` or 1,000 records), so a crash redelivers at most that
//! much.

use super::message::{messages, KeyRules, Message};
use super::supervisor::SinkHandle;
use crate::filter::TableFilter;
use crate::format::Format;
use crate::proto::Record;
use crate::serve::destination::{Destination, DestinationError, LogRecord, ResetPolicy};
use crate::source::Backoff;
use prost::Message as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A delivery target.
pub trait Sink: Send {
    /// Deliver `messages` (of records up to and including `offset`) and
    /// return once the target acknowledged every one of them.
    fn deliver(
        &mut self,
        messages: Vec<Message>,
    ) -> impl std::future::Future<Output = Result<(), SinkError>> + Send;

    /// True for a sink that needs whole records (transaction boundaries,
    /// DDL), such as the MySQL mirror: the runner then calls
    /// [`Sink::deliver_records`] instead of [`Sink::deliver`].
    fn wants_records(&self) -> bool {
        false
    }

    /// Deliver decoded `records` (log offset, record), in log order, each
    /// already cut down to the changes that pass the sink's filter.
    fn deliver_records(
        &mut self,
        records: &[(u64, Record)],
    ) -> impl std::future::Future<Output = Result<(), SinkError>> + Send {
        let _ = records;
        async {
            Err(SinkError::Fatal(
                "this sink does not take whole records".into(),
            ))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying (connection, timeout, target busy).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (bad configuration, rejected message).
    #[error("{0}")]
    Fatal(String),
}

#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// The sink's name; its consumer group is `sink-NAME`.
    pub name: String,
    pub format: Format,
    pub filter: TableFilter,
    /// Where a new group starts.
    pub start: ResetPolicy,
    pub commit_every: Duration,
    /// How messages are keyed (partitioned), for sinks that use keys.
    pub keys: KeyRules,
    /// Where the runner reports its offset and errors (`/status`).
    pub status: SinkHandle,
}

impl SinkOptions {
    pub fn group(&self) -> String {
        format!("sink-{}", self.name)
    }
}

/// Run `sink` over `log` until `shutdown` turns true or a fatal error.
pub async fn run<S: Sink>(
    options: SinkOptions,
    log: Arc<dyn Destination>,
    mut sink: S,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SinkError> {
    let group = options.group();
    let source = log.name().to_string();
    let fatal = |e: DestinationError| SinkError::Fatal(format!("sink {}: {e}", options.name));
    // A sink's group is protected: retention waits for it (up to its cap).
    // Records deleted before it read them are a hole in the target that
    // carrying on would hide.
    let mut offset = log.resume(&group, options.start, true).map_err(fatal)?;
    if let Some(g) = log.group(&group).map_err(fatal)? {
        if g.offset < log.start_offset() {
            return Err(lost(&*log, &options.name, &group, g.offset));
        }
    }
    options.status.running(offset);
    let mut committed = offset;
    let mut last_commit = Instant::now();
    let mut end = log.watch_end();
    let mut batch: Vec<LogRecord> = Vec::new();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    let delivered = metrics::counter!("sluice_sink_messages_total", "sink" => options.name.clone());
    let errors = metrics::counter!("sluice_sink_errors_total", "sink" => options.name.clone());
    let lag = metrics::gauge!("sluice_sink_lag_records", "sink" => options.name.clone());
    loop {
        if *shutdown.borrow() {
            break;
        }
        if offset >= log.end_offset() {
            if committed < offset {
                commit(&*log, &options.name, &group, offset)?;
                committed = offset;
                last_commit = Instant::now();
            }
            tokio::select! {
                _ = end.changed() => {}
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        batch.clear();
        if offset < log.start_offset() {
            // Deleted while we ran (the retention cap); the group is marked.
            return Err(lost(&*log, &options.name, &group, offset));
        }
        log.read(offset, 1000, 8 << 20, &mut batch).map_err(fatal)?;
        let Some(last) = batch.last().map(|r| r.offset) else {
            continue;
        };
        let mut out = Vec::new();
        let mut records = Vec::new();
        let whole = sink.wants_records();
        for record in &batch {
            let mut rec = Record::decode(record.payload.as_ref()).map_err(|e| {
                SinkError::Fatal(format!(
                    "sink {}: log record {} is not a change event: {e}",
                    options.name, record.offset
                ))
            })?;
            if whole {
                rec.changes
                    .retain(|c| options.filter.matches(&c.schema, &c.table));
                records.push((record.offset, rec));
            } else {
                out.extend(messages(
                    &source,
                    &rec,
                    record.offset,
                    options.format,
                    &options.filter,
                    &options.keys,
                ));
            }
        }
        let count = if whole { records.len() } else { out.len() } as u64;
        loop {
            let attempt = if whole {
                sink.deliver_records(&records).await
            } else {
                sink.deliver(out_clone(&out)).await
            };
            match attempt {
                Ok(()) => {
                    backoff.reset();
                    break;
                }
                Err(SinkError::Transient(e)) => {
                    errors.increment(1);
                    options.status.retrying(&e);
                    let delay = backoff.next_delay().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(sink = %options.name, error = %e, retry_in = ?delay, "delivery failed");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                }
                Err(e) => {
                    errors.increment(1);
                    return Err(e);
                }
            }
        }
        delivered.increment(count);
        offset = last + 1;
        options.status.running(offset);
        lag.set(log.end_offset().saturating_sub(offset) as f64);
        if last_commit.elapsed() >= options.commit_every {
            commit(&*log, &options.name, &group, offset)?;
            committed = offset;
            last_commit = Instant::now();
        }
    }
    if committed < offset {
        commit(&*log, &options.name, &group, offset)?;
    }
    Ok(())
}

/// Commits `offset` for the sink's group. Below the log start (deleted
/// while the sink delivered what it had read): the records lost error.
fn commit(log: &dyn Destination, sink: &str, group: &str, offset: u64) -> Result<(), SinkError> {
    log.commit(group, offset).map_err(|e| {
        if offset < log.start_offset() {
            lost(log, sink, group, offset)
        } else if e.is_disk_full() {
            // Restarted from the offset committed before: redelivery is
            // idempotent.
            SinkError::Transient(format!("sink {sink}: {e}"))
        } else {
            SinkError::Fatal(format!("sink {sink}: {e}"))
        }
    })
}

/// The error of a sink whose group lost records to retention: it stops
/// rather than leave a hole in its target.
fn lost(log: &dyn Destination, sink: &str, group: &str, from: u64) -> SinkError {
    let start = log.start_offset();
    SinkError::Fatal(format!(
        "sink {sink}: retention deleted records {from}..{start} before this sink delivered them \
         (raise retention_max_bytes, or bring the target back sooner); the target misses them: \
         re-seed it, then move the group on with `sluice groups seek --name SOURCE {group} \
         earliest` and restart the sink"
    ))
}

fn out_clone(messages: &[Message]) -> Vec<Message> {
    messages
        .iter()
        .map(|m| Message {
            schema: m.schema.clone(),
            table: m.table.clone(),
            id: m.id.clone(),
            payload: m.payload.clone(),
            key: m.key.clone(),
        })
        .collect()
}
