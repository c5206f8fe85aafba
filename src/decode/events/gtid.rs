//! MySQL's GTID events: GTID_LOG_EVENT (33), ANONYMOUS_GTID_LOG_EVENT (34),
//! GTID_TAGGED_LOG_EVENT (42, MySQL 8.4+) and PREVIOUS_GTIDS_LOG_EVENT (35).
//!
//! GTID / ANONYMOUS_GTID body:
//!
//! ```text
//! 0   flags                 u8    1 = may commit in parallel ("commit flag")
//! 1   sid                   [16]  server UUID (zeros when anonymous)
//! 17  gno                   i64
//! 25  lt_type               u8    2 = logical timestamps follow   (5.7+)
//! 26  last_committed        i64
//! 34  sequence_number       i64
//! 42  immediate_commit_ts   7 bytes, µs; bit 55 set → original_commit_ts
//!                           (7 bytes) follows                      (8.0.1+)
//!     transaction_length    length-encoded                         (8.0.2+)
//!     immediate_server_ver  u32; bit 31 set → original_server_ver
//!                           (u32) follows                          (8.0.14+)
//!     commit_group_ticket   u64                                    (8.0.33+)
//! ```
//!
//! GTID_TAGGED body, written with MySQL's serialization library: three
//! varlen integers (format version, serialized size, last non-ignorable
//! field id), then fields as (varlen field id, value): 0 flags, 1 uuid
//! (16 varlen bytes), 2 gno (signed), 3 tag (varlen length + bytes),
//! 4 last_committed (signed), 5 sequence_number (signed), 6
//! immediate_commit_ts, 7 original_commit_ts, 8 transaction_length, 9
//! immediate_server_version, 10 original_server_version, 11
//! commit_group_ticket. Varlen integers are described in
//! [`Reader::varlen_u64`](crate::wire::Reader::varlen_u64).
//!
//! PREVIOUS_GTIDS body: u64 n_sids — in the tagged format (8.4+) the low
//! byte and the high byte are 1 and n_sids sits in bits 8..56 — then per
//! sid: 16-byte uuid, (tagged: varlen tag length + tag), u64 n_intervals,
//! then n_intervals × (i64 start, i64 end exclusive).

use crate::decode::DecodeError;
use crate::wire::Reader;
use std::fmt::Write as _;

/// A MySQL GTID event (tagged or not), or an anonymous one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MysqlGtid {
    pub flags: u8,
    pub uuid: [u8; 16],
    pub tag: Option<String>,
    pub gno: i64,
    pub anonymous: bool,
    pub last_committed: Option<i64>,
    pub sequence_number: Option<i64>,
    /// Commit time on this server, microseconds since the epoch.
    pub immediate_commit_us: Option<u64>,
    pub original_commit_us: Option<u64>,
    pub transaction_length: Option<u64>,
}

impl MysqlGtid {
    /// `uuid:gno` or `uuid:tag:gno`; empty for an anonymous transaction.
    pub fn text(&self) -> String {
        if self.anonymous {
            return String::new();
        }
        let mut s = uuid_text(&self.uuid);
        if let Some(tag) = &self.tag {
            if !tag.is_empty() {
                s.push(':');
                s.push_str(tag);
            }
        }
        let _ = write!(s, ":{}", self.gno);
        s
    }

    pub fn parse(body: &[u8], anonymous: bool) -> Result<MysqlGtid, DecodeError> {
        const W: &str = "GTID event";
        let mut c = Reader::new(body);
        let mut g = MysqlGtid {
            flags: c.u8(W)?,
            uuid: c.array::<16>(W)?,
            gno: c.u64(W)? as i64,
            anonymous,
            ..MysqlGtid::default()
        };
        if c.is_empty() {
            return Ok(g);
        }
        let lt_type = c.u8(W)?;
        if lt_type == 2 {
            g.last_committed = Some(c.u64(W)? as i64);
            g.sequence_number = Some(c.u64(W)? as i64);
        }
        if c.remaining() >= 7 {
            let ts = c.uint_le(7, W)?;
            let has_original = ts & (1 << 55) != 0;
            g.immediate_commit_us = Some(ts & !(1 << 55));
            g.original_commit_us = if has_original {
                Some(c.uint_le(7, W)?)
            } else {
                g.immediate_commit_us
            };
            if !c.is_empty() {
                g.transaction_length = Some(c.lenenc(W)?);
            }
        }
        Ok(g)
    }

    pub fn parse_tagged(body: &[u8]) -> Result<MysqlGtid, DecodeError> {
        const W: &str = "tagged GTID event";
        let mut c = Reader::new(body);
        let _version = c.varlen_u64(W)?;
        let size = c.varlen_u64(W)?;
        let _last_non_ignorable = c.varlen_u64(W)?;
        let end = usize::try_from(size).unwrap_or(usize::MAX).min(body.len());
        let mut g = MysqlGtid::default();
        let mut have_uuid = false;
        let mut have_gno = false;
        while c.pos() < end {
            let field = c.varlen_u64(W)?;
            match field {
                0 => g.flags = c.varlen_u64(W)? as u8,
                1 => {
                    for b in g.uuid.iter_mut() {
                        *b = c.varlen_u64(W)? as u8;
                    }
                    have_uuid = true;
                }
                2 => {
                    g.gno = c.varlen_i64(W)?;
                    have_gno = true;
                }
                3 => {
                    let n = c.varlen_u64(W)?;
                    let tag = c.take_len(n, W)?;
                    g.tag = Some(String::from_utf8_lossy(tag).into_owned());
                }
                4 => g.last_committed = Some(c.varlen_i64(W)?),
                5 => g.sequence_number = Some(c.varlen_i64(W)?),
                6 => g.immediate_commit_us = Some(c.varlen_u64(W)?),
                7 => g.original_commit_us = Some(c.varlen_u64(W)?),
                8 => g.transaction_length = Some(c.varlen_u64(W)?),
                9..=11 => {
                    c.varlen_u64(W)?;
                }
                // Fields of later versions: their encoding is unknown
                // here, and everything sluice needs came before them.
                _ => break,
            }
        }
        if !have_uuid || !have_gno {
            return Err(DecodeError::Invalid {
                what: W,
                detail: "no uuid or gno field".into(),
            });
        }
        if g.original_commit_us.is_none() {
            g.original_commit_us = g.immediate_commit_us;
        }
        Ok(g)
    }
}

/// The canonical text of a server UUID.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// One source in a GTID set: uuid, optional tag, intervals [start, end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GtidSetEntry {
    pub uuid: [u8; 16],
    pub tag: String,
    pub intervals: Vec<(i64, i64)>,
}

/// PREVIOUS_GTIDS: the GTID set of every earlier binlog file.
pub fn parse_previous_gtids(body: &[u8]) -> Result<Vec<GtidSetEntry>, DecodeError> {
    const W: &str = "previous GTIDs event";
    let mut c = Reader::new(body);
    let head = c.u64(W)?;
    let tagged = head >> 56 == 1;
    let n_sids = if tagged {
        (head >> 8) & 0xFFFF_FFFF_FFFF
    } else {
        head
    };
    // Each entry takes at least 24 bytes: refuse counts the body cannot hold.
    if n_sids > (c.remaining() / 24) as u64 {
        return Err(DecodeError::Invalid {
            what: W,
            detail: format!("{n_sids} sources do not fit in {} bytes", c.remaining()),
        });
    }
    let mut out = Vec::new();
    for _ in 0..n_sids {
        let uuid = c.array::<16>(W)?;
        let tag = if tagged {
            let n = c.varlen_u64(W)?;
            String::from_utf8_lossy(c.take_len(n, W)?).into_owned()
        } else {
            String::new()
        };
        let n = c.u64(W)?;
        if n > (c.remaining() / 16) as u64 {
            return Err(DecodeError::Invalid {
                what: W,
                detail: format!("{n} intervals do not fit in {} bytes", c.remaining()),
            });
        }
        let mut intervals = Vec::new();
        for _ in 0..n {
            intervals.push((c.u64(W)? as i64, c.u64(W)? as i64));
        }
        out.push(GtidSetEntry {
            uuid,
            tag,
            intervals,
        });
    }
    Ok(out)
}

/// MySQL's text form: `uuid:1-5:7,uuid2:tag:1-3` (intervals inclusive).
pub fn gtid_set_text(set: &[GtidSetEntry]) -> String {
    let mut s = String::new();
    for (i, e) in set.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&uuid_text(&e.uuid));
        if !e.tag.is_empty() {
            s.push(':');
            s.push_str(&e.tag);
        }
        for &(start, end) in &e.intervals {
            let last = end.saturating_sub(1);
            if last == start {
                let _ = write!(s, ":{start}");
            } else {
                let _ = write!(s, ":{start}-{last}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_gtid_with_commit_timestamps() {
        let mut b = vec![1u8];
        b.extend_from_slice(&[0x11; 16]);
        b.extend_from_slice(&42u64.to_le_bytes());
        b.push(2);
        b.extend_from_slice(&7u64.to_le_bytes());
        b.extend_from_slice(&8u64.to_le_bytes());
        let ts: u64 = 1_700_000_000_123_456;
        b.extend_from_slice(&ts.to_le_bytes()[..7]);
        b.push(100); // transaction length
        let g = MysqlGtid::parse(&b, false).unwrap();
        assert_eq!(g.text(), "11111111-1111-1111-1111-111111111111:42");
        assert_eq!(g.immediate_commit_us, Some(ts));
        assert_eq!(g.original_commit_us, Some(ts));
        assert_eq!(g.transaction_length, Some(100));
        assert!(MysqlGtid::parse(&b[..20], false).is_err());
    }

    #[test]
    fn previous_gtids_refuses_impossible_counts() {
        let mut b = (u64::MAX >> 9).to_le_bytes().to_vec();
        b.extend_from_slice(&[0; 30]);
        assert!(parse_previous_gtids(&b).is_err());
    }
}
