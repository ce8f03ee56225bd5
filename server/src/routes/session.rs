//! Accounts and browser sessions: sign up, sign in (throttled per client address), who am I,
//! sign out, and the administrator's invitations.

use std::net::IpAddr;
use std::time::Instant;

use area_core::accounts::{Session, User};
use area_core::app::{App, ErrorCode};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::{cleared_cookie, client_address, csrf_token, session_cookie, Caller};
use crate::body::Body;
use crate::error::HttpError;
use crate::{Server, ServerConfig};

pub(super) fn routes() -> Router<Server> {
    Router::new()
        .route("/api/signup", post(sign_up))
        .route("/api/login", post(log_in))
        .route("/api/logout", post(log_out))
        .route("/api/session", get(session))
        .route("/api/invites", post(invite))
}

/// What signing up or in sends.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Credentials {
    #[schemars(email)]
    email: String,
    /// 8 to 256 characters.
    #[schemars(length(min = 8, max = 256))]
    password: String,
    /// An invitation code, when sign-up is invite-only.
    #[serde(default)]
    invite: Option<String>,
}

/// Who is signed in, and what a page needs to make changes.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SessionView {
    user: User,
    /// Send as the `X-CSRF-Token` header on every POST, PUT and DELETE. Absent for requests
    /// made with an access token, which need none.
    csrf_token: Option<String>,
    /// Whether this user administers the server (may invite people).
    administrator: bool,
}

/// The client address a request came from (see [`client_address`]).
struct ClientAddr(Option<IpAddr>);

impl FromRequestParts<Server> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, server: &Server) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_address(parts, &server.config)))
    }
}

/// The answer to a successful sign-in or sign-up: the session cookie and who is signed in.
async fn signed_in(app: &App, config: &ServerConfig, session: Session, status: StatusCode) -> Response {
    let administrator = app.acting_as(session.user.clone()).is_administrator().await.unwrap_or(false);
    let view = SessionView { csrf_token: Some(csrf_token(&session.token)), user: session.user.clone(), administrator };
    (status, [session_cookie(config, &session)], Json(view)).into_response()
}

/// `POST /api/signup`: creates an account under the server's sign-up policy and signs it in.
async fn sign_up(State(server): State<Server>, Body(form): Body<Credentials>) -> Result<Response, HttpError> {
    let app = &server.app;
    app.register(server.config.sign_up, &form.email, &form.password, form.invite.as_deref()).await?;
    let session = app.open_session(&form.email, &form.password).await?;
    Ok(signed_in(app, &server.config, session, StatusCode::CREATED).await)
}

/// `POST /api/login`: checks the password and sets the session cookie. An address that failed
/// too often waits (429 with `Retry-After`), whatever account it tries.
async fn log_in(
    State(server): State<Server>,
    ClientAddr(ip): ClientAddr,
    Body(form): Body<Credentials>,
) -> Result<Response, HttpError> {
    let throttle = &server.config.throttle;
    if let Some(ip) = ip {
        if let Err(wait) = throttle.check(ip, Instant::now()) {
            let error = area_core::app::ApiError::new(
                ErrorCode::Throttled,
                format!("too many failed sign-ins from your address: try again in {wait} s"),
            );
            return Err(HttpError { error, retry_after: Some(wait) });
        }
    }
    match server.app.open_session(&form.email, &form.password).await {
        Ok(session) => Ok(signed_in(&server.app, &server.config, session, StatusCode::OK).await),
        Err(error) => {
            if let (Some(ip), ErrorCode::Auth | ErrorCode::Throttled) = (ip, error.code) {
                throttle.failed(ip, Instant::now());
            }
            Err(error.into())
        }
    }
}

/// `POST /api/logout`: ends the cookie's session and clears the cookie.
async fn log_out(State(server): State<Server>, caller: Caller) -> Result<Response, HttpError> {
    if let Some(token) = &caller.session {
        server.app.close_session(token).await?;
    }
    Ok((StatusCode::NO_CONTENT, [cleared_cookie(&server.config)]).into_response())
}

/// `GET /api/session`: who is signed in, with the CSRF token a page needs.
async fn session(caller: Caller) -> Result<Json<SessionView>, HttpError> {
    let administrator = caller.app.is_administrator().await?;
    Ok(Json(SessionView { csrf_token: caller.session.as_deref().map(csrf_token), user: caller.user, administrator }))
}

/// A new invitation code.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Invite {
    code: String,
}

/// `POST /api/invites`: the administrator creates a single-use invitation code.
async fn invite(caller: Caller) -> Result<(StatusCode, Json<Invite>), HttpError> {
    Ok((StatusCode::CREATED, Json(Invite { code: caller.app.create_invite().await? })))
}
