//! Applying DDL statements to the history, in binlog order.
//!
//! The [`scan`](super::scan) module reads each statement's shape (kind,
//! table names, `ALTER` clauses split at top-level commas); column
//! definitions go to `sqlparser` through [`column`](super::column). An
//! `ALTER TABLE` works on a copy of the table and replaces it only when
//! every clause was understood; otherwise the table is taken out of the
//! history and named for a refresh from the server, so that the history is
//! never wrong, at worst incomplete until the refresh.

use super::alter::NOT_A_COLUMN;
use super::column::{key_columns, parse_column_def};
use super::lex::{split_top_level, tokenize_for, Token};
use super::scan::{charset_option, scan, Cursor, Name, Stmt};
use super::{DdlChange, DdlOutcome, SchemaHistory, TableKey};
use crate::proto::{Database, TableSchema};

fn ci_eq(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

pub(super) fn find_column(t: &TableSchema, name: &str) -> Option<usize> {
    t.columns.iter().position(|c| ci_eq(&c.name, name))
}

pub(super) fn dropped(key: &TableKey) -> TableSchema {
    TableSchema {
        schema: key.schema.clone(),
        table: key.table.clone(),
        dropped: true,
        ..Default::default()
    }
}

/// Keeps only the last entry per table, in the order of those entries.
pub(super) fn last_per_table(tables: Vec<TableSchema>) -> Vec<TableSchema> {
    let mut out: Vec<TableSchema> = Vec::new();
    for t in tables {
        out.retain(|o| !(o.schema == t.schema && o.table == t.table));
        out.push(t);
    }
    out
}

fn short(statement: &str) -> String {
    let s: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

impl SchemaHistory {
    pub(super) fn key_of(&self, n: &Name, default_schema: &str) -> Option<TableKey> {
        let schema = n
            .schema
            .clone()
            .unwrap_or_else(|| default_schema.to_string());
        if schema.is_empty() {
            return None;
        }
        Some(TableKey::new(schema, n.table.clone()))
    }

    fn warning(statement: &str, reason: &str) -> String {
        format!("schema history cannot fully read DDL `{}`: {reason}; re-reading the table definitions from the server", short(statement))
    }

    /// Applies one statement from the binlog, run with `default_schema` as
    /// the session's current database (`""` for none). Never panics and
    /// never changes a table the statement does not name.
    pub fn apply_ddl(&mut self, default_schema: &str, statement: &str) -> DdlOutcome {
        let version = self.dialect.version_number();
        let mut toks = tokenize_for(statement, self.dialect.mariadb, version);
        while toks.last().is_some_and(|t| t.is_punct(";")) {
            toks.pop();
        }
        match scan(&toks) {
            Stmt::Other => DdlOutcome::Ignored,
            Stmt::Unreadable(reason) => DdlOutcome::Refresh {
                tables: Vec::new(),
                warning: Self::warning(statement, reason),
                applied: DdlChange::default(),
            },
            Stmt::CreateTable {
                name,
                if_not_exists,
                rest,
            } => match self.key_of(&name, default_schema) {
                Some(key) => self.create_table(key, if_not_exists, rest, default_schema, statement),
                None => self.no_schema(statement),
            },
            Stmt::AlterTable { name, rest } => match self.key_of(&name, default_schema) {
                Some(key) => self.alter_table(key, rest, default_schema, statement),
                None => self.no_schema(statement),
            },
            Stmt::RenameTables(pairs) => {
                let mut keys = Vec::new();
                for (from, to) in &pairs {
                    match (
                        self.key_of(from, default_schema),
                        self.key_of(to, default_schema),
                    ) {
                        (Some(f), Some(t)) => keys.push((f, t)),
                        _ => return self.no_schema(statement),
                    }
                }
                self.rename_tables(keys, statement)
            }
            Stmt::DropTables(names) => {
                let mut change = DdlChange::default();
                for n in &names {
                    let Some(key) = self.key_of(n, default_schema) else {
                        continue;
                    };
                    if self.tables.remove(&key).is_some() {
                        change.tables.push(dropped(&key));
                    }
                }
                if change.tables.is_empty() {
                    DdlOutcome::Ignored
                } else {
                    DdlOutcome::Applied(change)
                }
            }
            Stmt::Truncate(n) => match self
                .key_of(&n, default_schema)
                .and_then(|k| self.tables.get(&k))
            {
                Some(t) => DdlOutcome::Applied(DdlChange {
                    tables: vec![t.clone()],
                    databases: Vec::new(),
                }),
                None => DdlOutcome::Ignored,
            },
            Stmt::CreateDatabase {
                name,
                if_not_exists,
                or_replace,
                charset,
            } => {
                let mut change = DdlChange::default();
                if if_not_exists && self.databases.contains_key(&name) {
                    return DdlOutcome::Applied(change);
                }
                if or_replace {
                    change.tables = self.drop_database_tables(&name);
                }
                let cs = charset.unwrap_or_else(|| self.dialect.server_charset.clone());
                self.set_database(&name, &cs);
                change.databases.push(Database {
                    name,
                    charset: cs,
                    dropped: false,
                });
                DdlOutcome::Applied(change)
            }
            Stmt::AlterDatabase { name, charset } => {
                let name = name.unwrap_or_else(|| default_schema.to_string());
                match charset {
                    Some(cs) if !name.is_empty() => {
                        self.set_database(&name, &cs);
                        DdlOutcome::Applied(DdlChange {
                            tables: Vec::new(),
                            databases: vec![Database {
                                name,
                                charset: cs,
                                dropped: false,
                            }],
                        })
                    }
                    _ => DdlOutcome::Ignored,
                }
            }
            Stmt::DropDatabase(name) => {
                let tables = self.drop_database_tables(&name);
                self.databases.remove(&name);
                DdlOutcome::Applied(DdlChange {
                    tables,
                    databases: vec![Database {
                        name,
                        charset: String::new(),
                        dropped: true,
                    }],
                })
            }
        }
    }

    fn no_schema(&self, statement: &str) -> DdlOutcome {
        DdlOutcome::Refresh {
            tables: Vec::new(),
            warning: Self::warning(
                statement,
                "a table name without a database and no default database",
            ),
            applied: DdlChange::default(),
        }
    }

    fn drop_database_tables(&mut self, name: &str) -> Vec<TableSchema> {
        self.tables
            .remove_schema(name)
            .iter()
            .map(dropped)
            .collect()
    }

    /// A refresh of `key` after taking it out of the history.
    pub(super) fn refresh_table(
        &mut self,
        key: TableKey,
        mut applied: DdlChange,
        statement: &str,
        reason: &str,
    ) -> DdlOutcome {
        if self.tables.remove(&key).is_some() {
            applied.tables.push(dropped(&key));
        }
        let tables = if self.captures(&key.schema, &key.table) {
            vec![key]
        } else {
            Vec::new()
        };
        applied.tables = last_per_table(applied.tables);
        DdlOutcome::Refresh {
            tables,
            warning: Self::warning(statement, reason),
            applied,
        }
    }

    fn create_table(
        &mut self,
        key: TableKey,
        if_not_exists: bool,
        rest: &[Token],
        default_schema: &str,
        statement: &str,
    ) -> DdlOutcome {
        if !self.captures(&key.schema, &key.table) {
            return DdlOutcome::Ignored;
        }
        if if_not_exists && self.tables.contains_key(&key) {
            return DdlOutcome::Applied(DdlChange::default());
        }
        let mut c = Cursor::new(rest);
        let paren_like = c.eat_punct("(") && c.eat("LIKE");
        if !paren_like {
            c = Cursor::new(rest);
        }
        if paren_like || c.eat("LIKE") {
            let Some(src) = c.name().and_then(|n| self.key_of(&n, default_schema)) else {
                return self.refresh_table(
                    key,
                    DdlChange::default(),
                    statement,
                    "CREATE TABLE … LIKE with an unreadable source",
                );
            };
            let Some(mut t) = self.tables.get(&src).cloned() else {
                return self.refresh_table(
                    key,
                    DdlChange::default(),
                    statement,
                    &format!("the source table {src} is not in the history"),
                );
            };
            t.schema = key.schema.clone();
            t.table = key.table.clone();
            self.tables.insert(key, t.clone());
            return DdlOutcome::Applied(DdlChange {
                tables: vec![t],
                databases: Vec::new(),
            });
        }
        let Some(open) = rest.first().filter(|t| t.is_punct("(")).map(|_| 0) else {
            return self.refresh_table(
                key,
                DdlChange::default(),
                statement,
                "CREATE TABLE … SELECT takes its columns from a query",
            );
        };
        let Some(close) = super::lex::matching_paren(rest, open) else {
            return self.refresh_table(
                key,
                DdlChange::default(),
                statement,
                "unbalanced parentheses",
            );
        };
        let body = &rest[open + 1..close];
        let after = &rest[close + 1..];
        if after.iter().any(|t| t.is("SELECT")) {
            return self.refresh_table(
                key,
                DdlChange::default(),
                statement,
                "CREATE TABLE … SELECT takes its columns from a query",
            );
        }
        let charset =
            match charset_option(after).or_else(|| self.databases.get(&key.schema).cloned()) {
                Some(cs) => cs,
                None => {
                    let reason = format!(
                        "the default character set of database `{}` is unknown",
                        key.schema
                    );
                    return self.refresh_table(key, DdlChange::default(), statement, &reason);
                }
            };
        match self.read_create_body(&key, body, &charset) {
            Ok(t) => {
                self.tables.insert(key, t.clone());
                DdlOutcome::Applied(DdlChange {
                    tables: vec![t],
                    databases: Vec::new(),
                })
            }
            Err(reason) => self.refresh_table(key, DdlChange::default(), statement, &reason),
        }
    }

    fn read_create_body(
        &self,
        key: &TableKey,
        body: &[Token],
        charset: &str,
    ) -> Result<TableSchema, String> {
        let mut t = TableSchema {
            schema: key.schema.clone(),
            table: key.table.clone(),
            charset: charset.to_string(),
            ..Default::default()
        };
        let mut pk: Vec<String> = Vec::new();
        for item in split_top_level(body) {
            let Some(first) = item.first() else {
                return Err("an empty item in the column list".into());
            };
            let mut c = Cursor::new(item);
            if c.eat("CONSTRAINT") {
                if !c.peek_is("PRIMARY") {
                    c.ident();
                }
                if c.peek_is("PRIMARY") {
                    pk = key_columns(item).ok_or("an unreadable PRIMARY KEY")?;
                }
                continue;
            }
            if first.is("PRIMARY") {
                pk = key_columns(item).ok_or("an unreadable PRIMARY KEY")?;
                continue;
            }
            // `PERIOD FOR SYSTEM_TIME (…)`, but a column may be named `period`.
            let period_for = item.get(1).is_some_and(|n| n.is("FOR"));
            let not_a_column = if first.is("PERIOD") {
                period_for
            } else {
                NOT_A_COLUMN.iter().any(|k| first.is(k))
            };
            if not_a_column {
                continue;
            }
            let def = parse_column_def(item, charset, &self.dialect, self.explicit_ts())?;
            t.columns.push(def);
        }
        for name in &pk {
            let i = find_column(&t, name)
                .ok_or_else(|| format!("PRIMARY KEY names `{name}`, not a column"))?;
            t.columns[i].primary_key = true;
            t.columns[i].nullable = false;
        }
        if t.columns.is_empty() {
            return Err("no columns".into());
        }
        Ok(t)
    }

    fn rename_tables(&mut self, pairs: Vec<(TableKey, TableKey)>, statement: &str) -> DdlOutcome {
        let mut change = DdlChange::default();
        let mut refresh: Vec<TableKey> = Vec::new();
        let mut touched = false;
        for (from, to) in pairs {
            let dst_captured = self.captures(&to.schema, &to.table);
            touched |= dst_captured || self.captures(&from.schema, &from.table);
            refresh.retain(|k| *k != from);
            match self.tables.remove(&from) {
                Some(mut t) => {
                    change.tables.push(dropped(&from));
                    if dst_captured {
                        t.schema = to.schema.clone();
                        t.table = to.table.clone();
                        self.tables.insert(to, t.clone());
                        change.tables.push(t);
                    }
                }
                None if dst_captured => {
                    if self.tables.remove(&to).is_some() {
                        change.tables.push(dropped(&to));
                    }
                    refresh.push(to);
                }
                None => {}
            }
        }
        change.tables = last_per_table(change.tables);
        if !refresh.is_empty() {
            let names: Vec<String> = refresh.iter().map(ToString::to_string).collect();
            let reason = format!(
                "renamed into capture from tables not in the history: {}",
                names.join(", ")
            );
            return DdlOutcome::Refresh {
                tables: refresh,
                warning: Self::warning(statement, &reason),
                applied: change,
            };
        }
        if touched {
            DdlOutcome::Applied(change)
        } else {
            DdlOutcome::Ignored
        }
    }
}

/// For tests: the columns as `name type` strings.
#[cfg(test)]
pub(crate) fn describe(t: &TableSchema) -> Vec<String> {
    t.columns.iter().map(describe_column).collect()
}

#[cfg(test)]
fn describe_column(c: &crate::proto::Column) -> String {
    format!(
        "{} {}{}{}{}",
        c.name,
        c.mysql_type,
        if c.nullable { "" } else { " NOT NULL" },
        if c.primary_key { " PK" } else { "" },
        if c.charset.is_empty() {
            String::new()
        } else {
            format!(" [{}]", c.charset)
        }
    )
}
