//! The user's areas: the dashboard's cards, one area, create, edit, switch on or off, delete,
//! export, and its runs.

use area_core::app::{ApiError, AreaCard, AreaForm, AreaView};
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

/// `?limit=`: how many runs, 1 to [`MAX_RUNS`] (50 when absent).
#[derive(Deserialize)]
pub(super) struct Limit {
    #[serde(default = "default_limit")]
    limit: u32,
}

/// The most runs one request lists.
const MAX_RUNS: u32 = 10_000;

fn default_limit() -> u32 {
    50
}

impl Limit {
    /// The limit, or an `invalid` error naming `limit` when out of range.
    pub(super) fn get(&self) -> Result<u32, ApiError> {
        if (1..=MAX_RUNS).contains(&self.limit) {
            Ok(self.limit)
        } else {
            Err(ApiError::invalid("limit", format!("limit must be 1 to {MAX_RUNS} (it is {})", self.limit)))
        }
    }
}

/// One area's runs, newest first; another user's area is "not found", not an empty list.
async fn runs(caller: Caller, Path(id): Path<i64>, Query(q): Query<Limit>) -> Result<Json<Vec<RunRecord>>, HttpError> {
    let limit = q.get()?;
    caller.app.area(id).await?;
    Ok(Json(caller.app.runs(Some(id), limit).await?))
}
