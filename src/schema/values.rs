//! Row values made exact with the history's column types.
//!
//! Under `binlog_row_metadata=NO_LOG` (MariaDB's default, and every MySQL
//! 5.7 server) a TABLE_MAP carries only type codes and their sizes. The
//! decoder then reads every integer as signed, ENUM and SET as index and
//! bitmask, character data of an unknown charset as UTF-8 where it is
//! valid (else bytes), and `BINARY(n)` without its 0x00 padding. Each of
//! those readings keeps every bit of the value, so the history's column
//! types turn them into the exact value here: the unsigned number of the
//! column's width, the member names, the text in the column's charset (or
//! bytes where it is binary or not valid in it), the padded bytes. What
//! the TABLE_MAP did say wins (MINIMAL: signedness and charsets; FULL:
//! names and ENUM/SET strings too).
//!
//! Before anything changes, [`check`] makes sure the history describes the
//! table the event was written for: the same column count, every type code
//! in the family of the history's SQL type, and the sizes the TABLE_MAP
//! gives (DECIMAL precision and scale, BIT width, fractional digits,
//! string byte lengths, BLOB length prefix) equal to the history's, and
//! signedness, charsets and names equal where the TABLE_MAP has them.
//! Otherwise nothing is changed: positional names and raw values are
//! honest, wrongly named ones are not.

use crate::decode::charset::{charset_of_name, Charset};
use crate::decode::column_type::code;
use crate::proto::value::Kind;
use crate::proto::{Column, TableChange, TableSchema, Value};
use std::collections::HashMap;

/// Why the history does not describe the table of `change`, or `Ok`.
fn check(change: &TableChange, t: &TableSchema) -> Result<(), String> {
    if t.columns.len() != change.columns.len() {
        return Err(format!(
            "the history has {} columns but the row event has {}",
            t.columns.len(),
            change.columns.len()
        ));
    }
    for (i, (e, h)) in change.columns.iter().zip(&t.columns).enumerate() {
        check_column(e, h, change).map_err(|why| {
            format!(
                "column {} is `{}` (type code {}) in the binlog but `{}` {} in the history: {why}",
                i + 1,
                e.mysql_type,
                e.type_code,
                h.name,
                h.mysql_type
            )
        })?;
    }
    Ok(())
}

fn check_column(e: &Column, h: &Column, change: &TableChange) -> Result<(), &'static str> {
    if family(e.type_code) != family(h.type_code) {
        return Err("another type");
    }
    if change.names_known && !e.name.eq_ignore_ascii_case(&h.name) {
        return Err("another name");
    }
    let numeric = is_integer(e.type_code)
        || matches!(
            e.type_code as u8,
            code::FLOAT | code::DOUBLE | code::NEWDECIMAL | code::DECIMAL
        );
    if change.signedness_known && numeric && e.unsigned != h.unsigned {
        return Err("another signedness");
    }
    if !e.charset.is_empty() && charset_of(h) != charset_of_name(&e.charset) {
        return Err("another character set");
    }
    let t = e.type_code as u8;
    let sized = matches!(
        t,
        code::NEWDECIMAL | code::BIT | code::TIME2 | code::DATETIME2 | code::TIMESTAMP2
    );
    if sized && args(&e.mysql_type) != args(&h.mysql_type) {
        return Err("another size");
    }
    if matches!(t, code::STRING | code::VARCHAR | code::VAR_STRING) {
        // Byte lengths: the binlog's from its metadata, the history's
        // from characters times the charset's widest character.
        let bytes = |c: &Column, cs: Charset| {
            args(&c.mysql_type)
                .first()
                .map(|n| n * u64::from(cs.max_len()))
        };
        let mine = bytes(h, charset_of(h));
        if mine.is_some() && mine != bytes(e, charset_of_name(&e.charset)) {
            return Err("another length");
        }
    }
    if t == code::BLOB && blob_size(&e.mysql_type) != blob_size(&h.mysql_type) {
        return Err("another length prefix");
    }
    if matches!(t, code::ENUM | code::SET) && members(&h.mysql_type).is_none() {
        return Err("its members cannot be read");
    }
    Ok(())
}

/// How the history fits one table's row events, worked out once for a
/// TABLE_MAP and a history definition: row events of a table repeat the
/// same TABLE_MAP, and checking it anew re-read every column's type text
/// for every event (a tenth of capture's CPU on small transactions).
#[derive(Clone)]
struct Fit {
    /// What it was worked out from: the event's columns and what its
    /// TABLE_MAP said, and the history's columns.
    binlog: Vec<Column>,
    names_known: bool,
    signedness_known: bool,
    history: Vec<Column>,
    /// What to do with such events, or why the history does not
    /// describe their table ([`check`]).
    plan: Result<Plan, String>,
}

impl Fit {
    fn new(change: &TableChange, t: &TableSchema) -> Fit {
        Fit {
            binlog: change.columns.clone(),
            names_known: change.names_known,
            signedness_known: change.signedness_known,
            history: t.columns.clone(),
            plan: check(change, t).map(|()| Plan::new(change, t)),
        }
    }

    /// Was this worked out from the same event columns and history?
    fn holds_for(&self, change: &TableChange, t: &TableSchema) -> bool {
        self.names_known == change.names_known
            && self.signedness_known == change.signedness_known
            && same_columns(&self.binlog, &change.columns)
            && same_columns(&self.history, &t.columns)
    }
}

/// `a == b` over every field of `Column`, without the C library's
/// `memcmp`: on the AMD host this was measured on, its masked AVX-512 loads made each call on a short string
/// cost about 20 ns, and comparing one event's columns that way took
/// longer than the checks this comparison saves (measured in a capture
/// of 336,000 row events: 550 ns per event, 60 ns here).
fn same_columns(a: &[Column], b: &[Column]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.type_code == b.type_code
                && a.unsigned == b.unsigned
                && a.primary_key == b.primary_key
                && a.nullable == b.nullable
                && same_text(&a.name, &b.name)
                && same_text(&a.mysql_type, &b.mysql_type)
                && same_text(&a.charset, &b.charset)
        })
}

fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    a8.by_ref().zip(b8.by_ref()).all(|(x, y)| {
        let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
        word(x) == word(y)
    }) && a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .all(|(x, y)| x == y)
}

/// Per database and table, the [`Fit`] of its last row event.
#[derive(Clone, Default)]
pub(super) struct Fits(HashMap<String, HashMap<String, Fit>>);

impl Fits {
    /// Name the columns of `change` and make its values exact with `t`
    /// (only when the TABLE_MAP gave no names), or say why `t` does not
    /// describe its table. Uses the last event's fit when it holds.
    pub(super) fn enrich(
        &mut self,
        change: &mut TableChange,
        t: &TableSchema,
    ) -> Result<(), String> {
        // Keys are cloned only for a table not seen before.
        let by_table = match self.0.get_mut(&change.schema) {
            Some(by_table) => by_table,
            None => self.0.entry(change.schema.clone()).or_default(),
        };
        let fit = match by_table.get_mut(&change.table) {
            Some(fit) => fit,
            None => by_table
                .entry(change.table.clone())
                .or_insert_with(|| Fit::new(change, t)),
        };
        if !fit.holds_for(change, t) {
            *fit = Fit::new(change, t);
        }
        let plan = fit.plan.as_ref().map_err(Clone::clone)?;
        if !change.names_known {
            plan.apply(change);
        }
        Ok(())
    }
}

/// Names, types and exact values for the events of a table [`check`]
/// accepted.
#[derive(Clone)]
struct Plan {
    /// Per column, what its values need.
    fixes: Vec<Fix>,
    /// The columns as the history describes them.
    columns: Vec<Column>,
}

/// What one column's values need.
#[derive(Clone)]
enum Fix {
    Keep,
    /// Read as signed: the unsigned number of this many bits.
    Unsigned(u32),
    Enum(Vec<String>),
    Set(Vec<String>),
    /// Bytes read without their charset: decode with this one; pad a
    /// `BINARY(n)` to `n` bytes.
    Text(Charset, Option<usize>),
}

impl Plan {
    fn new(change: &TableChange, t: &TableSchema) -> Plan {
        let fixes = change
            .columns
            .iter()
            .zip(&t.columns)
            .map(|(e, h)| fix(e, h, change.signedness_known))
            .collect();
        let columns = change
            .columns
            .iter()
            .zip(&t.columns)
            .map(|(e, h)| Column {
                name: h.name.clone(),
                primary_key: h.primary_key,
                nullable: h.nullable,
                unsigned: h.unsigned,
                mysql_type: h.mysql_type.clone(),
                charset: if !e.charset.is_empty() {
                    e.charset.clone()
                } else if h.charset.is_empty() && is_string(h.type_code) {
                    "binary".into()
                } else {
                    h.charset.clone()
                },
                type_code: e.type_code,
            })
            .collect();
        Plan { fixes, columns }
    }

    /// Name the columns of `change` and make its values exact.
    fn apply(&self, change: &mut TableChange) {
        if self.fixes.iter().any(|f| !matches!(f, Fix::Keep)) {
            for row in &mut change.rows {
                for image in [row.before.as_mut(), row.after.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    for (v, f) in image.values.iter_mut().zip(&self.fixes) {
                        reinterpret(v, f);
                    }
                }
            }
        }
        // Field by field: `clone_from` keeps the strings' buffers.
        for (e, c) in change.columns.iter_mut().zip(&self.columns) {
            e.name.clone_from(&c.name);
            e.mysql_type.clone_from(&c.mysql_type);
            e.charset.clone_from(&c.charset);
            e.primary_key = c.primary_key;
            e.nullable = c.nullable;
            e.unsigned = c.unsigned;
        }
        change.signedness_known = true;
        change.names_known = true;
    }
}

fn fix(e: &Column, h: &Column, signedness_known: bool) -> Fix {
    let t = e.type_code as u8;
    if is_integer(e.type_code) && h.unsigned && !signedness_known {
        let bits = match t {
            code::TINY => 8,
            code::SHORT => 16,
            code::INT24 => 24,
            code::LONG => 32,
            _ => 64,
        };
        return Fix::Unsigned(bits);
    }
    match t {
        code::ENUM => members(&h.mysql_type).map_or(Fix::Keep, Fix::Enum),
        code::SET => members(&h.mysql_type).map_or(Fix::Keep, Fix::Set),
        _ if is_string(e.type_code) && e.charset.is_empty() => {
            let cs = charset_of(h);
            let pad = match cs {
                Charset::Binary if h.mysql_type.starts_with("binary(") => args(&h.mysql_type)
                    .first()
                    .and_then(|n| usize::try_from(*n).ok()),
                _ => None,
            };
            Fix::Text(cs, pad)
        }
        _ => Fix::Keep,
    }
}

fn reinterpret(v: &mut Value, f: &Fix) {
    let Some(kind) = v.kind.as_mut() else { return };
    match (f, kind) {
        (Fix::Unsigned(bits), Kind::Int(i)) => {
            let u = (*i as u64) & (u64::MAX >> (64 - bits));
            v.kind = Some(Kind::Uint(u));
        }
        (Fix::Enum(names), Kind::Enum(e)) if e.name.is_none() && e.index > 0 => {
            e.name = names.get(e.index as usize - 1).cloned();
        }
        (Fix::Set(names), Kind::Set(s)) if s.names.is_empty() => {
            s.names = names
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 64 && s.bits & (1 << i) != 0)
                .map(|(_, n)| n.clone())
                .collect();
        }
        // Text the decoder found valid UTF-8 reads the same in these
        // sets: keep it rather than decode it again into a new string.
        (Fix::Text(Charset::Utf8mb3 | Charset::Utf8mb4 | Charset::Ascii, _), Kind::Text(_)) => {}
        (Fix::Text(cs, pad), kind @ (Kind::Text(_) | Kind::Bytes(_))) => {
            // The decoder kept the bytes: as UTF-8 text where they were
            // valid UTF-8, else as they are.
            let mut bytes = match std::mem::replace(kind, Kind::Null(true)) {
                Kind::Text(s) => s.into_bytes(),
                Kind::Bytes(b) => b,
                _ => Vec::new(),
            };
            *kind = match cs {
                Charset::Binary | Charset::Unknown => {
                    if let Some(n) = pad {
                        if bytes.len() < *n {
                            bytes.resize(*n, 0);
                        }
                    }
                    Kind::Bytes(bytes)
                }
                cs => match cs.decode(&bytes) {
                    Some(s) => Kind::Text(s.into_owned()),
                    None => Kind::Bytes(bytes),
                },
            };
        }
        _ => {}
    }
}

/// The charset of a history column: its name, or binary for a string
/// type without one (BINARY, VARBINARY, BLOB).
fn charset_of(h: &Column) -> Charset {
    if h.charset.is_empty() {
        if is_string(h.type_code) {
            Charset::Binary
        } else {
            Charset::Unknown
        }
    } else {
        charset_of_name(&h.charset)
    }
}

/// Type codes the binlog may write for one SQL type.
fn family(t: u32) -> u32 {
    let Ok(t) = u8::try_from(t) else { return t };
    u32::from(match t {
        code::TIME | code::TIME2 => code::TIME2,
        code::DATETIME | code::DATETIME2 => code::DATETIME2,
        code::TIMESTAMP | code::TIMESTAMP2 => code::TIMESTAMP2,
        code::DATE | code::NEWDATE => code::DATE,
        code::VARCHAR | code::VAR_STRING => code::VARCHAR,
        code::TINY_BLOB..=code::BLOB => code::BLOB,
        code::DECIMAL | code::NEWDECIMAL => code::NEWDECIMAL,
        other => other,
    })
}

fn is_integer(t: u32) -> bool {
    matches!(
        u8::try_from(t),
        Ok(code::TINY | code::SHORT | code::INT24 | code::LONG | code::LONGLONG)
    )
}

/// Character or binary strings (not ENUM/SET, not JSON or GEOMETRY).
fn is_string(t: u32) -> bool {
    matches!(
        u8::try_from(t),
        Ok(code::STRING
            | code::VARCHAR
            | code::VAR_STRING
            | code::TINY_BLOB
            | code::MEDIUM_BLOB
            | code::LONG_BLOB
            | code::BLOB)
    )
}

/// The numbers in a type's first parentheses: `decimal(10,2) unsigned` →
/// `[10, 2]`; none for `datetime`.
fn args(mysql_type: &str) -> Vec<u64> {
    let Some((_, rest)) = mysql_type.split_once('(') else {
        return Vec::new();
    };
    let inner = rest.split(')').next().unwrap_or_default();
    inner
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// `tiny`, ``, `medium` or `long` of a TEXT/BLOB type; MySQL's `json` has
/// a 4-byte prefix like `longblob`.
fn blob_size(mysql_type: &str) -> &str {
    let base = mysql_type.split('(').next().unwrap_or_default();
    base.strip_suffix("text")
        .or_else(|| base.strip_suffix("blob"))
        .unwrap_or(base)
}

/// The members of `enum('a','b''c')` / `set(…)` as the server prints them
/// (quotes and backslashes doubled); `None` when the text is not of that
/// form.
pub(super) fn members(mysql_type: &str) -> Option<Vec<String>> {
    let open = mysql_type.find('(')?;
    let list = mysql_type.get(open + 1..)?.strip_suffix(')')?;
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    if chars.peek().is_none() {
        return Some(out);
    }
    loop {
        if chars.next()? != '\'' {
            return None;
        }
        let mut m = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    m.push('\'');
                }
                '\\' if chars.peek() == Some(&'\\') => {
                    chars.next();
                    m.push('\\');
                }
                '\'' => break,
                c => m.push(c),
            }
        }
        out.push(m);
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Enum, Image, Row, Set};

    fn col(name: &str, mysql_type: &str, code: u8, unsigned: bool, charset: &str) -> Column {
        Column {
            name: name.into(),
            mysql_type: mysql_type.into(),
            type_code: u32::from(code),
            unsigned,
            charset: charset.into(),
            ..Default::default()
        }
    }

    /// `change` named and made exact by `t`, which must fit it.
    fn applied(change: &mut TableChange, t: &TableSchema) {
        let fit = Fit::new(change, t);
        fit.plan.unwrap().apply(change);
    }

    fn v(k: Kind) -> Value {
        Value { kind: Some(k) }
    }

    #[test]
    fn members_are_read_as_the_server_prints_them() {
        assert_eq!(
            members(r"enum('a','it''s','','ç,d','x\\y')").unwrap(),
            ["a", "it's", "", "ç,d", r"x\y"]
        );
        assert_eq!(members("set('x')").unwrap(), ["x"]);
        assert!(members("enum('a'").is_none());
        assert!(members("enum(a)").is_none());
        assert!(members("enum('a' 'b')").is_none());
    }

    /// A NO_LOG event of `(tu TINYINT UNSIGNED, bu BIGINT UNSIGNED,
    /// e ENUM, s SET, l VARCHAR latin1, b BINARY(4), t TEXT gbk)`.
    fn no_log() -> (TableChange, TableSchema) {
        let event = vec![
            col("@1", "tinyint(4)", code::TINY, false, ""),
            col("@2", "bigint(20)", code::LONGLONG, false, ""),
            col("@3", "enum", code::ENUM, false, ""),
            col("@4", "set", code::SET, false, ""),
            col("@5", "varchar(20)", code::VARCHAR, false, ""),
            col("@6", "char(4)", code::STRING, false, ""),
            col("@7", "blob", code::BLOB, false, ""),
        ];
        let history = vec![
            col("tu", "tinyint(3) unsigned", code::TINY, true, ""),
            col("bu", "bigint(20) unsigned", code::LONGLONG, true, ""),
            col("e", "enum('a','b')", code::ENUM, false, "utf8mb4"),
            col("s", "set('x','y','z')", code::SET, false, "utf8mb4"),
            col("l", "varchar(20)", code::VARCHAR, false, "latin1"),
            col("b", "binary(4)", code::STRING, false, ""),
            col("t", "text", code::BLOB, false, "gbk"),
        ];
        let image = Image {
            values: vec![
                v(Kind::Int(-1)),
                v(Kind::Int(-1)),
                v(Kind::Enum(Enum {
                    index: 2,
                    name: None,
                })),
                v(Kind::Set(Set {
                    bits: 0b101,
                    names: Vec::new(),
                })),
                // "é" in latin1 is not UTF-8: bytes.
                v(Kind::Bytes(vec![0xE9])),
                v(Kind::Text("ab".into())),
                v(Kind::Bytes(vec![0xC4, 0xE3])),
            ],
        };
        let change = TableChange {
            columns: event,
            rows: vec![Row {
                before: None,
                after: Some(image),
            }],
            ..Default::default()
        };
        let t = TableSchema {
            columns: history,
            ..Default::default()
        };
        (change, t)
    }

    #[test]
    fn an_empty_enum_member_gets_its_name() {
        let (mut change, mut t) = no_log();
        t.columns[2].mysql_type = "enum('','b')".into();
        if let Some(Kind::Enum(e)) = change.rows[0].after.as_mut().unwrap().values[2]
            .kind
            .as_mut()
        {
            e.index = 1;
        }
        applied(&mut change, &t);
        assert_eq!(
            change.rows[0].after.as_ref().unwrap().values[2].kind,
            Some(Kind::Enum(Enum {
                index: 1,
                name: Some(String::new())
            }))
        );
    }

    #[test]
    fn no_log_values_take_the_history_types() {
        let (mut change, t) = no_log();
        applied(&mut change, &t);
        let got: Vec<Kind> = change.rows[0]
            .after
            .as_ref()
            .unwrap()
            .values
            .iter()
            .map(|v| v.kind.clone().unwrap())
            .collect();
        assert_eq!(got[0], Kind::Uint(255));
        assert_eq!(got[1], Kind::Uint(u64::MAX));
        assert_eq!(
            got[2],
            Kind::Enum(Enum {
                index: 2,
                name: Some("b".into())
            })
        );
        assert_eq!(
            got[3],
            Kind::Set(Set {
                bits: 5,
                names: vec!["x".into(), "z".into()]
            })
        );
        assert_eq!(got[4], Kind::Text("é".into()));
        assert_eq!(got[5], Kind::Bytes(b"ab\0\0".to_vec()));
        assert_eq!(got[6], Kind::Text("你".into()));
        assert_eq!(change.columns[0].name, "tu");
        assert_eq!(change.columns[0].mysql_type, "tinyint(3) unsigned");
        assert!(change.columns[0].unsigned);
        assert_eq!(change.columns[5].charset, "binary");
        assert!(change.names_known && change.signedness_known);
    }

    #[test]
    fn what_the_table_map_said_wins() {
        let (mut change, t) = no_log();
        // MINIMAL: signedness and charsets known; the decoder already
        // gave Uint and text.
        change.signedness_known = true;
        change.columns[0].unsigned = true;
        change.columns[1].unsigned = true;
        change.columns[4].charset = "latin1".into();
        let after = change.rows[0].after.as_mut().unwrap();
        after.values[0] = v(Kind::Uint(255));
        after.values[4] = v(Kind::Text("é".into()));
        applied(&mut change, &t);
        let after = change.rows[0].after.as_ref().unwrap();
        assert_eq!(after.values[0].kind, Some(Kind::Uint(255)));
        assert_eq!(after.values[4].kind, Some(Kind::Text("é".into())));
    }

    #[test]
    fn a_fit_is_worked_out_again_when_the_event_or_the_history_changes() {
        let (change, t) = no_log();
        let mut fits = Fits::default();
        let enrich = |fits: &mut Fits, change: &TableChange, t: &TableSchema| {
            let mut change = change.clone();
            fits.enrich(&mut change, t).map(|()| change)
        };
        let named = enrich(&mut fits, &change, &t).unwrap();
        assert_eq!(named.columns[0].name, "tu");
        // The same event again: the same outcome.
        assert_eq!(enrich(&mut fits, &change, &t).unwrap(), named);
        // The history changed (a DDL): column 1 is now SMALLINT.
        let mut altered = t.clone();
        altered.columns[0] = col("tu", "smallint(5) unsigned", code::SHORT, true, "");
        assert!(enrich(&mut fits, &change, &altered).is_err());
        // The table changed behind the history's back: the event's
        // VARCHAR is now twice as long.
        let mut longer = change.clone();
        longer.columns[4].mysql_type = "varchar(40)".into();
        assert!(enrich(&mut fits, &longer, &t)
            .unwrap_err()
            .contains("another length"));
        // Back to the original: named again.
        assert_eq!(enrich(&mut fits, &change, &t).unwrap(), named);
        // A renamed column in the history renames the event's.
        let mut renamed = t.clone();
        renamed.columns[0].name = "tiny".into();
        assert_eq!(
            enrich(&mut fits, &change, &renamed).unwrap().columns[0].name,
            "tiny"
        );
    }

    #[test]
    fn a_history_that_does_not_fit_is_refused() {
        let (change, t) = no_log();
        let mut fewer = t.clone();
        fewer.columns.pop();
        assert!(check(&change, &fewer).unwrap_err().contains("7"));
        for (i, c) in [
            (0, col("tu", "smallint(5) unsigned", code::SHORT, true, "")),
            (4, col("l", "varchar(10)", code::VARCHAR, false, "latin1")),
            (4, col("l", "varchar(20)", code::VARCHAR, false, "utf8mb4")),
            (6, col("t", "longtext", code::BLOB, false, "gbk")),
            (2, col("e", "enum('a", code::ENUM, false, "utf8mb4")),
        ] {
            let mut other = t.clone();
            other.columns[i] = c;
            assert!(check(&change, &other).is_err(), "{:?}", other.columns[i]);
        }
        // Signedness and charsets the binlog gave must agree.
        let mut minimal = change.clone();
        minimal.signedness_known = true;
        assert!(check(&minimal, &t).unwrap_err().contains("signedness"));
        let mut cs = change.clone();
        cs.columns[4].charset = "utf8mb4".into();
        assert!(check(&cs, &t).unwrap_err().contains("character set"));
        // FULL: names must agree.
        let mut named = change;
        named.names_known = true;
        assert!(check(&named, &t).unwrap_err().contains("name"));
    }
}
