//! MySQL apply sink (the mirror): replays the log's transactions on a
//! target MySQL/MariaDB so that a target schema stays identical to a
//! source schema.
//!
//! Source transactions apply whole: a target transaction (`BEGIN` …
//! `COMMIT`) holds one or several of them, never part of one (a
//! transaction the log split into parts is applied part by part), so a
//! reader of the target never sees half a source transaction.
//! Transactions apply on up to `workers` target connections at once
//! (`apply`): those that touch the same primary-key or unique-key value
//! ([`writeset`]) on one connection in log order, DDL and statements
//! without row images alone ([`schedule`]); the statements of one target
//! transaction are merged (`group`). Every statement sets rows to a state
//! given by full row images, which makes a redelivered tail harmless:
//!
//! - insert: `REPLACE INTO t (cols) VALUES (after)`;
//! - update: `REPLACE INTO t (cols) VALUES (after)`, after a `DELETE` of
//!   the old key when the primary key changed (a REPLACE, unlike an
//!   UPDATE, also converges when a redelivered update meets a unique
//!   value a later transaction took); with a minimal after image,
//!   `UPDATE t SET after WHERE pk = before-pk`;
//! - delete: `DELETE FROM t WHERE pk = before-pk`.
//!
//! Consecutive REPLACEs of a table share one multi-row statement, also
//! across row events, and a DELETE directly followed by a REPLACE of the
//! same key is dropped (the REPLACE deletes that row itself).
//!
//! Tables without a primary key are refused (error naming the table)
//! unless `allow_no_pk` is set; then every before-image column goes into
//! the `WHERE` with `LIMIT 1`. DDL is replayed as its text after
//! `USE target_db`, except database DDL, which becomes `CREATE DATABASE IF
//! NOT EXISTS` (+ `ALTER DATABASE … CHARACTER SET`) or `DROP DATABASE IF
//! EXISTS` of the target's name; errors a replayed DDL gives because it already ran
//! (table exists, duplicate column, ...) are ignored. Schemas are renamed
//! by a map (`source_db → target_db`); qualified names inside DDL text are
//! rewritten by a simple token rule (see [`rename_in_ddl`]).
//!
//! Account and privilege statements (`GRANT`, `CREATE USER`, …) and
//! writes to the system schemas are not replayed unless `replay_accounts`
//! ([`super::mysql_skip`]): a target has its own accounts, and refusing
//! them would stop the mirror.
//!
//! Values are rendered as SQL literals: strings quoted with `\` and `'`
//! escaped (the session runs without `NO_BACKSLASH_ESCAPES`), bytes as
//! `X'..'`, decimals and temporal values as quoted text, timestamps in
//! UTC (the session's `time_zone` is `+00:00`), absent columns (minimal
//! row images) left out.

use super::mysql_literal::{literal, Literal};
use super::mysql_skip;
use super::runner::{Sink, SinkError};
#[cfg(test)]
use crate::proto::Value;
use crate::proto::{value::Kind, ChangeKind, Column, Image, Record, TableChange};
use crate::source::{Connection, SourceConfig, SourceError};
use std::collections::BTreeMap;

mod apply;
mod group;
pub mod schedule;
pub mod writeset;

#[derive(Clone, Debug)]
pub struct MysqlOptions {
    /// Target server, `mysql://user:pw@host:port`.
    pub url: String,
    /// Schema renames, `source_db → target_db`. When not empty, only
    /// changes and DDL of the schemas it names are applied.
    pub schemas: BTreeMap<String, String>,
    /// Apply tables without a primary key by matching every column.
    pub allow_no_pk: bool,
    /// Replay DDL statements.
    pub ddl: bool,
    /// Also replay account and privilege statements and changes to the
    /// system schemas ([`super::mysql_skip`]); off by default.
    pub replay_accounts: bool,
    /// Target connections applying transactions at once (at least 1).
    pub workers: usize,
}

/// The default of [`MysqlOptions::workers`].
pub const DEFAULT_WORKERS: usize = 4;

pub struct MysqlSink {
    options: MysqlOptions,
    config: SourceConfig,
    /// One per worker; `None` until connected (again, after an error).
    conns: Vec<Option<Connection>>,
    limits: Limits,
    /// The target's unique keys, for write sets.
    keys: writeset::UniqueKeys,
}

/// How much SQL goes into one round trip and into one multi-row REPLACE:
/// at most 1 MB and 256 KB, less when the target's `max_allowed_packet`
/// is small (half and a quarter of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    round_trip: usize,
    statement: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        round_trip: 1 << 20,
        statement: 256 << 10,
    };

    fn for_max_packet(max_allowed_packet: u64) -> Limits {
        let max = usize::try_from(max_allowed_packet).unwrap_or(usize::MAX);
        Limits {
            round_trip: Self::DEFAULT.round_trip.min(max / 2),
            statement: Self::DEFAULT.statement.min(max / 4),
        }
    }
}

/// One statement of a plan, with what `group.rs` needs to merge the plans
/// of several records into one target transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    /// DDL: replayed alone, the errors of one that already ran accepted.
    pub ddl: bool,
    pub rows: Rows,
}

/// Which rows a statement writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rows {
    /// Not one table's rows (`USE`, a replayed statement, DDL): nothing
    /// moves across it.
    Fence,
    /// Rows of one table (`db`.`t`, quoted as in the SQL).
    Table(String),
    /// Rows of one table, as a multi-row `REPLACE` whose first `head`
    /// bytes (`REPLACE INTO t (cols) VALUES `) are followed by the row
    /// tuples: a later one with the same head can add its tuples.
    Replace { table: String, head: usize },
}

impl Statement {
    fn ddl(sql: String) -> Statement {
        Statement {
            sql,
            ddl: true,
            rows: Rows::Fence,
        }
    }

    fn fence(sql: String) -> Statement {
        Statement {
            sql,
            ddl: false,
            rows: Rows::Fence,
        }
    }

    fn rows(table: &str, sql: String) -> Statement {
        Statement {
            sql,
            ddl: false,
            rows: Rows::Table(table.to_string()),
        }
    }

    fn replace(table: &str, head: &str, tuple: &str) -> Statement {
        Statement {
            sql: format!("{head}{tuple}"),
            ddl: false,
            rows: Rows::Replace {
                table: table.to_string(),
                head: head.len(),
            },
        }
    }
}

/// Error codes a replayed DDL gives when it already ran on the target.
const ALREADY_APPLIED: &[u16] = &[
    1007, // database exists
    1008, // database does not exist (drop)
    1050, // table exists
    1051, // unknown table (drop)
    1060, // duplicate column
    1061, // duplicate key name
    1091, // can't drop: column/key does not exist
    1054, // unknown column (change/drop of an already renamed column)
];

impl MysqlSink {
    /// Check the target URL; the connection is opened on first delivery
    /// (and again after any error).
    pub fn new(options: MysqlOptions) -> Result<MysqlSink, SinkError> {
        let config = SourceConfig::from_url(&options.url).map_err(|e| {
            SinkError::Fatal(format!("mysql sink: bad target url {}: {e}", options.url))
        })?;
        let workers = options.workers.max(1);
        Ok(MysqlSink {
            options,
            config,
            conns: (0..workers).map(|_| None).collect(),
            limits: Limits::DEFAULT,
            keys: writeset::UniqueKeys::default(),
        })
    }

    /// The target schema for source schema `schema`, or `None` when the
    /// map names other schemas only.
    fn target(&self, schema: &str) -> Option<String> {
        if self.options.schemas.is_empty() {
            return Some(schema.to_string());
        }
        self.options.schemas.get(schema).cloned()
    }

    /// The row changes of `record` the mirror applies, each with its
    /// target schema.
    fn applied<'a>(
        &'a self,
        record: &'a Record,
    ) -> impl Iterator<Item = (&'a TableChange, String)> + 'a {
        record.changes.iter().filter_map(|change| {
            if !self.options.replay_accounts && mysql_skip::is_system_schema(&change.schema) {
                return None;
            }
            Some((change, self.target(&change.schema)?))
        })
    }

    /// The statements applying one record.
    pub fn plan(&self, offset: u64, record: &Record) -> Result<Vec<Statement>, SinkError> {
        let mut out = Vec::new();
        if let Some(ddl) = &record.ddl {
            if !self.options.ddl {
                return Ok(out);
            }
            if !self.options.replay_accounts && mysql_skip::ddl(ddl) {
                tracing::info!(offset, statement = %clip(&ddl.statement), "mirror: not replaying an account statement or system-schema DDL (replay_accounts = false)");
                return Ok(out);
            }
            if !ddl.databases.is_empty() {
                // CREATE / ALTER / DROP DATABASE: the statement names a
                // source database, and `USE` of it may fail on the target
                // before it exists; state it for the target's name instead.
                for db in &ddl.databases {
                    let Some(target) = self.target(&db.name) else {
                        continue;
                    };
                    out.extend(database_sql(&target, &db.charset, db.dropped));
                }
                return Ok(out);
            }
            let touched = ddl
                .tables
                .iter()
                .map(|t| t.schema.as_str())
                .chain(std::iter::once(ddl.schema.as_str()))
                .filter(|s| !s.is_empty());
            let mut mapped = None;
            for schema in touched {
                if self.target(schema).is_some() {
                    mapped = Some(schema);
                    break;
                }
            }
            if mapped.is_none() {
                return Ok(out);
            }
            let mut text = ddl.statement.clone();
            for (from, to) in &self.options.schemas {
                text = rename_in_ddl(&text, from, to);
            }
            if let Some(target) = self.target(&ddl.schema).filter(|s| !s.is_empty()) {
                out.push(Statement::fence(format!("USE {}", ident(&target))));
            }
            out.push(Statement::ddl(text));
            return Ok(out);
        }
        // A snapshot's plan record: its tables are created where they
        // are missing, from the source's SHOW CREATE TABLE, so a mirror
        // can start from an empty server.
        if let Some(chunk) = record.snapshot_chunk.as_ref() {
            for (name, create) in chunk.plan.iter().zip(&chunk.create_tables) {
                let schema = name.split_once('.').map(|(s, _)| s).unwrap_or_default();
                if let Some(target) = self.target(schema).filter(|_| !create.is_empty()) {
                    out.extend(create_missing_table(&target, create));
                }
            }
            // A table without a key is read whole at one position: its
            // rows are the table's contents there, replacing what the
            // stream put in before (rows cannot be matched one by one).
            // Applied alone, like a DDL (a redelivery redoes it whole).
            if chunk.plan.is_empty() && chunk.key_columns.is_empty() {
                if let Some(target) = self.target(&chunk.schema) {
                    let table = format!("{}.{}", ident(&target), ident(&chunk.table));
                    out.push(Statement::ddl(format!("DELETE FROM {table}")));
                }
            }
        }
        for statement in &record.statements {
            if !self.options.replay_accounts && mysql_skip::statement(statement) {
                continue;
            }
            let Some(target) = self.target(&statement.schema) else {
                continue;
            };
            if !target.is_empty() {
                out.push(Statement::fence(format!("USE {}", ident(&target))));
            }
            out.push(Statement::fence(statement.text.clone()));
        }
        let mut last = Last::Other;
        for (change, target) in self.applied(record) {
            change_sql(
                change,
                &target,
                self.options.allow_no_pk,
                self.limits.statement,
                &mut out,
                &mut last,
            )
            .map_err(|e| SinkError::Fatal(format!("mysql sink: log record {offset}: {e}")))?;
        }
        Ok(out)
    }

    /// Replays a DDL's statements one by one, accepting the errors of a
    /// DDL that already ran on the target.
    async fn replay_ddl(&mut self, offset: u64, plan: &[Statement]) -> Result<(), SinkError> {
        let conn = self.connection().await?;
        for statement in plan {
            match conn.exec(&statement.sql).await {
                Ok(_) => {}
                Err(SourceError::Server { code, message, .. })
                    if statement.ddl && ALREADY_APPLIED.contains(&code) =>
                {
                    tracing::info!(offset, code, %message, "replayed DDL already applied on the target");
                }
                Err(e) => {
                    return Err(classify(
                        e,
                        &format!("replaying DDL of log record {offset}"),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl Sink for MysqlSink {
    async fn deliver(&mut self, _messages: Vec<super::message::Message>) -> Result<(), SinkError> {
        Err(SinkError::Fatal(
            "mysql sink: takes whole records, not messages".into(),
        ))
    }

    fn wants_records(&self) -> bool {
        true
    }

    async fn deliver_records(&mut self, records: &[(u64, Record)]) -> Result<(), SinkError> {
        let result = self.apply(records).await;
        if result.is_err() {
            // Open transactions roll back with their connections; the
            // indexes may have changed with a DDL that did run.
            for conn in self.conns.iter_mut().filter_map(Option::take) {
                conn.close().await;
            }
            self.keys.clear();
        }
        result
    }
}

/// Session settings: literals and timestamps as this module writes them,
/// zero kept in auto-increment columns, constraints as on the source.
const SESSION_SETUP: &str = "SET NAMES utf8mb4, time_zone = '+00:00', \
    sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0";

/// Server errors that a retry can get past: too many connections (1040),
/// shutdown in progress (1053), lock wait timeout (1205), deadlock (1213),
/// query interrupted (1317), connection killed (1927, MariaDB), client
/// idle disconnect (4031, MySQL 8). Any other server error is the
/// target's definite answer.
const TRANSIENT_CODES: &[u16] = &[1040, 1053, 1205, 1213, 1317, 1927, 4031];

fn classify(e: SourceError, what: &str) -> SinkError {
    let text = format!("mysql sink: {what}: {e}");
    match &e {
        SourceError::Server { code, .. } if TRANSIENT_CODES.contains(code) => {
            SinkError::Transient(text)
        }
        SourceError::Server { .. } | SourceError::Config(_) | SourceError::Auth { .. } => {
            SinkError::Fatal(text)
        }
        _ => SinkError::Transient(text),
    }
}

fn clip(sql: &str) -> String {
    let mut s: String = sql.chars().take(200).collect();
    if s.len() < sql.len() {
        s.push('…');
    }
    s
}

/// `name` as a quoted identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Statements bringing database `name` to the state a database DDL left
/// it in: dropped, or present with its default character set. Idempotent,
/// so a redelivered DDL is harmless.
fn database_sql(name: &str, charset: &str, dropped: bool) -> Vec<Statement> {
    let name = ident(name);
    if dropped {
        return vec![Statement::ddl(format!("DROP DATABASE IF EXISTS {name}"))];
    }
    let mut out = vec![Statement::ddl(format!(
        "CREATE DATABASE IF NOT EXISTS {name}"
    ))];
    if !charset.is_empty()
        && charset
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        out.push(Statement::ddl(format!(
            "ALTER DATABASE {name} CHARACTER SET {charset}"
        )));
    }
    out
}

/// Rewrite schema qualifiers `from.` / `` `from`. `` in a DDL statement to
/// `to`. Only whole identifiers directly followed by `.` outside string
/// literals are replaced.
pub fn rename_in_ddl(sql: &str, from: &str, to: &str) -> String {
    if from == to {
        return sql.to_string();
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // Copy a string literal as it is.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if chars[i] == c {
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == '`' {
            let mut j = i + 1;
            let mut name = String::new();
            while j < chars.len() {
                if chars[j] == '`' {
                    if chars.get(j + 1) == Some(&'`') {
                        name.push('`');
                        j += 2;
                        continue;
                    }
                    break;
                }
                name.push(chars[j]);
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            if name == from && chars.get(end) == Some(&'.') {
                out.push_str(&ident(to));
            } else {
                out.extend(&chars[i..end]);
            }
            i = end;
            continue;
        }
        if is_word(c) && (i == 0 || !is_word(chars[i - 1])) {
            let mut j = i;
            while j < chars.len() && is_word(chars[j]) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if word == from && chars.get(j) == Some(&'.') {
                out.push_str(&ident(to));
            } else {
                out.push_str(&word);
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// What the last statement of a plan is, when [`change_sql`] wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    Other,
    Replace,
    /// A DELETE by primary key; whether a REPLACE came just before it.
    Delete {
        after_replace: bool,
    },
}

/// The statements for one row event on `target`.`table`, appended to
/// `out`, whose last statement `last` describes (kept up to date).
fn change_sql(
    change: &TableChange,
    target: &str,
    allow_no_pk: bool,
    max_statement: usize,
    out: &mut Vec<Statement>,
    last: &mut Last,
) -> Result<(), String> {
    let table = format!("{}.{}", ident(target), ident(&change.table));
    let name = format!("{}.{}", change.schema, change.table);
    if !change.names_known {
        return Err(format!(
            "table {name}: the log has no column names (binlog_row_metadata=FULL or schema history needed)"
        ));
    }
    let has_pk = change.columns.iter().any(|c| c.primary_key);
    if !has_pk && !allow_no_pk {
        return Err(format!(
            "table {name} has no primary key: the mirror cannot apply it idempotently (set allow_no_pk to match rows by every column)"
        ));
    }
    let kind = ChangeKind::try_from(change.kind).unwrap_or(ChangeKind::Unspecified);
    // Consecutive REPLACEs with the same column list share one multi-row
    // REPLACE (rows apply in order, as one by one), and a DELETE of the
    // key a REPLACE writes right after it is left to the REPLACE (which
    // deletes it too): a sysbench-like transaction (two updates, a delete
    // and an insert of the same key) is one statement, not four.
    let replace = |out: &mut Vec<Statement>, last: &mut Last, after: &Image| {
        let (head, tuple) = replace_parts(&table, &change.columns, after, &name)?;
        if let Last::Delete { after_replace } = *last {
            let same_key = delete_sql(&table, &change.columns, after, true, &name)?;
            if has_pk && out.last().is_some_and(|s| s.sql == same_key) {
                out.pop();
                *last = if after_replace {
                    Last::Replace
                } else {
                    Last::Other
                };
            }
        }
        match out.last_mut() {
            Some(s)
                if *last == Last::Replace
                    && s.sql.len() < max_statement
                    && s.sql.starts_with(&head) =>
            {
                s.sql.push_str(", ");
                s.sql.push_str(&tuple);
            }
            _ => out.push(Statement::replace(&table, &head, &tuple)),
        }
        *last = Last::Replace;
        Ok::<(), String>(())
    };
    for (index, row) in change.rows.iter().enumerate() {
        let missing = |what: &str| format!("table {name} row {index}: no {what} image");
        match kind {
            // A snapshot read replaces like an insert: the row as it is.
            ChangeKind::Insert | ChangeKind::Read => {
                let after = row.after.as_ref().ok_or_else(|| missing("after"))?;
                replace(out, last, after)?;
            }
            ChangeKind::Update => {
                let before = row.before.as_ref().ok_or_else(|| missing("before"))?;
                let after = row.after.as_ref().ok_or_else(|| missing("after"))?;
                let pk_changed = has_pk
                    && change
                        .columns
                        .iter()
                        .zip(before.values.iter().zip(&after.values))
                        .any(|(c, (b, a))| {
                            c.primary_key
                                && !matches!(a.kind, Some(Kind::Absent(_)) | None)
                                && a != b
                        });
                let full_after = after
                    .values
                    .iter()
                    .all(|v| !matches!(v.kind, Some(Kind::Absent(_)) | None));
                // A full after image is written whole (REPLACE): a
                // redelivered update then converges even where a later
                // transaction took its unique value (an UPDATE would stop
                // on the duplicate key).
                if has_pk && full_after {
                    if pk_changed {
                        out.push(Statement::rows(
                            &table,
                            delete_sql(&table, &change.columns, before, has_pk, &name)?,
                        ));
                        *last = Last::Other;
                    }
                    replace(out, last, after)?;
                } else {
                    out.push(Statement::rows(
                        &table,
                        update_sql(&table, &change.columns, before, after, has_pk, &name)?,
                    ));
                    *last = Last::Other;
                }
            }
            ChangeKind::Delete => {
                let before = row.before.as_ref().ok_or_else(|| missing("before"))?;
                out.push(Statement::rows(
                    &table,
                    delete_sql(&table, &change.columns, before, has_pk, &name)?,
                ));
                *last = if has_pk {
                    Last::Delete {
                        after_replace: *last == Last::Replace,
                    }
                } else {
                    Last::Other
                };
            }
            ChangeKind::Unspecified => {
                return Err(format!(
                    "table {name}: row event of unknown kind {}",
                    change.kind
                ))
            }
        }
    }
    Ok(())
}

/// `CREATE TABLE \`t\` (…)` as SHOW CREATE TABLE prints it → created in
/// database `target` unless it exists (and the database with it).
fn create_missing_table(target: &str, create: &str) -> Vec<Statement> {
    let body = create.strip_prefix("CREATE TABLE ").unwrap_or(create);
    vec![
        Statement::ddl(format!("CREATE DATABASE IF NOT EXISTS {}", ident(target))),
        Statement::ddl(format!(
            "CREATE TABLE IF NOT EXISTS {}.{body}",
            ident(target)
        )),
    ]
}

/// The present (column, literal) pairs of an image.
fn present<'a>(
    columns: &'a [Column],
    image: &'a Image,
    name: &str,
) -> Result<Vec<(&'a Column, Option<String>)>, String> {
    if image.values.len() != columns.len() {
        return Err(format!(
            "table {name}: image has {} values for {} columns",
            image.values.len(),
            columns.len()
        ));
    }
    let mut out = Vec::new();
    for (column, value) in columns.iter().zip(&image.values) {
        match literal(value) {
            Literal::Absent => {}
            Literal::Sql(s) => out.push((column, Some(s))),
            Literal::Null => out.push((column, None)),
            Literal::Unsupported(what) => {
                return Err(format!("table {name} column {}: {what}", column.name))
            }
        }
    }
    Ok(out)
}

/// `REPLACE INTO t (cols) VALUES ` and `(values)` of one after image.
fn replace_parts(
    table: &str,
    columns: &[Column],
    after: &Image,
    name: &str,
) -> Result<(String, String), String> {
    let values = present(columns, after, name)?;
    let mut head = format!("REPLACE INTO {table} (");
    let mut tuple = String::from("(");
    for (i, (c, v)) in values.iter().enumerate() {
        if i > 0 {
            head.push_str(", ");
            tuple.push_str(", ");
        }
        head.push_str(&ident(&c.name));
        tuple.push_str(v.as_deref().unwrap_or("NULL"));
    }
    head.push_str(") VALUES ");
    tuple.push(')');
    Ok((head, tuple))
}

/// `WHERE` over the primary key (or, without one, every present column).
fn where_sql(
    columns: &[Column],
    before: &Image,
    has_pk: bool,
    name: &str,
) -> Result<String, String> {
    let values = present(columns, before, name)?;
    let mut parts = Vec::new();
    for (c, v) in values {
        if has_pk && !c.primary_key {
            continue;
        }
        parts.push(match v {
            Some(v) => format!("{} = {v}", ident(&c.name)),
            None => format!("{} IS NULL", ident(&c.name)),
        });
    }
    if parts.is_empty() {
        return Err(format!("table {name}: the before image has no key columns"));
    }
    let mut sql = format!(" WHERE {}", parts.join(" AND "));
    if !has_pk {
        sql.push_str(" LIMIT 1");
    }
    Ok(sql)
}

fn update_sql(
    table: &str,
    columns: &[Column],
    before: &Image,
    after: &Image,
    has_pk: bool,
    name: &str,
) -> Result<String, String> {
    let values = present(columns, after, name)?;
    if values.is_empty() {
        return Err(format!("table {name}: the after image has no columns"));
    }
    let set: Vec<String> = values
        .iter()
        .map(|(c, v)| format!("{} = {}", ident(&c.name), v.as_deref().unwrap_or("NULL")))
        .collect();
    Ok(format!(
        "UPDATE {table} SET {}{}",
        set.join(", "),
        where_sql(columns, before, has_pk, name)?
    ))
}

fn delete_sql(
    table: &str,
    columns: &[Column],
    before: &Image,
    has_pk: bool,
    name: &str,
) -> Result<String, String> {
    Ok(format!(
        "DELETE FROM {table}{}",
        where_sql(columns, before, has_pk, name)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Row;

    fn v(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    fn col(name: &str, pk: bool) -> Column {
        Column {
            name: name.into(),
            primary_key: pk,
            ..Default::default()
        }
    }

    fn sink(map: &[(&str, &str)], allow_no_pk: bool) -> MysqlSink {
        MysqlSink::new(MysqlOptions {
            url: "mysql://u:p@127.0.0.1:1".into(),
            schemas: map
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            allow_no_pk,
            ddl: true,
            replay_accounts: false,
            workers: DEFAULT_WORKERS,
        })
        .unwrap()
    }

    fn change(kind: ChangeKind, columns: Vec<Column>, rows: Vec<Row>) -> TableChange {
        TableChange {
            schema: "src".into(),
            table: "t".into(),
            kind: kind as i32,
            columns,
            names_known: true,
            rows,
            query: String::new(),
            ..Default::default()
        }
    }

    /// The SQL text of the statements applying `rec`.
    fn statements(sink: &MysqlSink, rec: &Record) -> Vec<String> {
        sink.plan(1, rec)
            .unwrap()
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    fn image(values: Vec<Value>) -> Option<Image> {
        Some(Image { values })
    }

    #[test]
    fn rows_become_idempotent_statements() {
        let cols = vec![col("id", true), col("a", false)];
        let rec = Record {
            changes: vec![
                change(
                    ChangeKind::Insert,
                    cols.clone(),
                    vec![Row {
                        before: None,
                        after: image(vec![v(Kind::Int(1)), v(Kind::Text("x".into()))]),
                    }],
                ),
                change(
                    ChangeKind::Update,
                    cols.clone(),
                    vec![
                        Row {
                            before: image(vec![v(Kind::Int(1)), v(Kind::Text("x".into()))]),
                            after: image(vec![v(Kind::Int(1)), v(Kind::Null(true))]),
                        },
                        Row {
                            before: image(vec![v(Kind::Int(1)), v(Kind::Null(true))]),
                            after: image(vec![v(Kind::Int(2)), v(Kind::Null(true))]),
                        },
                    ],
                ),
                change(
                    ChangeKind::Delete,
                    cols,
                    vec![Row {
                        before: image(vec![v(Kind::Int(2)), v(Kind::Absent(true))]),
                        after: None,
                    }],
                ),
            ],
            ..Default::default()
        };
        let plan = statements(&sink(&[("src", "dst")], false), &rec);
        assert_eq!(
            plan,
            vec![
                "REPLACE INTO `dst`.`t` (`id`, `a`) VALUES (1, 'x'), (1, NULL)",
                "DELETE FROM `dst`.`t` WHERE `id` = 1",
                "REPLACE INTO `dst`.`t` (`id`, `a`) VALUES (2, NULL)",
                "DELETE FROM `dst`.`t` WHERE `id` = 2",
            ]
        );
    }

    #[test]
    fn a_delete_then_insert_of_one_key_is_one_replace() {
        // sysbench's oltp_write_only: two updates, a delete, an insert of
        // the deleted key; then a delete of another key stays.
        let cols = vec![col("id", true), col("a", false)];
        let img = |id, a: &str| image(vec![v(Kind::Int(id)), v(Kind::Text(a.into()))]);
        let one = |kind, before, after| change(kind, cols.clone(), vec![Row { before, after }]);
        let rec = Record {
            changes: vec![
                one(ChangeKind::Update, img(1, "a"), img(1, "b")),
                one(ChangeKind::Update, img(2, "a"), img(2, "c")),
                one(ChangeKind::Delete, img(3, "a"), None),
                one(ChangeKind::Insert, None, img(3, "d")),
                one(ChangeKind::Delete, img(4, "a"), None),
                one(ChangeKind::Insert, None, img(5, "e")),
            ],
            ..Default::default()
        };
        assert_eq!(
            statements(&sink(&[], false), &rec),
            vec![
                "REPLACE INTO `src`.`t` (`id`, `a`) VALUES (1, 'b'), (2, 'c'), (3, 'd')",
                "DELETE FROM `src`.`t` WHERE `id` = 4",
                "REPLACE INTO `src`.`t` (`id`, `a`) VALUES (5, 'e')",
            ]
        );
    }

    #[test]
    fn minimal_after_images_update_in_place() {
        let cols = vec![col("id", true), col("a", false), col("b", false)];
        let row = |a: Kind| Row {
            before: image(vec![v(Kind::Int(1)), v(Kind::Int(2)), v(Kind::Int(3))]),
            after: image(vec![v(Kind::Int(1)), v(a), v(Kind::Absent(true))]),
        };
        let rec = Record {
            changes: vec![change(
                ChangeKind::Update,
                cols,
                vec![row(Kind::Int(5)), row(Kind::Int(6))],
            )],
            ..Default::default()
        };
        assert_eq!(
            statements(&sink(&[], false), &rec),
            vec![
                "UPDATE `src`.`t` SET `id` = 1, `a` = 5 WHERE `id` = 1",
                "UPDATE `src`.`t` SET `id` = 1, `a` = 6 WHERE `id` = 1",
            ]
        );
    }

    #[test]
    fn consecutive_inserts_share_one_replace() {
        let cols = vec![col("id", true), col("a", false)];
        let row = |id, a: Kind| Row {
            before: None,
            after: image(vec![v(Kind::Int(id)), v(a)]),
        };
        let rec = Record {
            changes: vec![
                change(
                    ChangeKind::Insert,
                    cols.clone(),
                    vec![
                        row(1, Kind::Text("x".into())),
                        row(2, Kind::Null(true)),
                        // A minimal image with another column list.
                        row(3, Kind::Absent(true)),
                        row(4, Kind::Absent(true)),
                    ],
                ),
                change(
                    ChangeKind::Insert,
                    cols,
                    vec![row(5, Kind::Text("y".into()))],
                ),
            ],
            ..Default::default()
        };
        let plan = statements(&sink(&[], false), &rec);
        assert_eq!(
            plan,
            vec![
                "REPLACE INTO `src`.`t` (`id`, `a`) VALUES (1, 'x'), (2, NULL)",
                "REPLACE INTO `src`.`t` (`id`) VALUES (3), (4)",
                "REPLACE INTO `src`.`t` (`id`, `a`) VALUES (5, 'y')",
            ]
        );
    }

    #[test]
    fn limits_follow_a_small_max_allowed_packet() {
        assert_eq!(Limits::for_max_packet(64 << 20), Limits::DEFAULT);
        assert_eq!(
            Limits::for_max_packet(16 << 10),
            Limits {
                round_trip: 8 << 10,
                statement: 4 << 10
            }
        );
    }

    #[test]
    fn tables_without_primary_key_are_refused_unless_allowed() {
        let cols = vec![col("a", false), col("b", false)];
        let rec = Record {
            changes: vec![change(
                ChangeKind::Delete,
                cols,
                vec![Row {
                    before: image(vec![v(Kind::Int(1)), v(Kind::Null(true))]),
                    after: None,
                }],
            )],
            ..Default::default()
        };
        let err = sink(&[], false).plan(3, &rec).unwrap_err().to_string();
        assert!(err.contains("src.t has no primary key"), "{err}");
        let plan = sink(&[], true).plan(3, &rec).unwrap();
        assert_eq!(
            plan[0].sql,
            "DELETE FROM `src`.`t` WHERE `a` = 1 AND `b` IS NULL LIMIT 1"
        );
    }

    #[test]
    fn unmapped_schemas_are_skipped() {
        let rec = Record {
            changes: vec![change(
                ChangeKind::Insert,
                vec![col("id", true)],
                vec![Row {
                    before: None,
                    after: image(vec![v(Kind::Int(1))]),
                }],
            )],
            ..Default::default()
        };
        assert!(sink(&[("other", "x")], false)
            .plan(1, &rec)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn ddl_is_renamed_and_replayed_in_the_target_schema() {
        let rec = Record {
            ddl: Some(crate::proto::Ddl {
                schema: "src".into(),
                statement:
                    "ALTER TABLE src.t ADD COLUMN c VARCHAR(9) DEFAULT 'src.x', ADD KEY (`src`.b)"
                        .into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let plan = sink(&[("src", "dst")], false).plan(1, &rec).unwrap();
        assert_eq!(plan[0], Statement::fence("USE `dst`".into()));
        assert_eq!(
            plan[1],
            Statement::ddl(
                "ALTER TABLE `dst`.t ADD COLUMN c VARCHAR(9) DEFAULT 'src.x', ADD KEY (`dst`.b)"
                    .into()
            )
        );
        assert_eq!(
            rename_in_ddl("CREATE TABLE srcx.t (a int)", "src", "dst"),
            "CREATE TABLE srcx.t (a int)"
        );
    }

    #[test]
    fn database_ddl_targets_the_mapped_database_without_use() {
        let db = |name: &str, dropped| crate::proto::Database {
            name: name.into(),
            charset: "latin1".into(),
            dropped,
        };
        let rec = |statement: &str, database| Record {
            ddl: Some(crate::proto::Ddl {
                schema: "src".into(),
                statement: statement.into(),
                databases: vec![database],
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = sink(&[("src", "dst")], false);
        let created = s
            .plan(1, &rec("CREATE DATABASE src", db("src", false)))
            .unwrap();
        assert_eq!(
            created,
            vec![
                Statement::ddl("CREATE DATABASE IF NOT EXISTS `dst`".into()),
                Statement::ddl("ALTER DATABASE `dst` CHARACTER SET latin1".into()),
            ]
        );
        let dropped = s
            .plan(2, &rec("DROP DATABASE src", db("src", true)))
            .unwrap();
        assert_eq!(
            dropped,
            vec![Statement::ddl("DROP DATABASE IF EXISTS `dst`".into())]
        );
        let other = s.plan(3, &rec("CREATE DATABASE elsewhere", db("elsewhere", false)));
        assert!(other.unwrap().is_empty());
    }
}
