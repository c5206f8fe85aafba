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

    /// Whether the active segment still lacks a checkpoint.
    pub fn checkpoint_due(&self, log: &Log) -> bool {
        self.checkpointed != Some(log.active_segment_base())
    }

    /// Note that a snapshot record went into the active segment.
    pub fn checkpointed(&mut self, log: &Log) {
        self.checkpointed = Some(log.active_segment_base());
    }

    /// Note that the record about to be appended at `offset` is a schema
    /// record.
    pub fn note(&self, offset: u64) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{offset}")?;
        file.sync_data()
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
