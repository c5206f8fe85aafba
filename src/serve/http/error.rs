//! The one error type of the HTTP API. Every error leaves the server as a
//! JSON object `{"error": CODE, "detail": TEXT, ...}` with the status code
//! that says what went wrong; `error` is a stable machine-readable code,
//! `detail` a sentence for people.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_storage::StorageError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable code: `bad_request`, `unauthorized`, `not_found`,
    /// `conflict`, `out_of_range`, `internal`, ...
    pub code: &'static str,
    pub detail: String,
    /// Extra fields merged into the body (e.g. `log_start`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// A source name not served; `served` names those that are.
    pub fn unknown_source(name: &str, served: &[&str]) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_source",
            format!("no source named {name:?}; sources: {}", served.join(", ")),
        )
    }

    fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        let detail = e.to_string();
        match e {
            StorageError::GroupOutOfRange {
                name,
                offset,
                start,
            } => ApiError::new(StatusCode::GONE, "group_out_of_range", detail)
                .with("group", json!(name))
                .with("offset", json!(offset))
                .with("log_start", json!(start))
                // The records retention deleted before the group read them.
                .with("lost", json!([offset, start])),
            StorageError::BelowStart { requested, start } => {
                ApiError::new(StatusCode::GONE, "below_log_start", detail)
                    .with("offset", json!(requested))
                    .with("log_start", json!(start))
            }
            StorageError::BeyondEnd { requested, end } => {
                ApiError::new(StatusCode::CONFLICT, "beyond_log_end", detail)
                    .with("offset", json!(requested))
                    .with("log_end", json!(end))
            }
            StorageError::GroupNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "group_not_found", detail)
            }
            StorageError::GroupExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "group_exists", detail)
            }
            StorageError::InvalidGroupName(_) => ApiError::bad_request(detail),
            StorageError::ReadOnly(_) => ApiError::new(StatusCode::CONFLICT, "read_only", detail),
            // A group commit (or creation) on a full disk: nothing was
            // stored; the same request succeeds once there is room.
            e if e.is_disk_full() => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", detail)
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), json!(self.code));
        body.insert("detail".into(), json!(self.detail));
        if let Some(extra) = self.extra {
            body.extend(extra);
        }
        let mut resp = (self.status, axum::Json(serde_json::Value::Object(body))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
