//! sluice: change-data-capture from MySQL and MariaDB into a durable
//! segment log. See `ARCHITECTURE.md` for the map of the code.

pub mod cli;
pub mod config;
pub mod decode;
pub mod filter;
pub mod format;
pub mod gtid;
pub mod log_settings;
pub mod pipeline;
pub mod proto;
pub mod schema;
pub mod serve;
pub mod sink;
pub mod snapshot;
pub mod source;
pub mod wire;
