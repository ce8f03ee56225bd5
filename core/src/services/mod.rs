//! Built-in services: one module per service, each exporting `pub fn service() -> Service`.
//!
//! Adding a service takes its module file plus one line in the `builtin_services!` list, which
//! declares the module and adds it to [`all`].
//! Connectors never hard-code where they talk to: [`base_url`] applies the DESIGN.md convention
//! `AREA_<SERVICE>_BASE_URL` so tests and home-lab users can point any service at a local server.

use crate::catalog::Service;
use crate::connector::{ConnectorError, HttpResponseData};

/// Declares each service module and lists it in [`all`], so adding a service is its file plus
/// one line in the invocation below.
macro_rules! builtin_services {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every built-in service, in catalog order; the catalog, `about.json` and the UI derive
        /// from it.
        pub fn all() -> Vec<Service> {
            vec![$($module::service()),+]
        }
    };
}

builtin_services! {
    timer,
    rss,
    webhook,
    http,
    notify,
    gmail,
    google_drive,
    youtube,
    spotify,
    coingecko,
    nasa,
    weather,
    github,
    discord,
    teams,
    twitter,
    revolut,
    blablacar,
    netflix,
    pokemongo,
    ubisoft,
    postman,
    ratp,
    riot,
    instagram,
    pinterest,
    mail,
    thunderbird,
    vinted,
}

/// The environment variable name for one of a service's settings: `AREA_<SERVICE>_<KEY>`, the
/// service id upper-cased with `-` turned into `_` (e.g. `google-drive` + `BASE_URL` →
/// `AREA_GOOGLE_DRIVE_BASE_URL`), so every override follows one documented pattern.
pub fn env_var_name(service_id: &str, key: &str) -> String {
    let id: String = service_id
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("AREA_{id}_{key}")
}

/// The base URL a connector must use: `AREA_<SERVICE>_BASE_URL` when set and non-blank,
/// otherwise `default` (the real API). Trailing slashes are removed so connectors can always
/// append `/path`.
pub fn base_url(service_id: &str, default: &str) -> String {
    let chosen = std::env::var(env_var_name(service_id, "BASE_URL"))
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string());
    chosen.trim_end_matches('/').to_string()
}

/// Longest upstream error excerpt kept in [`ConnectorError::Status`] messages, in characters.
pub const ERROR_EXCERPT_CHARS: usize = 200;

/// Turns a non-2xx response into [`ConnectorError::Status`]: a short, whitespace-collapsed
/// excerpt of the body (at most [`ERROR_EXCERPT_CHARS`] characters) and `Retry-After` as a
/// delay, so every connector reports upstream errors the same way and the engine can back off.
pub fn status_error(service: &str, response: &HttpResponseData) -> ConnectorError {
    let text = String::from_utf8_lossy(&response.body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let message = if collapsed.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate_chars(&collapsed, ERROR_EXCERPT_CHARS - 1)
    };
    ConnectorError::Status {
        service: service.to_string(),
        status: response.status,
        message,
        retry_after: crate::net::retry_after(response, std::time::SystemTime::now()),
    }
}

/// Reads an optional string parameter; absent, null or blank counts as absent.
pub(crate) fn opt_str<'a>(params: &'a crate::connector::Params, id: &str) -> Option<&'a str> {
    params.get(id).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty())
}

/// Reads a required string parameter, or says which one is missing.
pub(crate) fn req_str<'a>(params: &'a crate::connector::Params, id: &str) -> Result<&'a str, ConnectorError> {
    opt_str(params, id)
        .ok_or_else(|| ConnectorError::BadParams { param: id.to_string(), message: "is required".to_string() })
}

/// Reads an optional boolean parameter (JSON bool, or "true"/"false"/"1"/"0" strings).
pub(crate) fn opt_bool(params: &crate::connector::Params, id: &str) -> Result<Option<bool>, ConnectorError> {
    match params.get(id) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(bad_param(id, format!("expected true or false, got {s:?}"))),
        },
        Some(other) => Err(bad_param(id, format!("expected true or false, got {other}"))),
    }
}

/// Shorthand for a [`ConnectorError::BadParams`].
pub(crate) fn bad_param(id: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::BadParams { param: id.to_string(), message: message.into() }
}

/// Checks that a URL parameter is an absolute http(s) URL and returns it normalised.
pub(crate) fn http_url_param(params: &crate::connector::Params, id: &str) -> Result<url::Url, ConnectorError> {
    let raw = req_str(params, id)?;
    let url = url::Url::parse(raw).map_err(|e| bad_param(id, format!("not a valid URL ({e}): {raw:?}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(bad_param(id, format!("only http and https URLs are supported, not {other}:"))),
    }
}

/// Cuts `s` to at most `max` characters (on a char boundary), adding `…` when it was longer.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((idx, _)) => {
            let mut out = s[..idx].trim_end().to_string();
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_name_uppercases_and_replaces_dashes() {
        assert_eq!(env_var_name("google-drive", "BASE_URL"), "AREA_GOOGLE_DRIVE_BASE_URL");
        assert_eq!(env_var_name("rss", "TOKEN_URL"), "AREA_RSS_TOKEN_URL");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo wörld", 4), "héll…");
        assert_eq!(truncate_chars("日本語のテキスト", 3), "日本語…");
    }
}
