//! TRANSACTION_PAYLOAD_EVENT (40, MySQL 8.0.20+ with
//! `binlog_transaction_compression=ON`): a whole transaction's events,
//! compressed together.
//!
//! Body (after the common header, without the checksum):
//!
//! ```text
//! header fields, each: type (length-encoded), length (length-encoded), value
//!     type 1  payload size       (length-encoded integer inside the value)
//!     type 2  compression type   0 = zstd, 255 = none
//!     type 3  uncompressed size
//!     type 0  end of the header (no length, no value)
//! payload   the compressed events: each a full event with its 19-byte
//!           common header and no checksum
//! ```
//!
//! Output is bounded by the declared uncompressed size (and by
//! [`MAX_UNCOMPRESSED`]), never pre-allocated beyond 1 MiB from it.

use super::DecodeError;
use crate::wire::Reader;
use std::io::Read;

/// Larger than any transaction MySQL writes in one payload event
/// (`max_allowed_packet` is at most 1 GiB).
pub const MAX_UNCOMPRESSED: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    None,
}

/// The header of a payload event and its still-compressed data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub compression: Compression,
    pub uncompressed_size: Option<u64>,
    pub data: &'a [u8],
}

impl<'a> Payload<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Payload<'a>, DecodeError> {
        const W: &str = "transaction payload header";
        let mut c = Reader::new(body);
        let mut size = None;
        let mut ctype = 255u64;
        let mut usize_ = None;
        loop {
            let field = c.lenenc(W)?;
            if field == 0 {
                break;
            }
            let len = c.lenenc(W)?;
            let value = c.take_len(len, W)?;
            let v = Reader::new(value).lenenc(W)?;
            match field {
                1 => size = Some(v),
                2 => ctype = v,
                3 => usize_ = Some(v),
                _ => {}
            }
        }
        let data = match size {
            Some(n) => c.take_len(n, "transaction payload data")?,
            None => c.rest(),
        };
        let compression = match ctype {
            0 => Compression::Zstd,
            255 => Compression::None,
            other => {
                return Err(DecodeError::Unsupported(format!(
                    "transaction payload compression type {other} (0 = zstd and 255 = none exist)"
                )))
            }
        };
        Ok(Payload {
            compression,
            uncompressed_size: usize_,
            data,
        })
    }

    /// The inner events' bytes.
    pub fn decompress(&self) -> Result<std::borrow::Cow<'a, [u8]>, DecodeError> {
        match self.compression {
            Compression::None => Ok(std::borrow::Cow::Borrowed(self.data)),
            Compression::Zstd => {
                let limit = self.uncompressed_size.unwrap_or(MAX_UNCOMPRESSED);
                if limit > MAX_UNCOMPRESSED {
                    return Err(DecodeError::Invalid {
                        what: "transaction payload",
                        detail: format!("uncompressed size {limit} exceeds {MAX_UNCOMPRESSED}"),
                    });
                }
                let cap = usize::try_from(limit.min(1 << 20)).unwrap_or(0);
                let mut out = Vec::with_capacity(cap);
                let dec = zstd::stream::read::Decoder::with_buffer(self.data).map_err(|e| {
                    DecodeError::Invalid {
                        what: "transaction payload",
                        detail: format!("zstd: {e}"),
                    }
                })?;
                dec.take(limit + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| DecodeError::Invalid {
                        what: "transaction payload",
                        detail: format!("zstd: {e}"),
                    })?;
                if self
                    .uncompressed_size
                    .is_some_and(|n| out.len() as u64 != n)
                {
                    return Err(DecodeError::Invalid {
                        what: "transaction payload",
                        detail: format!(
                            "decompresses to {}{} bytes, header says {limit}",
                            if out.len() as u64 > limit {
                                "more than "
                            } else {
                                ""
                            },
                            out.len().min(usize::try_from(limit).unwrap_or(usize::MAX))
                        ),
                    });
                }
                Ok(std::borrow::Cow::Owned(out))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(data: &[u8], declared: u64) -> Vec<u8> {
        let z = zstd::encode_all(data, 3).unwrap();
        let mut b = vec![2, 1, 0]; // compression zstd
        b.extend_from_slice(&[3, 1, declared as u8]);
        b.extend_from_slice(&[1, 1, z.len() as u8]);
        b.push(0);
        b.extend_from_slice(&z);
        b
    }

    #[test]
    fn zstd_payload_round_trip_and_size_check() {
        let inner = vec![7u8; 100];
        let body = payload(&inner, 100);
        let p = Payload::parse(&body).unwrap();
        assert_eq!(p.compression, Compression::Zstd);
        assert_eq!(&*p.decompress().unwrap(), &inner[..]);
        let lying = payload(&inner, 50);
        assert!(Payload::parse(&lying).unwrap().decompress().is_err());
        assert!(Payload::parse(&body[..body.len() - 3]).is_err());
    }
}
