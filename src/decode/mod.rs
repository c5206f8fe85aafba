//! Binlog decoding: bytes of binlog events in, change events
//! ([`crate::proto::Record`]) out. Shared by live capture and by the
//! offline `sluice decode` command.
//!
//! - [`error`]: what can go wrong, with where.
//! - [`table_map`]: TABLE_MAP events, the column types and metadata that
//!   row events need ([`column_type`], [`charset`], [`type_text`]).
//! - [`rows`]: WRITE/UPDATE/DELETE rows events into typed values
//!   ([`value`], [`decimal`], [`json_binary`], [`json_diff`]).
//! - [`cursor`]: the bounds-checked byte reader every parser uses.

pub mod charset;
pub mod column_type;
pub mod cursor;
pub mod decimal;
pub mod error;
pub mod json_binary;
pub mod json_diff;
pub mod rows;
pub mod table_map;
pub mod type_text;
pub mod value;

pub use error::DecodeError;
