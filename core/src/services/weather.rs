//! `weather`: current conditions at a place, from Open-Meteo's forecast API (no key needed for
//! non-commercial use).
//!
//! All actions poll `GET /v1/forecast?latitude=…&longitude=…&current=temperature_2m,precipitation,
//! rain,weather_code&timezone=UTC`, which answers `{"latitude", "longitude", …, "current_units":
//! {…}, "current": {"time": "2026-11-28T10:45", "interval": 900, "temperature_2m": 7.9,
//! "precipitation": 0.0, "rain": 0.0, "weather_code": 3}}`.
//!
//! Decisions:
//! - State triggers fire on the **transition** only, exactly like CoinGecko's (shared
//!   [`crossing_step`]): the cursor remembers whether the condition held at the last read; the
//!   first read only records it; staying above fires nothing; dropping back and crossing again
//!   fires once more; after the place or threshold change the next read is a new baseline.
//!   `temperature_above` is strictly `t > threshold`, `temperature_below`
//!   strictly `t < threshold` (°C).
//! - "Raining" means: `rain > 0`, or the WMO weather code is a drizzle / rain / shower /
//!   thunderstorm code ([`is_rain_code`]), or `precipitation > 0` with a code that is not snow
//!   (precipitation also counts snowfall, which is not rain).
//! - Event key: `<direction>-<transition number>@<current.time>` (`above-2@2026-11-28T10:45`), so
//!   each transition has a new key, stable for that reading.
//! - Open-Meteo's error body `{"error": true, "reason": "…"}` (sent with HTTP 400) is an error
//!   even with HTTP 200, and names the reason. `null` current values keep the previous state.
//!   401 → reconnect; 403/404 → permanent; 429 → retry after `Retry-After`.
//! - Minimum interval 300 s: `current` values are 15-minute data, and the free tier is shared per
//!   IP (600 calls a minute, 10 000 a day).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "weather";

/// The real API (overridable with `AREA_WEATHER_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.open-meteo.com";

/// Lowest poll interval: current values change every 15 minutes.
pub const MIN_INTERVAL_SECS: u32 = 300;

/// The `current` variables requested.
pub const CURRENT_VARIABLES: &str = "temperature_2m,precipitation,rain,weather_code";

/// The `weather` service: three polled actions, no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    for (id, kind) in
        [("temperature_above", Kind::Above), ("temperature_below", Kind::Below), ("rain_starts", Kind::Rain)]
    {
        actions.insert(
            id,
            ActionKind::Polled(Arc::new(WeatherAction { kind, base: base.clone() }) as Arc<dyn PolledAction>),
        );
    }
    Service::new(manifest(), actions, BTreeMap::new())
}

/// WMO codes meaning liquid precipitation: drizzle (51–57), rain (61–67), rain showers (80–82),
/// thunderstorms (95–99).
pub fn is_rain_code(code: i64) -> bool {
    matches!(code, 51..=57 | 61..=67 | 80..=82 | 95..=99)
}

/// WMO codes meaning snow: snowfall (71–77) and snow showers (85–86).
fn is_snow_code(code: i64) -> bool {
    matches!(code, 71..=77 | 85 | 86)
}

/// A short English label for a WMO weather code (Open-Meteo's documented table).
pub fn describe_code(code: i64) -> &'static str {
    match code {
        0 => "clear sky",
        1 => "mainly clear",
        2 => "partly cloudy",
        3 => "overcast",
        45 | 48 => "fog",
        51 | 53 | 55 => "drizzle",
        56 | 57 => "freezing drizzle",
        61 => "light rain",
        63 => "rain",
        65 => "heavy rain",
        66 | 67 => "freezing rain",
        71 | 73 | 75 => "snow",
        77 => "snow grains",
        80..=82 => "rain showers",
        85 | 86 => "snow showers",
        95 => "thunderstorm",
        96 | 99 => "thunderstorm with hail",
        _ => "unknown",
    }
}

fn place_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::new(
            "latitude",
            "Latitude",
            "The place's latitude in degrees, e.g. 48.8566 for Paris.",
            ParamType::Number,
        ),
        ParamSpec::new(
            "longitude",
            "Longitude",
            "The place's longitude in degrees, e.g. 2.3522 for Paris (west is negative).",
            ParamType::Number,
        ),
    ]
}

fn ingredients(with_threshold: bool) -> Vec<IngredientSpec> {
    let mut out = vec![
        ingredient("temperature", "Air temperature at 2 m, in °C.", "7.9"),
        ingredient("precipitation", "Precipitation (rain, showers, snow) in the last 15 minutes, in mm.", "0.3"),
        ingredient("rain", "Rain in the last 15 minutes, in mm.", "0.3"),
        ingredient("weather_code", "The WMO weather code.", "61"),
        ingredient("conditions", "The weather code in words.", "light rain"),
        ingredient("time", "When the values were measured, ISO 8601 in UTC.", "2026-11-28T10:45"),
        ingredient("latitude", "The place's latitude, as configured.", "48.8566"),
        ingredient("longitude", "The place's longitude, as configured.", "2.3522"),
    ];
    if with_threshold {
        out.push(ingredient("threshold", "The threshold crossed, in °C.", "0"));
    }
    out
}

fn polled(id: &'static str, name: &'static str, description: &'static str, kind: Kind) -> ActionManifest {
    let mut params = place_params();
    if kind != Kind::Rain {
        params.push(ParamSpec::new(
            "threshold",
            "Threshold (°C)",
            "The temperature to watch, in °C.",
            ParamType::Number,
        ));
    }
    ActionManifest {
        id,
        name,
        description,
        params,
        ingredients: ingredients(kind != Kind::Rain),
        dynamic_ingredients: false,
        min_interval_secs: Some(MIN_INTERVAL_SECS),
    }
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Weather",
        description: "Current weather anywhere, from Open-Meteo (free for non-commercial use, no account needed).",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![
            polled(
                "temperature_above",
                "Temperature rises above",
                "Fires when the temperature at a place goes from at or below the threshold to above it.",
                Kind::Above,
            ),
            polled(
                "temperature_below",
                "Temperature falls below",
                "Fires when the temperature at a place goes from at or above the threshold to below it.",
                Kind::Below,
            ),
            polled(
                "rain_starts",
                "Rain starts",
                "Fires when it starts raining at a place (after a dry reading).",
                Kind::Rain,
            ),
        ],
        reactions: Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Above,
    Below,
    Rain,
}

impl Kind {
    fn direction(self) -> &'static str {
        match self {
            Kind::Above => "above",
            Kind::Below => "below",
            Kind::Rain => "rain",
        }
    }
}

struct WeatherAction {
    /// The API base URL (the settings' override or the real API).
    base: String,
    kind: Kind,
}

/// Latitude and longitude, checked against their ranges.
fn place(params: &Params) -> Result<(f64, f64), ConnectorError> {
    let lat = number_param(params, "latitude")?;
    let lon = number_param(params, "longitude")?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(bad_param("latitude", format!("must be between -90 and 90, got {lat}")));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(bad_param("longitude", format!("must be between -180 and 180, got {lon}")));
    }
    Ok((lat, lon))
}

/// Open-Meteo's `{"error": true, "reason": "…"}`.
fn error_reason(root: &Value) -> Option<String> {
    let flagged = match root.get("error") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    flagged.then(|| {
        root.get("reason")
            .and_then(Value::as_str)
            .or_else(|| root.get("error").and_then(Value::as_str))
            .map(|r| truncate_chars(r, 199))
            .unwrap_or_else(|| "(no reason given)".into())
    })
}

/// Maps a non-2xx answer per issue 4, with Open-Meteo's reason when it gave one.
fn error_for_status(response: &HttpResponseData, lat: f64, lon: f64) -> ConnectorError {
    if response.status == 401 {
        return ConnectorError::AuthExpired { service: ID.into() };
    }
    let reason = serde_json::from_slice::<Value>(&response.body).ok().as_ref().and_then(error_reason);
    match status_error(ID, response) {
        ConnectorError::Status { status, message, retry_after, .. } => {
            let mut message = reason.unwrap_or(message);
            if matches!(status, 403 | 404) {
                message = format!("no forecast for latitude {lat}, longitude {lon}: {message}");
            }
            ConnectorError::Status { service: ID.into(), status, message, retry_after }
        }
        other => other,
    }
}

fn finite(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|n| n.is_finite())
}

impl PolledAction for WeatherAction {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let (lat, lon) = place(ctx.params)?;
        if self.kind != Kind::Rain {
            number_param(ctx.params, "threshold")?;
        }
        let base = self.base.clone();
        let mut url = url::Url::parse(&format!("{base}/v1/forecast"))
            .map_err(|e| bad_response(ID, format!("the base URL is not valid ({e})")))?;
        url.query_pairs_mut()
            .append_pair("latitude", &lat.to_string())
            .append_pair("longitude", &lon.to_string())
            .append_pair("current", CURRENT_VARIABLES)
            .append_pair("timezone", "UTC");
        let mut req = HttpRequestSpec::get(url.as_str());
        req.headers.push(("Accept".into(), "application/json".into()));
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let (lat, lon) = place(ctx.params)?;
        if !(200..300).contains(&response.status) {
            return Err(error_for_status(response, lat, lon));
        }
        let root: Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
        if let Some(reason) = error_reason(&root) {
            return Err(bad_response(ID, format!("Open-Meteo error: {reason}")));
        }
        let current = root
            .get("current")
            .and_then(Value::as_object)
            .ok_or_else(|| bad_response(ID, "the answer has no `current` block"))?;
        let temperature = finite(current.get("temperature_2m"));
        let precipitation = finite(current.get("precipitation"));
        let rain = finite(current.get("rain"));
        let code = current.get("weather_code").and_then(Value::as_f64).filter(|c| c.is_finite()).map(|c| c as i64);
        let time = current.get("time").and_then(Value::as_str).unwrap_or("").to_string();

        let threshold = match self.kind {
            Kind::Rain => None,
            _ => Some(number_param(ctx.params, "threshold")?),
        };
        let holds = match self.kind {
            Kind::Above => temperature.zip(threshold).map(|(t, limit)| t > limit),
            Kind::Below => temperature.zip(threshold).map(|(t, limit)| t < limit),
            Kind::Rain => {
                if precipitation.is_none() && rain.is_none() && code.is_none() {
                    None
                } else {
                    let by_rain = rain.is_some_and(|r| r > 0.0);
                    let by_code = code.is_some_and(is_rain_code);
                    let by_precipitation = precipitation.is_some_and(|p| p > 0.0) && !code.is_some_and(is_snow_code);
                    Some(by_rain || by_code || by_precipitation)
                }
            }
        };
        if holds.is_none() {
            tracing::warn!(service = ID, "no current value; state kept");
        }
        let watch = match (self.kind, threshold) {
            (Kind::Above, Some(t)) => format!("{lat},{lon} > {t}"),
            (Kind::Below, Some(t)) => format!("{lat},{lon} < {t}"),
            _ => format!("{lat},{lon} rain"),
        };
        let (fired, cursor) = crossing_step(ctx.cursor, &watch, holds);
        let mut events = Vec::new();
        if let Some(n) = fired {
            let mut key = format!("{}-{n}", self.kind.direction());
            if !time.is_empty() {
                key.push('@');
                key.push_str(&time);
            }
            let num = |v: Option<f64>| v.map_or(json!(""), |n| json!(n));
            let mut ingredients = Ingredients::new();
            ingredients.insert("temperature".into(), num(temperature));
            ingredients.insert("precipitation".into(), num(precipitation));
            ingredients.insert("rain".into(), num(rain));
            ingredients.insert("weather_code".into(), code.map_or(json!(""), |c| json!(c)));
            ingredients.insert("conditions".into(), json!(code.map_or("unknown", describe_code)));
            ingredients.insert("time".into(), json!(time));
            ingredients.insert("latitude".into(), json!(lat));
            ingredients.insert("longitude".into(), json!(lon));
            if let Some(t) = threshold {
                ingredients.insert("threshold".into(), json!(t));
            }
            events.push(Event { key, ingredients });
        }
        Ok(PollOutput { events, cursor })
    }
}
