//! The replica connection: sluice connects to MySQL or MariaDB as a
//! replica over the client/server protocol, on tokio, and streams binlog
//! events as raw bytes for the decoder.
//!
//! Layers, bottom up: [`crate::wire`] (bounds-checked field reads, shared
//! with the decoder), [`packet`]
//! (framing, 16 MB splitting, timeouts), [`handshake`] + [`auth`] +
//! [`scramble`] + [`tls`] (connection phase), [`conn`] (text queries),
//! [`preflight`] (binlog settings checked before streaming), [`dump`]
//! (replication set-up and the event stream), [`start`] (start
//! positions), [`backoff`] (reconnecting), [`failover`] (several hosts:
//! which to use, is it the log's server, does it hold the log's GTIDs). Errors are typed in [`error`]
//! and classified retryable or fatal.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sluice::source::SourceError> {
//! use sluice::source::{Connection, SourceConfig, StartPoint};
//! let config = SourceConfig::from_url("mysql://repl:pw@db:3306?tls=required&ca=/etc/ca.pem")?;
//! let mut conn = Connection::connect(&config).await?;
//! let from = conn.resolve_start(&StartPoint::parse("earliest")?).await?;
//! let mut stream = conn.start_dump(&from).await?;
//! while let Some(event) = stream.next_event().await? {
//!     let _type_code = event.header.type_code;
//! }
//! # Ok(()) }
//! ```

pub mod auth;
pub mod backoff;
pub mod config;
pub mod conn;
pub mod dump;
pub mod error;
pub mod failover;
pub mod gtid;
pub mod handshake;
pub mod packet;
pub mod preflight;
pub mod response;
pub mod scramble;
pub mod start;
pub mod tls;

pub use backoff::{open_stream, open_stream_with_retry, retry, Backoff};
pub use config::{Password, Role, SourceConfig, TlsMode};
pub use conn::{Connection, ResultSet, ServerInfo};
pub use dump::{BinlogFile, BinlogStream, DumpFrom, DumpOptions, StreamEvent};
pub use error::{ErrorClass, SourceError};
pub use handshake::Flavour;
pub use preflight::BinlogSettings;
pub use start::{MasterStatus, StartPoint};
