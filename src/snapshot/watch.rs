//! The watermark merge's memory: which keys the binlog stream changed
//! while a chunk was being read, so the chunk leaves them out.
//!
//! A chunk reader *holds* its table before it reads the low watermark;
//! from then on the capture records the key of every row the stream
//! changes in that table (before and after images, so a key update
//! counts for both keys) with its binlog position. When the stream has
//! passed the chunk's high watermark, the capture *releases* the hold and
//! gets every key changed at or after the window's start: those rows are
//! in the log already, newer than the chunk's copy, and are dropped from
//! it. Entries no remaining hold can need are pruned then, so memory
//! follows the write rate during a chunk, not the table's size.

use crate::proto::{value::Kind, TableChange, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// A binlog position that orders across files: (file number, offset).
pub type Pos = (u32, u64);

/// A key's canonical bytes: the same for the binlog's value and the
/// snapshot's (integers by number whatever their signedness, text and
/// bytes by their bytes).
pub fn key_bytes<'a>(values: impl Iterator<Item = Option<&'a Value>>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let part: Vec<u8> = match v.and_then(|v| v.kind.as_ref()) {
            Some(Kind::Int(i)) => format!("i{i}").into_bytes(),
            Some(Kind::Uint(u)) => format!("i{u}").into_bytes(),
            Some(Kind::Text(s)) => [b"s", s.as_bytes()].concat(),
            Some(Kind::Bytes(b)) => [b"s".as_slice(), b].concat(),
            Some(other) => format!("{other:?}").into_bytes(),
            None => b"-".to_vec(),
        };
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(&part);
    }
    out
}

#[derive(Default)]
pub struct Watch {
    tables: Mutex<HashMap<(String, String), TableWatch>>,
}

#[derive(Default)]
struct TableWatch {
    /// Ordinal positions of the key columns.
    key: Vec<usize>,
    /// Hold id → the sequence number of the first entry it may need.
    holds: BTreeMap<u64, u64>,
    /// (sequence, position, key) of every change seen while held.
    changed: Vec<(u64, Pos, Vec<u8>)>,
    next_seq: u64,
}

impl Watch {
    /// Start watching `schema.table` (key columns at `key`; none: the
    /// table is read whole) for the chunk `id` about to be read.
    pub fn hold(&self, schema: &str, table: &str, key: &[usize], id: u64) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = tables
            .entry((schema.to_string(), table.to_string()))
            .or_default();
        t.key = key.to_vec();
        let seq = t.next_seq;
        t.holds.insert(id, seq);
    }

    /// Is `schema.table` being read whole (no key)?
    pub fn whole_held(&self, schema: &str, table: &str) -> bool {
        let tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        // Asked for every change the stream captures: no key built when
        // nothing is held.
        !tables.is_empty()
            && tables
                .get(&(schema.to_string(), table.to_string()))
                .is_some_and(|t| t.key.is_empty() && !t.holds.is_empty())
    }

    /// Record the keys of `change` (in the transaction that starts at `at`)
    /// if its table is held.
    pub fn observe(&self, changes: &[TableChange], at: Pos) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if tables.is_empty() {
            return;
        }
        for change in changes {
            let Some(t) = tables.get_mut(&(change.schema.clone(), change.table.clone())) else {
                continue;
            };
            if t.holds.is_empty() {
                continue;
            }
            for row in &change.rows {
                for image in [&row.before, &row.after].into_iter().flatten() {
                    let key = key_bytes(t.key.iter().map(|&i| image.values.get(i)));
                    let seq = t.next_seq;
                    t.next_seq += 1;
                    t.changed.push((seq, at, key));
                }
            }
        }
    }

    /// End hold `id`: the keys changed at or after `start` since it began.
    pub fn release(&self, schema: &str, table: &str, id: u64, start: Pos) -> HashSet<Vec<u8>> {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let key = (schema.to_string(), table.to_string());
        let Some(t) = tables.get_mut(&key) else {
            return HashSet::new();
        };
        let from_seq = t.holds.remove(&id).unwrap_or(0);
        let keys = t
            .changed
            .iter()
            .filter(|(seq, pos, _)| *seq >= from_seq && *pos >= start)
            .map(|(_, _, k)| k.clone())
            .collect();
        match t.holds.values().min().copied() {
            Some(min) => t.changed.retain(|(seq, _, _)| *seq >= min),
            None => {
                tables.remove(&key);
            }
        }
        keys
    }

    /// Forget every hold (a new capture session reads its chunks again).
    pub fn clear(&self) {
        self.tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Image, Row};

    fn v(i: i64) -> Value {
        Value {
            kind: Some(Kind::Int(i)),
        }
    }

    fn update(from: i64, to: i64) -> TableChange {
        TableChange {
            schema: "d".into(),
            table: "t".into(),
            rows: vec![Row {
                before: Some(Image {
                    values: vec![v(from), v(0)],
                }),
                after: Some(Image {
                    values: vec![v(to), v(1)],
                }),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_key_update_drops_both_keys_in_the_window_only() {
        let w = Watch::default();
        w.observe(&[update(1, 2)], (1, 10)); // not held yet: ignored
        w.hold("d", "t", &[0], 7);
        w.observe(&[update(3, 4)], (1, 50)); // before the window's start
        w.observe(&[update(5, 6)], (1, 100));
        let keys = w.release("d", "t", 7, (1, 100));
        let key = |i: i64| key_bytes([Some(&v(i))].into_iter());
        let expect: HashSet<_> = [key(5), key(6)].into_iter().collect();
        assert_eq!(keys, expect);
        // Released: nothing kept.
        w.observe(&[update(8, 9)], (1, 200));
        assert!(w.release("d", "t", 8, (0, 0)).is_empty());
    }

    #[test]
    fn signed_and_unsigned_integers_are_one_key() {
        let u = Value {
            kind: Some(Kind::Uint(5)),
        };
        assert_eq!(
            key_bytes([Some(&v(5))].into_iter()),
            key_bytes([Some(&u)].into_iter())
        );
    }
}
