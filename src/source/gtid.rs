//! GTID sets as the dump commands need them: MySQL's text form parsed and
//! encoded for COM_BINLOG_DUMP_GTID, MariaDB's GTID list checked before it
//! goes into `@slave_connect_state`.
//!
//! MySQL text form: `UUID:RANGE[:RANGE…][,UUID:…]`, RANGE = `N` or `N-M`
//! (inclusive), e.g. `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11`.
//!
//! Encoded form (COM_BINLOG_DUMP_GTID "data"):
//! ```text
//! int<8> number of UUIDs
//! per UUID:  bytes<16> uuid | int<8> number of intervals
//!            per interval: int<8> start | int<8> end (exclusive)
//! ```
//! Tagged GTIDs (MySQL 8.3+, `UUID:TAG:N`) use another encoding and are
//! refused with a clear error.
//!
//! MariaDB form: `DOMAIN-SERVER-SEQ[,…]`, at most one per domain.

/// The intervals of one source UUID, inclusive at both ends.
pub type UuidIntervals = ([u8; 16], Vec<(u64, u64)>);

/// A parsed MySQL GTID set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MySqlGtidSet(pub Vec<UuidIntervals>);

impl MySqlGtidSet {
    pub fn parse(s: &str) -> Result<MySqlGtidSet, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid_text = fields.next().unwrap_or("");
            let uuid = parse_uuid(uuid_text)
                .ok_or_else(|| format!("GTID set {s:?}: {uuid_text:?} is not a UUID"))?;
            let mut intervals = Vec::new();
            for range in fields {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (range, range),
                };
                let (Ok(a), Ok(b)) = (a.trim().parse::<u64>(), b.trim().parse::<u64>()) else {
                    if range
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    {
                        return Err(format!(
                            "GTID set {s:?}: tagged GTIDs ({range:?}) are not supported"
                        ));
                    }
                    return Err(format!("GTID set {s:?}: bad interval {range:?}"));
                };
                if a == 0 || b < a || b == u64::MAX {
                    return Err(format!("GTID set {s:?}: bad interval {range:?}"));
                }
                intervals.push((a, b));
            }
            if intervals.is_empty() {
                return Err(format!("GTID set {s:?}: {uuid_text} has no interval"));
            }
            out.push((uuid, intervals));
        }
        Ok(MySqlGtidSet(out))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.0.len() as u64).to_le_bytes());
        for (uuid, intervals) in &self.0 {
            out.extend_from_slice(uuid);
            out.extend_from_slice(&(intervals.len() as u64).to_le_bytes());
            for (a, b) in intervals {
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&(b + 1).to_le_bytes());
            }
        }
        out
    }
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || s.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = std::str::from_utf8(hex.get(2 * i..2 * i + 2)?).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Check a MariaDB GTID list (`D-S-N,…`, one per domain, may be empty).
pub fn check_mariadb_gtid_list(s: &str) -> Result<(), String> {
    let mut domains = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let nums: Vec<&str> = part.split('-').collect();
        let ok = nums.len() == 3
            && nums[0].parse::<u32>().is_ok()
            && nums[1].parse::<u32>().is_ok()
            && nums[2].parse::<u64>().is_ok();
        if !ok {
            return Err(format!(
                "MariaDB GTID {part:?} is not DOMAIN-SERVER-SEQUENCE"
            ));
        }
        if domains.contains(&nums[0]) {
            return Err(format!(
                "MariaDB GTID list {s:?} names domain {} twice",
                nums[0]
            ));
        }
        domains.push(nums[0]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_mysql_sets_byte_by_byte() {
        let s = MySqlGtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11").unwrap();
        let e = s.encode();
        assert_eq!(&e[..8], &1u64.to_le_bytes());
        assert_eq!(&e[8..12], &[0x3e, 0x11, 0xfa, 0x47]);
        assert_eq!(&e[24..32], &2u64.to_le_bytes());
        assert_eq!(&e[32..40], &1u64.to_le_bytes());
        assert_eq!(&e[40..48], &6u64.to_le_bytes());
        assert_eq!(&e[48..56], &11u64.to_le_bytes());
        assert_eq!(&e[56..64], &12u64.to_le_bytes());
        assert_eq!(e.len(), 64);
        assert_eq!(
            MySqlGtidSet::parse("").unwrap().encode(),
            0u64.to_le_bytes()
        );
    }

    #[test]
    fn rejects_bad_sets() {
        for bad in [
            "nonsense",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-1",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:0",
        ] {
            assert!(MySqlGtidSet::parse(bad).is_err(), "{bad}");
        }
        let e = MySqlGtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:1").unwrap_err();
        assert!(e.contains("tagged"), "{e}");
        assert!(check_mariadb_gtid_list("0-1-100,1-2-5").is_ok());
        assert!(check_mariadb_gtid_list("").is_ok());
        assert!(check_mariadb_gtid_list("0-1-100,0-2-5").is_err());
        assert!(check_mariadb_gtid_list("0-1").is_err());
        assert!(check_mariadb_gtid_list("0-1-x'; DROP").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,80}") {
            let _ = MySqlGtidSet::parse(&s);
            let _ = check_mariadb_gtid_list(&s);
        }
    }
}
