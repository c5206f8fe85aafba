//! Serving consumers: Canal's TCP protocol ([`canal`]).

pub mod canal;
