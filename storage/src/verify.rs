//! Verification and inspection of a log directory, for `sluice-inspect`
//! and tests. Uses the crate's own decoding.
