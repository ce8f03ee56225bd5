//! `weather` service (Open-Meteo): request building, reading saved `/v1/forecast` answers across
//! a sequence of polls (transitions fire once each), error mappings, one wiremock round trip.

mod kit;

use kit::{ok, params};
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, ErrorClass, HttpResponseData, Params, PollContext, PollOutput, PolledAction,
};
use area_core::net::{HttpClient, NetConfig, RequestOptions};
use area_core::services::weather;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn action(id: &str) -> Arc<dyn PolledAction> {
    action_with(&area_core::settings::Settings::empty(), id)
}

/// The action of the service built with `settings` (a fake upstream's base URL).
fn action_with(settings: &area_core::settings::Settings, id: &str) -> Arc<dyn PolledAction> {
    match weather::service(settings).actions.get(id) {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("weather.{id} is not polled"),
    }
}

/// A documented `/v1/forecast?current=…` answer (Paris grid cell), with a value per reading.
fn forecast(time: &str, temperature: Value, precipitation: f64, rain: f64, code: i64) -> String {
    json!({
        "latitude": 48.86,
        "longitude": 2.3399997,
        "generationtime_ms": 0.0298,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 43.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                          "precipitation": "mm", "rain": "mm", "weather_code": "wmo code"},
        "current": {"time": time, "interval": 900, "temperature_2m": temperature,
                    "precipitation": precipitation, "rain": rain, "weather_code": code}
    })
    .to_string()
}

fn temp(time: &str, t: f64) -> String {
    forecast(time, json!(t), 0.0, 0.0, 3)
}

fn read(id: &str, p: &Params, cursor: Option<&Value>, resp: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
    action(id).read(&PollContext::new(p, cursor), resp)
}

/// Runs reads in sequence, threading the cursor, and returns the event keys of each read.
fn run_sequence(id: &str, p: &Params, bodies: &[String]) -> Vec<Vec<String>> {
    let mut cursor: Option<Value> = None;
    let mut out = Vec::new();
    for body in bodies {
        let output = read(id, p, cursor.as_ref(), &ok(body)).unwrap();
        assert!(output.cursor.is_some());
        cursor = output.cursor;
        out.push(output.events.into_iter().map(|e| e.key).collect());
    }
    out
}

fn keys(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter().map(|k| k.iter().map(|s| s.to_string()).collect()).collect()
}

const PARIS: (f64, f64) = (48.8566, 2.3522);

#[test]
fn manifest_is_keyless_with_three_polled_actions() {
    let s = weather::service(&area_core::settings::Settings::from_env());
    assert_eq!(s.manifest.id, "weather");
    assert_eq!(s.manifest.auth, AuthKind::None);
    for id in ["temperature_above", "temperature_below", "rain_starts"] {
        let m = s.manifest.actions.iter().find(|a| a.id == id).unwrap();
        assert_eq!(m.min_interval_secs, Some(300), "{id}");
        let ids: Vec<_> = m.ingredients.iter().map(|i| i.id).collect();
        for ing in ["temperature", "precipitation", "weather_code", "time", "latitude", "longitude"] {
            assert!(ids.contains(&ing), "{id} lacks {ing}");
        }
    }
}

#[test]
fn temperature_above_fires_once_per_crossing() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1, "threshold": 20}));
    let got = run_sequence(
        "temperature_above",
        &p,
        &[
            temp("2026-07-01T08:00", 18.0), // baseline
            temp("2026-07-01T08:15", 20.0), // equal is not above
            temp("2026-07-01T08:30", 20.4), // crossing
            temp("2026-07-01T08:45", 23.0), // staying above
            temp("2026-07-01T09:00", 19.5), // back below
            temp("2026-07-01T09:15", 19.9),
            temp("2026-07-01T09:30", 21.0), // crossing again
        ],
    );
    assert_eq!(got, keys(&[&[], &[], &["above-1@2026-07-01T08:30"], &[], &[], &[], &["above-2@2026-07-01T09:30"]]));
}

#[test]
fn temperature_below_fires_with_ingredients_and_baseline_only_records() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1, "threshold": 0}));
    // Already below at the first read: recorded, not fired.
    let got = run_sequence(
        "temperature_below",
        &p,
        &[temp("T1", -2.0), temp("T2", -3.0), temp("T3", 1.0), temp("T4", -0.5), temp("T5", -4.0)],
    );
    assert_eq!(got, keys(&[&[], &[], &[], &["below-1@T4"], &[]]));

    let first = read("temperature_below", &p, None, &ok(&temp("2026-11-28T10:30", 0.5))).unwrap();
    let body = forecast("2026-11-28T10:45", json!(-1.25), 0.2, 0.0, 71);
    let out = read("temperature_below", &p, first.cursor.as_ref(), &ok(&body)).unwrap();
    assert_eq!(out.events.len(), 1);
    let i = &out.events[0].ingredients;
    assert_eq!(out.events[0].key, "below-1@2026-11-28T10:45");
    assert_eq!(i["temperature"], json!(-1.25));
    assert_eq!(i["threshold"], json!(0.0));
    assert_eq!(i["precipitation"], json!(0.2));
    assert_eq!(i["weather_code"], json!(71));
    assert_eq!(i["conditions"], json!("snow"));
    assert_eq!(i["time"], json!("2026-11-28T10:45"));
    assert_eq!(i["latitude"], json!(PARIS.0));
    assert_eq!(i["longitude"], json!(PARIS.1));
}

#[test]
fn rain_starts_fires_on_the_dry_to_wet_transition_only() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1}));
    let got = run_sequence(
        "rain_starts",
        &p,
        &[
            forecast("T1", json!(10.0), 0.0, 0.0, 3),  // baseline, dry
            forecast("T2", json!(10.0), 0.3, 0.3, 61), // starts → fires
            forecast("T3", json!(10.0), 1.2, 1.2, 63), // still raining
            forecast("T4", json!(10.0), 0.0, 0.0, 2),  // dry again
            forecast("T5", json!(10.0), 0.0, 0.0, 80), // shower code alone → fires
            forecast("T6", json!(10.0), 0.0, 0.0, 1),
            forecast("T7", json!(-1.0), 0.4, 0.0, 73), // snow is not rain
            forecast("T8", json!(10.0), 0.4, 0.0, 3),  // precipitation with a non-snow code → fires
        ],
    );
    assert_eq!(got, keys(&[&[], &["rain-1@T2"], &[], &[], &["rain-2@T5"], &[], &[], &["rain-3@T8"]]));

    let first = read("rain_starts", &p, None, &ok(&forecast("T1", json!(9.0), 0.0, 0.0, 0))).unwrap();
    let out = read("rain_starts", &p, first.cursor.as_ref(), &ok(&forecast("T2", json!(9.0), 0.5, 0.5, 61))).unwrap();
    let i = &out.events[0].ingredients;
    assert_eq!(i["rain"], json!(0.5));
    assert_eq!(i["conditions"], json!("light rain"));
    assert!(!i.contains_key("threshold"));
}

#[test]
fn request_rejects_bad_params() {
    for (id, p, param) in [
        ("temperature_above", json!({"latitude": 91, "longitude": 0, "threshold": 1}), "latitude"),
        ("temperature_above", json!({"latitude": 0, "longitude": -181, "threshold": 1}), "longitude"),
        ("temperature_above", json!({"longitude": 0, "threshold": 1}), "latitude"),
        ("temperature_below", json!({"latitude": 0, "longitude": 0}), "threshold"),
        ("rain_starts", json!({"latitude": "north", "longitude": 0}), "latitude"),
    ] {
        let p = params(p);
        match action(id).request(&PollContext::new(&p, None)) {
            Err(ConnectorError::BadParams { param: got, .. }) => assert_eq!(got, param, "{id} {p:?}"),
            other => panic!("{id} {p:?}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn error_bodies_and_statuses_map_per_issue_4() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1, "threshold": 1}));
    let resp = |status: u16, headers: Vec<(String, String)>, body: &str| HttpResponseData {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    };
    let reason = r#"{"error": true, "reason": "Cannot initialize WeatherVariable from invalid String value tempeture_2m for key current"}"#;
    match read("temperature_above", &p, None, &resp(400, vec![], reason)) {
        Err(e @ ConnectorError::Status { status: 400, .. }) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            assert!(e.to_string().contains("tempeture_2m"), "carries the reason: {e}");
        }
        other => panic!("400: expected Status, got {other:?}"),
    }
    match read("temperature_above", &p, None, &ok(reason)) {
        Err(e @ ConnectorError::BadResponse { .. }) => assert!(e.to_string().contains("tempeture_2m"), "{e}"),
        other => panic!("error body in 200: expected BadResponse, got {other:?}"),
    }
    match read("temperature_above", &p, None, &resp(401, vec![], "")) {
        Err(e @ ConnectorError::AuthExpired { .. }) => assert_eq!(e.class(), ErrorClass::NeedsReconnect),
        other => panic!("401: expected AuthExpired, got {other:?}"),
    }
    match read("temperature_above", &p, None, &resp(404, vec![], "Not Found")) {
        Err(e @ ConnectorError::Status { status: 404, .. }) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            assert!(e.to_string().contains("48.8566"), "names the place: {e}");
        }
        other => panic!("404: expected Status, got {other:?}"),
    }
    let limited = resp(
        429,
        vec![("retry-after".into(), "60".into())],
        r#"{"error": true, "reason": "Minutely API request limit exceeded. Please try again in one minute."}"#,
    );
    match read("temperature_above", &p, None, &limited) {
        Err(e @ ConnectorError::Status { status: 429, .. }) => {
            assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(60)) });
            assert!(e.to_string().contains("limit exceeded"), "{e}");
        }
        other => panic!("429: expected Status, got {other:?}"),
    }
    for body in ["<html/>", "[]", r#"{"latitude": 1}"#] {
        assert!(
            matches!(read("temperature_above", &p, None, &ok(body)), Err(ConnectorError::BadResponse { .. })),
            "{body}"
        );
    }
}

#[test]
fn nulls_and_extra_fields_are_tolerated() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1, "threshold": 5}));
    let first = read("temperature_above", &p, None, &ok(&temp("T1", 1.0))).unwrap();
    // A null temperature keeps the previous state and fires nothing.
    let null =
        read("temperature_above", &p, first.cursor.as_ref(), &ok(&forecast("T2", Value::Null, 0.0, 0.0, 3))).unwrap();
    assert!(null.events.is_empty());
    assert_eq!(null.cursor, first.cursor);
    // Extra variables, unicode units and missing rain/weather_code still read.
    let extra = r#"{"current_units": {"temperature_2m": "°C", "note": "températures ☀"},
                    "current": {"time": "T3", "temperature_2m": 6.5, "wind_speed_10m": 12.3, "is_day": 1},
                    "hourly": {"time": []}}"#;
    let out = read("temperature_above", &p, null.cursor.as_ref(), &ok(extra)).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].key, "above-1@T3");
    assert_eq!(out.events[0].ingredients["weather_code"], json!(""));
    assert_eq!(out.events[0].ingredients["conditions"], json!("unknown"));
}

/// The only test in this binary that looks at the host: it also sets the process-wide
/// `AREA_WEATHER_BASE_URL` override.
#[tokio::test]
async fn request_url_and_a_round_trip_against_a_fake_server() {
    let p = params(json!({"latitude": PARIS.0, "longitude": -PARIS.1, "threshold": 20}));
    let req = action("temperature_above").request(&PollContext::new(&p, None)).unwrap();
    assert_eq!(req.method, "GET");
    let url = url::Url::parse(&req.url).unwrap();
    assert_eq!(url.host_str(), Some("api.open-meteo.com"));
    assert_eq!(url.path(), "/v1/forecast");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("latitude".to_string(), "48.8566".to_string()),
            ("longitude".to_string(), "-2.3522".to_string()),
            ("current".to_string(), "temperature_2m,precipitation,rain,weather_code".to_string()),
            ("timezone".to_string(), "UTC".to_string()),
        ]
    );
    assert!(req.headers.contains(&("Accept".into(), "application/json".into())));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/forecast"))
        .and(query_param("latitude", "48.8566"))
        .and(query_param("longitude", "2.3522"))
        .and(query_param("current", "temperature_2m,precipitation,rain,weather_code"))
        .and(query_param("timezone", "UTC"))
        .respond_with(ResponseTemplate::new(200).set_body_string(forecast(
            "2026-11-28T11:00",
            json!(3.0),
            0.1,
            0.1,
            51,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let settings = area_core::settings::Settings::from_pairs([("AREA_WEATHER_BASE_URL", server.uri())]);
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1}));
    let req = action_with(&settings, "rain_starts").request(&PollContext::new(&p, None));
    let req = req.unwrap();
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let resp = client.send(&req, &RequestOptions::default()).await.unwrap();
    let dry = read("rain_starts", &p, None, &ok(&forecast("2026-11-28T10:45", json!(3.0), 0.0, 0.0, 3))).unwrap();
    let out = action("rain_starts").read(&PollContext::new(&p, dry.cursor.as_ref()), &resp).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].key, "rain-1@2026-11-28T11:00");
    assert_eq!(out.events[0].ingredients["conditions"], json!("drizzle"));
}

#[test]
fn moving_the_place_starts_a_new_baseline() {
    let p = params(json!({"latitude": PARIS.0, "longitude": PARIS.1}));
    let dry = read("rain_starts", &p, None, &ok(&forecast("T1", json!(9.0), 0.0, 0.0, 0))).unwrap();
    let moved = params(json!({"latitude": 51.5072, "longitude": -0.1276}));
    let wet = forecast("T2", json!(9.0), 0.5, 0.5, 61);
    assert!(read("rain_starts", &moved, dry.cursor.as_ref(), &ok(&wet)).unwrap().events.is_empty());
    assert_eq!(read("rain_starts", &p, dry.cursor.as_ref(), &ok(&wet)).unwrap().events.len(), 1);
}

proptest::proptest! {
    #[test]
    fn read_never_panics(
        body in r#"[\[\]\{\}",:a-z0-9._ -]{0,200}"#,
        status in 100u16..600,
        holds in proptest::option::of(proptest::bool::ANY),
        which in 0usize..3,
    ) {
        let id = ["temperature_above", "temperature_below", "rain_starts"][which];
        let p = params(json!({"latitude": 1.5, "longitude": -3, "threshold": 1}));
        let cursor = holds.map(|h| json!({"holds": h, "crossings": 3}));
        let resp = HttpResponseData { status, headers: vec![], body: body.into_bytes() };
        let _ = read(id, &p, cursor.as_ref(), &resp);
    }
}
