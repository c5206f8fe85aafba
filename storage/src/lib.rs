//! `sluice-storage`: a durable, memory-mapped segment log.
//!
//! The log stores opaque payloads with a few keys (commit time, source
//! position, GTID contribution) in segment files, indexes them sparsely,
//! keeps consumer-group offsets, applies retention and recovers from
//! crashes. It knows nothing of MySQL, protobuf or tokio.
//!
//! ```no_run
//! use std::time::Duration;
//! use sluice_storage::{GtidSet, Log, LogConfig, NewRecord, ResetPolicy, SourcePos};
//!
//! # fn main() -> Result<(), sluice_storage::StorageError> {
//! let log = Log::open("/var/lib/sluice/log".as_ref(), LogConfig::default())?;
//! let offsets = log.append(&[NewRecord {
//!     payload: b"...",
//!     commit_time_ms: 1_700_000_000_000,
//!     position: SourcePos::new(3, 4711),
//!     gtid: GtidSet::single(&[0x3e; 16], 42),
//! }])?;
//! log.flush()?;
//!
//! let groups = log.groups();
//! let g = groups.get_or_create("search-index", ResetPolicy::Earliest)?;
//! let mut reader = log.read_from(groups.resume_offset(&g.name)?)?;
//! while let Some(rec) = reader.next_wait(Duration::from_secs(1))? {
//!     // ... use rec.payload() ...
//!     groups.commit(&g.name, rec.offset + 1)?;
//! }
//! # let _ = offsets; Ok(()) }
//! ```
//!
//! The on-disk format is described byte by byte in `docs/log-format.md`
//! and in the docs of the modules that encode it (`batch`, `segment`,
//! `index`, `gtid`, `groups`, `log`).

mod batch;
mod codec;
mod config;
mod error;
pub mod fault;
mod groups;
mod gtid;
mod index;
mod live;
pub mod locate;
mod log;
mod lookup;
mod os;
mod reader;
mod record;
mod recovery;
pub mod report;
mod retention;
mod segment;
pub mod verify;
mod writer;

pub use batch::{BatchHeader, Compression, MAX_BATCH_BYTES};
pub use config::{FsyncPolicy, LogConfig};
pub use error::{is_disk_full, Result, StorageError};
pub use groups::{GroupInfo, Groups, Lag, Lost, ResetPolicy};
pub use gtid::GtidSet;
pub use index::IndexEntry;
pub use locate::FoundLog;
pub use log::{LastRecord, Log};
pub use lookup::Location;
pub use reader::Reader;
pub use record::{NewRecord, Record, RecordKeys, SourcePos};
pub use retention::RetentionReport;
pub use segment::SegmentInfo;
