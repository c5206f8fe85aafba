//! One column definition, read with `sqlparser`.
//!
//! `CREATE TABLE` bodies and `ALTER TABLE ADD/MODIFY/CHANGE` specs come here
//! one column at a time, wrapped as `CREATE TABLE t (<definition>)`, after a
//! few token rewrites for MySQL/MariaDB syntax `sqlparser` does not know
//! (`CHARSET x`, `PERSISTENT`, `COLUMN_FORMAT`, the `BINARY` attribute, …).
//! A definition it still cannot read is an error the caller turns into a
//! refresh from the server, never a guess.

use sqlparser::ast::{ColumnOption, DataType, EnumMember, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::lex::{join, split_top_level, Kind, Token};
use super::types::{charset_of_collation, normalize_charset, resolve, Dialect};
use crate::proto::Column;

fn word(raw: &str) -> Token {
    Token {
        kind: Kind::Word,
        raw: raw.into(),
        value: raw.into(),
    }
}

const STRING_TYPES: [&str; 10] = [
    "CHAR",
    "VARCHAR",
    "CHARACTER",
    "TEXT",
    "TINYTEXT",
    "MEDIUMTEXT",
    "LONGTEXT",
    "NCHAR",
    "NVARCHAR",
    "VARYING",
];

/// True when the last token ends a type (`)` or a string type keyword):
/// where the `BINARY` / `ASCII` / `UNICODE` attributes may follow.
fn after_string_type(out: &[Token]) -> bool {
    out.last()
        .is_some_and(|p| p.is_punct(")") || STRING_TYPES.iter().any(|k| p.is(k)))
}

/// Rewrites MySQL column syntax that `sqlparser` rejects into equivalents
/// it reads (same meaning for the fields the history keeps).
pub fn prepare(toks: &[Token]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let next = toks.get(i + 1);
        if t.is("CHARSET") {
            out.push(word("CHARACTER"));
            out.push(word("SET"));
        } else if t.is("PERSISTENT") {
            out.push(word("STORED"));
        } else if t.is("COLUMN_FORMAT") || t.is("STORAGE") {
            i += 1; // and its value
        } else if t.is("REF_SYSTEM_ID") {
            i += if next.is_some_and(|n| n.is_punct("=")) {
                2
            } else {
                1
            };
        } else if t.is("VISIBLE") || t.is("COMPRESSED") && !next.is_some_and(|n| n.is_punct("=")) {
        } else if t.is("COMPRESSED") {
            i += 2;
        } else if (t.is("WITH") || t.is("WITHOUT")) && next.is_some_and(|n| n.is("SYSTEM")) {
            i += 2; // WITH SYSTEM VERSIONING
        } else if t.is("NATIONAL") && next.is_some_and(|n| n.is("CHAR") || n.is("CHARACTER")) {
            let varying = toks.get(i + 2).is_some_and(|n| n.is("VARYING"));
            out.push(word(if varying { "NVARCHAR" } else { "NCHAR" }));
            i += if varying { 2 } else { 1 };
        } else if t.is("NATIONAL") && next.is_some_and(|n| n.is("VARCHAR")) {
            out.push(word("NVARCHAR"));
            i += 1;
        } else if t.is("LONG") && next.is_some_and(|n| n.is("VARCHAR")) {
            out.push(word("MEDIUMTEXT"));
            i += 1;
        } else if t.is("LONG") && next.is_some_and(|n| n.is("VARBINARY")) {
            out.push(word("MEDIUMBLOB"));
            i += 1;
        } else if (t.is("ASCII") || t.is("UNICODE") || t.is("BYTE")) && after_string_type(&out) {
            out.push(word("CHARACTER"));
            out.push(word("SET"));
            out.push(word(if t.is("ASCII") {
                "latin1"
            } else if t.is("UNICODE") {
                "ucs2"
            } else {
                "binary"
            }));
        } else if t.is("BINARY")
            && !next.is_some_and(|n| n.is_punct("("))
            && after_string_type(&out)
        {
            // The BINARY attribute only picks the _bin collation.
        } else if t.kind == Kind::Str && t.raw.starts_with('_') {
            // Character set introducer: `_utf8mb4'x'`.
            let at = t.raw.find('\'').unwrap_or(0);
            out.push(Token {
                kind: Kind::Str,
                raw: t.raw[at..].to_string(),
                value: t.value.clone(),
            });
        } else {
            out.push(t.clone());
        }
        i += 1;
    }
    out
}

/// Reads `name type options…`. `table_charset` is what a character column
/// without its own gets. `primary_key` is set for a `PRIMARY KEY` (or
/// MySQL's bare `KEY`) declared on the column itself.
pub fn parse_column_def(
    toks: &[Token],
    table_charset: &str,
    dialect: &Dialect,
    explicit_ts: bool,
) -> Result<Column, String> {
    // The column's name is never rewritten (`storage`, `charset` and
    // `visible` are good column names).
    let mut prepared: Vec<Token> = toks.iter().take(1).cloned().collect();
    prepared.extend(prepare(toks.get(1..).unwrap_or(&[])));
    let sql = format!("CREATE TABLE t ({})", join(&prepared));
    let stmts = Parser::parse_sql(&MySqlDialect {}, &sql)
        .map_err(|e| format!("column definition `{}`: {e}", join(toks)))?;
    let Some(Statement::CreateTable(ct)) = stmts.first() else {
        return Err(format!(
            "column definition `{}` did not parse as one",
            join(toks)
        ));
    };
    let [def] = ct.columns.as_slice() else {
        return Err(format!(
            "column definition `{}` did not read as exactly one column",
            join(toks)
        ));
    };
    let mut nullable = true;
    let mut explicit_null = false;
    let mut inline_pk = false;
    let mut charset: Option<String> = None;
    let mut collation_charset: Option<String> = None;
    for o in &def.options {
        match &o.option {
            ColumnOption::NotNull => nullable = false,
            ColumnOption::Null => {
                nullable = true;
                explicit_null = true;
            }
            ColumnOption::PrimaryKey(_) => inline_pk = true,
            ColumnOption::CharacterSet(n) => {
                charset = Some(normalize_charset(&n.to_string().replace('`', "")))
            }
            ColumnOption::Collation(n) => {
                let cs = charset_of_collation(&n.to_string().replace('`', ""));
                if !cs.starts_with("uca") {
                    collation_charset = Some(cs);
                }
            }
            _ => {}
        }
    }
    let members: Option<Vec<String>> = match &def.data_type {
        DataType::Enum(m, _) => Some(
            m.iter()
                .map(|m| match m {
                    EnumMember::Name(s) | EnumMember::NamedValue(s, _) => s.clone(),
                })
                .collect(),
        ),
        DataType::Set(v) => Some(v.clone()),
        _ => None,
    };
    let declared = def.data_type.to_string();
    let cs = charset
        .or(collation_charset)
        .unwrap_or_else(|| table_charset.to_string());
    let r = resolve(&declared, members.as_deref(), &cs, dialect).ok_or_else(|| {
        format!(
            "column `{}`: type `{declared}` is not one the history knows",
            def.name.value
        )
    })?;
    let timestamp = r.type_code == super::types::code::TIMESTAMP2;
    if timestamp && !explicit_null && !explicit_ts {
        nullable = false;
    }
    if declared.eq_ignore_ascii_case("SERIAL") {
        nullable = false;
    }
    if inline_pk {
        nullable = false;
    }
    Ok(Column {
        name: def.name.value.clone(),
        mysql_type: r.mysql_type,
        primary_key: inline_pk,
        unsigned: r.unsigned,
        nullable,
        type_code: r.type_code,
        charset: r.charset,
    })
}

/// The column names of a key part list `( a, b(10) DESC, … )` starting at
/// its `(`; `None` when it is not one (e.g. a functional key part).
pub fn key_columns(toks: &[Token]) -> Option<Vec<String>> {
    let open = toks.iter().position(|t| t.is_punct("("))?;
    let close = super::lex::matching_paren(toks, open)?;
    let inner = toks.get(open + 1..close)?;
    let mut cols = Vec::new();
    for part in split_top_level(inner) {
        let first = part.first()?;
        if !first.is_ident() {
            return None;
        }
        cols.push(first.value.clone());
    }
    Some(cols)
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokenize;
    use super::*;

    fn col(def: &str) -> Result<Column, String> {
        parse_column_def(&tokenize(def, true), "utf8mb4", &Dialect::default(), true)
    }

    #[test]
    fn definitions() {
        let c = col("`Id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY").unwrap();
        assert_eq!(
            (
                c.name.as_str(),
                c.mysql_type.as_str(),
                c.primary_key,
                c.nullable,
                c.unsigned
            ),
            ("Id", "int(10) unsigned", true, false, true)
        );
        let c = col("a VARCHAR(10) CHARSET latin1 COLLATE latin1_bin DEFAULT 'x'").unwrap();
        assert_eq!(
            (c.mysql_type.as_str(), c.charset.as_str(), c.nullable),
            ("varchar(10)", "latin1", true)
        );
        let c = col("b CHAR(5) BINARY NOT NULL").unwrap();
        assert_eq!(
            (c.mysql_type.as_str(), c.charset.as_str()),
            ("char(5)", "utf8mb4")
        );
        let c = col("n NATIONAL VARCHAR(3)").unwrap();
        assert_eq!(
            (c.mysql_type.as_str(), c.charset.as_str()),
            ("varchar(3)", "utf8mb3")
        );
        let c = col("g INT AS (a + 1) PERSISTENT").unwrap();
        assert_eq!(c.mysql_type, "int(11)");
        let c = col("t TEXT COLLATE latin1_german1_ci COLUMN_FORMAT DYNAMIC").unwrap();
        assert_eq!(c.charset, "latin1");
        let c = col("x ENUM('x','y') CHARACTER SET ascii").unwrap();
        assert_eq!(c.charset, "ascii");
        let c = col("x CHAR(2) ASCII").unwrap();
        assert_eq!(c.charset, "latin1");
        let old = Dialect::from_server_version("5.7.44-log", "latin1");
        let ts = |def: &str| {
            parse_column_def(
                &tokenize(def, false),
                "latin1",
                &old,
                old.explicit_timestamp_defaults(),
            )
        };
        assert!(!ts("t TIMESTAMP").unwrap().nullable);
        assert!(ts("t TIMESTAMP NULL").unwrap().nullable);
        assert!(col("t TIMESTAMP").unwrap().nullable);
        let c = col("s SERIAL").unwrap();
        assert!(!c.nullable);
        let c = col("e ENUM('x','y') CHARACTER SET binary").unwrap();
        assert_eq!(
            (c.mysql_type.as_str(), c.charset.as_str()),
            ("enum('x','y')", "")
        );
        for name in [
            "charset", "storage", "visible", "national", "binary", "ascii", "long",
        ] {
            let c = col(&format!("{name} INT NOT NULL")).unwrap();
            assert_eq!((c.name.as_str(), c.nullable), (name, false));
        }
        assert!(col("x FROB(3)").is_err());
        assert!(col("x INT, y INT").is_err());
    }

    #[test]
    fn keys() {
        let t = tokenize("PRIMARY KEY USING BTREE (`a`, b(10) DESC)", true);
        assert_eq!(
            key_columns(&t),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let t = tokenize("PRIMARY KEY ((a + 1))", true);
        assert_eq!(key_columns(&t), None);
    }
}
