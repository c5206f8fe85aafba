//! The change stream: `GET /v1/sources/{name}/changes` answers NDJSON, one
//! or more lines per record in the chosen format.
//!
//! - Long-poll (default): up to `max` records from the group's committed
//!   offset (or `from`); with none there, waits up to `wait_ms` (at most
//!   60 s) for the first. The header `X-Sluice-Next-Offset` is the offset
//!   to commit once the lines are processed; `X-Sluice-Records` how many
//!   records came.
//! - `follow=true`: the response never ends on its own; records are
//!   written as they become durable, until the client closes or the server
//!   stops.
//!
//! Committing is explicit (`POST …/commit?group=G&offset=N`), or, with
//! `auto_commit=true`, done by the server: before a long-poll answer is
//! sent, and in follow mode for each chunk once the next one is produced.
//! Auto-commit is at-most-once (a client that dies after the commit and
//! before processing loses those records); explicit commits are
//! at-least-once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prost::Message as _;
use serde::Deserialize;
use tokio::sync::watch;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::proto::Record;
use crate::serve::destination::{Destination, LogRecord, ResetPolicy};

/// Turns records into NDJSON lines, by format name.
pub trait RecordFormatter: Send + Sync + 'static {
    /// Checks that `format` is known (the error lists the known ones).
    fn check(&self, format: &str) -> Result<(), String>;
    /// Appends the record as newline-terminated JSON to `out`.
    fn write(&self, format: &str, record: &Record, offset: u64, out: &mut Vec<u8>);
}

/// The formats every interface shares ([`crate::format`]): `json`,
/// `canal-json`, `debezium-json`.
pub struct StandardFormats;

impl RecordFormatter for StandardFormats {
    fn check(&self, format: &str) -> Result<(), String> {
        format.parse::<crate::format::Format>().map(|_| ())
    }

    fn write(&self, format: &str, record: &Record, offset: u64, out: &mut Vec<u8>) {
        if let Ok(f) = format.parse::<crate::format::Format>() {
            f.write(record, offset, out);
        }
    }
}

const MAX_WAIT: Duration = Duration::from_secs(60);
const READ_BYTES: usize = 8 << 20;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    pub group: Option<String>,
    pub format: Option<String>,
    pub max: Option<usize>,
    pub wait_ms: Option<u64>,
    pub follow: Option<bool>,
    pub auto_commit: Option<bool>,
    /// Start here instead of at the group's committed offset.
    pub from: Option<u64>,
}

pub async fn changes(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let log = state.source(&name)?.log.clone();
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    state
        .formatter
        .check(&format)
        .map_err(ApiError::bad_request)?;
    let max = q.max.unwrap_or(state.default_max).clamp(1, 100_000);
    if q.auto_commit == Some(true) && q.group.is_none() {
        return Err(ApiError::bad_request("auto_commit needs a group"));
    }
    let start = match (q.from, &q.group) {
        (Some(from), _) => {
            let (s, e) = (log.start_offset(), log.end_offset());
            if from < s || from > e {
                return Err(ApiError::bad_request(format!(
                    "from={from} is outside the log of {name:?}, which holds {s}..{e}"
                )));
            }
            from
        }
        (None, Some(group)) => {
            let (l, g) = (log.clone(), group.clone());
            blocking(move || Ok(l.resume(&g, ResetPolicy::None)?)).await?
        }
        (None, None) => return Err(ApiError::bad_request("give a group, or from=OFFSET")),
    };
    let stream = Stream {
        log,
        formatter: state.formatter.clone(),
        format,
        group: q.group.clone(),
        auto_commit: q.auto_commit == Some(true),
        max,
        next: start,
        end_rx: None,
        stop: state.stop.subscribe(),
        uncommitted: None,
    };
    if q.follow == Some(true) {
        return Ok(follow(stream));
    }
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    long_poll(stream, wait).await
}

struct Stream {
    log: Arc<dyn Destination>,
    formatter: Arc<dyn RecordFormatter>,
    format: String,
    group: Option<String>,
    auto_commit: bool,
    max: usize,
    next: u64,
    end_rx: Option<watch::Receiver<u64>>,
    stop: watch::Receiver<bool>,
    /// Follow mode: the end of the last chunk, committed with the next.
    uncommitted: Option<u64>,
}

impl Stream {
    /// Reads and formats up to `max` records; returns the bytes and count.
    async fn chunk(&mut self) -> Result<(Vec<u8>, usize), ApiError> {
        let (log, from, max) = (self.log.clone(), self.next, self.max);
        let records: Vec<LogRecord> = blocking(move || {
            let mut out = Vec::new();
            log.read(from, max, READ_BYTES, &mut out)?;
            Ok(out)
        })
        .await?;
        let mut body = Vec::with_capacity(records.iter().map(|r| r.payload.len() * 2).sum());
        for r in &records {
            let record = Record::decode(r.payload.clone()).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "record at offset {} is not a valid change event: {e}",
                        r.offset
                    ),
                )
            })?;
            self.formatter
                .write(&self.format, &record, r.offset, &mut body);
            self.next = r.offset + 1;
        }
        Ok((body, records.len()))
    }

    /// Waits until the log grows past `next`, up to `wait`; false on
    /// timeout or shutdown.
    async fn wait(&mut self, wait: Option<Duration>) -> bool {
        let next = self.next;
        let rx = self.end_rx.get_or_insert_with(|| self.log.watch_end());
        let grow = rx.wait_for(|end| *end > next);
        tokio::select! {
            r = grow => r.is_ok(),
            _ = self.stop.wait_for(|s| *s) => false,
            _ = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            } => false,
        }
    }

    async fn commit(&self, offset: u64) -> Result<(), ApiError> {
        if let (true, Some(group)) = (self.auto_commit, &self.group) {
            let (log, g) = (self.log.clone(), group.clone());
            blocking(move || Ok(log.commit(&g, offset)?)).await?;
        }
        Ok(())
    }
}

async fn long_poll(mut s: Stream, wait: Duration) -> Result<Response, ApiError> {
    let (mut body, mut n) = s.chunk().await?;
    if n == 0 && !wait.is_zero() && s.wait(Some(wait)).await {
        (body, n) = s.chunk().await?;
    }
    s.commit(s.next).await?;
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert("x-sluice-next-offset", HeaderValue::from(s.next));
    h.insert("x-sluice-records", HeaderValue::from(n as u64));
    Ok(r)
}

fn follow(s: Stream) -> Response {
    let stream = futures::stream::unfold(Some(s), |state| async move {
        let mut s = state?;
        loop {
            if let Some(done) = s.uncommitted.take() {
                if let Err(e) = s.commit(done).await {
                    return Some((Ok::<Bytes, std::convert::Infallible>(error_line(&e)), None));
                }
            }
            match s.chunk().await {
                Ok((body, n)) if n > 0 => {
                    s.uncommitted = Some(s.next);
                    return Some((Ok(Bytes::from(body)), Some(s)));
                }
                Ok(_) => {
                    if !s.wait(None).await {
                        return None;
                    }
                }
                Err(e) => return Some((Ok(error_line(&e)), None)),
            }
        }
    });
    let mut r = Body::from_stream(stream).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

fn error_line(e: &ApiError) -> Bytes {
    let mut line =
        serde_json::to_vec(&serde_json::json!({ "error": e.message })).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitQuery {
    pub group: String,
    pub offset: u64,
}

pub async fn commit(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<CommitQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let log = state.source(&name)?.log.clone();
    let (g, offset) = (q.group.clone(), q.offset);
    blocking(move || Ok(log.commit(&g, offset)?)).await?;
    Ok(Json(
        serde_json::json!({ "group": q.group, "offset": q.offset }),
    ))
}
