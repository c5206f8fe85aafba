//! One Canal connection's socket: reads whole packets, writes packets.
//! Used by the server and by the client ([`super::client`]).
//!
//! It only knows frames and the `Packet` envelope; what a packet means is
//! the business of `cmd/`.

use std::net::SocketAddr;

use bytes::BytesMut;
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

use super::frame::{self, FrameError};
use super::packet;
use crate::proto::canal as c;

/// Why a connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("{peer}: {source}")]
    Frame {
        peer: SocketAddr,
        #[source]
        source: FrameError,
    },
    #[error("{peer}: frame of {len} bytes is not a valid Canal Packet: {source}")]
    BadPacket {
        peer: SocketAddr,
        len: usize,
        #[source]
        source: prost::DecodeError,
    },
    #[error("{peer}: connection closed in the middle of a frame ({buffered} bytes buffered)")]
    ClosedMidFrame { peer: SocketAddr, buffered: usize },
    #[error("{peer}: i/o error: {source}")]
    Io {
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A socket with its read buffer.
pub struct Connection {
    stream: BufWriter<TcpStream>,
    buf: BytesMut,
    peer: SocketAddr,
    max_frame: usize,
}

impl Connection {
    /// Wraps a connected socket; frames longer than `max_frame` are refused.
    pub fn new(stream: TcpStream, max_frame: usize) -> std::io::Result<Self> {
        let peer = stream.peer_addr()?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream: BufWriter::with_capacity(64 * 1024, stream),
            buf: BytesMut::with_capacity(8 * 1024),
            peer,
            max_frame,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The next packet, or `None` when the peer closed cleanly between
    /// packets.
    pub async fn read_packet(&mut self) -> Result<Option<c::Packet>, ConnError> {
        loop {
            let parsed =
                frame::parse(&mut self.buf, self.max_frame).map_err(|source| ConnError::Frame {
                    peer: self.peer,
                    source,
                })?;
            if let Some(payload) = parsed {
                let packet =
                    c::Packet::decode(payload.clone()).map_err(|source| ConnError::BadPacket {
                        peer: self.peer,
                        len: payload.len(),
                        source,
                    })?;
                return Ok(Some(packet));
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| ConnError::Io {
                    peer: self.peer,
                    source,
                })?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(ConnError::ClosedMidFrame {
                    peer: self.peer,
                    buffered: self.buf.len(),
                });
            }
        }
    }

    /// Writes one packet of `kind` with `body` and flushes it.
    pub async fn write_packet(
        &mut self,
        kind: c::PacketType,
        body: &[u8],
    ) -> Result<(), ConnError> {
        self.write_packet_parts(kind, &[body]).await
    }

    /// Writes one packet whose body is the concatenation of `parts`.
    pub async fn write_packet_parts(
        &mut self,
        kind: c::PacketType,
        parts: &[&[u8]],
    ) -> Result<(), ConnError> {
        let body_len: usize = parts.iter().map(|p| p.len()).sum();
        let prefix = packet::packet_prefix(kind, body_len);
        let len = prefix.len() + body_len;
        let header = frame::header(len).map_err(|source| ConnError::Frame {
            peer: self.peer,
            source,
        })?;
        let io = |source| ConnError::Io {
            peer: self.peer,
            source,
        };
        self.stream.write_all(&header).await.map_err(io)?;
        self.stream.write_all(&prefix).await.map_err(io)?;
        for part in parts {
            self.stream.write_all(part).await.map_err(io)?;
        }
        self.stream.flush().await.map_err(io)
    }

    /// Writes raw bytes as they are (tests of malformed input).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        let io = |source| ConnError::Io {
            peer: self.peer,
            source,
        };
        self.stream.write_all(bytes).await.map_err(io)?;
        self.stream.flush().await.map_err(io)
    }

    /// Writes an error `Ack`.
    pub async fn write_error(&mut self, code: i32, message: &str) -> Result<(), ConnError> {
        self.write_packet(c::PacketType::Ack, &packet::ack_body(code, message))
            .await
    }
}
