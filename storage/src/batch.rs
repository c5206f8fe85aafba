//! Record batches: the unit of writing, checksumming and compression.
//!
//! Byte layout (all integers little endian):
//!
//! ```text
//! batch header, 40 bytes
//!   0  u32  magic 0x4243_4C53 (bytes "SLCB")
//!   4  u32  header_crc: CRC-32 of header bytes 8..40
//!   8  u64  base_offset: offset of the first record
//!  16  u32  record_count (>= 1); records have offsets base_offset + i
//!  20  u32  flags: bit 0 = body is zstd-compressed; other bits must be 0
//!  24  u32  stored_len: body bytes that follow the header on disk
//!  28  u32  raw_len: body bytes after decompression (= stored_len if not compressed)
//!  32  u32  body_crc: CRC-32 of the stored_len body bytes as stored
//!  36  u32  reserved, 0
//! body, stored_len bytes (raw body below, zstd frame of it if flag 0)
//!   record_count × record
//! record
//!   0  u32  rec_len: bytes of the record after this field (>= 28)
//!   4  i64  commit_time_ms
//!  12  u32  source file number
//!  16  u64  source position
//!  24  u32  gtid_len
//!  28  gtid_len bytes: the record's GTID contribution (see `gtid.rs`)
//!  ..  payload: the remaining rec_len - 24 - gtid_len bytes
//! ```
//!
//! A header of all zeros marks the end of the written data in a
//! preallocated segment: the magic is never zero, so zeros are never taken
//! for a batch.

use bytes::Bytes;

use crate::codec::{crc, le_u32, le_u64, Cursor, Short};
use crate::record::{check_gtid, NewRecord, Record, SourcePos};
use crate::StorageError;

/// Batch magic ("SLCB" as little-endian bytes).
pub(crate) const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"SLCB");
/// Size of the batch header.
pub(crate) const HEADER_LEN: usize = 40;
/// Flag: body is a zstd frame.
pub(crate) const FLAG_ZSTD: u32 = 1;
/// Largest body (stored or raw) a batch may have.
pub const MAX_BATCH_BYTES: usize = 512 << 20;
/// Fixed part of a record after its length field.
const REC_FIXED: usize = 24;
/// Raw bodies smaller than this are not compressed.
const MIN_COMPRESS: usize = 512;

/// A decoded, header-checked batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Number of records.
    pub record_count: u32,
    /// Flags (bit 0: zstd).
    pub flags: u32,
    /// Body bytes on disk.
    pub stored_len: u32,
    /// Body bytes after decompression.
    pub raw_len: u32,
    /// CRC-32 of the stored body.
    pub body_crc: u32,
}

impl BatchHeader {
    /// Total bytes of the batch on disk (header + body).
    pub fn total_len(&self) -> u64 {
        HEADER_LEN as u64 + self.stored_len as u64
    }

    /// One past the last offset of the batch.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + self.record_count as u64
    }

    /// Whether the body is zstd-compressed.
    pub fn compressed(&self) -> bool {
        self.flags & FLAG_ZSTD != 0
    }
}

/// Why a header could not be read at some position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// All zero (or fewer than 40 bytes, all zero): the end of written data.
    End,
    /// Bytes that are not a valid header.
    Bad(String),
}

/// Parses and checks the header at the start of `buf`.
pub(crate) fn parse_header(buf: &[u8]) -> Result<BatchHeader, HeaderProblem> {
    let Some(h) = buf.get(..HEADER_LEN) else {
        if crate::codec::first_nonzero(buf).is_none() {
            return Err(HeaderProblem::End);
        }
        return Err(HeaderProblem::Bad(format!(
            "truncated batch header ({} of {HEADER_LEN} bytes)",
            buf.len()
        )));
    };
    if crate::codec::first_nonzero(h).is_none() {
        return Err(HeaderProblem::End);
    }
    let field = |at| le_u32(h, at).unwrap_or(0);
    if field(0) != BATCH_MAGIC {
        return Err(HeaderProblem::Bad(format!(
            "bad batch magic {:#010x}",
            field(0)
        )));
    }
    let want = field(4);
    let got = crc(&h[8..HEADER_LEN]);
    if want != got {
        return Err(HeaderProblem::Bad(format!(
            "batch header checksum mismatch (stored {want:#010x}, computed {got:#010x})"
        )));
    }
    let hdr = BatchHeader {
        base_offset: le_u64(h, 8).unwrap_or(0),
        record_count: field(16),
        flags: field(20),
        stored_len: field(24),
        raw_len: field(28),
        body_crc: field(32),
    };
    if hdr.record_count == 0 {
        return Err(HeaderProblem::Bad("batch with zero records".into()));
    }
    if hdr.flags & !FLAG_ZSTD != 0 {
        return Err(HeaderProblem::Bad(format!(
            "unknown batch flags {:#x}",
            hdr.flags
        )));
    }
    if hdr.stored_len as usize > MAX_BATCH_BYTES || hdr.raw_len as usize > MAX_BATCH_BYTES {
        return Err(HeaderProblem::Bad(
            "batch body length over the limit".into(),
        ));
    }
    if !hdr.compressed() && hdr.stored_len != hdr.raw_len {
        return Err(HeaderProblem::Bad(
            "uncompressed batch with stored_len != raw_len".into(),
        ));
    }
    if (hdr.raw_len as u64) < hdr.record_count as u64 * (4 + REC_FIXED as u64) {
        return Err(HeaderProblem::Bad(
            "batch body too short for its record count".into(),
        ));
    }
    Ok(hdr)
}

/// Compression of batch bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Bodies are stored as they are.
    #[default]
    None,
    /// Bodies of 512 bytes or more are zstd-compressed at this level (when
    /// that makes them smaller).
    Zstd(i32),
}

/// zstd's hash log and shortest match at level 1 (see [`BodyCompressor::zstd`]).
const HASH_LOG: u32 = 12;
const MIN_MATCH: u32 = 7;

/// Compresses batch bodies with one zstd context kept across batches:
/// creating a context per batch was a fifth of the CPU time of capturing
/// small transactions (each append a small batch). The output is the same
/// as a fresh context's: every body is a frame of its own.
#[derive(Default)]
pub(crate) struct BodyCompressor {
    zstd: Option<(i32, zstd::bulk::Compressor<'static>)>,
    scratch: Vec<u8>,
}

impl BodyCompressor {
    /// `body` compressed at `level`; `None` if zstd failed.
    fn zstd(&mut self, body: &[u8], level: i32) -> Option<&[u8]> {
        if self.zstd.as_ref().map(|(l, _)| *l) != Some(level) {
            let mut ctx = zstd::bulk::Compressor::new(level).ok()?;
            if level == 1 {
                // Level 1, the default, with a smaller match table that
                // stays in the CPU's cache and longer shortest matches: on
                // batches of small transactions' records, 25–35 % faster
                // than level 1's own settings at the same ratio (measured
                // with `zstd -b1 -B256K` on a log of sysbench records:
                // ×4.34 at 530–580 MB/s against ×4.28 at 400–440 MB/s).
                ctx.set_parameter(zstd::zstd_safe::CParameter::HashLog(HASH_LOG))
                    .ok()?;
                ctx.set_parameter(zstd::zstd_safe::CParameter::MinMatch(MIN_MATCH))
                    .ok()?;
            }
            self.zstd = Some((level, ctx));
        }
        let (_, ctx) = self.zstd.as_mut()?;
        self.scratch.clear();
        self.scratch
            .reserve(zstd::zstd_safe::compress_bound(body.len()));
        ctx.compress_to_buffer(body, &mut self.scratch).ok()?;
        Some(&self.scratch)
    }
}

/// Encodes one batch (header + body) into `out`.
pub(crate) fn encode(
    base_offset: u64,
    records: &[NewRecord<'_>],
    compression: Compression,
    compressor: &mut BodyCompressor,
    out: &mut Vec<u8>,
) -> Result<(), StorageError> {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    let body_at = out.len();
    // One pass: each record's fixed fields are written once its GTID and
    // payload are in place (walking a GTID set twice, for its length and
    // then its bytes, was a visible share of appending small records).
    let payload_bytes: usize = records.iter().map(|r| r.payload.len()).sum();
    out.reserve(payload_bytes.min(MAX_BATCH_BYTES) + records.len() * (4 + REC_FIXED + 64));
    for r in records {
        let at = out.len();
        out.resize(at + 4 + REC_FIXED, 0);
        r.gtid.encode(out);
        let glen = out.len() - at - 4 - REC_FIXED;
        out.extend_from_slice(r.payload);
        let rec_len = out.len() - at - 4;
        if out.len() - body_at > MAX_BATCH_BYTES {
            let size = (out.len() - body_at) as u64;
            out.truncate(start);
            return Err(StorageError::TooLarge {
                what: "batch",
                size,
                max: MAX_BATCH_BYTES as u64,
            });
        }
        let f = &mut out[at..at + 4 + REC_FIXED];
        f[0..4].copy_from_slice(&(rec_len as u32).to_le_bytes());
        f[4..12].copy_from_slice(&r.commit_time_ms.to_le_bytes());
        f[12..16].copy_from_slice(&r.position.file_no.to_le_bytes());
        f[16..24].copy_from_slice(&r.position.pos.to_le_bytes());
        f[24..28].copy_from_slice(&(glen as u32).to_le_bytes());
    }
    let raw_len = out.len() - body_at;
    let mut flags = 0;
    if let Compression::Zstd(level) = compression {
        if raw_len >= MIN_COMPRESS {
            if let Some(z) = compressor.zstd(&out[body_at..], level) {
                if z.len() < raw_len {
                    out.truncate(body_at);
                    out.extend_from_slice(z);
                    flags |= FLAG_ZSTD;
                }
            }
        }
    }
    let stored_len = out.len() - body_at;
    let body_crc = crc(&out[body_at..]);
    let h = &mut out[start..body_at];
    h[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    h[8..16].copy_from_slice(&base_offset.to_le_bytes());
    h[16..20].copy_from_slice(&(records.len() as u32).to_le_bytes());
    h[20..24].copy_from_slice(&flags.to_le_bytes());
    h[24..28].copy_from_slice(&(stored_len as u32).to_le_bytes());
    h[28..32].copy_from_slice(&(raw_len as u32).to_le_bytes());
    h[32..36].copy_from_slice(&body_crc.to_le_bytes());
    let hc = crc(&h[8..HEADER_LEN]);
    h[4..8].copy_from_slice(&hc.to_le_bytes());
    Ok(())
}

thread_local! {
    /// One zstd context per thread, kept: creating one costs more than
    /// decompressing a small OLTP batch (8 % of a mirror's CPU went to
    /// `ZSTD_createDCtx` when each batch made its own).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Checks the body checksum and returns the raw (decompressed) body.
/// `stored` must be exactly the stored body bytes.
pub(crate) fn open_body(h: &BatchHeader, stored: Bytes) -> Result<Bytes, String> {
    if stored.len() != h.stored_len as usize {
        return Err(format!(
            "batch body truncated ({} of {} bytes)",
            stored.len(),
            h.stored_len
        ));
    }
    let got = crc(&stored);
    if got != h.body_crc {
        return Err(format!(
            "batch body checksum mismatch (stored {:#010x}, computed {got:#010x})",
            h.body_crc
        ));
    }
    if !h.compressed() {
        return Ok(stored);
    }
    let raw = DECOMPRESSOR
        .with(|d| {
            let mut d = d.borrow_mut();
            if d.is_none() {
                *d = Some(zstd::bulk::Decompressor::new()?);
            }
            match d.as_mut() {
                Some(d) => d.decompress(&stored, h.raw_len as usize),
                None => Err(std::io::Error::other("no zstd context")),
            }
        })
        .map_err(|e| format!("zstd decompression failed: {e}"))?;
    if raw.len() != h.raw_len as usize {
        return Err(format!(
            "decompressed body is {} bytes, header says {}",
            raw.len(),
            h.raw_len
        ));
    }
    Ok(Bytes::from(raw))
}

/// The keys and spans of one record inside a raw body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawRecord {
    pub commit_time_ms: i64,
    pub position: SourcePos,
    pub gtid: (usize, usize),
    pub payload: (usize, usize),
}

/// Reads the record starting at byte `at` of a raw body; returns it and
/// the position of the next record.
pub(crate) fn record_at(raw: &[u8], at: usize) -> Result<(RawRecord, usize), Short> {
    let mut c = Cursor::new(raw.get(at..).unwrap_or_default());
    let len = c.u32("record length")? as usize;
    if len < REC_FIXED || len > c.remaining() {
        return c.fail(format!("record length {len} impossible"));
    }
    let commit_time_ms = c.i64("commit time")?;
    let file_no = c.u32("source file number")?;
    let pos = c.u64("source position")?;
    let glen = c.u32("gtid length")? as usize;
    if glen > len - REC_FIXED {
        return c.fail(format!("gtid length {glen} exceeds record"));
    }
    let gstart = at + c.pos();
    let pstart = gstart + glen;
    let end = at + 4 + len;
    Ok((
        RawRecord {
            commit_time_ms,
            position: SourcePos::new(file_no, pos),
            gtid: (gstart, pstart),
            payload: (pstart, end),
        },
        end,
    ))
}

/// Walks every record of a raw body, checking the structure (lengths add
/// up to the body, the count matches, GTID encodings are valid).
pub(crate) fn walk(
    raw: &[u8],
    count: u32,
    mut f: impl FnMut(u32, &RawRecord, &[u8]),
) -> Result<(), Short> {
    let mut at = 0;
    for i in 0..count {
        let (r, next) = record_at(raw, at).map_err(|mut e| {
            e.at += at;
            e.what = format!("record {i}: {}", e.what);
            e
        })?;
        let g = &raw[r.gtid.0..r.gtid.1];
        if !check_gtid(g) {
            return Err(Short {
                at,
                what: format!("record {i}: invalid gtid set encoding"),
            });
        }
        f(i, &r, g);
        at = next;
    }
    if at != raw.len() {
        return Err(Short {
            at,
            what: format!("{} bytes after the last record", raw.len() - at),
        });
    }
    Ok(())
}

/// Builds the public record for a raw record of a body held in `raw`.
pub(crate) fn to_record(raw: &Bytes, offset: u64, r: &RawRecord) -> Record {
    Record {
        offset,
        commit_time_ms: r.commit_time_ms,
        position: r.position,
        gtid: raw.slice(r.gtid.0..r.gtid.1),
        payload: raw.slice(r.payload.0..r.payload.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GtidSet;
    use proptest::prelude::*;

    fn sample(n: usize, size: usize) -> Vec<(Vec<u8>, GtidSet)> {
        (0..n)
            .map(|i| (vec![i as u8; size], GtidSet::single(b"src", i as u64 + 1)))
            .collect()
    }

    fn roundtrip(compression: Compression) {
        let data = sample(5, 300);
        let recs: Vec<NewRecord> = data
            .iter()
            .enumerate()
            .map(|(i, (p, g))| NewRecord {
                payload: p,
                commit_time_ms: 1000 + i as i64,
                position: SourcePos::new(1, 100 * i as u64),
                gtid: g.clone(),
            })
            .collect();
        let mut out = Vec::new();
        encode(
            42,
            &recs,
            compression,
            &mut BodyCompressor::default(),
            &mut out,
        )
        .unwrap();
        let h = parse_header(&out).unwrap();
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.record_count, 5);
        assert_eq!(h.total_len() as usize, out.len());
        let raw = open_body(&h, Bytes::copy_from_slice(&out[HEADER_LEN..])).unwrap();
        let mut seen = Vec::new();
        walk(&raw, h.record_count, |i, r, _| seen.push((i, *r))).unwrap();
        assert_eq!(seen.len(), 5);
        for (i, r) in seen {
            let rec = to_record(&raw, 42 + i as u64, &r);
            assert_eq!(rec.payload().as_ref(), &data[i as usize].0[..]);
            assert_eq!(rec.gtid(), data[i as usize].1);
            assert_eq!(rec.commit_time_ms, 1000 + i as i64);
        }
    }

    #[test]
    fn roundtrip_plain_and_zstd() {
        roundtrip(Compression::None);
        roundtrip(Compression::Zstd(3));
    }

    #[test]
    fn a_kept_zstd_context_compresses_as_a_fresh_one() {
        let mut kept = BodyCompressor::default();
        for (i, level) in [1, 1, 3, 1].into_iter().enumerate() {
            let body: Vec<u8> = (0..4000u32).map(|b| (b % (7 + i as u32)) as u8).collect();
            let mut fresh = BodyCompressor::default();
            let fresh = fresh.zstd(&body, level).unwrap().to_vec();
            let z = kept.zstd(&body, level).unwrap();
            assert_eq!(z, &fresh[..], "batch {i} at level {level}");
            assert_eq!(zstd::bulk::decompress(z, body.len()).unwrap(), body);
        }
    }

    #[test]
    fn zeros_are_end_not_data() {
        assert_eq!(parse_header(&[0u8; 100]), Err(HeaderProblem::End));
        assert_eq!(parse_header(&[0u8; 10]), Err(HeaderProblem::End));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(h) = parse_header(&bytes) {
                let body = Bytes::copy_from_slice(bytes.get(HEADER_LEN..).unwrap_or_default());
                if let Ok(raw) = open_body(&h, body) {
                    let _ = walk(&raw, h.record_count, |_, _, _| {});
                }
            }
            let _ = walk(&bytes, 3, |_, _, _| {});
        }
    }
}
