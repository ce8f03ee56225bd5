//! `nasa`: NASA's open APIs through the api.nasa.gov gateway — the Astronomy Picture of the Day.
//!
//! `new_apod` polls `GET /planetary/apod?thumbs=true` with `X-Api-Key: KEY`, which answers one object
//! (`{"date", "title", "explanation", "url", "hdurl"?, "media_type", "thumbnail_url"?,
//! "copyright"?, "service_version"}`); an array (the `start_date` form) is read too.
//!
//! Decisions:
//! - Auth: the user's api.nasa.gov key (or the documented shared `DEMO_KEY`: 30 requests an hour
//!   and 50 a day, per IP) is a connection of kind API key, sent in the `X-Api-Key` header, which
//!   the api.data.gov gateway in front of api.nasa.gov reads (api.data.gov/docs/developer-manual,
//!   "Ways to Pass Your API Key") — never as the `api_key` query parameter, so it stays out of
//!   URLs, logs and redirects (the shared client drops `X-Api-Key` when a redirect leaves the
//!   host). It never appears in an error message either: this module masks the key in any text it
//!   copies from a response.
//! - Event key: the picture's `date` (YYYY-MM-DD), one picture per day; the engine's baseline
//!   keeps today's picture from firing when the area is created.
//! - `explanation` is cut to [`EXPLANATION_MAX_CHARS`]; `copyright` is trimmed (NASA often wraps it
//!   in newlines) and empty for public-domain pictures; `hdurl` is empty for videos,
//!   `thumbnail_url` empty for images. Missing optional fields are empty strings.
//! - Errors: the gateway's `{"error": {"code": "API_KEY_INVALID" | "API_KEY_MISSING", …}}` →
//!   [`ConnectorError::AuthExpired`] (reconnect with a valid key), `OVER_RATE_LIMIT` → HTTP 429
//!   with `Retry-After` when given; APOD's own `{"code": 400, "msg": "…"}` → that status; both
//!   count as errors even inside an HTTP 200. 401 → reconnect; 403/404 → permanent, naming APOD.
//! - Minimum interval one hour: the picture changes once a day, and `DEMO_KEY` allows 30 calls an
//!   hour and 50 a day for everything behind that IP (api.nasa.gov, "DEMO_KEY Rate Limits"); the
//!   manifest says so.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "nasa";

/// The real API gateway (overridable with `AREA_NASA_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.nasa.gov";

/// The header the api.data.gov gateway reads the key from.
pub const KEY_HEADER: &str = "X-Api-Key";

/// Lowest poll interval: the picture changes daily and `DEMO_KEY` allows 30 calls an hour.
pub const MIN_INTERVAL_SECS: u32 = 3600;

/// Longest `explanation` ingredient, in characters.
pub const EXPLANATION_MAX_CHARS: usize = 1000;

/// The `nasa` service: the polled `new_apod` action; no reactions (the APIs are read-only).
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_apod", ActionKind::Polled(Arc::new(NewApod { base: base.clone() }) as Arc<dyn PolledAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "NASA",
        description: "NASA's open data through api.nasa.gov. Connect with your free API key from api.nasa.gov \
                      (or DEMO_KEY, which allows only 50 requests a day and 30 an hour, counted per IP address \
                      and shared with every DEMO_KEY user there).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["api.nasa.gov"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_apod",
            name: "New Astronomy Picture of the Day",
            description: "Fires once a day when NASA publishes a new Astronomy Picture of the Day.",
            params: Vec::new(),
            ingredients: vec![
                ingredient("title", "The picture's title.", "The Horsehead Nebula"),
                ingredient("date", "Its date, YYYY-MM-DD.", "2024-03-25"),
                ingredient(
                    "explanation",
                    "The astronomer's explanation (cut to 1000 characters).",
                    "Sculpted by stellar winds and radiation, a magnificent interstellar dust cloud…",
                ),
                ingredient(
                    "url",
                    "The picture (or video) address.",
                    "https://apod.nasa.gov/apod/image/2403/Horsehead_1024.jpg",
                ),
                ingredient(
                    "hdurl",
                    "The high-resolution picture address (empty for videos).",
                    "https://apod.nasa.gov/apod/image/2403/Horsehead.jpg",
                ),
                ingredient("media_type", "`image` or `video`.", "image"),
                ingredient(
                    "thumbnail_url",
                    "A still image for videos (empty for images).",
                    "https://img.youtube.com/vi/abc123/0.jpg",
                ),
                ingredient("copyright", "Who holds the copyright (empty for public domain).", "Jane Doe"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: Vec::new(),
    }
}

struct NewApod {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

/// Replaces the API key wherever it appears in `text` (error bodies could echo it).
fn mask(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 => text.replace(s, "<redacted>"),
        _ => text.to_string(),
    }
}

/// The gateway's and APOD's error bodies, or `None` when `root` is not one.
fn error_in_body(root: &Value, response: &HttpResponseData, secret: Option<&str>) -> Option<ConnectorError> {
    let retry_after = || crate::net::retry_after(response, std::time::SystemTime::now());
    // api.nasa.gov gateway (api-umbrella): {"error": {"code": "API_KEY_INVALID", "message": "…"}}
    if let Some(error) = root.get("error").filter(|e| !e.is_null()) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .map(|m| mask(&truncate_chars(m, 199), secret))
            .unwrap_or_else(|| code.to_string());
        return Some(match code {
            "API_KEY_INVALID" | "API_KEY_MISSING" | "API_KEY_DISABLED" | "API_KEY_UNAUTHORIZED" => {
                ConnectorError::AuthExpired { service: ID.into() }
            }
            "OVER_RATE_LIMIT" => {
                ConnectorError::Status { service: ID.into(), status: 429, message, retry_after: retry_after() }
            }
            _ => bad_response(ID, format!("NASA error {code}: {message}")),
        });
    }
    // APOD itself: {"code": 400, "msg": "Date must be between …", "service_version": "v1"}
    if let Some(code) = root.get("code").and_then(Value::as_u64) {
        let message = root
            .get("msg")
            .and_then(Value::as_str)
            .map(|m| mask(&truncate_chars(m, 199), secret))
            .unwrap_or_else(|| "(no message)".into());
        return Some(match code {
            401 => ConnectorError::AuthExpired { service: ID.into() },
            400..=599 => ConnectorError::Status {
                service: ID.into(),
                status: code as u16,
                message: format!("Astronomy Picture of the Day: {message}"),
                retry_after: retry_after(),
            },
            _ => bad_response(ID, format!("APOD error {code}: {message}")),
        });
    }
    None
}

/// Maps a non-2xx answer per issue 4, masking the key in the excerpt.
fn error_for_status(response: &HttpResponseData, secret: Option<&str>) -> ConnectorError {
    if response.status == 401 {
        return ConnectorError::AuthExpired { service: ID.into() };
    }
    if let Ok(root) = serde_json::from_slice::<Value>(&response.body) {
        if let Some(e) = error_in_body(&root, response, secret) {
            if matches!(e, ConnectorError::AuthExpired { .. } | ConnectorError::Status { .. }) {
                return e;
            }
        }
    }
    match status_error(ID, response) {
        ConnectorError::Status { status, message, retry_after, .. } => {
            let mut message = mask(&message, secret);
            if matches!(status, 403 | 404) {
                message = format!("Astronomy Picture of the Day unavailable: {message}");
            }
            ConnectorError::Status { service: ID.into(), status, message, retry_after }
        }
        other => other,
    }
}

fn text(item: &serde_json::Map<String, Value>, field: &str) -> String {
    match item.get(field) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// One APOD object as an event; `None` when it has no date (nothing stable to key it on).
fn apod_event(item: &Value) -> Option<Event> {
    let item = item.as_object()?;
    let date = text(item, "date");
    if date.is_empty() {
        return None;
    }
    let copyright = text(item, "copyright").split_whitespace().collect::<Vec<_>>().join(" ");
    let mut ingredients = Ingredients::new();
    ingredients.insert("title".into(), json!(text(item, "title")));
    ingredients.insert("date".into(), json!(date));
    ingredients.insert("explanation".into(), json!(truncate_chars(&text(item, "explanation"), EXPLANATION_MAX_CHARS)));
    ingredients.insert("url".into(), json!(text(item, "url")));
    ingredients.insert("hdurl".into(), json!(text(item, "hdurl")));
    ingredients.insert("media_type".into(), json!(text(item, "media_type")));
    ingredients.insert("thumbnail_url".into(), json!(text(item, "thumbnail_url")));
    ingredients.insert("copyright".into(), json!(copyright));
    Some(Event { key: date, ingredients })
}

impl PolledAction for NewApod {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let key = ctx.require_credential(ID)?.secret().trim();
        if key.is_empty() {
            return Err(ConnectorError::AuthExpired { service: ID.into() });
        }
        let base = self.base.clone();
        let mut url = url::Url::parse(&format!("{base}/planetary/apod"))
            .map_err(|e| bad_response(ID, format!("the base URL is not valid ({e})")))?;
        url.query_pairs_mut().append_pair("thumbs", "true");
        let mut req = HttpRequestSpec::get(url.as_str());
        req.headers.push(accept_json());
        req.headers.push((KEY_HEADER.into(), key.to_string()));
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let secret = ctx.credential.map(|c| c.secret().trim()).filter(|s| !s.is_empty());
        if !(200..300).contains(&response.status) {
            return Err(error_for_status(response, secret));
        }
        let root: Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
        if let Some(e) = error_in_body(&root, response, secret) {
            return Err(e);
        }
        let events: Vec<Event> = match &root {
            Value::Object(_) => {
                let event = apod_event(&root).ok_or_else(|| bad_response(ID, "the picture has no `date`"))?;
                vec![event]
            }
            Value::Array(items) => items.iter().filter_map(apod_event).collect(),
            _ => return Err(bad_response(ID, "expected a JSON object describing the picture")),
        };
        Ok(PollOutput { events, cursor: None })
    }
}
