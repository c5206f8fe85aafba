//! API errors: a status and a message, answered as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::serve::destination::DestinationError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<DestinationError> for ApiError {
    fn from(e: DestinationError) -> Self {
        let status = match &e {
            DestinationError::OutOfRange { .. } | DestinationError::BadTarget { .. } => {
                StatusCode::BAD_REQUEST
            }
            DestinationError::GroupOutOfRange { .. } => StatusCode::GONE,
            DestinationError::GroupExists { .. } => StatusCode::CONFLICT,
            DestinationError::GroupNotFound { .. } => StatusCode::NOT_FOUND,
            DestinationError::Storage { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
