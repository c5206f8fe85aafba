//! `POST /v1/sinks/{name}/restart`: a sink stopped by a definite error
//! (state `failed` in `/status`) starts again from its group's committed
//! offset. Answers 200 with the sink's state, 404 `unknown_sink`, or 409
//! `sink_not_failed` when there is nothing to restart.

use super::error::ApiError;
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub(crate) async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let Some(sink) = state.sinks.get(&name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_sink",
            format!("no sink named {name:?}"),
        ));
    };
    if !sink.restart() {
        let report = sink.report();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "sink_not_failed",
            format!(
                "sink {name:?} is {}, not failed: nothing to restart",
                serde_json::to_value(report.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(Json(sink.report()).into_response())
}
