//! Google's services — [`gmail`], [`google_drive`], [`youtube`] — and what they share: the
//! Google OAuth2 provider ([`google_provider`], one `google` connection for all three) and
//! Google's error mapping ([`google_error`], [`google_error_in_body`], [`google_json`]).
//!
//! Google errors ([`google_error`]): 401 → [`ConnectorError::AuthExpired`]; 403/429 with
//! reason `rateLimitExceeded`/`userRateLimitExceeded` → a 429 status (retryable, honouring
//! `Retry-After`); `quotaExceeded`/`dailyLimitExceeded` → a permanent 403 saying the project's
//! daily quota is used up; `insufficientPermissions` → permanent, asking to reconnect Google;
//! other 403 and 404 → permanent, naming the resource. An `{"error": …}` body in a 2xx
//! response is mapped the same way by its `code`.

pub mod gmail;
pub mod google_drive;
pub mod youtube;

use serde::Deserialize;
use serde_json::Value;

use super::kit::ERROR_EXCERPT_CHARS;
use crate::services::kit::prelude::*;

/// The Google OAuth2 provider with these scopes. Every Google service uses it, so Gmail, Drive
/// and YouTube share one `google` connection (asking for the union of their scopes). Offline
/// access + consent prompt make Google return a refresh token.
pub fn google_provider(scopes: Vec<&'static str>) -> OAuthProvider {
    OAuthProvider {
        id: "google",
        auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        scopes,
        extra_auth_params: vec!["access_type=offline", "prompt=consent"],
        loopback_host: LoopbackHost::Ip,
    }
}

// ---------------------------------------------------------------------------------------------
// Google errors

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleErrorBody {
    error: Option<GoogleErrorObj>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleErrorObj {
    code: Option<i64>,
    message: Option<String>,
    status: Option<String>,
    errors: Vec<GoogleErrorItem>,
    details: Vec<GoogleErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleErrorItem {
    reason: Option<String>,
    message: Option<String>,
}

/// `rateLimitExceeded`, `RATE_LIMIT_EXCEEDED` → `ratelimitexceeded`.
fn normalise_reason(reason: &str) -> String {
    reason.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

fn parse_google_error(body: &[u8]) -> Option<GoogleErrorObj> {
    serde_json::from_slice::<GoogleErrorBody>(body).ok()?.error
}

/// Maps a Google API error response to a [`ConnectorError`] (see the module doc). `resource`
/// names what was asked for (`the search "in:inbox"`, `folder "abc"`…) so that permanent
/// errors say what is missing or forbidden.
pub fn google_error(service: &str, resource: &str, response: &HttpResponseData) -> ConnectorError {
    let parsed = parse_google_error(&response.body);
    let reasons: Vec<String> = parsed
        .as_ref()
        .map(|e| e.errors.iter().chain(&e.details).filter_map(|i| i.reason.as_deref()).map(normalise_reason).collect())
        .unwrap_or_default();
    let has = |r: &str| reasons.iter().any(|x| x == r);
    let upstream = parsed
        .as_ref()
        .and_then(|e| {
            e.message.clone().or_else(|| e.errors.iter().find_map(|i| i.message.clone())).or_else(|| e.status.clone())
        })
        .map(|m| excerpt(&m));
    let generic = status_error(service, response);
    let (excerpt, retry_after) = match &generic {
        ConnectorError::Status { message, retry_after, .. } => {
            (upstream.unwrap_or_else(|| message.clone()), *retry_after)
        }
        _ => (upstream.unwrap_or_default(), None),
    };
    let status_err = |status: u16, message: String| ConnectorError::Status {
        service: service.to_string(),
        status,
        message,
        retry_after,
    };
    match response.status {
        401 => ConnectorError::AuthExpired { service: service.to_string() },
        403 | 429 if has("ratelimitexceeded") || has("userratelimitexceeded") => {
            status_err(429, format!("Google rate limit exceeded while reading {resource}; backing off: {excerpt}"))
        }
        403 | 429 if has("quotaexceeded") || has("dailylimitexceeded") => status_err(
            403,
            format!(
                "the Google Cloud project's daily API quota is used up ({resource}); it resets at midnight Pacific \
                 time, or raise it in the Cloud Console: {excerpt}"
            ),
        ),
        403 if has("insufficientpermissions") || has("accesstokenscopeinsufficient") => status_err(
            403,
            format!("the Google connection lacks the permission needed for {resource}; reconnect Google: {excerpt}"),
        ),
        403 => status_err(403, format!("access to {resource} is forbidden: {excerpt}")),
        404 => status_err(404, format!("{resource} was not found: {excerpt}")),
        _ => generic,
    }
}

/// An `{"error": {...}}` body inside a 2xx response, mapped like a real error status (by its
/// `code`, or as a malformed response when it has none). `None` when the body is no error.
pub fn google_error_in_body(service: &str, resource: &str, response: &HttpResponseData) -> Option<ConnectorError> {
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    let error = value.get("error").filter(|e| !e.is_null())?;
    let code = error.get("code").and_then(Value::as_u64).filter(|c| (400..600).contains(c));
    Some(match code {
        Some(code) => {
            let fake = HttpResponseData {
                status: code as u16,
                headers: response.headers.clone(),
                body: response.body.clone(),
            };
            google_error(service, resource, &fake)
        }
        None => ConnectorError::BadResponse {
            service: service.to_string(),
            message: format!(
                "an error came back with HTTP {}: {}",
                response.status,
                truncate_chars(&error.to_string(), ERROR_EXCERPT_CHARS - 1)
            ),
        },
    })
}

/// Parses a 2xx JSON body, turning an embedded error or non-JSON into errors.
pub fn google_json<T: serde::de::DeserializeOwned>(
    service: &str,
    resource: &str,
    response: &HttpResponseData,
) -> Result<T, ConnectorError> {
    if let Some(e) = google_error_in_body(service, resource, response) {
        return Err(e);
    }
    serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: service.to_string(),
        message: format!("the body is not the documented JSON: {e}"),
    })
}
