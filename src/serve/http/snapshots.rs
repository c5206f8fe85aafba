//! On-demand table snapshots of a source whose capture runs here
//! (Debezium's incremental snapshot; see `src/snapshot/`).
//!
//! - `POST /v1/sources/{name}/snapshots` `{"tables": ["db.t", …],
//!   "where": "optional SQL condition"}` → 202 `{"id", "tables",
//!   "where"}` (the condition may not contain `;`): the capture takes it at the stream's next idle point
//!   (within a second), records its plan in the log and reads the tables
//!   while streaming. 400 `bad_request` for no tables or a name that is
//!   not `db.table`; 409 `no_capture` when this process only serves the
//!   source's log.
//! - `GET …/snapshots` → `{"snapshots": [ {"snapshot_id", "table",
//!   "state", "error"?, "rows", "estimated_rows", "chunks", "rows_per_s",
//!   "eta_s"} ]}` (the initial snapshot's tables have id 0; `error` says
//!   why a `failed` table's snapshot failed, also after a restart).
//! - `DELETE …/snapshots/{id}` → 202 `{"id", "cancelled": true}`: its
//!   tables are not read further (a cancel record goes into the log, so a
//!   restart does not resume it).

use super::changes::source;
use super::error::ApiError;
use super::AppState;
use crate::pipeline::StatusHandle;
use crate::snapshot::Request;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    tables: Vec<String>,
    #[serde(default, rename = "where")]
    condition: String,
}

fn capture(state: &AppState, name: &str) -> Result<StatusHandle, ApiError> {
    source(state, name)?.status.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_capture",
            format!("source {name:?} is served from its log only: snapshots need its capture running in this process"),
        )
    })
}

pub(crate) async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let status = capture(&state, &name)?;
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if body.tables.is_empty() {
        return Err(ApiError::bad_request(
            "no tables: give \"tables\": [\"db.table\", …]",
        ));
    }
    if let Some(bad) = body.tables.iter().find(|t| {
        t.split_once('.')
            .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
    }) {
        return Err(ApiError::bad_request(format!(
            "table {bad:?}: expected db.table"
        )));
    }
    // One expression inside the chunk's SELECT: the connection allows
    // several statements, and a snapshot never writes to the source.
    if body.condition.contains(';') {
        return Err(ApiError::bad_request(
            "\"where\" is one SQL condition: ';' is not allowed",
        ));
    }
    let id = crate::snapshot::id::new_id();
    status.request_snapshot(Request::Start {
        id,
        tables: body.tables.clone(),
        condition: body.condition.clone(),
    });
    let reply = json!({"id": id, "tables": body.tables, "where": body.condition});
    Ok((StatusCode::ACCEPTED, Json(reply)).into_response())
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let status = capture(&state, &name)?;
    Ok(Json(json!({"snapshots": status.get().snapshot})).into_response())
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let status = capture(&state, &name)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("snapshot id {id:?}: not a number")))?;
    let known = status.get().snapshot.iter().any(|t| t.snapshot_id == id)
        || status
            .get()
            .snapshot_requests
            .iter()
            .any(|r| matches!(r, Request::Start { id: i, .. } if *i == id));
    if !known {
        return Err(ApiError::not_found(format!(
            "no snapshot {id} on source {name:?}"
        )));
    }
    status.request_snapshot(Request::Cancel { id });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "cancelled": true})),
    )
        .into_response())
}
