//! Request parts read with the API's own errors: a malformed JSON body or a non-numeric id is
//! an `invalid` error in the usual `{"code", "message", "field"}` shape, not axum's plain text.

use area_core::app::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::HttpError;

/// A JSON body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(e) => Err(rejected("body", json_reason(&e)).into()),
        }
    }
}

fn json_reason(e: &JsonRejection) -> String {
    match e {
        JsonRejection::MissingJsonContentType(_) => "send the body as JSON (Content-Type: application/json)".into(),
        other => format!("the body is not what this route takes: {}", other.body_text()),
    }
}

/// A path's parameters (`/api/areas/{id}`).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => Err(rejected("id", e.body_text()).into()),
            Err(e) => Err(rejected("path", e.body_text()).into()),
        }
    }
}

/// A query string (`?limit=50`).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(e) => Err(rejected("query", e.body_text()).into()),
        }
    }
}

fn rejected(field: &str, message: String) -> ApiError {
    ApiError::invalid(field, message)
}
