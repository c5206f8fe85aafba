//! Protobuf messages of the change event, generated from `change.proto`
//! by `build.rs`. A log record's payload is one [`Record`].

include!(concat!(env!("OUT_DIR"), "/sluice.v1.rs"));
