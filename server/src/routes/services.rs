//! The catalog: public, like `/about.json`, so a sign-in page can show what Area connects.

use area_core::app::ServiceEntry;
use area_core::catalog::ServiceManifest;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::body::Path;
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/services", get(list)).route("/api/services/{id}", get(one))
}

async fn list(State(server): State<Server>) -> Json<Vec<ServiceEntry>> {
    Json(server.app.services())
}

async fn one(State(server): State<Server>, Path(id): Path<String>) -> Result<Json<ServiceManifest>, HttpError> {
    Ok(Json(server.app.service(&id)?))
}
