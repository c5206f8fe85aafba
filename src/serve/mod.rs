//! Serving consumers: Canal's TCP protocol ([`canal`]), over the logs as
//! [`destination`]s (the storage adapter is [`storage`]).

pub mod canal;
pub mod destination;
pub mod storage;
