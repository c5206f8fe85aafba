//! A small, forgiving tokenizer for MySQL statements.
//!
//! The schema history must read every DDL statement well enough to know
//! which tables it touches, even when `sqlparser` cannot parse it. This lexer
//! never fails: unterminated strings or comments simply end the token stream.
//! It drops ordinary comments and makes executable comments transparent:
//! `/*!50100 PARTITION BY … */` contributes its content (every server we
//! capture from is newer than any such version), `/*M!100301 … */` only when
//! the source is MariaDB. Each token keeps its raw text so that a cleaned
//! statement can be rebuilt and handed to `sqlparser`.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: keyword or unquoted identifier (may start with a digit).
    Word,
    /// A back-quoted identifier; `value` is unescaped.
    Quoted,
    /// A string literal (single or double quotes, or `x'…'`, `_latin1'…'`);
    /// `value` is unescaped.
    Str,
    /// A number.
    Num,
    /// Punctuation or an operator (`(`, `,`, `.`, `=`, `<=`, …).
    Punct,
}

/// One token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// The token exactly as written.
    pub raw: String,
    /// Identifier or string value (unescaped); the raw text for the rest.
    pub value: String,
}

impl Token {
    /// True for a bare word equal to `kw`, ignoring ASCII case.
    pub fn is(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.raw.eq_ignore_ascii_case(kw)
    }

    /// True for the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.raw == p
    }

    /// True when the token can name something (bare word or back-quoted).
    pub fn is_ident(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

const OPERATORS: [&str; 13] = [
    "<=>", "->>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>", "->", "==",
];

/// Splits `sql` into tokens, keeping every executable comment's content
/// (`/*M! … */` only when `mariadb`).
pub fn tokenize(sql: &str, mariadb: bool) -> Vec<Token> {
    tokenize_for(sql, mariadb, u32::MAX)
}

/// Splits `sql` into tokens as a server of `version` (`major * 10000 +
/// minor * 100 + patch`) reads it: `/*!NNNNN … */` counts when NNNNN ≤
/// `version`, `/*M!NNNNNN … */` only on MariaDB, and without a number
/// always.
pub fn tokenize_for(sql: &str, mariadb: bool, version: u32) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Inside an executable comment whose content we keep: its `*/` is dropped.
    let mut in_exec = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if in_exec && sql[i..].starts_with("*/") {
            in_exec = false;
            i += 2;
            continue;
        }
        if sql[i..].starts_with("/*") {
            let rest = &sql[i + 2..];
            let runs = |digits: &str| {
                digits.is_empty() || digits.parse::<u32>().is_ok_and(|v| v <= version)
            };
            let (exec, skip) = if let Some(r) = rest.strip_prefix('!') {
                let digits = version_digits(r);
                (runs(digits), 3 + digits.len())
            } else if let Some(r) = rest.strip_prefix("M!") {
                let digits = version_digits(r);
                (mariadb && runs(digits), 4 + digits.len())
            } else {
                (false, 2)
            };
            if exec && !in_exec {
                in_exec = true;
                i += skip;
            } else {
                match rest.find("*/") {
                    Some(end) => i += 2 + end + 2,
                    None => break,
                }
            }
            continue;
        }
        if b == b'#'
            || (sql[i..].starts_with("--")
                && bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()))
        {
            match sql[i..].find('\n') {
                Some(end) => i += end + 1,
                None => break,
            }
            continue;
        }
        if b == b'`' {
            let (value, len) = quoted(&sql[i..], b'`');
            out.push(Token {
                kind: Kind::Quoted,
                raw: sql[i..i + len].to_string(),
                value,
            });
            i += len;
            continue;
        }
        if b == b'\'' || b == b'"' {
            let (value, len) = quoted(&sql[i..], b);
            out.push(Token {
                kind: Kind::Str,
                raw: sql[i..i + len].to_string(),
                value,
            });
            i += len;
            continue;
        }
        if is_word_byte(b) {
            let start = i;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            let word = &sql[start..i];
            let numeric = word.bytes().all(|c| c.is_ascii_digit());
            if numeric {
                // Decimal fraction and exponent.
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    while i < bytes.len() && is_word_byte(bytes[i]) {
                        i += 1;
                    }
                }
                out.push(Token {
                    kind: Kind::Num,
                    raw: sql[start..i].to_string(),
                    value: sql[start..i].to_string(),
                });
                continue;
            }
            // Introducers and hex/bit literals glued to a string: x'41', _utf8mb4'a'.
            if bytes.get(i) == Some(&b'\'')
                && (word.eq_ignore_ascii_case("x")
                    || word.eq_ignore_ascii_case("b")
                    || word.eq_ignore_ascii_case("n")
                    || word.starts_with('_'))
            {
                let (value, len) = quoted(&sql[i..], b'\'');
                out.push(Token {
                    kind: Kind::Str,
                    raw: sql[start..i + len].to_string(),
                    value,
                });
                i += len;
                continue;
            }
            out.push(Token {
                kind: Kind::Word,
                raw: word.to_string(),
                value: word.to_string(),
            });
            continue;
        }
        if b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && !prev_is_name(&out) {
            let start = i;
            i += 1;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            out.push(Token {
                kind: Kind::Num,
                raw: sql[start..i].to_string(),
                value: sql[start..i].to_string(),
            });
            continue;
        }
        let op = OPERATORS.iter().find(|op| sql[i..].starts_with(**op));
        let len = match op {
            Some(op) => op.len(),
            None => sql[i..].chars().next().map_or(1, char::len_utf8),
        };
        let raw = sql[i..i + len].to_string();
        out.push(Token {
            kind: Kind::Punct,
            value: raw.clone(),
            raw,
        });
        i += len;
    }
    out
}

/// The version number opening an executable comment (at most 6 digits).
fn version_digits(s: &str) -> &str {
    let n = s.bytes().take(6).take_while(u8::is_ascii_digit).count();
    &s[..n]
}

fn prev_is_name(out: &[Token]) -> bool {
    out.last().is_some_and(|t| t.is_ident())
}

/// Reads a quoted run starting at `s[0] == q`; returns the unescaped value
/// and the byte length consumed (to the end of `s` when unterminated).
fn quoted(s: &str, q: u8) -> (String, usize) {
    let bytes = s.as_bytes();
    let mut value = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if b == q {
            if bytes.get(i + 1) == Some(&q) {
                value.push(q);
                i += 2;
                continue;
            }
            return (String::from_utf8_lossy(&value).into_owned(), i + 1);
        }
        if b == b'\\' && q != b'`' {
            if let Some(&n) = bytes.get(i + 1) {
                value.push(match n {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'0' => 0,
                    b'Z' => 0x1a,
                    other => other,
                });
                i += 2;
                continue;
            }
        }
        value.push(b);
        i += 1;
    }
    (String::from_utf8_lossy(&value).into_owned(), bytes.len())
}

/// Joins tokens back into text `sqlparser` can read.
pub fn join(tokens: &[Token]) -> String {
    let mut s = String::new();
    for (n, t) in tokens.iter().enumerate() {
        if n > 0 {
            s.push(' ');
        }
        s.push_str(&t.raw);
    }
    s
}

/// Splits `tokens` at commas that are not inside parentheses.
pub fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
        } else if t.is_punct(",") && depth == 0 {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// Index of the `)` matching the `(` at `open`, if any.
pub fn matching_paren(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(sql: &str) -> Vec<String> {
        tokenize(sql, true).into_iter().map(|t| t.raw).collect()
    }

    #[test]
    fn comments_and_version_comments() {
        assert_eq!(
            raws("CREATE /* x */ TABLE t (a int) -- c\n /*!50100 PARTITION BY HASH (a) */ # e"),
            [
                "CREATE",
                "TABLE",
                "t",
                "(",
                "a",
                "int",
                ")",
                "PARTITION",
                "BY",
                "HASH",
                "(",
                "a",
                ")"
            ]
        );
        assert_eq!(
            raws("DROP /*!40005 TEMPORARY */ TABLE a"),
            ["DROP", "TEMPORARY", "TABLE", "a"]
        );
        assert_eq!(
            tokenize("ALTER TABLE t /*M!100301 WAIT 5 */ ADD a INT", false).len(),
            6
        );
        assert_eq!(
            raws("ALTER TABLE t /*M!100301 WAIT 5 */"),
            ["ALTER", "TABLE", "t", "WAIT", "5"]
        );
    }

    #[test]
    fn executable_comments_by_version() {
        let sql =
            "ALTER TABLE t /*!80016 ADD a INT */ /*!50100 ADD b INT */ /*M!100500 ADD c INT */";
        let words = |v: u32, m: bool| -> String {
            let toks = tokenize_for(sql, m, v);
            let w: Vec<String> = toks
                .into_iter()
                .filter(|t| t.kind == Kind::Word)
                .map(|t| t.raw)
                .collect();
            w.join(" ")
        };
        assert_eq!(words(50744, false), "ALTER TABLE t ADD b INT");
        assert_eq!(words(80036, false), "ALTER TABLE t ADD a INT ADD b INT");
        assert_eq!(
            words(101106, true),
            "ALTER TABLE t ADD a INT ADD b INT ADD c INT"
        );
        assert_eq!(words(100406, true), "ALTER TABLE t ADD a INT ADD b INT");
    }

    #[test]
    fn quoting() {
        let t = tokenize(
            "`a``b`.`c.d` 'it''s' \"q\\\"\" x'41' _utf8mb4'z' 1.5 a.b <= 3",
            true,
        );
        let v: Vec<_> = t.iter().map(|t| (t.kind, t.value.as_str())).collect();
        assert_eq!(
            v,
            [
                (Kind::Quoted, "a`b"),
                (Kind::Punct, "."),
                (Kind::Quoted, "c.d"),
                (Kind::Str, "it's"),
                (Kind::Str, "q\""),
                (Kind::Str, "41"),
                (Kind::Str, "z"),
                (Kind::Num, "1.5"),
                (Kind::Word, "a"),
                (Kind::Punct, "."),
                (Kind::Word, "b"),
                (Kind::Punct, "<="),
                (Kind::Num, "3"),
            ]
        );
    }

    #[test]
    fn unterminated_input_ends_quietly() {
        assert_eq!(tokenize("CREATE TABLE `t", true).len(), 3);
        assert_eq!(tokenize("'abc", true).len(), 1);
        assert_eq!(tokenize("a /* never closed", true).len(), 1);
        assert_eq!(tokenize("/*!", true).len(), 0);
    }

    #[test]
    fn top_level_split() {
        let t = tokenize("ADD a DECIMAL(10,2), DROP b, ADD c ENUM('x,y','z')", true);
        assert_eq!(split_top_level(&t).len(), 3);
    }
}
