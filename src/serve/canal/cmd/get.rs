//! GET (`getWithoutAck(batchSize, timeout, unit)`): hand out the next
//! batch of entries.
//!
//! A batch holds whole transactions (all parts of a split one: a batch
//! never ends between them; if the log ends between them, the transaction
//! waits for the next batch),
//! as many as fit in `fetch_size` entries (counting BEGIN and END, as Canal
//! does; 1000 when the client sends 0) and the configured byte limit, and
//! at least one record when there is any.
//!
//! Waiting follows Canal: timeout -1 (or absent) returns at once with what
//! is there, possibly nothing (batch id -1); a positive timeout waits until
//! the batch is full or the time is up; timeout 0 waits until it is full.
//!
//! Records whose changes the filter drops produce no entries. When a get
//! found only such records, they are skipped for good: added to the last
//! outstanding batch (so its ack covers them), or, with none outstanding,
//! committed at once.

use std::time::Duration;

use prost::Message as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{commit, identity, subscription};
use crate::proto::canal as c;
use crate::proto::Record;
use crate::serve::canal::entry::record_entries;
use crate::serve::canal::packet::{MessagesBody, ERR_GENERAL};
use crate::serve::canal::session::{Batch, CmdError, Reply, Session, Shared};

/// Records read from the log per call.
const READ_CHUNK: usize = 256;
/// Payload bytes read from the log per call.
const READ_BYTES: usize = 4 << 20;

/// How long a get may wait for entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Now,
    Until(Instant),
    UntilFull,
}

impl Wait {
    /// From `Get.timeout` and `Get.unit` (Canal's defaults: -1 and ms).
    pub fn from_request(timeout: Option<i64>, unit: Option<i32>) -> Wait {
        let t = timeout.unwrap_or(-1);
        if t < 0 {
            return Wait::Now;
        }
        if t == 0 {
            return Wait::UntilFull;
        }
        let t = t as u64;
        let d = match unit.unwrap_or(2) {
            0 => Duration::from_nanos(t),
            1 => Duration::from_micros(t),
            3 => Duration::from_secs(t),
            4 => Duration::from_secs(t.saturating_mul(60)),
            5 => Duration::from_secs(t.saturating_mul(3600)),
            6 => Duration::from_secs(t.saturating_mul(86400)),
            _ => Duration::from_millis(t),
        };
        match Instant::now().checked_add(d) {
            Some(deadline) => Wait::Until(deadline),
            None => Wait::UntilFull,
        }
    }
}

pub async fn apply(
    get: c::Get,
    session: &mut Session,
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Reply, CmdError> {
    let key = identity(&get.destination, &get.client_id, "get")?;
    let max_bytes = shared.config.max_batch_bytes;
    let tz = shared.config.time_zone;
    let sub = subscription(session, &key)?;
    let fetch = if get.fetch_size <= 0 {
        1000
    } else {
        get.fetch_size as usize
    };
    let wait = Wait::from_request(get.timeout, get.unit);
    let dest = sub.destination.clone();
    let log_start = dest.start_offset();
    if sub.read_cursor < log_start {
        return Err(CmdError::new(
            ERR_GENERAL,
            format!(
                "group {:?} of destination {:?} reads at offset {}, which fell out of retention (the log now starts at {log_start})",
                sub.group,
                dest.name(),
                sub.read_cursor
            ),
        ));
    }
    let mut end_rx = dest.watch_end();
    let mut body = MessagesBody::new();
    let mut scan = sub.read_cursor;
    let mut open = false;
    let mut mid_transaction = false;
    // Where the current split transaction started: scan offset and body.
    let mut txn_mark = (scan, body.mark());
    let mut records = Vec::new();
    loop {
        'scan: loop {
            records.clear();
            dest.read(scan, READ_CHUNK, READ_BYTES, &mut records)
                .map_err(|e| CmdError::new(ERR_GENERAL, format!("reading the log: {e}")))?;
            if records.is_empty() {
                break;
            }
            for rec in &records {
                let full = body.entries() >= fetch || body.bytes() >= max_bytes;
                if full && !mid_transaction {
                    break 'scan;
                }
                let record = decode_record(&rec.payload, rec.offset, dest.name())?;
                // Unsplit transactions, DDL and snapshots are one record.
                let is_final = record.last_part || record.changes.is_empty();
                if !mid_transaction {
                    txn_mark = (scan, body.mark());
                }
                let mut entries = Vec::new();
                record_entries(&record, is_final, &sub.filter, tz, &mut open, &mut entries);
                for e in &entries {
                    body.push(e);
                }
                mid_transaction = !is_final;
                scan = rec.offset + 1;
            }
        }
        let done = body.entries() >= fetch || body.bytes() >= max_bytes;
        let woke = match wait {
            _ if done => false,
            Wait::Now => false,
            Wait::Until(deadline) => tokio::select! {
                r = end_rx.wait_for(|end| *end > scan) => r.is_ok(),
                _ = tokio::time::sleep_until(deadline) => false,
                _ = shutdown.changed() => false,
            },
            Wait::UntilFull => tokio::select! {
                r = end_rx.wait_for(|end| *end > scan) => r.is_ok(),
                _ = shutdown.changed() => false,
            },
        };
        if !woke {
            break;
        }
    }
    if mid_transaction {
        // The log ends inside a split transaction: leave it for later.
        scan = txn_mark.0;
        body.truncate(txn_mark.1);
    }

    if body.entries() == 0 {
        if scan > sub.read_cursor {
            match sub.batches.back_mut() {
                Some(last) => last.end = scan,
                None => {
                    commit(&dest, &sub.group, scan).await?;
                    sub.committed = scan;
                }
            }
            sub.read_cursor = scan;
        }
        return Ok(Reply {
            kind: c::PacketType::Messages,
            parts: Vec::from(MessagesBody::new().finish(-1)),
        });
    }
    let id = sub.next_batch_id;
    sub.next_batch_id += 1;
    let batch = Batch {
        id,
        start: sub.read_cursor,
        end: scan,
    };
    sub.read_cursor = scan;
    if get.auto_ack == Some(true) && sub.batches.is_empty() {
        commit(&dest, &sub.group, batch.end).await?;
        sub.committed = batch.end;
    } else {
        sub.batches.push_back(batch);
    }
    Ok(Reply {
        kind: c::PacketType::Messages,
        parts: Vec::from(body.finish(id)),
    })
}

fn decode_record(payload: &[u8], offset: u64, destination: &str) -> Result<Record, CmdError> {
    Record::decode(payload).map_err(|e| {
        CmdError::new(
            ERR_GENERAL,
            format!("record at offset {offset} of destination {destination:?} is not a valid change event: {e}"),
        )
    })
}
