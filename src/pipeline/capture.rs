//! One source's capture loop: dump the binlog, decode transactions, keep
//! the schema history, filter, and append whole transactions to the log.
//!
//! Exactly once: the log is the only record of progress. Every (re)connect
//! resumes from the log's last durable record ([`super::resume`]); records
//! are appended in binlog order and a transaction's parts go in one batch
//! when they fit, so a crash leaves either all of a transaction or a prefix
//! of its parts that the next run completes.
//!
//! Reading and decoding run in their own task (`super::reader`) feeding
//! a bounded channel, so the socket and the decoder overlap with naming,
//! encoding and the log's writes, and everything the channel holds when
//! this loop looks is appended as one batch.

mod append;
mod start;

use super::appender::{self, InFlight, BATCH_BYTES};
use super::reader::{Decoding, End, Events, Item};
use super::resume::{at_or_after, resume_point, Resume};
use super::schema_log::SchemaLog;
use super::spill::{Chunk, Spill};
use super::staging::{stage, Staged};
use super::status::{ConnectionState, StatusHandle};
use crate::decode::{ChecksumAlg, Decoder};
use crate::filter::TableFilter;
use crate::proto::{self, Record};
use crate::schema::{catalog, Catalog, Dialect, SchemaError, SchemaHistory};
use crate::source::{
    failover, Backoff, Connection, DumpFrom, DumpOptions, Flavour, SourceConfig, SourceError,
    StartPoint,
};
use sluice_storage::Log;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Retries of the very first connection before `sluice run` gives up.
const FIRST_CONNECT_ATTEMPTS: u32 = 5;

/// How one source is captured.
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    pub name: String,
    pub source: SourceConfig,
    /// Where a new log starts; ignored when the log has records.
    pub start: StartPoint,
    pub filter: TableFilter,
    /// Stop once the server's binlog end at start-up is captured.
    pub until_current: bool,
    /// Resume by GTID set instead of file and position.
    pub resume_by_gtid: bool,
    /// On a server that lacks transactions the log holds, resume from what
    /// it has instead of waiting for one that has them.
    pub accept_errant: bool,
    /// `DATA/NAME`: holds the log (`log/`) and the schema record list.
    pub dir: PathBuf,
    /// Whether and how a new log snapshots the tables' rows.
    pub snapshot: crate::snapshot::SnapshotOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("source {name}: {source}")]
    Source {
        name: String,
        source: Box<SourceError>,
    },
    #[error("source {name}: decoding the binlog failed (capture stopped so nothing is skipped): {source}")]
    Decode {
        name: String,
        source: Box<crate::decode::DecodeError>,
    },
    #[error("source {name}: writing the log: {source}")]
    Storage {
        name: String,
        source: sluice_storage::StorageError,
    },
    /// The server reached lacks transactions the log holds; another
    /// server (or this one, caught up) may have them: retried.
    #[error("source {name}: {message}")]
    Errant { name: String, message: String },
    #[error("source {name}: the schema history could not follow a DDL (capture stopped before it): {source}")]
    Schema { name: String, source: SchemaError },
    /// A side file of the log (the schema record list) found the disk full.
    #[error("source {name}: {message}: the disk is full; capture waits for space")]
    DiskFull { name: String, message: String },
    #[error("source {name}: {message}")]
    Other { name: String, message: String },
}

impl CaptureError {
    fn retryable(&self) -> bool {
        match self {
            CaptureError::Source { source, .. } => source.is_retryable(),
            CaptureError::Errant { .. } => true,
            // A catalog query that failed for a transient reason (the
            // history is unchanged): the statement is read again after the
            // reconnect. A definite refusal (a missing privilege) would
            // fail the same way after every reconnect: capture stops.
            CaptureError::Schema { source, .. } => source.is_retryable(),
            CaptureError::DiskFull { .. } => true,
            CaptureError::Storage { source, .. } => source.is_disk_full(),
            _ => false,
        }
    }

    fn disk_full(&self) -> bool {
        match self {
            CaptureError::DiskFull { .. } => true,
            CaptureError::Storage { source, .. } => source.is_disk_full(),
            _ => false,
        }
    }
}

/// What ended one streaming session.
enum Ended {
    Shutdown,
    Finished,
}

struct Capture {
    opts: CaptureOptions,
    log: Log,
    history: SchemaHistory,
    schema_log: SchemaLog,
    status: StatusHandle,
    /// A connection for catalog queries (DDL fallback), opened on demand.
    query: Option<Connection>,
    /// `--until current`: the server's binlog end at start-up.
    until: Option<(String, u64)>,
    skip_parts: Option<(u64, u32)>,
    progress: Progress,
    /// The server's GTID position at a `current` start, for the snapshot.
    start_gtid: Option<String>,
    /// Snapshot hook: the table snapshot in progress (src/snapshot/).
    snapshot: Option<crate::snapshot::Driver>,
    /// Row records being appended behind the streaming loop.
    in_flight: Option<InFlight>,
}

/// Run one source's capture until `shutdown` turns true, a fatal error, or
/// (with `until_current`) the start-up binlog end is captured.
pub async fn run(
    opts: CaptureOptions,
    log: Log,
    status: StatusHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), CaptureError> {
    let name = opts.name.clone();
    let other = |message: String| CaptureError::Other {
        name: name.clone(),
        message,
    };
    let source_err = |source: SourceError| CaptureError::Source {
        name: name.clone(),
        source: Box::new(source),
    };

    // Before waiting for the server: retention (by age, on an idle log)
    // must not delete the newest schema snapshot meanwhile.
    let mut schema_log = SchemaLog::new(&opts.dir);
    schema_log
        .hold_newest(&log)
        .map_err(|e| other(e.to_string()))?;
    let resuming = log.last_record().last.is_some();
    let mut conn = connect_with_retry(&opts, &status, &mut shutdown, resuming)
        .await
        .map_err(source_err)?;
    let Some(conn_ready) = conn.take() else {
        return Ok(());
    };
    let mut conn = conn_ready;
    let dialect = dialect_of(&mut conn).await.map_err(source_err)?;
    let history = schema_log
        .load(&log, dialect.clone())
        .map_err(|e| other(e.to_string()))?;
    let resume = resume_point(&log, opts.resume_by_gtid).map_err(|e| other(e.to_string()))?;
    let until = if opts.until_current {
        let end = conn.master_status().await.map_err(source_err)?;
        status.server_end(&end.file, end.pos);
        Some((end.file, end.pos))
    } else {
        None
    };
    let mut capture = Capture {
        history: history.with_filter(filter_fn(&opts.filter)),
        opts,
        log,
        schema_log,
        status: status.clone(),
        query: None,
        until,
        skip_parts: None,
        progress: Progress::new(),
        start_gtid: None,
        snapshot: None,
        in_flight: None,
    };
    let new_log = resume.is_none();
    let mut from = match resume {
        Some(Resume {
            from,
            skip_parts,
            last,
        }) => {
            capture.skip_parts = skip_parts;
            status.resumed_after(&last);
            tracing::info!(source = %name, from = %describe(&from), "resuming from the log's last record");
            from
        }
        None => capture.initialize(&mut conn, &dialect).await?,
    };
    // Snapshot hook: open the log's snapshots; a new log records the
    // initial snapshot's plan.
    let mut driver =
        crate::snapshot::Driver::open(&capture.opts, &capture.log, new_log, &mut conn, &status)
            .await
            .map_err(|e| capture.snapshot_err(e))?;
    let plan = match new_log {
        true => driver.plan_record(&capture.history, &from, &mut conn).await,
        false => Ok(None),
    };
    if !new_log && capture.opts.snapshot.new_tables {
        capture
            .add_new_tables(&mut conn, &dialect, &mut driver)
            .await?;
    }
    capture.snapshot = Some(driver);
    if let Some(plan) = plan.map_err(|e| capture.snapshot_err(e))? {
        capture.append_records(vec![plan])?;
    }
    capture.query = Some(conn);
    let _server_end = AbortOnDrop(tokio::spawn(super::server_end::poll(
        capture.opts.source.clone(),
        status.clone(),
        super::server_end::POLL_EVERY,
    )));

    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    // An error met while getting ready to resume (a full disk still full).
    let mut retry: Option<CaptureError> = None;
    loop {
        let session = match retry.take() {
            Some(e) => Err(e),
            None => capture.stream(&from, &mut shutdown).await,
        };
        match session {
            Ok(Ended::Shutdown) => {
                status.set_state(ConnectionState::Stopped);
                break;
            }
            Ok(Ended::Finished) => {
                status.set_state(ConnectionState::Finished);
                break;
            }
            Err(e) if e.retryable() => {
                status.error(e.to_string(), false);
                let delay = backoff.next_delay().unwrap_or(Duration::from_secs(30));
                if e.disk_full() {
                    // Nothing partial stays: the log's tail is its last
                    // durable batch (what a failed fsync covered was
                    // dropped), and capture resumes from there.
                    status.set_state(ConnectionState::DiskFull);
                    metrics::counter!("sluice_disk_full_total", "source" => name.clone())
                        .increment(1);
                    tracing::error!(source = %name, error = %e, retry_in = ?delay, "the log's disk is full: capture paused; free space and it resumes where it stopped");
                } else {
                    tracing::warn!(source = %name, error = %e, retry_in = ?delay, "capture interrupted; will resume from the log");
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => { status.set_state(ConnectionState::Stopped); break; }
                }
                capture.query = None;
                match capture.resume_from_log(e.disk_full()) {
                    Ok(Some(r)) => {
                        from = r.from;
                        capture.skip_parts = r.skip_parts;
                        status.resumed_after(&r.last);
                    }
                    Ok(None) => {}
                    Err(e) if e.retryable() => {
                        // Paused again, without resetting the backoff.
                        retry = Some(e);
                        continue;
                    }
                    Err(e) => {
                        status.error(e.to_string(), true);
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                status.error(e.to_string(), true);
                let _ = capture.log.flush();
                return Err(e);
            }
        }
        backoff.reset();
    }
    capture
        .log
        .flush()
        .map_err(|source| CaptureError::Storage {
            name: name.clone(),
            source,
        })?;
    Ok(())
}

/// Connect, retrying retryable failures with backoff. `Ok(None)`: shut
/// down while waiting. `resuming`: the log holds records already.
async fn connect_with_retry(
    opts: &CaptureOptions,
    status: &StatusHandle,
    shutdown: &mut watch::Receiver<bool>,
    resuming: bool,
) -> Result<Option<Connection>, SourceError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        status.set_state(ConnectionState::Connecting);
        match failover::connect_first(&opts.source).await {
            Ok(conn) => return Ok(Some(conn)),
            // A first connection that fails for a reason a retry cannot fix
            // (bad password, refused TLS) is reported at once; so is an
            // unreachable server when bounded by `--until`. Otherwise a few
            // retries (about 6 s) ride out a server that is starting, then
            // a new log's run fails with the cause rather than waiting
            // silently. A log that holds records has reached this source
            // before: like a reconnect once capture has started, it waits
            // out an outage (a restart, a failover) without end.
            Err(e)
                if e.is_retryable()
                    && !opts.until_current
                    && (resuming || backoff.attempts() < FIRST_CONNECT_ATTEMPTS) =>
            {
                status.error(e.to_string(), false);
                let delay = backoff.next_delay().unwrap_or(Duration::from_secs(30));
                tracing::warn!(source = %opts.name, error = %e, retry_in = ?delay, "cannot connect");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn dialect_of(conn: &mut Connection) -> Result<Dialect, SourceError> {
    let info = conn.server_info().clone();
    let server_charset = conn
        .query_value("SELECT @@character_set_server")
        .await?
        .unwrap_or_else(|| "utf8mb4".into());
    let (a, b, c) = info.version;
    Ok(Dialect {
        mariadb: info.flavour == Flavour::MariaDb,
        version: (u32::from(a), u32::from(b), u32::from(c)),
        server_charset,
    })
}

fn filter_fn(filter: &TableFilter) -> crate::schema::Filter {
    let filter = filter.clone();
    std::sync::Arc::new(move |schema: &str, table: &str| filter.matches(schema, table))
}

fn describe(from: &DumpFrom) -> String {
    match &from.gtid_set {
        Some(set) => format!("gtid:{set}"),
        None => format!("{}:{}", from.file, from.pos),
    }
}

impl Capture {
    fn storage_err(&self, source: sluice_storage::StorageError) -> CaptureError {
        CaptureError::Storage {
            name: self.opts.name.clone(),
            source,
        }
    }

    fn source_err(&self, source: SourceError) -> CaptureError {
        CaptureError::Source {
            name: self.opts.name.clone(),
            source: Box::new(source),
        }
    }

    /// Where to resume after an interrupted session: the log's last
    /// durable record. `reload`: after a full disk, whose failed append or
    /// fsync may have left the schema history ahead of the log (DDL it
    /// followed that the log lost) and the checkpoint state wrong (a
    /// checkpoint record dropped): both are rebuilt from the log, as at
    /// start.
    fn resume_from_log(&mut self, reload: bool) -> Result<Option<Resume>, CaptureError> {
        let name = self.opts.name.clone();
        let storage = |source| CaptureError::Storage {
            name: name.clone(),
            source,
        };
        let other = |message: String| CaptureError::Other {
            name: name.clone(),
            message,
        };
        let resume = resume_point(&self.log, self.opts.resume_by_gtid).map_err(|e| match e {
            super::resume::ResumeError::Storage(s) => storage(s),
            e => other(e.to_string()),
        })?;
        if reload {
            let dialect = self.history.dialect().clone();
            let history = self
                .schema_log
                .load(&self.log, dialect)
                .map_err(|e| match e {
                    super::schema_log::LoadError::Storage(s) => storage(s),
                    super::schema_log::LoadError::Io(io) if sluice_storage::is_disk_full(&io) => {
                        self.side_list_err("schema", io)
                    }
                    e => other(e.to_string()),
                })?;
            self.history = history.with_filter(filter_fn(&self.opts.filter));
        }
        Ok(resume)
    }

    /// One streaming session, from `from` until shutdown, `--until`, or an
    /// error; whichever way it ends, its appends are done when it returns
    /// (the log is then where the next session resumes).
    async fn stream(
        &mut self,
        from: &DumpFrom,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Ended, CaptureError> {
        let ended = self.session(from, shutdown).await;
        let settled = self.settle().await;
        match (ended, settled) {
            (Ok(ended), Ok(())) => Ok(ended),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(also)) => {
                // Both are reported: the session's error ends it, the
                // append's would otherwise go unseen.
                tracing::warn!(source = %self.opts.name, error = %also, "the append behind the session failed too");
                Err(e)
            }
        }
    }

    async fn session(
        &mut self,
        from: &DumpFrom,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Ended, CaptureError> {
        // Snapshot hook: chunks not in the log are read again (before the
        // `--until` check: a snapshot still to read keeps the run going).
        if let Some(driver) = self.snapshot.as_mut() {
            let started = driver.start_session(&self.log, &self.history);
            let only_done = driver.finished() && driver.only();
            started.map_err(|e| self.snapshot_err(e))?;
            if only_done {
                return Ok(Ended::Finished);
            }
        }
        if let Some((file, pos)) = &self.until {
            if from.gtid_set.is_none()
                && at_or_after((&from.file, from.pos), (file, *pos))
                && !self.snapshot_active()
            {
                return Ok(Ended::Finished);
            }
        }
        self.status.set_state(ConnectionState::Connecting);
        let (conn, from, moved) = super::failover::connect(
            &self.opts,
            &self.log,
            &self.status,
            from,
            self.skip_parts.is_some(),
        )
        .await?;
        let from = &from;
        let checksum = if conn.server_info().has_checksum() {
            ChecksumAlg::Crc32
        } else {
            ChecksumAlg::Off
        };
        let options = DumpOptions {
            // A snapshot needs the stream to pass its chunks' watermarks.
            non_blocking: self.until.is_some() && !self.snapshot_active(),
            annotate_rows: true,
        };
        let stream =
            conn.start_dump_with(from, options)
                .await
                .map_err(|e| match e.server_code() {
                    // Another server refusing the log's GTID state: it lacks
                    // transactions the log holds (`failover::missing` could
                    // not tell from its variables). Another host may have them.
                    Some(1236) if moved => CaptureError::Errant {
                        name: self.opts.name.clone(),
                        message: format!(
                        "{e}: the server lacks transactions the log holds; nothing is appended \
                         until a server has them (retrying), or restart with --accept-errant"
                    ),
                    },
                    _ => self.source_err(e),
                })?;
        self.status.set_state(ConnectionState::Streaming);
        tracing::info!(source = %self.opts.name, from = %describe(from), "streaming binlog");

        let (mut rx, reader) = super::reader::spawn(stream);
        let _abort = AbortOnDrop(reader);
        let mut decoding = Decoding::new(
            Decoder::live(from.file.clone(), from.pos, checksum),
            from.pos,
            // Snapshot hook: a snapshot still reading keeps the session
            // going past `--until` (it stops once the snapshot is done).
            if self.snapshot_active() {
                None
            } else {
                self.until.clone()
            },
            self.opts.name.clone(),
        );

        let mut pending: Vec<Staged> = Vec::new();
        let mut pending_bytes = 0usize;
        let mut spill = Spill::default();
        let mut items: Vec<Item> = Vec::new();
        loop {
            let first = tokio::select! {
                batch = rx.recv() => batch,
                _ = shutdown.changed() => {
                    self.flush(std::mem::take(&mut pending)).await?;
                    return Ok(Ended::Shutdown);
                }
                // Snapshot hook: a chunk read; appended if the stream
                // already passed it.
                got = crate::snapshot::Driver::recv(&mut self.snapshot) => {
                    if let Some(Err(e)) = got {
                        self.flush(std::mem::take(&mut pending)).await?;
                        return Err(self.snapshot_err(e));
                    }
                    if self.snapshot_boundary(&decoding, &mut pending) {
                        self.flush(std::mem::take(&mut pending)).await?;
                        return Ok(Ended::Finished);
                    }
                    self.append_behind(std::mem::take(&mut pending)).await?;
                    pending_bytes = 0;
                    continue;
                }
            };
            // The socket task ends only after sending its `end`: a closed
            // channel without one is the task's failure.
            let mut batch = first.unwrap_or(Events {
                events: Vec::new(),
                end: Some(Ok(())),
            });
            loop {
                decoding.push_all(batch, &mut items);
                for item in items.drain(..) {
                    let record = match item {
                        Item::Record(record) => record,
                        Item::Open { owner, changes } => {
                            let (file, start) = owner.clone();
                            let changes = spill.add(
                                &mut self.history,
                                &self.opts.filter,
                                &self.opts.name,
                                owner,
                                changes,
                            );
                            // Snapshot hook: these rows change keys of
                            // chunks being read.
                            if let Some(driver) = &self.snapshot {
                                driver.observe(&changes, &file, start);
                            }
                            continue;
                        }
                        Item::End(end) => {
                            self.flush(std::mem::take(&mut pending)).await?;
                            return match end {
                                End::Reached => Ok(Ended::Finished),
                                End::Closed => Err(self.source_err(SourceError::Closed {
                                    addr: self.opts.source.addr(),
                                    context: "streaming the binlog (the server ended the dump)",
                                })),
                                End::Source(e) => Err(self.source_err(e)),
                                End::Decode(source) => Err(CaptureError::Decode {
                                    name: self.opts.name.clone(),
                                    source: Box::new(source),
                                }),
                            };
                        }
                    };
                    let chunks = spill.take_for(&record, &self.opts.name);
                    match self.prepare(record, !chunks.is_empty()).await {
                        Ok(Some(r)) => {
                            // Snapshot hook: chunks the stream passed go
                            // before it; its keys are noted for the others.
                            if let Some(driver) = self.snapshot.as_mut() {
                                let reads = match driver.before_record(&r).await {
                                    Ok(reads) => reads,
                                    Err(e) => {
                                        self.flush(std::mem::take(&mut pending)).await?;
                                        return Err(self.snapshot_err(e));
                                    }
                                };
                                for read in reads {
                                    pending_bytes += self.stage(read, Vec::new(), &mut pending);
                                }
                            }
                            pending_bytes += self.stage(r, chunks, &mut pending)
                        }
                        Ok(None) => {}
                        Err(e) => {
                            // What the history already followed goes into
                            // the log, so the history and the log's end
                            // agree when capture resumes.
                            self.flush(std::mem::take(&mut pending)).await?;
                            return Err(e);
                        }
                    }
                    // Kept as a running sum: recomputing it over every
                    // pending record after each one made catching up
                    // quadratic.
                    if pending_bytes >= BATCH_BYTES {
                        self.append_behind(std::mem::take(&mut pending)).await?;
                        pending_bytes = 0;
                    }
                }
                batch = match rx.try_recv() {
                    Ok(next) => next,
                    Err(_) => break,
                };
            }
            // Snapshot hook: between transactions, the chunks passed.
            if self.snapshot_boundary(&decoding, &mut pending) {
                self.flush(std::mem::take(&mut pending)).await?;
                return Ok(Ended::Finished);
            }
            self.append_behind(std::mem::take(&mut pending)).await?;
            pending_bytes = 0;
            self.progress.maybe_report(&self.opts.name, &self.status);
        }
    }

    /// Schema bookkeeping, filtering and naming for one decoded record.
    /// `None`: nothing of it is captured.
    /// `keep`: the record has chunks encoded ahead (see [`Spill`]) and is
    /// kept even when nothing else of it is captured.
    async fn prepare(
        &mut self,
        mut record: Record,
        keep: bool,
    ) -> Result<Option<Record>, CaptureError> {
        // The append in flight gets its schema checkpoint from the history
        // as of its last record: let it finish before a DDL changes that.
        if record.ddl.is_some() {
            self.settle().await?;
        }
        // DDL first, then the row events (a `CREATE TABLE … SELECT`
        // transaction carries both).
        let mut catalog = ServerCatalog {
            conn: &mut self.query,
            config: &self.opts.source,
            dialect: self.history.dialect().clone(),
        };
        // On a failed catalog query the history stays as it was and the
        // record is not captured: every later row event would otherwise
        // be read with a definition the server no longer has.
        let warnings = self
            .history
            .process_record(&mut record, Some(&mut catalog))
            .map_err(|source| CaptureError::Schema {
                name: self.opts.name.clone(),
                source,
            })?;
        for w in warnings {
            tracing::warn!(source = %self.opts.name, "{w}");
        }
        let filter = &self.opts.filter;
        record
            .changes
            .retain(|c| filter.matches(&c.schema, &c.table));
        if !keep
            && record.ddl.is_none()
            && record.changes.is_empty()
            && record.statements.is_empty()
        {
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Snapshot hook: is a snapshot still reading or holding chunks?
    fn snapshot_active(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|d| d.active())
    }

    /// Snapshot hook, where the stream stands between transactions: stage
    /// the chunk records it has passed; true when the snapshot is complete
    /// and the run stops after it (`initial_only`, or `--until current`
    /// with its position reached).
    fn snapshot_boundary(&mut self, decoding: &Decoding, pending: &mut Vec<Staged>) -> bool {
        // No snapshot: nothing to look up (this runs once per batch).
        let Some(driver) = self.snapshot.as_mut() else {
            return false;
        };
        let Some((file, pos)) = decoding.boundary() else {
            return false;
        };
        for read in driver.at_position(&file, pos, &self.history) {
            self.stage(read, Vec::new(), pending);
        }
        let Some(driver) = &self.snapshot else {
            return false;
        };
        driver.finished()
            && (driver.only()
                || self
                    .until
                    .as_ref()
                    .is_some_and(|(f, p)| at_or_after((&file, pos), (f, *p))))
    }

    fn snapshot_err(&self, e: crate::snapshot::SnapshotError) -> CaptureError {
        match e {
            crate::snapshot::SnapshotError::Source(source) => self.source_err(source),
            crate::snapshot::SnapshotError::Fatal(message) => CaptureError::Other {
                name: self.opts.name.clone(),
                message: format!("snapshot: {message}"),
            },
        }
    }
}

/// Aborts the socket task when the session ends, whichever way.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The server as a [`Catalog`] for DDL the history cannot read alone.
/// Runs on the capture's task: blocks it (as the DDL must be applied before
/// the next row event anyway) without blocking the runtime's other tasks.
struct ServerCatalog<'a> {
    conn: &'a mut Option<Connection>,
    config: &'a SourceConfig,
    dialect: Dialect,
}

impl Catalog for ServerCatalog<'_> {
    fn table(
        &mut self,
        schema: &str,
        table: &str,
    ) -> Result<Option<proto::TableSchema>, SchemaError> {
        let sql = catalog::table_sql(schema, table);
        let handle = tokio::runtime::Handle::current();
        let rows = tokio::task::block_in_place(|| {
            handle.block_on(async {
                if self.conn.is_none() {
                    *self.conn = Some(failover::connect_first(self.config).await?);
                }
                match self.conn.as_mut() {
                    Some(conn) => conn.query(&sql).await,
                    None => Err(SourceError::Config("no catalog connection".into())),
                }
            })
        })
        .map_err(|e| {
            *self.conn = None;
            catalog_error(schema, table, &e)
        })?;
        catalog::parse_table(&rows, &self.dialect)
    }
}

/// A failed catalog query of `schema.table` as the history's error:
/// retryable as the source error is, and with its hint (a refused query
/// names the GRANT it lacks).
fn catalog_error(schema: &str, table: &str, e: &SourceError) -> SchemaError {
    let reason = match e.hint() {
        Some(hint) => format!("{e}; {hint}"),
        None => e.to_string(),
    };
    SchemaError::Catalog {
        table: format!("{schema}.{table}"),
        reason,
        retryable: e.is_retryable(),
    }
}

/// The progress line while catching up: position, lag, rows/s.
struct Progress {
    since: Instant,
    rows: u64,
    bytes: u64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            since: Instant::now(),
            rows: 0,
            bytes: 0,
        }
    }

    fn add(&mut self, rows: u64, bytes: u64) {
        self.rows += rows;
        self.bytes += bytes;
    }

    fn maybe_report(&mut self, name: &str, status: &StatusHandle) {
        let elapsed = self.since.elapsed();
        if elapsed < Duration::from_secs(5) {
            return;
        }
        let s = status.get();
        let secs = elapsed.as_secs_f64();
        tracing::info!(
            source = %name,
            position = %format!("{}:{}", s.file, s.position),
            lag_s = format!("{:.1}", status.lag_seconds()),
            rows_per_s = (self.rows as f64 / secs) as u64,
            mb_per_s = format!("{:.1}", self.bytes as f64 / secs / 1e6),
            "capturing"
        );
        *self = Progress::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16) -> SourceError {
        SourceError::Server {
            addr: "db:3306".into(),
            context: "query `SELECT c.TABLE_SCHEMA …`".into(),
            code,
            state: "42000".into(),
            message: "denied".into(),
        }
    }

    fn schema_err(e: &SourceError) -> CaptureError {
        CaptureError::Schema {
            name: "main".into(),
            source: catalog_error("shop", "orders", e),
        }
    }

    #[test]
    fn a_catalog_query_refused_for_a_privilege_stops_capture_naming_the_grant() {
        for code in [1142, 1143, 1227] {
            let e = schema_err(&refused(code));
            assert!(!e.retryable(), "error {code} is retried");
            let text = e.to_string();
            assert!(text.contains("shop.orders"), "{text}");
            assert!(text.contains(&format!("error {code}")), "{text}");
            assert!(
                text.contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.*"),
                "{text}"
            );
        }
        // A query the server refuses otherwise is as definite.
        assert!(!schema_err(&refused(1054)).retryable());
    }

    #[test]
    fn a_transient_catalog_failure_is_retried() {
        for code in [1205, 1213, 1040, 1053, 2013] {
            assert!(schema_err(&refused(code)).retryable(), "error {code}");
        }
        let lost = SourceError::Closed {
            addr: "db:3306".into(),
            context: "reading a query result",
        };
        assert!(schema_err(&lost).retryable());
    }
}
