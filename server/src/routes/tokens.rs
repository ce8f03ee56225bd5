//! Personal access tokens: created (the secret shown once), listed, revoked.

use area_core::accounts::{AccessToken, NewAccessToken};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::Caller;
use crate::body::{Body, Path};
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/tokens", get(list).post(create)).route("/api/tokens/{id}", delete(revoke))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewToken {
    /// What the token is for ("backup script"): 1 to 100 characters, not only spaces.
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    name: String,
}

async fn list(caller: Caller) -> Result<Json<Vec<AccessToken>>, HttpError> {
    Ok(Json(caller.app.access_tokens().await?))
}

async fn create(caller: Caller, Body(form): Body<NewToken>) -> Result<(StatusCode, Json<NewAccessToken>), HttpError> {
    Ok((StatusCode::CREATED, Json(caller.app.create_access_token(&form.name).await?)))
}

async fn revoke(caller: Caller, Path(id): Path<i64>) -> Result<StatusCode, HttpError> {
    caller.app.revoke_access_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
