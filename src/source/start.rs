//! Start positions for a new log, and how each is resolved against the
//! server into a [`DumpFrom`].
//!
//! | text            | resolves to                                              |
//! |-----------------|----------------------------------------------------------|
//! | `earliest`      | first file of `SHOW BINARY LOGS`, position 4            |
//! | `current`       | `SHOW MASTER STATUS` (`SHOW BINARY LOG STATUS` on 8.2+) |
//! | `FILE:POS`      | that position, after checking the file is still there   |
//! | `gtid:SET`      | a GTID dump (MySQL set or MariaDB list, checked)        |
//! | `time:RFC3339`  | the first transaction at or after that time             |
//!
//! The time search works as Canal's: read the first transaction's
//! timestamp of each binlog file, newest first, with short non-blocking
//! dumps on separate connections, until a file starts at or before the
//! time; then scan that file for the first transaction that reaches it. A
//! time before every transaction gives the earliest position; a time after
//! all of them gives the current end.

use super::config::SourceConfig;
use super::conn::Connection;
use super::dump::{rotate_target, DumpFrom, DumpOptions};
use super::error::{Result, SourceError};
use super::gtid::{check_mariadb_gtid_list, MySqlGtidSet};
use super::handshake::Flavour;
use crate::decode::event_type;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartPoint {
    Earliest,
    Current,
    FilePos {
        file: String,
        pos: u64,
    },
    Gtid(String),
    /// Seconds since the Unix epoch.
    Time(i64),
}

impl StartPoint {
    pub fn parse(s: &str) -> Result<StartPoint> {
        let s = s.trim();
        let bad = |why: String| SourceError::Config(format!("start position {s:?}: {why}"));
        Ok(match s {
            "earliest" => StartPoint::Earliest,
            "current" | "latest" => StartPoint::Current,
            _ => {
                if let Some(set) = s.strip_prefix("gtid:") {
                    StartPoint::Gtid(set.trim().to_string())
                } else if let Some(t) = s.strip_prefix("time:") {
                    let t = chrono::DateTime::parse_from_rfc3339(t.trim())
                        .map_err(|e| bad(format!("not an RFC 3339 time: {e}")))?;
                    StartPoint::Time(t.timestamp())
                } else if let Some((file, pos)) = s.rsplit_once(':') {
                    let pos: u64 = pos
                        .parse()
                        .map_err(|_| bad(format!("{pos:?} is not a position")))?;
                    if file.is_empty() || pos < 4 {
                        return Err(bad("expected FILE:POS with POS ≥ 4".into()));
                    }
                    StartPoint::FilePos {
                        file: file.to_string(),
                        pos,
                    }
                } else {
                    return Err(bad(
                        "expected earliest, current, FILE:POS, gtid:SET or time:RFC3339".into(),
                    ));
                }
            }
        })
    }
}

/// The server's current binlog end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterStatus {
    pub file: String,
    pub pos: u64,
    /// MySQL: `Executed_Gtid_Set`; MariaDB: `@@gtid_binlog_pos`.
    pub gtid_set: Option<String>,
}

impl Connection {
    /// `SHOW MASTER STATUS` (or `SHOW BINARY LOG STATUS` on MySQL 8.2+).
    pub async fn master_status(&mut self) -> Result<MasterStatus> {
        let info = self.server_info().clone();
        let sql = if info.flavour == Flavour::MySql && info.version >= (8, 2, 0) {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        };
        let rs = self.query_with_columns(sql).await?;
        let row = rs.rows.first().ok_or_else(|| SourceError::Unsupported {
            addr: self.addr(),
            detail:
                "binary logging is off (SHOW MASTER STATUS is empty): start the server with log_bin"
                    .into(),
        })?;
        let get = |name: &str| rs.column(name).and_then(|i| row.get(i).cloned().flatten());
        let file = get("File").unwrap_or_default();
        let pos = get("Position").and_then(|p| p.parse().ok()).unwrap_or(4);
        let gtid_set = match info.flavour {
            Flavour::MySql => get("Executed_Gtid_Set").filter(|s| !s.is_empty()),
            Flavour::MariaDb => self.query_value("SELECT @@gtid_binlog_pos").await?,
        };
        Ok(MasterStatus {
            file,
            pos,
            gtid_set,
        })
    }

    /// Turn a start point into a dump start, checking it against the server.
    pub async fn resolve_start(&mut self, start: &StartPoint) -> Result<DumpFrom> {
        let addr = self.addr();
        match start {
            StartPoint::Earliest => {
                let files = self.binary_logs().await?;
                let first = files.first().ok_or_else(|| SourceError::Unsupported {
                    addr,
                    detail: "the server has no binary logs".into(),
                })?;
                Ok(DumpFrom::file_pos(first.name.clone(), 4))
            }
            StartPoint::Current => {
                let s = self.master_status().await?;
                Ok(DumpFrom::file_pos(s.file, s.pos))
            }
            StartPoint::FilePos { file, pos } => {
                let files = self.binary_logs().await?;
                let Some(f) = files.iter().find(|f| &f.name == file) else {
                    let oldest = files.first().map(|f| f.name.clone());
                    let older = oldest
                        .as_ref()
                        .is_some_and(|o| super::dump::sorts_before(file, o));
                    return Err(if older {
                        SourceError::Purged {
                            addr,
                            requested: format!("{file}:{pos}"),
                            oldest,
                        }
                    } else {
                        SourceError::Config(format!("binlog file {file} does not exist on {addr}"))
                    });
                };
                if *pos > f.size {
                    return Err(SourceError::Config(format!(
                        "position {pos} is beyond the end of {file} ({} bytes) on {addr}",
                        f.size
                    )));
                }
                Ok(DumpFrom::file_pos(file.clone(), *pos))
            }
            StartPoint::Gtid(set) => {
                match self.server_info().flavour {
                    Flavour::MariaDb => check_mariadb_gtid_list(set),
                    Flavour::MySql => MySqlGtidSet::parse(set).map(|_| ()),
                }
                .map_err(SourceError::Config)?;
                Ok(DumpFrom::gtid(set.clone()))
            }
            StartPoint::Time(t) => self.resolve_time(*t).await,
        }
    }

    async fn resolve_time(&mut self, target: i64) -> Result<DumpFrom> {
        let files = self.binary_logs().await?;
        let config = self.config().clone();
        let mut chosen = None;
        for (i, f) in files.iter().enumerate().rev() {
            let first = scan_file(&config, &f.name, |_| true).await?;
            tracing::debug!(file = %f.name, ?first, target, "first transaction of binlog file");
            match first {
                Some((ts, _)) if i64::from(ts) <= target => {
                    chosen = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(i) = chosen else {
            // Every transaction is after the time (or there are none).
            let first = files.first().ok_or_else(|| SourceError::Unsupported {
                addr: self.addr(),
                detail: "the server has no binary logs".into(),
            })?;
            return Ok(DumpFrom::file_pos(first.name.clone(), 4));
        };
        // The first transaction at or after the time: in the chosen file,
        // or else in the files after it, or else the current end.
        for f in &files[i..] {
            if let Some((_, pos)) =
                scan_file(&config, &f.name, |ts| i64::from(ts) >= target).await?
            {
                return Ok(DumpFrom::file_pos(f.name.clone(), pos));
            }
        }
        let s = self.master_status().await?;
        Ok(DumpFrom::file_pos(s.file, s.pos))
    }
}

/// Read `file` from its start on a separate connection and return the
/// timestamp and position of the first transaction start whose timestamp
/// satisfies `want`, or `None` if the file ends first.
///
/// A transaction starts at a GTID event (MySQL 33/34/42, MariaDB 162);
/// every supported server (MySQL 5.7+, MariaDB 10+) writes one before each
/// transaction.
pub async fn scan_file(
    config: &SourceConfig,
    file: &str,
    want: impl Fn(u32) -> bool,
) -> Result<Option<(u32, u64)>> {
    let conn = Connection::connect(config).await?;
    let checksum = conn.server_info().has_checksum();
    let options = DumpOptions {
        non_blocking: true,
        annotate_rows: false,
    };
    let mut scan_config = config.clone();
    // A throwaway replica id, so the scan does not kick out a running
    // replica with the configured id.
    scan_config.server_id = config.server_id.wrapping_add(0x4000_0000).max(1);
    let mut conn = conn;
    conn.config = scan_config;
    let mut stream = conn
        .start_dump_with(&DumpFrom::file_pos(file, 4), options)
        .await?;
    while let Some(event) = stream.next_event().await? {
        let h = event.header;
        match h.type_code {
            event_type::ROTATE => {
                if let Some((name, _)) = rotate_target(&event.bytes, checksum) {
                    if name != file {
                        return Ok(None);
                    }
                }
            }
            event_type::GTID
            | event_type::ANONYMOUS_GTID
            | event_type::GTID_TAGGED
            | event_type::MARIADB_GTID => {
                if let Some(pos) = h.start_pos() {
                    if want(h.timestamp) {
                        return Ok(Some((h.timestamp, u64::from(pos))));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(StartPoint::parse("earliest").unwrap(), StartPoint::Earliest);
        assert_eq!(StartPoint::parse("current").unwrap(), StartPoint::Current);
        assert_eq!(
            StartPoint::parse("mysql-bin.000003:1234").unwrap(),
            StartPoint::FilePos {
                file: "mysql-bin.000003".into(),
                pos: 1234
            }
        );
        assert_eq!(
            StartPoint::parse("gtid:0-1-42").unwrap(),
            StartPoint::Gtid("0-1-42".into())
        );
        assert_eq!(
            StartPoint::parse("time:2024-01-02T03:04:05Z").unwrap(),
            StartPoint::Time(1_704_164_645)
        );
        assert_eq!(
            StartPoint::parse("time:2024-01-02T04:04:05+01:00").unwrap(),
            StartPoint::Time(1_704_164_645)
        );
        for bad in ["", "nope", "f:abc", "f:2", ":100", "time:yesterday"] {
            assert!(
                matches!(StartPoint::parse(bad), Err(SourceError::Config(_))),
                "{bad}"
            );
        }
    }
}
