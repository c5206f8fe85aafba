//! The serving side's view of a `sluice_storage::Log`: the [`Destination`]
//! adapter. Reads are zero-copy views of the memory-mapped segments; the
//! durable end is published on a `watch` channel from the log's
//! `on_durable` listener, so that waiting readers wake on every group
//! commit without polling.

use std::sync::Arc;

use sluice_storage::{Log, StorageError};
use tokio::sync::watch;

use super::destination::{
    reset_name, Destination, DestinationError, GroupState, LogRecord, ResetPolicy, SeekTarget,
};
use sluice_storage::{GroupInfo, SourcePos};

/// A source's log served under the source's name.
pub struct StorageDestination {
    name: String,
    log: Log,
    end_tx: Arc<watch::Sender<u64>>,
    listener: u64,
}

impl StorageDestination {
    /// Serves `log` as destination `name`. For a log opened read-only (no
    /// writer in this process) the durable end is picked up by a poller
    /// the caller runs with [`StorageDestination::refresh`].
    pub fn new(name: &str, log: Log) -> Arc<Self> {
        let (tx, _) = watch::channel(log.durable_end());
        let end_tx = Arc::new(tx);
        let notify = end_tx.clone();
        let listener = log.on_durable(move |end| {
            notify.send_if_modified(|v| {
                let grew = end > *v;
                if grew {
                    *v = end;
                }
                grew
            });
        });
        Arc::new(StorageDestination {
            name: name.to_string(),
            log,
            end_tx,
            listener,
        })
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Re-reads a read-only log's directory and publishes a new end.
    pub fn refresh(&self) -> Result<(), DestinationError> {
        self.log.refresh().map_err(|e| self.error(e))?;
        let end = self.log.durable_end();
        self.end_tx.send_if_modified(|v| {
            let grew = end > *v;
            if grew {
                *v = end;
            }
            grew
        });
        Ok(())
    }

    fn error(&self, e: StorageError) -> DestinationError {
        match e {
            StorageError::BelowStart { requested, start } => DestinationError::OutOfRange {
                destination: self.name.clone(),
                offset: requested,
                start,
                end: self.log.durable_end(),
            },
            StorageError::BeyondEnd { requested, end } => DestinationError::OutOfRange {
                destination: self.name.clone(),
                offset: requested,
                start: self.log.start_offset(),
                end,
            },
            StorageError::GroupOutOfRange {
                name,
                offset,
                start,
            } => DestinationError::GroupOutOfRange {
                destination: self.name.clone(),
                group: name,
                offset,
                start,
            },
            StorageError::GroupExists(group) => DestinationError::GroupExists {
                destination: self.name.clone(),
                group,
            },
            StorageError::GroupNotFound(group) => DestinationError::GroupNotFound {
                destination: self.name.clone(),
                group,
            },
            other => DestinationError::Storage {
                destination: self.name.clone(),
                source: Box::new(other),
            },
        }
    }
}

impl StorageDestination {
    fn state(&self, g: GroupInfo) -> GroupState {
        GroupState {
            lag: self.log.durable_end().saturating_sub(g.offset),
            reset: reset_name(g.reset),
            offset: g.offset,
            committed_at_ms: g.committed_at_ms,
            protected: g.protected,
            lost_records: g.lost.records,
            lost: g.lost.last,
            name: g.name,
        }
    }
}

impl Drop for StorageDestination {
    fn drop(&mut self) {
        self.log.remove_listener(self.listener);
    }
}

impl Destination for StorageDestination {
    fn name(&self) -> &str {
        &self.name
    }

    fn start_offset(&self) -> u64 {
        self.log.start_offset()
    }

    fn end_offset(&self) -> u64 {
        self.log.durable_end()
    }

    fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        out: &mut Vec<LogRecord>,
    ) -> Result<(), DestinationError> {
        if from >= self.log.durable_end() {
            return Ok(());
        }
        let mut reader = self.log.read_from(from).map_err(|e| self.error(e))?;
        let mut bytes = 0;
        let mut n = 0;
        while n < max_records && (n == 0 || bytes < max_bytes) {
            match reader.next().map_err(|e| self.error(e))? {
                Some(rec) => {
                    bytes += rec.payload().len();
                    n += 1;
                    out.push(LogRecord {
                        offset: rec.offset,
                        payload: rec.into_payload(),
                    });
                }
                None => break,
            }
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
        let groups = self.log.groups();
        groups
            .get_or_create_with(group, new_group, protected)
            .map_err(|e| self.error(e))?;
        groups.resume_offset(group).map_err(|e| self.error(e))
    }

    fn commit(&self, group: &str, offset: u64) -> Result<(), DestinationError> {
        self.log
            .groups()
            .commit(group, offset)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    fn groups(&self) -> Result<Vec<GroupState>, DestinationError> {
        let list = self.log.groups().list().map_err(|e| self.error(e))?;
        Ok(list.into_iter().map(|g| self.state(g)).collect())
    }

    fn group(&self, name: &str) -> Result<Option<GroupState>, DestinationError> {
        let g = self.log.groups().get(name).map_err(|e| self.error(e))?;
        Ok(g.map(|g| self.state(g)))
    }

    fn create_group(
        &self,
        name: &str,
        reset: ResetPolicy,
        protected: bool,
    ) -> Result<GroupState, DestinationError> {
        let g = self
            .log
            .groups()
            .create_with(name, reset, protected)
            .map_err(|e| self.error(e))?;
        Ok(self.state(g))
    }

    fn delete_group(&self, name: &str) -> Result<bool, DestinationError> {
        self.log.groups().delete(name).map_err(|e| self.error(e))
    }

    fn locate(&self, target: &SeekTarget) -> Result<u64, DestinationError> {
        let bad = |reason: String| DestinationError::BadTarget {
            destination: self.name.clone(),
            reason,
        };
        match target {
            SeekTarget::Offset(o) => {
                let (start, end) = (self.log.start_offset(), self.log.durable_end());
                if *o < start || *o > end {
                    return Err(DestinationError::OutOfRange {
                        destination: self.name.clone(),
                        offset: *o,
                        start,
                        end,
                    });
                }
                Ok(*o)
            }
            SeekTarget::TimeMs(t) => self.log.find_time(*t).map_err(|e| self.error(e)),
            SeekTarget::Binlog { file, pos } => {
                let at = SourcePos::new(crate::pipeline::resume::file_number(file), *pos);
                self.log.find_position(at).map_err(|e| self.error(e))
            }
            SeekTarget::Gtid(text) => {
                let set = crate::gtid::parse_set(text).map_err(|e| bad(e.to_string()))?;
                self.log.find_gtid(&set).map_err(|e| self.error(e))
            }
        }
    }

    fn size_bytes(&self) -> u64 {
        self.log.segments().iter().map(|s| s.data_end).sum()
    }
}
