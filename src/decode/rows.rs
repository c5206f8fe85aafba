//! Rows events (WRITE/UPDATE/DELETE v0/v1/v2, PARTIAL_UPDATE_ROWS, and
//! MariaDB's compressed 169–171) into typed values.
//!
//! CONTRACT STUB: the decode-values work replaces the bodies; the
//! signatures are what the framing code calls.

use super::table_map::TableMap;
use super::DecodeError;
use crate::proto;

/// The table id a rows event refers to, read from its post-header, so the
/// caller can find the TABLE_MAP. `table_id_size` is 6 (or 4).
pub fn table_id(body: &[u8], table_id_size: usize) -> Result<u64, DecodeError> {
    let _ = (body, table_id_size);
    Err(DecodeError::Unsupported(
        "rows decoding not written yet".into(),
    ))
}

/// Decode one rows event. `event_type` is the binlog event type code;
/// `body` the bytes after the common header, without the checksum;
/// `post_header_len` from the format description for this event type.
pub fn decode_rows(
    event_type: u8,
    body: &[u8],
    post_header_len: u8,
    table: &TableMap,
) -> Result<proto::TableChange, DecodeError> {
    let _ = (event_type, body, post_header_len, table);
    Err(DecodeError::Unsupported(
        "rows decoding not written yet".into(),
    ))
}
