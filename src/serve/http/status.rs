//! `GET /health`, `GET /status` and `GET /metrics`.
//!
//! `/status` answers `{"sources": [source]}` where source is
//!
//! ```text
//! { "name", "capture": null | { "state", "file", "position", "gtid",
//!     "server_file", "server_position", "lag_seconds", "lag_bytes",
//!     "transactions", "rows", "connection_errors", "last_error",
//!     "host", "failovers", "snapshot": [ { "table", "state", "rows",
//!     "estimated_rows", "chunks", "rows_per_s", "eta_s" } ] },
//!   "log": { "dir", "start_offset", "end_offset", "segments", "bytes",
//!     "settings": { "segment_bytes", "segment_age_s", "retention_bytes",
//!       "retention_age_s", "retention_max_bytes", "compression" } },
//!   "groups": [ { "name", "offset", "reset", "committed_at_ms", "protected",
//!                 "lost_records", "lost"?, "lag_records", "lag_bytes" } ] }
//! ```
//!
//! and `"sinks": [ { "name", "kind", "source", "state", "error", "offset",
//! "restarts" } ]`, state one of `starting`, `running`, `retrying`,
//! `failed` (stopped by a definite error until restarted) or `stopped`.
//!
//! `snapshot` lists the tables of a table snapshot (`snapshot = "initial"`):
//! `state` `waiting`, `reading` or `done`; `rows` read so far (rows the
//! stream changed meanwhile included); `estimated_rows` from
//! `information_schema.TABLES` (InnoDB's estimate, 0 unknown); `chunks`
//! appended this run; `rows_per_s` and `eta_s` over this run (`null` until
//! known).
//!
//! `lag_bytes` of the capture is the server's binlog end minus the
//! captured position when both are in the same binlog file, `null` when
//! unknown (no poll yet, or capture is in an older file).

use super::error::ApiError;
use super::groups::GroupView;
use super::{blocking, AppState};
use crate::pipeline::CaptureStatus;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Bytes the capture is behind the server's binlog end, when known.
pub fn bytes_behind(s: &CaptureStatus) -> Option<u64> {
    if s.server_file.is_empty() || s.file.is_empty() {
        return None;
    }
    if s.server_file == s.file {
        Some(s.server_position.saturating_sub(s.position))
    } else {
        None
    }
}

pub(crate) async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sources = state.sources.clone();
    let sinks: Vec<_> = state.sinks.iter().map(|h| h.report()).collect();
    let body = blocking(move || -> Result<serde_json::Value, ApiError> {
        let mut out = Vec::new();
        for src in sources.iter() {
            let log = &src.log;
            log.refresh()?;
            let segments = log.segments();
            let bytes: u64 = segments.iter().map(|s| s.data_bytes()).sum();
            let capture = src.status.as_ref().map(|h| {
                let s = h.get();
                json!({
                    "state": s.state,
                    "file": s.file,
                    "position": s.position,
                    "gtid": s.gtid,
                    "server_file": s.server_file,
                    "server_position": s.server_position,
                    "lag_seconds": h.lag_seconds(),
                    "lag_bytes": bytes_behind(&s),
                    "transactions": s.transactions,
                    "rows": s.rows,
                    "connection_errors": s.connection_errors,
                    "last_error": s.last_error,
                    "host": s.host,
                    "failovers": s.failovers,
                    "snapshot": s.snapshot,
                })
            });
            let groups: Vec<GroupView> = log
                .groups()
                .list()?
                .iter()
                .map(|g| GroupView::with_lag(log, g))
                .collect();
            out.push(json!({
                "name": src.name,
                "capture": capture,
                "log": {
                    "dir": log.dir(),
                    "start_offset": log.start_offset(),
                    "end_offset": log.durable_end(),
                    "segments": segments.len(),
                    "bytes": bytes,
                    "settings": settings_json(log.config()),
                },
                "groups": groups,
            }));
        }
        Ok(json!({ "sources": out, "sinks": sinks }))
    })
    .await??;
    Ok(Json(body).into_response())
}

/// The log's settings; `null` for a limit that is off.
fn settings_json(c: &sluice_storage::LogConfig) -> serde_json::Value {
    json!({
        "segment_bytes": c.segment_bytes,
        "segment_age_s": c.segment_age.map(|d| d.as_secs()),
        "retention_bytes": c.retention_bytes,
        "retention_age_s": c.retention_age.map(|d| d.as_secs()),
        "retention_max_bytes": c.retention_max_bytes,
        "compression": match c.compression {
            sluice_storage::Compression::None => "none".to_string(),
            sluice_storage::Compression::Zstd(level) => format!("zstd:{level}"),
        },
    })
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(handle) = state.metrics.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_metrics",
            "no Prometheus recorder is installed in this process",
        ));
    };
    let sources = state.sources.clone();
    let text = blocking(move || super::metrics::render(&handle, &sources)).await?;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(resp)
}
