//! The common header in front of every binlog event.
//!
//! Format (binlog v3/v4, 19 bytes, little-endian):
//!
//! ```text
//! 0  timestamp  u32   seconds since the epoch, when the statement began
//! 4  type       u8    event type code (see `event_type`)
//! 5  server_id  u32   server that wrote the event
//! 9  event_size u32   whole event: header + body + checksum
//! 13 log_pos    u32   offset of the next event in the source's binlog
//! 17 flags      u16   LOG_EVENT_*_F
//! ```
//!
//! Binlog v1 (MySQL 3.23) has only the first 13 bytes.

use super::DecodeError;
use crate::wire::Reader;

/// Length of the v3/v4 common header.
pub const HEADER_LEN: usize = 19;
/// Length of the v1 common header.
pub const HEADER_LEN_V1: usize = 13;

/// `LOG_EVENT_BINLOG_IN_USE_F`: set in a FORMAT_DESCRIPTION while the file
/// is being written (cleared on close, after the checksum was computed).
pub const FLAG_BINLOG_IN_USE: u16 = 0x1;
/// `LOG_EVENT_ARTIFICIAL_F`: made up by the server (fake ROTATE, ...).
pub const FLAG_ARTIFICIAL: u16 = 0x20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeader {
    pub timestamp: u32,
    pub type_code: u8,
    pub server_id: u32,
    pub event_size: u32,
    /// 0 in v1 headers and in artificial events.
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    /// Parse a common header of `header_len` bytes (19, or 13 for v1).
    pub fn parse(bytes: &[u8], header_len: usize) -> Result<EventHeader, DecodeError> {
        let mut c = Reader::new(bytes);
        let timestamp = c.u32("event header")?;
        let type_code = c.u8("event header")?;
        let server_id = c.u32("event header")?;
        let event_size = c.u32("event header")?;
        let (log_pos, flags) = if header_len >= HEADER_LEN {
            (c.u32("event header")?, c.u16("event header")?)
        } else {
            (0, 0)
        };
        Ok(EventHeader {
            timestamp,
            type_code,
            server_id,
            event_size,
            log_pos,
            flags,
        })
    }
}
