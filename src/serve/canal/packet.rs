//! Building the packets the server sends.
//!
//! A `Packet` (canal_protocol.proto) is written as its small header fields
//! (`magic_number` 17, `version` 1, `type`, `compression` NONE — always
//! present, since Java clients check `version == 1`) followed by `body`
//! (field 5) appended without copying it into a `Packet` struct first:
//!
//! ```text
//! 08 11 | 10 01 | 18 <type> | 20 01 | 2a <varint len> <body>
//! ```
//!
//! A `Messages` body is built the same way, entry by entry:
//! `08 <varint batch_id> (12 <varint len> <Entry>)*`.

use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message as _;

use crate::proto::canal as c;

/// Canal's `Packet.magic_number`.
pub const MAGIC: i32 = 17;
/// Canal's `Packet.version`.
pub const VERSION: i32 = 1;

/// Canal's error codes: 400 for most errors, 401 for a request without
/// destination or client id, 402 for an ack of batch 0.
pub const ERR_GENERAL: i32 = 400;
pub const ERR_IDENTITY: i32 = 401;
pub const ERR_BATCH_ZERO: i32 = 402;

/// The encoded `Packet` fields before `body`, and the body's key/length.
pub fn packet_prefix(kind: c::PacketType, body_len: usize) -> Vec<u8> {
    let head = c::Packet {
        magic_number: Some(MAGIC),
        version: Some(VERSION),
        r#type: kind as i32,
        compression: Some(c::Compression::None as i32),
        body: Vec::new(),
    };
    let mut out = Vec::with_capacity(16);
    // Encoding into a Vec cannot fail.
    let _ = head.encode(&mut out);
    encode_key(5, WireType::LengthDelimited, &mut out);
    encode_varint(body_len as u64, &mut out);
    out
}

/// A whole packet (without the frame's length prefix).
pub fn packet(kind: c::PacketType, body: &[u8]) -> Vec<u8> {
    let mut out = packet_prefix(kind, body.len());
    out.extend_from_slice(body);
    out
}

/// An `Ack` body: code 0 is success.
pub fn ack_body(code: i32, message: &str) -> Vec<u8> {
    c::Ack {
        error_code: Some(code),
        error_message: message.to_string(),
    }
    .encode_to_vec()
}

/// The `Handshake` body the server opens with.
pub fn handshake_body(seed: &[u8]) -> Vec<u8> {
    c::Handshake {
        communication_encoding: Some("utf8".into()),
        seeds: seed.to_vec(),
        supported_compressions: c::Compression::None as i32,
    }
    .encode_to_vec()
}

/// A `Messages` body under construction: the entries are encoded as they
/// come; the batch id is known (and written in front) only at the end.
#[derive(Debug, Default)]
pub struct MessagesBody {
    buf: Vec<u8>,
    entries: usize,
}

impl MessagesBody {
    pub fn new() -> Self {
        MessagesBody {
            buf: Vec::with_capacity(4096),
            entries: 0,
        }
    }

    /// Appends one entry.
    pub fn push(&mut self, entry: &c::Entry) {
        encode_key(2, WireType::LengthDelimited, &mut self.buf);
        encode_varint(entry.encoded_len() as u64, &mut self.buf);
        // Encoding into a Vec cannot fail.
        let _ = entry.encode(&mut self.buf);
        self.entries += 1;
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// A point to [`truncate`](Self::truncate) back to.
    pub fn mark(&self) -> (usize, usize) {
        (self.buf.len(), self.entries)
    }

    /// Drops the entries pushed since `mark`.
    pub fn truncate(&mut self, mark: (usize, usize)) {
        self.buf.truncate(mark.0);
        self.entries = mark.1;
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The body as two parts to write one after the other: the `batch_id`
    /// field, then the entries.
    pub fn finish(self, batch_id: i64) -> [Vec<u8>; 2] {
        let mut head = Vec::with_capacity(11);
        encode_key(1, WireType::Varint, &mut head);
        encode_varint(batch_id as u64, &mut head);
        [head, self.buf]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_decode_with_canal_fields() {
        let bytes = packet(c::PacketType::Ack, &ack_body(0, ""));
        let p = c::Packet::decode(&bytes[..]).unwrap();
        assert_eq!(p.magic_number, Some(17));
        assert_eq!(p.version, Some(1));
        assert_eq!(p.compression, Some(c::Compression::None as i32));
        assert_eq!(p.r#type, c::PacketType::Ack as i32);
        assert_eq!(c::Ack::decode(&p.body[..]).unwrap().error_code, Some(0));
    }

    #[test]
    fn messages_body_round_trips() {
        let mut m = MessagesBody::new();
        let e = c::Entry {
            entry_type: Some(c::EntryType::Rowdata as i32),
            store_value: vec![1, 2, 3],
            ..Default::default()
        };
        m.push(&e);
        m.push(&e);
        let body = m.finish(-1).concat();
        let msgs = c::Messages::decode(&body[..]).unwrap();
        assert_eq!(msgs.batch_id, -1);
        assert_eq!(msgs.messages.len(), 2);
        assert_eq!(c::Entry::decode(&msgs.messages[1][..]).unwrap(), e);
        let empty = MessagesBody::new().finish(9).concat();
        assert_eq!(c::Messages::decode(&empty[..]).unwrap().batch_id, 9);
    }
}
