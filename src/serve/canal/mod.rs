//! Canal's TCP protocol, so that Canal's client libraries (Java, Go,
//! Python) read sluice's log unchanged.
//!
//! Shaped like mini-redis: [`frame`] cuts bytes into frames, [`connection`]
//! owns a socket and reads/writes packets, [`cmd`] holds one module per
//! request, [`server`] accepts connections. [`entry`] and [`value`] turn
//! sluice's change events into Canal's entries; [`destination`] is the log
//! as the server sees it; [`client`] is a client built from the protocol.
//!
//! Unlike Canal, any number of client ids (consumer groups) read one
//! destination independently, each with its own durable offset.

pub mod auth;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod destination;
pub mod entry;
pub mod filter;
pub mod frame;
pub mod packet;
pub mod server;
pub mod session;
pub mod value;

pub use auth::Credentials;
pub use client::{CanalClient, ClientError, Message};
pub use config::{CanalArgs, CanalConfig, CanalToml, GroupStart, OutOfRange};
pub use destination::{Destination, DestinationError, Destinations, LogRecord, MemoryDestination};
pub use filter::Filter;
pub use server::CanalServer;
pub use value::TimeZone;
