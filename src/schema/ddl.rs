//! Applying DDL statements to the history, in binlog order.
//!
//! The [`scan`](super::scan) module reads each statement's shape (kind,
//! table names, `ALTER` clauses split at top-level commas); column
//! definitions go to `sqlparser` through [`column`](super::column). An
//! `ALTER TABLE` works on a copy of the table and replaces it only when
//! every clause was understood; otherwise the table is taken out of the
//! history and named for a refresh from the server, so that the history is
//! never wrong, at worst incomplete until the refresh.

use super::column::{key_columns, parse_column_def};
use super::lex::{split_top_level, tokenize, Token};
use super::scan::{charset_option, scan, Cursor, Name, Stmt};
use super::{DdlChange, DdlOutcome, SchemaHistory, TableKey};
use crate::proto::{Database, TableSchema};

/// Where `FIRST` / `AFTER x` puts a column.
enum Position {
    Keep,
    First,
    After(String),
}

/// Clauses of `ALTER TABLE` that never change columns, names or charsets
/// (table options are still searched for a new default charset).
const IGNORED_ALTER: [&str; 60] = [
    "ALGORITHM",
    "LOCK",
    "FORCE",
    "ENGINE",
    "TYPE",
    "AUTO_INCREMENT",
    "COMMENT",
    "ROW_FORMAT",
    "KEY_BLOCK_SIZE",
    "ORDER",
    "ENABLE",
    "DISABLE",
    "DISCARD",
    "IMPORT",
    "PARTITION",
    "REMOVE",
    "COALESCE",
    "REORGANIZE",
    "EXCHANGE",
    "ANALYZE",
    "CHECK",
    "OPTIMIZE",
    "REBUILD",
    "REPAIR",
    "TRUNCATE",
    "AVG_ROW_LENGTH",
    "CHECKSUM",
    "TABLE_CHECKSUM",
    "COMPRESSION",
    "CONNECTION",
    "DATA",
    "INDEX",
    "DELAY_KEY_WRITE",
    "ENCRYPTION",
    "ENCRYPTED",
    "ENCRYPTION_KEY_ID",
    "INSERT_METHOD",
    "MAX_ROWS",
    "MIN_ROWS",
    "PACK_KEYS",
    "PASSWORD",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "TABLESPACE",
    "UNION",
    "PAGE_CHECKSUM",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "TRANSACTIONAL",
    "SECONDARY_ENGINE",
    "SECONDARY_ENGINE_ATTRIBUTE",
    "ENGINE_ATTRIBUTE",
    "AUTOEXTEND_SIZE",
    "IETF_QUOTES",
    "SEQUENCE",
    "WITH",
    "WITHOUT",
    "UPGRADE",
    "START",
];

/// Words after `ADD` / `DROP` that name an index, constraint or partition.
const NOT_A_COLUMN: [&str; 10] = [
    "KEY",
    "INDEX",
    "UNIQUE",
    "FULLTEXT",
    "SPATIAL",
    "FOREIGN",
    "CHECK",
    "PARTITION",
    "PERIOD",
    "CONSTRAINT",
];

fn ci_eq(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn find_column(t: &TableSchema, name: &str) -> Option<usize> {
    t.columns.iter().position(|c| ci_eq(&c.name, name))
}

fn dropped(key: &TableKey) -> TableSchema {
    TableSchema {
        schema: key.schema.clone(),
        table: key.table.clone(),
        dropped: true,
        ..Default::default()
    }
}

/// Keeps only the last entry per table, in the order of those entries.
fn last_per_table(tables: Vec<TableSchema>) -> Vec<TableSchema> {
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

/// Strips a trailing `FIRST` / `AFTER col` from a column spec.
fn split_position(toks: &[Token]) -> (&[Token], Position) {
    let n = toks.len();
    if n >= 2 && toks[n - 2].is("AFTER") && toks[n - 1].is_ident() {
        return (&toks[..n - 2], Position::After(toks[n - 1].value.clone()));
    }
    if n >= 1 && toks[n - 1].is("FIRST") {
        return (&toks[..n - 1], Position::First);
    }
    (toks, Position::Keep)
}

/// Cuts `ALTER` clauses at a top-level `PARTITION BY` / `REMOVE
/// PARTITIONING` that follows them without a comma.
fn cut_partitioning(toks: &[Token]) -> &[Token] {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && i > 0 && !toks[i - 1].is_punct(",") {
            let next = toks.get(i + 1);
            if (t.is("PARTITION") && next.is_some_and(|n| n.is("BY")))
                || (t.is("REMOVE") && next.is_some_and(|n| n.is("PARTITIONING")))
            {
                return &toks[..i];
            }
        }
    }
    toks
}

impl SchemaHistory {
    fn key_of(&self, n: &Name, default_schema: &str) -> Option<TableKey> {
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
        let mut toks = tokenize(statement, self.dialect.mariadb);
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
        let keys: Vec<TableKey> = self
            .tables
            .keys()
            .filter(|k| k.schema == name)
            .cloned()
            .collect();
        for k in &keys {
            self.tables.remove(k);
        }
        keys.iter().map(dropped).collect()
    }

    /// A refresh of `key` after taking it out of the history.
    fn refresh_table(
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
            let def = parse_column_def(item, charset, &self.dialect)?;
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

    fn alter_table(
        &mut self,
        key: TableKey,
        rest: &[Token],
        default_schema: &str,
        statement: &str,
    ) -> DdlOutcome {
        let mut work: Option<TableSchema> = self.tables.get(&key).cloned();
        let mut new_key = key.clone();
        let mut failure: Option<String> = None;
        let mut specs: Vec<&[Token]> = split_top_level(cut_partitioning(rest));
        if specs.len() == 1 && specs[0].is_empty() {
            specs.clear();
        }
        for spec in specs {
            if is_partition_operation(spec) {
                // Its own comma list (`DROP PARTITION p1, p2`) follows; it
                // cannot be combined with column changes.
                break;
            }
            let mut c = Cursor::new(spec);
            // Table renames are certain even when other clauses are not.
            if c.eat("RENAME") && !c.peek_is("COLUMN") && !c.peek_is("INDEX") && !c.peek_is("KEY") {
                let _ = c.eat("TO") || c.eat("AS");
                match c.name().and_then(|n| self.key_of(&n, default_schema)) {
                    Some(k) => new_key = k,
                    None => failure = Some("an unreadable RENAME target".into()),
                }
                continue;
            }
            if failure.is_some() {
                continue;
            }
            let Some(t) = work.as_mut() else { continue };
            if let Err(reason) = self.alter_clause(t, spec) {
                failure = Some(reason);
            }
        }
        let src_captured = self.captures(&key.schema, &key.table);
        let dst_captured = self.captures(&new_key.schema, &new_key.table);
        if !src_captured && !dst_captured {
            return DdlOutcome::Ignored;
        }
        let mut applied = DdlChange::default();
        if new_key != key && self.tables.remove(&key).is_some() {
            applied.tables.push(dropped(&key));
        }
        if let Some(reason) = failure {
            return self.refresh_table(new_key, applied, statement, &reason);
        }
        let Some(mut t) = work else {
            let reason = format!("the table {key} is not in the history");
            return self.refresh_table(new_key, applied, statement, &reason);
        };
        if !dst_captured {
            return DdlOutcome::Applied(applied);
        }
        t.schema = new_key.schema.clone();
        t.table = new_key.table.clone();
        self.tables.insert(new_key, t.clone());
        applied.tables.push(t);
        DdlOutcome::Applied(applied)
    }

    /// Applies one `ALTER TABLE` clause (not `RENAME [TO]`) to `t`.
    fn alter_clause(&self, t: &mut TableSchema, spec: &[Token]) -> Result<(), String> {
        let mut c = Cursor::new(spec);
        let Some(first) = c.peek() else { return Ok(()) };
        let clause = || format!("`{}`", super::lex::join(spec));
        if c.eat("ADD") {
            let col_kw = c.eat("COLUMN");
            let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
            if !col_kw {
                if c.peek_is("PRIMARY")
                    || (c.peek_is("CONSTRAINT") && spec.iter().take(4).any(|t| t.is("PRIMARY")))
                {
                    let cols = key_columns(spec)
                        .ok_or_else(|| format!("unreadable key in {}", clause()))?;
                    for name in cols {
                        let i = find_column(t, &name)
                            .ok_or_else(|| format!("PRIMARY KEY names `{name}`, not a column"))?;
                        t.columns[i].primary_key = true;
                        t.columns[i].nullable = false;
                    }
                    return Ok(());
                }
                if c.peek_is("SYSTEM") {
                    return Err("system versioning adds hidden columns".into());
                }
                if NOT_A_COLUMN.iter().any(|k| c.peek_is(k)) {
                    return Ok(());
                }
            }
            if c.eat_punct("(") {
                let inner = c.rest();
                let inner = inner.get(..inner.len().saturating_sub(1)).unwrap_or(&[]);
                for def in split_top_level(inner) {
                    if def
                        .first()
                        .is_some_and(|d| NOT_A_COLUMN.iter().any(|k| d.is(k)) || d.is("PRIMARY"))
                    {
                        return Err(format!("keys inside ADD ( … ) in {}", clause()));
                    }
                    self.add_column(t, def, false, Position::Keep)?;
                }
                return Ok(());
            }
            let (def, pos) = split_position(c.rest());
            return self.add_column(t, def, if_not_exists, pos);
        }
        if c.eat("DROP") {
            let col_kw = c.eat("COLUMN");
            if !col_kw {
                if c.eat_all(&["PRIMARY", "KEY"]) {
                    for col in &mut t.columns {
                        col.primary_key = false;
                    }
                    return Ok(());
                }
                if c.peek_is("SYSTEM") {
                    return Err("system versioning removes hidden columns".into());
                }
                if NOT_A_COLUMN.iter().any(|k| c.peek_is(k)) {
                    return Ok(());
                }
            }
            let if_exists = c.eat_all(&["IF", "EXISTS"]);
            let name = c
                .ident()
                .ok_or_else(|| format!("unreadable column in {}", clause()))?;
            match find_column(t, &name) {
                Some(i) => {
                    t.columns.remove(i);
                }
                None if if_exists => {}
                None => return Err(format!("column `{name}` is not in the history")),
            }
            return Ok(());
        }
        if c.eat("MODIFY") || c.eat("CHANGE") {
            let change = first.is("CHANGE");
            c.eat("COLUMN");
            let if_exists = c.eat_all(&["IF", "EXISTS"]);
            let old = if change {
                c.ident()
                    .ok_or_else(|| format!("unreadable column in {}", clause()))?
            } else {
                c.peek()
                    .filter(|t| t.is_ident())
                    .map(|t| t.value.clone())
                    .ok_or_else(|| format!("unreadable column in {}", clause()))?
            };
            let Some(i) = find_column(t, &old) else {
                return if if_exists {
                    Ok(())
                } else {
                    Err(format!("column `{old}` is not in the history"))
                };
            };
            let (def, pos) = split_position(c.rest());
            let mut d = parse_column_def(def, &t.charset, &self.dialect)?;
            let was_pk = t.columns[i].primary_key;
            t.columns.remove(i);
            if was_pk {
                d.primary_key = true;
                d.nullable = false;
            }
            let at = match pos {
                Position::Keep => i,
                other => position_index(t, other)?,
            };
            t.columns.insert(at, d);
            return Ok(());
        }
        if c.eat("RENAME") {
            if c.eat("COLUMN") {
                let from = c
                    .ident()
                    .ok_or_else(|| format!("unreadable column in {}", clause()))?;
                if !c.eat("TO") {
                    return Err(format!("RENAME COLUMN without TO in {}", clause()));
                }
                let to = c
                    .ident()
                    .ok_or_else(|| format!("unreadable column in {}", clause()))?;
                let i = find_column(t, &from)
                    .ok_or_else(|| format!("column `{from}` is not in the history"))?;
                t.columns[i].name = to;
            }
            return Ok(()); // RENAME INDEX / KEY
        }
        if c.eat("ALTER") {
            // Defaults, visibility, index visibility, check constraints.
            return Ok(());
        }
        if first.is("CONVERT") {
            return Err("CONVERT TO CHARACTER SET changes column types and charsets".into());
        }
        if first.is("DEFAULT")
            || first.is("CHARACTER")
            || first.is("CHARSET")
            || first.is("COLLATE")
            || IGNORED_ALTER.iter().any(|k| first.is(k))
        {
            if let Some(cs) = charset_option(spec) {
                t.charset = cs;
            }
            return Ok(());
        }
        Err(format!("unknown clause {}", clause()))
    }

    fn add_column(
        &self,
        t: &mut TableSchema,
        def: &[Token],
        if_not_exists: bool,
        pos: Position,
    ) -> Result<(), String> {
        let d = parse_column_def(def, &t.charset, &self.dialect)?;
        if find_column(t, &d.name).is_some() {
            return if if_not_exists {
                Ok(())
            } else {
                Err(format!("column `{}` already exists in the history", d.name))
            };
        }
        let at = match pos {
            Position::Keep => t.columns.len(),
            other => position_index(t, other)?,
        };
        t.columns.insert(at, d);
        Ok(())
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

/// `ADD PARTITION`, `DROP PARTITION p1, p2`, `COALESCE PARTITION 2`, …
fn is_partition_operation(spec: &[Token]) -> bool {
    let first = spec.first();
    let second = spec.get(1);
    const OPS: [&str; 11] = [
        "ADD", "DROP", "TRUNCATE", "ANALYZE", "CHECK", "OPTIMIZE", "REBUILD", "REPAIR", "DISCARD",
        "IMPORT", "EXCHANGE",
    ];
    (first.is_some_and(|f| OPS.iter().any(|k| f.is(k)))
        && second.is_some_and(|s| s.is("PARTITION")))
        || first.is_some_and(|f| f.is("COALESCE") || f.is("REORGANIZE"))
        || (first.is_some_and(|f| f.is("REMOVE")) && second.is_some_and(|s| s.is("PARTITIONING")))
}

fn position_index(t: &TableSchema, pos: Position) -> Result<usize, String> {
    match pos {
        Position::Keep => Ok(t.columns.len()),
        Position::First => Ok(0),
        Position::After(name) => find_column(t, &name)
            .map(|i| i + 1)
            .ok_or_else(|| format!("AFTER names `{name}`, not a column")),
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
