//! Consumer-group management: list, create (start point + reset policy),
//! show, seek (offset, binlog position, GTID set, time), delete.
//!
//! ```text
//! GET    /v1/sources/{name}/groups                 → [group]
//! POST   /v1/sources/{name}/groups                 {"name", "start"?, "reset"?, "protect"?} → 201 group
//! GET    /v1/sources/{name}/groups/{group}         → group
//! POST   /v1/sources/{name}/groups/{group}/seek    {"to": START} → group
//! DELETE /v1/sources/{name}/groups/{group}         → 204
//! ```
//!
//! `group` is `{"name", "offset", "reset", "committed_at_ms", "protected",
//! "lost_records", "lost"?: [FIRST, END], "lag_records", "lag_bytes"}`;
//! START is the text of [`super::seek`]. A protected group holds retention
//! back; `lost` is the last range retention deleted before the group read
//! it.

use super::changes::{parse_reset, source};
use super::error::ApiError;
use super::seek::{Seek, SeekError};
use super::{blocking, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sluice_storage::{GroupInfo, Log, ResetPolicy};

/// A group as the API shows it.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct GroupView {
    pub name: String,
    pub offset: u64,
    pub reset: String,
    pub committed_at_ms: i64,
    #[serde(default)]
    pub protected: bool,
    /// Records retention deleted before the group read them (in all).
    #[serde(default)]
    pub lost_records: u64,
    /// The last range deleted unread, `[first, end)`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lost: Option<[u64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag_records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag_bytes: Option<u64>,
}

pub fn reset_name(r: ResetPolicy) -> &'static str {
    match r {
        ResetPolicy::None => "none",
        ResetPolicy::Earliest => "earliest",
        ResetPolicy::Latest => "latest",
    }
}

impl GroupView {
    pub fn plain(g: &GroupInfo) -> GroupView {
        GroupView {
            name: g.name.clone(),
            offset: g.offset,
            reset: reset_name(g.reset).to_string(),
            committed_at_ms: g.committed_at_ms,
            protected: g.protected,
            lost_records: g.lost.records,
            lost: (!g.lost.last.is_empty()).then_some([g.lost.last.start, g.lost.last.end]),
            lag_records: None,
            lag_bytes: None,
        }
    }

    /// With its lag (left out if it cannot be computed).
    pub fn with_lag(log: &Log, g: &GroupInfo) -> GroupView {
        let mut v = GroupView::plain(g);
        if let Ok(lag) = log.groups().lag(&g.name) {
            v.lag_records = Some(lag.records);
            v.lag_bytes = Some(lag.bytes);
        }
        v
    }
}

fn seek_err(e: SeekError) -> ApiError {
    match e {
        SeekError::Storage(s) => s.into(),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Creates a group at `start` (default: per the reset policy, earliest
/// unless `latest`). Shared with `sluice groups create --data`.
pub fn create_group(
    log: &Log,
    name: &str,
    start: Option<&Seek>,
    reset: ResetPolicy,
    protected: bool,
) -> Result<GroupInfo, ApiError> {
    let groups = log.groups();
    let g = groups.create_with(name, reset, protected)?;
    match start {
        Some(seek) => {
            let at = seek.resolve(log).map_err(seek_err)?;
            if at == g.offset {
                Ok(g)
            } else {
                Ok(groups.commit(name, at)?)
            }
        }
        None => Ok(g),
    }
}

/// Moves a group to `to`. Shared with `sluice groups seek --data`.
pub fn seek_group(log: &Log, name: &str, to: &Seek) -> Result<GroupInfo, ApiError> {
    let groups = log.groups();
    if groups.get(name)?.is_none() {
        return Err(sluice_storage::StorageError::GroupNotFound(name.to_string()).into());
    }
    let at = to.resolve(log).map_err(seek_err)?;
    Ok(groups.commit(name, at)?)
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let src = source(&state, &name)?;
    let views = blocking(move || -> Result<Vec<GroupView>, ApiError> {
        let list = src.log.groups().list()?;
        Ok(list
            .iter()
            .map(|g| GroupView::with_lag(&src.log, g))
            .collect())
    })
    .await??;
    Ok(Json(views).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    start: Option<String>,
    reset: Option<String>,
    /// Retention keeps what the group has not read.
    #[serde(default)]
    protect: bool,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let src = source(&state, &name)?;
    let reset = match &body.reset {
        Some(r) => parse_reset(r)?,
        None => ResetPolicy::None,
    };
    let start: Option<Seek> = match &body.start {
        Some(s) => Some(s.parse().map_err(seek_err)?),
        None => None,
    };
    let view = blocking(move || -> Result<GroupView, ApiError> {
        let g = create_group(&src.log, &body.name, start.as_ref(), reset, body.protect)?;
        Ok(GroupView::with_lag(&src.log, &g))
    })
    .await??;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path((name, group)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let src = source(&state, &name)?;
    let view = blocking(move || -> Result<GroupView, ApiError> {
        let g = src
            .log
            .groups()
            .get(&group)?
            .ok_or(sluice_storage::StorageError::GroupNotFound(group))?;
        Ok(GroupView::with_lag(&src.log, &g))
    })
    .await??;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeekBody {
    /// Any start point text.
    to: Option<String>,
    offset: Option<u64>,
    time: Option<String>,
    position: Option<String>,
    gtid: Option<String>,
}

impl SeekBody {
    fn seek(&self) -> Result<Seek, ApiError> {
        let given = [
            self.to.is_some(),
            self.offset.is_some(),
            self.time.is_some(),
            self.position.is_some(),
            self.gtid.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ApiError::bad_request(
                "give exactly one of to, offset, time, position, gtid",
            ));
        }
        let text = if let Some(t) = &self.to {
            t.clone()
        } else if let Some(o) = self.offset {
            return Ok(Seek::Offset(o));
        } else if let Some(t) = &self.time {
            format!("time:{t}")
        } else if let Some(p) = &self.position {
            format!("position:{p}")
        } else if let Some(g) = &self.gtid {
            format!("gtid:{g}")
        } else {
            return Err(ApiError::bad_request("no seek target"));
        };
        text.parse().map_err(seek_err)
    }
}

pub(crate) async fn seek(
    State(state): State<AppState>,
    Path((name, group)): Path<(String, String)>,
    body: Result<Json<SeekBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let src = source(&state, &name)?;
    let to = body.seek()?;
    let view = blocking(move || -> Result<GroupView, ApiError> {
        let g = seek_group(&src.log, &group, &to)?;
        Ok(GroupView::with_lag(&src.log, &g))
    })
    .await??;
    Ok(Json(view).into_response())
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((name, group)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let src = source(&state, &name)?;
    let g = group.clone();
    let existed = blocking(move || src.log.groups().delete(&g)).await??;
    if existed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(sluice_storage::StorageError::GroupNotFound(group).into())
    }
}
