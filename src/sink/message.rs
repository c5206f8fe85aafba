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
    /// The partitioning key (see [`KeyRules`]).
    pub key: String,
}

/// The messages of `record` at `offset` that pass `filter`, keyed by
/// `keys`.
pub fn messages(
    source: &str,
    record: &Record,
    offset: u64,
    format: Format,
    filter: &TableFilter,
    keys: &KeyRules,
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
        let render = |piece: TableChange| {
            let single = Record {
                changes: vec![piece],
                ddl: None,
                snapshot: None,
                statements: Vec::new(),
                ..record.clone()
            };
            let mut payload = Vec::new();
            format.write(&single, offset, &mut payload);
            payload
        };
        let row_key = keys.row_key_columns(change);
        if let Some(columns) = row_key.filter(|_| !change.rows.is_empty()) {
            // Keyed by row: one message per row, so that every change of a
            // row goes to the partition of its key, in order.
            for i in 0..change.rows.len() {
                let piece = with_rows(change, i..i + 1);
                out.push(Message {
                    schema: change.schema.clone(),
                    table: change.table.clone(),
                    id: format!("{source}-{offset}-{}-{index}.{i}", record.part),
                    key: row_values(&piece, &columns),
                    payload: render(piece),
                });
            }
            continue;
        }
        for (chunk, rows) in row_chunks(change, MESSAGE_ROW_BYTES)
            .into_iter()
            .enumerate()
        {
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
                key: format!("{}.{}", change.schema, change.table),
                payload: render(with_rows(change, rows)),
            });
        }
    }
    out
}

/// How messages are keyed, after Canal's `partitionHash`: rules
/// `REGEX:COLUMNS`, tried in order against `db.table` (the whole name must
/// match); COLUMNS is `col1^col2` or `$pk$` (the primary key). A table a
/// rule keys by row gets one message per row, keyed by those columns'
/// values joined by `^`; any other table (no rule, or no primary key for
/// `$pk$`) gets messages keyed `db.table`.
#[derive(Clone, Debug)]
pub struct KeyRules(Vec<(regex::Regex, KeyColumns)>);

#[derive(Clone, Debug)]
enum KeyColumns {
    PrimaryKey,
    Named(Vec<String>),
}

impl KeyRules {
    /// Every table by table name (one key per table: its order is kept).
    pub fn by_table() -> KeyRules {
        KeyRules(Vec::new())
    }

    /// Every table with a primary key by its rows' primary keys.
    pub fn by_primary_key() -> KeyRules {
        KeyRules(vec![(
            regex::Regex::new(".*").expect("a valid regex"),
            KeyColumns::PrimaryKey,
        )])
    }

    /// Parse rules such as `shop\.orders:id^region` or `.*\..*:$pk$`.
    pub fn parse(rules: &[String]) -> Result<KeyRules, String> {
        let mut out = Vec::new();
        for rule in rules {
            let (pattern, columns) = rule.rsplit_once(':').ok_or_else(|| {
                format!(
                    "partition rule {rule:?}: expected REGEX:COLUMNS (COLUMNS col1^col2 or $pk$)"
                )
            })?;
            let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("partition rule {rule:?}: {e}"))?;
            let columns = if columns == "$pk$" {
                KeyColumns::PrimaryKey
            } else {
                let names: Vec<String> = columns.split('^').map(str::to_string).collect();
                if names.iter().any(String::is_empty) {
                    return Err(format!("partition rule {rule:?}: an empty column name"));
                }
                KeyColumns::Named(names)
            };
            out.push((re, columns));
        }
        Ok(KeyRules(out))
    }

    /// The column indexes that key `change` by row, or `None` to key it by
    /// table.
    fn row_key_columns(&self, change: &TableChange) -> Option<Vec<usize>> {
        let name = format!("{}.{}", change.schema, change.table);
        let (_, columns) = self.0.iter().find(|(re, _)| re.is_match(&name))?;
        let idx: Vec<usize> = match columns {
            KeyColumns::PrimaryKey => change
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.primary_key)
                .map(|(i, _)| i)
                .collect(),
            KeyColumns::Named(names) => names
                .iter()
                .filter_map(|n| change.columns.iter().position(|c| &c.name == n))
                .collect(),
        };
        (!idx.is_empty()).then_some(idx)
    }
}

/// The values of `columns` in the change's first row (after image, or
/// before for a delete), joined by `^`.
fn row_values(change: &TableChange, columns: &[usize]) -> String {
    let Some(row) = change.rows.first() else {
        return String::new();
    };
    let Some(image) = row.after.as_ref().or(row.before.as_ref()) else {
        return String::new();
    };
    columns
        .iter()
        .map(|&i| {
            image
                .values
                .get(i)
                .and_then(crate::format::value::canal_text)
                .unwrap_or_default()
        })
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
            ..Default::default()
        }
    }

    #[test]
    fn a_large_change_is_cut_into_messages_below_a_megabyte() {
        let record = Record {
            changes: vec![change(10_000, 500), change(3, 10)],
            last_part: true,
            ..Default::default()
        };
        let msgs = messages(
            "m",
            &record,
            7,
            Format::CanalJson,
            &TableFilter::all(),
            &KeyRules::by_table(),
        );
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
        assert!(msgs.iter().all(|m| m.key == "shop.t"), "keyed by table");
    }

    #[test]
    fn rows_keyed_by_primary_key_or_named_columns_get_a_message_each() {
        let record = Record {
            changes: vec![change(3, 4)],
            last_part: true,
            ..Default::default()
        };
        let by = |keys: &KeyRules| {
            messages(
                "m",
                &record,
                9,
                Format::CanalJson,
                &TableFilter::all(),
                keys,
            )
        };
        let pk = by(&KeyRules::by_primary_key());
        let keys: Vec<&str> = pk.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["0", "1", "2"]);
        let ids: Vec<&str> = pk.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m-9-0-0.0", "m-9-0-0.1", "m-9-0-0.2"]);
        for (i, m) in pk.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), 1);
            assert_eq!(v["data"][0]["id"], i.to_string());
        }
        let named = by(&KeyRules::parse(&[r"shop\.t:v^id".into()]).unwrap());
        assert_eq!(named[2].key, "xxxx^2");
        // A rule for another table leaves this one keyed by table.
        let other = by(&KeyRules::parse(&[r"shop\.other:$pk$".into()]).unwrap());
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].key, "shop.t");
        assert!(KeyRules::parse(&["no-colon".into()]).is_err());
        assert!(KeyRules::parse(&["(:id".into()]).is_err());
        assert!(KeyRules::parse(&["a:x^".into()]).is_err());
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
