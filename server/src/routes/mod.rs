//! The API's routes, one module per resource; each handler is one call of [`area_core::app::App`]
//! on the handle bound to the request's user.

mod areas;
mod connections;
mod events;
mod invoke;
mod oauth;
mod runs;
mod services;
mod session;
mod tokens;

use axum::Router;

pub(crate) use areas::Enabled;
pub(crate) use connections::TokenForm;
pub use invoke::{DESKTOP_ONLY, SESSION_COMMANDS};
pub(crate) use oauth::{Authorize, Begin, BeginSignIn};
pub(crate) use session::{Credentials, Invite, SessionView};
pub(crate) use tokens::NewToken;

use crate::Server;

/// Every route under `/api`.
pub(crate) fn all() -> Router<Server> {
    Router::new()
        .merge(session::routes())
        .merge(tokens::routes())
        .merge(services::routes())
        .merge(connections::routes())
        .merge(areas::routes())
        .merge(runs::routes())
        .merge(invoke::routes())
        .merge(events::routes())
        .merge(oauth::routes())
        .route("/api/openapi.json", axum::routing::get(|| async { axum::Json(crate::openapi::document()) }))
}
