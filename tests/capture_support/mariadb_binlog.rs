//! The expected side of the exactly-once tests from outside sluice: the
//! server's binlog decoded by MariaDB's own `mariadb-binlog -v`, reduced
//! to the GTID of each transaction that changed rows of a schema and the
//! number of row changes per table and kind.

use sluice_testkit::MariaDb;
use std::collections::BTreeMap;
use std::process::Command;

/// What `mariadb-binlog` says happened in `schema` from `(file, pos)` on.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// GTIDs (`D-S-N`) of the transactions with row changes in `schema`,
    /// in binlog order.
    pub gtids: Vec<String>,
    /// Row changes by (table, kind: `insert`, `update`, `delete`).
    pub rows: BTreeMap<(String, String), usize>,
}

pub fn changes(db: &MariaDb, schema: &str, start: &(String, u64)) -> Changes {
    let files: Vec<_> = db
        .binlog_files()
        .into_iter()
        .filter(|f| f.file_name().and_then(|n| n.to_str()).unwrap_or_default() >= start.0.as_str())
        .collect();
    assert!(!files.is_empty(), "no binlog file from {}", start.0);
    let out = Command::new("mariadb-binlog")
        .args(["--no-defaults", "-v", "--base64-output=decode-rows"])
        .arg(format!("--start-position={}", start.1))
        .args(&files)
        .output()
        .expect("run mariadb-binlog (Debian's mariadb-client)");
    assert!(
        out.status.success(),
        "mariadb-binlog failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut result = Changes::default();
    let mut gtid = String::new();
    let mut counted = false;
    for line in text.lines() {
        // `#… server id 1  end_log_pos 123 CRC32 0x…\tGTID 0-1-7 trans`
        if line.starts_with('#') && !line.starts_with("###") {
            let mut words = line.split_whitespace();
            if words.by_ref().any(|w| w == "GTID") {
                gtid = words.next().unwrap_or_default().to_string();
                counted = false;
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("### ") else {
            continue;
        };
        let (kind, target) = if let Some(t) = rest.strip_prefix("INSERT INTO ") {
            ("insert", t)
        } else if let Some(t) = rest.strip_prefix("UPDATE ") {
            ("update", t)
        } else if let Some(t) = rest.strip_prefix("DELETE FROM ") {
            ("delete", t)
        } else {
            continue;
        };
        let Some((db_name, table)) = target.split_once('.') else {
            continue;
        };
        if db_name.trim_matches('`') != schema {
            continue;
        }
        *result
            .rows
            .entry((table.trim_matches('`').to_string(), kind.to_string()))
            .or_default() += 1;
        if !counted {
            result.gtids.push(gtid.clone());
            counted = true;
        }
    }
    result
}

/// The same reduction of the log's transactions.
pub fn of_log(txns: &[super::Txn]) -> Changes {
    let mut result = Changes::default();
    for t in txns {
        if t.changes.is_empty() {
            continue;
        }
        result.gtids.push(t.gtid.clone());
        for c in &t.changes {
            *result
                .rows
                .entry((c.table.clone(), c.kind.clone()))
                .or_default() += c.rows.len();
        }
    }
    result
}
