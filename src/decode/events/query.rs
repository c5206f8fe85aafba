//! QUERY_EVENT (2) and MariaDB's QUERY_COMPRESSED_EVENT (165): a statement
//! as text — BEGIN/COMMIT/ROLLBACK, XA, DDL, or statement-based DML.
//!
//! Body (after the common header):
//!
//! ```text
//! post-header (13 bytes in v4, 11 in v1/v3):
//! 0   thread_id         u32
//! 4   exec_time         u32
//! 8   schema_len        u8
//! 9   error_code        u16
//! 11  status_vars_len   u16   (v4 only)
//! body:
//!     status_vars       status_vars_len bytes of (key u8, value)
//!     schema            schema_len bytes, then a NUL
//!     query             the rest (QUERY_COMPRESSED: see `compressed`)
//! ```
//!
//! Status variables are read for what sluice uses (charsets, time zone,
//! MySQL 8's "DDL logged with XID", MariaDB's XID); reading stops at the
//! first key it does not know, which is safe because the schema's place
//! is given by `status_vars_len`, not by the variables.

use super::compressed::mariadb_uncompress;
use crate::decode::DecodeError;
use crate::wire::Reader;
use std::borrow::Cow;

/// The status variables sluice keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryStatus {
    pub flags2: Option<u32>,
    pub sql_mode: Option<u64>,
    /// (character_set_client, collation_connection, collation_server)
    pub charset: Option<(u16, u16, u16)>,
    pub time_zone: Option<String>,
    pub charset_database: Option<u16>,
    /// MySQL 8: an atomic DDL committed by this event itself.
    pub ddl_xid: Option<u64>,
    /// MariaDB: XID of a DDL (Q_XID).
    pub mariadb_xid: Option<u64>,
    pub updated_db_names: Vec<String>,
}

/// A parsed QUERY or QUERY_COMPRESSED event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryEvent<'a> {
    pub thread_id: u32,
    pub exec_time: u32,
    pub error_code: u16,
    pub schema: Cow<'a, str>,
    /// Statement bytes as written (the client's character set; almost
    /// always UTF-8 compatible).
    pub query: Cow<'a, [u8]>,
    pub status: QueryStatus,
}

impl<'a> QueryEvent<'a> {
    /// `post_header_len` comes from the format description (13 in v4).
    pub fn parse(
        body: &'a [u8],
        post_header_len: u8,
        compressed: bool,
    ) -> Result<QueryEvent<'a>, DecodeError> {
        let mut c = Reader::new(body);
        let thread_id = c.u32("query event post-header")?;
        let exec_time = c.u32("query event post-header")?;
        let schema_len = usize::from(c.u8("query event post-header")?);
        let error_code = c.u16("query event post-header")?;
        let mut used = 11usize;
        let status_len = if post_header_len >= 13 {
            used = 13;
            usize::from(c.u16("query event post-header")?)
        } else {
            0
        };
        c.skip(
            usize::from(post_header_len).saturating_sub(used),
            "query event post-header",
        )?;
        let status_bytes = c.take(status_len, "query event status variables")?;
        let schema_bytes = c.take(schema_len, "query event schema")?;
        c.skip(1, "query event schema terminator")?;
        let raw_query = c.rest();
        let query = if compressed {
            Cow::Owned(mariadb_uncompress(raw_query, "compressed query")?)
        } else {
            Cow::Borrowed(raw_query)
        };
        Ok(QueryEvent {
            thread_id,
            exec_time,
            error_code,
            schema: String::from_utf8_lossy(schema_bytes),
            query,
            status: parse_status(status_bytes),
        })
    }

    /// The statement as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.query)
    }
}

fn parse_status(bytes: &[u8]) -> QueryStatus {
    let mut st = QueryStatus::default();
    let mut c = Reader::new(bytes);
    // Any error simply ends the walk: the variables are advisory.
    let _ = walk_status(&mut c, &mut st);
    st
}

fn walk_status(c: &mut Reader<'_>, st: &mut QueryStatus) -> Result<(), DecodeError> {
    const W: &str = "query status variable";
    while !c.is_empty() {
        match c.u8(W)? {
            0 => st.flags2 = Some(c.u32(W)?),
            1 => st.sql_mode = Some(c.u64(W)?),
            2 => {
                // Q_CATALOG (5.0.0–5.0.3): len, bytes, NUL
                let n = usize::from(c.u8(W)?);
                c.skip(n + 1, W)?;
            }
            3 => c.skip(4, W)?,
            4 => st.charset = Some((c.u16(W)?, c.u16(W)?, c.u16(W)?)),
            5 => {
                let n = usize::from(c.u8(W)?);
                st.time_zone = Some(String::from_utf8_lossy(c.take(n, W)?).into_owned());
            }
            6 => {
                let n = usize::from(c.u8(W)?);
                c.skip(n, W)?;
            }
            7 => c.skip(2, W)?,
            8 => st.charset_database = Some(c.u16(W)?),
            9 => c.skip(8, W)?,
            10 => c.skip(4, W)?,
            11 => {
                let n = usize::from(c.u8(W)?);
                c.skip(n, W)?;
                let n = usize::from(c.u8(W)?);
                c.skip(n, W)?;
            }
            12 => {
                let count = c.u8(W)?;
                // 254: more databases than the event lists.
                if count != 254 {
                    for _ in 0..count {
                        let rest = c.rest();
                        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                        let name = rest.get(..end).unwrap_or_default();
                        st.updated_db_names
                            .push(String::from_utf8_lossy(name).into_owned());
                        *c = Reader::new(rest.get((end + 1).min(rest.len())..).unwrap_or_default());
                    }
                }
            }
            13 => c.skip(3, W)?,
            16 => c.skip(1, W)?,
            17 => st.ddl_xid = Some(c.u64(W)?),
            18 => c.skip(2, W)?,
            19 | 20 => c.skip(1, W)?,
            128 => c.skip(3, W)?,
            129 => st.mariadb_xid = Some(c.u64(W)?),
            130 => c.skip(1, W)?,
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// What a statement means for transaction boundaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryKind {
    Begin,
    Commit,
    Rollback,
    /// `ROLLBACK TO [SAVEPOINT] x`, `SAVEPOINT x`, `RELEASE SAVEPOINT x`.
    Savepoint,
    XaStart(String),
    XaEnd,
    /// MariaDB writes `XA PREPARE xid` as a query.
    XaPrepare(String),
    XaCommit {
        xid: String,
        one_phase: bool,
    },
    XaRollback(String),
    /// CREATE / ALTER / DROP / RENAME / TRUNCATE.
    Ddl,
    /// Anything else: statement-based DML, GRANT, FLUSH, ...
    Other,
}

/// Classify a statement by its leading keywords, skipping whitespace and
/// comments (`/* ... */`, `-- ...`, `# ...`) and looking inside MySQL's
/// executable comments (`/*!40000 ... */`).
pub fn classify(sql: &str) -> QueryKind {
    let words = leading_words(sql, 3);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match w(0) {
        "BEGIN" => QueryKind::Begin,
        "START" if w(1) == "TRANSACTION" => QueryKind::Begin,
        "COMMIT" => QueryKind::Commit,
        "ROLLBACK" if w(1) == "TO" => QueryKind::Savepoint,
        "ROLLBACK" => QueryKind::Rollback,
        "SAVEPOINT" | "RELEASE" => QueryKind::Savepoint,
        "XA" => {
            let xid = xa_xid(sql);
            match w(1) {
                "START" | "BEGIN" => QueryKind::XaStart(xid),
                "END" => QueryKind::XaEnd,
                "PREPARE" => QueryKind::XaPrepare(xid),
                "COMMIT" => {
                    let one_phase = sql.to_ascii_uppercase().contains("ONE PHASE");
                    let xid = xid
                        .strip_suffix("ONE PHASE")
                        .map(|s| s.trim().to_string())
                        .unwrap_or(xid);
                    QueryKind::XaCommit { xid, one_phase }
                }
                "ROLLBACK" => QueryKind::XaRollback(xid),
                _ => QueryKind::Other,
            }
        }
        // Accounts and roles are not schema: CREATE/ALTER/DROP USER or ROLE.
        "CREATE" | "ALTER" | "DROP" | "RENAME"
            if leading_words(sql, 5)
                .iter()
                .skip(1)
                .any(|x| x == "USER" || x == "ROLE") =>
        {
            QueryKind::Other
        }
        "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE" => QueryKind::Ddl,
        _ => QueryKind::Other,
    }
}

/// The XID text after `XA <verb>`, normalised for matching PREPARE with
/// COMMIT/ROLLBACK (whitespace squeezed, `ONE PHASE` kept for the caller).
fn xa_xid(sql: &str) -> String {
    let trimmed = sql.trim();
    let mut parts = trimmed.splitn(3, char::is_whitespace);
    let _xa = parts.next();
    let _verb = parts.next();
    parts
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Up to `n` upper-cased leading words of a statement.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let b = sql.as_bytes();
    let mut i = 0usize;
    while i < b.len() && out.len() < n {
        let ch = b.get(i).copied().unwrap_or(b' ');
        let next = b.get(i + 1).copied().unwrap_or(0);
        if ch.is_ascii_whitespace() || ch == b';' || ch == b'(' {
            i += 1;
        } else if ch == b'/' && next == b'*' {
            if b.get(i + 2) == Some(&b'!') {
                // executable comment: skip "/*!" and an optional version
                i += 3;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            } else {
                match sql.get(i + 2..).and_then(|s| s.find("*/")) {
                    Some(end) => i += 2 + end + 2,
                    None => break,
                }
            }
        } else if ch == b'*' && next == b'/' {
            i += 2;
        } else if ch == b'#' || (ch == b'-' && next == b'-') {
            match sql.get(i..).and_then(|s| s.find('\n')) {
                Some(end) => i += end + 1,
                None => break,
            }
        } else {
            let start = i;
            while b
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                i += 1;
            }
            if i == start {
                i += 1;
                continue;
            }
            out.push(sql.get(start..i).unwrap_or("").to_ascii_uppercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_transaction_boundaries_and_ddl() {
        assert_eq!(classify("BEGIN"), QueryKind::Begin);
        assert_eq!(classify("  commit"), QueryKind::Commit);
        assert_eq!(classify("ROLLBACK"), QueryKind::Rollback);
        assert_eq!(classify("ROLLBACK TO SAVEPOINT a"), QueryKind::Savepoint);
        assert_eq!(classify("SAVEPOINT `a`"), QueryKind::Savepoint);
        assert_eq!(classify("/* x */ CREATE TABLE t (a int)"), QueryKind::Ddl);
        assert_eq!(
            classify("/*!40000 ALTER TABLE t DISABLE KEYS */"),
            QueryKind::Ddl
        );
        assert_eq!(
            classify("DROP TABLE `t` /* generated by server */"),
            QueryKind::Ddl
        );
        assert_eq!(classify("-- c\nTRUNCATE t"), QueryKind::Ddl);
        assert_eq!(classify("insert into t values (1)"), QueryKind::Other);
        assert_eq!(classify("GRANT ALL ON *.* TO x"), QueryKind::Other);
        assert_eq!(
            classify("ALTER USER 'a'@'%' IDENTIFIED BY 'x'"),
            QueryKind::Other
        );
        assert_eq!(classify("CREATE OR REPLACE ROLE r"), QueryKind::Other);
    }

    #[test]
    fn xa_statements_carry_their_xid() {
        assert_eq!(
            classify("XA START X'31',X'',1"),
            QueryKind::XaStart("X'31',X'',1".into())
        );
        assert_eq!(
            classify("XA COMMIT X'31',X'',1"),
            QueryKind::XaCommit {
                xid: "X'31',X'',1".into(),
                one_phase: false
            }
        );
        assert_eq!(
            classify("XA COMMIT X'31',X'',1 ONE PHASE"),
            QueryKind::XaCommit {
                xid: "X'31',X'',1".into(),
                one_phase: true
            }
        );
        assert_eq!(classify("XA END X'31',X'',1"), QueryKind::XaEnd);
    }

    #[test]
    fn parses_a_query_body() {
        let mut body = Vec::new();
        body.extend_from_slice(&7u32.to_le_bytes()); // thread
        body.extend_from_slice(&0u32.to_le_bytes()); // exec time
        body.push(2); // schema len
        body.extend_from_slice(&0u16.to_le_bytes()); // error
        let status = [4u8, 33, 0, 33, 0, 8, 0, 5, 3, b'U', b'T', b'C', 99, 1];
        body.extend_from_slice(&(status.len() as u16).to_le_bytes());
        body.extend_from_slice(&status);
        body.extend_from_slice(b"db\0");
        body.extend_from_slice(b"BEGIN");
        let q = QueryEvent::parse(&body, 13, false).unwrap();
        assert_eq!(q.thread_id, 7);
        assert_eq!(q.schema, "db");
        assert_eq!(q.text(), "BEGIN");
        assert_eq!(q.status.charset, Some((33, 33, 8)));
        assert_eq!(q.status.time_zone.as_deref(), Some("UTC"));
        // truncated inside the schema
        assert!(QueryEvent::parse(&body[..body.len() - 7], 13, false).is_err());
    }
}
