//! Binlog decoding: bytes of binlog events in, change events
//! ([`crate::proto::Record`]) out. Shared by live capture and by the
//! offline `sluice decode` command.
//!
//! - [`error`]: what can go wrong, with where. Every parser reads the
//!   bytes through [`crate::wire::Reader`], the bounds-checked reader the
//!   source's protocol parsers use too.
//! - [`header`], [`event_type`], [`format_description`]: framing.
//! - [`event`]: one event cut out, checksum verified, body parsed.
//! - [`events`]: the body parsers (query, GTIDs, MariaDB events, small ones).
//! - [`payload`]: MySQL 8's compressed TRANSACTION_PAYLOAD.
//! - [`table_map`]: TABLE_MAP events, the column types and metadata that
//!   row events need ([`column_type`], [`charset`], [`type_text`]).
//! - [`rows`]: WRITE/UPDATE/DELETE rows events into typed values
//!   ([`value`], [`decimal`], [`json_binary`], [`json_diff`]).
//! - [`transaction`]: the [`Decoder`], events into committed transactions.
//! - [`reader`], [`file`](mod@file): binlog files, memory-mapped, cut into events.
//! - [`command`]: `sluice decode`.

pub mod charset;
pub mod column_type;
pub mod command;
pub mod decimal;
pub mod error;
pub mod event;
pub mod event_type;
pub mod events;
pub mod file;
pub mod format_description;
pub mod header;
pub mod json_binary;
pub mod json_diff;
pub mod payload;
pub mod reader;
pub mod rows;
pub mod table_map;
pub mod transaction;
pub mod type_text;
pub mod value;

pub use error::DecodeError;
pub use file::{decode_all, decode_file, Decoded, FileSummary, Item};
pub use format_description::{ChecksumAlg, FormatDescription};
pub use reader::BinlogFile;
pub use transaction::{Decoder, GtidState};
