//! A record cut into the messages a sink publishes: one per row event
//! (per table), rendered in the sink's format, each with an id that is the
//! same on every delivery of the same record (for the target's dedup).

use crate::filter::TableFilter;
use crate::format::Format;
use crate::proto::{Record, TableChange};

pub struct Message {
    /// Schema and table the message is about (for a DDL, the statement's
    /// default schema and an empty table).
    pub schema: String,
    pub table: String,
    /// `SOURCE-OFFSET-INDEX`: stable across redeliveries.
    pub id: String,
    /// One or more JSON lines (canal-json and debezium-json give one object
    /// per row event or row; json one per table change).
    pub payload: Vec<u8>,
    /// Primary-key values of the first row, for partitioning.
    pub key: String,
}

/// The messages of `record` at `offset` that pass `filter`.
pub fn messages(
    source: &str,
    record: &Record,
    offset: u64,
    format: Format,
    filter: &TableFilter,
) -> Vec<Message> {
    let mut out = Vec::new();
    if let Some(ddl) = &record.ddl {
        let mut payload = Vec::new();
        format.write(record, offset, &mut payload);
        if !payload.is_empty() {
            out.push(Message {
                schema: ddl.schema.clone(),
                table: String::new(),
                id: format!("{source}-{offset}-ddl"),
                payload,
                key: String::new(),
            });
        }
        return out;
    }
    for (index, change) in record.changes.iter().enumerate() {
        if !filter.matches(&change.schema, &change.table) {
            continue;
        }
        let single = Record {
            changes: vec![change.clone()],
            ddl: None,
            snapshot: None,
            statements: Vec::new(),
            ..record.clone()
        };
        let mut payload = Vec::new();
        format.write(&single, offset, &mut payload);
        out.push(Message {
            schema: change.schema.clone(),
            table: change.table.clone(),
            id: format!("{source}-{offset}-{}-{index}", record.part),
            payload,
            key: primary_key(change),
        });
    }
    out
}

/// The primary-key columns' values of the change's first row, joined by
/// `^` (Canal's `partitionHash` style), or empty without a primary key.
fn primary_key(change: &TableChange) -> String {
    let Some(row) = change.rows.first() else {
        return String::new();
    };
    let Some(image) = row.after.as_ref().or(row.before.as_ref()) else {
        return String::new();
    };
    change
        .columns
        .iter()
        .zip(&image.values)
        .filter(|(c, _)| c.primary_key)
        .map(|(_, v)| crate::format::value::canal_text(v).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("^")
}

/// Fill a subject or topic template: `{source}`, `{db}`, `{table}`.
/// Characters NATS subjects cannot carry (space, `.`, `*`, `>`) in names
/// become `_`.
pub fn render_template(template: &str, source: &str, schema: &str, table: &str) -> String {
    let clean = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if matches!(c, ' ' | '.' | '*' | '>' | '\t') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if s.is_empty() {
            "_".into()
        } else {
            s
        }
    };
    template
        .replace("{source}", &clean(source))
        .replace("{db}", &clean(schema))
        .replace("{table}", &clean(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_clean_names() {
        assert_eq!(
            render_template("sluice.{source}.{db}.{table}", "main", "shop", "or.ders"),
            "sluice.main.shop.or_ders"
        );
        assert_eq!(render_template("x.{table}", "m", "s", ""), "x._");
    }
}
