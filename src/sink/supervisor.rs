//! Keeps each sink of `sluice run` apart from capture, serving and the
//! other sinks: a sink that cannot reach its target retries with backoff,
//! and one the target definitely refused stops alone, in state `failed`
//! with the error and the log offset, until it is restarted
//! (`POST /v1/sinks/{name}/restart` or a process restart).
//!
//! The runner reports progress into a [`SinkHandle`]; `/status` and
//! `/metrics` read it. Nothing here can end the process.

use super::runner::SinkError;
use crate::source::Backoff;
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// What a sink is doing, as `/status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Connecting to its target.
    Starting,
    Running,
    /// The last attempt failed with a transient error; retrying.
    Retrying,
    /// Stopped by a definite error; waits for a restart.
    Failed,
    /// Shut down with the process.
    Stopped,
}

/// A sink's state as `/status` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SinkReport {
    pub name: String,
    pub kind: String,
    pub source: String,
    pub state: SinkState,
    /// The last error (the cause of `failed` or `retrying`).
    pub error: Option<String>,
    /// The next log offset the sink delivers; on `failed`, the first
    /// record of the batch the target refused.
    pub offset: Option<u64>,
    /// Restarts after a failure, by request.
    pub restarts: u64,
}

/// Shared between a running sink and the HTTP API.
#[derive(Clone, Debug)]
pub struct SinkHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    report: Mutex<SinkReport>,
    restart: Notify,
}

impl Default for SinkHandle {
    /// A handle nobody reads (tests that run a sink directly).
    fn default() -> Self {
        SinkHandle::new("", "", "")
    }
}

impl SinkHandle {
    pub fn new(name: &str, kind: &str, source: &str) -> SinkHandle {
        SinkHandle {
            inner: Arc::new(Inner {
                report: Mutex::new(SinkReport {
                    name: name.into(),
                    kind: kind.into(),
                    source: source.into(),
                    state: SinkState::Starting,
                    error: None,
                    offset: None,
                    restarts: 0,
                }),
                restart: Notify::new(),
            }),
        }
    }

    pub fn report(&self) -> SinkReport {
        self.inner.report.lock().clone()
    }

    pub fn name(&self) -> String {
        self.inner.report.lock().name.clone()
    }

    /// Delivering from `offset` on.
    pub(crate) fn running(&self, offset: u64) {
        let mut r = self.inner.report.lock();
        r.state = SinkState::Running;
        r.error = None;
        r.offset = Some(offset);
    }

    pub(crate) fn retrying(&self, error: &str) {
        let mut r = self.inner.report.lock();
        r.state = SinkState::Retrying;
        r.error = Some(error.to_string());
    }

    fn set(&self, state: SinkState, error: Option<String>) {
        let mut r = self.inner.report.lock();
        r.state = state;
        if error.is_some() {
            r.error = error;
        }
    }

    /// Asks a failed sink to start again from its committed offset.
    /// Returns false (and does nothing) when the sink has not failed.
    pub fn restart(&self) -> bool {
        let mut r = self.inner.report.lock();
        if r.state != SinkState::Failed {
            return false;
        }
        r.state = SinkState::Starting;
        r.restarts += 1;
        drop(r);
        self.inner.restart.notify_one();
        true
    }
}

/// Every sink of the process, in configuration order.
#[derive(Clone, Debug, Default)]
pub struct Sinks(Arc<Vec<SinkHandle>>);

impl Sinks {
    pub fn new(handles: Vec<SinkHandle>) -> Sinks {
        Sinks(Arc::new(handles))
    }

    pub fn iter(&self) -> impl Iterator<Item = &SinkHandle> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&SinkHandle> {
        self.0.iter().find(|h| h.inner.report.lock().name == name)
    }
}

/// Runs one sink until `stop` turns true: `attempt` starts it (connect,
/// then [`super::run`]) and is called again after a transient error (with
/// backoff) or after a restart request that follows a definite error.
pub async fn supervise<F, Fut>(handle: SinkHandle, mut stop: watch::Receiver<bool>, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), SinkError>>,
{
    let name = handle.name();
    // Looked up at each use: the Prometheus recorder is installed after
    // the sinks start.
    let failed = |v: f64| metrics::gauge!("sluice_sink_failed", "sink" => name.clone()).set(v);
    failed(0.0);
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        if *stop.borrow() {
            break;
        }
        let result = tokio::select! {
            r = attempt() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        match result {
            Ok(()) => break,
            Err(SinkError::Transient(e)) => {
                let delay = backoff.next_delay().unwrap_or(Duration::from_secs(30));
                tracing::warn!(sink = %name, error = %e, retry_in = ?delay, "sink cannot reach its target");
                handle.set(SinkState::Retrying, Some(e));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            Err(SinkError::Fatal(e)) => {
                let offset = handle.report().offset;
                tracing::error!(sink = %name, offset, error = %e, "sink failed and stopped; capture goes on (restart it with POST /v1/sinks/{name}/restart)");
                handle.set(SinkState::Failed, Some(e));
                failed(1.0);
                tokio::select! {
                    _ = handle.inner.restart.notified() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                failed(0.0);
                backoff.reset();
                tracing::info!(sink = %name, "sink restarted");
            }
        }
    }
    handle.set(SinkState::Stopped, None);
}
