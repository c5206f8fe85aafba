//! Finding the schema records (snapshots and DDL) in a log without reading
//! every record: a small side file, `DATA/NAME/schema-records`, lists their
//! offsets, one decimal number per line.
//!
//! The offset is written and fsynced *before* the record is appended (the
//! capture is the log's only writer, so it knows the offset in advance). An
//! entry at or past the log's end is a record that never made it and is
//! ignored; so the file can list too much, never too little. When the file
//! is missing or unreadable the whole log is scanned instead.
//!
//! Retention deletes whole segments, the log's first record (the schema
//! snapshot) among them. So every segment gets a *checkpoint*: a snapshot
//! record of the whole history, appended at the first transaction boundary
//! after the log rolls to it. The oldest segment left then holds one, and
//! the checkpoint plus the DDL after it rebuild the history; DDL records
//! before it in that segment are replaced by it.

use crate::proto::Record;
use crate::schema::{Dialect, SchemaHistory};
use prost::Message;
use sluice_storage::Log;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct SchemaLog {
    path: PathBuf,
    /// Base of the newest segment known to hold a snapshot record.
    checkpointed: Option<u64>,
}

impl SchemaLog {
    pub fn new(source_dir: &Path) -> SchemaLog {
        SchemaLog {
            path: source_dir.join("schema-records"),
            checkpointed: None,
        }
    }

    /// The checkpoint to append after a transaction that ended at
    /// `file:next` (committed at `commit_time_ms`), when the active segment
    /// still lacks one: the whole `history` as a snapshot record at that
    /// position, so that resuming from it resumes there.
    pub fn checkpoint(
        &self,
        log: &Log,
        history: &SchemaHistory,
        file: &str,
        next: u64,
        commit_time_ms: i64,
    ) -> Option<Record> {
        if self.checkpointed == Some(log.active_segment_base()) {
            return None;
        }
        Some(Record {
            position: Some(crate::proto::BinlogPosition {
                file: file.to_string(),
                start: next,
                next,
            }),
            commit_time_ms,
            snapshot: Some(history.snapshot()),
            last_part: true,
            ..Default::default()
        })
    }

    /// Note that the snapshot record at `offset` went into the active
    /// segment; retention keeps it until a later one exists.
    pub fn checkpointed(&mut self, log: &Log, offset: u64) {
        self.checkpointed = Some(log.active_segment_base());
        log.keep_from(offset);
    }

    /// Makes retention keep the newest snapshot record listed (before
    /// [`load`](Self::load), which needs the server's dialect).
    pub fn hold_newest(&self, log: &Log) -> Result<(), LoadError> {
        let end = log.last_record().next_offset;
        for offset in self.offsets().unwrap_or_default().into_iter().rev() {
            if offset < log.start_offset() || offset >= end {
                continue;
            }
            if let Some(record) = log.read_from(offset)?.next()? {
                if decode(record.offset, record.payload())?.snapshot.is_some() {
                    log.keep_from(offset);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Note that the record about to be appended at `offset` is a schema
    /// record.
    pub fn note(&self, offset: u64) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{offset}")?;
        // A failed fsync is followed by a new line, not trusted to a
        // retry: the capture resumes from the log and notes again.
        sluice_storage::fault::sync_data(&file, &self.path)
    }

    /// The offsets listed, or `None` when the file is missing or damaged.
    fn offsets(&self) -> Option<Vec<u64>> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let mut offsets = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            offsets.push(line.trim().parse().ok()?);
        }
        offsets.sort_unstable();
        offsets.dedup();
        Some(offsets)
    }

    /// Rebuild the schema history from the log's schema records. Fails
    /// when the log holds records but no snapshot: the history would be
    /// partial (a log whose segments were deleted before checkpoints).
    pub fn load(&mut self, log: &Log, dialect: Dialect) -> Result<SchemaHistory, LoadError> {
        let end = log.last_record().next_offset;
        let start = log.start_offset();
        let mut history = SchemaHistory::new(dialect);
        let mut last_snapshot = None;
        match self.offsets() {
            Some(offsets) => {
                // Below the start: deleted by retention, superseded by the
                // checkpoint of a later segment.
                for offset in offsets.into_iter().filter(|&o| o >= start && o < end) {
                    let mut reader = log.read_from(offset)?;
                    if let Some(record) = reader.next()? {
                        let rec = decode(record.offset, record.payload())?;
                        if rec.snapshot.is_some() {
                            last_snapshot = Some(record.offset);
                        }
                        history.apply_record(&rec);
                    }
                }
            }
            None => {
                // An empty log has nothing to scan: a new source, not damage.
                if end > start {
                    tracing::warn!(
                        file = %self.path.display(),
                        "schema record list missing or damaged: scanning the whole log for schema records"
                    );
                }
                let mut reader = log.read_from(start)?;
                let mut found = Vec::new();
                while let Some(record) = reader.next()? {
                    let rec = decode(record.offset, record.payload())?;
                    if rec.ddl.is_some() || rec.snapshot.is_some() {
                        if rec.snapshot.is_some() {
                            last_snapshot = Some(record.offset);
                        }
                        history.apply_record(&rec);
                        found.push(record.offset);
                    }
                }
                let text: String = found.iter().map(|o| format!("{o}\n")).collect();
                std::fs::write(&self.path, text)?;
            }
        }
        if end > start && last_snapshot.is_none() {
            return Err(LoadError::NoSnapshot { start });
        }
        let active = log.active_segment_base();
        self.checkpointed = last_snapshot.filter(|&o| o >= active).map(|_| active);
        if let Some(o) = last_snapshot {
            log.keep_from(o);
        }
        Ok(history)
    }
}

fn decode(offset: u64, payload: &[u8]) -> Result<Record, LoadError> {
    Record::decode(payload).map_err(|source| LoadError::Payload { offset, source })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading schema records: {0}")]
    Storage(#[from] sluice_storage::StorageError),
    #[error("schema record at offset {offset} is not a change event: {source}")]
    Payload {
        offset: u64,
        source: prost::DecodeError,
    },
    #[error("writing the schema record list: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the log (from offset {start}) holds no schema snapshot: retention deleted it before \
         this version wrote schema checkpoints, so column names and types of tables created \
         earlier are unknown; start a new log (move the log folder away) to capture again"
    )]
    NoSnapshot { start: u64 },
}

#[cfg(test)]
mod tests {
    //! Any sequence of appends, rolls, retention passes and reopenings
    //! rebuilds the same history as one that never deleted anything.

    use super::*;
    use crate::proto::{Column, Ddl, TableSchema};
    use proptest::prelude::*;
    use sluice_storage::{FsyncPolicy, LogConfig, NewRecord, SourcePos};

    #[derive(Clone, Debug)]
    enum Op {
        /// A DDL record: table `t{0}` gets `1 + {1}` columns (or is dropped).
        Ddl(u8, u8, bool),
        /// A transaction of rows (a filler record of this many bytes).
        Rows(u16),
        Roll,
        /// Delete every sealed segment retention could.
        Retention,
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0u8..4, 0u8..5, any::<bool>()).prop_map(|(t, n, d)| Op::Ddl(t, n, d)),
            5 => (1u16..3000).prop_map(Op::Rows),
            1 => Just(Op::Roll),
            2 => Just(Op::Retention),
            1 => Just(Op::Reopen),
        ]
    }

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            segment_age: None,
            fsync: FsyncPolicy::Never,
            retention_age: None,
            ..LogConfig::default()
        }
    }

    fn ddl(t: u8, n: u8, dropped: bool) -> Record {
        let columns = (0..=n)
            .map(|i| Column {
                name: format!("c{i}"),
                mysql_type: "int(11)".into(),
                ..Default::default()
            })
            .collect();
        Record {
            ddl: Some(Ddl {
                schema: "db".into(),
                statement: format!("-- t{t}"),
                tables: vec![TableSchema {
                    schema: "db".into(),
                    table: format!("t{t}"),
                    columns,
                    dropped,
                    charset: "utf8mb4".into(),
                }],
                databases: Vec::new(),
            }),
            last_part: true,
            ..Default::default()
        }
    }

    /// Appends `record` as the capture does: a schema record is listed
    /// first, then a checkpoint follows when the segment lacks one.
    fn append(log: &Log, sl: &mut SchemaLog, live: &SchemaHistory, record: &Record) {
        let schema = record.ddl.is_some() || record.snapshot.is_some();
        let offset = log.last_record().next_offset;
        if schema {
            sl.note(offset).unwrap();
        }
        let bytes = record.encode_to_vec();
        log.append(&[NewRecord {
            payload: &bytes,
            commit_time_ms: 0,
            position: SourcePos::new(1, offset + 4),
            gtid: Default::default(),
        }])
        .unwrap();
        if record.snapshot.is_some() {
            sl.checkpointed(log, offset);
        } else if let Some(cp) = sl.checkpoint(log, live, "b.1", offset + 4, 0) {
            append(log, sl, live, &cp);
        }
    }

    fn tables(h: &SchemaHistory) -> Vec<TableSchema> {
        let mut t = h.snapshot().tables;
        t.sort_by(|a, b| a.table.cmp(&b.table));
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn history_survives_any_retention(ops in proptest::collection::vec(op(), 1..60)) {
            let dir = tempfile::tempdir().unwrap();
            let source = dir.path();
            let log_dir = source.join("log");
            let mut log = Log::open(&log_dir, config()).unwrap();
            let mut sl = SchemaLog::new(source);
            let mut live = SchemaHistory::new(Dialect::default());
            // A new log starts with its snapshot.
            let first = Record { snapshot: Some(live.snapshot()), last_part: true, ..Default::default() };
            append(&log, &mut sl, &live, &first);
            for op in ops {
                match op {
                    Op::Ddl(t, n, dropped) => {
                        let r = ddl(t, n, dropped);
                        live.apply_record(&r);
                        append(&log, &mut sl, &live, &r);
                    }
                    Op::Rows(n) => {
                        let r = Record {
                            statements: vec![crate::proto::Statement { schema: "db".into(), text: "x".repeat(n as usize) }],
                            last_part: true,
                            ..Default::default()
                        };
                        append(&log, &mut sl, &live, &r);
                    }
                    Op::Roll => log.roll().unwrap(),
                    Op::Retention => {
                        let end = log.last_record().next_offset;
                        log.delete_before(end).unwrap();
                    }
                    Op::Reopen => {
                        drop(log);
                        log = Log::open(&log_dir, config()).unwrap();
                        sl = SchemaLog::new(source);
                        let loaded = sl.load(&log, Dialect::default()).unwrap();
                        prop_assert_eq!(tables(&loaded), tables(&live));
                    }
                }
            }
            drop(log);
            let log = Log::open(&log_dir, config()).unwrap();
            let loaded = SchemaLog::new(source).load(&log, Dialect::default()).unwrap();
            prop_assert_eq!(tables(&loaded), tables(&live));
        }
    }
}
