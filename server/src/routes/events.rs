//! `GET /api/events`: the desktop app's change notifications as server-sent events, so an open
//! page reloads what changed (a run finished, an area was paused) without polling. Only the
//! kind of change travels; the page then asks for its own user's data.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Caller;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/events", get(events))
}

async fn events(caller: Caller) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = caller.app.subscribe();
    let stream = futures_util::stream::unfold(changes, |mut changes| async move {
        loop {
            match changes.recv().await {
                Ok(change) => {
                    let event = Event::default().event("app-event").json_data(&change).unwrap_or_default();
                    return Some((Ok(event), changes));
                }
                // A slow page missed some: it still hears the next ones.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}
