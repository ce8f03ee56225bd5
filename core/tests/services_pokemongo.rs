//! `pokemongo` service: reading saved ScrapedDuck feeds, the request, error mapping, the
//! catalog entry, and one area end to end through the engine against a local fake feed.
//!
//! Only the end-to-end test talks to a server, and it is the only test in this binary that sets
//! `AREA_POKEMONGO_BASE_URL` (environment variables are process-global).

mod kit;

use kit::params;
use std::sync::Arc;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{ConnectorError, ErrorClass, Event, HttpResponseData, PollContext, PolledAction};
use area_core::engine::Engine;
use area_core::services::pokemongo;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

fn action() -> Arc<dyn PolledAction> {
    match pokemongo::service(&area_core::settings::Settings::from_env()).actions.get("new_event") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("pokemongo.new_event is not polled"),
    }
}

fn response(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn read(p: Value, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    action().read(&PollContext::new(&p, None), &response(200, body)).map(|o| o.events)
}

/// Shaped like ScrapedDuck's `events.min.json`: a local event (no zone), a global one (`Z`),
/// extra fields and `extraData`, nulls, unicode, an item without `eventID` (skipped).
const FEED: &str = r#"[
  {"eventID": "december-community-day-2026", "name": "December Community Day", "eventType": "community-day",
   "heading": "Community Day", "link": "https://leekduck.com/events/december-community-day-2026/",
   "image": "https://cdn.leekduck.com/assets/img/events/cd.jpg", "start": "2026-12-06T14:00:00.000",
   "end": "2026-12-06T17:00:00.000", "extraData": {"communityday": {"spawns": [{"name": "Pikachu"}]}},
   "somethingNew": 42},
  {"eventID": "go-battle-league-season-26", "name": "GO Battle League: Saison 26 – Clé des Étoiles ✨",
   "eventType": "go-battle-league", "heading": "GO Battle League", "link": null, "image": null,
   "start": "2026-12-02T20:00:00.000Z", "end": null},
  {"eventID": "raid-hour-mewtwo", "name": "Mewtwo Raid Hour", "eventType": "raid-hour"},
  {"name": "no id, skipped", "eventType": "event"},
  "not an object"
]"#;

#[test]
fn reads_events_with_all_ingredients() {
    let events = read(json!({}), FEED).unwrap();
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["december-community-day-2026", "go-battle-league-season-26", "raid-hour-mewtwo"]);
    let cd = &events[0].ingredients;
    assert_eq!(cd["name"], "December Community Day");
    assert_eq!(cd["type"], "community-day");
    assert_eq!(cd["heading"], "Community Day");
    assert_eq!(cd["start"], "2026-12-06T14:00:00.000");
    assert_eq!(cd["end"], "2026-12-06T17:00:00.000");
    assert_eq!(cd["link"], "https://leekduck.com/events/december-community-day-2026/");
    assert_eq!(cd["image"], "https://cdn.leekduck.com/assets/img/events/cd.jpg");
    assert_eq!(cd["id"], "december-community-day-2026");
    // Nulls and missing fields are empty text; unicode is kept; zones are passed through.
    let gbl = &events[1].ingredients;
    assert_eq!(gbl["name"], "GO Battle League: Saison 26 – Clé des Étoiles ✨");
    assert_eq!(gbl["start"], "2026-12-02T20:00:00.000Z");
    assert_eq!(gbl["end"], "");
    assert_eq!(gbl["link"], "");
    assert_eq!(events[2].ingredients["heading"], "");
}

#[test]
fn event_type_filter_keeps_only_that_type() {
    let events = read(json!({"event_type": "Community-Day"}), FEED).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key, "december-community-day-2026");
    assert!(read(json!({"event_type": "spotlight-hour"}), FEED).unwrap().is_empty());
    // Blank means every event.
    assert_eq!(read(json!({"event_type": "  "}), FEED).unwrap().len(), 3);
}

#[test]
fn keys_are_stable_across_polls_and_order() {
    let first = read(json!({}), FEED).unwrap();
    let again = read(json!({}), FEED).unwrap();
    assert_eq!(first, again);
    assert!(read(json!({}), "[]").unwrap().is_empty());
}

#[test]
fn non_feed_bodies_are_bad_responses() {
    for body in
        ["", "<!DOCTYPE html><html>404</html>", r#"{"message": "Not Found"}"#, r#"{"error": "rate limited"}"#, "42"]
    {
        match read(json!({}), body) {
            Err(ConnectorError::BadResponse { service, .. }) => assert_eq!(service, "pokemongo"),
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
}

#[test]
fn request_is_a_get_of_the_feed() {
    let p = params(json!({}));
    let req = action().request(&PollContext::new(&p, None)).unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.url.ends_with("/events.min.json"), "{}", req.url);
    assert!(req.headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("authorization")));
}

#[test]
fn errors_are_classified() {
    let p = params(json!({}));
    let ctx = PollContext::new(&p, None);
    for status in [403, 404] {
        let e = action().error_for("pokemongo", &ctx, &response(status, "404: Not Found"));
        assert_eq!(e.class(), ErrorClass::Permanent, "{status}");
        assert!(e.to_string().contains("events.min.json"), "{e}");
    }
    let mut limited = response(429, "slow down");
    limited.headers.push(("retry-after".into(), "120".into()));
    let e = action().error_for("pokemongo", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(std::time::Duration::from_secs(120)) });
    let e = action().error_for("pokemongo", &ctx, &response(503, "unavailable"));
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }));
}

#[test]
fn catalog_lists_it_as_unofficial_with_its_source() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let service = catalog.service("pokemongo").expect("listed");
    let m = &service.manifest;
    assert_eq!(m.auth, AuthKind::None);
    match &m.availability {
        Availability::Unofficial(reason) => {
            assert!(reason.contains("no official API") && reason.contains("ScrapedDuck"), "{reason}")
        }
        other => panic!("expected Unofficial, got {other:?}"),
    }
    assert!(m.reactions.is_empty());
    let a = &m.actions[0];
    assert_eq!(a.id, "new_event");
    for id in ["name", "type", "start", "end", "link"] {
        assert!(a.ingredients.iter().any(|i| i.id == id && !i.example.is_empty()), "{id}");
    }
    assert!(catalog.action("pokemongo", "new_event").is_some());
}

fn event(id: &str, name: &str) -> Value {
    json!({"eventID": id, "name": name, "eventType": "community-day", "heading": "Community Day",
           "link": format!("https://leekduck.com/events/{id}/"), "image": null,
           "start": "2026-12-06T14:00:00.000", "end": "2026-12-06T17:00:00.000", "extraData": {}})
}

#[tokio::test]
async fn engine_fires_once_for_a_new_event_after_the_baseline() {
    let env = Env::new().await;
    let feed = MockServer::start().await;
    let settings = area_core::settings::Settings::from_pairs([("AREA_POKEMONGO_BASE_URL", feed.uri())]);
    let area = env
        .add(spec(json!({
            "name": "community days",
            "action": {"service": "pokemongo", "id": "new_event", "params": {"event_type": "community-day"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ name }} ({{ start }})"}}]
        })))
        .await;
    let old = event("november-community-day-2026", "November Community Day");
    let new = event("december-community-day-2026", "December Community Day");
    Mock::given(method("GET"))
        .and(path("/events.min.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([old])))
        .up_to_n_times(1)
        .mount(&feed)
        .await;
    Mock::given(method("GET"))
        .and(path("/events.min.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([new, old])))
        .mount(&feed)
        .await;

    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    assert!(env.state(area).await.baselined);
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // nothing new
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["December Community Day (2026-12-06T14:00:00.000)"]);
    assert_eq!(env.count_runs(area, "succeeded").await, 1, "{:?}", env.statuses(area).await);
    assert_eq!(received_count(&feed).await, 3);
}
