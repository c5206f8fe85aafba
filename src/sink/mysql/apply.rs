//! Runs a batch of records on the target's connections: plans each
//! record, cuts the batch into phases ([`super::schedule`]) by write sets
//! ([`super::writeset`]), and has one task per connection apply its queue.
//!
//! A worker sends its queue in groups of up to `limits.round_trip` of
//! SQL, each group one target transaction (`BEGIN`, the group's merged
//! statements ([`super::group`]), `COMMIT`), and counts a group as
//! applied once its `COMMIT` returned. A batch of few transactions goes
//! to one worker (see [`WORKER_SHARE`]). A deadlock or lock wait timeout
//! between workers (gap or secondary-index locks; their keys never meet)
//! rolls the group back and runs it again.
//!
//! [`Sink::deliver_records`](super::super::runner::Sink::deliver_records)
//! returns only when every transaction of the batch is applied, so the
//! group's offset (the runner commits it after that) never passes a
//! transaction the target has not committed. An error names the first
//! record of the failed round trip and the low-water mark: the records
//! before it are all applied.

use super::schedule::{schedule, Phase, Progress, Work};
use super::{classify, clip, Limits, MysqlSink, Statement, SESSION_SETUP};
use crate::proto::Record;
use crate::sink::runner::SinkError;
use crate::source::{Connection, SourceError};
use std::sync::Mutex;
use std::time::Duration;

/// One record to apply.
struct Txn {
    offset: u64,
    plan: Vec<Statement>,
    /// DDL (replayed statement by statement) rather than a transaction.
    ddl: bool,
    /// Runs alone: DDL, or statements without row images.
    barrier: bool,
}

impl Txn {
    /// Bytes of SQL.
    fn size(&self) -> usize {
        self.plan.iter().map(|s| s.sql.len()).sum()
    }
}

/// The SQL a worker gets at least before another one is put to work. A
/// worker applies what it gets as one transaction with merged statements
/// ([`super::group`]), which costs the target about half as much per
/// source transaction as small ones: spread thin over all workers, a
/// stream of small transactions costs the target more than one worker
/// does (measured with `benches/mirror_lag`). The workers share a
/// backlog; a mirror that keeps up uses one.
const WORKER_SHARE: usize = 64 << 10;

/// Server errors between two of our own workers: roll back, run again.
const LOCK_CONFLICT: &[u16] = &[1205, 1213];
const LOCK_RETRIES: u32 = 10;

impl MysqlSink {
    /// Worker 0's connection (DDL, barriers, metadata queries).
    pub(super) async fn connection(&mut self) -> Result<&mut Connection, SinkError> {
        self.connect().await?;
        self.conns
            .first_mut()
            .and_then(Option::as_mut)
            .ok_or_else(|| SinkError::Transient("mysql sink: no target connection".into()))
    }

    /// Opens the workers' connections that are not open; the first one
    /// also learns the round-trip limits.
    async fn connect(&mut self) -> Result<(), SinkError> {
        let missing: Vec<usize> = (0..self.conns.len())
            .filter(|&w| self.conns[w].is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let config = &self.config;
        let opened = futures::future::try_join_all(missing.iter().map(|_| async move {
            let mut conn = Connection::connect(config)
                .await
                .map_err(|e| classify(e, "connecting to the target"))?;
            conn.exec(SESSION_SETUP)
                .await
                .map_err(|e| classify(e, "setting up the target session"))?;
            Ok::<_, SinkError>(conn)
        }))
        .await?;
        for (w, conn) in missing.into_iter().zip(opened) {
            self.conns[w] = Some(conn);
        }
        if let Some(conn) = self.conns.first_mut().and_then(Option::as_mut) {
            let max_packet = conn
                .query_value("SELECT @@max_allowed_packet")
                .await
                .map_err(|e| classify(e, "reading the target's max_allowed_packet"))?;
            self.limits = max_packet
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(Limits::DEFAULT, Limits::for_max_packet);
        }
        Ok(())
    }

    pub(super) async fn apply(&mut self, records: &[(u64, Record)]) -> Result<(), SinkError> {
        // Connecting first learns the limits the plans are cut to.
        self.connect().await?;
        let mut txns = Vec::new();
        for (offset, record) in records {
            let plan = self.plan(*offset, record)?;
            if plan.is_empty() {
                continue;
            }
            // A snapshot's CREATE TABLE or whole-table read also runs alone.
            let ddl = record.ddl.is_some() || plan.iter().any(|s| s.ddl);
            txns.push((
                Txn {
                    offset: *offset,
                    plan,
                    ddl,
                    barrier: ddl || !record.statements.is_empty(),
                },
                record,
            ));
        }
        let progress = Mutex::new(Progress::new(txns.len()));
        let mut start = 0;
        while start < txns.len() {
            // Up to the next DDL: its indexes are known before it runs.
            let end = (start..txns.len())
                .find(|&i| txns[i].0.ddl)
                .unwrap_or(txns.len());
            if start == end {
                let txn = &txns[start].0;
                self.replay_ddl(txn.offset, &txn.plan)
                    .await
                    .map_err(|e| low_water(e, &progress, &txns))?;
                self.keys.clear();
                complete(&progress, start);
                start += 1;
                continue;
            }
            self.load_keys(txns[start..end].iter().map(|t| t.1)).await?;
            let work: Vec<Work> = txns[start..end]
                .iter()
                .map(|(txn, record)| self.work(txn, record))
                .collect();
            let size: usize = txns[start..end].iter().map(|t| t.0.size()).sum();
            let workers = (size / WORKER_SHARE).clamp(1, self.conns.len());
            for phase in schedule(&work, workers) {
                let queues = match phase {
                    Phase::Parallel(queues) => queues,
                    // Alone, on the first worker.
                    Phase::Barrier(i) => vec![vec![i]],
                };
                self.run(queues, &txns[start..end], start, &progress)
                    .await
                    .map_err(|e| low_water(e, &progress, &txns))?;
            }
            start = end;
        }
        Ok(())
    }

    /// Reads the unique keys of the target databases `records` write to,
    /// where not known yet.
    async fn load_keys<'a>(
        &mut self,
        records: impl Iterator<Item = &'a Record>,
    ) -> Result<(), SinkError> {
        let mut databases: Vec<String> = Vec::new();
        for record in records {
            for (_, target) in self.applied(record) {
                if !self.keys.is_loaded(&target) && !databases.contains(&target) {
                    databases.push(target);
                }
            }
        }
        if databases.is_empty() {
            return Ok(());
        }
        let sql = super::writeset::UniqueKeys::query(&databases);
        let rows = self
            .connection()
            .await?
            .query(&sql)
            .await
            .map_err(|e| classify(e, "reading the target's unique keys"))?;
        self.keys.load(&databases, rows);
        Ok(())
    }

    /// What the scheduler needs of one transaction.
    fn work(&self, txn: &Txn, record: &Record) -> Work {
        if txn.barrier {
            return Work::Barrier;
        }
        let mut keys = Vec::new();
        for (change, target) in self.applied(record) {
            if self.keys.write_set(change, &target, &mut keys).is_err() {
                return Work::Barrier;
            }
        }
        Work::Rows {
            keys,
            weight: txn.size(),
        }
    }

    /// Applies one phase: worker `w` runs `queues[w]` (indexes into
    /// `txns`, which starts at `base` of the batch) in groups of up to
    /// `limits.round_trip` of SQL, each one target transaction.
    async fn run(
        &mut self,
        queues: Vec<Vec<usize>>,
        txns: &[(Txn, &Record)],
        base: usize,
        progress: &Mutex<Progress>,
    ) -> Result<(), SinkError> {
        let limits = self.limits;
        let workers = self
            .conns
            .iter_mut()
            .zip(&queues)
            .filter(|(_, queue)| !queue.is_empty())
            .map(|(conn, queue)| async move {
                let conn = conn.as_mut().ok_or_else(|| {
                    SinkError::Transient("mysql sink: no target connection".into())
                })?;
                let mut next = 0;
                while next < queue.len() {
                    let mut end = next + 1;
                    let mut size = txns[queue[next]].0.size();
                    while end < queue.len() && size < limits.round_trip {
                        size += txns[queue[end]].0.size();
                        end += 1;
                    }
                    let group: Vec<&Txn> = queue[next..end].iter().map(|&t| &txns[t].0).collect();
                    send_group(conn, &group, limits).await?;
                    for &t in &queue[next..end] {
                        complete(progress, base + t);
                    }
                    next = end;
                }
                Ok::<(), SinkError>(())
            });
        futures::future::try_join_all(workers).await?;
        Ok(())
    }
}

fn complete(progress: &Mutex<Progress>, txn: usize) {
    if let Ok(mut p) = progress.lock() {
        p.complete(txn);
    }
}

/// `e` with the low-water mark: the offset before which every record of
/// the batch is applied on the target.
fn low_water(e: SinkError, progress: &Mutex<Progress>, txns: &[(Txn, &Record)]) -> SinkError {
    let low = progress.lock().map_or(0, |p| p.low_water());
    let Some((txn, _)) = txns.get(low) else {
        return e;
    };
    let note = format!(
        " (applied on the target: every record before {})",
        txn.offset
    );
    match e {
        SinkError::Transient(m) => SinkError::Transient(m + &note),
        SinkError::Fatal(m) => SinkError::Fatal(m + &note),
    }
}

/// Applies `group` (transactions in log order) as one target transaction,
/// in round trips; on a lock conflict with another worker, rolls back and
/// runs the group again.
///
/// One `COMMIT` for the whole group, not one per source transaction: the
/// commit (redo and binlog flush, group-commit queue) is most of what a
/// small OLTP transaction costs the target, and the group is counted as
/// applied only after it, all of it or none (a failed group's connection
/// is closed, which rolls it back).
async fn send_group(
    conn: &mut Connection,
    group: &[&Txn],
    limits: Limits,
) -> Result<(), SinkError> {
    let mut trips = Vec::new();
    let mut pending = Pending::default();
    let (Some(first), Some(last)) = (group.first(), group.last()) else {
        return Ok(());
    };
    pending.push("BEGIN", (first.offset, first.offset));
    let plans = group.iter().map(|t| (t.offset, t.plan.as_slice()));
    for statement in super::group::merge(plans, limits.statement) {
        pending.push(&statement.sql, statement.offsets);
        if pending.sql.len() >= limits.round_trip {
            trips.push(std::mem::take(&mut pending));
        }
    }
    pending.push("COMMIT", (last.offset, last.offset));
    trips.push(pending);
    let mut attempt = 0;
    'group: loop {
        for trip in &trips {
            match conn.exec(&trip.sql).await {
                Ok(_) => {}
                Err(SourceError::Server { code, .. })
                    if LOCK_CONFLICT.contains(&code) && attempt < LOCK_RETRIES =>
                {
                    attempt += 1;
                    // A lock wait timeout leaves the transaction open.
                    conn.exec("ROLLBACK")
                        .await
                        .map_err(|e| classify(e, "rolling back after a lock conflict"))?;
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                    continue 'group;
                }
                Err(e) => {
                    let (first, last) = trip.offsets;
                    let records = if first == last {
                        format!("log record {first}")
                    } else {
                        format!("log records {first}..={last}")
                    };
                    return Err(classify(
                        e,
                        &format!("applying {records}: {}", clip(&trip.sql)),
                    ));
                }
            }
        }
        return Ok(());
    }
}

/// Statements for one round trip, and the log records they come from.
#[derive(Default)]
struct Pending {
    sql: String,
    offsets: (u64, u64),
}

impl Pending {
    fn push(&mut self, statement: &str, (first, last): (u64, u64)) {
        if self.sql.is_empty() {
            self.offsets = (first, last);
        } else {
            // The newline ends a `--` or `#` comment a replayed statement
            // may end with, so the `;` is not swallowed by it.
            self.sql.push_str("\n;");
        }
        self.offsets = (self.offsets.0.min(first), self.offsets.1.max(last));
        self.sql
            .push_str(statement.trim_end().trim_end_matches(';').trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_statements_are_separated_safely() {
        let mut p = Pending::default();
        p.push("BEGIN", (7, 7));
        p.push("UPDATE t SET a = 1 -- note;  ", (7, 8));
        p.push("COMMIT", (8, 8));
        assert_eq!(p.sql, "BEGIN\n;UPDATE t SET a = 1 -- note\n;COMMIT");
        assert_eq!(p.offsets, (7, 8));
    }
}
