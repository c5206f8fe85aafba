//! Snapshots: the rows a table already holds, into the log, while the
//! binlog keeps streaming (`snapshot = "initial"` / `"initial_only"`).
//!
//! Lock-free and read-only on the source, watermark-based (DBLog, Flink
//! CDC): [`reader`]s split each table into key ranges of `chunk_rows`
//! (`table`), and read each between a low and a high watermark, the
//! server's binlog position before and after the SELECT. The capture
//! loop keeps streaming; when it has passed a chunk's high watermark it
//! drops from the chunk every key the stream changed since the window
//! opened ([`watch`]) — those rows are in the log already, newer — and
//! appends the rest as one record of `READ` changes at the stream's
//! position. A consumer applying the log in order ends with exactly the
//! source's rows.
//!
//! Resumable: every chunk record carries the table's last key
//! (`SnapshotChunk`); after a crash the [`Driver`] reloads that from the
//! log ([`progress`]) and reads on after the last durable chunk. A table
//! whose last record says done is never read again.
//!
//! The plan record that starts a snapshot lists its tables with their
//! `SHOW CREATE TABLE` text, so a mirror can create them on an empty
//! server before any of their changes.

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
use std::collections::HashSet;
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
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            mode: Mode::Never,
            chunk_rows: 8192,
            parallel: 2,
            keyless_at_least_once: false,
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
    pub table: String,
    /// `waiting`, `reading` or `done`.
    pub state: &'static str,
    pub rows: u64,
    pub estimated_rows: u64,
    /// Chunks appended by this run.
    pub chunks: u64,
    pub rows_per_s: Option<u64>,
    pub eta_s: Option<u64>,
    #[serde(skip)]
    since: Option<(Instant, u64)>,
}

/// The capture's side of a snapshot: runs the readers, holds their chunks
/// until the stream passes them, and hands back the records to append.
pub struct Driver {
    name: String,
    opts: SnapshotOptions,
    config: SourceConfig,
    list: RecordList,
    watch: Arc<Watch>,
    /// `schema.table` of every table to read; empty until planned.
    plan: Vec<String>,
    done: HashSet<String>,
    rx: Option<mpsc::Receiver<Result<Chunk, ReadError>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    pending: Vec<Chunk>,
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
    /// The snapshot of this source's log, if it takes one: a new log
    /// (`new_log`) starts one; an existing log continues the one it holds.
    pub async fn open(
        capture: &crate::pipeline::CaptureOptions,
        log: &sluice_storage::Log,
        new_log: bool,
        conn: &mut Connection,
        status: &crate::pipeline::StatusHandle,
    ) -> Result<Option<Driver>, SnapshotError> {
        let (name, opts) = (capture.name.as_str(), &capture.snapshot);
        if opts.mode == Mode::Never {
            return Ok(None);
        }
        let list = RecordList::new(&capture.dir);
        let state = list.load(log).map_err(SnapshotError::Fatal)?;
        if !new_log {
            match &state {
                None => {
                    tracing::info!(
                        source = name,
                        "the log was started without a snapshot; none is taken now"
                    );
                    return Ok(None);
                }
                Some(s) if s.plan_lost => {
                    tracing::warn!(
                        source = name,
                        "the snapshot's plan record is gone (retention): not resuming it"
                    );
                    return Ok(None);
                }
                _ => {}
            }
        }
        let image = conn
            .query_value("SELECT @@binlog_row_image")
            .await
            .map_err(SnapshotError::Source)?
            .unwrap_or_default();
        if !image.eq_ignore_ascii_case("FULL") {
            return Err(SnapshotError::Fatal(format!(
                "a snapshot needs binlog_row_image=FULL (the server has {image}): the merge of \
                 snapshot and binlog needs every changed row's key and whole image; set it \
                 (SET GLOBAL binlog_row_image = 'FULL', and in the server's config) or use snapshot = \"never\""
            )));
        }
        let mut driver = Driver {
            name: name.to_string(),
            opts: opts.clone(),
            config: capture.source.clone(),
            list,
            watch: Arc::new(Watch::default()),
            plan: Vec::new(),
            done: HashSet::new(),
            rx: None,
            readers: Vec::new(),
            pending: Vec::new(),
            started: Instant::now(),
            rows: 0,
            status: status.clone(),
            progress: Default::default(),
            reported: Instant::now(),
        };
        if let Some(state) = state {
            driver.plan = state.plan;
        }
        Ok(Some(driver))
    }

    /// A new log's plan record: every captured table with its `SHOW
    /// CREATE TABLE`, at the position the stream starts from.
    pub async fn plan_record(
        &mut self,
        history: &SchemaHistory,
        from: &DumpFrom,
        conn: &mut Connection,
    ) -> Result<Record, SnapshotError> {
        let mut tables: Vec<(&str, &str)> = history
            .tables()
            .map(|t| (t.schema.as_str(), t.table.as_str()))
            .collect();
        tables.sort();
        let mut plan = Vec::new();
        let mut create_tables = Vec::new();
        for (schema, table) in tables {
            let sql = format!(
                "SHOW CREATE TABLE {}.{}",
                table::ident(schema),
                table::ident(table)
            );
            let rows = conn.query(&sql).await.map_err(SnapshotError::Source)?;
            plan.push(format!("{schema}.{table}"));
            create_tables.push(
                rows.first()
                    .and_then(|r| r.get(1).cloned().flatten())
                    .unwrap_or_default(),
            );
        }
        self.plan = plan.clone();
        tracing::info!(source = %self.name, tables = plan.len(), "snapshot planned");
        Ok(Record {
            position: Some(proto::BinlogPosition {
                file: from.file.clone(),
                start: from.pos,
                next: from.pos,
            }),
            commit_time_ms: chrono::Utc::now().timestamp_millis(),
            snapshot_chunk: Some(SnapshotChunk {
                plan,
                create_tables,
                ..Default::default()
            }),
            last_part: true,
            ..Default::default()
        })
    }

    /// Every planned table read and in the log (or staged to be).
    pub fn finished(&self) -> bool {
        self.plan.iter().all(|t| self.done.contains(t)) && self.pending.is_empty()
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
        self.rx = None;
        self.pending.clear();
        self.watch.clear();
        let state = self
            .list
            .load(log)
            .map_err(SnapshotError::Fatal)?
            .unwrap_or_default();
        let mut jobs = std::collections::VecDeque::new();
        self.done.clear();
        self.progress.clear();
        for name in &self.plan {
            let chunk = state.tables.get(name);
            self.progress.insert(
                name.clone(),
                TableProgress {
                    table: name.clone(),
                    state: if chunk.is_some_and(|c| c.table_done) {
                        "done"
                    } else {
                        "waiting"
                    },
                    rows: chunk.map(|c| c.rows_read).unwrap_or(0),
                    estimated_rows: 0,
                    chunks: 0,
                    rows_per_s: None,
                    eta_s: None,
                    since: None,
                },
            );
            if chunk.is_some_and(|c| c.table_done) {
                self.done.insert(name.clone());
                continue;
            }
            let Some((schema, table)) = name.split_once('.') else {
                continue;
            };
            let Some(t) = history.table(schema, table) else {
                tracing::warn!(source = %self.name, table = %name, "a planned table no longer exists: not read");
                self.done.insert(name.clone());
                continue;
            };
            jobs.push_back(Job {
                table: t.clone(),
                last_key: chunk.map(|c| c.last_key.clone()).filter(|k| !k.is_empty()),
                rows_read: chunk.map(|c| c.rows_read).unwrap_or(0),
            });
        }
        self.publish();
        if jobs.is_empty() {
            return Ok(());
        }
        tracing::info!(source = %self.name, tables = jobs.len(), done = self.done.len(), "snapshot reading");
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            jobs: Mutex::new(jobs),
            watch: self.watch.clone(),
            ids: AtomicU64::new(0),
            chunk_rows: self.opts.chunk_rows.max(1),
            keyless_at_least_once: self.opts.keyless_at_least_once,
        });
        let parallel = self.opts.parallel.max(1);
        let (tx, rx) = mpsc::channel(parallel);
        for _ in 0..parallel {
            self.readers
                .push(tokio::spawn(reader::run(shared.clone(), tx.clone())));
        }
        self.rx = Some(rx);
        Ok(())
    }

    /// The next chunk from a reader; pending forever while the driver
    /// holds enough chunks (memory stays a few chunks) or has no readers.
    pub async fn recv(driver: &mut Option<Driver>) -> Option<Result<(), SnapshotError>> {
        let Some(d) = driver.as_mut() else {
            return std::future::pending().await;
        };
        let room = d.pending.len() < 2 * d.opts.parallel.max(1);
        match d.rx.as_mut() {
            Some(rx) if room => {
                let got = rx.recv().await;
                Some(d.take(got))
            }
            _ => std::future::pending().await,
        }
    }

    fn take(&mut self, got: Option<Result<Chunk, ReadError>>) -> Result<(), SnapshotError> {
        match got {
            Some(Ok(chunk)) => {
                self.pending.push(chunk);
                Ok(())
            }
            Some(Err(e)) => Err(e.into()),
            None => {
                // Every reader finished its queue.
                self.rx = None;
                Ok(())
            }
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
        let out = self.ready(&position.file, position.start, at);
        self.watch.observe(&record.changes, at);
        Ok(out)
    }

    /// Changes of a large open transaction, taken out before its commit.
    pub fn observe(&self, changes: &[TableChange], file: &str, start: u64) {
        self.watch
            .observe(changes, (crate::pipeline::resume::file_number(file), start));
    }

    /// The stream stands at `file:pos` between transactions: the records
    /// of the chunks it has passed.
    pub fn at_position(&mut self, file: &str, pos: u64) -> Vec<Record> {
        let at = (crate::pipeline::resume::file_number(file), pos);
        self.ready(file, pos, at)
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
            .map(|chunk| self.emit(chunk, file, pos))
            .collect()
    }

    fn emit(&mut self, chunk: Chunk, file: &str, pos: u64) -> Record {
        let t = &chunk.plan.schema;
        let changed = self
            .watch
            .release(&t.schema, &t.table, chunk.hold, chunk.start);
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
        let mut info = chunk.info;
        if let Some(p) = self.progress.get_mut(&name) {
            p.track(&info, chunk.estimate);
        }
        if info.table_done {
            self.done.insert(name.clone());
            info.snapshot_done = self.finished();
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
            tracing::info!(source = %self.name, rows = self.rows, rows_per_s = (self.rows as f64 / secs) as u64, "snapshot done");
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
        Record {
            position: Some(proto::BinlogPosition {
                file: file.to_string(),
                start: pos,
                next: pos,
            }),
            commit_time_ms: chrono::Utc::now().timestamp_millis(),
            changes,
            snapshot_chunk: Some(info),
            last_part: true,
            ..Default::default()
        }
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

impl TableProgress {
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
