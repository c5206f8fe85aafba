//! A new log's start: the start point resolved, the captured tables'
//! definitions read from the server and stored as the log's first record
//! (retried while DDL lands in between), and (`snapshot_new_tables`) the
//! tables a widened filter takes in.

use super::*;

impl Capture {
    /// A new log: resolve the start point, snapshot the captured tables'
    /// definitions, and store the snapshot as the log's first record, at the
    /// start position (so resuming from it starts there).
    pub(super) async fn initialize(
        &mut self,
        conn: &mut Connection,
        dialect: &Dialect,
    ) -> Result<DumpFrom, CaptureError> {
        // The snapshot must describe the tables as they are at the start
        // position. For `current`, read the position before and after the
        // snapshot and retry while a DDL statement landed in between.
        let mut attempt = 0;
        let (from, snapshot) = loop {
            attempt += 1;
            let mut from = conn
                .resolve_start(&self.opts.start)
                .await
                .map_err(|e| self.source_err(e))?;
            let snapshot = self.take_snapshot(conn, dialect).await?;
            if self.opts.start != StartPoint::Current {
                tracing::info!(source = %self.opts.name, "the schema snapshot is taken now, not at the start position: DDL between the two is applied again from the binlog");
                break (from, snapshot);
            }
            let after = conn.master_status().await.map_err(|e| self.source_err(e))?;
            let ddl = ddl_between(conn, &from, &after.file, after.pos)
                .await
                .map_err(|e| self.source_err(e))?;
            if !ddl || attempt >= 10 {
                if ddl {
                    tracing::warn!(source = %self.opts.name, "DDL keeps landing while the schema snapshot is taken; using the last one");
                }
                // A log that starts here can resume by GTID too.
                if after.file == from.file && after.pos == from.pos {
                    from.gtid_set = None;
                    self.start_gtid = after.gtid_set;
                }
                break (from, snapshot);
            }
            tracing::info!(source = %self.opts.name, "DDL during the schema snapshot; taking it again");
        };
        self.history.load_snapshot(&snapshot);
        tracing::info!(
            source = %self.opts.name,
            from = %describe(&from),
            tables = snapshot.tables.len(),
            "new log: starting capture"
        );
        let record = Record {
            position: Some(proto::BinlogPosition {
                file: from.file.clone(),
                start: from.pos,
                next: from.pos,
            }),
            gtid: from
                .gtid_set
                .clone()
                .or_else(|| self.start_gtid.take())
                .unwrap_or_default(),
            commit_time_ms: chrono::Utc::now().timestamp_millis(),
            snapshot: Some(snapshot),
            last_part: true,
            ..Default::default()
        };
        self.append_records(vec![record])?;
        Ok(from)
    }

    /// Snapshot hook (`snapshot_new_tables`): the tables the filter takes
    /// in on the server that the history lacks and no snapshot of the log
    /// planned go into the history now (so their row events are named)
    /// and to the driver, which snapshots them.
    pub(super) async fn add_new_tables(
        &mut self,
        conn: &mut Connection,
        dialect: &Dialect,
        driver: &mut crate::snapshot::Driver,
    ) -> Result<(), CaptureError> {
        let server = self.take_snapshot(conn, dialect).await?;
        let candidates = server
            .tables
            .iter()
            .filter(|t| !t.dropped && self.history.table(&t.schema, &t.table).is_none())
            .map(|t| format!("{}.{}", t.schema, t.table))
            .collect();
        let fresh = driver
            .add_new_tables(&self.log, candidates)
            .map_err(|e| self.snapshot_err(e))?;
        for d in &server.databases {
            if self.history.database_charset(&d.name).is_none() {
                self.history.set_database(&d.name, &d.charset);
            }
        }
        for t in server.tables {
            if fresh.contains(&format!("{}.{}", t.schema, t.table)) {
                self.history.set_table(t);
            }
        }
        Ok(())
    }

    /// The captured tables' definitions as the server has them now.
    pub(super) async fn take_snapshot(
        &self,
        conn: &mut Connection,
        dialect: &Dialect,
    ) -> Result<proto::SchemaSnapshot, CaptureError> {
        let databases = conn
            .query(catalog::DATABASES_SQL)
            .await
            .map_err(|e| self.source_err(e))?;
        let columns = conn
            .query(&catalog::columns_sql())
            .await
            .map_err(|e| self.source_err(e))?;
        let filter = self.opts.filter.clone();
        catalog::parse_snapshot(&databases, &columns, dialect, &|s: &str, t: &str| {
            filter.matches(s, t)
        })
        .map_err(|e| CaptureError::Other {
            name: self.opts.name.clone(),
            message: e.to_string(),
        })
    }
}

/// Did a statement other than a transaction's BEGIN/COMMIT (so: a DDL)
/// reach the binlog between `from` and `file:pos`? A rotation in between
/// counts as yes (the caller retries).
async fn ddl_between(
    conn: &mut Connection,
    from: &DumpFrom,
    file: &str,
    pos: u64,
) -> Result<bool, SourceError> {
    if from.file != file {
        return Ok(true);
    }
    if from.pos >= pos {
        return Ok(false);
    }
    let rows = conn
        .query(&format!(
            "SHOW BINLOG EVENTS IN {} FROM {}",
            catalog::quote_literal(file),
            from.pos
        ))
        .await?;
    for row in rows {
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let end: u64 = field(4).parse().unwrap_or(u64::MAX);
        if end > pos {
            break;
        }
        if field(2) != "Query" {
            continue;
        }
        let info = field(5);
        let statement = match info.strip_prefix("use ") {
            Some(rest) => rest.split_once("; ").map(|(_, s)| s).unwrap_or(rest),
            None => info.as_str(),
        };
        let word = statement
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !matches!(
            word.as_str(),
            "BEGIN" | "COMMIT" | "ROLLBACK" | "XA" | "SAVEPOINT"
        ) {
            return Ok(true);
        }
    }
    Ok(false)
}
