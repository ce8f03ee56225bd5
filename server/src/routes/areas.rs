//! The user's areas: the dashboard's cards, one area, create, edit, switch on or off, delete,
//! export, and its runs.

use area_core::app::{AreaCard, AreaForm, AreaView};
use area_core::areas::AreaSummary;
use area_core::engine::history::RunRecord;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::invoke::private_network;
use crate::auth::Caller;
use crate::body::{Body, Path, Query};
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new()
        .route("/api/areas", get(cards).post(create))
        .route("/api/areas/{id}", get(one).put(update).delete(remove))
        .route("/api/areas/{id}/enabled", put(set_enabled))
        .route("/api/areas/{id}/export", get(export))
        .route("/api/areas/{id}/runs", get(runs))
}

async fn cards(caller: Caller) -> Result<Json<Vec<AreaCard>>, HttpError> {
    Ok(Json(caller.app.area_cards().await?))
}

async fn create(caller: Caller, Body(form): Body<AreaForm>) -> Result<(StatusCode, Json<AreaSummary>), HttpError> {
    private_network(&caller, form.allow_private_network).await?;
    Ok((StatusCode::CREATED, Json(caller.app.create_area(form).await?)))
}

async fn one(caller: Caller, Path(id): Path<i64>) -> Result<Json<AreaView>, HttpError> {
    Ok(Json(caller.app.area(id).await?))
}

async fn update(
    caller: Caller,
    Path(id): Path<i64>,
    Body(form): Body<AreaForm>,
) -> Result<Json<AreaSummary>, HttpError> {
    caller.app.area(id).await?; // another user's area is "not found" before anything else
    private_network(&caller, form.allow_private_network).await?;
    Ok(Json(caller.app.update_area(id, form).await?))
}

async fn remove(caller: Caller, Path(id): Path<i64>) -> Result<StatusCode, HttpError> {
    caller.app.delete_area(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Enabled {
    enabled: bool,
}

async fn set_enabled(
    caller: Caller,
    Path(id): Path<i64>,
    Body(form): Body<Enabled>,
) -> Result<Json<AreaSummary>, HttpError> {
    Ok(Json(caller.app.set_area_enabled(id, form.enabled).await?))
}

/// The area file, secrets replaced by placeholders: what "Export" downloads.
async fn export(caller: Caller, Path(id): Path<i64>) -> Result<impl IntoResponse, HttpError> {
    let text = caller.app.export_area(id).await?;
    Ok(([(CONTENT_TYPE, "application/json")], text))
}

#[derive(Deserialize)]
pub(super) struct Limit {
    #[serde(default = "default_limit")]
    pub(super) limit: u32,
}

pub(super) fn default_limit() -> u32 {
    50
}

/// One area's runs, newest first; another user's area is "not found", not an empty list.
async fn runs(caller: Caller, Path(id): Path<i64>, Query(q): Query<Limit>) -> Result<Json<Vec<RunRecord>>, HttpError> {
    caller.app.area(id).await?;
    Ok(Json(caller.app.runs(Some(id), q.limit).await?))
}
