//! Snapshots: the rows a table already holds, into the log, while the
//! binlog keeps streaming (`snapshot = "initial"` / `"initial_only"`).
//!
//! Lock-free and read-only on the source, watermark-based (DBLog, Flink
//! CDC): `reader`s split each table into key ranges of `chunk_rows`
//! (`table`), and read each between a low and a high watermark, the
//! server's binlog position before and after the SELECT. The capture
//! loop keeps streaming; when it has passed a chunk's high watermark it
//! drops from the chunk every key the stream changed since the window
//! opened (`watch`) — those rows are in the log already, newer — and
//! appends the rest as one record of `READ` changes at the stream's
//! position. A consumer applying the log in order — reads and inserts as
//! upserts, an update of a row it lacks as an upsert of its after image,
//! a keyless table's whole read as the table's contents — ends with
//! exactly the source's rows.
//!
//! Several snapshots can share a log: the initial one (id 0) and
//! on-demand ones (`Request`, from `POST /v1/sources/{name}/snapshots`),
//! each with its plan record, chunk records and possibly a cancel record
//! (which carries the error when the snapshot failed).
//!
//! Resumable: every chunk record carries the table's last key
//! (`SnapshotChunk`); after a crash the [`Driver`] reloads that from the
//! log ([`progress`]) and reads on after the last durable chunk. A table
//! whose last record says done is never read again.
//!
//! The plan record that starts a snapshot (initial, on-demand or of new
//! tables) lists its tables with their `SHOW CREATE TABLE` text, so a mirror can create them on an empty
//! server before any of their changes.

pub mod id;
pub mod progress;
mod reader;
mod table;
mod text;
mod watch;

use crate::proto::{self, ChangeKind, Image, Record, Row, SnapshotChunk, TableChange};
use crate::schema::SchemaHistory;
use crate::source::{Connection, DumpFrom, SourceConfig, SourceError};
use progress::RecordList;
use reader::{Chunk, Job, ReadError, Shared};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use watch::{key_bytes, Pos, Watch};

/// When a source takes a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Only changes from the start position on (the default).
    #[default]
    Never,
    /// A new log first snapshots every captured table, then streams.
    Initial,
    /// Snapshot, then stop.
    InitialOnly,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode, String> {
        match text {
            "never" => Ok(Mode::Never),
            "initial" => Ok(Mode::Initial),
            "initial_only" => Ok(Mode::InitialOnly),
            other => Err(format!(
                "snapshot {other:?}: expected never, initial or initial_only"
            )),
        }
    }
}

/// How a source snapshots (the `snapshot*` keys of `[[source]]`).
#[derive(Clone, Debug)]
pub struct SnapshotOptions {
    pub mode: Mode,
    /// Rows per chunk (`snapshot_chunk_rows`, default 8192).
    pub chunk_rows: u64,
    /// Chunk readers, each on its own connection (`snapshot_parallel`,
    /// default 2).
    pub parallel: usize,
    /// `snapshot_keyless = "at_least_once"`: read tables without a usable
    /// key on servers that cannot say where a consistent read stands.
    pub keyless_at_least_once: bool,
    /// `snapshot_new_tables = true`: a restarted source snapshots the
    /// tables its filter now takes in that the log never had.
    pub new_tables: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            mode: Mode::Never,
            chunk_rows: 8192,
            parallel: 2,
            keyless_at_least_once: false,
            new_tables: false,
        }
    }
}

/// Why a snapshot stopped capture.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The server failed: capture retries from the log.
    #[error("snapshot: {0}")]
    Source(SourceError),
    #[error("snapshot: {0}")]
    Fatal(String),
}

impl From<ReadError> for SnapshotError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Source(s) => SnapshotError::Source(s),
            ReadError::Fatal(m) => SnapshotError::Fatal(m),
        }
    }
}

/// One table's snapshot progress, as `/status` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TableProgress {
    /// 0: the initial snapshot; else the on-demand one's id.
    pub snapshot_id: u64,
    pub table: String,
    /// `waiting`, `reading`, `done`, `cancelled`, `failed` (see `error`)
    /// or `missing` (no such captured table).
    pub state: &'static str,
    /// Why the snapshot failed (kept in the log's cancelling record, so
    /// also after a restart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rows: u64,
    pub estimated_rows: u64,
    /// Chunks appended by this run.
    pub chunks: u64,
    pub rows_per_s: Option<u64>,
    pub eta_s: Option<u64>,
    #[serde(skip)]
    since: Option<(Instant, u64)>,
}

/// A request from the HTTP API to the capture (`POST` / `DELETE
/// /v1/sources/{name}/snapshots`), taken at the stream's next idle point.
#[derive(Clone, Debug)]
pub enum Request {
    Start {
        id: u64,
        tables: Vec<String>,
        condition: String,
    },
    Cancel {
        id: u64,
    },
}

/// One table of one snapshot.
#[derive(Clone, Debug)]
struct Entry {
    id: u64,
    /// `schema.table`.
    table: String,
    condition: String,
}

impl Entry {
    fn label(&self) -> String {
        progress::table_label(self.id, &self.table)
    }
}

/// The capture's side of snapshots: runs the readers, holds their chunks
/// until the stream passes them, and hands back the records to append.
pub struct Driver {
    name: String,
    opts: SnapshotOptions,
    config: SourceConfig,
    list: RecordList,
    watch: Arc<Watch>,
    /// Every table of every snapshot not cancelled.
    plan: Vec<Entry>,
    /// Labels of the tables read completely.
    done: HashSet<String>,
    /// `schema.table` of the tables planned and not read completely:
    /// their changes in the stream must carry whole row images.
    reading: HashSet<String>,
    /// Tables being read whose changes came without whole row images,
    /// and why: their snapshots fail at the next transaction boundary.
    tainted: Mutex<Vec<(String, String)>>,
    cancelled: Arc<Mutex<HashSet<u64>>>,
    ids: Arc<AtomicU64>,
    tx: Option<mpsc::Sender<Result<Chunk, ReadError>>>,
    rx: Option<mpsc::Receiver<Result<Chunk, ReadError>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    pending: Vec<Chunk>,
    /// Requests taken from the status, handled at the next idle point.
    queued: Vec<Request>,
    /// Tables new to the filter (`snapshot_new_tables`): a schema
    /// checkpoint and a snapshot of them at the next idle point.
    new_tables: Vec<String>,
    /// `recv` returned once for `new_tables`: the capture takes them at
    /// its next idle point (returning again would spin while the stream
    /// is inside a transaction).
    new_tables_told: bool,
    /// `SHOW CREATE TABLE` text of tables about to be planned.
    creates: std::collections::HashMap<String, String>,
    /// `binlog_row_image=FULL` on the server (else no snapshot runs).
    image_full: bool,
    started: Instant,
    rows: u64,
    status: crate::pipeline::StatusHandle,
    progress: std::collections::BTreeMap<String, TableProgress>,
    reported: Instant,
}

impl Drop for Driver {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

impl Driver {
    /// The snapshots of this source's log: a new log starts the initial
    /// one (`snapshot = "initial"`); an existing log continues the ones it
    /// holds; on-demand ones arrive through the status's requests.
    pub async fn open(
        capture: &crate::pipeline::CaptureOptions,
        log: &sluice_storage::Log,
        new_log: bool,
        conn: &mut Connection,
        status: &crate::pipeline::StatusHandle,
    ) -> Result<Driver, SnapshotError> {
        let (name, opts) = (capture.name.as_str(), &capture.snapshot);
        let list = RecordList::new(&capture.dir);
        if opts.mode != Mode::Never && !new_log {
            match list.load(log).map_err(SnapshotError::Fatal)? {
                Some(s) if s.plan_lost => tracing::warn!(
                    source = name,
                    "the snapshot's plan record is gone (retention): not resuming it"
                ),
                Some(s) if s.plans.contains_key(&0) => {}
                _ => tracing::info!(
                    source = name,
                    "the log was started without a snapshot; none is taken now"
                ),
            }
        }
        let image = conn
            .query_value("SELECT @@binlog_row_image")
            .await
            .map_err(SnapshotError::Source)?
            .unwrap_or_default();
        let image_full = image.eq_ignore_ascii_case("FULL");
        if !image_full && opts.mode != Mode::Never && new_log {
            return Err(SnapshotError::Fatal(image_error(&image)));
        }
        Ok(Driver {
            name: name.to_string(),
            opts: opts.clone(),
            config: capture.source.clone(),
            list,
            watch: Arc::new(Watch::default()),
            plan: Vec::new(),
            done: HashSet::new(),
            reading: HashSet::new(),
            tainted: Default::default(),
            cancelled: Default::default(),
            ids: Default::default(),
            tx: None,
            rx: None,
            readers: Vec::new(),
            pending: Vec::new(),
            queued: Vec::new(),
            new_tables: Vec::new(),
            new_tables_told: false,
            creates: Default::default(),
            image_full,
            started: Instant::now(),
            rows: 0,
            status: status.clone(),
            progress: Default::default(),
            reported: Instant::now(),
        })
    }

    /// A new log's plan record when it takes the initial snapshot: every
    /// captured table with its `SHOW CREATE TABLE`, at the position the
    /// stream starts from.
    pub async fn plan_record(
        &mut self,
        history: &SchemaHistory,
        from: &DumpFrom,
        conn: &mut Connection,
    ) -> Result<Option<Record>, SnapshotError> {
        if self.opts.mode == Mode::Never {
            return Ok(None);
        }
        let mut tables: Vec<(&str, &str)> = history
            .tables()
            .map(|t| (t.schema.as_str(), t.table.as_str()))
            .collect();
        tables.sort();
        let mut plan = Vec::new();
        let mut create_tables = Vec::new();
        for (schema, table) in tables {
            let create = create_table(conn, schema, table)
                .await
                .map_err(SnapshotError::Source)?;
            plan.push(format!("{schema}.{table}"));
            create_tables.push(create);
        }
        tracing::info!(source = %self.name, tables = plan.len(), "snapshot planned");
        let chunk = SnapshotChunk {
            plan,
            create_tables,
            ..Default::default()
        };
        Ok(Some(at(&from.file, from.pos, Vec::new(), chunk)))
    }

    /// Every planned table (of snapshots not cancelled) read and in the
    /// log (or staged to be).
    pub fn finished(&self) -> bool {
        self.plan.iter().all(|e| self.done.contains(&e.label()))
            && self.pending.is_empty()
            && self.new_tables.is_empty()
    }

    /// `snapshot_new_tables`: of `candidates` (`schema.table`, captured
    /// now but not in the schema history), the ones no snapshot of this
    /// log ever planned; they are snapshotted from the next idle point.
    pub fn add_new_tables(
        &mut self,
        log: &sluice_storage::Log,
        candidates: Vec<String>,
    ) -> Result<Vec<String>, SnapshotError> {
        let state = self.state(log)?;
        let fresh: Vec<String> = candidates
            .into_iter()
            .filter(|t| !state.plans.values().any(|p| p.plan.contains(t)))
            .collect();
        if !fresh.is_empty() {
            tracing::info!(source = %self.name, tables = ?fresh, "tables new to the filter: snapshotting them");
        }
        self.new_tables.extend(fresh.iter().cloned());
        Ok(fresh)
    }

    /// The snapshots the log holds; new ids come after theirs.
    fn state(&self, log: &sluice_storage::Log) -> Result<progress::State, SnapshotError> {
        let state = self
            .list
            .load(log)
            .map_err(SnapshotError::Fatal)?
            .unwrap_or_default();
        if let Some(last) = state.plans.keys().next_back() {
            id::seen(*last);
        }
        Ok(state)
    }

    /// The offset list's note for a record about to be appended.
    pub fn note(&self, offset: u64, record_label: &str) -> std::io::Result<()> {
        self.list.note(offset, record_label)
    }

    /// A capture session starts (the first, or after a reconnect):
    /// forget what was not appended, reload where each table stands from
    /// the log, and start readers for the tables not done.
    pub fn start_session(
        &mut self,
        log: &sluice_storage::Log,
        history: &SchemaHistory,
    ) -> Result<(), SnapshotError> {
        for r in self.readers.drain(..) {
            r.abort();
        }
        self.pending.clear();
        self.watch.clear();
        let (tx, rx) = mpsc::channel(self.opts.parallel.max(1));
        self.tx = Some(tx);
        self.rx = Some(rx);
        // Readers see only durable records: the ones appended count too.
        log.flush()
            .map_err(|e| SnapshotError::Fatal(format!("flushing the log: {e}")))?;
        let state = self.state(log)?;
        self.plan.clear();
        self.done.clear();
        self.progress.clear();
        let mut cancelled = self.cancelled.lock().unwrap_or_else(|e| e.into_inner());
        cancelled.clear();
        for (id, rec) in &state.plans {
            let entries = rec.plan.iter().map(|table| Entry {
                id: *id,
                table: table.clone(),
                condition: rec.condition.clone(),
            });
            if !rec.cancelled {
                self.plan.extend(entries);
                continue;
            }
            cancelled.insert(*id);
            // Not read again, but still listed: `/status` shows how it
            // ended (a failure's error too) across restarts.
            for entry in entries {
                let label = entry.label();
                let p = TableProgress::ended(&entry, state.tables.get(&label), rec);
                self.progress.insert(label, p);
            }
        }
        drop(cancelled);
        let entries = self.plan.clone();
        let jobs = self.jobs_for(&entries, &state.tables, history);
        self.note_reading();
        self.publish();
        self.spawn(jobs);
        Ok(())
    }

    /// Jobs for `entries` not done; notes their progress.
    fn jobs_for(
        &mut self,
        entries: &[Entry],
        chunks: &std::collections::HashMap<String, SnapshotChunk>,
        history: &SchemaHistory,
    ) -> std::collections::VecDeque<Job> {
        let mut jobs = std::collections::VecDeque::new();
        for entry in entries {
            let label = entry.label();
            let chunk = chunks.get(&label);
            let done = chunk.is_some_and(|c| c.table_done);
            self.progress.insert(
                label.clone(),
                TableProgress::new(entry, done, chunk.map(|c| c.rows_read).unwrap_or(0)),
            );
            if done {
                self.done.insert(label);
                continue;
            }
            let found = entry
                .table
                .split_once('.')
                .and_then(|(schema, table)| history.table(schema, table));
            let Some(t) = found else {
                tracing::warn!(source = %self.name, table = %entry.table, "a table to snapshot does not exist (or is not captured): not read");
                if let Some(p) = self.progress.get_mut(&label) {
                    p.state = "missing";
                }
                self.done.insert(label);
                continue;
            };
            jobs.push_back(Job {
                table: t.clone(),
                last_key: chunk.map(|c| c.last_key.clone()).filter(|k| !k.is_empty()),
                rows_read: chunk.map(|c| c.rows_read).unwrap_or(0),
                id: entry.id,
                condition: entry.condition.clone(),
            });
        }
        jobs
    }

    /// Readers for `jobs`, sending to this session's channel.
    fn spawn(&mut self, jobs: std::collections::VecDeque<Job>) {
        let Some(tx) = self.tx.clone().filter(|_| !jobs.is_empty()) else {
            return;
        };
        tracing::info!(source = %self.name, tables = jobs.len(), "snapshot reading");
        let parallel = self.opts.parallel.max(1).min(jobs.len());
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            jobs: Mutex::new(jobs),
            watch: self.watch.clone(),
            ids: self.ids.clone(),
            cancelled: self.cancelled.clone(),
            chunk_rows: self.opts.chunk_rows.max(1),
            keyless_at_least_once: self.opts.keyless_at_least_once,
        });
        self.readers.retain(|r| !r.is_finished());
        for _ in 0..parallel {
            self.readers
                .push(tokio::spawn(reader::run(shared.clone(), tx.clone())));
        }
    }

    /// The next chunk from a reader, or requests to handle; pending while
    /// the driver holds enough chunks (memory stays a few chunks).
    pub async fn recv(driver: &mut Option<Driver>) -> Option<Result<(), SnapshotError>> {
        let Some(d) = driver.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            let requests = d.status.take_snapshot_requests();
            let new_tables = !d.new_tables.is_empty() && !d.new_tables_told;
            if !requests.is_empty() || new_tables {
                d.new_tables_told |= new_tables;
                d.queued.extend(requests);
                d.fetch_creates().await;
                return Some(Ok(()));
            }
            let room = d.pending.len() < 2 * d.opts.parallel.max(1);
            let got = match d.rx.as_mut() {
                Some(rx) => tokio::select! {
                    got = rx.recv(), if room => Some(got),
                    _ = tokio::time::sleep(REQUEST_POLL) => None,
                },
                None => {
                    tokio::time::sleep(REQUEST_POLL).await;
                    None
                }
            };
            if let Some(got) = got {
                return Some(d.take(got));
            }
        }
    }

    /// The `SHOW CREATE TABLE` text of the tables that queued requests
    /// (and new tables) will plan, for their plan records. A table the
    /// server cannot show (gone, misspelt) gets none: the mirror then
    /// needs it to exist, as the snapshot itself needs it.
    async fn fetch_creates(&mut self) {
        let wanted: Vec<String> = self
            .queued
            .iter()
            .filter_map(|r| match r {
                Request::Start { tables, .. } => Some(tables.clone()),
                Request::Cancel { .. } => None,
            })
            .flatten()
            .chain(self.new_tables.iter().cloned())
            .filter(|t| !self.creates.contains_key(t))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut conn = match crate::source::failover::connect_first(&self.config).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(source = %self.name, error = %e, "snapshot: no connection for SHOW CREATE TABLE: the plan carries no table definitions");
                return;
            }
        };
        for name in wanted {
            let Some((schema, table)) = name.split_once('.') else {
                continue;
            };
            match create_table(&mut conn, schema, table).await {
                Ok(create) => {
                    self.creates.insert(name, create);
                }
                Err(e) => {
                    tracing::warn!(source = %self.name, table = %name, error = %e, "snapshot: SHOW CREATE TABLE failed: the plan carries no definition for it");
                }
            }
        }
    }

    fn take(&mut self, got: Option<Result<Chunk, ReadError>>) -> Result<(), SnapshotError> {
        match got {
            Some(Ok(chunk)) => {
                self.pending.push(chunk);
                Ok(())
            }
            Some(Err(e)) => Err(e.into()),
            // The driver holds a sender: never closed in a session.
            None => Ok(()),
        }
    }

    /// Before the stream's `record` is staged: the snapshot records that
    /// go before it, and its changes noted for the chunks being read.
    /// Waits for a table read whole that `record` changes, so that its
    /// rows land exactly at their position.
    pub async fn before_record(&mut self, record: &Record) -> Result<Vec<Record>, SnapshotError> {
        let Some(position) = record.position.as_ref() else {
            return Ok(Vec::new());
        };
        self.check_images(&record.changes, &position.file, position.start);
        let mut out = self.fail_tainted(&position.file, position.start);
        loop {
            let waiting = record.changes.iter().any(|c| {
                self.watch.whole_held(&c.schema, &c.table)
                    && !self
                        .pending
                        .iter()
                        .any(|p| p.plan.schema.schema == c.schema && p.plan.schema.table == c.table)
            });
            let Some(rx) = self.rx.as_mut().filter(|_| waiting) else {
                break;
            };
            let got = rx.recv().await;
            self.take(got)?;
        }
        let at = (
            crate::pipeline::resume::file_number(&position.file),
            position.start,
        );
        out.extend(self.ready(&position.file, position.start, at));
        self.watch.observe(&record.changes, at);
        Ok(out)
    }

    /// Changes of a large open transaction, taken out before its commit.
    pub fn observe(&self, changes: &[TableChange], file: &str, start: u64) {
        self.check_images(changes, file, start);
        self.watch
            .observe(changes, (crate::pipeline::resume::file_number(file), start));
    }

    /// The merge needs every changed row of a table being read whole: a
    /// key to drop from the chunks, and an image a consumer can upsert.
    /// `binlog_row_image` MINIMAL or NOBLOB (set on the server after the
    /// snapshot's start check, or in the writer's session) leaves columns
    /// out. Such a change taints the table: its snapshot fails at the next
    /// transaction boundary (before this change's record), rather than
    /// merge wrong. The change itself is a valid stream event and goes
    /// into the log as any other.
    fn check_images(&self, changes: &[TableChange], file: &str, start: u64) {
        if self.reading.is_empty() {
            return;
        }
        for change in changes {
            let table = format!("{}.{}", change.schema, change.table);
            if !self.reading.contains(&table) {
                continue;
            }
            let partial = change.rows.iter().any(|row| {
                [&row.before, &row.after]
                    .into_iter()
                    .flatten()
                    .any(lacks_a_column)
            });
            if partial {
                let why = format!(
                    "{table} was being snapshotted, but the row event at {file}:{start} does \
                     not carry every column of its rows: the server's (or the writing \
                     session's) binlog_row_image is no longer FULL, and the snapshot cannot \
                     merge such changes with its reads. The rows read so far are in the log; \
                     set binlog_row_image = 'FULL' (SET GLOBAL and the server's config) and \
                     take the snapshot again (POST /v1/sources/NAME/snapshots)"
                );
                self.tainted
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((table, why));
            }
        }
    }

    /// Fails the snapshots reading a tainted table, at `file:pos`: the
    /// records that say so.
    fn fail_tainted(&mut self, file: &str, pos: u64) -> Vec<Record> {
        let tainted = std::mem::take(&mut *self.tainted.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Vec::new();
        for (table, why) in tainted {
            let ids: BTreeSet<u64> = self
                .plan
                .iter()
                .filter(|e| e.table == table && !self.done.contains(&e.label()))
                .map(|e| e.id)
                .collect();
            for id in ids {
                out.extend(self.cancel(id, file, pos, Some(&why)));
            }
        }
        out
    }

    /// The tables planned and not read completely, after the plan or the
    /// tables done changed.
    fn note_reading(&mut self) {
        self.reading = self
            .plan
            .iter()
            .filter(|e| !self.done.contains(&e.label()))
            .map(|e| e.table.clone())
            .collect();
    }

    /// The stream stands at `file:pos` between transactions: the records
    /// of the requests taken (plans, cancels) and of the chunks it has
    /// passed.
    pub fn at_position(&mut self, file: &str, pos: u64, history: &SchemaHistory) -> Vec<Record> {
        let mut out = self.fail_tainted(file, pos);
        let fresh = std::mem::take(&mut self.new_tables);
        if !fresh.is_empty() {
            // The history holds the new tables since start-up: this
            // checkpoint puts them in the log's schema history for good,
            // in the same append as the plan that snapshots them.
            let mut checkpoint = at(file, pos, Vec::new(), SnapshotChunk::default());
            checkpoint.snapshot_chunk = None;
            checkpoint.snapshot = Some(history.snapshot());
            out.push(checkpoint);
            let id = id::new_id();
            self.queued.insert(
                0,
                Request::Start {
                    id,
                    tables: fresh,
                    condition: String::new(),
                },
            );
        }
        for request in std::mem::take(&mut self.queued) {
            out.extend(self.handle(request, file, pos, history));
        }
        let at = (crate::pipeline::resume::file_number(file), pos);
        out.extend(self.ready(file, pos, at));
        out
    }

    /// An on-demand snapshot starts or is cancelled: its plan record (or
    /// the cancelling copy of it) at `file:pos`.
    fn handle(
        &mut self,
        request: Request,
        file: &str,
        pos: u64,
        history: &SchemaHistory,
    ) -> Option<Record> {
        match request {
            Request::Start {
                id,
                tables,
                condition,
            } => {
                if !self.image_full {
                    tracing::error!(source = %self.name, id, "{}", image_error("not FULL"));
                    return None;
                }
                let entries: Vec<Entry> = tables
                    .iter()
                    .map(|t| Entry {
                        id,
                        table: t.clone(),
                        condition: condition.clone(),
                    })
                    .collect();
                self.plan.extend(entries.iter().cloned());
                let jobs = self.jobs_for(&entries, &Default::default(), history);
                self.note_reading();
                self.publish();
                self.spawn(jobs);
                tracing::info!(source = %self.name, id, tables = ?tables, "on-demand snapshot started");
                let create_tables = tables
                    .iter()
                    .map(|t| self.creates.remove(t).unwrap_or_default())
                    .collect();
                let chunk = SnapshotChunk {
                    snapshot_id: id,
                    plan: tables,
                    create_tables,
                    condition,
                    ..Default::default()
                };
                Some(at(file, pos, Vec::new(), chunk))
            }
            Request::Cancel { id } => self.cancel(id, file, pos, None),
        }
    }

    /// Ends snapshot `id` where it is, at `file:pos` (its chunks not yet
    /// appended are dropped): cancelled on request, or failed (`failure`
    /// says why). The record that says so, if `id` is running.
    fn cancel(&mut self, id: u64, file: &str, pos: u64, failure: Option<&str>) -> Option<Record> {
        let tables: Vec<String> = self
            .plan
            .iter()
            .filter(|e| e.id == id)
            .map(|e| e.table.clone())
            .collect();
        if tables.is_empty() {
            return None;
        }
        self.cancelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
        self.plan.retain(|e| e.id != id);
        self.note_reading();
        for chunk in std::mem::take(&mut self.pending) {
            if chunk.info.snapshot_id == id {
                let t = &chunk.plan.schema;
                self.watch
                    .release(&t.schema, &t.table, chunk.hold, chunk.start);
            } else {
                self.pending.push(chunk);
            }
        }
        for p in self.progress.values_mut() {
            if p.snapshot_id == id && p.state != "done" {
                p.state = if failure.is_some() {
                    "failed"
                } else {
                    "cancelled"
                };
                p.error = failure.map(str::to_string);
            }
        }
        self.publish();
        match failure {
            Some(why) => tracing::error!(source = %self.name, id, error = %why, "snapshot failed"),
            None => tracing::info!(source = %self.name, id, "snapshot cancelled"),
        }
        let chunk = SnapshotChunk {
            snapshot_id: id,
            plan: tables,
            cancelled: true,
            error: failure.unwrap_or_default().to_string(),
            ..Default::default()
        };
        Some(at(file, pos, Vec::new(), chunk))
    }

    fn ready(&mut self, file: &str, pos: u64, at: Pos) -> Vec<Record> {
        let mut ready: Vec<Chunk> = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].high <= at {
                ready.push(self.pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
        ready.sort_by_key(|c| (c.high, c.hold));
        ready
            .into_iter()
            .filter_map(|chunk| self.emit(chunk, file, pos))
            .collect()
    }

    fn emit(&mut self, chunk: Chunk, file: &str, pos: u64) -> Option<Record> {
        let t = &chunk.plan.schema;
        let changed = self
            .watch
            .release(&t.schema, &t.table, chunk.hold, chunk.start);
        let id = chunk.info.snapshot_id;
        if self
            .cancelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
        {
            return None;
        }
        let key = &chunk.plan.key;
        let rows: Vec<Row> = chunk
            .rows
            .into_iter()
            .filter(|values| {
                key.is_empty() || !changed.contains(&key_bytes(key.iter().map(|&i| values.get(i))))
            })
            .map(|values| Row {
                before: None,
                after: Some(Image { values }),
            })
            .collect();
        let name = format!("{}.{}", t.schema, t.table);
        let label = progress::table_label(id, &name);
        let mut info = chunk.info;
        if let Some(p) = self.progress.get_mut(&label) {
            p.track(&info, chunk.estimate);
        }
        if info.table_done {
            self.done.insert(label);
            self.note_reading();
            info.snapshot_done = self
                .plan
                .iter()
                .filter(|e| e.id == id)
                .all(|e| self.done.contains(&e.label()));
            tracing::info!(source = %self.name, table = %name, rows = info.rows_read, "snapshot: table read");
        }
        self.rows += rows.len() as u64;
        metrics::counter!("sluice_snapshot_rows_total", "source" => self.name.clone())
            .increment(rows.len() as u64);
        self.publish();
        if self.reported.elapsed() >= std::time::Duration::from_secs(5) {
            self.reported = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                source = %self.name,
                tables_done = self.done.len(),
                tables = self.plan.len(),
                rows = self.rows,
                rows_per_s = (self.rows as f64 / secs) as u64,
                "snapshot progress"
            );
        }
        if info.snapshot_done {
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(source = %self.name, id, rows = self.rows, rows_per_s = (self.rows as f64 / secs) as u64, "snapshot done");
        }
        let changes = if rows.is_empty() {
            Vec::new()
        } else {
            vec![TableChange {
                schema: t.schema.clone(),
                table: t.table.clone(),
                kind: ChangeKind::Read as i32,
                columns: t.columns.clone(),
                names_known: true,
                rows,
                signedness_known: true,
                ..Default::default()
            }]
        };
        Some(at(file, pos, changes, info))
    }

    fn publish(&self) {
        self.status
            .snapshot(self.progress.values().cloned().collect());
    }

    /// Chunks read or still to read: the stream must keep going (a
    /// blocking dump) until they are appended.
    pub fn active(&self) -> bool {
        !self.finished()
    }

    pub fn only(&self) -> bool {
        self.opts.mode == Mode::InitialOnly
    }
}

/// A column left out of a row image (MINIMAL, NOBLOB), or a JSON column
/// carrying only a partial update's diff, not its value.
fn lacks_a_column(image: &Image) -> bool {
    image.values.iter().any(|v| {
        matches!(
            v.kind,
            Some(proto::value::Kind::Absent(_)) | Some(proto::value::Kind::JsonDiff(_))
        )
    })
}

/// How often the capture looks for on-demand requests.
const REQUEST_POLL: std::time::Duration = std::time::Duration::from_millis(300);

fn image_error(image: &str) -> String {
    format!(
        "a snapshot needs binlog_row_image=FULL (the server has {image}): the merge of \
         snapshot and binlog needs every changed row's key and whole image; set it \
         (SET GLOBAL binlog_row_image = 'FULL', and in the server's config) or use snapshot = \"never\""
    )
}

/// `schema.table`'s `SHOW CREATE TABLE` text (empty if the server has none).
async fn create_table(
    conn: &mut Connection,
    schema: &str,
    table: &str,
) -> Result<String, SourceError> {
    let sql = format!(
        "SHOW CREATE TABLE {}.{}",
        table::ident(schema),
        table::ident(table)
    );
    let rows = conn.query(&sql).await?;
    Ok(rows
        .first()
        .and_then(|r| r.get(1).cloned().flatten())
        .unwrap_or_default())
}

/// A snapshot record at the stream's position `file:pos`.
fn at(file: &str, pos: u64, changes: Vec<TableChange>, chunk: SnapshotChunk) -> Record {
    Record {
        position: Some(proto::BinlogPosition {
            file: file.to_string(),
            start: pos,
            next: pos,
        }),
        commit_time_ms: chrono::Utc::now().timestamp_millis(),
        changes,
        snapshot_chunk: Some(Box::new(chunk)),
        last_part: true,
        ..Default::default()
    }
}

impl TableProgress {
    fn new(entry: &Entry, done: bool, rows: u64) -> TableProgress {
        TableProgress {
            snapshot_id: entry.id,
            table: entry.table.clone(),
            state: if done { "done" } else { "waiting" },
            rows,
            estimated_rows: 0,
            chunks: 0,
            rows_per_s: None,
            eta_s: None,
            since: None,
            error: None,
        }
    }

    /// A table of a snapshot that `cancel` (the log's cancelling record)
    /// ended; `chunk` is the table's newest chunk record.
    fn ended(
        entry: &Entry,
        chunk: Option<&SnapshotChunk>,
        cancel: &SnapshotChunk,
    ) -> TableProgress {
        let done = chunk.is_some_and(|c| c.table_done);
        let mut p = TableProgress::new(entry, done, chunk.map_or(0, |c| c.rows_read));
        if !done {
            // A log written before the error field reads as cancelled.
            (p.state, p.error) = match cancel.error.as_str() {
                "" => ("cancelled", None),
                why => ("failed", Some(why.to_string())),
            };
        }
        p
    }

    /// A chunk of this table is appended.
    fn track(&mut self, info: &SnapshotChunk, estimate: u64) {
        let now = Instant::now();
        let (since, base) = *self.since.get_or_insert((now, self.rows));
        self.rows = info.rows_read;
        self.chunks += 1;
        self.estimated_rows = self.estimated_rows.max(estimate);
        self.state = if info.table_done { "done" } else { "reading" };
        let secs = now.duration_since(since).as_secs_f64();
        if secs > 0.0 {
            let rate = (self.rows.saturating_sub(base)) as f64 / secs;
            self.rows_per_s = Some(rate as u64);
            self.eta_s = if info.table_done {
                Some(0)
            } else if rate > 0.0 {
                Some((self.estimated_rows.saturating_sub(self.rows) as f64 / rate) as u64)
            } else {
                None
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: 7,
            table: "db.t".into(),
            condition: String::new(),
        }
    }

    fn chunk(rows_read: u64, table_done: bool) -> SnapshotChunk {
        SnapshotChunk {
            snapshot_id: 7,
            schema: "db".into(),
            table: "t".into(),
            rows_read,
            table_done,
            ..Default::default()
        }
    }

    fn cancel(error: &str) -> SnapshotChunk {
        SnapshotChunk {
            snapshot_id: 7,
            plan: vec!["db.t".into()],
            cancelled: true,
            error: error.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_failure_read_back_from_the_log_is_failed_with_its_error() {
        let p = TableProgress::ended(&entry(), Some(&chunk(50, false)), &cancel("why"));
        assert_eq!(
            (p.state, p.error.as_deref(), p.rows),
            ("failed", Some("why"), 50)
        );
    }

    #[test]
    fn a_cancel_without_an_error_is_cancelled() {
        let p = TableProgress::ended(&entry(), None, &cancel(""));
        assert_eq!((p.state, p.error, p.rows), ("cancelled", None, 0));
    }

    #[test]
    fn a_table_read_before_the_failure_stays_done() {
        let p = TableProgress::ended(&entry(), Some(&chunk(80, true)), &cancel("why"));
        assert_eq!((p.state, p.error, p.rows), ("done", None, 80));
    }
}
