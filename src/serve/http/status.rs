//! `/health`, `/status` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::pipeline::status::{CaptureStatus, ConnectionState};
use crate::serve::destination::GroupState;

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Serialize)]
pub struct StatusReport {
    pub sources: Vec<SourceReport>,
}

#[derive(Serialize)]
pub struct SourceReport {
    pub name: String,
    /// Absent when this process does not capture the source.
    pub capture: Option<CaptureReport>,
    pub log: LogReport,
    pub groups: Vec<GroupState>,
}

#[derive(Serialize)]
pub struct CaptureReport {
    pub state: ConnectionState,
    pub file: String,
    pub position: u64,
    pub gtid: String,
    pub last_commit_ms: i64,
    pub lag_seconds: f64,
    /// Bytes of binlog the server has written past what was captured, when
    /// both are in the same file.
    pub bytes_behind: Option<u64>,
    pub transactions: u64,
    pub rows: u64,
    pub connection_errors: u64,
    pub last_error: Option<String>,
}

#[derive(Serialize)]
pub struct LogReport {
    pub start_offset: u64,
    pub end_offset: u64,
    pub size_bytes: u64,
}

fn capture_report(s: CaptureStatus, lag_seconds: f64) -> CaptureReport {
    let bytes_behind = (!s.server_file.is_empty() && s.server_file == s.file)
        .then(|| s.server_position.saturating_sub(s.position));
    CaptureReport {
        state: s.state,
        bytes_behind,
        file: s.file,
        position: s.position,
        gtid: s.gtid,
        last_commit_ms: s.last_commit_ms,
        lag_seconds,
        transactions: s.transactions,
        rows: s.rows,
        connection_errors: s.connection_errors,
        last_error: s.last_error,
    }
}

pub async fn status(State(state): State<Arc<AppState>>) -> Result<Json<StatusReport>, ApiError> {
    let mut sources = Vec::new();
    for (name, source) in &state.sources {
        let log = source.log.clone();
        let (log_report, groups) = blocking(move || {
            let groups = log.groups()?;
            Ok((
                LogReport {
                    start_offset: log.start_offset(),
                    end_offset: log.end_offset(),
                    size_bytes: log.size_bytes(),
                },
                groups,
            ))
        })
        .await?;
        sources.push(SourceReport {
            name: name.clone(),
            capture: source
                .capture
                .as_ref()
                .map(|c| capture_report(c.get(), c.lag_seconds())),
            log: log_report,
            groups,
        });
    }
    Ok(Json(StatusReport { sources }))
}

/// Prometheus text: what capture records, plus per-group lag and log
/// offsets, refreshed at each scrape.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let Some(handle) = state.metrics.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not enabled in this process",
        ));
    };
    for (name, source) in &state.sources {
        let log = source.log.clone();
        let groups = blocking(move || Ok(log.groups()?)).await?;
        metrics::gauge!("sluice_log_end_offset", "source" => name.clone())
            .set(source.log.end_offset() as f64);
        metrics::gauge!("sluice_log_start_offset", "source" => name.clone())
            .set(source.log.start_offset() as f64);
        metrics::gauge!("sluice_log_size_bytes", "source" => name.clone())
            .set(source.log.size_bytes() as f64);
        for g in groups {
            metrics::gauge!("sluice_group_lag_records", "source" => name.clone(), "group" => g.name.clone())
                .set(g.lag as f64);
            metrics::gauge!("sluice_group_offset", "source" => name.clone(), "group" => g.name)
                .set(g.offset as f64);
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}
