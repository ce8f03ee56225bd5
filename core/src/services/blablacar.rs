//! `blablacar`: new carpool trips on a route and date, from BlaBlaCar's Search API v3.
//!
//! BlaBlaCar's public API is search only (v2 was switched off at the end of 2020; v3 has no
//! user data and no booking). Keys come from dev.blablacar.com with a small test quota, and new
//! keys currently look partner-oriented, so the service is [`Availability::Limited`] with that
//! reason: it works for anyone who holds a key, and says plainly that getting one is uncertain.
//!
//! Decisions:
//! - Auth: the API key, sent as the documented `key=` query parameter ([`AuthKind::ApiKey`]).
//! - Request: `GET {base}/trips?key=…&from_coordinate=lat,lon&to_coordinate=lat,lon
//!   &start_date_local=<date>T00:00:00&end_date_local=<date>T23:59:59&count=100&locale=…
//!   &currency=…[&requested_seats=N]`, base `https://public-api.blablacar.com/api/v3`
//!   (overridden by `AREA_BLABLACAR_BASE_URL`). Places are coordinates because that is what
//!   the API takes (no geocoding here). One page of 100 trips is read (`next_cursor` is not
//!   followed): a route/day with more than 100 trips is rare and the newest trips are the ones
//!   that matter.
//! - Answer: `{link, search_info{count}, trips[{link, waypoints[{date_time, place{city, address,
//!   latitude, longitude, country_code}}], price{amount, currency}, vehicle?{make, model},
//!   distance_in_meters, duration_in_seconds}], next_cursor}`. Key = the trip id, taken from the
//!   `id` query parameter of the trip's `link` (the link itself when it has none), so locale or
//!   tracking parameters in the link do not change the key.
//! - **No `seats` or `driver` ingredients**: Search v3 does not return them (no user data at
//!   all; `requested_seats` only filters). Offering them would mean inventing values.
//! - Errors: 401 → [`ConnectorError::AuthExpired`] (key refused); 403 → permanent (key not
//!   allowed for this API or quota plan); 404 → permanent naming the search; 429 (quota) →
//!   retryable with `Retry-After`; a 2xx without `trips` (an error object) → BadResponse.
//! - No reactions: booking is not exposed. No ETag offered; minimum interval 15 minutes to
//!   spare the small quota.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "blablacar";
/// The real API, used unless `AREA_BLABLACAR_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://public-api.blablacar.com/api/v3";
/// Trips asked for per poll (the API's maximum).
pub const COUNT: u32 = 100;
/// Lowest poll interval: keys have a small quota.
pub const MIN_INTERVAL_SECS: u32 = 900;

/// The `blablacar` service: one polled action, no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_trip", ActionKind::Polled(Arc::new(NewTrip { base: base.clone() }) as Arc<dyn PolledAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "BlaBlaCar",
        description: "Watch a carpool route for new BlaBlaCar trips on a given day (search only: booking is not \
                      possible through the API). Needs a BlaBlaCar API key from dev.blablacar.com, pasted as \
                      the connection's token.",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["public-api.blablacar.com"],
        oauth: None,
        availability: Availability::Limited(
            "needs a BlaBlaCar Search API key (dev.blablacar.com): keys have a small quota and new keys look \
             partner-only"
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_trip",
            name: "New trip on a route and date",
            description: "Fires when a new carpool trip is offered between two places on a given day.",
            params: vec![
                ParamSpec::new(
                    "from",
                    "From (latitude,longitude)",
                    "Where you leave from, as latitude,longitude, e.g. 48.8566,2.3522 for Paris.",
                    ParamType::String,
                ),
                ParamSpec::new(
                    "to",
                    "To (latitude,longitude)",
                    "Where you go, as latitude,longitude, e.g. 45.764,4.8357 for Lyon.",
                    ParamType::String,
                ),
                ParamSpec::new(
                    "date",
                    "Date",
                    "The day of travel, YYYY-MM-DD (local time at the departure).",
                    ParamType::String,
                ),
                ParamSpec::new(
                    "seats",
                    "Seats",
                    "Only trips with at least this many free seats.",
                    ParamType::Integer { min: Some(1), max: Some(8) },
                )
                .optional(None),
                ParamSpec::new("currency", "Currency", "Currency of the prices (ISO 4217).", ParamType::String)
                    .optional(Some(json!("EUR"))),
                ParamSpec::new(
                    "locale",
                    "Locale",
                    "Language and site of the trip links, e.g. fr-FR, en-GB, es-ES.",
                    ParamType::String,
                )
                .optional(Some(json!("en-GB"))),
            ],
            ingredients: vec![
                ingredient("departure", "The departure city.", "Paris"),
                ingredient("departure_address", "The meeting point.", "Porte de Bercy, 75012 Paris"),
                ingredient("departure_time", "Departure, local time (ISO 8601).", "2026-12-19T08:30:00"),
                ingredient("arrival", "The arrival city.", "Lyon"),
                ingredient("arrival_address", "The drop-off point.", "Gare Part-Dieu, 69003 Lyon"),
                ingredient("arrival_time", "Arrival, local time (ISO 8601).", "2026-12-19T13:10:00"),
                ingredient("price", "Price per seat, as BlaBlaCar writes it.", "27.50"),
                ingredient("currency", "The price's currency.", "EUR"),
                ingredient(
                    "link",
                    "The trip's page, to book it.",
                    "https://www.blablacar.fr/trip?source=CARPOOLING&id=2671548931-paris-lyon",
                ),
                ingredient("vehicle", "Make and model, when given.", "Peugeot 308"),
                ingredient("id", "The trip id.", "2671548931-paris-lyon"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: vec![],
    }
}

/// Parses `lat,lon` (decimal degrees) into a normalised `lat,lon` string.
pub fn coordinate(params: &Params, id: &str) -> Result<String, ConnectorError> {
    let raw = req_str(params, id)?;
    let bad = || bad_param(id, format!("expected latitude,longitude such as 48.8566,2.3522, got {raw:?}"));
    let (lat, lon) = raw.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    Ok(format!("{lat},{lon}"))
}

fn simple_code(params: &Params, id: &str, default: &str) -> Result<String, ConnectorError> {
    let value = opt_str(params, id).unwrap_or(default);
    if !value.is_empty()
        && value.len() <= 16
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(value.to_string())
    } else {
        Err(bad_param(id, format!("unexpected value {value:?}")))
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The search request for these parameters (pure, for tests).
pub fn trips_request(base: &str, params: &Params, key: &str) -> Result<HttpRequestSpec, ConnectorError> {
    let from = coordinate(params, "from")?;
    let to = coordinate(params, "to")?;
    let raw_date = req_str(params, "date")?;
    let date = NaiveDate::parse_from_str(raw_date, "%Y-%m-%d")
        .map_err(|_| bad_param("date", format!("expected YYYY-MM-DD, got {raw_date:?}")))?;
    let currency = simple_code(params, "currency", "EUR")?.to_ascii_uppercase();
    let locale = simple_code(params, "locale", "en-GB")?;
    let mut url = format!(
        "{}/trips?key={}&from_coordinate={}&to_coordinate={}&start_date_local={date}T00:00:00\
         &end_date_local={date}T23:59:59&count={COUNT}&locale={}&currency={}",
        base,
        enc(key),
        enc(&from),
        enc(&to),
        enc(&locale),
        enc(&currency),
    );
    match params.get("seats") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let seats = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n| (1..=8).contains(n))
                .ok_or_else(|| bad_param("seats", format!("expected a number of seats from 1 to 8, got {v}")))?;
            url.push_str(&format!("&requested_seats={seats}"));
        }
    }
    let mut req = HttpRequestSpec::get(url);
    req.headers.push(("Accept".into(), "application/json".into()));
    Ok(req)
}

/// The trip id inside a trip link (`…/trip?…&id=<id>`), or the link itself.
pub fn trip_key(link: &str) -> String {
    url::Url::parse(link)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "id").map(|(_, v)| v.into_owned()))
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| link.to_string())
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The text of a JSON value that may be a string or a number (prices).
fn text_at(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Reads a search answer (pure, for tests on saved responses).
pub fn read_trips(body: &[u8]) -> Result<Vec<Event>, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    let trips = match root.get("trips") {
        Some(Value::Array(trips)) => trips,
        Some(Value::Null) => return Ok(Vec::new()),
        _ => return Err(bad_response(ID, format!("BlaBlaCar returned no trip list{}", error_detail(&root)))),
    };
    let mut events = Vec::new();
    for trip in trips {
        let link = str_at(trip, "/link").trim();
        if link.is_empty() {
            continue;
        }
        let key = trip_key(link);
        let waypoints = trip.get("waypoints").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let (first, last) = (waypoints.first().unwrap_or(&Value::Null), waypoints.last().unwrap_or(&Value::Null));
        let vehicle =
            format!("{} {}", str_at(trip, "/vehicle/make"), str_at(trip, "/vehicle/model")).trim().to_string();
        let mut ing = Ingredients::new();
        ing.insert("departure".into(), json!(str_at(first, "/place/city")));
        ing.insert("departure_address".into(), json!(str_at(first, "/place/address")));
        ing.insert("departure_time".into(), json!(str_at(first, "/date_time")));
        ing.insert("arrival".into(), json!(str_at(last, "/place/city")));
        ing.insert("arrival_address".into(), json!(str_at(last, "/place/address")));
        ing.insert("arrival_time".into(), json!(str_at(last, "/date_time")));
        ing.insert("price".into(), json!(text_at(trip, "/price/amount")));
        ing.insert("currency".into(), json!(str_at(trip, "/price/currency")));
        ing.insert("link".into(), json!(link));
        ing.insert("vehicle".into(), json!(vehicle));
        ing.insert("id".into(), json!(key));
        events.push(Event { key, ingredients: ing });
    }
    Ok(events)
}

/// `: <message>` from an error body (`{"message"}`, `{"error"}`, `{"error": {"message"}}`).
fn error_detail(root: &Value) -> String {
    let message = root
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| root.pointer("/error/message").and_then(Value::as_str))
        .or_else(|| root.get("error").and_then(Value::as_str))
        .or_else(|| root.get("error_description").and_then(Value::as_str));
    message.map(|m| format!(": {}", truncate_chars(m, 200))).unwrap_or_default()
}

/// Replaces the API key in text copied from a response (an upstream may echo the query).
fn mask(text: String, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 => text.replace(s, "<redacted>"),
        _ => text,
    }
}

/// Classifies a non-2xx answer per the module rules; `secret` (the key) is masked in any text
/// copied from the body.
pub fn error_for(params: &Params, secret: Option<&str>, response: &HttpResponseData) -> ConnectorError {
    let detail = serde_json::from_slice::<Value>(&response.body).map(|v| error_detail(&v)).unwrap_or_default();
    let detail = mask(detail, secret);
    let route = format!(
        "{} → {} on {}",
        opt_str(params, "from").unwrap_or("?"),
        opt_str(params, "to").unwrap_or("?"),
        opt_str(params, "date").unwrap_or("?")
    );
    let status = |message: String| ConnectorError::Status {
        service: ID.into(),
        status: response.status,
        message,
        retry_after: None,
    };
    match response.status {
        401 => ConnectorError::AuthExpired { service: ID.into() },
        403 => status(format!("the API key is not allowed to search trips ({route}){detail}")),
        404 => status(format!("the trip search for {route} was not found{detail}")),
        _ => match status_error(ID, response) {
            ConnectorError::Status { service, status, message, retry_after } => {
                ConnectorError::Status { service, status, message: mask(message, secret), retry_after }
            }
            other => other,
        },
    }
}

/// `new_trip`: GET /trips for the route and day, one event per trip.
struct NewTrip {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewTrip {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let credential = ctx.require_credential(ID)?;
        trips_request(&self.base, ctx.params, credential.secret())
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let secret = ctx.credential.map(|c| c.secret());
        let events = read_trips(&response.body).map_err(|e| match e {
            ConnectorError::BadResponse { service, message } => {
                ConnectorError::BadResponse { service, message: mask(message, secret) }
            }
            other => other,
        })?;
        Ok(PollOutput { events, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        error_for(ctx.params, ctx.credential.map(|c| c.secret()), response)
    }
}
