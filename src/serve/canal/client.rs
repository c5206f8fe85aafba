//! A Canal client built from the protocol: what the tests use to drive the
//! server over a real socket, and what `sluice tail` can use. It behaves
//! like Canal's `SimpleCanalConnector` (handshake, scrambled password,
//! subscribe, getWithoutAck, ack, rollback).

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message as _;
use tokio::net::TcpStream;

use super::auth::scramble_hex;
use super::connection::{ConnError, Connection};
use crate::proto::canal as c;

/// Frames the client accepts: batches can be large.
const CLIENT_MAX_FRAME: usize = 1 << 30;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error {code}: {message}")]
    Server { code: i32, message: String },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("server closed the connection")]
    Closed,
}

/// One batch: its id (-1 when empty) and its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub batch_id: i64,
    pub entries: Vec<c::Entry>,
}

/// A connected, authenticated client.
pub struct CanalClient {
    conn: Connection,
    destination: String,
    client_id: String,
}

impl CanalClient {
    /// Connects and authenticates (an empty password sends none).
    pub async fn connect(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let mut conn = Connection::new(stream, CLIENT_MAX_FRAME)
            .map_err(|source| ClientError::Connect { addr, source })?;
        let hello = conn.read_packet().await?.ok_or(ClientError::Closed)?;
        if hello.r#type != c::PacketType::Handshake as i32 || hello.version != Some(1) {
            return Err(ClientError::Protocol(format!(
                "expected a version 1 HANDSHAKE, got type {} version {:?}",
                hello.r#type, hello.version
            )));
        }
        let handshake = c::Handshake::decode(&hello.body[..])
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let password = if password.is_empty() {
            Vec::new()
        } else {
            scramble_hex(password, &handshake.seeds).into_bytes()
        };
        let auth = c::ClientAuth {
            username: user.to_string(),
            password,
            net_read_timeout: Some(3_600_000),
            net_write_timeout: Some(3_600_000),
            ..Default::default()
        };
        let mut client = CanalClient {
            conn,
            destination: String::new(),
            client_id: String::new(),
        };
        client
            .request_ack(c::PacketType::Clientauthentication, &auth.encode_to_vec())
            .await?;
        Ok(client)
    }

    /// Subscribes `client_id` (the consumer group) to `destination`.
    pub async fn subscribe(
        &mut self,
        destination: &str,
        client_id: &str,
        filter: &str,
    ) -> Result<(), ClientError> {
        let sub = c::Sub {
            destination: destination.into(),
            client_id: client_id.into(),
            filter: filter.into(),
        };
        self.request_ack(c::PacketType::Subscription, &sub.encode_to_vec())
            .await?;
        self.destination = destination.into();
        self.client_id = client_id.into();
        Ok(())
    }

    pub async fn unsubscribe(&mut self) -> Result<(), ClientError> {
        let unsub = c::Unsub {
            destination: self.destination.clone(),
            client_id: self.client_id.clone(),
            filter: String::new(),
        };
        self.request_ack(c::PacketType::Unsubscription, &unsub.encode_to_vec())
            .await
    }

    /// `getWithoutAck`: `timeout` `None` returns at once.
    pub async fn get_without_ack(
        &mut self,
        batch_size: i32,
        timeout: Option<Duration>,
    ) -> Result<Message, ClientError> {
        let get = c::Get {
            destination: self.destination.clone(),
            client_id: self.client_id.clone(),
            fetch_size: batch_size,
            timeout: Some(timeout.map_or(-1, |t| t.as_millis().min(i64::MAX as u128) as i64)),
            unit: Some(2),
            auto_ack: Some(false),
        };
        self.conn
            .write_packet(c::PacketType::Get, &get.encode_to_vec())
            .await?;
        let reply = self.conn.read_packet().await?.ok_or(ClientError::Closed)?;
        match c::PacketType::try_from(reply.r#type) {
            Ok(c::PacketType::Messages) => {
                let msgs = c::Messages::decode(&reply.body[..])
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                let entries = msgs
                    .messages
                    .iter()
                    .map(|m| c::Entry::decode(&m[..]))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ClientError::Protocol(format!("bad entry: {e}")))?;
                Ok(Message {
                    batch_id: msgs.batch_id,
                    entries,
                })
            }
            Ok(c::PacketType::Ack) => Err(ack_error(&reply.body).unwrap_or(ClientError::Protocol(
                "ACK without error in reply to GET".into(),
            ))),
            _ => Err(ClientError::Protocol(format!(
                "unexpected packet type {}",
                reply.r#type
            ))),
        }
    }

    /// Acks a batch (no reply, as in Canal).
    pub async fn ack(&mut self, batch_id: i64) -> Result<(), ClientError> {
        let ack = c::ClientAck {
            destination: self.destination.clone(),
            client_id: self.client_id.clone(),
            batch_id,
        };
        self.conn
            .write_packet(c::PacketType::Clientack, &ack.encode_to_vec())
            .await?;
        Ok(())
    }

    /// Rolls back one batch, or all with 0 (no reply, as in Canal).
    pub async fn rollback(&mut self, batch_id: i64) -> Result<(), ClientError> {
        let rb = c::ClientRollback {
            destination: self.destination.clone(),
            client_id: self.client_id.clone(),
            batch_id,
        };
        self.conn
            .write_packet(c::PacketType::Clientrollback, &rb.encode_to_vec())
            .await?;
        Ok(())
    }

    /// The underlying connection, for tests that send odd bytes.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    async fn request_ack(&mut self, kind: c::PacketType, body: &[u8]) -> Result<(), ClientError> {
        self.conn.write_packet(kind, body).await?;
        let reply = self.conn.read_packet().await?.ok_or(ClientError::Closed)?;
        if reply.r#type != c::PacketType::Ack as i32 {
            return Err(ClientError::Protocol(format!(
                "expected ACK, got packet type {}",
                reply.r#type
            )));
        }
        match ack_error(&reply.body) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The error an ACK body carries, if any.
fn ack_error(body: &[u8]) -> Option<ClientError> {
    match c::Ack::decode(body) {
        Ok(ack) if ack.error_code.unwrap_or(0) > 0 => Some(ClientError::Server {
            code: ack.error_code.unwrap_or(0),
            message: ack.error_message,
        }),
        Ok(_) => None,
        Err(e) => Some(ClientError::Protocol(format!("bad ACK body: {e}"))),
    }
}
