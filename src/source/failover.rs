//! One source, several servers: which host to capture from, whether it is
//! the server the log came from, and whether a new one holds every
//! transaction the log holds before capture resumes there by GTID.
//!
//! A binlog file and position only mean something on the server that
//! wrote them; a GTID means the same transaction on every server of a
//! replication topology. So after a failover capture resumes by GTID,
//! never by position, and only once the new server is known to have
//! everything the log has (a replica promoted before it caught up lacks
//! the old primary's tail: those transactions are *errant* in the log).

use super::config::{Role, SourceConfig};
use super::conn::{quote, Connection};
use super::error::{Result, SourceError};
use super::handshake::Flavour;
use std::collections::BTreeMap;

/// Connects to the first host of `config` that answers and, for
/// [`Role::Primary`], is writable (`@@read_only = 0`). The connection's
/// `config()` names the host it reached. When none will do, the error says
/// what each host answered; it is retryable unless a host gave a definite
/// answer (a wrong password, say).
pub async fn connect_first(config: &SourceConfig) -> Result<Connection> {
    if config.hosts.len() <= 1 {
        return Connection::connect(config).await;
    }
    let mut answers = Vec::new();
    let mut fatal = None;
    for host in config.each_host() {
        match Connection::connect(&host).await {
            Ok(conn) if config.role == Role::Any => return Ok(conn),
            Ok(mut conn) => match conn.query_value("SELECT @@global.read_only").await {
                Ok(Some(v)) if v == "0" || v.eq_ignore_ascii_case("OFF") => return Ok(conn),
                Ok(_) => {
                    answers.push(format!("{}: read-only (read_only = 1)", host.addr()));
                    conn.close().await;
                }
                Err(e) => answers.push(e.to_string()),
            },
            Err(e) if e.is_retryable() => answers.push(e.to_string()),
            Err(e) => {
                answers.push(e.to_string());
                fatal.get_or_insert(e);
            }
        }
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    let addrs: Vec<String> = config.each_host().map(|h| h.addr()).collect();
    Err(SourceError::Connect {
        addr: addrs.join(","),
        source: std::io::Error::other(format!(
            "no {} host: {}",
            if config.role == Role::Primary {
                "writable"
            } else {
                "answering"
            },
            answers.join("; ")
        )),
    })
}

/// Names the server behind `conn` the same way across restarts and hosts:
/// `mysql uuid=…` (`@@server_uuid`) or `mariadb server_id=…` (MariaDB has no
/// server UUID; its replication already needs unique server ids).
pub async fn identity(conn: &mut Connection) -> Result<String> {
    match conn.server_info().flavour {
        Flavour::MySql => {
            let uuid = conn
                .query_value("SELECT @@server_uuid")
                .await?
                .unwrap_or_default();
            Ok(format!("mysql uuid={uuid}"))
        }
        Flavour::MariaDb => Ok(format!(
            "mariadb server_id={}",
            conn.server_info().server_id
        )),
    }
}

/// What a server lacks of a GTID state the log holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The transactions, as text (MySQL: a GTID set; MariaDB: per domain,
    /// the log's last GTID and the server's).
    pub description: String,
    /// Where the server's history left the log's (`--accept-errant`
    /// resumes there, skipping the missing transactions), when known.
    pub without: Option<String>,
}

/// The transactions of `log_gtids` (MySQL set text or MariaDB position
/// text) that the server behind `conn` does not have, or `None`.
pub async fn missing(conn: &mut Connection, log_gtids: &str) -> Result<Option<Missing>> {
    match conn.server_info().flavour {
        Flavour::MySql => {
            let lacks = conn
                .query_value(&format!(
                    "SELECT GTID_SUBTRACT({}, @@global.gtid_executed)",
                    quote(log_gtids)
                ))
                .await?
                .unwrap_or_default();
            if lacks.trim().is_empty() {
                return Ok(None);
            }
            let without = conn
                .query_value(&format!(
                    "SELECT GTID_SUBTRACT({}, {})",
                    quote(log_gtids),
                    quote(&lacks)
                ))
                .await?
                .unwrap_or_default();
            Ok(Some(Missing {
                description: lacks.replace('\n', ""),
                without: Some(without.replace('\n', "")),
            }))
        }
        Flavour::MariaDb => {
            let binlog = conn
                .query_value("SELECT @@global.gtid_binlog_pos")
                .await?
                .unwrap_or_default();
            let replicated = conn
                .query_value("SELECT @@global.gtid_slave_pos")
                .await?
                .unwrap_or_default();
            mariadb_missing(log_gtids, &binlog, &replicated).map_err(|detail| {
                SourceError::Malformed {
                    addr: conn.addr(),
                    detail,
                }
            })
        }
    }
}

/// MariaDB GTID positions (`D-S-N,…`, the last GTID of each domain) by
/// domain.
fn mariadb_domains(text: &str) -> std::result::Result<BTreeMap<u32, (u32, u64)>, String> {
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split('-');
        let parsed = (|| {
            let d = it.next()?.parse().ok()?;
            let s = it.next()?.parse().ok()?;
            let n = it.next()?.parse().ok()?;
            it.next().is_none().then_some((d, s, n))
        })();
        let (d, s, n) = parsed.ok_or_else(|| format!("bad MariaDB GTID {part:?} in {text:?}"))?;
        out.insert(d, (s, n));
    }
    Ok(out)
}

/// Whether the server holds the log's last transaction of each domain,
/// `D-S-N`. Sequence numbers alone cannot tell: a replica promoted before
/// it caught up writes `D-S'-M` with M > N without ever having had
/// `D-S-N`. So the server has it when its binlog's last GTID there
/// (`binlog`, `gtid_binlog_pos`) is from S and as far or further, or when
/// it replicated from S at least that far (`replicated`,
/// `gtid_slave_pos`, which a promoted replica keeps). When neither says,
/// a server that went further from another origin is given the benefit of
/// the doubt: it refuses a dump from a GTID not in its binlog (1236), and
/// capture reports that as the same errant tail.
fn mariadb_missing(
    log: &str,
    binlog: &str,
    replicated: &str,
) -> std::result::Result<Option<Missing>, String> {
    let ours = mariadb_domains(log)?;
    let theirs = mariadb_domains(binlog)?;
    let from_old = mariadb_domains(replicated)?;
    let mut lacks = Vec::new();
    let mut without = Some(Vec::new());
    for (domain, (s, n)) in &ours {
        let wrote = theirs.get(domain).copied();
        let copied = from_old.get(domain).copied();
        let has = wrote.is_some_and(|(ts, tn)| ts == *s && tn >= *n)
            || copied.is_some_and(|(rs, rn)| rs == *s && rn >= *n)
            || (copied.is_none() && wrote.is_some_and(|(_, tn)| tn > *n));
        let keep = if has {
            Some((*s, *n))
        } else {
            lacks.push(match wrote {
                Some((ts, tn)) => format!(
                    "domain {domain}: the log holds up to {domain}-{s}-{n}, the server's binlog ends at {domain}-{ts}-{tn}{}",
                    copied.map_or(String::new(), |(rs, rn)| format!(
                        " and it replicated up to {domain}-{rs}-{rn}"
                    ))
                ),
                None => format!(
                    "domain {domain}: the log holds up to {domain}-{s}-{n}, the server none of it"
                ),
            });
            copied.filter(|(_, rn)| rn <= n)
        };
        match (keep, without.as_mut()) {
            (Some((s, n)), Some(w)) => w.push(format!("{domain}-{s}-{n}")),
            _ => without = None,
        }
    }
    Ok((!lacks.is_empty()).then(|| Missing {
        description: lacks.join("; "),
        without: without.map(|w| w.join(",")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_positions_compare_per_domain() {
        // The same origin, as far or further.
        assert_eq!(mariadb_missing("0-1-105", "0-1-110", "").unwrap(), None);
        assert_eq!(
            mariadb_missing("0-1-105", "0-1-105,1-3-9", "").unwrap(),
            None
        );
        // A promoted replica that had replicated everything.
        assert_eq!(
            mariadb_missing("0-1-105", "0-2-110", "0-1-105").unwrap(),
            None
        );
        // No replication position: further from elsewhere is trusted
        // (the dump itself refuses a GTID it lacks).
        assert_eq!(mariadb_missing("0-1-105", "0-2-110", "").unwrap(), None);
        // Promoted at 0-1-100, then wrote 0-2-101..110: past the log's
        // sequence number, yet without 0-1-101..105.
        let m = mariadb_missing("0-1-105,1-3-7", "0-2-110,1-3-7", "0-1-100")
            .unwrap()
            .unwrap();
        assert!(m.description.contains("0-1-105"), "{m:?}");
        assert!(m.description.contains("0-2-110"), "{m:?}");
        assert!(m.description.contains("0-1-100"), "{m:?}");
        assert_eq!(m.without.as_deref(), Some("0-1-100,1-3-7"));
        // Behind, and nothing says where the histories parted.
        let m = mariadb_missing("0-1-5,2-1-3", "0-1-5", "")
            .unwrap()
            .unwrap();
        assert!(m.description.contains("domain 2"), "{m:?}");
        assert_eq!(m.without, None);
        let m = mariadb_missing("0-1-5", "0-2-4", "").unwrap().unwrap();
        assert_eq!(m.without, None);
        assert!(mariadb_missing("0-1", "0-1-1", "").is_err());
        assert!(mariadb_missing("0-1-1", "x", "").is_err());
    }
}
