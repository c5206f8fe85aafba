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

    /// Made up by the server rather than read from its binlog (a dump's
    /// fake ROTATE and FORMAT_DESCRIPTION, heartbeats): no position of its own.
    pub fn is_artificial(&self) -> bool {
        self.flags & FLAG_ARTIFICIAL != 0 || self.log_pos == 0
    }

    /// Where the event starts in its file, when it has a real position.
    pub fn start_pos(&self) -> Option<u32> {
        if self.is_artificial() {
            return None;
        }
        self.log_pos.checked_sub(self.event_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_positions() {
        let mut e = vec![0u8; 19];
        e[0..4].copy_from_slice(&1_700_000_000u32.to_le_bytes());
        e[4] = crate::decode::event_type::XID;
        e[5..9].copy_from_slice(&7u32.to_le_bytes());
        e[9..13].copy_from_slice(&31u32.to_le_bytes());
        e[13..17].copy_from_slice(&1031u32.to_le_bytes());
        let h = EventHeader::parse(&e, HEADER_LEN).unwrap();
        assert_eq!(
            (
                h.timestamp,
                h.type_code,
                h.server_id,
                h.event_size,
                h.log_pos
            ),
            (1_700_000_000, 16, 7, 31, 1031)
        );
        assert_eq!(h.start_pos(), Some(1000));
        assert!(!h.is_artificial());
        assert!(EventHeader::parse(&e[..18], HEADER_LEN).is_err());
        assert_eq!(
            EventHeader::parse(&e[..13], HEADER_LEN_V1).unwrap().log_pos,
            0
        );
        e[17] = FLAG_ARTIFICIAL as u8;
        let h = EventHeader::parse(&e, HEADER_LEN).unwrap();
        assert!(h.is_artificial());
        assert_eq!(h.start_pos(), None);
    }
}
