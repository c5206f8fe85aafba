//! Where a consumer group starts or is moved to, written as text (in query
//! strings, JSON bodies and CLI flags) and resolved to a log offset
//! through the log's indexes:
//!
//! | text | offset |
//! |---|---|
//! | `earliest` | the log start |
//! | `latest` | the durable end (only new records) |
//! | `N` or `offset:N` | offset N |
//! | `time:T` (RFC 3339, or ms since the epoch) | first record committed at or after T |
//! | `position:FILE:POS` or `FILE:POS` | first transaction ending after binlog position POS of FILE |
//! | `gtid:SET` | first transaction not in the GTID set (MySQL or MariaDB text) |

use sluice_storage::{Log, SourcePos, StorageError};

/// A parsed start point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seek {
    Earliest,
    Latest,
    Offset(u64),
    /// Milliseconds since the epoch.
    Time(i64),
    /// Binlog file name and position.
    Position(String, u64),
    /// GTID set text.
    Gtid(String),
}

/// Why a start point cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeekError {
    #[error("bad start point {text:?}: {why} (earliest, latest, OFFSET, time:RFC3339, FILE:POS or gtid:SET)")]
    Syntax { text: String, why: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl std::str::FromStr for Seek {
    type Err = SeekError;
    fn from_str(text: &str) -> Result<Self, SeekError> {
        let bad = |why: &str| SeekError::Syntax {
            text: text.to_string(),
            why: why.to_string(),
        };
        let t = text.trim();
        if t == "earliest" {
            return Ok(Seek::Earliest);
        }
        if t == "latest" {
            return Ok(Seek::Latest);
        }
        if let Ok(n) = t.parse::<u64>() {
            return Ok(Seek::Offset(n));
        }
        if let Some(n) = t.strip_prefix("offset:") {
            return n
                .parse()
                .map(Seek::Offset)
                .map_err(|_| bad("the offset is not a number"));
        }
        if let Some(time) = t.strip_prefix("time:") {
            return parse_time(time).map(Seek::Time).map_err(|w| bad(&w));
        }
        if let Some(set) = t.strip_prefix("gtid:") {
            crate::gtid::parse_set(set).map_err(|e| bad(&e.to_string()))?;
            return Ok(Seek::Gtid(set.to_string()));
        }
        let pos = t.strip_prefix("position:").unwrap_or(t);
        if let Some((file, p)) = pos.rsplit_once(':') {
            if file.is_empty() {
                return Err(bad("no binlog file name before ':'"));
            }
            let p = p
                .parse()
                .map_err(|_| bad("the binlog position is not a number"))?;
            return Ok(Seek::Position(file.to_string(), p));
        }
        Err(bad("not understood"))
    }
}

/// A time as RFC 3339 (`2024-05-01T12:00:00Z`) or ms since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("time {text:?} is neither RFC 3339 nor milliseconds: {e}"))
}

impl Seek {
    /// The offset this start point names in `log`.
    pub fn resolve(&self, log: &Log) -> Result<u64, SeekError> {
        log.refresh()?;
        Ok(match self {
            Seek::Earliest => log.start_offset(),
            Seek::Latest => log.durable_end(),
            Seek::Offset(n) => *n,
            Seek::Time(ms) => log.find_time(*ms)?,
            Seek::Position(file, pos) => {
                let file_no = crate::pipeline::resume::file_number(file);
                log.find_position(SourcePos::new(file_no, *pos))?
            }
            Seek::Gtid(text) => {
                let set = crate::gtid::parse_set(text).map_err(|e| SeekError::Syntax {
                    text: text.clone(),
                    why: e.to_string(),
                })?;
                log.find_gtid(&set)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("earliest".parse::<Seek>().unwrap(), Seek::Earliest);
        assert_eq!("latest".parse::<Seek>().unwrap(), Seek::Latest);
        assert_eq!("42".parse::<Seek>().unwrap(), Seek::Offset(42));
        assert_eq!("offset:7".parse::<Seek>().unwrap(), Seek::Offset(7));
        assert_eq!(
            "time:1970-01-01T00:00:01Z".parse::<Seek>().unwrap(),
            Seek::Time(1000)
        );
        assert_eq!(
            "mysql-bin.000003:4711".parse::<Seek>().unwrap(),
            Seek::Position("mysql-bin.000003".into(), 4711)
        );
        assert_eq!(
            "position:b.000001:4".parse::<Seek>().unwrap(),
            Seek::Position("b.000001".into(), 4)
        );
        assert!(matches!("gtid:0-1-5".parse::<Seek>(), Ok(Seek::Gtid(_))));
        for bad in [
            "",
            "soon",
            "offset:x",
            "time:yesterday",
            ":5",
            "f:x",
            "gtid:zz",
        ] {
            assert!(bad.parse::<Seek>().is_err(), "{bad:?} parsed");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = s.parse::<Seek>();
        }
    }
}
