//! GTIDs between their MySQL/MariaDB text forms and the log's generic
//! [`GtidSet`] (stream id → intervals of sequence numbers).
//!
//! Stream ids, as the log stores them:
//! - MySQL `uuid:gno` → the 16 bytes of the UUID; a tagged GTID
//!   `uuid:tag:gno` (MySQL 8.4) → the 16 bytes, then `:`, then the tag.
//! - MariaDB `domain-server-seq` → 8 bytes: domain (u32 BE), server id
//!   (u32 BE). MariaDB's position per domain is the highest sequence number
//!   of the domain, with the server id that wrote it.

use sluice_storage::GtidSet;

#[derive(Debug, thiserror::Error)]
#[error("bad GTID {text:?}: {reason}")]
pub struct GtidError {
    text: String,
    reason: String,
}

fn bad(text: &str, reason: impl Into<String>) -> GtidError {
    GtidError {
        text: text.to_string(),
        reason: reason.into(),
    }
}

/// The log contribution of one transaction's GTID text (empty text: none).
pub fn contribution(gtid: &str) -> Result<GtidSet, GtidError> {
    if gtid.is_empty() {
        return Ok(GtidSet::new());
    }
    if let Some((stream, seq)) = parse_mariadb(gtid) {
        return Ok(GtidSet::single(&stream, seq));
    }
    parse_mysql_set(gtid)
}

/// A GTID set as a user or server writes it: MySQL
/// `uuid:1-5:7,uuid2[:tag]:1-3`, or MariaDB `0-1-100,1-2-7` (each domain's
/// position, meaning every sequence number up to it).
pub fn parse_set(text: &str) -> Result<GtidSet, GtidError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(GtidSet::new());
    }
    let first = text.split(',').next().unwrap_or_default().trim();
    if parse_mariadb(first).is_some() {
        let mut set = GtidSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (stream, seq) =
                parse_mariadb(part).ok_or_else(|| bad(part, "expected domain-server-seq"))?;
            set.insert_range(&stream, 1, seq);
        }
        Ok(set)
    } else {
        parse_mysql_set(text)
    }
}

fn parse_mariadb(text: &str) -> Option<(Vec<u8>, u64)> {
    let mut parts = text.trim().split('-');
    let domain: u32 = parts.next()?.parse().ok()?;
    let server: u32 = parts.next()?.parse().ok()?;
    let seq: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let mut stream = Vec::with_capacity(8);
    stream.extend_from_slice(&domain.to_be_bytes());
    stream.extend_from_slice(&server.to_be_bytes());
    Some((stream, seq))
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let hi = (pair.first().copied()? as char).to_digit(16)?;
        let lo = (pair.get(1).copied()? as char).to_digit(16)?;
        *out.get_mut(i)? = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// `uuid[:tag]:a[-b][:…][,…]` (a single `uuid:gno` is a set of one).
fn parse_mysql_set(text: &str) -> Result<GtidSet, GtidError> {
    let mut set = GtidSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut fields = part.split(':');
        let uuid_text = fields.next().unwrap_or_default();
        let uuid = parse_uuid(uuid_text).ok_or_else(|| bad(part, "expected a server UUID"))?;
        let mut stream = uuid.to_vec();
        let mut any = false;
        for field in fields {
            let field = field.trim();
            if field
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            {
                // A tag: the intervals after it belong to uuid:tag.
                stream = uuid.to_vec();
                stream.push(b':');
                stream.extend_from_slice(field.to_ascii_lowercase().as_bytes());
                continue;
            }
            let (a, b) = field.split_once('-').unwrap_or((field, field));
            let a: u64 = a
                .parse()
                .map_err(|_| bad(part, format!("bad number {a:?}")))?;
            let b: u64 = b
                .parse()
                .map_err(|_| bad(part, format!("bad number {b:?}")))?;
            if a == 0 || a > b {
                return Err(bad(part, format!("bad interval {field:?}")));
            }
            set.insert_range(&stream, a, b);
            any = true;
        }
        if !any {
            return Err(bad(part, "no interval"));
        }
    }
    Ok(set)
}

/// MariaDB's `gtid_slave_pos`-style text of a set: each domain's highest
/// sequence number with the server id that wrote it (`0-1-100,1-2-7`).
/// `None` when the set holds MySQL streams.
pub fn mariadb_position(set: &GtidSet) -> Option<String> {
    let mut best: std::collections::BTreeMap<u32, (u64, u32)> = Default::default();
    for (stream, intervals) in set.streams() {
        let (d, s) = stream.split_at_checked(4)?;
        let domain = u32::from_be_bytes(d.try_into().ok()?);
        let server = u32::from_be_bytes(s.try_into().ok()?);
        let last = intervals.last()?.1;
        let entry = best.entry(domain).or_insert((last, server));
        if last > entry.0 {
            *entry = (last, server);
        }
    }
    Some(
        best.iter()
            .map(|(d, (seq, server))| format!("{d}-{server}-{seq}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// MySQL's text of a set (`uuid:1-5:7,…`). `None` when it holds MariaDB
/// streams.
pub fn mysql_set_text(set: &GtidSet) -> Option<String> {
    let mut parts = Vec::new();
    for (stream, intervals) in set.streams() {
        let (uuid, tag) = stream.split_at_checked(16)?;
        let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
        let mut text = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        if let Some(tag) = tag.strip_prefix(b":") {
            text.push(':');
            text.push_str(std::str::from_utf8(tag).ok()?);
        } else if !tag.is_empty() {
            return None;
        }
        for (a, b) in intervals {
            if a == b {
                text.push_str(&format!(":{a}"));
            } else {
                text.push_str(&format!(":{a}-{b}"));
            }
        }
        parts.push(text);
    }
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UUID: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mariadb_gtid_round_trip() {
        let mut set = contribution("0-1-5").unwrap();
        set.union_with(&contribution("0-2-9").unwrap());
        set.union_with(&contribution("3-1-2").unwrap());
        assert_eq!(mariadb_position(&set).unwrap(), "0-2-9,3-1-2");
        let parsed = parse_set("0-1-100").unwrap();
        assert!(parsed.contains(&contribution_stream(0, 1), 1));
        assert!(parsed.contains(&contribution_stream(0, 1), 100));
        assert!(!parsed.contains(&contribution_stream(0, 1), 101));
    }

    fn contribution_stream(domain: u32, server: u32) -> Vec<u8> {
        [domain.to_be_bytes(), server.to_be_bytes()].concat()
    }

    #[test]
    fn mysql_set_round_trip() {
        let text = format!("{UUID}:1-5:7");
        let set = parse_set(&text).unwrap();
        assert_eq!(mysql_set_text(&set).unwrap(), text);
        let one = contribution(&format!("{UUID}:6")).unwrap();
        let mut both = set.clone();
        both.union_with(&one);
        assert_eq!(mysql_set_text(&both).unwrap(), format!("{UUID}:1-7"));
    }

    #[test]
    fn tagged_gtids_are_their_own_stream() {
        let set = parse_set(&format!("{UUID}:1-3:blue:1-2")).unwrap();
        assert_eq!(
            mysql_set_text(&set).unwrap(),
            format!("{UUID}:1-3,{UUID}:blue:1-2")
        );
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(parse_set("nonsense").is_err());
        assert!(parse_set(&format!("{UUID}:5-3")).is_err());
        assert!(contribution("0-1").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,80}") {
            let _ = parse_set(&text);
            let _ = contribution(&text);
        }

        #[test]
        fn mysql_text_round_trips(ivs in proptest::collection::vec((1u64..1000, 0u64..50), 1..6)) {
            let mut set = GtidSet::new();
            let stream = parse_uuid(UUID).unwrap();
            for (a, len) in ivs { set.insert_range(&stream, a, a + len); }
            let text = mysql_set_text(&set).unwrap();
            prop_assert_eq!(parse_set(&text).unwrap(), set);
        }
    }
}
