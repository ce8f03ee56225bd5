//! Connecting a service through its provider from a browser: `POST /api/oauth/begin` answers the
//! provider's authorization address (the page goes there), and the provider sends the browser
//! back to `GET /oauth/callback`, which saves the connection and returns to the app.

use area_core::app::OAUTH_CALLBACK_PATH;
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::body::Body;
use crate::error::HttpError;
use crate::Server;

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/oauth/begin", post(begin)).route(OAUTH_CALLBACK_PATH, get(callback))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Begin {
    service: String,
}

/// Where the browser goes next.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Authorize {
    url: String,
}

async fn begin(caller: Caller, Body(form): Body<Begin>) -> Result<Json<Authorize>, HttpError> {
    Ok(Json(Authorize { url: caller.app.begin_oauth_redirect(&form.service).await? }))
}

/// The provider's redirect. Success returns to the app's Services page; a failure is a small page
/// saying what went wrong (the provider's refusal, an expired or foreign authorization), since
/// the browser arrived here by navigation, not from the app's scripts.
async fn callback(
    State(server): State<Server>,
    caller: Result<Caller, HttpError>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = match caller {
        Ok(caller) => match server.app.oauth_redirect_uri() {
            Ok(base) => caller.app.finish_oauth_redirect(&format!("{base}?{}", query.unwrap_or_default())).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e.error),
    };
    match result {
        Ok(_) => (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response(),
        Err(e) => {
            let page = format!(
                "<!doctype html><meta charset=utf-8><title>Area: not connected</title>\
                 <p>The service was not connected: {}</p><p><a href=\"/\">Back to Area</a></p>",
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
