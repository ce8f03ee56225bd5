//! The webhook listener: `POST /hooks/{token}` records the body as an event of the area holding
//! that secret token and answers 202 only once the event is durably recorded. A wrong content
//! type (415), a malformed body (400) or an oversized one (413) is refused and records nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use super::delivery::dispatch;
use super::writer::NewEvent;
use super::{EngineError, Shared};
use crate::services::webhook::event_from_body;

/// Headers a sender may use to make its retries idempotent: the same value is the same event.
const KEY_HEADERS: [&str; 3] = ["idempotency-key", "x-idempotency-key", "x-request-id"];

/// Binds the listener and serves it in the background until `stop`.
pub async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, EngineError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| EngineError::Listen { addr, source })?;
    let local = listener.local_addr().map_err(|source| EngineError::Listen { addr, source })?;
    let limit = shared.config.max_webhook_body;
    let app = Router::new()
        .route("/hooks/{token}", post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Hook { shared, seq: Arc::new(AtomicU64::new(0)), boot: boot_id() });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "webhook listener stopped");
        }
    });
    tracing::info!(%local, "listening for webhooks");
    Ok(local)
}

#[derive(Clone)]
struct Hook {
    shared: Arc<Shared>,
    seq: Arc<AtomicU64>,
    boot: String,
}

fn boot_id() -> String {
    let mut bytes = [0u8; 6];
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn receive(State(hook): State<Hook>, Path(token): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let shared = &hook.shared;
    let Some(area) = shared.table().by_token.get(&token).and_then(|id| shared.area(*id)) else {
        return error(StatusCode::NOT_FOUND, "no enabled area has this webhook URL");
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let ingredients = match event_from_body(content_type, &body, shared.config.max_webhook_body) {
        Ok(i) => i,
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return error(status, e.to_string());
        }
    };
    let key = KEY_HEADERS
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(|v| format!("key:{v}"))
        .unwrap_or_else(|| format!("hook:{}-{}", hook.boot, hook.seq.fetch_add(1, Ordering::Relaxed)));
    let passes = area.passes(&ingredients);
    let event = NewEvent { key: key.clone(), ingredients, passes };
    match shared.writer.ingest(area.id, vec![event], false, None).await {
        Ok(runs) => {
            let fired = !runs.is_empty();
            for run in runs {
                dispatch(shared, run);
            }
            let status = if fired || !passes { StatusCode::ACCEPTED } else { StatusCode::OK };
            (status, Json(json!({ "accepted": true, "event": key, "duplicate": !fired && passes, "skipped": !passes })))
                .into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
