//! MariaDB's compressed event parts (QUERY_COMPRESSED 165 and the
//! compressed rows events 166–171, `log_bin_compress=ON`).
//!
//! A compressed part is:
//!
//! ```text
//! 0   header   u8    0x80 | (algorithm << 4) | n ; algorithm 0 = zlib, n = 1..=4
//! 1   length   n bytes, big-endian: the uncompressed length
//! 1+n data     a zlib stream (RFC 1950)
//! ```
//!
//! The declared length bounds the output (never pre-allocated beyond
//! [`MAX_UNCOMPRESSED`]); a stream that inflates to another length is an
//! error.

use crate::decode::DecodeError;
use crate::wire::Reader;
use std::io::Read;

/// The largest part MariaDB can write (`max_allowed_packet` tops at 1 GiB).
pub const MAX_UNCOMPRESSED: u64 = 1 << 30;

/// Inflate one compressed part. `what` names it in errors.
pub fn mariadb_uncompress(data: &[u8], what: &'static str) -> Result<Vec<u8>, DecodeError> {
    let mut c = Reader::new(data);
    let head = c.u8(what)?;
    if head & 0x80 == 0 {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("compression header {head:#04x} lacks the 0x80 marker"),
        });
    }
    let algorithm = (head >> 4) & 0x07;
    if algorithm != 0 {
        return Err(DecodeError::Unsupported(format!(
            "{what}: compression algorithm {algorithm} (only zlib, 0, exists)"
        )));
    }
    let n = usize::from(head & 0x07);
    if !(1..=4).contains(&n) {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("length field of {n} bytes (1 to 4 allowed)"),
        });
    }
    let len_bytes = c.take(n, what)?;
    let len = len_bytes
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if len > MAX_UNCOMPRESSED {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("uncompressed length {len} exceeds {MAX_UNCOMPRESSED}"),
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
    let mut z = flate2::read::ZlibDecoder::new(c.rest()).take(len + 1);
    z.read_to_end(&mut out).map_err(|e| DecodeError::Invalid {
        what,
        detail: format!("zlib: {e}"),
    })?;
    if out.len() as u64 > len {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("inflates to more than the {len} bytes its header says"),
        });
    }
    if (out.len() as u64) < len {
        return Err(DecodeError::Invalid {
            what,
            detail: format!("inflates to {} bytes, its header says {len}", out.len()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn compress(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        let body = z.finish().unwrap();
        let mut out = vec![0x82, (data.len() >> 8) as u8, data.len() as u8];
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn round_trip_and_length_checks() {
        let text = b"INSERT INTO t VALUES (1),(2),(3)".repeat(20);
        let packed = compress(&text);
        assert_eq!(mariadb_uncompress(&packed, "q").unwrap(), text);
        let mut wrong = packed.clone();
        wrong[2] = wrong[2].wrapping_add(1);
        assert!(mariadb_uncompress(&wrong, "q").is_err());
        assert!(mariadb_uncompress(&[0x02, 0], "q").is_err());
        assert!(mariadb_uncompress(&packed[..6], "q").is_err());
    }
}
