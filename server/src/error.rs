//! Core's [`ApiError`] as an HTTP answer: the status follows the error's code (never its
//! message), and the body is the error itself (`{"code", "message", "field"}`), the same shape
//! the desktop app receives over IPC.

use area_core::app::{ApiError, ErrorCode};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to an API client.
#[derive(Debug)]
pub struct HttpError {
    pub error: ApiError,
    /// Seconds to wait, sent as `Retry-After` (throttled sign-ins).
    pub retry_after: Option<u64>,
}

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError { error, retry_after: None }
    }
}

/// The HTTP status for an error code.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Invalid | ErrorCode::SecretsNeeded => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Auth => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::Connection | ErrorCode::Cancelled => StatusCode::CONFLICT,
        ErrorCode::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Oauth => StatusCode::BAD_GATEWAY,
        ErrorCode::Engine => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Settings | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = status(self.error.code);
        if status.is_server_error() {
            tracing::warn!(code = %self.error.code, error = %self.error.message, "API request failed");
        }
        let mut response = (status, Json(self.error)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        response
    }
}
