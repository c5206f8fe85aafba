//! Serving consumers: Canal's TCP protocol ([`canal`]) and the HTTP API
//! ([`http`]).

pub mod canal;
pub mod http;
