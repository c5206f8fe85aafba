//! The history applied to whole records, for live capture and for readers
//! of the log.
//!
//! Live capture gets records from the decoder: a DDL record carries only
//! its statement, row events may carry no column names. The history fills
//! both — the DDL record gets the definitions after the statement (so the
//! log holds the history), the row events get their column names — in
//! record order, DDL first (a `CREATE TABLE … SELECT` transaction carries
//! the statement and then its rows).

use super::{Catalog, DdlOutcome, SchemaError, SchemaHistory};
use crate::proto::{BinlogPosition, Record};

impl SchemaHistory {
    /// Live capture: applies the record's DDL statement, if any, filling
    /// its `tables` and `databases`; re-reads through `catalog` what the
    /// statement did not say clearly (without a catalog those tables stay
    /// out of the history); then names the columns of its row events and
    /// makes their values exact ([`enrich`](Self::enrich)).
    /// Returns the warnings to log, at most one per distinct text.
    ///
    /// All or nothing: when the catalog fails, the history is exactly as
    /// it was before the call and the record is not changed.
    pub fn process_record(
        &mut self,
        record: &mut Record,
        catalog: Option<&mut dyn Catalog>,
    ) -> Result<Vec<String>, SchemaError> {
        let mut warnings: Vec<String> = Vec::new();
        if let Some(ddl) = record.ddl.as_mut() {
            let (filled, warning) = self.transaction(|h| {
                let outcome = h.apply_ddl(&ddl.schema, &ddl.statement);
                let mut refreshed = Vec::new();
                let mut warning = None;
                if let DdlOutcome::Refresh {
                    tables, warning: w, ..
                } = &outcome
                {
                    match catalog {
                        Some(cat) => refreshed = h.refresh(cat, tables)?,
                        None => {
                            warning = Some(format!(
                                "{w} (no server connection: left out of the history)"
                            ))
                        }
                    }
                    warning.get_or_insert_with(|| w.clone());
                }
                Ok((
                    outcome.to_record(&ddl.schema, &ddl.statement, &refreshed),
                    warning,
                ))
            })?;
            warnings.extend(warning);
            ddl.tables = filled.tables;
            ddl.databases = filled.databases;
        }
        let at = position(record.position.as_ref());
        for change in &mut record.changes {
            if let Some(w) = self.enrich(change, &at) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        Ok(warnings)
    }

    /// Runs `f` on a copy of the history and keeps the copy only when `f`
    /// succeeds: a failure in the middle (a catalog query) never leaves a
    /// statement half applied.
    pub(super) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut SchemaHistory) -> Result<T, SchemaError>,
    ) -> Result<T, SchemaError> {
        let mut work = self.clone();
        let out = f(&mut work)?;
        *self = work;
        Ok(out)
    }

    /// A reader of the log: applies a snapshot or DDL record (as stored,
    /// without parsing the statement), then names the columns of row
    /// events that carry none and makes their values exact. Returns the
    /// warnings of [`enrich`](Self::enrich).
    pub fn read_record(&mut self, record: &mut Record) -> Vec<String> {
        self.apply_record(record);
        let at = position(record.position.as_ref());
        let mut warnings: Vec<String> = Vec::new();
        for change in &mut record.changes {
            if let Some(w) = self.enrich(change, &at) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        warnings
    }
}

/// `file:start` of a record, for warnings (written out only for one).
fn position(at: Option<&BinlogPosition>) -> At<'_> {
    At(at.map(|p| (p.file.as_str(), p.start)))
}

/// `file:start` of a transaction, for warnings (written out only for
/// one).
pub struct At<'a>(pub Option<(&'a str, u64)>);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some((file, start)) => write!(f, "{file}:{start}"),
            None => f.write_str("an unknown position"),
        }
    }
}
