//! A record cut into the messages a sink publishes: one per table change,
//! or several when the change is large (a bulk statement's rows come as
//! one change; brokers cap a message at about 1 MB), rendered in the
//! sink's format, each with an id that is the same on every delivery of
//! the same record (for the target's dedup).

use crate::filter::TableFilter;
use crate::format::Format;
use crate::pipeline::split::{row_chunks, with_rows};
use crate::proto::{Record, TableChange};

/// Rows of one change go into one message until their encoded size passes
/// this; rendered as JSON that is about 2-3 times as much, well below the
/// 1 MB message limit of NATS and Kafka by default.
const MESSAGE_ROW_BYTES: usize = 128 << 10;

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
        for (chunk, rows) in row_chunks(change, MESSAGE_ROW_BYTES)
            .into_iter()
            .enumerate()
        {
            let piece = with_rows(change, rows);
            let key = primary_key(&piece);
            let single = Record {
                changes: vec![piece],
                ddl: None,
                snapshot: None,
                statements: Vec::new(),
                ..record.clone()
            };
            let mut payload = Vec::new();
            format.write(&single, offset, &mut payload);
            // Chunk 0 keeps the id a change that fits in one message had
            // before changes were chunked.
            let id = if chunk == 0 {
                format!("{source}-{offset}-{}-{index}", record.part)
            } else {
                format!("{source}-{offset}-{}-{index}-{chunk}", record.part)
            };
            out.push(Message {
                schema: change.schema.clone(),
                table: change.table.clone(),
                id,
                payload,
                key,
            });
        }
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

    fn change(rows: usize, width: usize) -> TableChange {
        use crate::proto::{value::Kind, Column, Image, Row, Value};
        TableChange {
            schema: "shop".into(),
            table: "t".into(),
            kind: 1,
            columns: vec![
                Column {
                    name: "id".into(),
                    primary_key: true,
                    ..Default::default()
                },
                Column {
                    name: "v".into(),
                    ..Default::default()
                },
            ],
            names_known: true,
            rows: (0..rows)
                .map(|i| Row {
                    before: None,
                    after: Some(Image {
                        values: vec![
                            Value {
                                kind: Some(Kind::Int(i as i64)),
                            },
                            Value {
                                kind: Some(Kind::Text("x".repeat(width))),
                            },
                        ],
                    }),
                })
                .collect(),
            query: String::new(),
        }
    }

    #[test]
    fn a_large_change_is_cut_into_messages_below_a_megabyte() {
        let record = Record {
            changes: vec![change(10_000, 500), change(3, 10)],
            last_part: true,
            ..Default::default()
        };
        let msgs = messages("m", &record, 7, Format::CanalJson, &TableFilter::all());
        assert!(msgs.len() > 10, "{} messages", msgs.len());
        assert!(msgs.iter().all(|m| m.payload.len() < 1 << 20));
        let mut ids: Vec<&str> = msgs.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids[0], "m-7-0-0");
        assert_eq!(ids[1], "m-7-0-0-1");
        assert_eq!(*ids.last().unwrap(), "m-7-0-1");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), msgs.len(), "ids are unique");
        // Every row is in exactly one message, in order.
        let mut seen = Vec::new();
        for m in &msgs[..msgs.len() - 1] {
            for line in m.payload.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                for row in v["data"].as_array().unwrap() {
                    seen.push(row["id"].as_str().unwrap().parse::<usize>().unwrap());
                }
            }
        }
        assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
        // Each message's key is its own first row's primary key.
        for m in &msgs[..msgs.len() - 1] {
            let first = m.payload.split(|&b| b == b'\n').next().unwrap();
            let v: serde_json::Value = serde_json::from_slice(first).unwrap();
            assert_eq!(m.key, v["data"][0]["id"].as_str().unwrap());
        }
        assert_ne!(msgs[0].key, msgs[1].key);
    }

    #[test]
    fn templates_clean_names() {
        assert_eq!(
            render_template("sluice.{source}.{db}.{table}", "main", "shop", "or.ders"),
            "sluice.main.shop.or_ders"
        );
        assert_eq!(render_template("x.{table}", "m", "s", ""), "x._");
    }
}
