//! The sources the HTTP API serves: each one's log, its capture status
//! (when a capture runs in this process) and a [`Notify`] woken by the
//! log's durable listener, so that async handlers wait for new records
//! without blocking a runtime thread.

use crate::pipeline::StatusHandle;
use sluice_storage::Log;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// One served source.
pub struct Source {
    pub name: String,
    pub log: Log,
    pub status: Option<StatusHandle>,
    /// Woken (`notify_waiters`) each time the log's durable end advances.
    pub grown: Arc<Notify>,
    listener: Option<u64>,
}

impl Source {
    /// Serves `log` under `name`; `status` when a capture runs here.
    pub fn new(name: &str, log: Log, status: Option<StatusHandle>) -> Arc<Source> {
        let grown = Arc::new(Notify::new());
        let listener = if log.is_read_only() {
            // A read-only log only learns of new records when it re-reads
            // its folder; waiters poll instead (see `wait_beyond`).
            None
        } else {
            let n = grown.clone();
            Some(log.on_durable(move |_| n.notify_waiters()))
        };
        Arc::new(Source {
            name: name.to_string(),
            log,
            status,
            grown,
            listener,
        })
    }

    /// Waits until a record at `offset` is durable or `timeout` passes;
    /// returns whether it is. Never blocks the thread.
    pub async fn wait_beyond(&self, offset: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.grown.notified();
            tokio::pin!(notified);
            // Register before checking, so a wake between the check and
            // the await is not lost.
            notified.as_mut().enable();
            if self.log.is_read_only() {
                let _ = self.log.refresh();
            }
            if self.log.durable_end() > offset {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let step = if self.log.is_read_only() {
                (deadline - now).min(Duration::from_millis(20))
            } else {
                deadline - now
            };
            let _ = tokio::time::timeout(step, notified).await;
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(id) = self.listener {
            self.log.remove_listener(id);
        }
    }
}

/// The sources, by name.
#[derive(Clone, Default)]
pub struct Sources(BTreeMap<String, Arc<Source>>);

impl Sources {
    pub fn new() -> Self {
        Sources::default()
    }

    pub fn insert(&mut self, source: Arc<Source>) {
        self.0.insert(source.name.clone(), source);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Source>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Source>> {
        self.0.values()
    }
}
