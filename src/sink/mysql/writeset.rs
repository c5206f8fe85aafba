//! Write sets of the parallel mirror (MySQL's WRITESET idea): the keys a
//! transaction touches on the target, each a hash of (database, table,
//! key name, key values) for the primary key and every unique key, from
//! before and after images. Two transactions whose sets share a hash
//! may not be applied at the same time ([`super::schedule`]).
//!
//! The unique keys are the target's own (`information_schema.STATISTICS`,
//! `NON_UNIQUE = 0`, the primary key included): the target's indexes are
//! what makes two statements collide there. A table with no unique key
//! on the target has one key, the table itself, so its transactions apply
//! one after the other. When a transaction's images lack a key's value
//! (minimal row images) or the log lacks a key column, the set cannot be
//! known: the transaction becomes a barrier.
//!
//! Strings are compared as a case- and accent-insensitive collation
//! would: lower case, Latin-1 accents dropped, trailing spaces removed
//! (PAD SPACE), cut to the index's prefix length. A false match only
//! orders two transactions; a missed one could reorder them, so the
//! folding errs towards matching. NULL never conflicts (a unique index
//! holds any number of NULLs).

use super::super::mysql_literal::{literal, Literal};
use crate::proto::{value::Kind, Image, TableChange, Value};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// One unique index: its name and its columns (lower case), each with
/// its prefix length (`SUB_PART`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct UniqueKey {
    name: String,
    columns: Vec<(String, Option<usize>)>,
}

/// The unique keys of the target's tables, by (database, table), for the
/// databases loaded so far.
#[derive(Debug, Default)]
pub struct UniqueKeys {
    tables: HashMap<(String, String), Vec<UniqueKey>>,
    loaded: HashSet<String>,
}

/// Why a transaction's write set is unknown.
#[derive(Debug, PartialEq, Eq)]
pub struct Unknown;

impl UniqueKeys {
    /// Forget everything (after DDL: indexes may have changed).
    pub fn clear(&mut self) {
        self.tables.clear();
        self.loaded.clear();
    }

    pub fn is_loaded(&self, database: &str) -> bool {
        self.loaded.contains(database)
    }

    /// The query listing the unique keys of `databases`; its rows go to
    /// [`UniqueKeys::load`].
    pub fn query(databases: &[String]) -> String {
        let list: Vec<String> = databases
            .iter()
            .map(|d| super::super::mysql_literal::quote(d))
            .collect();
        format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART \
             FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA IN ({}) \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            list.join(", ")
        )
    }

    /// Adds the rows of [`UniqueKeys::query`] for `databases`.
    pub fn load(&mut self, databases: &[String], rows: Vec<Vec<Option<String>>>) {
        for row in rows {
            let [Some(db), Some(table), Some(index), Some(column), sub_part] =
                <[Option<String>; 5]>::try_from(row).unwrap_or_default()
            else {
                continue;
            };
            let keys = self.tables.entry((db, table)).or_default();
            let prefix = sub_part.and_then(|s| s.parse().ok());
            let column = (column.to_lowercase(), prefix);
            match keys.last_mut() {
                Some(k) if k.name == index => k.columns.push(column),
                _ => keys.push(UniqueKey {
                    name: index,
                    columns: vec![column],
                }),
            }
        }
        self.loaded.extend(databases.iter().cloned());
    }

    /// Adds the keys `change` (applied to `database` on the target)
    /// touches to `out`.
    pub fn write_set(
        &self,
        change: &TableChange,
        database: &str,
        out: &mut Vec<u64>,
    ) -> Result<(), Unknown> {
        let Some(keys) = self
            .tables
            .get(&(database.to_string(), change.table.clone()))
        else {
            out.push(key_hash(database, &change.table, "", &[]));
            return Ok(());
        };
        // Each key's columns as positions in the change's images.
        let mut positions = Vec::with_capacity(keys.len());
        for key in keys {
            let mut cols = Vec::with_capacity(key.columns.len());
            for (name, prefix) in &key.columns {
                let at = change
                    .columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
                    .ok_or(Unknown)?;
                cols.push((at, *prefix));
            }
            positions.push((key, cols));
        }
        let mut parts = Vec::new();
        for row in &change.rows {
            for image in [&row.before, &row.after].into_iter().flatten() {
                for (key, cols) in &positions {
                    parts.clear();
                    if let Some(()) = key_values(image, cols, &mut parts)? {
                        out.push(key_hash(database, &change.table, &key.name, &parts));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The folded values of a key in `image`, or `None` when one is NULL.
fn key_values(
    image: &Image,
    cols: &[(usize, Option<usize>)],
    out: &mut Vec<Vec<u8>>,
) -> Result<Option<()>, Unknown> {
    for &(at, prefix) in cols {
        let value = image.values.get(at).ok_or(Unknown)?;
        match fold(value, prefix) {
            Folded::Null => return Ok(None),
            Folded::Absent => return Err(Unknown),
            Folded::Bytes(b) => out.push(b),
        }
    }
    Ok(Some(()))
}

enum Folded {
    Null,
    Absent,
    Bytes(Vec<u8>),
}

/// A value as the bytes a collation compares (see the module docs).
fn fold(value: &Value, prefix: Option<usize>) -> Folded {
    let cut = |n: usize| prefix.unwrap_or(usize::MAX).min(n);
    let bytes = match &value.kind {
        None | Some(Kind::Absent(_)) => return Folded::Absent,
        Some(Kind::Null(_)) => return Folded::Null,
        Some(Kind::Text(s)) => {
            let folded = fold_text(s);
            let end = folded
                .char_indices()
                .nth(cut(usize::MAX))
                .map_or(folded.len(), |(i, _)| i);
            let mut b = vec![b't'];
            b.extend_from_slice(folded[..end].trim_end_matches(' ').as_bytes());
            b
        }
        Some(Kind::Bytes(bytes)) => {
            let mut b = vec![b'b'];
            b.extend_from_slice(&bytes[..cut(bytes.len())]);
            b
        }
        // The same number compares equal whatever its Rust type.
        Some(Kind::Int(v)) => format!("n{v}").into_bytes(),
        Some(Kind::Uint(v)) => format!("n{v}").into_bytes(),
        Some(_) => match literal(value) {
            Literal::Sql(s) => {
                let mut b = vec![b'l'];
                b.extend_from_slice(s.as_bytes());
                b
            }
            Literal::Null => return Folded::Null,
            Literal::Absent | Literal::Unsupported(_) => return Folded::Absent,
        },
    };
    Folded::Bytes(bytes)
}

/// Lower case, Latin-1 letters without their accents.
fn fold_text(s: &str) -> String {
    // U+00C0..=U+00FF with accents removed (lower case): À..ß, à..ÿ.
    const LATIN1: &str = "aaaaaaaceeeeiiiidnooooo*ouuuuyts\
                          aaaaaaaceeeeiiiidnooooo/ouuuuyty";
    let table: Vec<char> = LATIN1.chars().collect();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        if (0xC0..=0xFF).contains(&code) {
            if let Some(&base) = table.get((code - 0xC0) as usize) {
                out.push(base);
                continue;
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn key_hash(database: &str, table: &str, key: &str, values: &[Vec<u8>]) -> u64 {
    // SipHash with fixed keys: the same key hashes alike on every worker.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (database, table, key).hash(&mut h);
    values.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ChangeKind, Column, Row};

    fn keys() -> UniqueKeys {
        let mut k = UniqueKeys::default();
        let row = |t: &str, i: &str, c: &str, p: Option<&str>| {
            vec![
                Some("db".to_string()),
                Some(t.to_string()),
                Some(i.to_string()),
                Some(c.to_string()),
                p.map(str::to_string),
            ]
        };
        k.load(
            &["db".to_string()],
            vec![
                row("t", "PRIMARY", "id", None),
                row("t", "u_name", "Name", Some("4")),
            ],
        );
        k
    }

    fn change(kind: ChangeKind, rows: Vec<Row>) -> TableChange {
        let col = |n: &str| Column {
            name: n.into(),
            ..Default::default()
        };
        TableChange {
            table: "t".into(),
            kind: kind as i32,
            columns: vec![col("id"), col("name"), col("other")],
            rows,
            ..Default::default()
        }
    }

    fn image(id: i64, name: Option<&str>) -> Option<Image> {
        let v = |k| Value { kind: Some(k) };
        Some(Image {
            values: vec![
                v(Kind::Int(id)),
                v(name.map_or(Kind::Null(true), |n| Kind::Text(n.into()))),
                v(Kind::Int(0)),
            ],
        })
    }

    fn set(c: &TableChange) -> HashSet<u64> {
        let mut out = Vec::new();
        keys().write_set(c, "db", &mut out).unwrap();
        out.into_iter().collect()
    }

    fn insert(id: i64, name: Option<&str>) -> TableChange {
        change(
            ChangeKind::Insert,
            vec![Row {
                before: None,
                after: image(id, name),
            }],
        )
    }

    #[test]
    fn same_primary_or_unique_value_conflicts() {
        let a = set(&insert(1, Some("Émile")));
        // Same primary key.
        assert!(!a.is_disjoint(&set(&insert(1, Some("x")))));
        // Same unique value as the collation sees it (case, accent,
        // trailing space, 4-character prefix).
        assert!(!a.is_disjoint(&set(&insert(2, Some("emil")))));
        assert!(!a.is_disjoint(&set(&insert(3, Some("EMILY ")))));
        // Another row, another name.
        assert!(a.is_disjoint(&set(&insert(4, Some("zora")))));
        // NULLs in a unique key never collide.
        assert!(set(&insert(5, None)).is_disjoint(&set(&insert(6, None))));
    }

    #[test]
    fn before_images_count_too() {
        // Deleting name "abcd" frees it for an insert elsewhere: ordered.
        let delete = change(
            ChangeKind::Delete,
            vec![Row {
                before: image(7, Some("abcd")),
                after: None,
            }],
        );
        assert!(!set(&delete).is_disjoint(&set(&insert(8, Some("abcd")))));
    }

    #[test]
    fn unknown_key_values_make_a_barrier() {
        let mut c = insert(1, Some("x"));
        if let Some(after) = c.rows[0].after.as_mut() {
            after.values[1].kind = Some(Kind::Absent(true));
        }
        assert_eq!(keys().write_set(&c, "db", &mut Vec::new()), Err(Unknown));
        let mut c = insert(1, Some("x"));
        c.columns[1].name = "renamed".into();
        assert_eq!(keys().write_set(&c, "db", &mut Vec::new()), Err(Unknown));
    }

    #[test]
    fn tables_without_unique_keys_conflict_as_a_whole() {
        let mut other = insert(1, Some("a"));
        other.table = "nokeys".into();
        let mut again = insert(2, Some("b"));
        again.table = "nokeys".into();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        keys().write_set(&other, "db", &mut a).unwrap();
        keys().write_set(&again, "db", &mut b).unwrap();
        assert_eq!(a, b);
        // The same table name in another database is another table.
        let mut c = Vec::new();
        keys().write_set(&other, "db2", &mut c).unwrap();
        assert_ne!(a, c);
    }
}
