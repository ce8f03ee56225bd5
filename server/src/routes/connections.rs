//! The user's service connections: listed (never their secrets), saved from a token, removed.

use area_core::connections::ConnectionInfo;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::Caller;
use crate::body::{Body, Path};
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new()
        .route("/api/connections", get(list))
        .route("/api/connections/{service}", put(connect_token).delete(disconnect))
}

/// An API key or token to save for a service.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct TokenForm {
    token: String,
    #[serde(default)]
    label: Option<String>,
}

async fn list(caller: Caller) -> Result<Json<Vec<ConnectionInfo>>, HttpError> {
    Ok(Json(caller.app.list_connections().await?))
}

async fn connect_token(
    caller: Caller,
    Path(service): Path<String>,
    Body(form): Body<TokenForm>,
) -> Result<Json<ConnectionInfo>, HttpError> {
    Ok(Json(caller.app.connect_token(&service, &form.token, form.label.as_deref()).await?))
}

async fn disconnect(caller: Caller, Path(service): Path<String>) -> Result<StatusCode, HttpError> {
    caller.app.disconnect(&service).await?;
    Ok(StatusCode::NO_CONTENT)
}
