//! The state of one client connection: who it authenticated as and, per
//! subscription, where it reads and which batches it has not acked yet.
//!
//! Canal's semantics, per (destination, client id):
//!
//! - a *batch* is a range of log offsets handed out by one `get`; batches
//!   are numbered from 1 per subscription, and later gets continue after
//!   the last batch handed out, acked or not;
//! - `ack(id)` must name the oldest outstanding batch; it commits the end of
//!   that batch as the group's offset, durably, before anything else runs;
//! - `rollback(0)` forgets every outstanding batch, `rollback(id)` that batch
//!   and the ones after it: the next get reads them again;
//! - closing the connection forgets outstanding batches too, so a client that
//!   reconnects gets them again from the committed offset.
//!
//! Two connections using the same client id share the committed offset but
//! not their outstanding batches: each reads on from the offset committed
//! when it subscribed.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::config::CanalConfig;
use super::filter::Filter;
use crate::proto::canal as c;
use crate::serve::destination::{Destination, Destinations};

/// What every connection of a server shares.
pub struct Shared {
    pub config: CanalConfig,
    pub destinations: Destinations,
}

/// A subscription key: destination and client id.
pub type SubKey = (String, String);

/// One connection's state.
pub struct Session {
    pub peer: SocketAddr,
    /// The seed sent in the Handshake, for the password check.
    pub seed: [u8; 8],
    pub user: Option<String>,
    /// How long the connection may stay silent between requests.
    pub idle_timeout: Duration,
    pub subs: HashMap<SubKey, Subscription>,
    /// An error of an ack or rollback (which get no reply), given as the
    /// reply to the next request instead of running it.
    pub pending_error: Option<CmdError>,
}

impl Session {
    pub fn new(peer: SocketAddr, seed: [u8; 8], idle_timeout: Duration) -> Self {
        Session {
            peer,
            seed,
            user: None,
            idle_timeout,
            subs: HashMap::new(),
            pending_error: None,
        }
    }
}

/// A batch handed out and not acked yet: log offsets `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub id: i64,
    pub start: u64,
    pub end: u64,
}

/// One (destination, client id) subscription of a connection.
pub struct Subscription {
    pub destination: Arc<dyn Destination>,
    /// The consumer group: the client id.
    pub group: String,
    pub filter: Filter,
    /// Where the next batch starts.
    pub read_cursor: u64,
    /// The group's committed offset as this session last knew it.
    pub committed: u64,
    pub batches: VecDeque<Batch>,
    pub next_batch_id: i64,
}

impl Subscription {
    pub fn new(
        destination: Arc<dyn Destination>,
        group: String,
        filter: Filter,
        committed: u64,
    ) -> Self {
        Subscription {
            destination,
            group,
            filter,
            read_cursor: committed,
            committed,
            batches: VecDeque::new(),
            next_batch_id: 1,
        }
    }
}

/// A reply packet: its type and body parts (written one after another).
#[derive(Debug)]
pub struct Reply {
    pub kind: c::PacketType,
    pub parts: Vec<Vec<u8>>,
}

impl Reply {
    pub fn ok() -> Self {
        Reply {
            kind: c::PacketType::Ack,
            parts: vec![super::packet::ack_body(0, "")],
        }
    }
}

/// A request that failed: answered with an error `Ack` carrying `code` and
/// `message`; when `fatal`, the connection is closed afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error {code}: {message}")]
pub struct CmdError {
    pub code: i32,
    pub message: String,
    pub fatal: bool,
}

impl CmdError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CmdError {
            code,
            message: message.into(),
            fatal: false,
        }
    }

    pub fn fatal(code: i32, message: impl Into<String>) -> Self {
        CmdError {
            code,
            message: message.into(),
            fatal: true,
        }
    }
}
