//! `pokemongo`: new Pokémon GO events, from the community ScrapedDuck feed (unofficial).
//!
//! Niantic publishes no third-party API, and talking to the game servers is reverse engineering
//! that breaks the Terms of Service. The honest source is **ScrapedDuck**
//! (github.com/bigfoott/ScrapedDuck): a community project that scrapes LeekDuck's public event
//! calendar into JSON on its `data` branch every few hours. The service is therefore labelled
//! [`Availability::Unofficial`] with that name.
//!
//! Decisions:
//! - Request: `GET {base}/events.min.json` with base
//!   `https://raw.githubusercontent.com/bigfoott/ScrapedDuck/data` (overridden by
//!   `AREA_POKEMONGO_BASE_URL`, e.g. the jsDelivr mirror
//!   `https://cdn.jsdelivr.net/gh/bigfoott/ScrapedDuck@data`). No auth.
//! - The answer is a JSON array of `{eventID, name, eventType, heading, link, image, start, end,
//!   extraData}`. Key = `eventID` (LeekDuck's slug, stable for an event); items without one are
//!   skipped. Every other field is optional and may be `null` (→ empty text).
//! - `start`/`end` are passed through as given: LeekDuck writes local events as a local time
//!   without zone (`2026-12-06T14:00:00.000`: 14:00 in every time zone) and global ones with `Z`.
//! - Optional `event_type` filter (exact match on `eventType`, e.g. `community-day`), applied in
//!   `read` so every area shares one request.
//! - raw.githubusercontent.com serves an `ETag`; the engine sends `If-None-Match`, so an
//!   unchanged feed costs a 304. Minimum interval one hour (the feed updates every few hours).
//! - Errors: 403/404 → permanent, naming the feed; 429 → retryable with `Retry-After`; a body
//!   that is not a JSON array (an error object, an HTML page) → [`ConnectorError::BadResponse`].
//! - No reactions: there is no write API.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "pokemongo";
/// ScrapedDuck's data branch, used unless `AREA_POKEMONGO_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://raw.githubusercontent.com/bigfoott/ScrapedDuck/data";
/// The feed file under the base URL.
pub const EVENTS_PATH: &str = "/events.min.json";
/// Lowest poll interval: the feed is rebuilt every few hours.
pub const MIN_INTERVAL_SECS: u32 = 3600;

/// The `pokemongo` service: one polled action, no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_event", ActionKind::Polled(Arc::new(NewEvent { base: base.clone() }) as Arc<dyn PolledAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Pokémon GO (community event feed)",
        description: "New Pokémon GO events (Community Days, raids, spotlight hours…) as listed on LeekDuck, read \
                      from the community ScrapedDuck JSON feed. Niantic has no public API; this source is \
                      unofficial and may lag or change.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Unofficial(
            "no official API; events come from the community feed ScrapedDuck (LeekDuck's calendar as JSON)".into(),
        ),
        actions: vec![ActionManifest {
            id: "new_event",
            name: "New event announced",
            description: "Fires when a new event appears in the community event calendar.",
            params: vec![ParamSpec::new(
                "event_type",
                "Event type",
                "Only events of this LeekDuck type, e.g. community-day, raid-day, raid-battles, \
                 pokemon-spotlight-hour, research-day, go-battle-league. Empty: every event.",
                ParamType::String,
            )
            .optional(None)],
            ingredients: vec![
                ingredient("name", "The event's name.", "December Community Day"),
                ingredient("type", "LeekDuck's event type.", "community-day"),
                ingredient("heading", "The event's category as shown on LeekDuck.", "Community Day"),
                ingredient(
                    "start",
                    "When it starts: local time without zone for local events, UTC (Z) for global ones; may be empty.",
                    "2026-12-06T14:00:00.000",
                ),
                ingredient("end", "When it ends, same format; may be empty.", "2026-12-06T17:00:00.000"),
                ingredient(
                    "link",
                    "The event's page on LeekDuck.",
                    "https://leekduck.com/events/december-community-day-2026/",
                ),
                ingredient(
                    "image",
                    "The event's banner image.",
                    "https://cdn.leekduck.com/assets/img/events/cd-dec.jpg",
                ),
                ingredient("id", "The event's id (LeekDuck slug).", "december-community-day-2026"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: vec![],
    }
}

/// The feed URL in use: `AREA_POKEMONGO_BASE_URL` or [`DEFAULT_BASE_URL`], plus [`EVENTS_PATH`].
/// The events feed under `base` (the settings' `AREA_POKEMONGO_BASE_URL` or the real host).
pub fn events_url(base: &str) -> String {
    format!("{base}{EVENTS_PATH}")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FeedEvent {
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    heading: Option<String>,
    link: Option<String>,
    image: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

fn text(s: Option<String>) -> Value {
    Value::String(s.unwrap_or_default())
}

/// Reads the events feed (pure, for tests on saved responses); `event_type` keeps only events of
/// that type (case-insensitive).
pub fn read_events(body: &[u8], event_type: Option<&str>) -> Result<Vec<Event>, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the feed is not valid JSON: {e}")))?;
    let items = match root {
        Value::Array(items) => items,
        Value::Object(map) => {
            let detail = map.get("message").or_else(|| map.get("error")).and_then(Value::as_str).unwrap_or("");
            return Err(bad_response(
                ID,
                format!("expected a JSON array of events, got an object {}", truncate_chars(detail, 200)),
            ));
        }
        _ => return Err(bad_response(ID, "expected a JSON array of events")),
    };
    let mut events = Vec::new();
    for item in items {
        let Ok(ev) = serde_json::from_value::<FeedEvent>(item) else {
            tracing::warn!(service = ID, "skipping an event of unexpected shape");
            continue;
        };
        let Some(id) = ev.event_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else { continue };
        if let Some(wanted) = event_type {
            if !ev.event_type.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted)) {
                continue;
            }
        }
        let mut ing = Ingredients::new();
        ing.insert("name".into(), text(ev.name));
        ing.insert("type".into(), text(ev.event_type));
        ing.insert("heading".into(), text(ev.heading));
        ing.insert("start".into(), text(ev.start));
        ing.insert("end".into(), text(ev.end));
        ing.insert("link".into(), text(ev.link));
        ing.insert("image".into(), text(ev.image));
        ing.insert("id".into(), Value::String(id.clone()));
        events.push(Event { key: id, ingredients: ing });
    }
    Ok(events)
}

/// Classifies a non-2xx answer of the feed host: 403/404 permanent naming the feed, the rest
/// (429 with `Retry-After`, 5xx) through [`status_error`].
pub fn error_for(feed: &str, response: &HttpResponseData) -> ConnectorError {
    match response.status {
        403 | 404 => ConnectorError::Status {
            service: ID.into(),
            status: response.status,
            message: format!(
                "the community event feed {} is not available (HTTP {}): it may have moved; \
                 set AREA_POKEMONGO_BASE_URL to a mirror",
                feed, response.status
            ),
            retry_after: None,
        },
        _ => status_error(ID, response),
    }
}

/// `new_event`: GET the events feed, one event per listed event.
struct NewEvent {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewEvent {
    fn request(&self, _ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let mut req = HttpRequestSpec::get(events_url(&self.base));
        req.headers.push(("Accept".into(), "application/json".into()));
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_events(&response.body, opt_str(ctx.params, "event_type"))?, cursor: None })
    }

    fn error_for(&self, _service: &str, _ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        error_for(&events_url(&self.base), response)
    }
}
