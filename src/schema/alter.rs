//! `ALTER TABLE`: its clauses, applied in order to a copy of the table.
//!
//! The clauses are split at top-level commas. Column clauses (`ADD`,
//! `DROP`, `MODIFY`, `CHANGE`, `RENAME COLUMN`, primary key changes) are
//! applied; index, constraint, partition and table-option clauses leave the
//! columns alone (a new default charset is kept for later columns); a table
//! rename is applied even when another clause is not understood. Anything
//! else makes the whole statement a refresh of the table.

use super::column::{key_columns, parse_column_def};
use super::ddl::{dropped, find_column};
use super::lex::{split_top_level, Token};
use super::scan::{charset_option, Cursor};
use super::types::convert_column;
use super::{DdlChange, DdlOutcome, SchemaHistory, TableKey};
use crate::proto::TableSchema;

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
pub(super) const NOT_A_COLUMN: [&str; 10] = [
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
    pub(super) fn alter_table(
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
                if names_no_column(&c) {
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
                if names_no_column(&c) {
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
            let mut d = parse_column_def(def, &t.charset, &self.dialect, self.explicit_ts())?;
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
            let to = charset_option(spec)
                .ok_or_else(|| format!("unreadable character set in {}", clause()))?;
            let mut columns = Vec::with_capacity(t.columns.len());
            for c in &t.columns {
                columns.push(convert_column(c, &to).ok_or_else(|| {
                    format!("converting column `{}` to {to} is not certain", c.name)
                })?);
            }
            t.columns = columns;
            t.charset = to;
            return Ok(());
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
        let d = parse_column_def(def, &t.charset, &self.dialect, self.explicit_ts())?;
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
}

/// True when the cursor is at a word that names an index, constraint,
/// partition or period rather than a column (`period` alone is a good
/// column name: `PERIOD FOR` is not).
fn names_no_column(c: &Cursor) -> bool {
    if c.peek_is("PERIOD") {
        return c.toks.get(c.pos + 1).is_some_and(|t| t.is("FOR"));
    }
    NOT_A_COLUMN.iter().any(|k| c.peek_is(k))
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
