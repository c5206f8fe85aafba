//! Binlog decoding: bytes of binlog events in, change events
//! ([`crate::proto::Record`]) out. Shared by live capture and by the
//! offline `sluice decode` command.
//!
//! - [`error`]: what can go wrong, with where.
//! - [`table_map`]: TABLE_MAP events, the column types and metadata that
//!   row events need.
//! - [`rows`]: WRITE/UPDATE/DELETE rows events into typed values.

pub mod error;
pub mod rows;
pub mod table_map;

pub use error::DecodeError;
