//! What the serving side reads: a *destination* (Canal's word) is one
//! source's log, with consumer groups that each keep a committed offset.
//!
//! Servers are written against the small [`Destination`] trait rather than
//! the storage crate, so that they can be tested against an in-memory log
//! ([`MemoryDestination`]) and so that the storage crate stays free of
//! tokio: the adapter over `sluice_storage` ([`super::storage`]) only has to
//! publish its durable end offset on a `watch` channel.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use prost::Message as _;
use tokio::sync::watch;

use crate::proto::Record;
pub use sluice_storage::ResetPolicy;

/// One record of a log: its offset and its payload (an encoded [`Record`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub offset: u64,
    pub payload: Bytes,
}

/// Errors of a destination.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("offset {offset} is outside the log of {destination:?}, which holds {start}..{end}")]
    OutOfRange {
        destination: String,
        offset: u64,
        start: u64,
        end: u64,
    },
    #[error(
        "group {group:?} of destination {destination:?} is at offset {offset}, which fell out of retention \
         (the log now starts at {start}); seek the group, delete it, or give it a reset policy"
    )]
    GroupOutOfRange {
        destination: String,
        group: String,
        offset: u64,
        start: u64,
    },
    #[error("storage of {destination:?}: {source}")]
    Storage {
        destination: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A source's log as the serving side sees it.
pub trait Destination: Send + Sync + 'static {
    /// The destination's name (the source name).
    fn name(&self) -> &str;
    /// The first offset still held (earlier ones fell out of retention).
    fn start_offset(&self) -> u64;
    /// One past the last record readers may see (durable under the fsync
    /// policy).
    fn end_offset(&self) -> u64;
    /// Appends to `out` the records from offset `from` on: at least one if
    /// `from < end_offset()`, at most `max_records`, stopping once about
    /// `max_bytes` of payload were read.
    fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        out: &mut Vec<LogRecord>,
    ) -> Result<(), DestinationError>;
    /// A channel whose value is `end_offset()`, updated as the log grows.
    fn watch_end(&self) -> watch::Receiver<u64>;
    /// Where `group` resumes reading: its committed offset (the next record
    /// it has not consumed). A group that does not exist is created with
    /// `new_group` (None and Earliest start at the log start, Latest at the
    /// end). A group whose offset fell out of retention resumes per its
    /// own policy, or fails with [`DestinationError::GroupOutOfRange`].
    fn resume(&self, group: &str, new_group: ResetPolicy) -> Result<u64, DestinationError>;
    /// Durably commits `offset` for the group before returning.
    fn commit(&self, group: &str, offset: u64) -> Result<(), DestinationError>;
}

/// The destinations a server offers, by name.
#[derive(Clone, Default)]
pub struct Destinations {
    by_name: HashMap<String, Arc<dyn Destination>>,
}

impl Destinations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a destination under its own name.
    pub fn insert(&mut self, destination: Arc<dyn Destination>) {
        self.by_name
            .insert(destination.name().to_string(), destination);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Destination>> {
        self.by_name.get(name).cloned()
    }

    /// Names, sorted, for error messages.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }
}

/// An in-memory log: for tests and benchmarks. Commits are kept in memory.
pub struct MemoryDestination {
    name: String,
    state: Mutex<MemoryState>,
    end_tx: watch::Sender<u64>,
}

struct MemoryState {
    start: u64,
    records: Vec<Bytes>,
    groups: BTreeMap<String, (u64, ResetPolicy)>,
}

impl MemoryDestination {
    pub fn new(name: &str) -> Arc<Self> {
        let (end_tx, _) = watch::channel(0);
        Arc::new(MemoryDestination {
            name: name.to_string(),
            state: Mutex::new(MemoryState {
                start: 0,
                records: Vec::new(),
                groups: BTreeMap::new(),
            }),
            end_tx,
        })
    }

    /// Appends a record; returns its offset.
    pub fn append(&self, record: &Record) -> u64 {
        self.append_raw(Bytes::from(record.encode_to_vec()))
    }

    /// Appends raw payload bytes (which need not be a valid Record).
    pub fn append_raw(&self, payload: Bytes) -> u64 {
        let mut st = self.state.lock();
        let offset = st.start + st.records.len() as u64;
        st.records.push(payload);
        let end = offset + 1;
        drop(st);
        self.end_tx.send_replace(end);
        offset
    }

    /// The committed offset of a group, if it exists.
    pub fn committed(&self, group: &str) -> Option<u64> {
        self.state.lock().groups.get(group).map(|g| g.0)
    }

    /// Drops records before `offset`, as retention would.
    pub fn truncate_before(&self, offset: u64) {
        let mut st = self.state.lock();
        let drop_n = offset.saturating_sub(st.start).min(st.records.len() as u64) as usize;
        st.records.drain(..drop_n);
        st.start += drop_n as u64;
    }
}

impl Destination for MemoryDestination {
    fn name(&self) -> &str {
        &self.name
    }

    fn start_offset(&self) -> u64 {
        self.state.lock().start
    }

    fn end_offset(&self) -> u64 {
        let st = self.state.lock();
        st.start + st.records.len() as u64
    }

    fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        out: &mut Vec<LogRecord>,
    ) -> Result<(), DestinationError> {
        let st = self.state.lock();
        let end = st.start + st.records.len() as u64;
        if from < st.start || from > end {
            return Err(DestinationError::OutOfRange {
                destination: self.name.clone(),
                offset: from,
                start: st.start,
                end,
            });
        }
        let mut bytes = 0;
        let first = (from - st.start) as usize;
        for (i, payload) in st.records.iter().enumerate().skip(first).take(max_records) {
            if bytes >= max_bytes && i > first {
                break;
            }
            bytes += payload.len();
            out.push(LogRecord {
                offset: st.start + i as u64,
                payload: payload.clone(),
            });
        }
        Ok(())
    }

    fn watch_end(&self) -> watch::Receiver<u64> {
        self.end_tx.subscribe()
    }

    fn resume(&self, group: &str, new_group: ResetPolicy) -> Result<u64, DestinationError> {
        let mut st = self.state.lock();
        let start = st.start;
        let end = st.start + st.records.len() as u64;
        let (offset, policy) =
            *st.groups
                .entry(group.to_string())
                .or_insert_with(|| match new_group {
                    ResetPolicy::Latest => (end, new_group),
                    _ => (start, new_group),
                });
        if offset >= start {
            return Ok(offset);
        }
        match policy {
            ResetPolicy::None => Err(DestinationError::GroupOutOfRange {
                destination: self.name.clone(),
                group: group.to_string(),
                offset,
                start,
            }),
            ResetPolicy::Earliest => Ok(start),
            ResetPolicy::Latest => Ok(end),
        }
    }

    fn commit(&self, group: &str, offset: u64) -> Result<(), DestinationError> {
        let mut st = self.state.lock();
        let end = st.start + st.records.len() as u64;
        if offset > end {
            return Err(DestinationError::OutOfRange {
                destination: self.name.clone(),
                offset,
                start: st.start,
                end,
            });
        }
        if offset < st.start {
            return Err(DestinationError::OutOfRange {
                destination: self.name.clone(),
                offset,
                start: st.start,
                end,
            });
        }
        let policy = st.groups.get(group).map_or(ResetPolicy::None, |g| g.1);
        st.groups.insert(group.to_string(), (offset, policy));
        Ok(())
    }
}
