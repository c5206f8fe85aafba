//! What the MySQL mirror leaves alone unless `replay_accounts = true`:
//! account and privilege statements and writes to the system schemas. A
//! target has accounts of its own; a `GRANT` replayed there either changes
//! who may log in to it or, refused for lack of privilege, stops the
//! mirror for good.

use crate::proto::{Ddl, Statement};
use crate::schema::lex;

/// Schemas of the server itself, never mirrored by default.
const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "sys", "performance_schema", "information_schema"];

pub fn is_system_schema(schema: &str) -> bool {
    SYSTEM_SCHEMAS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(schema))
}

/// `CREATE/ALTER/DROP/RENAME USER|ROLE`, `GRANT`, `REVOKE`, `SET
/// PASSWORD`, `SET [DEFAULT] ROLE`, `FLUSH PRIVILEGES` (comments and
/// executable comments read as the server reads them).
pub fn is_account_statement(sql: &str) -> bool {
    let t = lex::tokenize(sql, true);
    let at = |i: usize, kw: &str| t.get(i).is_some_and(|x| x.is(kw));
    let principal = |i: usize| at(i, "USER") || at(i, "ROLE");
    at(0, "GRANT")
        || at(0, "REVOKE")
        || (["CREATE", "ALTER", "DROP", "RENAME"]
            .iter()
            .any(|k| at(0, k))
            && principal(1))
        || (at(0, "CREATE") && at(1, "OR") && at(2, "REPLACE") && principal(3))
        || (at(0, "SET")
            && (at(1, "PASSWORD") || at(1, "ROLE") || (at(1, "DEFAULT") && at(2, "ROLE"))))
        || (at(0, "FLUSH") && at(1, "PRIVILEGES"))
}

/// A DDL record the mirror skips: an account statement, or DDL of system
/// schema tables (or run in one, naming no other table).
pub fn ddl(ddl: &Ddl) -> bool {
    is_account_statement(&ddl.statement)
        || ddl.tables.iter().any(|t| is_system_schema(&t.schema))
        || (ddl.tables.is_empty() && ddl.databases.is_empty() && is_system_schema(&ddl.schema))
}

/// A non-row statement the mirror skips.
pub fn statement(s: &Statement) -> bool {
    is_account_statement(&s.text) || is_system_schema(&s.schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_statements() {
        for sql in [
            "GRANT SELECT ON k.* TO 'app'@'%'",
            "  grant all on *.* to x",
            "/* by admin */ REVOKE ALL ON *.* FROM 'app'@'%'",
            "CREATE USER 'app'@'%' IDENTIFIED BY 'x'",
            "CREATE OR REPLACE USER a",
            "DROP USER IF EXISTS a",
            "ALTER USER a ACCOUNT LOCK",
            "RENAME USER a TO b",
            "CREATE ROLE r",
            "SET PASSWORD FOR a = PASSWORD('x')",
            "SET DEFAULT ROLE r FOR a",
            "FLUSH PRIVILEGES",
            "/*!80000 CREATE USER a */",
        ] {
            assert!(is_account_statement(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE user (id INT)",
            "ALTER TABLE users ADD c INT",
            "DROP TABLE grant_log",
            "SET NAMES utf8mb4",
            "FLUSH TABLES",
            "INSERT INTO t VALUES ('GRANT')",
            "",
        ] {
            assert!(!is_account_statement(sql), "{sql}");
        }
        assert!(is_system_schema("MySQL") && is_system_schema("performance_schema"));
        assert!(!is_system_schema("shop"));
    }
}
