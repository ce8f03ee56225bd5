//! The user's activity: every run, newest first, and running one again.

use area_core::engine::history::RunRecord;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::areas::Limit;
use crate::auth::Caller;
use crate::body::{Path, Query};
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/runs", get(list)).route("/api/runs/{id}/rerun", post(rerun))
}

async fn list(caller: Caller, Query(q): Query<Limit>) -> Result<Json<Vec<RunRecord>>, HttpError> {
    Ok(Json(caller.app.runs(None, q.get()?).await?))
}

async fn rerun(caller: Caller, Path(id): Path<i64>) -> Result<StatusCode, HttpError> {
    caller.app.rerun(id).await?;
    Ok(StatusCode::ACCEPTED)
}
