//! Sinks: each one a consumer group over a source's log that delivers
//! change events to another system and commits its offset only after the
//! target acknowledged them. A slow or failed sink never slows capture; a
//! restarted one resumes at its committed offset (and the target's
//! deduplication or idempotence absorbs the redelivered tail).
//!
//! - [`runner`]: the loop shared by every sink (read, filter, deliver,
//!   commit, retry with backoff, metrics).
//! - [`nats`]: NATS JetStream, a subject per table, `Nats-Msg-Id` dedup.
//! - [`mysql`]: the MySQL mirror, transactions applied idempotently.
//! - [`message`]: a record cut into per-table messages in a format.
//! - [`supervisor`]: keeps a sink's failure to itself (retry, `failed`
//!   state, restart on request) and reports its state for `/status`.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod message;
pub mod mysql;
pub mod mysql_literal;
pub mod mysql_skip;
pub mod nats;
pub mod runner;
pub mod supervisor;

pub use runner::{run, Sink, SinkError, SinkOptions};
pub use supervisor::{SinkHandle, SinkReport, SinkState, Sinks};
