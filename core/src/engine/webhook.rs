//! The webhook listener: `POST /hooks/{token}` records the body as an event of the area holding
//! that secret token and answers 202 only once the event is durably recorded (200 with
//! `"duplicate": true` when the sender's `Idempotency-Key` was already recorded; 503 with
//! `Retry-After` when the write failed). A wrong content type (415), a malformed body (400) or an
//! oversized one (413) is refused and records nothing.
//!
//! It is a bounded server (ARCHITECTURE.md, "Trust rules"), served with hyper directly because
//! `axum::serve` has no per-connection timeouts:
//! - at most [`EngineConfig::webhook_max_connections`] connections; one over the cap is closed
//!   at once rather than queued;
//! - a request's headers must arrive within [`EngineConfig::webhook_header_timeout`] (a
//!   half-open or idle connection is closed after it) and its body within
//!   [`EngineConfig::webhook_body_timeout`] (408);
//! - the token is checked before the body is read: an unknown one is answered 404 at once;
//! - accepted events hold a slot of a bounded queue until delivered (or handed over to the
//!   store's retry schedule); a sender finding the queue full waits up to
//!   [`EngineConfig::webhook_queue_wait`] for room, then gets `503` + `Retry-After` and
//!   nothing is recorded. Nothing answered 202 is ever lost: it is committed first.
//!
//! [`EngineConfig::webhook_max_connections`]: super::EngineConfig::webhook_max_connections
//! [`EngineConfig::webhook_header_timeout`]: super::EngineConfig::webhook_header_timeout
//! [`EngineConfig::webhook_body_timeout`]: super::EngineConfig::webhook_body_timeout
//! [`EngineConfig::webhook_queue_wait`]: super::EngineConfig::webhook_queue_wait

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::delivery::dispatch_holding;
use super::writer::NewEvent;
use super::{EngineError, Shared};
use crate::catalog::ActionKind;

/// Headers a sender may use to make its retries idempotent: the same value is the same event.
const KEY_HEADERS: [&str; 3] = ["idempotency-key", "x-idempotency-key", "x-request-id"];

/// What a sender refused with `503` is told to wait, in seconds: deliveries usually free a
/// queue slot well within it.
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long a stopping listener lets a request under way finish. A sender cut off gets no
/// answer and retries: only `202` promises that an event was recorded.
const DRAIN_ON_STOP: Duration = Duration::from_secs(2);

/// A failed `accept` (out of file descriptors, say) is retried after this pause rather than
/// in a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Binds the listener and serves it in the background (in the engine's task tracker) until
/// `stop`.
pub async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Receiver<bool>,
) -> Result<SocketAddr, EngineError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| EngineError::Listen { addr, source })?;
    let local = listener.local_addr().map_err(|source| EngineError::Listen { addr, source })?;
    let config = &shared.config;
    let limits = Limits {
        connections: Arc::new(Semaphore::new(config.webhook_max_connections.max(1))),
        header_timeout: config.webhook_header_timeout,
        tls: config.tls.clone().map(tokio_rustls::TlsAcceptor::from),
    };
    let hook = Hook {
        queue: Arc::new(Semaphore::new(config.webhook_queue.max(1))),
        shared: shared.clone(),
        seq: Arc::new(AtomicU64::new(0)),
        boot: boot_id(),
    };
    let app = Router::new()
        .route("/hooks/{token}", post(receive))
        .route("/about.json", axum::routing::get(about))
        .with_state(hook);
    let app = match &config.routes {
        Some(routes) => app.merge(routes.clone()),
        None => app,
    };
    shared.tasks.spawn(accept_loop(shared.clone(), listener, app, limits, stop));
    tracing::info!(%local, tls = config.tls.is_some(), "listening for webhooks");
    Ok(local)
}

struct Limits {
    connections: Arc<Semaphore>,
    header_timeout: Duration,
    /// Set when the listener speaks TLS.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut refused: u64 = 0;
    loop {
        let socket = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a webhook connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Over the cap: closed at once, so a flood costs a socket for microseconds, not a
        // connection slot for as long as the flooder likes.
        let (socket, peer) = socket;
        let Ok(slot) = limits.connections.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(refused, "webhook connections over the cap were closed");
            }
            drop(socket);
            continue;
        };
        // The caller's address, for `about.json`'s `client.host`.
        let service = TowerToHyperService::new(app.clone().layer(axum::Extension(Peer(peer))));
        let header_timeout = limits.header_timeout;
        let tls = limits.tls.clone();
        let stop = stop.clone();
        shared.tasks.spawn(async move {
            let _slot = slot;
            match tls {
                // The handshake must end within the header timeout too: a client that opens a
                // connection and says nothing holds a slot no longer over TLS than without it.
                Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(socket)).await {
                    Ok(Ok(stream)) => serve_connection(stream, service, header_timeout, stop).await,
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
                None => serve_connection(socket, service, header_timeout, stop).await,
            }
        });
    }
}

/// Serves HTTP/1.1 on one accepted connection (plain or TLS) until it ends or the engine stops.
async fn serve_connection<I, S>(io: I, service: S, header_timeout: Duration, mut stop: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped(&mut stop) => {
            // Let a request under way finish, then close. hyper only closes a
            // connection at once between requests, so one still trickling its first
            // headers is cut off here, rather than holding up the engine's shutdown.
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(DRAIN_ON_STOP, connection).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    };
    if let Err(e) = result {
        // Timeouts and senders going away; never the request line (it holds the token).
        tracing::debug!(error = %e, "webhook connection ended");
    }
}

/// Resolves once the engine is stopping (or gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[derive(Clone)]
struct Hook {
    shared: Arc<Shared>,
    /// Slots of accepted, not yet delivered events.
    queue: Arc<Semaphore>,
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

/// An answer sent before the body was read whole: the connection is closed after it, rather
/// than kept for a body nobody will read.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    TimedOut,
    Broken,
}

/// Reads at most `limit` bytes of body within `timeout`.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if buf.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| BodyError::TimedOut)?
}

/// A slot of the delivery queue, at once or within `wait`; `None` when the queue stayed full.
async fn queue_slot(queue: &Arc<Semaphore>, wait: Duration) -> Option<OwnedSemaphorePermit> {
    match queue.clone().try_acquire_owned() {
        Ok(slot) => Some(slot),
        Err(_) if wait.is_zero() => None,
        Err(_) => tokio::time::timeout(wait, queue.clone().acquire_owned()).await.ok()?.ok(),
    }
}

/// The address a connection came from, as a request extension: routes added through
/// [`super::EngineConfig::routes`] read it (sign-in throttling by client address).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// `GET /about.json`: the AREA project's description of this Area (`client.host` is the caller's
/// address, `server.current_time` the time in Unix seconds, then every service's actions and
/// reactions), on the same listener as the webhooks, as the coming server will serve it.
async fn about(State(hook): State<Hook>, axum::Extension(Peer(peer)): axum::Extension<Peer>) -> Response {
    let now = chrono::Utc::now().timestamp();
    Json(crate::about::about_json(&hook.shared.config.catalog, &peer.ip().to_string(), now)).into_response()
}

async fn receive(State(hook): State<Hook>, Path(token): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let shared = &hook.shared;
    // 1. The token, before anything of the body is read; an unknown one after a look for edits
    //    another process (the window, the `area` command) made since the last periodic check.
    let lookup = || shared.table().by_token.get(&token).and_then(|id| shared.area(*id));
    let found = match lookup() {
        Some(area) => Some(area),
        None => {
            shared.look_for_edits_now().await;
            lookup()
        }
    };
    let Some(area) = found else {
        return closing(error(StatusCode::NOT_FOUND, "no enabled area has this webhook URL"));
    };
    // 2. A queue slot, held until the event is delivered; a full queue is waited on a while.
    let Some(slot) = queue_slot(&hook.queue, shared.config.webhook_queue_wait).await else {
        let mut response = closing(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many webhook events are waiting to be delivered: retry in {RETRY_AFTER_SECS} seconds"),
        ));
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        return response;
    };
    // 3. The body, bounded in size and time.
    let limit = shared.config.max_webhook_body;
    let too_large =
        || closing(error(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the {limit} bytes allowed")));
    let announced = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let timeout = shared.config.webhook_body_timeout;
    let body = match read_body(body, limit, timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::TimedOut) => {
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} seconds", timeout.as_secs_f32()),
            ))
        }
        Err(BodyError::Broken) => return closing(error(StatusCode::BAD_REQUEST, "the body could not be read")),
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let ActionKind::Pushed(action) = &area.action else {
        return closing(error(StatusCode::NOT_FOUND, "no enabled area has this webhook URL"));
    };
    let ingredients = match action.event_from_body(content_type, &body, limit) {
        Ok(i) => i,
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            return error(status, e.message);
        }
    };
    let key = KEY_HEADERS
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(|v| format!("key:{v}"))
        .unwrap_or_else(|| format!("hook:{}-{}", hook.boot, hook.seq.fetch_add(1, Ordering::Relaxed)));
    let skip_reason = area.skip_reason(&ingredients);
    let passes = skip_reason.is_none();
    let event = NewEvent { key: key.clone(), ingredients, skip_reason };
    // 4. Durably recorded, then acknowledged.
    match shared.writer.ingest(area.id, vec![event], false, None).await {
        Ok(runs) => {
            let fired = !runs.is_empty();
            let mut slot: Option<OwnedSemaphorePermit> = Some(slot);
            for run in runs {
                dispatch_holding(shared, run, slot.take());
            }
            let status = if fired || !passes { StatusCode::ACCEPTED } else { StatusCode::OK };
            (status, Json(json!({ "accepted": true, "event": key, "duplicate": !fired && passes, "skipped": !passes })))
                .into_response()
        }
        Err(e) => {
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, e);
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
    }
}
