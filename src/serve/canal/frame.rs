//! Framing of Canal's TCP protocol: pulling whole frames out of the bytes a
//! socket delivered.
//!
//! Format of one frame, in both directions:
//!
//! ```text
//! | length: u32, big-endian | payload: `length` bytes (a protobuf Packet) |
//! ```
//!
//! Canal's Java client reads the length as a signed `int`; sluice caps it
//! at a configured maximum (see [`DEFAULT_MAX_FRAME`]) so that a garbage or
//! hostile length (2 GB, or a "negative" one) is an error, not an
//! allocation. An incomplete frame is a normal outcome ("read more"), not
//! an error.

use bytes::{Buf, Bytes, BytesMut};

/// Largest frame a client may send by default. Client packets are small
/// (a Sub with a filter is the largest); 1 MiB leaves room.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Size of the length prefix.
pub const HEADER_LEN: usize = 4;

/// A frame that can never become valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {length} exceeds the limit of {max} bytes (length prefix bytes {prefix:02x?})")]
    TooLarge {
        length: u64,
        max: usize,
        prefix: [u8; 4],
    },
}

/// Takes one whole frame's payload off the front of `buf`, or returns
/// `Ok(None)` when more bytes are needed.
pub fn parse(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(prefix) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let prefix: [u8; 4] = [prefix[0], prefix[1], prefix[2], prefix[3]];
    let length = u32::from_be_bytes(prefix);
    if length as u64 > max as u64 {
        return Err(FrameError::TooLarge {
            length: length as u64,
            max,
            prefix,
        });
    }
    let length = length as usize;
    if buf.len() < HEADER_LEN + length {
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    Ok(Some(buf.split_to(length).freeze()))
}

/// The 4-byte prefix of a frame whose payload is `len` bytes.
pub fn header(len: usize) -> Result<[u8; 4], FrameError> {
    u32::try_from(len)
        .ok()
        .filter(|l| *l <= i32::MAX as u32)
        .map(u32::to_be_bytes)
        .ok_or(FrameError::TooLarge {
            length: len as u64,
            max: i32::MAX as usize,
            prefix: [0xff; 4],
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incomplete_then_complete() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(parse(&mut buf, 100), Ok(None));
        buf.extend_from_slice(&[3, b'a', b'b']);
        assert_eq!(parse(&mut buf, 100), Ok(None));
        buf.extend_from_slice(b"cZ");
        assert_eq!(parse(&mut buf, 100), Ok(Some(Bytes::from_static(b"abc"))));
        assert_eq!(&buf[..], b"Z");
    }

    #[test]
    fn two_gigabyte_length_is_refused_at_once() {
        let mut buf = BytesMut::from(&[0x80u8, 0, 0, 0][..]);
        let err = parse(&mut buf, DEFAULT_MAX_FRAME).unwrap_err();
        assert!(err.to_string().contains("2147483648"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..40) {
            let mut buf = BytesMut::from(&data[..]);
            let mut total = 0;
            while let Ok(Some(frame)) = parse(&mut buf, max) {
                total += HEADER_LEN + frame.len();
                prop_assert!(frame.len() <= max);
            }
            prop_assert!(total <= data.len());
        }

        #[test]
        fn frames_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..8)) {
            let mut buf = BytesMut::new();
            for p in &payloads {
                buf.extend_from_slice(&header(p.len()).unwrap());
                buf.extend_from_slice(p);
            }
            for p in &payloads {
                let got = parse(&mut buf, 64).unwrap().unwrap();
                prop_assert_eq!(&got[..], &p[..]);
            }
            prop_assert!(buf.is_empty());
        }
    }
}
