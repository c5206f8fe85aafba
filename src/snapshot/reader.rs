//! Chunk readers: each on its own connection, taking tables from a shared
//! queue and reading them chunk by chunk, read-only (no locks, no writes):
//! hold the table in the [`Watch`], read the low watermark (the server's
//! binlog position), SELECT the chunk in key order, read the high
//! watermark, hand the chunk to the capture. The channel is bounded, so
//! a reader waits while the capture holds enough chunks: memory is a few
//! chunks, whatever the table's size.
//!
//! A table without a usable key is read whole: on MariaDB in one
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT`, whose exact binlog
//! position is `binlog_snapshot_file/position`; elsewhere only with
//! `snapshot_keyless = "at_least_once"` (between two watermarks).

use super::table::{choose_key, keys_sql, Plan};
use super::text::read_value;
use super::watch::{Pos, Watch};
use crate::pipeline::resume::file_number;
use crate::proto::{SnapshotChunk, TableSchema, Value};
use crate::schema::catalog::quote_literal;
use crate::source::{failover, Connection, Flavour, SourceConfig, SourceError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A table still to read, and where it stopped before.
#[derive(Clone, Debug)]
pub struct Job {
    pub table: TableSchema,
    /// The last key of the last durable chunk (`None`: from the start).
    pub last_key: Option<Vec<Value>>,
    pub rows_read: u64,
    /// The snapshot (0: the initial one) and its SQL condition.
    pub id: u64,
    pub condition: String,
}

/// One chunk read, waiting for the stream to pass `high`.
#[derive(Debug)]
pub struct Chunk {
    pub plan: Arc<Plan>,
    pub hold: u64,
    /// Keys changed from here on are dropped (the low watermark of the
    /// reader's previous chunk, see [`read_table`]).
    pub start: Pos,
    /// Where the rows are exact: the high watermark (or, read whole on
    /// MariaDB, the consistent snapshot's position).
    pub high: Pos,
    pub rows: Vec<Vec<Value>>,
    pub info: SnapshotChunk,
    /// The table's row count as `information_schema` estimates it.
    pub estimate: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Fatal(String),
}

/// What every reader shares.
pub struct Shared {
    pub config: SourceConfig,
    pub jobs: Mutex<VecDeque<Job>>,
    pub watch: Arc<Watch>,
    pub ids: Arc<AtomicU64>,
    /// Snapshots cancelled: their tables are not read further.
    pub cancelled: Arc<Mutex<std::collections::HashSet<u64>>>,
    pub chunk_rows: u64,
    pub keyless_at_least_once: bool,
}

/// Reads tables from the queue until it is empty.
pub async fn run(shared: Arc<Shared>, tx: mpsc::Sender<Result<Chunk, ReadError>>) {
    if let Err(e) = read_jobs(&shared, &tx).await {
        let _ = tx.send(Err(e)).await;
    }
}

async fn read_jobs(
    shared: &Shared,
    tx: &mpsc::Sender<Result<Chunk, ReadError>>,
) -> Result<(), ReadError> {
    let mut conn = failover::connect_first(&shared.config).await?;
    conn.exec("SET NAMES utf8mb4").await?;
    conn.exec("SET time_zone = '+00:00'").await?;
    // Read-only on the source, whatever a condition says.
    conn.exec("SET SESSION TRANSACTION READ ONLY").await?;
    loop {
        let job = shared
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let Some(job) = job else {
            return Ok(());
        };
        if !read_table(shared, &mut conn, job, tx).await? {
            return Ok(());
        }
    }
}

/// Low or high watermark: the server's binlog end.
async fn watermark(conn: &mut Connection) -> Result<(String, Pos), SourceError> {
    let s = conn.master_status().await?;
    let pos = (file_number(&s.file), s.pos);
    Ok((s.file, pos))
}

/// Read one table; `false` when the capture went away.
async fn read_table(
    shared: &Shared,
    conn: &mut Connection,
    job: Job,
    tx: &mpsc::Sender<Result<Chunk, ReadError>>,
) -> Result<bool, ReadError> {
    let (schema, name) = (job.table.schema.clone(), job.table.table.clone());
    let keys = conn.query(&keys_sql(&schema, &name)).await?;
    let key: Vec<usize> = match choose_key(&keys) {
        Some(names) => names
            .iter()
            .map(|n| {
                job.table
                    .columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(n))
                    .ok_or_else(|| {
                        ReadError::Fatal(format!(
                            "snapshot of {schema}.{name}: key column {n} is not among the table's columns (a DDL during the snapshot?)"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let plan = Arc::new(Plan {
        schema: job.table.clone(),
        key,
    });
    let estimate = conn
        .query_value(&format!(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote_literal(&schema),
            quote_literal(&name)
        ))
        .await?
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut info = SnapshotChunk {
        snapshot_id: job.id,
        schema: schema.clone(),
        table: name.clone(),
        key_columns: plan.key_names(),
        rows_read: job.rows_read,
        ..Default::default()
    };
    if plan.key.is_empty() {
        let mut chunk = read_whole(shared, conn, &plan, &job.condition, info).await?;
        chunk.estimate = estimate;
        return Ok(tx.send(Ok(chunk)).await.is_ok());
    }
    let mut last_key = job.last_key;
    let mut previous_low: Option<Pos> = None;
    loop {
        let cancelled = shared
            .cancelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&job.id);
        if cancelled {
            return Ok(true);
        }
        let hold = shared.ids.fetch_add(1, Ordering::Relaxed);
        shared.watch.hold(&schema, &name, &plan.key, hold);
        let (_, low) = watermark(conn).await?;
        // One row more than the chunk says whether the table goes on: the
        // chunk that ends the table is never empty (unless the table is),
        // so its record carries the table's last row (Debezium's "last").
        let sql = plan
            .chunk_sql(
                last_key.as_deref(),
                &job.condition,
                shared.chunk_rows.saturating_add(1),
            )
            .map_err(|e| ReadError::Fatal(format!("snapshot of {schema}.{name}: {e}")))?;
        let mut rows = conn.query(&sql).await?;
        let (_, high) = watermark(conn).await?;
        let done = (rows.len() as u64) <= shared.chunk_rows;
        rows.truncate(usize::try_from(shared.chunk_rows).unwrap_or(usize::MAX));
        let rows = convert(&plan, rows)?;
        if let Some(last) = rows.last() {
            last_key = Some(plan.key.iter().map(|&i| last[i].clone()).collect());
        }
        info.rows_read += rows.len() as u64;
        info.last_key = last_key.clone().unwrap_or_default();
        info.table_done = done;
        // A transaction the binlog holds before `low` may become visible
        // to a SELECT a moment later (the binlog is written before the
        // engine commits): changes since the previous chunk's low
        // watermark are dropped too, which is always safe.
        let start = previous_low.unwrap_or(low);
        previous_low = Some(low);
        let chunk = Chunk {
            plan: plan.clone(),
            hold,
            start,
            high,
            rows,
            info: info.clone(),
            estimate,
        };
        if tx.send(Ok(chunk)).await.is_err() {
            return Ok(false);
        }
        if done {
            return Ok(true);
        }
    }
}

/// A table without a usable key, in one statement.
async fn read_whole(
    shared: &Shared,
    conn: &mut Connection,
    plan: &Arc<Plan>,
    condition: &str,
    mut info: SnapshotChunk,
) -> Result<Chunk, ReadError> {
    let name = format!("{}.{}", plan.schema.schema, plan.schema.table);
    let mariadb = conn.server_info().flavour == Flavour::MariaDb;
    if !mariadb && !shared.keyless_at_least_once {
        return Err(ReadError::Fatal(format!(
            "snapshot of {name}: the table has no primary key and no unique NOT NULL key, and this \
             server cannot give the exact binlog position of a consistent read (MariaDB can); \
             set snapshot_keyless = \"at_least_once\" to read it anyway (rows changed meanwhile \
             may then appear twice), or exclude the table"
        )));
    }
    let hold = shared.ids.fetch_add(1, Ordering::Relaxed);
    shared
        .watch
        .hold(&plan.schema.schema, &plan.schema.table, &[], hold);
    let (rows, high) = if mariadb {
        conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
        let status = conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
        let get = |var: &str| {
            status
                .iter()
                .find(|r| {
                    r.first()
                        .cloned()
                        .flatten()
                        .is_some_and(|n| n.eq_ignore_ascii_case(var))
                })
                .and_then(|r| r.get(1).cloned().flatten())
        };
        let file = get("Binlog_snapshot_file").unwrap_or_default();
        let pos: u64 = get("Binlog_snapshot_position")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                ReadError::Fatal(format!(
                    "snapshot of {name}: the server gave no binlog_snapshot_position"
                ))
            })?;
        let rows = conn.query(&plan.whole_sql(condition)).await;
        // Ends the transaction whatever the read gave.
        conn.exec("COMMIT").await?;
        let rows = rows?;
        (rows, (file_number(&file), pos))
    } else {
        let rows = conn.query(&plan.whole_sql(condition)).await?;
        let (_, high) = watermark(conn).await?;
        (rows, high)
    };
    let rows = convert(plan, rows)?;
    info.rows_read = rows.len() as u64;
    info.table_done = true;
    Ok(Chunk {
        plan: plan.clone(),
        hold,
        start: high,
        high,
        rows,
        info,
        estimate: 0,
    })
}

fn convert(plan: &Plan, rows: Vec<Vec<Option<String>>>) -> Result<Vec<Vec<Value>>, ReadError> {
    let columns = &plan.schema.columns;
    rows.into_iter()
        .map(|row| {
            if row.len() != columns.len() {
                return Err(ReadError::Fatal(format!(
                    "snapshot of {}.{}: {} values in a row of {} columns",
                    plan.schema.schema,
                    plan.schema.table,
                    row.len(),
                    columns.len()
                )));
            }
            columns
                .iter()
                .zip(row)
                .map(|(c, cell)| read_value(c, cell))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    ReadError::Fatal(format!(
                        "snapshot of {}.{}: {e}",
                        plan.schema.schema, plan.schema.table
                    ))
                })
        })
        .collect()
}
