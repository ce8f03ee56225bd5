//! Area as a server: core's use-case API ([`App`]) over HTTP, for many users at once.
//!
//! [`router`] gives the routes; `area serve` hands them to the engine's listener
//! ([`App::serve_with`]), so the API, `/hooks/<token>` and `/about.json` share one port and one
//! set of connection limits and timeouts. This crate holds only the transport: how a request
//! proves who it is (a session cookie with its CSRF token, or a personal access token), how
//! errors become statuses, and how sign-in guesses are throttled per client address. What a
//! token, an area or a run *is* stays in core, and every handler is one call of [`App`] made
//! on a handle bound to the request's user ([`App::acting_as`]), which is what keeps one
//! user's data out of another's reach.

mod auth;
mod body;
mod error;
pub mod openapi;
mod routes;
mod throttle;
pub mod web;

use std::sync::Arc;

use area_core::app::{App, SignUp};
use axum::Router;

pub use auth::{csrf_token, CSRF_HEADER, SESSION_COOKIE};
pub use error::HttpError;
pub use routes::{DESKTOP_ONLY, SESSION_COMMANDS};
pub use throttle::LoginThrottle;

/// How a server is reached and who may join it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address users reach the server at; an `https` one marks cookies `Secure`.
    pub public_url: Option<url::Url>,
    /// Who may create an account (the first account is always allowed: the administrator).
    pub sign_up: SignUp,
    /// Take the client's address from the last `X-Forwarded-For` entry (behind one reverse
    /// proxy that sets it) instead of the connection's peer.
    pub trust_forwarded: bool,
    /// Failed sign-ins per client address before it must wait.
    pub throttle: LoginThrottle,
}

impl ServerConfig {
    /// A server at `public_url` with the given sign-up policy and default limits.
    pub fn new(public_url: Option<url::Url>, sign_up: SignUp) -> ServerConfig {
        ServerConfig { public_url, sign_up, trust_forwarded: false, throttle: LoginThrottle::default() }
    }

    /// Whether cookies must only travel over https.
    fn secure_cookies(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }
}

/// What every handler receives: the app and the server's configuration.
#[derive(Clone)]
struct Server {
    app: App,
    config: Arc<ServerConfig>,
}

/// The API's routes over `app`, to serve with [`App::serve_with`].
pub fn router(app: App, config: ServerConfig) -> Router {
    routes::all().fallback(axum::routing::get(web::serve)).with_state(Server { app, config: Arc::new(config) })
}
