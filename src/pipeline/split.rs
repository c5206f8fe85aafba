//! Splitting a very large transaction into several log records.
//!
//! A record is one committed transaction; one of 100k rows would make a
//! record of many megabytes that every reader must hold at once. Above a
//! size bound the transaction is cut between rows into parts that share its
//! position, GTID and time, numbered by `part` from 0, the final one with
//! `last_part` set. A consumer delivers the parts together; a transaction
//! that fits is one record with `part = 0, last_part = true`.

use crate::proto::{Record, TableChange};
use prost::Message;

/// Cut `record` into parts of at most about `max_bytes` encoded each (a
/// single row larger than that gets a part of its own).
pub fn split(mut record: Record, max_bytes: usize) -> Vec<Record> {
    record.part = 0;
    record.last_part = true;
    if record.encoded_len() <= max_bytes || record.changes.is_empty() {
        return vec![record];
    }
    let changes = std::mem::take(&mut record.changes);
    let mut parts: Vec<Record> = Vec::new();
    let mut current: Vec<TableChange> = Vec::new();
    let mut current_bytes = 0usize;
    for mut change in changes {
        let rows = std::mem::take(&mut change.rows);
        let mut piece = TableChange { ..change.clone() };
        let header_bytes = piece.encoded_len() + 8;
        for row in rows {
            let row_bytes = row.encoded_len() + 4;
            if current_bytes + header_bytes + row_bytes > max_bytes
                && (current_bytes > 0 || !piece.rows.is_empty())
            {
                if !piece.rows.is_empty() {
                    current.push(std::mem::replace(
                        &mut piece,
                        TableChange { ..change.clone() },
                    ));
                }
                parts.push(Record {
                    changes: std::mem::take(&mut current),
                    ..record.clone()
                });
                current_bytes = 0;
            }
            current_bytes += row_bytes;
            piece.rows.push(row);
        }
        current_bytes += header_bytes;
        current.push(piece);
    }
    if !current.is_empty() {
        parts.push(Record {
            changes: current,
            ..record.clone()
        });
    }
    let count = parts.len();
    for (i, part) in parts.iter_mut().enumerate() {
        if i > 0 {
            // The transaction's non-row statements go with its first part
            // only: a consumer (the mirror runs them) must see them once.
            part.statements.clear();
        }
        part.part = i as u32;
        part.last_part = i + 1 == count;
    }
    parts
}

/// Consecutive row ranges of `change` of about `max_bytes` encoded each (a
/// single larger row gets a range of its own); one empty range for a change
/// without rows. Consumers cut a large change (one bulk statement can hold
/// a whole part's rows) into messages or entries of a size their protocol
/// carries.
pub fn row_chunks(change: &TableChange, max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0usize, 0usize);
    for (i, row) in change.rows.iter().enumerate() {
        let n = row.encoded_len();
        if bytes + n > max_bytes && i > start {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    out.push(start..change.rows.len());
    out
}

/// `change` with only the rows of `rows`.
pub fn with_rows(change: &TableChange, rows: std::ops::Range<usize>) -> TableChange {
    TableChange {
        schema: change.schema.clone(),
        table: change.table.clone(),
        kind: change.kind,
        columns: change.columns.clone(),
        names_known: change.names_known,
        rows: change.rows.get(rows).unwrap_or_default().to_vec(),
        query: change.query.clone(),
        signedness_known: change.signedness_known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{value, ChangeKind, Image, Row, Value};
    use proptest::prelude::*;

    fn record(tables: &[(usize, usize)]) -> Record {
        let changes = tables
            .iter()
            .enumerate()
            .map(|(t, &(rows, width))| TableChange {
                schema: "s".into(),
                table: format!("t{t}"),
                kind: ChangeKind::Insert as i32,
                rows: (0..rows)
                    .map(|r| Row {
                        before: None,
                        after: Some(Image {
                            values: vec![
                                Value {
                                    kind: Some(value::Kind::Uint(r as u64)),
                                },
                                Value {
                                    kind: Some(value::Kind::Text("x".repeat(width))),
                                },
                            ],
                        }),
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        Record {
            gtid: "0-1-7".into(),
            commit_time_ms: 42,
            changes,
            ..Default::default()
        }
    }

    /// All rows of all parts, in order, with their table.
    fn rows(parts: &[Record]) -> Vec<(String, Row)> {
        parts
            .iter()
            .flat_map(|p| p.changes.iter())
            .flat_map(|c| c.rows.iter().map(|r| (c.table.clone(), r.clone())))
            .collect()
    }

    #[test]
    fn a_small_transaction_stays_whole() {
        let parts = split(record(&[(3, 10)]), 1 << 20);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].last_part);
        assert_eq!(parts[0].part, 0);
    }

    #[test]
    fn a_large_transaction_is_cut_between_rows_in_order() {
        let original = record(&[(1000, 100), (500, 10)]);
        let parts = split(original.clone(), 16 * 1024);
        assert!(parts.len() > 5, "{} parts", parts.len());
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.part as usize, i);
            assert_eq!(p.last_part, i + 1 == parts.len());
            assert_eq!(p.gtid, "0-1-7");
            assert!(
                p.encoded_len() <= 16 * 1024 + 200,
                "part {i}: {}",
                p.encoded_len()
            );
        }
        assert_eq!(rows(&parts), rows(&[original]));
    }

    #[test]
    fn statements_go_with_the_first_part_only() {
        let mut original = record(&[(1000, 100)]);
        original.statements = vec![crate::proto::Statement {
            schema: "db".into(),
            text: "INSERT INTO t2 SELECT * FROM t1".into(),
        }];
        let parts = split(original, 16 * 1024);
        assert!(parts.len() > 1);
        assert_eq!(parts[0].statements.len(), 1);
        assert!(parts[1..].iter().all(|p| p.statements.is_empty()));
    }

    proptest! {
        #[test]
        fn parts_keep_every_row_once_in_order(
            tables in proptest::collection::vec((0usize..50, 0usize..300), 1..5),
            max in 64usize..8192,
        ) {
            let original = record(&tables);
            let parts = split(original.clone(), max);
            prop_assert_eq!(rows(&parts), rows(&[original]));
            prop_assert!(parts.last().is_some_and(|p| p.last_part));
            prop_assert_eq!(parts.iter().filter(|p| p.last_part).count(), 1);
        }
    }
}
