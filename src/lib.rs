//! sluice: change-data-capture from MySQL and MariaDB into a durable
//! segment log. See `ARCHITECTURE.md` for the map of the code.

pub mod decode;
pub mod format;
pub mod proto;
