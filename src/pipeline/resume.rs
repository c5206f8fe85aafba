//! Where capture resumes: always from the log's last durable record, never
//! from a separate offset file that could disagree with it.
//!
//! - The last record is a whole transaction (`last_part`): resume at its
//!   `position.next`.
//! - It is a non-final part of a split transaction (a crash between two of
//!   its batches): resume at the transaction's `position.start` and skip
//!   the parts the log already holds, so the transaction is completed and
//!   never duplicated.
//! - Resuming by GTID (`--resume gtid`) asks the server for everything not
//!   in the log's cumulative GTID set instead of a file position.

use crate::proto::Record;
use crate::source::DumpFrom;
use prost::Message;
use sluice_storage::Log;

/// The dump start for an existing log, and parts to skip.
#[derive(Clone, Debug, PartialEq)]
pub struct Resume {
    pub from: DumpFrom,
    /// `(start position, parts already in the log)` of a transaction whose
    /// final part is missing.
    pub skip_parts: Option<(u64, u32)>,
    /// The last record (for the schema history and progress).
    pub last: Record,
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("reading the log's last record: {0}")]
    Storage(#[from] sluice_storage::StorageError),
    #[error("the log's last record (offset {offset}) is not a change event: {source}")]
    Payload {
        offset: u64,
        source: prost::DecodeError,
    },
    #[error(
        "the log's last record (offset {offset}) has no binlog position and no GTID to resume from"
    )]
    NoPosition { offset: u64 },
}

/// The resume point of `log`, or `None` for an empty log.
pub fn resume_point(log: &Log, by_gtid: bool) -> Result<Option<Resume>, ResumeError> {
    // Readers see only durable records; the last appended one must be
    // readable to resume from it (`fsync = interval` may not have run yet).
    log.flush()?;
    let last = log.last_record();
    let Some(keys) = last.last else {
        return Ok(None);
    };
    let record = log
        .read_from(keys.offset)?
        .next()?
        .ok_or(ResumeError::NoPosition {
            offset: keys.offset,
        })?;
    let rec = Record::decode(record.payload().as_ref()).map_err(|source| ResumeError::Payload {
        offset: keys.offset,
        source,
    })?;
    let position = rec.position.clone().unwrap_or_default();
    if !rec.last_part {
        return Ok(Some(Resume {
            from: DumpFrom::file_pos(position.file.clone(), position.start),
            skip_parts: Some((position.start, rec.part + 1)),
            last: rec,
        }));
    }
    let gtid_text = crate::gtid::mariadb_position(&last.gtid_executed)
        .filter(|t| !t.is_empty())
        .or_else(|| crate::gtid::mysql_set_text(&last.gtid_executed).filter(|t| !t.is_empty()));
    let from = if position.file.is_empty() || by_gtid {
        // A snapshot taken for a GTID start carries the start set itself.
        let set = gtid_text
            .or_else(|| (!rec.gtid.is_empty()).then(|| rec.gtid.clone()))
            .ok_or(ResumeError::NoPosition {
                offset: keys.offset,
            })?;
        DumpFrom::gtid(set)
    } else {
        DumpFrom::file_pos(position.file.clone(), position.next)
    };
    Ok(Some(Resume {
        from,
        skip_parts: None,
        last: rec,
    }))
}

/// The number at the end of a binlog file name (`mysql-bin.000042` → 42),
/// the log's `file_no` key. 0 when the name has none.
pub fn file_number(file: &str) -> u32 {
    file.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Is binlog coordinate `a` at or after `b`? Files compare by number,
/// then by name, so `mysql-bin.000010` comes after `mysql-bin.000009`.
pub fn at_or_after(a: (&str, u64), b: (&str, u64)) -> bool {
    let key = |(f, p): (&str, u64)| (file_number(f), f.to_string(), p);
    key(a) >= key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_numbers_and_order() {
        assert_eq!(file_number("mysql-bin.000042"), 42);
        assert_eq!(file_number("weird"), 0);
        assert!(at_or_after(("b.000010", 4), ("b.000009", 900)));
        assert!(at_or_after(("b.000009", 900), ("b.000009", 900)));
        assert!(!at_or_after(("b.000009", 899), ("b.000009", 900)));
    }
}
