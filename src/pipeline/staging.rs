//! Staging: decoded transactions made into log records ready to append —
//! cut into parts where large, encoded, with the keys the log and the
//! status need.

use super::spill::Chunk;
use super::split::split;
use crate::proto::encode::{self, Sizes};
use crate::proto::Record;

/// Records above this size are split into parts (see [`super::split`]).
pub(super) const PART_BYTES: usize = 4 << 20;

/// A log record ready to append: its encoded bytes and the keys the log
/// and the status need.
pub(super) struct Staged {
    pub(super) bytes: Vec<u8>,
    pub(super) commit_time_ms: i64,
    pub(super) file: String,
    pub(super) next: u64,
    pub(super) gtid: String,
    /// Index the record by its GTID: the last part of a transaction (the
    /// transaction is in the log once it is complete); never a snapshot,
    /// whose `gtid` is the server's whole set, not a contribution.
    pub(super) index_gtid: bool,
    pub(super) last_part: bool,
    /// A DDL or snapshot record, listed in the schema record list.
    pub(super) schema: bool,
    /// A snapshot record (the first one, or a checkpoint).
    pub(super) snapshot: bool,
    pub(super) rows: u64,
    /// A table snapshot's record: its label in the snapshot record list.
    pub(super) snapshot_label: Option<String>,
}

impl Staged {
    /// `chunk`: changes encoded ahead, appended after the record's own
    /// fields (a protobuf message may repeat a field anywhere).
    /// `sizes`: the record's [`Sizes`].
    fn new(record: Record, sizes: &Sizes, chunk: Option<Chunk>) -> Staged {
        let position = record.position.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        encode::encode(&record, sizes, &mut bytes);
        let mut rows: u64 = record.changes.iter().map(|c| c.rows.len() as u64).sum();
        if let Some(chunk) = chunk {
            bytes.extend_from_slice(&chunk.bytes);
            rows += chunk.rows;
        }
        Staged {
            bytes,
            commit_time_ms: record.commit_time_ms,
            file: position.file,
            next: position.next,
            index_gtid: record.last_part && record.snapshot.is_none(),
            last_part: record.last_part,
            schema: record.ddl.is_some() || record.snapshot.is_some(),
            snapshot: record.snapshot.is_some(),
            rows,
            snapshot_label: record
                .snapshot_chunk
                .as_ref()
                .map(|c| crate::snapshot::progress::label(c)),
            gtid: record.gtid,
        }
    }
}

/// Split `record` into parts where large and encode each part, so the
/// decoded form is dropped right away (a decoded transaction takes a
/// few times its encoded size). `chunks` are its changes encoded ahead
/// (see [`super::spill::Spill`]): each becomes a part of its own, before the parts of
/// what `record` still holds. Returns the bytes staged.
/// `skip_parts`: (start, n) of a transaction whose first n parts the log
/// already holds (an interrupted earlier run).
pub(super) fn stage(
    mut record: Record,
    chunks: Vec<Chunk>,
    skip_parts: &mut Option<(u64, u32)>,
    staged: &mut Vec<Staged>,
) -> usize {
    let start = record.position.as_ref().map(|p| p.start).unwrap_or(0);
    // Most transactions are one part: their size, worked out once, serves
    // both the split check and the encoding.
    let resumed_here = skip_parts.is_some_and(|(at, _)| at == start);
    if chunks.is_empty() && !resumed_here {
        record.part = 0;
        record.last_part = true;
        let sizes = Sizes::of(&record);
        if sizes.total() <= PART_BYTES {
            let s = Staged::new(record, &sizes, None);
            let bytes = s.bytes.len();
            staged.push(s);
            return bytes;
        }
    }
    let mut parts: Vec<(Record, Option<Chunk>)> = Vec::new();
    if !chunks.is_empty() {
        let header = Record {
            changes: Vec::new(),
            statements: Vec::new(),
            ..record.clone()
        };
        parts.extend(chunks.into_iter().map(|c| (header.clone(), Some(c))));
    }
    let rest_empty =
        record.changes.is_empty() && record.statements.is_empty() && record.ddl.is_none();
    if parts.is_empty() || !rest_empty {
        parts.extend(split(record, PART_BYTES).into_iter().map(|p| (p, None)));
    }
    let count = parts.len();
    for (i, (part, _)) in parts.iter_mut().enumerate() {
        part.part = i as u32;
        part.last_part = i + 1 == count;
    }
    if let Some((skip_start, present)) = *skip_parts {
        if skip_start == start {
            parts.retain(|(p, _)| p.part >= present);
            *skip_parts = None;
        }
    }
    let mut bytes = 0;
    for (part, chunk) in parts {
        let sizes = Sizes::of(&part);
        let s = Staged::new(part, &sizes, chunk);
        bytes += s.bytes.len();
        staged.push(s);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::spill::Spill;
    use crate::proto::{self, TableChange};
    use crate::proto::{value::Kind, ChangeKind, Image, Row, Value};
    use prost::Message;

    fn change(table: &str, rows: std::ops::Range<u64>) -> TableChange {
        TableChange {
            schema: "s".into(),
            table: table.into(),
            kind: ChangeKind::Insert as i32,
            rows: rows
                .map(|r| Row {
                    before: None,
                    after: Some(Image {
                        values: vec![Value {
                            kind: Some(Kind::Uint(r)),
                        }],
                    }),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn record(changes: Vec<TableChange>) -> Record {
        Record {
            position: Some(proto::BinlogPosition {
                file: "bin.000003".into(),
                start: 400,
                next: 900,
            }),
            gtid: "0-1-9".into(),
            commit_time_ms: 77,
            changes,
            last_part: true,
            ..Default::default()
        }
    }

    fn decoded(staged: &[Staged]) -> Vec<Record> {
        staged
            .iter()
            .map(|s| Record::decode(s.bytes.as_slice()).expect("a staged part decodes"))
            .collect()
    }

    #[test]
    fn spilled_chunks_become_leading_parts_of_their_transaction() {
        let mut spill = Spill::default();
        let owner = ("bin.000003".to_string(), 400);
        spill.push(owner.clone(), &[change("a", 0..3), change("b", 3..5)]);
        spill.push(owner, &[change("a", 5..6)]);
        let rec = record(vec![change("a", 6..8)]);
        let chunks = spill.take_for(&rec, "test");
        assert_eq!(chunks.len(), 2);
        let mut staged = Vec::new();
        stage(rec, chunks, &mut None, &mut staged);
        let parts = decoded(&staged);
        assert_eq!(parts.len(), 3);
        let mut rows = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.part, i as u32);
            assert_eq!(p.last_part, i == 2);
            assert_eq!((p.gtid.as_str(), p.commit_time_ms), ("0-1-9", 77));
            assert_eq!(
                p.position.as_ref().map(|p| (p.start, p.next)),
                Some((400, 900))
            );
            for c in &p.changes {
                for r in &c.rows {
                    let v = &r.after.as_ref().unwrap().values[0];
                    rows.push((c.table.clone(), v.kind.clone()));
                }
            }
        }
        let expect: Vec<_> = [("a", 0), ("a", 1), ("a", 2), ("b", 3), ("b", 4), ("a", 5)]
            .into_iter()
            .chain([("a", 6), ("a", 7)])
            .map(|(t, r)| (t.to_string(), Some(Kind::Uint(r))))
            .collect();
        assert_eq!(rows, expect);
        assert_eq!(staged.iter().map(|s| s.rows).sum::<u64>(), 8);
        assert_eq!(staged.iter().filter(|s| s.index_gtid).count(), 1);
    }

    #[test]
    fn a_transaction_whose_rows_all_went_ahead_ends_with_its_last_chunk() {
        let mut spill = Spill::default();
        spill.push(("bin.000003".into(), 400), &[change("a", 0..2)]);
        let rec = record(Vec::new());
        let chunks = spill.take_for(&rec, "test");
        let mut staged = Vec::new();
        stage(rec, chunks, &mut None, &mut staged);
        let parts = decoded(&staged);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].last_part);
        assert_eq!(parts[0].changes[0].rows.len(), 2);
    }

    #[test]
    fn chunks_of_a_dropped_transaction_never_reach_another() {
        let mut spill = Spill::default();
        spill.push(("bin.000003".into(), 100), &[change("a", 0..2)]);
        let rec = record(vec![change("b", 0..1)]);
        assert!(spill.take_for(&rec, "test").is_empty());
        let mut staged = Vec::new();
        stage(rec, Vec::new(), &mut None, &mut staged);
        let parts = decoded(&staged);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].changes.len(), 1);
        assert_eq!(parts[0].changes[0].table, "b");
    }

    #[test]
    fn a_resumed_transaction_skips_the_parts_the_log_holds() {
        let mut spill = Spill::default();
        let owner = ("bin.000003".to_string(), 400);
        spill.push(owner.clone(), &[change("a", 0..1)]);
        spill.push(owner, &[change("a", 1..2)]);
        let rec = record(vec![change("a", 2..3)]);
        let chunks = spill.take_for(&rec, "test");
        let mut staged = Vec::new();
        let mut skip = Some((400, 2));
        stage(rec, chunks, &mut skip, &mut staged);
        let parts = decoded(&staged);
        assert_eq!(skip, None);
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].part, parts[0].last_part), (2, true));
    }
}
