//! Schema history: the definition of every captured table at any binlog
//! position.
//!
//! Row events name their columns only when the server sends
//! `binlog_row_metadata=FULL`. Otherwise the names, primary keys and exact
//! types come from here: a snapshot of the captured tables taken from
//! `information_schema` when capture starts ([`catalog`]), then every DDL
//! statement applied in binlog order ([`SchemaHistory::apply_ddl`]). Each
//! change is stored in the log itself (`Record.snapshot`, `Record.ddl` with
//! the tables as they are after the statement), so a restart or an offline
//! reader rebuilds the same history with [`SchemaHistory::replay`] without
//! asking the server.
//!
//! Case rules are MySQL's default on Linux: database and table names are
//! case-sensitive, column names are not.
//!
//! A statement the history cannot read in full never corrupts it: the
//! outcome is [`DdlOutcome::Refresh`], naming the tables to re-read from the
//! server (through a [`catalog::Catalog`]) and the statement in its warning;
//! what is certain (drops, renames) is applied already.

mod alter;
pub mod catalog;
mod column;
mod ddl;
pub(crate) mod lex;
mod record;
pub use record::At;
mod scan;
mod table_map;
pub mod types;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::proto::{Database, Ddl, Record, SchemaSnapshot, TableChange, TableSchema};
pub use catalog::{Catalog, SchemaError};
pub use types::Dialect;

/// A table's identity: (database, table), both case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableKey {
    pub schema: String,
    pub table: String,
}

impl TableKey {
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableKey {
            schema: schema.into(),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`.`{}`",
            self.schema.replace('`', "``"),
            self.table.replace('`', "``")
        )
    }
}

/// Which tables are captured: `true` to keep `(schema, table)`.
pub type Filter = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What a DDL statement changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdlChange {
    /// Captured tables the statement touched, as they are after it
    /// (`dropped` set for tables that no longer exist under that name).
    pub tables: Vec<TableSchema>,
    /// Databases it created, altered or dropped.
    pub databases: Vec<Database>,
}

/// The result of applying one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum DdlOutcome {
    /// Not a statement that changes captured table definitions (DML,
    /// GRANT, CREATE USER, views, routines, indexes, temporary tables,
    /// tables outside the filter).
    Ignored,
    /// Applied in full.
    Applied(DdlChange),
    /// Only partly understood. `applied` is what was certain and is already
    /// in the history; `tables` must be re-read from the server
    /// ([`SchemaHistory::refresh`]); `warning` names the statement.
    Refresh {
        tables: Vec<TableKey>,
        warning: String,
        applied: DdlChange,
    },
}

impl DdlOutcome {
    /// The `Ddl` record to store in the log for this statement (for a
    /// `Refresh`, call it after [`SchemaHistory::refresh`] and pass the
    /// refreshed tables in `refreshed`).
    pub fn to_record(&self, schema: &str, statement: &str, refreshed: &[TableSchema]) -> Ddl {
        let change = match self {
            DdlOutcome::Ignored => DdlChange::default(),
            DdlOutcome::Applied(c) => c.clone(),
            DdlOutcome::Refresh { applied, .. } => applied.clone(),
        };
        let mut tables = change.tables;
        for r in refreshed {
            tables.retain(|t| !(t.schema == r.schema && t.table == r.table));
            tables.push(r.clone());
        }
        Ddl {
            schema: schema.to_string(),
            statement: statement.to_string(),
            tables,
            databases: change.databases,
        }
    }
}

/// Definitions of the captured tables at one binlog position.
#[derive(Clone)]
pub struct SchemaHistory {
    dialect: Dialect,
    tables: table_map::TableMap,
    /// Database → default character set.
    databases: BTreeMap<String, String>,
    filter: Option<Filter>,
    /// `@@explicit_defaults_for_timestamp` when the server told us.
    explicit_ts: Option<bool>,
    /// Tables whose row events the history did not fit, with the reason
    /// last warned about (one warning per table and reason).
    unfit: BTreeMap<TableKey, String>,
    /// Per database and table, how the history fits its last row event
    /// (see `values::Fit`).
    fits: values::Fits,
}

impl fmt::Debug for SchemaHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaHistory")
            .field("dialect", &self.dialect)
            .field("tables", &self.tables.len())
            .field("databases", &self.databases)
            .finish()
    }
}

impl SchemaHistory {
    /// An empty history for a server of `dialect`, capturing every table.
    pub fn new(dialect: Dialect) -> Self {
        SchemaHistory {
            dialect,
            tables: table_map::TableMap::default(),
            databases: BTreeMap::new(),
            filter: None,
            explicit_ts: None,
            unfit: BTreeMap::new(),
            fits: values::Fits::default(),
        }
    }

    /// Restricts the history to the tables `filter` accepts (the capture's
    /// include/exclude rules). DDL on other tables is ignored; a table
    /// renamed out of the filter is dropped from the history.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        if let Some(f) = &self.filter {
            self.tables.retain(|s, t| f(s, t));
        }
        self
    }

    /// Tells the history the server's `@@explicit_defaults_for_timestamp`
    /// (otherwise the version's default is assumed).
    pub fn set_explicit_timestamp_defaults(&mut self, on: bool) {
        self.explicit_ts = Some(on);
    }

    fn explicit_ts(&self) -> bool {
        self.explicit_ts
            .unwrap_or_else(|| self.dialect.explicit_timestamp_defaults())
    }

    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// True when `(schema, table)` is captured.
    pub fn captures(&self, schema: &str, table: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f(schema, table))
    }

    /// The table's definition, if known.
    pub fn table(&self, schema: &str, table: &str) -> Option<&TableSchema> {
        self.tables.get_str(schema, table)
    }

    /// Every known table, ordered by (schema, table).
    pub fn tables(&self) -> impl Iterator<Item = &TableSchema> {
        self.tables.values()
    }

    /// Default character set of a database, if known.
    pub fn database_charset(&self, schema: &str) -> Option<&str> {
        self.databases.get(schema).map(String::as_str)
    }

    /// Puts a table definition as the server reports it (from a snapshot or
    /// a refresh). A table outside the filter is not kept.
    pub fn set_table(&mut self, t: TableSchema) {
        let key = TableKey::new(&t.schema, &t.table);
        if t.dropped || !self.captures(&t.schema, &t.table) {
            self.tables.remove(&key);
        } else {
            self.tables.insert(key, t);
        }
    }

    /// Records a database and its default character set.
    pub fn set_database(&mut self, name: &str, charset: &str) {
        self.databases
            .insert(name.to_string(), types::normalize_charset(charset));
    }

    /// Replaces the whole history with a snapshot.
    pub fn load_snapshot(&mut self, snapshot: &SchemaSnapshot) {
        self.tables.clear();
        self.databases.clear();
        if !snapshot.server_charset.is_empty() {
            self.dialect.server_charset = types::normalize_charset(&snapshot.server_charset);
        }
        for d in &snapshot.databases {
            self.set_database(&d.name, &d.charset);
        }
        for t in &snapshot.tables {
            self.set_table(t.clone());
        }
    }

    /// The whole history as a snapshot record payload.
    pub fn snapshot(&self) -> SchemaSnapshot {
        SchemaSnapshot {
            tables: self.tables.values().cloned().collect(),
            databases: self
                .databases
                .iter()
                .map(|(name, charset)| Database {
                    name: name.clone(),
                    charset: charset.clone(),
                    dropped: false,
                })
                .collect(),
            server_charset: self.dialect.server_charset.clone(),
        }
    }

    /// Applies what a stored `Ddl` record says (its tables and databases as
    /// they are after the statement), without parsing the statement.
    pub fn apply_ddl_record(&mut self, ddl: &Ddl) {
        for d in &ddl.databases {
            if d.dropped {
                self.databases.remove(&d.name);
                self.tables.remove_schema(&d.name);
            } else {
                self.set_database(&d.name, &d.charset);
            }
        }
        for t in &ddl.tables {
            self.set_table(t.clone());
        }
    }

    /// Applies one log record: a snapshot replaces the history, a DDL
    /// updates it, anything else is ignored.
    pub fn apply_record(&mut self, record: &Record) {
        if let Some(s) = &record.snapshot {
            self.load_snapshot(s);
        }
        if let Some(d) = &record.ddl {
            self.apply_ddl_record(d);
        }
    }

    /// Rebuilds a history from log records in log order.
    pub fn replay<'a>(dialect: Dialect, records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut h = SchemaHistory::new(dialect);
        for r in records {
            h.apply_record(r);
        }
        h
    }

    /// Same as [`with_filter`](Self::with_filter) with the capture's
    /// include/exclude rules.
    pub fn with_table_filter(self, filter: crate::filter::TableFilter) -> Self {
        self.with_filter(Arc::new(move |s: &str, t: &str| filter.matches(s, t)))
    }

    /// Puts what the server said about `key` after a
    /// [`DdlOutcome::Refresh`]: its definition (from
    /// [`catalog::table_sql`] rows through [`catalog::parse_table`]), or
    /// `None` when it does not exist. Returns the entry for the `Ddl`
    /// record. This is the path for an async caller that cannot implement
    /// the blocking [`Catalog`].
    pub fn put_refreshed(&mut self, key: &TableKey, table: Option<TableSchema>) -> TableSchema {
        let t = table.unwrap_or_else(|| TableSchema {
            schema: key.schema.clone(),
            table: key.table.clone(),
            dropped: true,
            ..Default::default()
        });
        self.set_table(t.clone());
        t
    }

    /// Re-reads `tables` from the server and puts them into the history. A
    /// table the server no longer has is removed and returned as dropped.
    /// Returns the definitions to store in the `Ddl` record. All or
    /// nothing: the tables are put only once every one was read.
    pub fn refresh(
        &mut self,
        catalog: &mut dyn Catalog,
        tables: &[TableKey],
    ) -> Result<Vec<TableSchema>, SchemaError> {
        let mut read = Vec::new();
        for key in tables {
            if !self.captures(&key.schema, &key.table) {
                continue;
            }
            read.push((key, catalog.table(&key.schema, &key.table)?));
        }
        Ok(read
            .into_iter()
            .map(|(key, t)| self.put_refreshed(key, t))
            .collect())
    }

    /// Applies a statement and, when it was only partly understood,
    /// refreshes the tables it touched through `catalog`. Returns the `Ddl`
    /// record to store and the warning, if any. All or nothing: when the
    /// catalog fails, the history is exactly as it was before the call.
    pub fn apply_ddl_with(
        &mut self,
        catalog: &mut dyn Catalog,
        default_schema: &str,
        statement: &str,
    ) -> Result<(Option<Ddl>, Option<String>), SchemaError> {
        self.transaction(|h| {
            let outcome = h.apply_ddl(default_schema, statement);
            match &outcome {
                DdlOutcome::Ignored => Ok((None, None)),
                DdlOutcome::Applied(_) => Ok((
                    Some(outcome.to_record(default_schema, statement, &[])),
                    None,
                )),
                DdlOutcome::Refresh {
                    tables, warning, ..
                } => {
                    let refreshed = h.refresh(catalog, tables)?;
                    Ok((
                        Some(outcome.to_record(default_schema, statement, &refreshed)),
                        Some(warning.clone()),
                    ))
                }
            }
        })
    }

    /// Names the columns of a row event whose binlog carried no names, and
    /// makes its values exact from the history's column types (unsigned
    /// integers, ENUM/SET names, text in the column's charset, padded
    /// `BINARY(n)`; see `values`). What the binlog said wins. `at` is
    /// the binlog position for the warning.
    ///
    /// Leaves the event alone (positional names, values as decoded) and
    /// returns a warning when the history does not know the table or does
    /// not fit the event (column count, a type, a size, a signedness or
    /// charset the binlog gave, or a name): never mislabels a column or
    /// reinterprets a value by a wrong type. A binlog with names is only
    /// compared. One warning per table and reason.
    pub fn enrich(&mut self, change: &mut TableChange, at: &dyn fmt::Display) -> Option<String> {
        let fits = match self.tables.get_str(&change.schema, &change.table) {
            None if change.names_known => return None,
            None => Err("no schema history for the table".to_string()),
            Some(t) => self.fits.enrich(change, t),
        };
        let key = || TableKey::new(&change.schema, &change.table);
        match fits {
            Ok(()) => {
                if !self.unfit.is_empty() {
                    self.unfit.remove(&key());
                }
                None
            }
            Err(reason) => {
                let key = key();
                if self.unfit.get(&key) == Some(&reason) {
                    return None;
                }
                let what = if change.names_known {
                    "the binlog's names and types are used"
                } else {
                    "columns left unnamed, values as the binlog has them"
                };
                let warning = format!("{key} at {at}: {reason}: {what}");
                self.unfit.insert(key, reason);
                Some(warning)
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
