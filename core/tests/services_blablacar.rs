//! `blablacar` service (Search API v3): reading saved search answers, the request (key as the
//! documented `key=` query parameter), error mapping with the key masked, the catalog entry,
//! and one area end to end through the engine with a stored API key.
//!
//! Only the end-to-end test talks to a server, and it is the only test in this binary that sets
//! `AREA_BLABLACAR_BASE_URL` (environment variables are process-global).

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction,
};
use area_core::engine::Engine;
use area_core::services::blablacar;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

const KEY: &str = "bbc-test-key-123";

fn action() -> Arc<dyn PolledAction> {
    match blablacar::service(&area_core::settings::Settings::from_env()).actions.get("new_trip") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("blablacar.new_trip is not polled"),
    }
}

fn route() -> Value {
    json!({"from": "48.8566,2.3522", "to": "45.764, 4.8357", "date": "2026-12-19"})
}

fn response(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn read(body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(route());
    let cred = Credential::ApiKey(KEY.into());
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    action().read(&ctx, &response(200, body)).map(|o| o.events)
}

/// Shaped like BlaBlaCar's "Search V3 – API Documentation": a trip with a vehicle and three
/// waypoints, a trip with unicode places, nulls and a numeric price, extra fields, a trip
/// without link (skipped), and a cursor for the next page.
const SEARCH: &str = r#"{
  "link": "https://www.blablacar.fr/search?fc=48.8566,2.3522&tc=45.764,4.8357&db=2026-12-19",
  "search_info": {"count": 3, "full_trip_count": 3},
  "trips": [
    {"link": "https://www.blablacar.fr/trip?source=CARPOOLING&id=2671548931-paris-lyon",
     "waypoints": [
       {"date_time": "2026-12-19T08:30:00", "place": {"city": "Paris", "address": "Porte de Bercy, 75012 Paris",
        "latitude": 48.8325, "longitude": 2.3897, "country_code": "FR"}},
       {"date_time": "2026-12-19T10:40:00", "place": {"city": "Beaune", "address": "Aire de Beaune", "country_code": "FR"}},
       {"date_time": "2026-12-19T13:10:00", "place": {"city": "Lyon", "address": "Gare Part-Dieu, 69003 Lyon",
        "country_code": "FR"}}],
     "price": {"amount": "27.50", "currency": "EUR"},
     "vehicle": {"make": "Peugeot", "model": "308"},
     "distance_in_meters": 465000, "duration_in_seconds": 16800, "new_field": true},
    {"link": "https://www.blablacar.fr/trip?source=CARPOOLING&id=2671550000-paris-villeurbanne&utm=x",
     "waypoints": [
       {"date_time": "2026-12-19T18:00:00", "place": {"city": "Saint-Ouen-sur-Seine", "address": null}},
       {"date_time": "2026-12-19T22:45:00", "place": {"city": "Villeurbanne — Gratte-Ciel ✨"}}],
     "price": {"amount": 31, "currency": "EUR"}, "vehicle": null},
    {"waypoints": [], "price": {"amount": "5.00", "currency": "EUR"}}
  ],
  "next_cursor": "cGFnZT0y"
}"#;

#[test]
fn reads_trips_with_all_ingredients() {
    let events = read(SEARCH).unwrap();
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["2671548931-paris-lyon", "2671550000-paris-villeurbanne"]);
    let t = &events[0].ingredients;
    assert_eq!(t["departure"], "Paris");
    assert_eq!(t["departure_address"], "Porte de Bercy, 75012 Paris");
    assert_eq!(t["departure_time"], "2026-12-19T08:30:00");
    assert_eq!(t["arrival"], "Lyon");
    assert_eq!(t["arrival_address"], "Gare Part-Dieu, 69003 Lyon");
    assert_eq!(t["arrival_time"], "2026-12-19T13:10:00");
    assert_eq!(t["price"], "27.50");
    assert_eq!(t["currency"], "EUR");
    assert_eq!(t["link"], "https://www.blablacar.fr/trip?source=CARPOOLING&id=2671548931-paris-lyon");
    assert_eq!(t["vehicle"], "Peugeot 308");
    assert_eq!(t["id"], "2671548931-paris-lyon");
    let u = &events[1].ingredients;
    assert_eq!(u["arrival"], "Villeurbanne — Gratte-Ciel ✨");
    assert_eq!(u["departure_address"], "");
    assert_eq!(u["price"], "31");
    assert_eq!(u["vehicle"], "");
    // v3 has no seat or driver data: no invented ingredients.
    assert!(!t.contains_key("seats") && !t.contains_key("driver"));
}

#[test]
fn trip_keys_ignore_link_decorations() {
    assert_eq!(
        blablacar::trip_key("https://www.blablacar.es/trip?id=42-madrid-valencia&source=X"),
        "42-madrid-valencia"
    );
    assert_eq!(blablacar::trip_key("https://www.blablacar.co.uk/trip/abc"), "https://www.blablacar.co.uk/trip/abc");
    assert_eq!(blablacar::trip_key("not a url"), "not a url");
}

#[test]
fn empty_and_error_bodies() {
    assert!(read(r#"{"trips": [], "search_info": {"count": 0}}"#).unwrap().is_empty());
    assert!(read(r#"{"trips": null}"#).unwrap().is_empty());
    let echoed = format!(r#"{{"message": "Invalid key {KEY}"}}"#);
    for body in ["", "<html></html>", r#"{"error": {"code": 403, "message": "Quota exceeded"}}"#, echoed.as_str()] {
        match read(body) {
            Err(ConnectorError::BadResponse { service, message }) => {
                assert_eq!(service, "blablacar");
                assert!(!message.contains(KEY), "the key leaked: {message}");
                if body.contains("Quota") {
                    assert!(message.contains("Quota exceeded"), "{message}");
                }
            }
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
}

#[test]
fn request_has_the_documented_query() {
    let mut p = params(route());
    p.insert("seats".into(), json!(2));
    p.insert("locale".into(), json!("fr-FR"));
    p.insert("currency".into(), json!("eur"));
    let cred = Credential::ApiKey("k y&z".into());
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let req = action().request(&ctx).unwrap();
    assert_eq!(req.method, "GET");
    let url = url::Url::parse(&req.url).unwrap();
    assert!(url.path().ends_with("/trips"), "{}", req.url);
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["key"], "k y&z");
    assert_eq!(q["from_coordinate"], "48.8566,2.3522");
    assert_eq!(q["to_coordinate"], "45.764,4.8357");
    assert_eq!(q["start_date_local"], "2026-12-19T00:00:00");
    assert_eq!(q["end_date_local"], "2026-12-19T23:59:59");
    assert_eq!(q["count"], "100");
    assert_eq!(q["locale"], "fr-FR");
    assert_eq!(q["currency"], "EUR");
    assert_eq!(q["requested_seats"], "2");

    for (field, value) in [
        ("from", json!("Paris")),
        ("to", json!("95,2")),
        ("date", json!("19/12/2026")),
        ("seats", json!(0)),
        ("locale", json!("fr&x=1")),
    ] {
        let mut p = params(route());
        p.insert(field.into(), value.clone());
        let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
        match action().request(&ctx) {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, field, "{value}"),
            other => panic!("{field}={value}: expected BadParams, got {other:?}"),
        }
    }
    let p = params(route());
    assert!(matches!(action().request(&PollContext::new(&p, None)), Err(ConnectorError::AuthExpired { .. })));
}

#[test]
fn errors_are_classified_and_never_show_the_key() {
    let p = params(route());
    let cred = Credential::ApiKey(KEY.into());
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let e = action().error_for("blablacar", &ctx, &response(401, r#"{"message": "Invalid API key"}"#));
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
    let e = action().error_for("blablacar", &ctx, &response(403, r#"{"message": "Forbidden for this plan"}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("48.8566,2.3522") && e.to_string().contains("Forbidden for this plan"), "{e}");
    let e = action().error_for("blablacar", &ctx, &response(404, "{}"));
    assert_eq!(e.class(), ErrorClass::Permanent);
    let mut limited = response(429, &format!("quota exceeded for key={KEY}"));
    limited.headers.push(("retry-after".into(), "3600".into()));
    let e = action().error_for("blablacar", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(3600)) });
    assert!(!e.to_string().contains(KEY), "{e}");
}

#[test]
fn catalog_lists_it_as_limited_with_the_reason() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let m = &catalog.service("blablacar").expect("listed").manifest;
    assert_eq!(m.auth, AuthKind::ApiKey);
    match &m.availability {
        Availability::Limited(reason) => assert!(reason.contains("partner-only") && reason.contains("key"), "{reason}"),
        other => panic!("expected Limited, got {other:?}"),
    }
    assert!(m.reactions.is_empty());
    let a = &m.actions[0];
    assert_eq!(a.id, "new_trip");
    for id in ["departure", "arrival", "price", "link"] {
        assert!(a.ingredients.iter().any(|i| i.id == id && !i.example.is_empty()), "{id}");
    }
}

fn trip(id: &str, city: &str, price: &str) -> Value {
    json!({"link": format!("https://www.blablacar.fr/trip?source=CARPOOLING&id={id}"),
           "waypoints": [{"date_time": "2026-12-19T08:30:00", "place": {"city": city}},
                         {"date_time": "2026-12-19T13:10:00", "place": {"city": "Lyon"}}],
           "price": {"amount": price, "currency": "EUR"}})
}

#[tokio::test]
async fn engine_fires_once_for_a_new_trip() {
    let env = Env::new().await;
    let api = MockServer::start().await;
    let settings =
        area_core::settings::Settings::from_pairs([("AREA_BLABLACAR_BASE_URL", format!("{}/api/v3", api.uri()))]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    conns.save(env.user_id, "blablacar", &Secret::ApiKey { key: KEY.into() }, None, None).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "paris → lyon",
            "action": {"service": "blablacar", "id": "new_trip", "params": route()},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ departure }} → {{ arrival }}: {{ price }} {{ currency }}"}}]
        })))
        .await;
    let search = |trips: Vec<Value>| {
        let count = trips.len();
        json!({"trips": trips, "search_info": {"count": count}})
    };
    Mock::given(method("GET"))
        .and(path("/api/v3/trips"))
        .and(query_param("key", KEY))
        .and(query_param("from_coordinate", "48.8566,2.3522"))
        .respond_with(ResponseTemplate::new(200).set_body_json(search(vec![trip("1-paris-lyon", "Paris", "20.00")])))
        .up_to_n_times(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/trips"))
        .and(query_param("key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(search(vec![
            trip("2-bercy-lyon", "Paris Bercy", "18.50"),
            trip("1-paris-lyon", "Paris", "20.00"),
        ])))
        .mount(&api)
        .await;

    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["Paris Bercy → Lyon: 18.50 EUR"]);
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}
