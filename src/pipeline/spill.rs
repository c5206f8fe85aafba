//! Spilling: the rows of a large transaction still open in the decoder,
//! named, filtered and encoded ahead of its commit, so memory holds them
//! at about their binlog size.

use crate::filter::TableFilter;
use crate::proto::{Record, TableChange};
use crate::schema::SchemaHistory;

/// The changes of a large open transaction, taken out of the decoder every
/// `PART_BYTES` of rows events and encoded at once, so a transaction of a
/// million rows is held encoded (about its binlog size) rather than
/// decoded (several times that) until its commit arrives.
#[derive(Default)]
pub(super) struct Spill {
    /// The transaction the chunks belong to: binlog file and start.
    owner: Option<(String, u64)>,
    chunks: Vec<Chunk>,
}

/// Encoded `TableChange`s as the repeated `changes` field of a `Record`.
pub(super) struct Chunk {
    pub(super) bytes: Vec<u8>,
    pub(super) rows: u64,
}

/// Field number of `Record.changes` in change.proto.
const RECORD_CHANGES_FIELD: u32 = 5;

impl Spill {
    /// Name, filter and encode the row changes taken out of the open
    /// transaction that starts at `owner` (file, position). Gives the
    /// changes back, named and filtered.
    pub(super) fn add(
        &mut self,
        history: &mut SchemaHistory,
        filter: &TableFilter,
        source: &str,
        owner: (String, u64),
        mut changes: Vec<TableChange>,
    ) -> Vec<TableChange> {
        let mut warnings: Vec<String> = Vec::new();
        let at = crate::schema::At(Some((&owner.0, owner.1)));
        for change in &mut changes {
            if let Some(w) = history.enrich(change, &at) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        for w in warnings {
            tracing::warn!(source = %source, "{w}");
        }
        changes.retain(|c| filter.matches(&c.schema, &c.table));
        self.push(owner, &changes);
        changes
    }

    pub(super) fn push(&mut self, owner: (String, u64), changes: &[TableChange]) {
        if self.owner.as_ref() != Some(&owner) {
            self.chunks.clear();
            self.owner = Some(owner);
        }
        if changes.is_empty() {
            return;
        }
        let mut bytes = Vec::new();
        let mut rows = 0;
        for change in changes {
            crate::proto::encode::change_field(RECORD_CHANGES_FIELD, change, &mut bytes);
            rows += change.rows.len() as u64;
        }
        self.chunks.push(Chunk { bytes, rows });
    }

    /// The chunks of `record`'s transaction. Chunks of another transaction
    /// (one the decoder dropped unfinished) are discarded with a warning.
    pub(super) fn take_for(&mut self, record: &Record, source: &str) -> Vec<Chunk> {
        let Some(owner) = self.owner.take() else {
            return Vec::new();
        };
        let chunks = std::mem::take(&mut self.chunks);
        let position = record.position.as_ref();
        if position.is_some_and(|p| p.file == owner.0 && p.start == owner.1) {
            return chunks;
        }
        if !chunks.is_empty() {
            tracing::warn!(
                source,
                "the transaction at {}:{} never committed in the stream; its {} rows read so far are dropped",
                owner.0,
                owner.1,
                chunks.iter().map(|c| c.rows).sum::<u64>()
            );
        }
        Vec::new()
    }
}
