//! A generic GTID set: for each stream id (opaque bytes — a 16-byte server
//! UUID for MySQL, an encoded domain id for MariaDB) a sorted list of
//! disjoint, non-adjacent, inclusive intervals of u64 sequence numbers.
//!
//! The log keeps one per record (its contribution), per segment (the set
//! before and after it, like MySQL's `Previous_gtids`) and per sparse index
//! entry, so "the first record not contained in S" is found by pruning.
//!
//! Format (little endian), used inside records, footers and index files:
//!
//! ```text
//! u32 stream_count
//! stream_count × { u16 id_len | id_len bytes id | u32 n | n × { u64 first | u64 last } }
//! ```
//!
//! Streams are in ascending byte order of their id; intervals ascending,
//! `first <= last`, and separated by at least one missing number.

use std::fmt;

use crate::codec::{put_u16, put_u32, put_u64, Cursor, Short};

/// One stream's id and its intervals.
type Stream = (Vec<u8>, Vec<(u64, u64)>);

/// A set of (stream id, sequence number) pairs, stored as intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GtidSet {
    /// Sorted by stream id. A vector, not a map: sets hold one to a few
    /// streams, and one is encoded, merged and dropped per appended record.
    streams: Vec<Stream>,
}

impl GtidSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding the single number `seq` of `stream`.
    pub fn single(stream: &[u8], seq: u64) -> Self {
        let mut s = Self::new();
        s.insert(stream, seq);
        s
    }

    /// True when no stream holds any number.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Adds one sequence number.
    pub fn insert(&mut self, stream: &[u8], seq: u64) {
        self.insert_range(stream, seq, seq);
    }

    /// Adds the inclusive interval `first..=last` (nothing if `first > last`).
    pub fn insert_range(&mut self, stream: &[u8], first: u64, last: u64) {
        if first > last {
            return;
        }
        // Look up by slice first: allocating the key for every insert
        // would dominate the append path.
        let i = match self.find(stream) {
            Ok(i) => i,
            Err(i) => {
                self.streams.insert(i, (stream.to_vec(), Vec::new()));
                i
            }
        };
        let ivs = &mut self.streams[i].1;
        // Fast path: appending at or just after the end (the common case).
        if let Some(tail) = ivs.last_mut() {
            if first >= tail.0 && first <= tail.1.saturating_add(1) {
                tail.1 = tail.1.max(last);
                return;
            }
            if first > tail.1 {
                ivs.push((first, last));
                return;
            }
        } else {
            ivs.push((first, last));
            return;
        }
        ivs.push((first, last));
        normalize(ivs);
    }

    /// Index of `stream` in `streams`, or where it would go.
    fn find(&self, stream: &[u8]) -> Result<usize, usize> {
        self.streams
            .binary_search_by(|(id, _)| id.as_slice().cmp(stream))
    }

    fn intervals(&self, stream: &[u8]) -> Option<&[(u64, u64)]> {
        self.find(stream).ok().map(|i| self.streams[i].1.as_slice())
    }

    /// Adds every number of `other`.
    pub fn union_with(&mut self, other: &GtidSet) {
        for (id, ivs) in &other.streams {
            for &(a, b) in ivs {
                self.insert_range(id, a, b);
            }
        }
    }

    /// Adds every number of an encoded set (see the module docs) without
    /// decoding it into a set first. Returns false (adding nothing past the
    /// fault) if the encoding is malformed.
    pub(crate) fn union_encoded(&mut self, bytes: &[u8]) -> bool {
        let mut c = Cursor::new(bytes);
        let mut run = || -> Result<(), Short> {
            let n = c.u32("gtid stream count")?;
            for _ in 0..n {
                let len = c.u16("gtid stream id length")? as usize;
                let id = c.bytes(len, "gtid stream id")?;
                let count = c.u32("gtid interval count")?;
                for _ in 0..count {
                    let a = c.u64("gtid interval start")?;
                    let b = c.u64("gtid interval end")?;
                    self.insert_range(id, a, b);
                }
            }
            Ok(())
        };
        run().is_ok()
    }

    /// Whether `seq` of `stream` is in the set.
    pub fn contains(&self, stream: &[u8], seq: u64) -> bool {
        let Some(ivs) = self.intervals(stream) else {
            return false;
        };
        let i = ivs.partition_point(|&(_, last)| last < seq);
        ivs.get(i).is_some_and(|&(first, _)| first <= seq)
    }

    /// Whether every number of `self` is in `other` (the empty set is a
    /// subset of every set).
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.streams.iter().all(|(id, ivs)| {
            let Some(theirs) = other.intervals(id) else {
                return false;
            };
            ivs.iter().all(|&(a, b)| {
                let i = theirs.partition_point(|&(_, last)| last < a);
                theirs.get(i).is_some_and(|&(f, l)| f <= a && b <= l)
            })
        })
    }

    /// The streams and their intervals, in ascending stream order.
    pub fn streams(&self) -> impl Iterator<Item = (&[u8], &[(u64, u64)])> {
        self.streams
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Appends the binary encoding (see the module docs) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.streams.len() as u32);
        for (id, ivs) in &self.streams {
            put_u16(out, id.len() as u16);
            out.extend_from_slice(id);
            put_u32(out, ivs.len() as u32);
            for &(a, b) in ivs {
                put_u64(out, a);
                put_u64(out, b);
            }
        }
    }

    /// The encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        4 + self
            .streams
            .iter()
            .map(|(id, ivs)| 2 + id.len() + 4 + 16 * ivs.len())
            .sum::<usize>()
    }

    /// Decodes a set, checking every ordering rule of the format.
    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<GtidSet, Short> {
        let n = c.u32("gtid stream count")?;
        let mut set = GtidSet::new();
        let mut prev: Option<Vec<u8>> = None;
        for _ in 0..n {
            let len = c.u16("gtid stream id length")? as usize;
            if len > u16::MAX as usize {
                return c.fail("gtid stream id too long");
            }
            let id = c.bytes(len, "gtid stream id")?.to_vec();
            if prev.as_ref().is_some_and(|p| *p >= id) {
                return c.fail("gtid streams out of order");
            }
            let count = c.u32("gtid interval count")? as usize;
            if count == 0 || count > c.remaining() / 16 {
                return c.fail(format!("gtid interval count {count} impossible"));
            }
            let mut ivs = Vec::with_capacity(count);
            let mut last_end: Option<u64> = None;
            for _ in 0..count {
                let a = c.u64("gtid interval start")?;
                let b = c.u64("gtid interval end")?;
                if a > b || last_end.is_some_and(|e| e == u64::MAX || a <= e + 1) {
                    return c.fail("gtid intervals out of order or overlapping");
                }
                last_end = Some(b);
                ivs.push((a, b));
            }
            prev = Some(id.clone());
            set.streams.push((id, ivs));
        }
        Ok(set)
    }

    /// Checks an encoding without building the set (the read path checks
    /// every record's set; allocating for each would cost).
    pub(crate) fn validate(c: &mut Cursor<'_>) -> Result<(), Short> {
        let n = c.u32("gtid stream count")?;
        let mut prev: Option<&[u8]> = None;
        for _ in 0..n {
            let len = c.u16("gtid stream id length")? as usize;
            let id = c.bytes(len, "gtid stream id")?;
            if prev.is_some_and(|p| p >= id) {
                return c.fail("gtid streams out of order");
            }
            prev = Some(id);
            let count = c.u32("gtid interval count")? as usize;
            if count == 0 || count > c.remaining() / 16 {
                return c.fail(format!("gtid interval count {count} impossible"));
            }
            let mut last_end: Option<u64> = None;
            for _ in 0..count {
                let a = c.u64("gtid interval start")?;
                let b = c.u64("gtid interval end")?;
                if a > b || last_end.is_some_and(|e| e == u64::MAX || a <= e + 1) {
                    return c.fail("gtid intervals out of order or overlapping");
                }
                last_end = Some(b);
            }
        }
        Ok(())
    }

    /// Decodes a set from exactly `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<GtidSet, String> {
        let mut c = Cursor::new(bytes);
        let s = GtidSet::decode(&mut c).map_err(|e| e.to_string())?;
        if c.remaining() != 0 {
            return Err(format!("{} trailing bytes after gtid set", c.remaining()));
        }
        Ok(s)
    }

    /// Parses the text form written by `Display`: `HEX:1-5:7,HEX:3`, where
    /// `HEX` is the stream id in hexadecimal (dashes ignored, so a MySQL
    /// UUID `3e11fa47-71ca-11e1-9e33-c80aa9429562` works). Empty text is the
    /// empty set.
    pub fn parse(text: &str) -> Result<GtidSet, String> {
        let mut set = GtidSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let id_txt = fields.next().unwrap_or_default();
            let id = parse_hex(id_txt).ok_or_else(|| format!("bad stream id {id_txt:?}"))?;
            let mut any = false;
            for iv in fields {
                any = true;
                let (a, b) = match iv.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (iv, iv),
                };
                let a: u64 = a.trim().parse().map_err(|_| format!("bad number {a:?}"))?;
                let b: u64 = b.trim().parse().map_err(|_| format!("bad number {b:?}"))?;
                if a > b {
                    return Err(format!("interval {iv:?} is reversed"));
                }
                set.insert_range(&id, a, b);
            }
            if !any {
                return Err(format!("stream {id_txt:?} has no interval"));
            }
        }
        Ok(set)
    }
}

fn normalize(ivs: &mut Vec<(u64, u64)>) {
    ivs.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ivs.len());
    for &(a, b) in ivs.iter() {
        match out.last_mut() {
            Some(t) if a <= t.1.saturating_add(1) => t.1 = t.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *ivs = out;
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    if digits.is_empty() || digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (id, ivs)) in self.streams.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for b in id {
                write!(f, "{b:02x}")?;
            }
            for &(a, b) in ivs {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn insert_merges_and_contains() {
        let mut s = GtidSet::new();
        s.insert(b"a", 5);
        s.insert(b"a", 3);
        s.insert(b"a", 4);
        s.insert(b"a", 9);
        assert_eq!(s.to_string(), "61:3-5:9");
        assert!(s.contains(b"a", 4));
        assert!(!s.contains(b"a", 6));
        assert!(!s.contains(b"b", 4));
        assert!(GtidSet::single(b"a", 9).is_subset(&s));
        assert!(!GtidSet::single(b"a", 8).is_subset(&s));
        assert!(GtidSet::new().is_subset(&s));
    }

    #[test]
    fn parse_round_trips_display() {
        let s = GtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7, 0001:3").unwrap();
        let again = GtidSet::parse(&s.to_string()).unwrap();
        assert_eq!(s, again);
        assert!(GtidSet::parse("zz:1").is_err());
        assert!(GtidSet::parse("00:5-1").is_err());
        assert!(GtidSet::parse("00").is_err());
    }

    proptest! {
        #[test]
        fn encode_decode_and_model(ops in proptest::collection::vec((0u8..3, 0u64..60, 0u64..4), 0..40)) {
            let mut s = GtidSet::new();
            let mut model = std::collections::BTreeSet::new();
            for (id, a, len) in ops {
                s.insert_range(&[id], a, a + len);
                for x in a..=a + len { model.insert((id, x)); }
            }
            for id in 0u8..3 { for x in 0u64..70 {
                prop_assert_eq!(s.contains(&[id], x), model.contains(&(id, x)));
            }}
            let mut buf = Vec::new();
            s.encode(&mut buf);
            prop_assert_eq!(buf.len(), s.encoded_len());
            prop_assert_eq!(GtidSet::from_bytes(&buf).unwrap(), s.clone());
            let mut u = GtidSet::new();
            prop_assert!(u.union_encoded(&buf));
            prop_assert_eq!(u, s);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let decoded = GtidSet::from_bytes(&bytes);
            let mut c = Cursor::new(&bytes);
            let valid = GtidSet::validate(&mut c).is_ok() && c.remaining() == 0;
            prop_assert_eq!(decoded.is_ok(), valid);
        }
    }
}
