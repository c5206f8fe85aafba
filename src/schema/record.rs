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
use crate::proto::Record;

impl SchemaHistory {
    /// Live capture: applies the record's DDL statement, if any, filling
    /// its `tables` and `databases`; re-reads through `catalog` what the
    /// statement did not say clearly (without a catalog those tables stay
    /// out of the history); then names the columns of its row events.
    /// Returns the warnings to log, at most one per distinct text.
    pub fn process_record(
        &mut self,
        record: &mut Record,
        catalog: Option<&mut dyn Catalog>,
    ) -> Result<Vec<String>, SchemaError> {
        let mut warnings: Vec<String> = Vec::new();
        if let Some(ddl) = record.ddl.as_mut() {
            let outcome = self.apply_ddl(&ddl.schema, &ddl.statement);
            let mut refreshed = Vec::new();
            if let DdlOutcome::Refresh {
                tables, warning, ..
            } = &outcome
            {
                match catalog {
                    Some(cat) => refreshed = self.refresh(cat, tables)?,
                    None => warnings.push(format!(
                        "{warning} (no server connection: left out of the history)"
                    )),
                }
                if !warnings.contains(warning) {
                    warnings.push(warning.clone());
                }
            }
            let filled = outcome.to_record(&ddl.schema, &ddl.statement, &refreshed);
            ddl.tables = filled.tables;
            ddl.databases = filled.databases;
        }
        for change in &mut record.changes {
            if let Some(w) = self.enrich(change) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        Ok(warnings)
    }

    /// A reader of the log: applies a snapshot or DDL record (as stored,
    /// without parsing the statement) and names the columns of row events
    /// that carry none. Returns the warnings of [`enrich`](Self::enrich).
    pub fn read_record(&mut self, record: &mut Record) -> Vec<String> {
        self.apply_record(record);
        let mut warnings: Vec<String> = Vec::new();
        for change in &mut record.changes {
            if let Some(w) = self.enrich(change) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        warnings
    }
}
