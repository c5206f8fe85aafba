//! Consumer groups: list, show, create (with a reset policy), seek (to an
//! offset, a time, a binlog position or a GTID set), delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::serve::destination::{GroupState, ResetPolicy, SeekTarget};

pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<GroupState>>, ApiError> {
    let log = state.source(&name)?.log.clone();
    Ok(Json(blocking(move || Ok(log.groups()?)).await?))
}

pub async fn one(
    State(state): State<Arc<AppState>>,
    Path((name, group)): Path<(String, String)>,
) -> Result<Json<GroupState>, ApiError> {
    let log = state.source(&name)?.log.clone();
    let g = group.clone();
    match blocking(move || Ok(log.group(&g)?)).await? {
        Some(s) => Ok(Json(s)),
        None => Err(ApiError::not_found(format!(
            "source {name:?} has no group {group:?}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub name: String,
    /// `none` (default: start at the oldest record, error when out of
    /// retention), `earliest` or `latest`.
    pub reset: Option<String>,
}

pub fn parse_reset(text: Option<&str>) -> Result<ResetPolicy, ApiError> {
    match text {
        None | Some("none") => Ok(ResetPolicy::None),
        Some("earliest") => Ok(ResetPolicy::Earliest),
        Some("latest") => Ok(ResetPolicy::Latest),
        Some(other) => Err(ApiError::bad_request(format!(
            "reset must be none, earliest or latest, not {other:?}"
        ))),
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(format!(
            "group name {name:?} must be 1 to 200 printable characters"
        )));
    }
    Ok(())
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    check_name(&body.name)?;
    let reset = parse_reset(body.reset.as_deref())?;
    let log = state.source(&name)?.log.clone();
    let created = blocking(move || Ok(log.create_group(&body.name, reset)?)).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// One of the four, exactly.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SeekBody {
    pub offset: Option<u64>,
    /// RFC 3339 text, or milliseconds since the epoch.
    pub time: Option<serde_json::Value>,
    /// `FILE:POS`.
    pub binlog: Option<String>,
    pub gtid: Option<String>,
}

pub fn seek_target(body: &SeekBody) -> Result<SeekTarget, ApiError> {
    let given = [
        body.offset.is_some(),
        body.time.is_some(),
        body.binlog.is_some(),
        body.gtid.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::bad_request(
            "give exactly one of offset, time, binlog, gtid",
        ));
    }
    if let Some(o) = body.offset {
        return Ok(SeekTarget::Offset(o));
    }
    if let Some(t) = &body.time {
        let ms = match t {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| d.timestamp_millis())
                .or_else(|| s.parse().ok()),
            _ => None,
        };
        return ms.map(SeekTarget::TimeMs).ok_or_else(|| {
            ApiError::bad_request(format!("time {t} is neither RFC 3339 nor milliseconds"))
        });
    }
    if let Some(b) = &body.binlog {
        let (file, pos) = b
            .rsplit_once(':')
            .and_then(|(f, p)| Some((f, p.parse::<u64>().ok()?)))
            .filter(|(f, _)| !f.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(format!("binlog position {b:?} is not FILE:POS"))
            })?;
        return Ok(SeekTarget::Binlog {
            file: file.to_string(),
            pos,
        });
    }
    Ok(SeekTarget::Gtid(body.gtid.clone().unwrap_or_default()))
}

pub async fn seek(
    State(state): State<Arc<AppState>>,
    Path((name, group)): Path<(String, String)>,
    Json(body): Json<SeekBody>,
) -> Result<Json<GroupState>, ApiError> {
    let target = seek_target(&body)?;
    let log = state.source(&name)?.log.clone();
    let g = group.clone();
    let moved = blocking(move || {
        if log.group(&g)?.is_none() {
            return Err(ApiError::not_found(format!("source has no group {g:?}")));
        }
        let offset = log.locate(&target)?;
        log.commit(&g, offset)?;
        log.group(&g)?
            .ok_or_else(|| ApiError::not_found(format!("group {g:?} was deleted meanwhile")))
    })
    .await?;
    Ok(Json(moved))
}

pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path((name, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let log = state.source(&name)?.log.clone();
    let g = group.clone();
    if blocking(move || Ok(log.delete_group(&g)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "source {name:?} has no group {group:?}"
        )))
    }
}
