//! Authorizing through a provider from a browser: `POST /api/oauth/begin` (connect a service) and
//! `POST /api/signin/begin` (sign in with GitHub or Google) answer the provider's authorization
//! address (the page goes there), and the provider sends the browser back to
//! `GET /oauth/callback`, which saves the connection or opens the session, then returns to the app.

use area_core::app::{RedirectOutcome, OAUTH_CALLBACK_PATH};
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::{session_cookie, Caller};
use crate::body::Body;
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new()
        .route("/api/oauth/begin", post(begin))
        .route("/api/signin/begin", post(begin_signin))
        .route(OAUTH_CALLBACK_PATH, get(callback))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Begin {
    service: String,
}

/// Which identity provider to sign in with, and the invitation when sign-up is invite-only.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct BeginSignIn {
    /// `github` or `google`.
    provider: String,
    #[serde(default)]
    invite: Option<String>,
}

/// Where the browser goes next.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Authorize {
    url: String,
}

async fn begin(caller: Caller, Body(form): Body<Begin>) -> Result<Json<Authorize>, HttpError> {
    Ok(Json(Authorize { url: caller.app.begin_oauth_redirect(&form.service).await? }))
}

/// `POST /api/signin/begin`: signed out, signs in (or creates the account, as the server's
/// sign-up policy allows); signed in, links the identity to the account.
async fn begin_signin(
    State(server): State<Server>,
    caller: Result<Caller, HttpError>,
    Body(form): Body<BeginSignIn>,
) -> Result<Json<Authorize>, HttpError> {
    let app = caller.map(|c| c.app).unwrap_or_else(|_| server.app.clone());
    let url = app.begin_signin_redirect(&form.provider, server.config.sign_up, form.invite.as_deref()).await?;
    Ok(Json(Authorize { url }))
}

/// The provider's redirect. Success returns to the app (with the session cookie after a
/// sign-in); a failure is a small page saying what went wrong (the provider's refusal, an
/// expired or foreign authorization, sign-up closed), since the browser arrived here by
/// navigation, not from the app's scripts.
async fn callback(
    State(server): State<Server>,
    caller: Result<Caller, HttpError>,
    RawQuery(query): RawQuery,
) -> Response {
    let app = caller.map(|c| c.app).unwrap_or_else(|_| server.app.clone());
    let result = match app.oauth_redirect_uri() {
        Ok(base) => app.finish_redirect(&format!("{base}?{}", query.unwrap_or_default())).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(RedirectOutcome::SignedIn(session)) => {
            let cookie = session_cookie(&server.config, &session);
            (StatusCode::SEE_OTHER, [(LOCATION, "/".to_string()), (cookie.0, cookie.1)]).into_response()
        }
        Ok(RedirectOutcome::Connected(_) | RedirectOutcome::Linked(_)) => {
            (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response()
        }
        Err(e) => {
            let page = format!(
                "<!doctype html><meta charset=utf-8><title>Area: not done</title>\
                 <p>That did not work: {}</p><p><a href=\"/\">Back to Area</a></p>",
                escape_html(&e.message)
            );
            (
                crate::error::status(e.code),
                [(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, "default-src 'none'")],
                page,
            )
                .into_response()
        }
    }
}

/// Text shown in the error page: the provider's words may contain anything.
fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}
