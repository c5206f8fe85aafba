//! Capture: source → decode → filter → schema → log, with transactions
//! kept whole and resume from the log's tail.

pub mod split;
