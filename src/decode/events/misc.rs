//! The small events: ROTATE, XID, INTVAR, RAND, USER_VAR, ROWS_QUERY,
//! INCIDENT, HEARTBEAT, XA_PREPARE.
//!
//! ```text
//! ROTATE (4):        position u64 (v3/v4), then the next file's name
//! XID (16):          xid u64
//! INTVAR (5):        type u8, value u64
//! RAND (13):         seed1 u64, seed2 u64
//! USER_VAR (14):     name_len u32, name, is_null u8, then (if not null)
//!                    type u8, charset u32, value_len u32, value, [flags u8]
//! ROWS_QUERY (29):   length u8 (ignored: truncated at 255), then the text
//! INCIDENT (26):     type u16, message_len u8, message
//! HEARTBEAT (27):    the current binlog file name (position in the header)
//! XA_PREPARE (38):   one_phase u8, format_id u32, gtrid_len u32,
//!                    bqual_len u32, gtrid+bqual bytes
//! ```

use crate::decode::DecodeError;
use crate::wire::Reader;

/// ROTATE: where the stream continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotate {
    pub position: u64,
    pub next_file: String,
}

pub fn parse_rotate(body: &[u8], post_header_len: u8) -> Result<Rotate, DecodeError> {
    const W: &str = "rotate event";
    let mut c = Reader::new(body);
    let position = if post_header_len >= 8 {
        let p = c.u64(W)?;
        c.skip(usize::from(post_header_len) - 8, W)?;
        p
    } else {
        4
    };
    let name = c.rest();
    if name.is_empty() {
        return Err(DecodeError::Invalid {
            what: W,
            detail: "no file name".into(),
        });
    }
    Ok(Rotate {
        position,
        next_file: String::from_utf8_lossy(name).into_owned(),
    })
}

pub fn parse_xid(body: &[u8]) -> Result<u64, DecodeError> {
    Ok(Reader::new(body).u64("XID event")?)
}

/// INTVAR, RAND: check the fixed size, nothing kept (they matter only to
/// statement-based replay).
pub fn check_intvar(body: &[u8]) -> Result<(), DecodeError> {
    let mut c = Reader::new(body);
    c.u8("INTVAR event")?;
    c.u64("INTVAR event")?;
    Ok(())
}

pub fn check_rand(body: &[u8]) -> Result<(), DecodeError> {
    Ok(Reader::new(body).skip(16, "RAND event")?)
}

/// USER_VAR: walk the fields to be sure the event is whole.
pub fn check_user_var(body: &[u8]) -> Result<(), DecodeError> {
    const W: &str = "USER_VAR event";
    let mut c = Reader::new(body);
    let n = c.u32(W)?;
    c.take_len(u64::from(n), W)?;
    let is_null = c.u8(W)?;
    if is_null == 0 {
        c.u8(W)?;
        c.u32(W)?;
        let len = c.u32(W)?;
        c.take_len(u64::from(len), W)?;
    }
    Ok(())
}

pub fn parse_rows_query(body: &[u8]) -> Result<String, DecodeError> {
    let mut c = Reader::new(body);
    c.u8("ROWS_QUERY event")?;
    Ok(String::from_utf8_lossy(c.rest()).into_owned())
}

/// INCIDENT: (type, message).
pub fn parse_incident(body: &[u8]) -> Result<(u16, String), DecodeError> {
    const W: &str = "INCIDENT event";
    let mut c = Reader::new(body);
    let kind = c.u16(W)?;
    let msg = if c.is_empty() {
        String::new()
    } else {
        let n = c.u8(W)?;
        String::from_utf8_lossy(c.take(usize::from(n), W)?).into_owned()
    };
    Ok((kind, msg))
}

/// XA_PREPARE: (one_phase, xid text as MySQL writes it in XA statements:
/// `X'gtrid',X'bqual',format_id`).
pub fn parse_xa_prepare(body: &[u8]) -> Result<(bool, String), DecodeError> {
    const W: &str = "XA_PREPARE event";
    let mut c = Reader::new(body);
    let one_phase = c.u8(W)? != 0;
    let format_id = c.u32(W)?;
    let gtrid_len = c.u32(W)?;
    let bqual_len = c.u32(W)?;
    let gtrid = c.take_len(u64::from(gtrid_len), W)?;
    let bqual = c.take_len(u64::from(bqual_len), W)?;
    Ok((one_phase, xid_text(format_id, gtrid, bqual)))
}

/// `X'6162',X'',1`: the form MySQL prints XIDs in.
pub fn xid_text(format_id: u32, gtrid: &[u8], bqual: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("X'");
    for b in gtrid {
        let _ = write!(s, "{b:02x}");
    }
    s.push_str("',X'");
    for b in bqual {
        let _ = write!(s, "{b:02x}");
    }
    let _ = write!(s, "',{format_id}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_and_small_events() {
        let mut b = 4u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"mysql-bin.000002");
        let r = parse_rotate(&b, 8).unwrap();
        assert_eq!(r.position, 4);
        assert_eq!(r.next_file, "mysql-bin.000002");
        assert!(parse_rotate(&b[..8], 8).is_err());
        assert_eq!(parse_xid(&9u64.to_le_bytes()).unwrap(), 9);
        assert!(parse_xid(&[1, 2]).is_err());
        assert!(check_user_var(&[0xff, 0xff, 0xff, 0x7f, b'a']).is_err());
        assert_eq!(xid_text(1, b"ab", b""), "X'6162',X'',1");
    }
}
