//! Parsers of individual event bodies, one module per family. Each reads
//! through the bounds-checked [`Reader`](crate::wire::Reader).

pub mod compressed;
pub mod gtid;
pub mod mariadb;
pub mod misc;
pub mod query;
