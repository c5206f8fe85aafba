//! Capture: source → decode → filter → schema → log, with transactions
//! kept whole and resume from the log's tail.
//!
//! - [`capture`]: one source's loop (connect, dump, decode, append).
//! - `appender`: staged records into the log, behind the loop.
//! - [`failover`]: connects a streaming session and decides how to resume
//!   on the server reached (by position, or by GTID on another server).
//! - [`origin`]: which server the log's newest records came from.
//! - `reader`: a session's read-and-decode task, feeding the capture loop.
//! - [`resume`]: the resume point, read from the log's last record.
//! - [`schema_log`]: where the schema records are, to rebuild the history.
//! - [`server_end`]: polls the server's binlog end for the lag in bytes.
//! - `spill`: the rows of a large open transaction, encoded ahead.
//! - [`split`]: very large transactions into parts.
//! - `staging`: decoded transactions into encoded parts ready to append.
//! - [`status`]: what a capture is doing, for `/status` and the progress line.

mod appender;
pub mod capture;
pub mod failover;
pub mod origin;
mod reader;
pub mod resume;
pub mod schema_log;
pub mod server_end;
mod spill;
pub mod split;
mod staging;
pub mod status;

pub use capture::{run, CaptureError, CaptureOptions};
pub use status::{CaptureStatus, ConnectionState, StatusHandle};

/// The log folder of source `name` under the data folder.
pub fn log_dir(data: &std::path::Path, name: &str) -> std::path::PathBuf {
    sluice_storage::locate::source_log_dir(data, name)
}
