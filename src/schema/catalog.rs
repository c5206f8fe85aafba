//! Reading table definitions from the server's `information_schema`.
//!
//! This module holds the SQL and the parsing of its text result rows
//! (`Vec<Vec<Option<String>>>`, as a COM_QUERY text result set gives them),
//! but no networking: the pipeline runs the queries over the replica's
//! connection and hands the rows here. [`Catalog`] is the small interface
//! the history uses when a DDL statement must be re-read from the server.
//!
//! Primary keys come from `STATISTICS` rows of the index named `PRIMARY`,
//! not from `COLUMNS.COLUMN_KEY`, which also says `PRI` for the first
//! unique NOT NULL key of a table without a primary key.

use thiserror::Error;

use super::types::{charset_of_collation, normalize_charset, resolve, Dialect};
use crate::proto::{Column, Database, SchemaSnapshot, TableSchema};

/// Errors of the schema module.
#[derive(Debug, Error)]
pub enum SchemaError {
    /// A result row of one of our queries is not what the query selects.
    #[error("information_schema {query} result, row {row}: {reason}")]
    BadRow {
        query: &'static str,
        row: usize,
        reason: String,
    },
    /// The catalog (the server connection) failed. `retryable`: the
    /// failure is transient (connection lost, lock wait or deadlock, server
    /// restarting or out of connections) and asking again may answer;
    /// otherwise (a missing privilege, a query the server refuses) it
    /// would fail again for ever.
    #[error("reading the definition of {table} from the server: {reason}")]
    Catalog {
        table: String,
        reason: String,
        retryable: bool,
    },
}

impl SchemaError {
    /// Whether asking the server again may succeed: only a transient
    /// catalog failure. A result row we cannot read is read the same way
    /// next time.
    pub fn is_retryable(&self) -> bool {
        match self {
            SchemaError::Catalog { retryable, .. } => *retryable,
            SchemaError::BadRow { .. } => false,
        }
    }
}

/// Reads one table's definition from the server, for statements the
/// history could not read. `Ok(None)`: the table does not exist.
pub trait Catalog {
    fn table(&mut self, schema: &str, table: &str) -> Result<Option<TableSchema>, SchemaError>;
}

/// Every database with its default character set, and the server's
/// default. Columns: SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME,
/// @@character_set_server.
pub const DATABASES_SQL: &str =
    "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, @@character_set_server \
     FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME";

/// Databases never captured.
pub const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

const COLUMNS_SELECT: &str = "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION, c.COLUMN_NAME, c.COLUMN_TYPE, \
     c.IS_NULLABLE, c.DATA_TYPE, c.CHARACTER_SET_NAME, s.SEQ_IN_INDEX, t.TABLE_COLLATION \
     FROM information_schema.COLUMNS c \
     JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
     LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME \
     AND s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME \
     WHERE t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')";

/// Columns of every base table outside the system databases, in table and
/// ordinal order. Filter the result with the capture's rules in
/// [`parse_columns`]. Columns: TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION,
/// COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, DATA_TYPE, CHARACTER_SET_NAME,
/// primary key sequence (NULL when not in the primary key),
/// TABLE_COLLATION.
pub fn columns_sql() -> String {
    let system: Vec<String> = SYSTEM_SCHEMAS.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "{COLUMNS_SELECT} AND c.TABLE_SCHEMA NOT IN ({}) ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION",
        system.join(", ")
    )
}

/// A string literal for MySQL (quotes and backslashes escaped).
pub fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The columns of one table (same columns as [`columns_sql`]); for a
/// [`Catalog`] implementation: run it, then [`parse_table`].
pub fn table_sql(schema: &str, table: &str) -> String {
    format!(
        "{COLUMNS_SELECT} AND c.TABLE_SCHEMA = {} AND c.TABLE_NAME = {} ORDER BY c.ORDINAL_POSITION",
        quote_literal(schema),
        quote_literal(table)
    )
}

type Rows = [Vec<Option<String>>];

fn cell<'a>(
    query: &'static str,
    row: &'a [Option<String>],
    n: usize,
    i: usize,
) -> Result<Option<&'a str>, SchemaError> {
    row.get(i)
        .map(|c| c.as_deref())
        .ok_or_else(|| SchemaError::BadRow {
            query,
            row: n,
            reason: format!("{} cells, expected at least {}", row.len(), i + 1),
        })
}

fn required<'a>(
    query: &'static str,
    row: &'a [Option<String>],
    n: usize,
    i: usize,
    what: &str,
) -> Result<&'a str, SchemaError> {
    cell(query, row, n, i)?.ok_or_else(|| SchemaError::BadRow {
        query,
        row: n,
        reason: format!("{what} is NULL"),
    })
}

/// Parses [`DATABASES_SQL`] rows into databases and the server charset.
pub fn parse_databases(rows: &Rows) -> Result<(Vec<Database>, String), SchemaError> {
    let mut out = Vec::new();
    let mut server = String::new();
    for (n, row) in rows.iter().enumerate() {
        let name = required("SCHEMATA", row, n, 0, "SCHEMA_NAME")?;
        let cs = cell("SCHEMATA", row, n, 1)?.unwrap_or("");
        if let Some(s) = cell("SCHEMATA", row, n, 2)? {
            server = normalize_charset(s);
        }
        out.push(Database {
            name: name.to_string(),
            charset: normalize_charset(cs),
            dropped: false,
        });
    }
    Ok((out, server))
}

/// Parses [`columns_sql`] / [`table_sql`] rows into tables, keeping those
/// `keep(schema, table)` accepts. Rows must come ordered by table and
/// ordinal position, as the queries order them.
pub fn parse_columns(
    rows: &Rows,
    dialect: &Dialect,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<TableSchema>, SchemaError> {
    const Q: &str = "COLUMNS";
    let mut out: Vec<TableSchema> = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        let schema = required(Q, row, n, 0, "TABLE_SCHEMA")?;
        let table = required(Q, row, n, 1, "TABLE_NAME")?;
        if !keep(schema, table) {
            continue;
        }
        let ordinal: u64 = required(Q, row, n, 2, "ORDINAL_POSITION")?
            .parse()
            .map_err(|e| SchemaError::BadRow {
                query: Q,
                row: n,
                reason: format!("ORDINAL_POSITION: {e}"),
            })?;
        let name = required(Q, row, n, 3, "COLUMN_NAME")?;
        let column_type = required(Q, row, n, 4, "COLUMN_TYPE")?;
        let nullable = match required(Q, row, n, 5, "IS_NULLABLE")? {
            "YES" => true,
            "NO" => false,
            other => {
                return Err(SchemaError::BadRow {
                    query: Q,
                    row: n,
                    reason: format!("IS_NULLABLE is `{other}`"),
                })
            }
        };
        let charset = cell(Q, row, n, 7)?
            .map(normalize_charset)
            .unwrap_or_default();
        let pk = cell(Q, row, n, 8)?.is_some();
        let table_charset = cell(Q, row, n, 9)?
            .map(charset_of_collation)
            .unwrap_or_default();
        let new_table = out
            .last()
            .is_none_or(|t| t.schema != schema || t.table != table);
        if new_table {
            out.push(TableSchema {
                schema: schema.into(),
                table: table.into(),
                charset: table_charset,
                ..Default::default()
            });
        }
        let Some(t) = out.last_mut() else { continue };
        if ordinal != t.columns.len() as u64 + 1 {
            return Err(SchemaError::BadRow {
                query: Q,
                row: n,
                reason: format!(
                    "`{schema}`.`{table}` column {name}: ordinal {ordinal} out of order"
                ),
            });
        }
        let members = enum_members(column_type);
        let resolved = resolve(
            column_type,
            members.as_deref(),
            if charset.is_empty() {
                "binary"
            } else {
                &charset
            },
            dialect,
        );
        t.columns.push(Column {
            name: name.into(),
            mysql_type: column_type.into(),
            primary_key: pk,
            unsigned: column_type.contains(" unsigned"),
            nullable,
            type_code: resolved.map(|r| r.type_code).unwrap_or(0),
            charset,
        });
    }
    Ok(out)
}

/// Parses the rows of [`table_sql`]: `None` when there are none (the table
/// does not exist).
pub fn parse_table(rows: &Rows, dialect: &Dialect) -> Result<Option<TableSchema>, SchemaError> {
    Ok(parse_columns(rows, dialect, &|_, _| true)?
        .into_iter()
        .next())
}

/// Builds a snapshot from the rows of [`DATABASES_SQL`] and
/// [`columns_sql`], keeping the tables `keep` accepts (all databases are
/// kept: later tables take their defaults).
pub fn parse_snapshot(
    database_rows: &Rows,
    column_rows: &Rows,
    dialect: &Dialect,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Result<SchemaSnapshot, SchemaError> {
    let (databases, server_charset) = parse_databases(database_rows)?;
    let tables = parse_columns(column_rows, dialect, keep)?;
    Ok(SchemaSnapshot {
        tables,
        databases,
        server_charset,
    })
}

/// The members of `enum('a','b')` / `set(…)` as COLUMN_TYPE prints them.
fn enum_members(column_type: &str) -> Option<Vec<String>> {
    let lower = column_type.get(..4)?.to_ascii_lowercase();
    if !(lower == "enum" || lower.starts_with("set")) {
        return None;
    }
    let toks = super::lex::tokenize(column_type, true);
    Some(
        toks.into_iter()
            .filter(|t| t.kind == super::lex::Kind::Str)
            .map(|t| t.value)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn columns_become_tables() {
        let rows = vec![
            row(&[
                Some("d"),
                Some("t"),
                Some("1"),
                Some("id"),
                Some("int(10) unsigned"),
                Some("NO"),
                Some("int"),
                None,
                Some("1"),
                Some("latin1_swedish_ci"),
            ]),
            row(&[
                Some("d"),
                Some("t"),
                Some("2"),
                Some("e"),
                Some("enum('a','b''c')"),
                Some("YES"),
                Some("enum"),
                Some("utf8"),
                None,
                Some("latin1_swedish_ci"),
            ]),
            row(&[
                Some("d"),
                Some("u"),
                Some("1"),
                Some("x"),
                Some("varbinary(3)"),
                Some("YES"),
                Some("varbinary"),
                None,
                None,
                Some("binary"),
            ]),
            row(&[
                Some("e"),
                Some("skip"),
                Some("1"),
                Some("x"),
                Some("int(11)"),
                Some("YES"),
                Some("int"),
                None,
                None,
                None,
            ]),
        ];
        let tables = parse_columns(&rows, &Dialect::default(), &|s, _| s == "d").unwrap();
        assert_eq!(tables.len(), 2);
        let t = &tables[0];
        assert_eq!(t.charset, "latin1");
        assert_eq!(t.columns.len(), 2);
        assert!(t.columns[0].primary_key && !t.columns[0].nullable && t.columns[0].unsigned);
        assert_eq!(t.columns[0].type_code, super::super::types::code::LONG);
        assert_eq!(t.columns[1].charset, "utf8mb3");
        assert_eq!(t.columns[1].type_code, super::super::types::code::ENUM);
        assert_eq!(tables[1].charset, "binary");
    }

    #[test]
    fn bad_rows_are_errors() {
        let short = vec![row(&[Some("d"), Some("t"), Some("1")])];
        assert!(matches!(
            parse_columns(&short, &Dialect::default(), &|_, _| true),
            Err(SchemaError::BadRow { row: 0, .. })
        ));
        let gap = vec![row(&[
            Some("d"),
            Some("t"),
            Some("2"),
            Some("x"),
            Some("int(11)"),
            Some("YES"),
            Some("int"),
            None,
            None,
            None,
        ])];
        assert!(parse_columns(&gap, &Dialect::default(), &|_, _| true).is_err());
        let null = vec![row(&[
            Some("d"),
            Some("t"),
            Some("1"),
            None,
            Some("int(11)"),
            Some("YES"),
            Some("int"),
            None,
            None,
            None,
        ])];
        assert!(parse_columns(&null, &Dialect::default(), &|_, _| true).is_err());
        assert_eq!(quote_literal("a'b\\"), "'a''b\\\\'");
    }
}
