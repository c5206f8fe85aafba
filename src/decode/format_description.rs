//! FORMAT_DESCRIPTION_EVENT (binlog v4) and START_EVENT_V3 (v1/v3): how
//! the rest of the file is laid out.
//!
//! FORMAT_DESCRIPTION body (after the 19-byte common header):
//!
//! ```text
//! 0   binlog_version     u16   4
//! 2   server_version     [50]  NUL-padded, e.g. "8.0.32" or "10.5.15-MariaDB-log"
//! 52  create_timestamp   u32
//! 56  header_length      u8    common header length of later events (19)
//! 57  post_header_len[]  u8 × N, one per event type code 1..=N
//! [   checksum_alg       u8    0 off, 1 CRC32 — only from servers that know
//!     checksum           u32   checksums: MySQL ≥ 5.6.1, MariaDB ≥ 5.3     ]
//! ```
//!
//! START_EVENT_V3 body: the first 56 bytes above. Its files have no
//! post-header table: v1 (MySQL 3.23, 13-byte headers) and v3 (4.0/4.1)
//! use fixed post-header lengths, given by [`FormatDescription::legacy`].

use super::event_type as et;
use super::header::{HEADER_LEN, HEADER_LEN_V1};
use super::DecodeError;
use crate::wire::Reader;

/// Checksum algorithm announced by the format description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlg {
    Off,
    Crc32,
}

/// The layout of the events that follow a format description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatDescription {
    pub binlog_version: u16,
    pub server_version: String,
    pub create_timestamp: u32,
    /// Common header length: 19 (13 in v1).
    pub header_len: usize,
    /// Post-header length of event type `t` at index `t - 1`.
    pub post_header_lens: Vec<u8>,
    pub checksum: ChecksumAlg,
}

impl Default for FormatDescription {
    /// What a v4 binlog looks like before its FORMAT_DESCRIPTION is read
    /// (and what a live stream assumes until the server sends one).
    fn default() -> Self {
        FormatDescription {
            binlog_version: 4,
            server_version: String::new(),
            create_timestamp: 0,
            header_len: HEADER_LEN,
            post_header_lens: Vec::new(),
            checksum: ChecksumAlg::Off,
        }
    }
}

impl FormatDescription {
    /// Parse a FORMAT_DESCRIPTION body: the bytes after the common header,
    /// checksum included (its presence is what this event announces).
    pub fn parse(body: &[u8]) -> Result<FormatDescription, DecodeError> {
        let mut c = Reader::new(body);
        let binlog_version = c.u16("format description")?;
        let server_version = version_string(c.take(50, "format description server version")?);
        let create_timestamp = c.u32("format description")?;
        let header_len = usize::from(c.u8("format description header length")?);
        if header_len < HEADER_LEN {
            return Err(DecodeError::Invalid {
                what: "format description",
                detail: format!("common header length {header_len} is below 19"),
            });
        }
        let rest = c.rest();
        let (post_header_lens, checksum) = if knows_checksums(&server_version) {
            let split = rest.len().checked_sub(5).ok_or(DecodeError::Truncated {
                what: "format description checksum algorithm",
                need: 5,
                have: rest.len(),
            })?;
            let (lens, tail) = rest.split_at(split);
            let alg = match tail.first().copied().unwrap_or(0) {
                0 => ChecksumAlg::Off,
                1 => ChecksumAlg::Crc32,
                other => {
                    return Err(DecodeError::Unsupported(format!(
                        "binlog checksum algorithm {other} (only NONE and CRC32 exist)"
                    )))
                }
            };
            (lens.to_vec(), alg)
        } else {
            (rest.to_vec(), ChecksumAlg::Off)
        };
        Ok(FormatDescription {
            binlog_version,
            server_version,
            create_timestamp,
            header_len,
            post_header_lens,
            checksum,
        })
    }

    /// The layout of a v1 or v3 file, from its START_EVENT_V3 body.
    pub fn legacy(start_v3_body: &[u8], header_len: usize) -> Result<Self, DecodeError> {
        let mut c = Reader::new(start_v3_body);
        let binlog_version = c.u16("start event")?;
        let server_version = version_string(c.take(50, "start event server version")?);
        let create_timestamp = c.u32("start event")?;
        let mut lens = vec![0u8; usize::from(et::NEW_LOAD)];
        let mut set = |t: u8, n: u8| {
            if let Some(slot) = lens.get_mut(usize::from(t) - 1) {
                *slot = n;
            }
        };
        set(et::START_V3, 56);
        set(et::QUERY, 11);
        set(et::LOAD, 18);
        set(et::NEW_LOAD, 18);
        set(et::CREATE_FILE, 4);
        set(et::APPEND_BLOCK, 4);
        set(et::EXEC_LOAD, 4);
        set(et::DELETE_FILE, 4);
        // v1 ROTATE has no position field.
        set(et::ROTATE, if header_len == HEADER_LEN_V1 { 0 } else { 8 });
        Ok(FormatDescription {
            binlog_version,
            server_version,
            create_timestamp,
            header_len,
            post_header_lens: lens,
            checksum: ChecksumAlg::Off,
        })
    }

    /// Post-header length for an event type: from the table when it covers
    /// the type, else the length MySQL/MariaDB have always used for it.
    pub fn post_header_len(&self, type_code: u8) -> u8 {
        usize::from(type_code)
            .checked_sub(1)
            .and_then(|i| self.post_header_lens.get(i))
            .copied()
            .unwrap_or_else(|| default_post_header_len(type_code))
    }

    /// Bytes of table id in TABLE_MAP and rows events: 6, or 4 when the
    /// table map's post-header is 6 bytes long (MySQL 5.1.0–5.1.15).
    pub fn table_id_size(&self) -> usize {
        if self.post_header_len(et::TABLE_MAP) == 6 {
            4
        } else {
            6
        }
    }

    pub fn is_mariadb(&self) -> bool {
        self.server_version.to_ascii_lowercase().contains("mariadb")
    }
}

fn version_string(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

/// (major, minor, patch) of a server version string such as "5.6.4-m7-debug-log".
pub fn version_tuple(v: &str) -> (u32, u32, u32) {
    let head = v.split('-').next().unwrap_or("");
    let mut parts = head.split('.').map(|p| {
        p.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// MySQL ≥ 5.6.1 and MariaDB ≥ 5.3 end their FORMAT_DESCRIPTION with a
/// checksum-algorithm byte and a 4-byte checksum.
pub fn knows_checksums(server_version: &str) -> bool {
    let v = version_tuple(server_version);
    if server_version.to_ascii_lowercase().contains("mariadb") {
        v >= (5, 3, 0)
    } else {
        v >= (5, 6, 1)
    }
}

fn default_post_header_len(t: u8) -> u8 {
    match t {
        et::QUERY | et::MARIADB_QUERY_COMPRESSED | et::EXECUTE_LOAD_QUERY => {
            if t == et::EXECUTE_LOAD_QUERY {
                26
            } else {
                13
            }
        }
        et::START_V3 => 56,
        et::ROTATE => 8,
        et::LOAD | et::NEW_LOAD => 18,
        et::CREATE_FILE | et::APPEND_BLOCK | et::EXEC_LOAD | et::DELETE_FILE => 4,
        et::BEGIN_LOAD_QUERY => 4,
        et::FORMAT_DESCRIPTION => 84,
        et::TABLE_MAP => 8,
        et::PRE_GA_WRITE_ROWS | et::PRE_GA_UPDATE_ROWS | et::PRE_GA_DELETE_ROWS => 8,
        et::WRITE_ROWS_V1 | et::UPDATE_ROWS_V1 | et::DELETE_ROWS_V1 => 8,
        et::MARIADB_WRITE_ROWS_COMPRESSED_V1
        | et::MARIADB_UPDATE_ROWS_COMPRESSED_V1
        | et::MARIADB_DELETE_ROWS_COMPRESSED_V1 => 8,
        et::WRITE_ROWS | et::UPDATE_ROWS | et::DELETE_ROWS | et::PARTIAL_UPDATE_ROWS => 10,
        et::MARIADB_WRITE_ROWS_COMPRESSED
        | et::MARIADB_UPDATE_ROWS_COMPRESSED
        | et::MARIADB_DELETE_ROWS_COMPRESSED => 10,
        et::INCIDENT => 2,
        et::GTID | et::ANONYMOUS_GTID => 42,
        et::MARIADB_ANNOTATE_ROWS => 0,
        et::MARIADB_BINLOG_CHECKPOINT => 4,
        et::MARIADB_GTID => 19,
        et::MARIADB_GTID_LIST => 4,
        et::MARIADB_START_ENCRYPTION => 0,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_know_checksums() {
        assert!(knows_checksums("5.6.4-m7-debug-log"));
        assert!(knows_checksums("8.0.32"));
        assert!(!knows_checksums("5.6.0"));
        assert!(!knows_checksums("5.5.27-log"));
        assert!(knows_checksums("10.5.15-MariaDB-1:10.5.15+maria~focal-log"));
        assert_eq!(version_tuple("5.1.34sp1-enterprise"), (5, 1, 34));
    }

    #[test]
    fn short_post_header_table_falls_back_to_known_lengths() {
        let fd = FormatDescription::default();
        assert_eq!(fd.post_header_len(et::WRITE_ROWS), 10);
        assert_eq!(fd.post_header_len(et::QUERY), 13);
        assert_eq!(fd.table_id_size(), 6);
    }
}
