//! From sluice's change event ([`Record`]) to Canal's entries.
//!
//! One transaction becomes, as in Canal:
//!
//! ```text
//! TRANSACTIONBEGIN   storeValue = TransactionBegin
//! ROWDATA            storeValue = RowChange (one per row event: one table, one kind, its rows)
//! ...
//! TRANSACTIONEND     storeValue = TransactionEnd
//! ```
//!
//! Statements that carry no row images (statement-based replication) become
//! ROWDATA entries of type QUERY with their `sql`, as Canal sends them.
//! A DDL record becomes one ROWDATA entry with `isDdl` and `sql`, without
//! BEGIN/END (Canal sends DDL that way too). Schema snapshot records are
//! internal and produce nothing. The subscription filter drops row events
//! of other tables; a transaction left with no row event produces no
//! entries at all.
//!
//! Header fields: `logfileName` and `logfileOffset` are the transaction's
//! binlog file and start position (for TRANSACTIONEND, the position after
//! the transaction, where a replica would resume), `serverId`,
//! `executeTime` (commit time, ms), `sourceType` MYSQL, `serverenCode`
//! UTF-8, `gtid` (the transaction's own GTID; also in the `curtGtid`
//! prop), and for row entries `schemaName`, `tableName`, `eventType` and
//! the `rowsCount` prop.

use prost::Message as _;

use super::filter::Filter;
use super::value::{render, TimeZone};
use crate::pipeline::split::{row_chunks, with_rows};
use crate::proto::canal as c;
use crate::proto::{ChangeKind, Column, Image, Record, TableChange};

/// Rows per Canal entry: about the size of one binlog rows event, which
/// is what one entry holds when Canal itself reads the binlog.
const ENTRY_ROW_BYTES: usize = 8 << 10;

/// Entries of one record, given whether a transaction is already open in
/// this batch (`open`, updated) and whether this record ends its
/// transaction (`is_final`, false only for a non-last part of a split
/// transaction). Returns how many ROWDATA entries were added.
pub fn record_entries(
    record: &Record,
    is_final: bool,
    filter: &Filter,
    tz: TimeZone,
    open: &mut bool,
    out: &mut Vec<c::Entry>,
) -> usize {
    if let Some(ddl) = &record.ddl {
        let first = ddl.tables.first();
        let pass = ddl.tables.is_empty()
            || ddl
                .tables
                .iter()
                .any(|t| filter.matches(&t.schema, &t.table));
        if !pass {
            return 0;
        }
        let (schema, table) = match first {
            Some(t) => (t.schema.as_str(), t.table.as_str()),
            None => (ddl.schema.as_str(), ""),
        };
        let kind = ddl_event_type(&ddl.statement);
        let change = c::RowChange {
            event_type: Some(kind as i32),
            is_ddl: Some(true),
            sql: ddl.statement.clone(),
            ddl_schema_name: ddl.schema.clone(),
            ..Default::default()
        };
        let header = header(record, record_offset(record), schema, table, Some(kind), 0);
        out.push(entry(header, c::EntryType::Rowdata, change.encode_to_vec()));
        return 1;
    }
    if record.snapshot.is_some() {
        return 0;
    }
    let mut rows = 0;
    // Statements without row images (statement-based replication, GRANT
    // and the like): Canal's QUERY entries. The filter sees `schema.`.
    for st in &record.statements {
        if !filter.matches(&st.schema, "") {
            continue;
        }
        begin(record, open, out);
        let change = c::RowChange {
            event_type: Some(c::EventType::Query as i32),
            is_ddl: Some(false),
            sql: st.text.clone(),
            ddl_schema_name: st.schema.clone(),
            ..Default::default()
        };
        let h = header(
            record,
            record_offset(record),
            &st.schema,
            "",
            Some(c::EventType::Query),
            0,
        );
        out.push(entry(h, c::EntryType::Rowdata, change.encode_to_vec()));
        rows += 1;
    }
    for change in &record.changes {
        if !filter.matches(&change.schema, &change.table) {
            continue;
        }
        if !*open {
            let begin = c::TransactionBegin::default();
            let h = header(record, record_offset(record), "", "", None, 0);
            out.push(entry(
                h,
                c::EntryType::Transactionbegin,
                begin.encode_to_vec(),
            ));
            *open = true;
        }
        // One entry per rows event in Canal; a change here may hold a
        // bulk statement's rows, cut to entries of about that size.
        let chunks = row_chunks(change, ENTRY_ROW_BYTES);
        if chunks.len() == 1 {
            out.push(row_entry(record, change, tz));
            rows += 1;
        } else {
            for chunk in chunks {
                out.push(row_entry(record, &with_rows(change, chunk), tz));
                rows += 1;
            }
        }
    }
    if *open && is_final {
        let end = c::TransactionEnd::default();
        let next = record.position.as_ref().map_or(0, |p| p.next);
        let h = header(record, next, "", "", None, 0);
        out.push(entry(h, c::EntryType::Transactionend, end.encode_to_vec()));
        *open = false;
    }
    rows
}

/// A TRANSACTIONBEGIN entry unless one is open already.
fn begin(record: &Record, open: &mut bool, out: &mut Vec<c::Entry>) {
    if !*open {
        let begin = c::TransactionBegin::default();
        let h = header(record, record_offset(record), "", "", None, 0);
        out.push(entry(
            h,
            c::EntryType::Transactionbegin,
            begin.encode_to_vec(),
        ));
        *open = true;
    }
}

fn record_offset(record: &Record) -> u64 {
    record.position.as_ref().map_or(0, |p| p.start)
}

fn entry(header: c::Header, kind: c::EntryType, store_value: Vec<u8>) -> c::Entry {
    c::Entry {
        header: Some(header),
        entry_type: Some(kind as i32),
        store_value,
    }
}

fn header(
    record: &Record,
    offset: u64,
    schema: &str,
    table: &str,
    event_type: Option<c::EventType>,
    rows: usize,
) -> c::Header {
    let mut props = Vec::new();
    if !record.gtid.is_empty() {
        props.push(pair("curtGtid", &record.gtid));
    }
    if rows > 0 {
        props.push(pair("rowsCount", &rows.to_string()));
    }
    c::Header {
        version: Some(1),
        logfile_name: record
            .position
            .as_ref()
            .map(|p| p.file.clone())
            .unwrap_or_default(),
        logfile_offset: offset as i64,
        server_id: i64::from(record.server_id),
        serveren_code: "UTF-8".into(),
        execute_time: record.commit_time_ms,
        source_type: Some(c::Type::Mysql as i32),
        schema_name: schema.to_string(),
        table_name: table.to_string(),
        event_length: 0,
        event_type: event_type.map(|e| e as i32),
        props,
        gtid: record.gtid.clone(),
    }
}

fn pair(key: &str, value: &str) -> c::Pair {
    c::Pair {
        key: key.into(),
        value: value.into(),
    }
}

fn row_entry(record: &Record, change: &TableChange, tz: TimeZone) -> c::Entry {
    let kind = match ChangeKind::try_from(change.kind) {
        // Canal has no read: a snapshot read is an INSERT.
        Ok(ChangeKind::Insert | ChangeKind::Read) => c::EventType::Insert,
        Ok(ChangeKind::Delete) => c::EventType::Delete,
        _ => c::EventType::Update,
    };
    let mut row_datas = Vec::with_capacity(change.rows.len());
    for row in &change.rows {
        let mut data = c::RowData::default();
        if let Some(before) = &row.before {
            data.before_columns = columns(&change.columns, before, None, tz);
        }
        if let Some(after) = &row.after {
            data.after_columns = columns(&change.columns, after, Some(&data.before_columns), tz);
        }
        row_datas.push(data);
    }
    let rows = row_datas.len();
    let row_change = c::RowChange {
        table_id: 0,
        event_type: Some(kind as i32),
        is_ddl: Some(false),
        row_datas,
        ..Default::default()
    };
    let h = header(
        record,
        record_offset(record),
        &change.schema,
        &change.table,
        Some(kind),
        rows,
    );
    entry(h, c::EntryType::Rowdata, row_change.encode_to_vec())
}

/// Canal columns of one row image. `before` is given for an after image:
/// a column is `updated` when the before image lacks it or differs.
fn columns(
    columns: &[Column],
    image: &Image,
    before: Option<&[c::Column]>,
    tz: TimeZone,
) -> Vec<c::Column> {
    let mut out = Vec::with_capacity(image.values.len());
    for (i, (col, value)) in columns.iter().zip(&image.values).enumerate() {
        let Some(r) = render(col, value, tz) else {
            continue;
        };
        let updated = match before {
            None => false,
            Some(before) => !before.iter().any(|b| {
                b.index == i as i32
                    && match (&r.value, b.is_null == Some(true)) {
                        (None, true) => true,
                        (Some(v), false) => *v == b.value,
                        _ => false,
                    }
            }),
        };
        out.push(c::Column {
            index: i as i32,
            sql_type: r.sql_type,
            name: col.name.clone(),
            is_key: col.primary_key,
            updated,
            is_null: Some(r.value.is_none()),
            props: Vec::new(),
            value: r.value.unwrap_or_default(),
            length: 0,
            mysql_type: col.mysql_type.clone(),
        });
    }
    out
}

/// Canal's DDL event type from the statement's leading keywords.
pub fn ddl_event_type(sql: &str) -> c::EventType {
    let words = leading_words(sql, 4);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["CREATE", "TABLE", ..] | ["CREATE", "TEMPORARY", "TABLE", ..] => c::EventType::Create,
        ["CREATE", "INDEX", ..]
        | ["CREATE", "UNIQUE" | "FULLTEXT" | "SPATIAL", "INDEX", ..]
        | ["CREATE", "OR", "REPLACE", "INDEX"] => c::EventType::Cindex,
        ["ALTER", "TABLE", ..]
        | ["ALTER", "IGNORE", "TABLE", ..]
        | ["ALTER", "ONLINE", "TABLE", ..] => c::EventType::Alter,
        ["DROP", "TABLE", ..] | ["DROP", "TEMPORARY", "TABLE", ..] => c::EventType::Erase,
        ["DROP", "INDEX", ..] => c::EventType::Dindex,
        ["TRUNCATE", ..] => c::EventType::Truncate,
        ["RENAME", "TABLE", ..] => c::EventType::Rename,
        _ => c::EventType::Query,
    }
}

/// The first `n` words of a statement, upper-cased, skipping comments.
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = sql;
    while words.len() < n {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
            continue;
        }
        if rest.starts_with("--") || rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, after)| after);
            continue;
        }
        let end = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        words.push(rest[..end].to_ascii_uppercase());
        rest = &rest[end..];
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{value::Kind, BinlogPosition, Ddl, Row, TableSchema, Value};

    fn int_col(name: &str, pk: bool) -> Column {
        Column {
            name: name.into(),
            mysql_type: "int(11)".into(),
            primary_key: pk,
            type_code: 3,
            ..Default::default()
        }
    }

    fn image(vals: &[Option<i64>]) -> Image {
        Image {
            values: vals
                .iter()
                .map(|v| Value {
                    kind: Some(match v {
                        Some(i) => Kind::Int(*i),
                        None => Kind::Null(true),
                    }),
                })
                .collect(),
        }
    }

    fn record(changes: Vec<TableChange>) -> Record {
        Record {
            position: Some(BinlogPosition {
                file: "mysql-bin.000003".into(),
                start: 400,
                next: 700,
            }),
            gtid: "0-1-7".into(),
            server_id: 1,
            commit_time_ms: 1_700_000_000_000,
            changes,
            last_part: true,
            ..Default::default()
        }
    }

    fn change(schema: &str, table: &str, kind: ChangeKind, rows: Vec<Row>) -> TableChange {
        TableChange {
            schema: schema.into(),
            table: table.into(),
            kind: kind as i32,
            columns: vec![int_col("id", true), int_col("v", false)],
            names_known: true,
            rows,
            query: String::new(),
            ..Default::default()
        }
    }

    #[test]
    fn transaction_shape_and_update_flags() {
        let rec = record(vec![
            change(
                "shop",
                "orders",
                ChangeKind::Update,
                vec![Row {
                    before: Some(image(&[Some(1), None])),
                    after: Some(image(&[Some(1), Some(5)])),
                }],
            ),
            change(
                "crm",
                "users",
                ChangeKind::Insert,
                vec![Row {
                    before: None,
                    after: Some(image(&[Some(2), Some(3)])),
                }],
            ),
        ]);
        let mut out = Vec::new();
        let mut open = false;
        let n = record_entries(
            &rec,
            true,
            &Filter::all(),
            TimeZone::Utc,
            &mut open,
            &mut out,
        );
        assert_eq!(n, 2);
        assert!(!open);
        let kinds: Vec<i32> = out.iter().map(|e| e.entry_type.unwrap()).collect();
        assert_eq!(
            kinds,
            vec![
                c::EntryType::Transactionbegin as i32,
                c::EntryType::Rowdata as i32,
                c::EntryType::Rowdata as i32,
                c::EntryType::Transactionend as i32
            ]
        );
        let h = out[1].header.as_ref().unwrap();
        assert_eq!(
            (
                h.logfile_name.as_str(),
                h.logfile_offset,
                h.schema_name.as_str(),
                h.table_name.as_str()
            ),
            ("mysql-bin.000003", 400, "shop", "orders")
        );
        assert_eq!(h.event_type, Some(c::EventType::Update as i32));
        assert_eq!(h.execute_time, 1_700_000_000_000);
        assert_eq!(h.gtid, "0-1-7");
        assert_eq!(out[3].header.as_ref().unwrap().logfile_offset, 700);
        let rc = c::RowChange::decode(&out[1].store_value[..]).unwrap();
        let row = &rc.row_datas[0];
        assert_eq!(row.before_columns.len(), 2);
        assert_eq!(row.before_columns[1].is_null, Some(true));
        assert!(!row.before_columns[0].updated);
        assert!(!row.after_columns[0].updated, "id unchanged");
        assert!(row.after_columns[1].updated, "v went from NULL to 5");
        assert_eq!(row.after_columns[1].value, "5");
        assert!(row.after_columns[0].is_key);
        assert_eq!(row.after_columns[0].mysql_type, "int(11)");
        assert_eq!(row.after_columns[0].sql_type, 4);
        let ins = c::RowChange::decode(&out[2].store_value[..]).unwrap();
        assert!(ins.row_datas[0].before_columns.is_empty());
        assert!(ins.row_datas[0].after_columns.iter().all(|c| c.updated));
    }

    #[test]
    fn a_bulk_change_becomes_entries_of_about_one_rows_event() {
        let rows: Vec<Row> = (0..5000)
            .map(|i| Row {
                before: None,
                after: Some(image(&[Some(i), Some(i * 2)])),
            })
            .collect();
        let rec = record(vec![change("shop", "orders", ChangeKind::Insert, rows)]);
        let mut out = Vec::new();
        let mut open = false;
        let n = record_entries(
            &rec,
            true,
            &Filter::all(),
            TimeZone::Utc,
            &mut open,
            &mut out,
        );
        assert!(n > 2, "{n} row entries");
        assert_eq!(out.len(), n + 2, "begin, the row entries, end");
        let mut ids = Vec::new();
        for e in &out[1..out.len() - 1] {
            assert!(
                e.store_value.len() < 64 << 10,
                "{} bytes",
                e.store_value.len()
            );
            let rc = c::RowChange::decode(&e.store_value[..]).unwrap();
            for r in &rc.row_datas {
                ids.push(r.after_columns[0].value.parse::<i64>().unwrap());
            }
        }
        assert_eq!(ids, (0..5000).collect::<Vec<i64>>());
    }

    #[test]
    fn filter_drops_tables_and_empty_transactions() {
        let rec = record(vec![change(
            "crm",
            "users",
            ChangeKind::Delete,
            vec![Row {
                before: Some(image(&[Some(2), Some(3)])),
                after: None,
            }],
        )]);
        let f = Filter::parse(r"shop\..*").unwrap();
        let mut out = Vec::new();
        let mut open = false;
        assert_eq!(
            record_entries(&rec, true, &f, TimeZone::Utc, &mut open, &mut out),
            0
        );
        assert!(out.is_empty());
    }

    #[test]
    fn ddl_is_one_rowdata_entry() {
        let mut rec = record(vec![]);
        rec.ddl = Some(Ddl {
            schema: "shop".into(),
            statement: "/* x */ ALTER TABLE orders ADD c INT".into(),
            databases: Vec::new(),
            tables: vec![TableSchema {
                schema: "shop".into(),
                table: "orders".into(),
                ..Default::default()
            }],
        });
        let mut out = Vec::new();
        let mut open = false;
        assert_eq!(
            record_entries(
                &rec,
                true,
                &Filter::all(),
                TimeZone::Utc,
                &mut open,
                &mut out
            ),
            1
        );
        assert_eq!(out.len(), 1);
        let rc = c::RowChange::decode(&out[0].store_value[..]).unwrap();
        assert_eq!(rc.is_ddl, Some(true));
        assert_eq!(rc.event_type, Some(c::EventType::Alter as i32));
        assert_eq!(rc.sql, "/* x */ ALTER TABLE orders ADD c INT");
        assert_eq!(out[0].header.as_ref().unwrap().table_name, "orders");
    }

    #[test]
    fn statements_become_query_entries() {
        let mut rec = record(vec![]);
        rec.statements = vec![crate::proto::Statement {
            schema: "shop".into(),
            text: "UPDATE t SET a = 1".into(),
        }];
        let mut out = Vec::new();
        let mut open = false;
        let n = record_entries(
            &rec,
            true,
            &Filter::all(),
            TimeZone::Utc,
            &mut open,
            &mut out,
        );
        assert_eq!((n, out.len()), (1, 3));
        let rc = c::RowChange::decode(&out[1].store_value[..]).unwrap();
        assert_eq!(rc.event_type, Some(c::EventType::Query as i32));
        assert_eq!(rc.sql, "UPDATE t SET a = 1");
        let none = Filter::parse(r"crm\..*").unwrap();
        out.clear();
        assert_eq!(
            record_entries(&rec, true, &none, TimeZone::Utc, &mut open, &mut out),
            0
        );
    }

    #[test]
    fn ddl_kinds() {
        assert_eq!(
            ddl_event_type("create table t (a int)"),
            c::EventType::Create
        );
        assert_eq!(
            ddl_event_type("CREATE UNIQUE INDEX i ON t(a)"),
            c::EventType::Cindex
        );
        assert_eq!(ddl_event_type("drop table t"), c::EventType::Erase);
        assert_eq!(ddl_event_type("DROP INDEX i ON t"), c::EventType::Dindex);
        assert_eq!(ddl_event_type("-- c\n truncate t"), c::EventType::Truncate);
        assert_eq!(ddl_event_type("RENAME TABLE a TO b"), c::EventType::Rename);
        assert_eq!(ddl_event_type("CREATE DATABASE x"), c::EventType::Query);
        assert_eq!(ddl_event_type(""), c::EventType::Query);
    }
}
