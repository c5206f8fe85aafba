//! The statement scanner: what a statement is and which tables it names.
//!
//! `sqlparser` reads column definitions well but fails on a good share of
//! real MySQL DDL (partitioning, table options inside `ALTER`, `WAIT n`,
//! `IF EXISTS` on columns). The history must never be wrong because of
//! that, so the shape of every statement (its kind, the tables it touches,
//! renames and drops) is read here from tokens, and only column definitions
//! go to `sqlparser`. The scanner is forgiving: anything it does not
//! recognise is [`Stmt::Other`], a table statement whose names it cannot
//! find is [`Stmt::Unreadable`].

use super::lex::{Kind, Token};

/// A possibly schema-qualified table name as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub schema: Option<String>,
    pub table: String,
}

/// What a statement does, as far as tables are concerned.
#[derive(Debug)]
pub enum Stmt<'a> {
    CreateTable {
        name: Name,
        if_not_exists: bool,
        /// Tokens after the name (`(` … `)` options, or `LIKE x`, or `SELECT`).
        rest: &'a [Token],
    },
    AlterTable {
        name: Name,
        /// Tokens after the name (and after MariaDB's `WAIT n` / `NOWAIT`).
        rest: &'a [Token],
    },
    /// `RENAME TABLE a TO b, c TO d`, applied in order.
    RenameTables(Vec<(Name, Name)>),
    DropTables(Vec<Name>),
    Truncate(Name),
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        or_replace: bool,
        charset: Option<String>,
    },
    /// `ALTER DATABASE [name] …`; `None` is the default schema.
    AlterDatabase {
        name: Option<String>,
        charset: Option<String>,
    },
    DropDatabase(String),
    /// A table statement whose table names could not be read.
    Unreadable(&'static str),
    /// Temporary tables, indexes, users, views, routines, DML, …
    Other,
}

/// A cursor over tokens.
pub struct Cursor<'a> {
    pub toks: &'a [Token],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token]) -> Self {
        Cursor { toks, pos: 0 }
    }

    pub fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    pub fn peek_is(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is(kw))
    }

    /// Consumes the keyword `kw` if it is next.
    pub fn eat(&mut self, kw: &str) -> bool {
        if self.peek_is(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the keywords `kws` if they are all next.
    pub fn eat_all(&mut self, kws: &[&str]) -> bool {
        let ok = kws
            .iter()
            .enumerate()
            .all(|(i, k)| self.toks.get(self.pos + i).is_some_and(|t| t.is(k)));
        if ok {
            self.pos += kws.len();
        }
        ok
    }

    pub fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads one identifier (bare word or back-quoted).
    pub fn ident(&mut self) -> Option<String> {
        let t = self.peek()?;
        if t.is_ident() || (t.kind == Kind::Str && t.raw.starts_with('"')) {
            self.pos += 1;
            Some(t.value.clone())
        } else {
            None
        }
    }

    /// Reads `name` or `schema.name`.
    pub fn name(&mut self) -> Option<Name> {
        let first = self.ident()?;
        if self.eat_punct(".") {
            let second = self.ident()?;
            Some(Name {
                schema: Some(first),
                table: second,
            })
        } else {
            Some(Name {
                schema: None,
                table: first,
            })
        }
    }

    pub fn rest(&self) -> &'a [Token] {
        self.toks.get(self.pos..).unwrap_or(&[])
    }

    /// Skips MariaDB's `WAIT n` / `NOWAIT`.
    fn skip_wait(&mut self) {
        if self.eat("NOWAIT") {
            return;
        }
        if self.peek_is("WAIT")
            && self
                .toks
                .get(self.pos + 1)
                .is_some_and(|t| t.kind == Kind::Num)
        {
            self.pos += 2;
        }
    }
}

/// Reads the statement's kind and names.
pub fn scan(toks: &[Token]) -> Stmt<'_> {
    let mut c = Cursor::new(toks);
    if c.eat("CREATE") {
        let or_replace = c.eat_all(&["OR", "REPLACE"]);
        if c.eat("TEMPORARY") {
            return Stmt::Other;
        }
        if c.eat("TABLE") {
            let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
            return match c.name() {
                Some(name) => Stmt::CreateTable {
                    name,
                    if_not_exists,
                    rest: c.rest(),
                },
                None => Stmt::Unreadable("CREATE TABLE without a readable table name"),
            };
        }
        if c.eat("DATABASE") || c.eat("SCHEMA") {
            let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
            return match c.ident() {
                Some(name) => Stmt::CreateDatabase {
                    name,
                    if_not_exists,
                    or_replace,
                    charset: charset_option(c.rest()),
                },
                None => Stmt::Unreadable("CREATE DATABASE without a readable name"),
            };
        }
        return Stmt::Other;
    }
    if c.eat("ALTER") {
        c.eat("ONLINE");
        c.eat("OFFLINE");
        c.eat("IGNORE");
        if c.eat("TABLE") {
            c.eat_all(&["IF", "EXISTS"]);
            return match c.name() {
                Some(name) => {
                    c.skip_wait();
                    Stmt::AlterTable {
                        name,
                        rest: c.rest(),
                    }
                }
                None => Stmt::Unreadable("ALTER TABLE without a readable table name"),
            };
        }
        if c.eat("DATABASE") || c.eat("SCHEMA") {
            let first_is_option = c.peek().is_none_or(|t| {
                [
                    "DEFAULT",
                    "CHARACTER",
                    "CHARSET",
                    "COLLATE",
                    "COMMENT",
                    "READ",
                    "ENCRYPTION",
                ]
                .iter()
                .any(|k| t.is(k))
            });
            let name = if first_is_option { None } else { c.ident() };
            return Stmt::AlterDatabase {
                name,
                charset: charset_option(c.rest()),
            };
        }
        return Stmt::Other;
    }
    if c.eat("RENAME") {
        if !(c.eat("TABLE") || c.eat("TABLES")) {
            return Stmt::Other;
        }
        c.eat_all(&["IF", "EXISTS"]);
        let mut pairs = Vec::new();
        loop {
            let Some(from) = c.name() else {
                return Stmt::Unreadable("RENAME TABLE with an unreadable name");
            };
            c.skip_wait();
            if !c.eat("TO") {
                return Stmt::Unreadable("RENAME TABLE without TO");
            }
            let Some(to) = c.name() else {
                return Stmt::Unreadable("RENAME TABLE with an unreadable target");
            };
            pairs.push((from, to));
            if !c.eat_punct(",") {
                break;
            }
        }
        return Stmt::RenameTables(pairs);
    }
    if c.eat("DROP") {
        if c.eat("TEMPORARY") {
            return Stmt::Other;
        }
        if c.eat("TABLE") || c.eat("TABLES") {
            c.eat_all(&["IF", "EXISTS"]);
            let mut names = Vec::new();
            loop {
                let Some(n) = c.name() else {
                    return Stmt::Unreadable("DROP TABLE with an unreadable name");
                };
                names.push(n);
                if !c.eat_punct(",") {
                    break;
                }
            }
            return Stmt::DropTables(names);
        }
        if c.eat("DATABASE") || c.eat("SCHEMA") {
            c.eat_all(&["IF", "EXISTS"]);
            return match c.ident() {
                Some(name) => Stmt::DropDatabase(name),
                None => Stmt::Unreadable("DROP DATABASE without a readable name"),
            };
        }
        return Stmt::Other;
    }
    if c.eat("TRUNCATE") {
        c.eat("TABLE");
        return match c.name() {
            Some(n) => Stmt::Truncate(n),
            None => Stmt::Unreadable("TRUNCATE without a readable table name"),
        };
    }
    Stmt::Other
}

/// The character set that `[DEFAULT] CHARACTER SET [=] x`, `CHARSET x` or
/// `COLLATE x` sets, among options at nesting depth 0. An explicit
/// character set wins over one derived from a collation.
pub fn charset_option(toks: &[Token]) -> Option<String> {
    let mut charset = None;
    let mut from_collation = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && t.is("PARTITION") {
            break;
        } else if depth == 0 {
            let mut value_at = None;
            if t.is("CHARSET") {
                value_at = Some(i + 1);
            } else if t.is("CHARACTER") && toks.get(i + 1).is_some_and(|n| n.is("SET")) {
                value_at = Some(i + 2);
            } else if t.is("COLLATE") {
                let mut j = i + 1;
                if toks.get(j).is_some_and(|n| n.is_punct("=")) {
                    j += 1;
                }
                if let Some(v) = toks.get(j) {
                    let cs = super::types::charset_of_collation(&v.value);
                    if !cs.starts_with("uca") {
                        from_collation = Some(cs);
                    }
                }
            }
            if let Some(mut j) = value_at {
                if toks.get(j).is_some_and(|n| n.is_punct("=")) {
                    j += 1;
                }
                if let Some(v) = toks.get(j) {
                    if !v.is("DEFAULT") {
                        charset = Some(super::types::normalize_charset(&v.value));
                    }
                }
            }
        }
        i += 1;
    }
    charset.or(from_collation)
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokenize;
    use super::*;

    fn n(s: Option<&str>, t: &str) -> Name {
        Name {
            schema: s.map(str::to_string),
            table: t.to_string(),
        }
    }

    #[test]
    fn renames_and_drops() {
        let t = tokenize("RENAME TABLE a TO b, `s.x`.c TO s2.`d``e`", true);
        match scan(&t) {
            Stmt::RenameTables(p) => {
                assert_eq!(
                    p,
                    vec![
                        (n(None, "a"), n(None, "b")),
                        (n(Some("s.x"), "c"), n(Some("s2"), "d`e"))
                    ]
                )
            }
            other => panic!("{other:?}"),
        }
        let t = tokenize(
            "DROP TABLE IF EXISTS a, s.b /* generated by server */",
            true,
        );
        assert!(
            matches!(scan(&t), Stmt::DropTables(v) if v == vec![n(None, "a"), n(Some("s"), "b")])
        );
        let t = tokenize("DROP /*!40005 TEMPORARY */ TABLE IF EXISTS a", true);
        assert!(matches!(scan(&t), Stmt::Other));
    }

    #[test]
    fn alter_and_create_names() {
        let t = tokenize("ALTER ONLINE IGNORE TABLE db.t WAIT 10 ADD c INT", true);
        match scan(&t) {
            Stmt::AlterTable { name, rest } => {
                assert_eq!(name, n(Some("db"), "t"));
                assert_eq!(rest.len(), 3);
            }
            other => panic!("{other:?}"),
        }
        let t = tokenize("CREATE TABLE IF NOT EXISTS `t` LIKE o", true);
        assert!(matches!(
            scan(&t),
            Stmt::CreateTable {
                if_not_exists: true,
                ..
            }
        ));
        let t = tokenize("CREATE TABLE (", true);
        assert!(matches!(scan(&t), Stmt::Unreadable(_)));
        let t = tokenize("GRANT ALL ON *.* TO x", true);
        assert!(matches!(scan(&t), Stmt::Other));
    }

    #[test]
    fn databases_and_charsets() {
        let t = tokenize(
            "CREATE DATABASE IF NOT EXISTS d DEFAULT CHARACTER SET = utf8 COLLATE utf8_bin",
            true,
        );
        assert!(
            matches!(scan(&t), Stmt::CreateDatabase { name, charset: Some(cs), .. } if name == "d" && cs == "utf8mb3")
        );
        let t = tokenize("ALTER DATABASE COLLATE latin1_bin", true);
        assert!(
            matches!(scan(&t), Stmt::AlterDatabase { name: None, charset: Some(cs) } if cs == "latin1")
        );
        let t = tokenize(
            "ENGINE=InnoDB DEFAULT CHARSET=latin1 PARTITION BY KEY (a) (PARTITION p CHARSET x)",
            true,
        );
        assert_eq!(charset_option(&t), Some("latin1".into()));
    }
}
