//! Segment files: naming, the file header, the footer of a sealed segment,
//! and reading batches out of a mapped segment.
//!
//! A segment is `{base_offset:020}.log`. Byte layout (little endian):
//!
//! ```text
//! segment header (at byte 0)
//!   0  8 bytes  magic "SLCSEG01"
//!   8  u64      base_offset
//!  16  u8       1 if the log had a record before this segment, else 0
//!  17  i64      that record's commit time (ms)      \ zero when
//!  25  u32      that record's source file number     | byte 16 is 0;
//!  29  u64      that record's source position       / its offset is base_offset - 1
//!  37  u32      gtid_len
//!  41  gtid_len bytes: the log's GTID set before this segment
//!  ..  u32      CRC-32 of bytes 0..41+gtid_len
//! batches (from data_start = 45 + gtid_len), see `batch.rs`
//! zeros up to the end of the preallocated file while the segment is active
//!
//! footer (sealed segments only, at data_end, right after the last batch)
//!   0  u32  magic "SLFT"
//!   4  u32  version (1)
//!   8  u64  base_offset
//!  16  u64  next_offset (last offset + 1)
//!  24  u64  data_start
//!  32  u64  data_end (where this footer starts)
//!  40  u64  batch_count
//!  48  i64  min commit time (ms)        \  meaningless when
//!  56  i64  max commit time (ms)         | next_offset == base_offset
//!  64  u32  first record's source file   |
//!  68  u64  first record's source pos    |
//!  76  u32  max source file              |
//!  80  u64  max source pos              /
//!  88  i64  sealed_at_ms (wall clock when sealed; retention by age)
//!  96  gtid set before the segment, then gtid set after it (see gtid.rs)
//!  ..  u32  CRC-32 of every footer byte before it
//!
//! trailer (sealed segments only, the last 24 bytes of the file)
//!   0  8 bytes  magic "SLCTRAIL"
//!   8  u64      footer position
//!  16  u32      footer length (including its CRC)
//!  20  u32      CRC-32 of trailer bytes 0..20
//! ```
//!
//! Between the footer and the trailer the file holds zeros (a hole in a
//! sparse file): sealing never shrinks a file (see `os.rs`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::batch::{self, BatchHeader, HeaderProblem, HEADER_LEN};
use crate::codec::{crc, put_i64, put_u32, put_u64, Cursor, Short};
use crate::gtid::GtidSet;
use crate::record::{RecordKeys, SourcePos};
use crate::StorageError;

pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"SLCSEG01";
pub(crate) const FOOTER_MAGIC: u32 = u32::from_le_bytes(*b"SLFT");
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"SLCTRAIL";
pub(crate) const TRAILER_LEN: u64 = 24;

/// File name of the segment with this base offset.
pub(crate) fn segment_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// File name of the index of the segment with this base offset.
pub(crate) fn index_name(base: u64) -> String {
    format!("{base:020}.index")
}

/// Parses a segment file name back into its base offset.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A decoded segment header.
pub(crate) struct SegHeader {
    pub base: u64,
    pub gtid_before: GtidSet,
    /// The last record before the segment (kept so that the resume point
    /// survives retention deleting every record).
    pub prev: Option<RecordKeys>,
    pub data_start: u64,
}

/// Encodes the segment header.
pub(crate) fn encode_header(
    base: u64,
    gtid_before: &GtidSet,
    prev: Option<&RecordKeys>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(45 + gtid_before.encoded_len());
    out.extend_from_slice(SEGMENT_MAGIC);
    put_u64(&mut out, base);
    out.push(prev.is_some() as u8);
    let p = prev.cloned().unwrap_or_default();
    put_i64(&mut out, p.commit_time_ms);
    put_u32(&mut out, p.position.file_no);
    put_u64(&mut out, p.position.pos);
    put_u32(&mut out, gtid_before.encoded_len() as u32);
    gtid_before.encode(&mut out);
    let c = crc(&out);
    put_u32(&mut out, c);
    out
}

/// Parses and checks the segment header.
pub(crate) fn parse_header(buf: &[u8]) -> Result<SegHeader, Short> {
    let mut c = Cursor::new(buf);
    let magic = c.array::<8>("segment magic")?;
    if &magic != SEGMENT_MAGIC {
        return c.fail("bad segment magic");
    }
    let base = c.u64("base offset")?;
    let has_prev = c.u8("previous-record flag")?;
    let time = c.i64("previous record time")?;
    let file_no = c.u32("previous record file")?;
    let pos = c.u64("previous record position")?;
    if has_prev > 1 || (has_prev == 1 && base == 0) {
        return c.fail("bad previous-record flag");
    }
    let glen = c.u32("gtid length")? as usize;
    let gbytes = c.bytes(glen, "gtid set")?;
    let end = c.pos();
    let stored = c.u32("header checksum")?;
    let computed = crc(buf.get(..end).unwrap_or_default());
    if stored != computed {
        return c.fail(format!(
            "segment header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let gtid_before = GtidSet::from_bytes(gbytes).map_err(|what| Short { at: 41, what })?;
    let prev = (has_prev == 1).then(|| RecordKeys {
        offset: base - 1,
        commit_time_ms: time,
        position: SourcePos::new(file_no, pos),
    });
    Ok(SegHeader {
        base,
        gtid_before,
        prev,
        data_start: c.pos() as u64,
    })
}

/// What a segment holds, from its footer (sealed) or from a scan (active).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment file.
    pub path: PathBuf,
    /// Offset of its first record.
    pub base_offset: u64,
    /// One past its last record (`== base_offset` when empty).
    pub next_offset: u64,
    /// Where the first batch starts in the file.
    pub data_start: u64,
    /// Where the last batch ends.
    pub data_end: u64,
    /// Number of batches.
    pub batch_count: u64,
    /// Smallest and largest commit time (ms), if any record.
    pub time_range: Option<(i64, i64)>,
    /// The first record's source position, if any record.
    pub first_position: Option<SourcePos>,
    /// The largest source position, if any record.
    pub max_position: Option<SourcePos>,
    /// The log's GTID set before this segment.
    pub gtid_before: GtidSet,
    /// The log's GTID set after this segment.
    pub gtid_after: GtidSet,
    /// Wall-clock time of sealing (ms), for sealed segments.
    pub sealed_at_ms: Option<i64>,
}

impl SegmentInfo {
    /// Number of records.
    pub fn records(&self) -> u64 {
        self.next_offset - self.base_offset
    }

    /// Bytes of batches.
    pub fn data_bytes(&self) -> u64 {
        self.data_end - self.data_start
    }

    /// Whether the segment has a valid footer.
    pub fn sealed(&self) -> bool {
        self.sealed_at_ms.is_some()
    }

    /// An empty segment's info.
    pub(crate) fn empty(path: PathBuf, base: u64, data_start: u64, gtid: GtidSet) -> Self {
        SegmentInfo {
            path,
            base_offset: base,
            next_offset: base,
            data_start,
            data_end: data_start,
            batch_count: 0,
            time_range: None,
            first_position: None,
            max_position: None,
            gtid_after: gtid.clone(),
            gtid_before: gtid,
            sealed_at_ms: None,
        }
    }

    /// Accounts for one record appended at the end.
    pub(crate) fn add_record(&mut self, time: i64, pos: SourcePos, gtid: Option<&GtidSet>) {
        self.next_offset += 1;
        self.time_range = Some(match self.time_range {
            None => (time, time),
            Some((a, b)) => (a.min(time), b.max(time)),
        });
        if self.first_position.is_none() {
            self.first_position = Some(pos);
        }
        self.max_position = Some(self.max_position.map_or(pos, |m| m.max(pos)));
        if let Some(g) = gtid {
            self.gtid_after.union_with(g);
        }
    }
}

/// Encodes the footer (with its CRC) for a segment.
pub(crate) fn encode_footer(info: &SegmentInfo, sealed_at_ms: i64) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(104 + info.gtid_before.encoded_len() + info.gtid_after.encoded_len());
    put_u32(&mut out, FOOTER_MAGIC);
    put_u32(&mut out, 1);
    put_u64(&mut out, info.base_offset);
    put_u64(&mut out, info.next_offset);
    put_u64(&mut out, info.data_start);
    put_u64(&mut out, info.data_end);
    put_u64(&mut out, info.batch_count);
    let (tmin, tmax) = info.time_range.unwrap_or((0, 0));
    put_i64(&mut out, tmin);
    put_i64(&mut out, tmax);
    let first = info.first_position.unwrap_or_default();
    put_u32(&mut out, first.file_no);
    put_u64(&mut out, first.pos);
    let max = info.max_position.unwrap_or_default();
    put_u32(&mut out, max.file_no);
    put_u64(&mut out, max.pos);
    put_i64(&mut out, sealed_at_ms);
    info.gtid_before.encode(&mut out);
    info.gtid_after.encode(&mut out);
    let c = crc(&out);
    put_u32(&mut out, c);
    out
}

/// Encodes the trailer pointing at a footer.
pub(crate) fn encode_trailer(footer_pos: u64, footer_len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(TRAILER_LEN as usize);
    out.extend_from_slice(TRAILER_MAGIC);
    put_u64(&mut out, footer_pos);
    put_u32(&mut out, footer_len);
    let c = crc(&out);
    put_u32(&mut out, c);
    out
}

/// Reads the footer of a sealed segment through its trailer. `Ok(None)`
/// means the file has no valid trailer (not sealed); `Err` means a trailer
/// that checks out points at a footer that does not.
pub(crate) fn read_footer(map: &[u8], path: &Path) -> Result<Option<SegmentInfo>, StorageError> {
    let len = map.len() as u64;
    if len < TRAILER_LEN {
        return Ok(None);
    }
    let t = &map[(len - TRAILER_LEN) as usize..];
    let mut c = Cursor::new(t);
    let ok = (|| -> Result<Option<(u64, u32)>, Short> {
        let magic = c.array::<8>("trailer magic")?;
        let fpos = c.u64("footer position")?;
        let flen = c.u32("footer length")?;
        let stored = c.u32("trailer checksum")?;
        if &magic != TRAILER_MAGIC || stored != crc(&t[..20]) {
            return Ok(None);
        }
        Ok(Some((fpos, flen)))
    })();
    let Ok(Some((fpos, flen))) = ok else {
        return Ok(None);
    };
    let corrupt = |what: String| StorageError::corrupt(path, fpos, what);
    let end = fpos
        .checked_add(flen as u64)
        .filter(|&e| e <= len - TRAILER_LEN && flen >= 4)
        .ok_or_else(|| {
            corrupt(format!(
                "trailer points at footer {fpos}+{flen} outside the file"
            ))
        })?;
    let f = &map[fpos as usize..end as usize];
    let body = &f[..f.len() - 4];
    let stored = u32::from_le_bytes([
        f[f.len() - 4],
        f[f.len() - 3],
        f[f.len() - 2],
        f[f.len() - 1],
    ]);
    if crc(body) != stored {
        return Err(corrupt("footer checksum mismatch".into()));
    }
    let info = parse_footer_body(body, path).map_err(|e| corrupt(e.to_string()))?;
    if info.data_end != fpos {
        return Err(corrupt(format!(
            "footer says data ends at {}, but it sits at {fpos}",
            info.data_end
        )));
    }
    Ok(Some(info))
}

fn parse_footer_body(body: &[u8], path: &Path) -> Result<SegmentInfo, Short> {
    let mut c = Cursor::new(body);
    if c.u32("footer magic")? != FOOTER_MAGIC {
        return c.fail("bad footer magic");
    }
    let version = c.u32("footer version")?;
    if version != 1 {
        return c.fail(format!("unknown footer version {version}"));
    }
    let base_offset = c.u64("base offset")?;
    let next_offset = c.u64("next offset")?;
    let data_start = c.u64("data start")?;
    let data_end = c.u64("data end")?;
    let batch_count = c.u64("batch count")?;
    let tmin = c.i64("min time")?;
    let tmax = c.i64("max time")?;
    let first = SourcePos::new(c.u32("first file")?, c.u64("first pos")?);
    let max = SourcePos::new(c.u32("max file")?, c.u64("max pos")?);
    let sealed_at = c.i64("sealed at")?;
    let gtid_before = GtidSet::decode(&mut c)?;
    let gtid_after = GtidSet::decode(&mut c)?;
    if c.remaining() != 0 {
        return c.fail("trailing bytes in footer");
    }
    if next_offset < base_offset || data_end < data_start {
        return c.fail("footer ranges reversed");
    }
    let any = next_offset > base_offset;
    Ok(SegmentInfo {
        path: path.to_path_buf(),
        base_offset,
        next_offset,
        data_start,
        data_end,
        batch_count,
        time_range: any.then_some((tmin, tmax)),
        first_position: any.then_some(first),
        max_position: any.then_some(max),
        gtid_before,
        gtid_after,
        sealed_at_ms: Some(sealed_at),
    })
}

/// One batch read out of a mapped segment.
pub(crate) struct ReadBatch {
    pub header: BatchHeader,
    /// The raw (checked, decompressed) body.
    pub raw: Bytes,
}

/// What is at a byte position of a mapped segment.
pub(crate) enum At {
    /// A good batch.
    Batch(ReadBatch),
    /// Zeros (or the end of the mapped bytes): nothing written here.
    End,
    /// Bytes that are not a good batch.
    Bad(String),
}

/// Reads the batch at `pos`, not reading past `limit`. Checks the header
/// checksum, the body checksum and the record structure.
pub(crate) fn batch_at(map: &Bytes, pos: u64, limit: u64) -> At {
    let limit = limit.min(map.len() as u64);
    if pos >= limit {
        return At::End;
    }
    let avail = &map[pos as usize..limit as usize];
    let header = match batch::parse_header(avail) {
        Ok(h) => h,
        Err(HeaderProblem::End) => return At::End,
        Err(HeaderProblem::Bad(what)) => return At::Bad(what),
    };
    let end = pos + header.total_len();
    if end > limit {
        return At::Bad(format!(
            "batch of {} bytes runs past the end of data ({limit})",
            header.total_len()
        ));
    }
    let stored = map.slice((pos as usize + HEADER_LEN)..end as usize);
    let raw = match batch::open_body(&header, stored) {
        Ok(r) => r,
        Err(what) => return At::Bad(what),
    };
    if let Err(e) = batch::walk(&raw, header.record_count, |_, _, _| {}) {
        return At::Bad(format!("batch body: {e}"));
    }
    At::Batch(ReadBatch { header, raw })
}

/// Writes all of `buf` at `pos` of `file`.
pub(crate) fn write_at(file: &File, path: &Path, pos: u64, buf: &[u8]) -> Result<(), StorageError> {
    file.write_all_at(buf, pos)
        .map_err(|e| StorageError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn footer_roundtrip() {
        let mut info = SegmentInfo::empty(PathBuf::from("x.log"), 10, 50, GtidSet::single(b"a", 1));
        info.add_record(5, SourcePos::new(1, 2), Some(&GtidSet::single(b"a", 2)));
        info.data_end = 300;
        info.batch_count = 1;
        let footer = encode_footer(&info, 77);
        let mut file = vec![0u8; 1000];
        file[300..300 + footer.len()].copy_from_slice(&footer);
        let t = encode_trailer(300, footer.len() as u32);
        file[1000 - 24..].copy_from_slice(&t);
        let got = read_footer(&file, Path::new("x.log")).unwrap().unwrap();
        info.sealed_at_ms = Some(77);
        assert_eq!(got, info);
    }

    proptest! {
        #[test]
        fn garbage_headers_footers_indexes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            tail in proptest::collection::vec(any::<u8>(), 24),
            pos in 0u64..400,
        ) {
            let _ = parse_header(&bytes);
            let _ = crate::index::Index::decode(&bytes, 0, Path::new("x"));
            // A trailer (valid or not) pointing anywhere into garbage.
            let mut file = bytes.clone();
            let mut t = encode_trailer(pos, tail[0] as u32 * 3);
            if tail[1] & 1 == 1 { t = tail.clone(); }
            file.extend_from_slice(&t);
            let _ = read_footer(&file, Path::new("x"));
        }
    }
}
