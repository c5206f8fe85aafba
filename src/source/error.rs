//! Errors of the replica connection, each carrying the server address and
//! classified as retryable (reconnect with backoff and resume) or fatal
//! (stop and say so: bad credentials, purged position, bad configuration).

use std::time::Duration;

/// Whether reconnecting can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: I/O, a dead or killed connection, a server restart.
    Retryable,
    /// Definite: retrying gives the same answer.
    Fatal,
}

/// MySQL/MariaDB error codes that mean "the connection or server went away,
/// try again": server shutdown (1053), connection killed (1927, MariaDB),
/// query interrupted (1317), too many connections (1040), lost connection
/// (2013), lock wait timeout (1205), deadlock (1213), server is read-only
/// while starting (1290 is not here: it is a configuration problem),
/// MySQL's ER_CLIENT_INTERACTION_TIMEOUT (4031).
const RETRYABLE_SERVER_CODES: &[u16] = &[1040, 1053, 1205, 1213, 1317, 1927, 2013, 4031];

/// Refusals of a statement for want of a privilege: 1044 database, 1142
/// table, 1143 column access denied, 1227 "you need (at least one of) the
/// … privilege(s)".
const ACCESS_DENIED_CODES: &[u16] = &[1044, 1142, 1143, 1227];

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("bad source configuration: {0}")]
    Config(String),

    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("I/O error talking to {addr} while {context}: {source}")]
    Io {
        addr: String,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{addr} closed the connection while {context}")]
    Closed { addr: String, context: &'static str },

    #[error("{addr} sent nothing for {after:?} while {context}: the connection is dead")]
    Timeout {
        addr: String,
        context: &'static str,
        after: Duration,
    },

    #[error("malformed packet from {addr}: {detail}")]
    Malformed { addr: String, detail: String },

    #[error("TLS with {addr} failed: {detail}")]
    Tls { addr: String, detail: String },

    #[error("authentication of user '{user}' at {addr} failed: {detail}")]
    Auth {
        addr: String,
        user: String,
        detail: String,
    },

    #[error("{addr} answered {context} with error {code} ({state}): {message}")]
    Server {
        addr: String,
        context: String,
        code: u16,
        state: String,
        message: String,
    },

    #[error(
        "{addr} no longer has the binlog to resume from {requested}: it was purged; \
         the oldest binlog still available is {}", oldest.as_deref().unwrap_or("unknown")
    )]
    Purged {
        addr: String,
        requested: String,
        oldest: Option<String>,
    },

    #[error("{addr}: {detail}")]
    Unsupported { addr: String, detail: String },
}

impl SourceError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::Connect { .. }
            | SourceError::Io { .. }
            | SourceError::Closed { .. }
            | SourceError::Timeout { .. } => ErrorClass::Retryable,
            SourceError::Server { code, .. } if RETRYABLE_SERVER_CODES.contains(code) => {
                ErrorClass::Retryable
            }
            _ => ErrorClass::Fatal,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }

    /// The server's error code, for `Server` errors.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            SourceError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// What the user can do about it, when that is clear from the error:
    /// a refused login is the password (or the user), a refused statement
    /// a missing privilege, named as the GRANT that gives it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceError::Auth { user, detail, .. } if detail.contains("error 1045") => {
                Some(format!(
                    "the server refused user '{user}' with this password: check the password \
                 (--password, SLUICE_PASSWORD, --password-file, or password_env / password_file \
                 in the source URL or config) and that the user may connect from this host"
                ))
            }
            SourceError::Connect { addr, .. } => Some(format!(
                "check the host and port of the source URL, and that the server at {addr} \
                 takes TCP connections from this host"
            )),
            SourceError::Server { code, .. } if ACCESS_DENIED_CODES.contains(code) => Some(
                "the source user lacks a privilege capture needs; as an administrator run \
                 GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'USER'@'HOST' \
                 (MariaDB 10.5+: BINLOG MONITOR instead of REPLICATION CLIENT)"
                    .into(),
            ),
            _ => None,
        }
    }

    pub(crate) fn malformed(addr: &str, detail: impl Into<String>) -> SourceError {
        SourceError::Malformed {
            addr: addr.to_string(),
            detail: detail.into(),
        }
    }
}

pub type Result<T, E = SourceError> = std::result::Result<T, E>;

impl crate::wire::WireError {
    /// A packet from `addr` that could not be read.
    pub fn at(self, addr: &str) -> SourceError {
        SourceError::malformed(addr, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> SourceError {
        SourceError::Server {
            addr: "h:1".into(),
            context: "x".into(),
            code,
            state: "HY000".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn classification() {
        assert!(server(1053).is_retryable());
        assert!(server(1927).is_retryable());
        assert!(!server(1045).is_retryable());
        assert!(!server(1236).is_retryable());
        let closed = SourceError::Closed {
            addr: "h:1".into(),
            context: "reading",
        };
        assert!(closed.is_retryable());
        let purged = SourceError::Purged {
            addr: "h:1".into(),
            requested: "mysql-bin.000001:4".into(),
            oldest: Some("mysql-bin.000003".into()),
        };
        assert!(!purged.is_retryable());
        assert!(purged.to_string().contains("mysql-bin.000003"));
    }
}
