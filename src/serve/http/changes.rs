//! `GET /v1/sources/{name}/changes`: change events as NDJSON, and
//! `POST /v1/sources/{name}/groups/{group}/commit`.
//!
//! Two modes:
//! - long-poll (default): wait up to `wait_ms` for the first record, then
//!   answer with what is durable, at most `max` records (a transaction
//!   split into parts is never cut). Headers `Sluice-Next-Offset` (the
//!   offset to commit or to continue from) and `Sluice-Log-End`.
//! - `follow=true`: stream records as they become durable until the client
//!   closes the connection (or `max` records were sent).
//!
//! With `group=G` the read starts at the group's committed offset (a group
//! that does not exist is created, at `from` or per `reset`); with
//! `auto_commit=true` the group's offset is committed once the records are
//! handed to the connection (at-most-once for the client: commit
//! explicitly after processing for at-least-once). Without a group, `from`
//! says where to read (default: earliest).
//!
//! Waiting is async (the log's durable listener wakes a `Notify`); reading
//! and formatting run on the blocking pool, so no runtime thread stalls.

use super::error::ApiError;
use super::seek::Seek;
use super::source::Source;
use super::{blocking, AppState};
use crate::format::Format;
use crate::proto;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prost::Message;
use serde::Deserialize;
use sluice_storage::{Reader, ResetPolicy};
use std::sync::Arc;
use std::time::Duration;

/// Default and largest `max` of a long-poll.
pub const DEFAULT_MAX: usize = 1000;
pub const LIMIT_MAX: usize = 1_000_000;
/// Longest `wait_ms`.
pub const LIMIT_WAIT_MS: u64 = 300_000;
/// A long-poll answer stops growing past this many bytes.
const BODY_BYTES: usize = 32 << 20;
/// Size of the chunks a followed stream is written in.
const CHUNK_BYTES: usize = 128 << 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    group: Option<String>,
    format: Option<String>,
    max: Option<usize>,
    wait_ms: Option<u64>,
    follow: Option<bool>,
    auto_commit: Option<bool>,
    /// Start point: of the read without a group, or of a group created here.
    from: Option<String>,
    /// Reset policy of a group created here: none, earliest, latest.
    reset: Option<String>,
}

/// Parses `none`, `earliest`, `latest`.
pub fn parse_reset(text: &str) -> Result<ResetPolicy, ApiError> {
    match text {
        "none" => Ok(ResetPolicy::None),
        "earliest" => Ok(ResetPolicy::Earliest),
        "latest" => Ok(ResetPolicy::Latest),
        other => Err(ApiError::bad_request(format!(
            "reset {other:?}: expected none, earliest or latest"
        ))),
    }
}

pub(super) fn source(state: &AppState, name: &str) -> Result<Arc<Source>, ApiError> {
    state.sources.get(name).cloned().ok_or_else(|| {
        let mut served: Vec<&str> = state.sources.iter().map(|s| s.name.as_str()).collect();
        served.sort_unstable();
        ApiError::unknown_source(name, &served)
    })
}

pub(crate) async fn changes(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let src = source(&state, &name)?;
    let format: Format = match &q.format {
        Some(f) => f.parse().map_err(ApiError::bad_request)?,
        None => Format::Json,
    };
    if q.max == Some(0) {
        return Err(ApiError::bad_request("max must be at least 1"));
    }
    if q.max.is_some_and(|m| m > LIMIT_MAX) {
        return Err(ApiError::bad_request(format!(
            "max must be at most {LIMIT_MAX}"
        )));
    }
    let wait = q.wait_ms.unwrap_or(0);
    if wait > LIMIT_WAIT_MS {
        return Err(ApiError::bad_request(format!(
            "wait_ms must be at most {LIMIT_WAIT_MS}"
        )));
    }
    let auto_commit = q.auto_commit.unwrap_or(false);
    if auto_commit && q.group.is_none() {
        return Err(ApiError::bad_request("auto_commit needs a group"));
    }
    let from_seek: Option<Seek> = match &q.from {
        Some(f) => Some(
            f.parse()
                .map_err(|e: super::seek::SeekError| ApiError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let reset = match &q.reset {
        Some(r) => Some(parse_reset(r)?),
        None => None,
    };
    let start = {
        let src = src.clone();
        let group = q.group.clone();
        blocking(move || start_offset(&src, group.as_deref(), from_seek, reset)).await??
    };
    let group = q.group.clone();
    if q.follow.unwrap_or(false) {
        return Ok(follow(
            src,
            start,
            format,
            q.max,
            group.filter(|_| auto_commit),
        ));
    }
    long_poll(
        src,
        start,
        format,
        q.max.unwrap_or(DEFAULT_MAX),
        Duration::from_millis(wait),
        group.filter(|_| auto_commit),
    )
    .await
}

/// Where a read starts: the group's resume offset (creating the group if
/// needed), or `from`.
fn start_offset(
    src: &Source,
    group: Option<&str>,
    from: Option<Seek>,
    reset: Option<ResetPolicy>,
) -> Result<u64, ApiError> {
    let log = &src.log;
    let Some(group) = group else {
        let seek = from.unwrap_or(Seek::Earliest);
        return seek
            .resolve(log)
            .map_err(|e| ApiError::bad_request(e.to_string()));
    };
    let groups = log.groups();
    if groups.get(group)?.is_none() {
        let created = match groups.create(group, reset.unwrap_or_default()) {
            Err(sluice_storage::StorageError::GroupExists(_)) => None,
            r => Some(r?),
        };
        if let (Some(g), Some(seek)) = (created, from) {
            let at = seek
                .resolve(log)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            if at != g.offset {
                groups.commit(group, at)?;
            }
        }
    }
    Ok(groups.resume_offset(group)?)
}

/// Formats records from `reader` into `out` until `max` records (never
/// stopping inside a split transaction), `bytes` of output or the durable
/// end. Returns the number of records read.
pub fn fill(
    reader: &mut Reader,
    format: Format,
    max: usize,
    bytes: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ApiError> {
    let mut n = 0;
    let mut inside_split = false;
    while inside_split || (n < max && out.len() < bytes) {
        let Some(rec) = reader.next()? else { break };
        let event = proto::Record::decode(rec.payload().as_ref()).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_record",
                format!("log record {} is not a change event: {e}", rec.offset),
            )
        })?;
        inside_split = !event.last_part && event.snapshot.is_none();
        format.write(&event, rec.offset, out);
        n += 1;
    }
    Ok(n)
}

async fn long_poll(
    src: Arc<Source>,
    start: u64,
    format: Format,
    max: usize,
    wait: Duration,
    commit_group: Option<String>,
) -> Result<Response, ApiError> {
    if !wait.is_zero() && src.log.durable_end() <= start {
        src.wait_beyond(start, wait).await;
    }
    let (body, next, end) = blocking(move || -> Result<_, ApiError> {
        let mut reader = src.log.read_from(start)?;
        let mut out = Vec::with_capacity(64 << 10);
        fill(&mut reader, format, max, BODY_BYTES, &mut out)?;
        let next = reader.position();
        if let Some(g) = commit_group {
            if next != start {
                src.log.groups().commit(&g, next)?;
            }
        }
        Ok((out, next, src.log.durable_end()))
    })
    .await??;
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert("sluice-next-offset", HeaderValue::from(next));
    h.insert("sluice-log-end", HeaderValue::from(end));
    Ok(resp)
}

fn follow(
    src: Arc<Source>,
    start: u64,
    format: Format,
    max: Option<usize>,
    commit_group: Option<String>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let mut reader = match src.log.read_from(start) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
        };
        let mut left = max.unwrap_or(usize::MAX);
        while left > 0 {
            let (r, out, got) = match blocking(move || {
                let mut out = Vec::with_capacity(CHUNK_BYTES + (16 << 10));
                let got = fill(&mut reader, format, left, CHUNK_BYTES, &mut out);
                (reader, out, got)
            })
            .await
            {
                Ok(v) => v,
                Err(_) => return,
            };
            reader = r;
            let got = match got {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(source = %src.name, "change stream ended: {}", e.detail);
                    let _ = tx.send(Err(std::io::Error::other(e.detail))).await;
                    return;
                }
            };
            if got > 0 {
                left = left.saturating_sub(got);
                if tx.send(Ok(Bytes::from(out))).await.is_err() {
                    return;
                }
                if let Some(g) = &commit_group {
                    let (log, g, at) = (src.log.clone(), g.clone(), reader.position());
                    let _ = blocking(move || {
                        if let Err(e) = log.groups().commit(&g, at) {
                            tracing::warn!(group = %g, "auto-commit failed: {e}");
                        }
                    })
                    .await;
                }
                continue;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = src.wait_beyond(reader.position(), Duration::from_secs(30)) => {}
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    offset: u64,
}

pub(crate) async fn commit(
    State(state): State<AppState>,
    Path((name, group)): Path<(String, String)>,
    body: Result<Json<CommitBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let src = source(&state, &name)?;
    let g = blocking(move || src.log.groups().commit(&group, body.offset)).await??;
    Ok(Json(super::groups::GroupView::plain(&g)).into_response())
}
