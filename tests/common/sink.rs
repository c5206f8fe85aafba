//! Helpers of the sink tests: records into a log, and waiting for a sink's
//! group to commit.

#![allow(dead_code)]

use prost::Message as _;
use sluice::proto::Record;
use sluice_storage::{GtidSet, Log, NewRecord, SourcePos};
use std::time::{Duration, Instant};

/// Appends `record` as one log record at binlog position `1:position`.
pub fn append_record(log: &Log, record: &Record, position: u64) {
    let payload = record.encode_to_vec();
    log.append(&[NewRecord {
        payload: &payload,
        commit_time_ms: record.commit_time_ms,
        position: SourcePos::new(1, position),
        gtid: GtidSet::new(),
    }])
    .unwrap();
}

/// Waits (up to a minute) until the sink's group `sink-NAME` committed
/// `offset` or beyond.
pub async fn wait_committed(log: &Log, sink: &str, offset: u64) {
    let group = format!("sink-{sink}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = log
            .groups()
            .get(&group)
            .unwrap()
            .map(|g| g.offset)
            .unwrap_or(0);
        if at >= offset {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sink {sink} stuck at offset {at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
