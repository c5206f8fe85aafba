//! The history's table store: (database, table) → definition, looked up by
//! `&str` without allocating (row events look tables up on the hot path),
//! iterated in (database, table) order so snapshots are deterministic.

use std::collections::BTreeMap;

use super::TableKey;
use crate::proto::TableSchema;

#[derive(Debug, Clone, Default)]
pub struct TableMap {
    by_schema: BTreeMap<String, BTreeMap<String, TableSchema>>,
}

impl TableMap {
    pub fn get_str(&self, schema: &str, table: &str) -> Option<&TableSchema> {
        self.by_schema.get(schema)?.get(table)
    }

    pub fn get(&self, key: &TableKey) -> Option<&TableSchema> {
        self.get_str(&key.schema, &key.table)
    }

    pub fn contains_key(&self, key: &TableKey) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: TableKey, t: TableSchema) {
        self.by_schema
            .entry(key.schema)
            .or_default()
            .insert(key.table, t);
    }

    pub fn remove(&mut self, key: &TableKey) -> Option<TableSchema> {
        let tables = self.by_schema.get_mut(&key.schema)?;
        let t = tables.remove(&key.table);
        if tables.is_empty() {
            self.by_schema.remove(&key.schema);
        }
        t
    }

    /// Removes every table of `schema`, returning their keys.
    pub fn remove_schema(&mut self, schema: &str) -> Vec<TableKey> {
        match self.by_schema.remove(schema) {
            Some(tables) => tables
                .into_keys()
                .map(|t| TableKey::new(schema, t))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Keeps the tables for which `keep(schema, table)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        for (schema, tables) in self.by_schema.iter_mut() {
            tables.retain(|t, _| keep(schema, t));
        }
        self.by_schema.retain(|_, tables| !tables.is_empty());
    }

    pub fn values(&self) -> impl Iterator<Item = &TableSchema> {
        self.by_schema.values().flat_map(BTreeMap::values)
    }

    pub fn len(&self) -> usize {
        self.by_schema.values().map(BTreeMap::len).sum()
    }

    pub fn clear(&mut self) {
        self.by_schema.clear();
    }
}
