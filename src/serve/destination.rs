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
    #[error("group {group:?} of destination {destination:?} already exists")]
    GroupExists { destination: String, group: String },
    #[error("destination {destination:?} has no group {group:?}")]
    GroupNotFound { destination: String, group: String },
    #[error("cannot seek destination {destination:?}: {reason}")]
    BadTarget { destination: String, reason: String },
    #[error("storage of {destination:?}: {source}")]
    Storage {
        destination: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DestinationError {
    /// The log's disk was full (a group commit): retried, not fatal.
    pub fn is_disk_full(&self) -> bool {
        match self {
            DestinationError::Storage { source, .. } => source
                .downcast_ref::<sluice_storage::StorageError>()
                .is_some_and(|e| e.is_disk_full()),
            _ => false,
        }
    }
}

/// A consumer group as the serving side reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupState {
    pub name: String,
    /// The committed offset: the next record the group reads.
    pub offset: u64,
    /// When it was last committed (ms since the epoch).
    pub committed_at_ms: i64,
    /// `none`, `earliest` or `latest`.
    pub reset: &'static str,
    /// Records between the committed offset and the durable end.
    pub lag: u64,
    /// Retention keeps what the group has not read.
    pub protected: bool,
    /// Records retention deleted before the group read them, in all, and
    /// the last range deleted.
    pub lost_records: u64,
    pub lost: std::ops::Range<u64>,
}

/// Where to move a group to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeekTarget {
    /// A log offset.
    Offset(u64),
    /// The first transaction committed at or after this time (ms since the
    /// epoch).
    TimeMs(i64),
    /// The first transaction after this binlog position (where a replica
    /// that applied everything up to it resumes).
    Binlog { file: String, pos: u64 },
    /// The first transaction not in this GTID set (MySQL or MariaDB text).
    Gtid(String),
}

/// The text of a reset policy.
pub fn reset_name(policy: ResetPolicy) -> &'static str {
    match policy {
        ResetPolicy::None => "none",
        ResetPolicy::Earliest => "earliest",
        ResetPolicy::Latest => "latest",
    }
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
    fn resume(
        &self,
        group: &str,
        new_group: ResetPolicy,
        protected: bool,
    ) -> Result<u64, DestinationError>;
    /// Durably commits `offset` for an existing group before returning
    /// (any offset between the log start and the durable end: also
    /// backwards, which is how a seek is done).
    fn commit(&self, group: &str, offset: u64) -> Result<(), DestinationError>;
    /// Every group, by name.
    fn groups(&self) -> Result<Vec<GroupState>, DestinationError>;
    /// One group.
    fn group(&self, name: &str) -> Result<Option<GroupState>, DestinationError>;
    /// Creates a group (refused if it exists): at the log start, or at the
    /// end for [`ResetPolicy::Latest`].
    fn create_group(
        &self,
        name: &str,
        reset: ResetPolicy,
        protected: bool,
    ) -> Result<GroupState, DestinationError>;
    /// Deletes a group; whether it existed.
    fn delete_group(&self, name: &str) -> Result<bool, DestinationError>;
    /// The offset a seek to `target` lands on.
    fn locate(&self, target: &SeekTarget) -> Result<u64, DestinationError>;
    /// Bytes the log takes on disk (or in memory).
    fn size_bytes(&self) -> u64;
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
    groups: BTreeMap<String, MemGroup>,
}

#[derive(Clone, Copy)]
struct MemGroup {
    offset: u64,
    reset: ResetPolicy,
    committed_at_ms: i64,
    protected: bool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
        self.state.lock().groups.get(group).map(|g| g.offset)
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

    fn resume(
        &self,
        group: &str,
        new_group: ResetPolicy,
        protected: bool,
    ) -> Result<u64, DestinationError> {
        let mut st = self.state.lock();
        let start = st.start;
        let end = st.start + st.records.len() as u64;
        let g = *st
            .groups
            .entry(group.to_string())
            .or_insert_with(|| MemGroup {
                offset: if new_group == ResetPolicy::Latest {
                    end
                } else {
                    start
                },
                reset: new_group,
                committed_at_ms: now_ms(),
                protected,
            });
        let (offset, policy) = (g.offset, g.reset);
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
        let name = self.name.clone();
        let g = st
            .groups
            .get_mut(group)
            .ok_or_else(|| DestinationError::GroupNotFound {
                destination: name,
                group: group.to_string(),
            })?;
        g.offset = offset;
        g.committed_at_ms = now_ms();
        Ok(())
    }

    fn groups(&self) -> Result<Vec<GroupState>, DestinationError> {
        let st = self.state.lock();
        let end = st.start + st.records.len() as u64;
        Ok(st
            .groups
            .iter()
            .map(|(name, g)| mem_state(name, g, end))
            .collect())
    }

    fn group(&self, name: &str) -> Result<Option<GroupState>, DestinationError> {
        let st = self.state.lock();
        let end = st.start + st.records.len() as u64;
        Ok(st.groups.get(name).map(|g| mem_state(name, g, end)))
    }

    fn create_group(
        &self,
        name: &str,
        reset: ResetPolicy,
        protected: bool,
    ) -> Result<GroupState, DestinationError> {
        let mut st = self.state.lock();
        if st.groups.contains_key(name) {
            return Err(DestinationError::GroupExists {
                destination: self.name.clone(),
                group: name.to_string(),
            });
        }
        let end = st.start + st.records.len() as u64;
        let g = MemGroup {
            offset: if reset == ResetPolicy::Latest {
                end
            } else {
                st.start
            },
            reset,
            committed_at_ms: now_ms(),
            protected,
        };
        st.groups.insert(name.to_string(), g);
        Ok(mem_state(name, &g, end))
    }

    fn delete_group(&self, name: &str) -> Result<bool, DestinationError> {
        Ok(self.state.lock().groups.remove(name).is_some())
    }

    fn locate(&self, target: &SeekTarget) -> Result<u64, DestinationError> {
        let st = self.state.lock();
        let end = st.start + st.records.len() as u64;
        let bad = |reason: String| DestinationError::BadTarget {
            destination: self.name.clone(),
            reason,
        };
        let gtids = match target {
            SeekTarget::Offset(o) => {
                if *o < st.start || *o > end {
                    return Err(DestinationError::OutOfRange {
                        destination: self.name.clone(),
                        offset: *o,
                        start: st.start,
                        end,
                    });
                }
                return Ok(*o);
            }
            SeekTarget::Gtid(text) => {
                Some(crate::gtid::parse_set(text).map_err(|e| bad(e.to_string()))?)
            }
            _ => None,
        };
        // A linear scan: this log is for tests and benchmarks.
        for (i, payload) in st.records.iter().enumerate() {
            let Ok(rec) = Record::decode(payload.clone()) else {
                continue;
            };
            let hit = match target {
                SeekTarget::TimeMs(t) => rec.commit_time_ms >= *t,
                SeekTarget::Binlog { file, pos } => rec.position.as_ref().is_some_and(|p| {
                    crate::pipeline::resume::at_or_after((&p.file, p.next), (file, pos + 1))
                }),
                SeekTarget::Gtid(_) => gtids.as_ref().is_some_and(|set| {
                    crate::gtid::contribution(&rec.gtid).is_ok_and(|c| !c.is_subset(set))
                }),
                SeekTarget::Offset(_) => true,
            };
            if hit {
                return Ok(st.start + i as u64);
            }
        }
        Ok(end)
    }

    fn size_bytes(&self) -> u64 {
        self.state
            .lock()
            .records
            .iter()
            .map(|r| r.len() as u64)
            .sum()
    }
}

fn mem_state(name: &str, g: &MemGroup, end: u64) -> GroupState {
    GroupState {
        name: name.to_string(),
        offset: g.offset,
        committed_at_ms: g.committed_at_ms,
        reset: reset_name(g.reset),
        lag: end.saturating_sub(g.offset),
        protected: g.protected,
        lost_records: 0,
        lost: 0..0,
    }
}
