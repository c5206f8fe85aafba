//! Serving consumers: Canal's TCP protocol ([`canal`]) and the HTTP API
//! ([`http`]), over the logs as [`destination`]s (the storage adapter is
//! [`storage`]); [`listen`] starts both for `sluice run`.

pub mod canal;
pub mod destination;
pub mod http;
pub mod listen;
pub mod storage;
