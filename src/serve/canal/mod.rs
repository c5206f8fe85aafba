//! Canal's TCP protocol, so that Canal's client libraries (Java, Go,
//! Python) read sluice's log unchanged.
//!
//! Shaped like mini-redis: [`frame`] cuts bytes into frames, [`connection`]
//! owns a socket and reads/writes packets, [`cmd`] holds one module per
//! request, [`server`] accepts connections. [`entry`] and [`value`] turn
//! sluice's change events into Canal's entries; [`client`] is a client
//! built from the protocol. The log is read through
//! [`crate::serve::destination::Destination`].
//!
//! Unlike Canal, any number of client ids (consumer groups) read one
//! destination independently, each with its own durable offset.

pub mod auth;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod entry;
pub mod filter;
pub mod frame;
pub mod packet;
pub mod server;
pub mod session;
pub mod value;

pub use crate::serve::destination::{
    Destination, DestinationError, Destinations, LogRecord, MemoryDestination, ResetPolicy,
};
pub use auth::Credentials;
pub use client::{CanalClient, ClientError, Message};
pub use config::{CanalArgs, CanalConfig, CanalToml};
pub use filter::Filter;
pub use server::CanalServer;
pub use value::TimeZone;
