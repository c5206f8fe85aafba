//! Packet framing of the MySQL client/server protocol, over any tokio
//! stream (plain TCP or TLS).
//!
//! Format of one wire packet:
//! ```text
//! +-----------------+--------+---------------------------+
//! | length: int<3>  | seq: 1 | payload: `length` bytes   |
//! +-----------------+--------+---------------------------+
//! ```
//! A payload of 2^24-1 (0xFFFFFF) bytes or more is sent as several packets:
//! every packet but the last carries exactly 0xFFFFFF bytes, and a payload
//! whose length is a multiple of 0xFFFFFF ends with an empty packet. The
//! sequence id starts at 0 with each command and increases by one (mod 256)
//! with every packet in either direction; a mismatch means the stream is out
//! of step and is reported as malformed.
//!
//! Reads are bounded: a joined payload larger than the configured maximum is
//! refused before it is buffered, and every wait for bytes can carry a
//! timeout (the heartbeat watchdog of the binlog stream). Received bytes are
//! parsed from an owned buffer; an incomplete packet is a normal outcome
//! that asks for another read.

use super::error::{Result, SourceError};
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest payload of a single wire packet.
pub const MAX_CHUNK: usize = 0xFF_FFFF;

/// Default bound on a joined payload: 1 GiB (the largest
/// `max_allowed_packet`) plus room for an event header.
pub const DEFAULT_MAX_PAYLOAD: usize = (1 << 30) + (1 << 16);

/// Append the wire packets carrying `payload` to `out`, starting at
/// sequence id `*seq` and leaving `*seq` at the next id.
pub fn frame(payload: &[u8], seq: &mut u8, out: &mut Vec<u8>) {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_CHUNK);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(*seq);
        *seq = seq.wrapping_add(1);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if n < MAX_CHUNK {
            return;
        }
    }
}

/// Bytes asked of the socket per read when the buffer runs dry.
const READ_CHUNK: usize = 64 * 1024;

/// Reads and writes whole packets on a stream.
///
/// Reads go into an owned buffer (`read_buf` is cancel-safe) from which
/// packets are carved without copying, so many small packets cost one
/// read and one timer between them; a read is only awaited (under the
/// timeout) when the buffer holds no complete packet.
pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    seq: u8,
    addr: String,
    max_payload: usize,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketIo<S> {
    pub fn new(stream: S, addr: String) -> Self {
        PacketIo {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            seq: 0,
            addr,
            max_payload: DEFAULT_MAX_PAYLOAD,
            out: Vec::new(),
        }
    }

    pub fn with_max_payload(mut self, max: usize) -> Self {
        self.max_payload = max;
        self
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The next sequence id this side will send or expect.
    pub fn seq(&self) -> u8 {
        self.seq
    }

    pub fn set_seq(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// Start a new command: the sequence id goes back to 0.
    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    /// Bytes received but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// The stream, for a TLS upgrade. Bytes already buffered would be lost,
    /// so there must be none (the server waits for us at that point).
    pub fn into_inner(self) -> S {
        self.stream
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Send one payload (split as needed) and flush.
    pub async fn write_packet(&mut self, payload: &[u8]) -> Result<()> {
        self.out.clear();
        frame(payload, &mut self.seq, &mut self.out);
        let io = |source| SourceError::Io {
            addr: self.addr.clone(),
            context: "sending a packet",
            source,
        };
        self.stream.write_all(&self.out).await.map_err(io)?;
        self.stream
            .flush()
            .await
            .map_err(|source| SourceError::Io {
                addr: self.addr.clone(),
                context: "sending a packet",
                source,
            })?;
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Whether the next packet (its first chunk) is already wholly in
    /// the read buffer, so reading it needs no wait on the socket.
    pub fn packet_buffered(&self) -> bool {
        match self.rbuf[..] {
            [a, b, c, _, ..] => self.rbuf.len() >= 4 + u32::from_le_bytes([a, b, c, 0]) as usize,
            _ => false,
        }
    }

    /// Read one joined payload. `timeout` bounds each wait for more bytes,
    /// so a silent peer is noticed even in the middle of a packet.
    pub async fn read_packet(
        &mut self,
        timeout: Option<Duration>,
        context: &'static str,
    ) -> Result<Bytes> {
        // Chunks of a payload of 16 MB or more, joined at the end.
        let mut joined: Option<BytesMut> = None;
        loop {
            if let Some(len) =
                self.complete_chunk(joined.as_ref().map_or(0, |j| j.len()), context)?
            {
                let _header = self.rbuf.split_to(4);
                let chunk = self.rbuf.split_to(len);
                self.seq = self.seq.wrapping_add(1);
                match (&mut joined, len < MAX_CHUNK) {
                    (None, true) => return Ok(chunk.freeze()),
                    (None, false) => joined = Some(chunk),
                    (Some(j), last) => {
                        j.extend_from_slice(&chunk);
                        if last {
                            return Ok(joined.take().unwrap_or_default().freeze());
                        }
                    }
                }
                continue;
            }
            self.fill(timeout, context).await?;
        }
    }

    /// The length of the next chunk if it is wholly buffered; checks its
    /// sequence id and the payload limit as soon as the header is in.
    fn complete_chunk(&mut self, joined: usize, context: &'static str) -> Result<Option<usize>> {
        let [a, b, c, seq, ..] = self.rbuf[..] else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([a, b, c, 0]) as usize;
        if seq != self.seq {
            return Err(SourceError::malformed(
                &self.addr,
                format!(
                    "packet sequence id {seq} where {} was expected (while {context})",
                    self.seq
                ),
            ));
        }
        let total = joined + len;
        if total > self.max_payload {
            return Err(SourceError::malformed(
                &self.addr,
                format!(
                    "packet payload of more than {total} bytes exceeds the limit of {} bytes (while {context})",
                    self.max_payload
                ),
            ));
        }
        if self.rbuf.len() >= 4 + len {
            Ok(Some(len))
        } else {
            self.rbuf.reserve(4 + len - self.rbuf.len());
            Ok(None)
        }
    }

    /// Read more bytes into the buffer (at least one), under the timeout.
    async fn fill(&mut self, timeout: Option<Duration>, context: &'static str) -> Result<()> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        let read = self.stream.read_buf(&mut self.rbuf);
        let result = match timeout {
            Some(after) => match tokio::time::timeout(after, read).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(SourceError::Timeout {
                        addr: self.addr.clone(),
                        context,
                        after,
                    })
                }
            },
            None => read.await,
        };
        match result {
            Ok(0) => Err(SourceError::Closed {
                addr: self.addr.clone(),
                context,
            }),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(SourceError::Closed {
                addr: self.addr.clone(),
                context,
            }),
            Err(source) => Err(SourceError::Io {
                addr: self.addr.clone(),
                context,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// A duplex pipe pre-loaded with `bytes` from the "server" side.
    fn read_all(bytes: Vec<u8>, max: usize) -> Vec<Result<Bytes>> {
        rt().block_on(async move {
            let (client, mut server) = tokio::io::duplex(1 << 16);
            let writer = tokio::spawn(async move {
                let _ = server.write_all(&bytes).await;
                drop(server);
            });
            let mut io = PacketIo::new(client, "test:1".into()).with_max_payload(max);
            let mut out = Vec::new();
            loop {
                let r = io.read_packet(None, "testing").await;
                let stop = r.is_err();
                out.push(r);
                if stop {
                    break;
                }
            }
            writer.await.unwrap();
            out
        })
    }

    #[test]
    fn frames_split_at_16mb_and_join_back() {
        for len in [0, 1, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 2 * MAX_CHUNK] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut seq = 7;
            let mut wire = Vec::new();
            frame(&payload, &mut seq, &mut wire);
            let packets = len / MAX_CHUNK + 1;
            assert_eq!(wire.len(), len + 4 * packets, "len {len}");
            assert_eq!(seq, 7 + packets as u8);
            let got = rt().block_on(async {
                let mut io = PacketIo::new(tokio_test_stream(wire), "t:1".into());
                io.set_seq(7);
                io.read_packet(None, "t").await
            });
            assert_eq!(got.unwrap().as_ref(), &payload[..], "len {len}");
        }
    }

    fn tokio_test_stream(bytes: Vec<u8>) -> tokio::io::DuplexStream {
        let (a, mut b) = tokio::io::duplex(bytes.len().max(1) + 16);
        // The buffer holds everything, so this completes at once.
        futures::executor::block_on(async move {
            b.write_all(&bytes).await.unwrap();
            // Keep the write side alive long enough: dropping closes after data.
            drop(b);
        });
        a
    }

    #[test]
    fn tells_whether_the_next_packet_is_buffered() {
        let mut wire = Vec::new();
        let mut seq = 0;
        frame(&[1, 2, 3], &mut seq, &mut wire);
        frame(&[4, 5], &mut seq, &mut wire);
        rt().block_on(async {
            let mut io = PacketIo::new(tokio_test_stream(wire), "t:1".into());
            assert!(!io.packet_buffered());
            assert_eq!(io.read_packet(None, "t").await.unwrap().as_ref(), [1, 2, 3]);
            assert!(io.packet_buffered());
            assert_eq!(io.read_packet(None, "t").await.unwrap().as_ref(), [4, 5]);
            assert!(!io.packet_buffered());
        });
    }

    #[test]
    fn wrong_sequence_and_truncation_are_clear_errors() {
        let r = read_all(vec![1, 0, 0, 5, 0xAA], 1024);
        let e = r[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("sequence id 5 where 0 was expected"), "{e}");
        assert!(e.contains("test:1"), "{e}");
        let r = read_all(vec![9, 0, 0, 0, 1, 2], 1024);
        assert!(
            matches!(r[0], Err(SourceError::Closed { .. })),
            "{:?}",
            r[0]
        );
        let r = read_all(vec![0xFF, 0xFF, 0x0F, 0], 1000);
        let e = r[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("exceeds the limit"), "{e}");
    }

    #[test]
    fn read_timeout_is_a_retryable_dead_connection() {
        let e = rt().block_on(async {
            let (client, _server) = tokio::io::duplex(64);
            let mut io = PacketIo::new(client, "t:1".into());
            io.read_packet(Some(Duration::from_millis(20)), "waiting")
                .await
                .unwrap_err()
        });
        assert!(matches!(e, SourceError::Timeout { .. }));
        assert!(e.is_retryable());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let results = read_all(bytes, 200);
            prop_assert!(results.last().is_some_and(|r| r.is_err()));
        }

        #[test]
        fn packets_split_across_reads_join_back(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6),
            cuts in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut seq = 0u8;
            let mut wire = Vec::new();
            for p in &payloads { frame(p, &mut seq, &mut wire); }
            let count = payloads.len();
            let got = rt().block_on(async move {
                // A pipe smaller than most packets, fed in random pieces.
                let (client, mut server) = tokio::io::duplex(64);
                let writer = tokio::spawn(async move {
                    let mut rest = &wire[..];
                    let mut i = 0;
                    while !rest.is_empty() {
                        let n = cuts[i % cuts.len()].min(rest.len());
                        server.write_all(&rest[..n]).await.unwrap();
                        rest = &rest[n..];
                        i += 1;
                        tokio::task::yield_now().await;
                    }
                });
                let mut io = PacketIo::new(client, "t:1".into());
                let mut got = Vec::new();
                for _ in 0..count {
                    got.push(io.read_packet(None, "t").await.unwrap().to_vec());
                }
                writer.await.unwrap();
                got
            });
            prop_assert_eq!(got, payloads);
        }

        #[test]
        fn frame_then_read_is_identity(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..5)) {
            let mut seq = 0u8;
            let mut wire = Vec::new();
            for p in &payloads { frame(p, &mut seq, &mut wire); }
            let results = read_all(wire, 1024);
            for (p, r) in payloads.iter().zip(&results) {
                prop_assert_eq!(r.as_ref().unwrap().as_ref(), &p[..]);
            }
            let closed = matches!(results[payloads.len()], Err(SourceError::Closed { .. }));
            prop_assert!(closed);
        }
    }
}
