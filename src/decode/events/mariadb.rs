//! MariaDB's own events: GTID (162), GTID_LIST (163), BINLOG_CHECKPOINT
//! (161), ANNOTATE_ROWS (160) and START_ENCRYPTION (164, refused).
//!
//! ```text
//! GTID (162):
//! 0   seq_no      u64
//! 8   domain_id   u32
//! 12  flags2      u8    FL_STANDALONE 1, FL_GROUP_COMMIT_ID 2,
//!                       FL_TRANSACTIONAL 4, FL_ALLOW_PARALLEL 8, FL_WAITED 16,
//!                       FL_DDL 32, FL_PREPARED_XA 64, FL_COMPLETED_XA 128
//! 13  commit_id   u64   if FL_GROUP_COMMIT_ID
//!     xid         if FL_PREPARED_XA or FL_COMPLETED_XA:
//!                 format_id u32, gtrid_len u8, bqual_len u8, data
//!     (later versions append more; ignored)
//! The server id of the GTID is the event header's.
//!
//! GTID_LIST (163):
//! 0   count       u32   low 28 bits: number of entries; high 4: flags
//! 4   entries     count × (domain u32, server_id u32, seq_no u64)
//!
//! BINLOG_CHECKPOINT (161): name_len u32, then the binlog file name.
//! ANNOTATE_ROWS (160): the whole body is the statement text.
//! ```

use crate::decode::DecodeError;
use crate::wire::Reader;

pub const FL_STANDALONE: u8 = 1;
pub const FL_GROUP_COMMIT_ID: u8 = 2;
pub const FL_TRANSACTIONAL: u8 = 4;
pub const FL_DDL: u8 = 32;
pub const FL_PREPARED_XA: u8 = 64;
pub const FL_COMPLETED_XA: u8 = 128;

/// One MariaDB GTID: `domain-server-seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub seq_no: u64,
}

impl MariaGtid {
    pub fn text(&self) -> String {
        format!("{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

/// A MariaDB GTID event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    pub flags: u8,
    pub commit_id: Option<u64>,
    /// The XA xid (format id, gtrid+bqual bytes) of XA event groups.
    pub xid: Option<(u32, Vec<u8>, usize)>,
}

impl MariaGtidEvent {
    pub fn parse(body: &[u8], server_id: u32) -> Result<MariaGtidEvent, DecodeError> {
        const W: &str = "MariaDB GTID event";
        let mut c = Reader::new(body);
        let seq_no = c.u64(W)?;
        let domain_id = c.u32(W)?;
        let flags = c.u8(W)?;
        let mut commit_id = None;
        let mut xid = None;
        if flags & FL_GROUP_COMMIT_ID != 0 {
            commit_id = Some(c.u64(W)?);
        } else if flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
            let format_id = c.u32(W)?;
            let gtrid = usize::from(c.u8(W)?);
            let bqual = usize::from(c.u8(W)?);
            let data = c.take(gtrid + bqual, W)?.to_vec();
            xid = Some((format_id, data, gtrid));
        }
        Ok(MariaGtidEvent {
            gtid: MariaGtid {
                domain_id,
                server_id,
                seq_no,
            },
            flags,
            commit_id,
            xid,
        })
    }

    pub fn standalone(&self) -> bool {
        self.flags & FL_STANDALONE != 0
    }
}

/// GTID_LIST: the binlog state at the start of a file.
pub fn parse_gtid_list(body: &[u8]) -> Result<Vec<MariaGtid>, DecodeError> {
    const W: &str = "MariaDB GTID list event";
    let mut c = Reader::new(body);
    let count = c.u32(W)? & 0x0FFF_FFFF;
    if count as usize > c.remaining() / 16 {
        return Err(DecodeError::Invalid {
            what: W,
            detail: format!("{count} entries do not fit in {} bytes", c.remaining()),
        });
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        out.push(MariaGtid {
            domain_id: c.u32(W)?,
            server_id: c.u32(W)?,
            seq_no: c.u64(W)?,
        });
    }
    Ok(out)
}

/// `0-1-5,1-2-7`
pub fn gtid_list_text(list: &[MariaGtid]) -> String {
    list.iter()
        .map(MariaGtid::text)
        .collect::<Vec<_>>()
        .join(",")
}

/// BINLOG_CHECKPOINT: the oldest binlog file still needed for crash recovery.
pub fn parse_checkpoint(body: &[u8]) -> Result<String, DecodeError> {
    const W: &str = "MariaDB binlog checkpoint event";
    let mut c = Reader::new(body);
    let n = c.u32(W)?;
    Ok(String::from_utf8_lossy(c.take_len(u64::from(n), W)?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_event_flags_and_text() {
        let mut b = 12u64.to_le_bytes().to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(FL_STANDALONE | FL_DDL);
        b.extend_from_slice(&[0; 6]);
        let g = MariaGtidEvent::parse(&b, 7).unwrap();
        assert_eq!(g.gtid.text(), "3-7-12");
        assert!(g.standalone());
        assert!(MariaGtidEvent::parse(&b[..10], 7).is_err());
    }

    #[test]
    fn gtid_list_bounds() {
        let mut b = 2u32.to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 5u64), (1, 2, 7)] {
            b.extend_from_slice(&d.to_le_bytes());
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&q.to_le_bytes());
        }
        assert_eq!(gtid_list_text(&parse_gtid_list(&b).unwrap()), "0-1-5,1-2-7");
        assert!(parse_gtid_list(&b[..20]).is_err());
        let huge = 0x0FFF_FFFFu32.to_le_bytes();
        assert!(parse_gtid_list(&huge).is_err());
    }
}
