//! Where a snapshot stands, from the log: the plan record (the tables to
//! read) and each table's newest chunk record (its last key, done or not).
//!
//! A side file, `DATA/NAME/snapshot-records`, lists the offsets of those
//! records with their table (`OFFSET<TAB>schema.table`, `OFFSET<TAB>*` for
//! the plan), written and fsynced before the record is appended, like the
//! schema record list: an entry at or past the log's end never made it
//! and is ignored. Without the file the log is scanned once and the file
//! written from what it holds. The log is the truth; the file only saves
//! reading it.

use crate::proto::{Record, SnapshotChunk};
use prost::Message;
use sluice_storage::Log;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The side file's label for a snapshot record: `*` (`*ID` on demand)
/// for a plan, `schema.table` (`ID:schema.table`) for a chunk.
pub fn label(chunk: &SnapshotChunk) -> String {
    let id = match chunk.snapshot_id {
        0 => String::new(),
        id => id.to_string(),
    };
    if chunk.plan.is_empty() {
        table_label(
            chunk.snapshot_id,
            &format!("{}.{}", chunk.schema, chunk.table),
        )
    } else {
        format!("*{id}")
    }
}

/// The label of table `name` (`schema.table`) in snapshot `id`.
pub fn table_label(id: u64, name: &str) -> String {
    match id {
        0 => name.to_string(),
        id => format!("{id}:{name}"),
    }
}

pub struct RecordList {
    path: PathBuf,
}

/// The durable state of a snapshot.
#[derive(Debug, Default)]
pub struct State {
    /// Each snapshot's newest plan record (a cancel is one), by id.
    pub plans: std::collections::BTreeMap<u64, SnapshotChunk>,
    /// Each table's newest chunk record, by [`label`].
    pub tables: HashMap<String, SnapshotChunk>,
    /// The initial snapshot's plan record was deleted by retention.
    pub plan_lost: bool,
}

impl RecordList {
    pub fn new(source_dir: &Path) -> RecordList {
        RecordList {
            path: source_dir.join("snapshot-records"),
        }
    }

    /// Note that the record about to be appended at `offset` is a
    /// snapshot record labelled `label`.
    pub fn note(&self, offset: u64, label: &str) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{offset}\t{label}")?;
        file.sync_data()
    }

    /// The state the log holds; `None` when it holds no snapshot.
    pub fn load(&self, log: &Log) -> Result<Option<State>, String> {
        let end = log.last_record().next_offset;
        let start = log.start_offset();
        let read = |offset: u64| -> Result<Option<SnapshotChunk>, String> {
            let mut reader = log.read_from(offset).map_err(|e| e.to_string())?;
            let Some(r) = reader.next().map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            let rec = Record::decode(r.payload().as_ref())
                .map_err(|e| format!("log record {offset} is not a change event: {e}"))?;
            Ok(rec.snapshot_chunk.map(|c| *c))
        };
        let mut state = State::default();
        let mut found = false;
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                // The newest listed record of each label.
                let mut newest: HashMap<String, u64> = HashMap::new();
                for line in text.lines() {
                    let Some((offset, label)) = line.split_once('\t') else {
                        continue;
                    };
                    let Ok(offset) = offset.parse::<u64>() else {
                        continue;
                    };
                    if offset >= end {
                        continue;
                    }
                    let e = newest.entry(label.to_string()).or_insert(offset);
                    *e = (*e).max(offset);
                }
                for (label, offset) in newest {
                    found = true;
                    if offset < start {
                        state.plan_lost |= label == "*";
                        continue;
                    }
                    if let Some(chunk) = read(offset)? {
                        absorb(&mut state, chunk);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && end > start => {
                // Once: the list is written from what the scan found (an
                // empty list for a log without snapshots).
                tracing::info!(file = %self.path.display(), "no snapshot record list: scanning the log once");
                let mut reader = log.read_from(start).map_err(|e| e.to_string())?;
                let mut text = String::new();
                while let Some(r) = reader.next().map_err(|e| e.to_string())? {
                    if let Ok(rec) = Record::decode(r.payload().as_ref()) {
                        if let Some(chunk) = rec.snapshot_chunk {
                            found = true;
                            text.push_str(&format!("{}\t{}\n", r.offset, label(&chunk)));
                            absorb(&mut state, *chunk);
                        }
                    }
                }
                std::fs::write(&self.path, text)
                    .map_err(|e| format!("writing {}: {e}", self.path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("reading {}: {e}", self.path.display())),
        }
        Ok(found.then_some(state))
    }
}

fn absorb(state: &mut State, chunk: SnapshotChunk) {
    if !chunk.plan.is_empty() {
        state.plans.insert(chunk.snapshot_id, chunk);
    } else {
        state.tables.insert(label(&chunk), chunk);
    }
}
