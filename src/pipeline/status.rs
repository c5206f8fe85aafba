//! What one capture is doing, shared with the HTTP status endpoint and the
//! progress line. Metrics go to the `metrics` registry at the same place.

use parking_lot::Mutex;
use serde::Serialize;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    #[default]
    Connecting,
    Streaming,
    /// Waiting before reconnecting after a retryable error.
    Backoff,
    /// The log's file system is full: waiting for space, then resuming
    /// from the log's last whole record.
    DiskFull,
    /// Caught up to `--until` and stopped.
    Finished,
    /// A fatal error stopped capture; see `last_error`.
    Failed,
    Stopped,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureStatus {
    pub source: String,
    pub state: ConnectionState,
    /// Binlog file and position of the last captured transaction's end.
    pub file: String,
    pub position: u64,
    pub gtid: String,
    /// Commit time of the last captured transaction (ms since the epoch).
    pub last_commit_ms: i64,
    pub transactions: u64,
    pub rows: u64,
    pub connection_errors: u64,
    pub last_error: Option<String>,
    /// The server's binlog end when last asked (file, position).
    pub server_file: String,
    pub server_position: u64,
    /// `HOST:PORT` of the server capture streams from (one of the URL's).
    pub host: String,
    /// Times capture moved to another server (resumed there by GTID).
    pub failovers: u64,
    /// The table snapshots' progress, one entry per planned table.
    pub snapshot: Vec<crate::snapshot::TableProgress>,
    /// On-demand snapshot requests the capture has not taken yet.
    #[serde(skip)]
    pub snapshot_requests: Vec<crate::snapshot::Request>,
}

/// A shared, cheaply cloned handle on one capture's status.
#[derive(Clone, Default)]
pub struct StatusHandle(Arc<Mutex<CaptureStatus>>);

impl StatusHandle {
    pub fn new(source: &str) -> StatusHandle {
        StatusHandle(Arc::new(Mutex::new(CaptureStatus {
            source: source.to_string(),
            ..Default::default()
        })))
    }

    pub fn get(&self) -> CaptureStatus {
        self.0.lock().clone()
    }

    pub fn set_state(&self, state: ConnectionState) {
        let mut s = self.0.lock();
        // A full disk stays the state through the reconnects of its
        // retries, until a record reaches the log again (`captured`).
        if s.state == ConnectionState::DiskFull
            && matches!(
                state,
                ConnectionState::Connecting | ConnectionState::Streaming | ConnectionState::Backoff
            )
        {
            return;
        }
        s.state = state;
    }

    pub fn error(&self, error: String, fatal: bool) {
        let mut s = self.0.lock();
        s.connection_errors += 1;
        s.state = if fatal {
            ConnectionState::Failed
        } else if s.state == ConnectionState::DiskFull {
            ConnectionState::DiskFull
        } else {
            ConnectionState::Backoff
        };
        metrics::counter!("sluice_connection_errors_total", "source" => s.source.clone())
            .increment(1);
        s.last_error = Some(error);
    }

    /// Records reached the log: `transactions` complete ones (a part of
    /// a transaction counts with its last part) holding `rows` rows; the
    /// last ended at `file:position` and committed at `commit_ms`; `gtid`
    /// is the last non-empty GTID among them.
    pub fn captured(
        &self,
        file: &str,
        position: u64,
        gtid: &str,
        commit_ms: i64,
        rows: u64,
        transactions: u64,
    ) {
        let mut s = self.0.lock();
        if s.state == ConnectionState::DiskFull {
            s.state = ConnectionState::Streaming;
        }
        if s.file != file {
            s.file = file.to_string();
        }
        s.position = position;
        if !gtid.is_empty() {
            s.gtid = gtid.to_string();
        }
        s.last_commit_ms = commit_ms;
        s.transactions += transactions;
        s.rows += rows;
        let source = s.source.clone();
        drop(s);
        metrics::counter!("sluice_transactions_captured_total", "source" => source.clone())
            .increment(transactions);
        metrics::counter!("sluice_rows_captured_total", "source" => source.clone()).increment(rows);
        let lag = (chrono::Utc::now().timestamp_millis() - commit_ms).max(0) as f64 / 1000.0;
        metrics::gauge!("sluice_capture_lag_seconds", "source" => source).set(lag);
    }

    /// Capture resumes after `last`, the log's last record: the status
    /// shows where it stands before anything new arrives.
    pub fn resumed_after(&self, last: &crate::proto::Record) {
        let mut s = self.0.lock();
        if let Some(p) = &last.position {
            s.file = p.file.clone();
            s.position = p.next;
        }
        if !last.gtid.is_empty() {
            s.gtid = last.gtid.clone();
        }
        s.last_commit_ms = last.commit_time_ms;
    }

    /// Capture streams from `host`; `failover`: a different server than
    /// the log's last records came from.
    pub fn connected_to(&self, host: &str, failover: bool) {
        let mut s = self.0.lock();
        s.host = host.to_string();
        s.failovers += u64::from(failover);
        // Both counters exist from the first connection on, at 0 until
        // something happens: a dashboard's rate() and an alert on them
        // then see a series, not a gap.
        metrics::counter!("sluice_source_failovers_total", "source" => s.source.clone())
            .increment(u64::from(failover));
        metrics::counter!("sluice_connection_errors_total", "source" => s.source.clone())
            .increment(0);
        metrics::counter!("sluice_disk_full_total", "source" => s.source.clone()).increment(0);
        metrics::counter!("sluice_snapshot_rows_total", "source" => s.source.clone()).increment(0);
    }

    pub fn snapshot(&self, tables: Vec<crate::snapshot::TableProgress>) {
        self.0.lock().snapshot = tables;
    }

    /// Queue an on-demand snapshot request for the capture.
    pub fn request_snapshot(&self, request: crate::snapshot::Request) {
        self.0.lock().snapshot_requests.push(request);
    }

    pub fn take_snapshot_requests(&self) -> Vec<crate::snapshot::Request> {
        std::mem::take(&mut self.0.lock().snapshot_requests)
    }

    pub fn server_end(&self, file: &str, position: u64) {
        let mut s = self.0.lock();
        s.server_file = file.to_string();
        s.server_position = position;
    }

    /// Lag in seconds behind the server: now minus the last commit time
    /// (0 before anything was captured).
    pub fn lag_seconds(&self) -> f64 {
        let s = self.0.lock();
        if s.last_commit_ms == 0 {
            return 0.0;
        }
        (chrono::Utc::now().timestamp_millis() - s.last_commit_ms).max(0) as f64 / 1000.0
    }
}
