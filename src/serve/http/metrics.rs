//! The Prometheus recorder of the process (installed once, by `sluice run`
//! or the first server of a test process) and the gauges computed when
//! `/metrics` is scraped: per-group lag and log offsets.
//!
//! Metrics recorded elsewhere: `sluice_rows_captured_total`,
//! `sluice_transactions_captured_total`, `sluice_capture_lag_seconds`,
//! `sluice_connection_errors_total` (pipeline/status.rs),
//! `sluice_append_seconds` (pipeline/capture.rs), `sluice_snapshot_rows_total`
//! (snapshot/mod.rs; exposed at 0 from the first connection).

use super::source::Sources;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Histogram buckets in seconds (100 µs … 10 s).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the Prometheus recorder as the global `metrics` recorder, once
/// per process; later calls return the same handle. `None` when another
/// recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets(BUCKETS) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("metrics buckets: {e}");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!("cannot install the Prometheus recorder: {e}");
                    None
                }
            }
        })
        .clone()
}

/// Updates the gauges derived from the logs, then renders every metric.
pub fn render(handle: &PrometheusHandle, sources: &Sources) -> String {
    for src in sources.iter() {
        let name = src.name.clone();
        let log = &src.log;
        metrics::gauge!("sluice_log_start_offset", "source" => name.clone())
            .set(log.start_offset() as f64);
        metrics::gauge!("sluice_log_end_offset", "source" => name.clone())
            .set(log.durable_end() as f64);
        let bytes: u64 = log.segments().iter().map(|s| s.data_bytes()).sum();
        metrics::gauge!("sluice_log_bytes", "source" => name.clone()).set(bytes as f64);
        if let Some(status) = &src.status {
            let s = status.get();
            if let Some(b) = super::status::bytes_behind(&s) {
                metrics::gauge!("sluice_capture_lag_bytes", "source" => name.clone()).set(b as f64);
            }
        }
        let groups = log.groups();
        if let Ok(list) = groups.list() {
            for g in list {
                if let Ok(lag) = groups.lag(&g.name) {
                    metrics::gauge!("sluice_group_lag_records", "source" => name.clone(), "group" => g.name.clone())
                        .set(lag.records as f64);
                    metrics::gauge!("sluice_group_lag_bytes", "source" => name.clone(), "group" => g.name.clone())
                        .set(lag.bytes as f64);
                }
                metrics::counter!("sluice_group_lost_records_total", "source" => name.clone(), "group" => g.name.clone())
                    .absolute(g.lost.records);
                metrics::gauge!("sluice_group_offset", "source" => name.clone(), "group" => g.name)
                    .set(g.offset as f64);
            }
        }
    }
    handle.render()
}
