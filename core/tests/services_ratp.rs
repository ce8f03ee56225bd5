//! `ratp` service (Île-de-France Mobilités PRIM): reading documented SIRI Lite answers
//! (general-message, stop-monitoring), poll requests, error mappings, and engine end-to-end tests.
//!
//! `AREA_RATP_BASE_URL` is process-global: tests that need the fake API share ONE mock server
//! (the variable set once) and use their own line or stop ids.

mod kit;

use kit::params;
use std::sync::Arc;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction,
};
use area_core::services::ratp;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;

const KEY: &str = "prim-token-0123456789";

static SERVER: OnceCell<MockServer> = OnceCell::const_new();

/// The settings pointing the services at the fake server (none until it started).
static SETTINGS: std::sync::OnceLock<area_core::settings::Settings> = std::sync::OnceLock::new();

fn settings() -> area_core::settings::Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

async fn server() -> &'static MockServer {
    SERVER
        .get_or_init(|| async {
            let server = MockServer::start().await;
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([("AREA_RATP_BASE_URL", server.uri())]));
            server
        })
        .await
}

fn action(id: &str) -> Arc<dyn PolledAction> {
    match ratp::service(&settings()).actions.get(id) {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("ratp.{id} is not polled"),
    }
}

fn resp(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData { status, headers: vec![], body: body.as_bytes().to_vec() }
}

fn read(id: &str, p: Value, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    let cred = Credential::ApiKey(KEY.into());
    action(id)
        .read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, &resp(200, body))
        .map(|o| o.events)
}

fn keys(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.key.as_str()).collect()
}

fn info_message(id: &str, channel: &str, short: &str, long: Option<&str>) -> Value {
    let mut messages = vec![json!({"MessageType": "SHORT_MESSAGE", "MessageText": {"value": short, "lang": "fr"}})];
    if let Some(long) = long {
        messages.push(json!({"MessageType": "LONG_MESSAGE", "MessageText": {"value": long, "lang": "fr"}}));
    }
    json!({
        "formatRef": "STIF-IDF",
        "RecordedAtTime": "2026-11-28T07:42:00.000Z",
        "ItemIdentifier": format!("item-{id}"),
        "InfoMessageIdentifier": {"value": id},
        "InfoMessageVersion": 3,
        "InfoChannelRef": {"value": channel},
        "ValidUntilTime": "2026-11-28T11:00:00.000Z",
        "Content": {
            "LineRef": [{"value": "STIF:Line::C01742:"}],
            "StopPointRef": [],
            "Message": messages
        },
        "extra": null
    })
}

/// Shaped like PRIM's "Info trafic" (SIRI Lite general-message) answer.
fn general_message(messages: Vec<Value>) -> Value {
    json!({"Siri": {"ServiceDelivery": {
        "ResponseTimestamp": "2026-11-28T08:00:00.123Z",
        "ProducerRef": "IVTR_HUB",
        "ResponseMessageIdentifier": "IVTR_HUB:ResponseMessage::abc:LOC",
        "GeneralMessageDelivery": [{
            "ResponseTimestamp": "2026-11-28T08:00:00.123Z",
            "Version": "2.0",
            "Status": "true",
            "InfoMessage": messages
        }]
    }}})
}

fn visit(journey: &str, aimed: &str, expected: &str, status: &str) -> Value {
    json!({
        "RecordedAtTime": "2026-11-28T07:59:30.000Z",
        "ItemIdentifier": format!("RATP-SIV:Item::{journey}:LOC"),
        "MonitoringRef": {"value": "STIF:StopPoint:Q:473921:"},
        "MonitoredVehicleJourney": {
            "LineRef": {"value": "STIF:Line::C01742:"},
            "OperatorRef": {"value": "SIV:Operator::RATP:"},
            "FramedVehicleJourneyRef": {"DataFrameRef": {"value": "any"}, "DatedVehicleJourneyRef": journey},
            "DirectionName": [{"value": "Marne-la-Vallée"}],
            "DestinationRef": {"value": "STIF:StopPoint:Q:411413:"},
            "DestinationName": [{"value": "Marne-la-Vallée Chessy"}],
            "JourneyNote": [{"value": "QIKI"}],
            "MonitoredCall": {
                "StopPointName": [{"value": "Châtelet les Halles"}],
                "VehicleAtStop": false,
                "DestinationDisplay": [{"value": "QIKI"}],
                "AimedDepartureTime": aimed,
                "ExpectedDepartureTime": expected,
                "DepartureStatus": status
            }
        }
    })
}

/// Shaped like PRIM's stop-monitoring ("requête unitaire") answer at 08:00:00Z.
fn stop_monitoring(visits: Vec<Value>) -> Value {
    json!({"Siri": {"ServiceDelivery": {
        "ResponseTimestamp": "2026-11-28T08:00:00.000Z",
        "ProducerRef": "IVTR_HUB",
        "StopMonitoringDelivery": [{
            "ResponseTimestamp": "2026-11-28T08:00:00.000Z",
            "Version": "2.0",
            "Status": "true",
            "MonitoredStopVisit": visits
        }]
    }}})
}

#[test]
fn manifest_is_an_available_api_key_service() {
    let s = ratp::service(&settings());
    assert_eq!(s.manifest.id, "ratp");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    assert_eq!(s.manifest.availability, Availability::Available);
    assert!(s.reactions.is_empty());
    assert_eq!(ratp::DEFAULT_BASE_URL, "https://prim.iledefrance-mobilites.fr/marketplace");
    let ids: Vec<&str> = s.manifest.actions.iter().map(|a| a.id).collect();
    assert_eq!(ids, ["disruption", "next_departure"]);
}

#[test]
fn ids_are_normalised_to_siri_refs() {
    for raw in ["C01742", " STIF:Line::C01742: ", "line:IDFM:C01742", "IDFM:C01742"] {
        assert_eq!(ratp::line_ref(raw, "line").unwrap(), "STIF:Line::C01742:", "{raw}");
    }
    for raw in ["473921", "STIF:StopPoint:Q:473921:", "stop_point:IDFM:473921"] {
        assert_eq!(ratp::monitoring_ref(raw).unwrap(), "STIF:StopPoint:Q:473921:", "{raw}");
    }
    assert_eq!(ratp::monitoring_ref("IDFM:monomodalStopPlace:58879").unwrap(), "STIF:StopArea:SP:58879:");
    assert_eq!(ratp::monitoring_ref("STIF:StopArea:SP:71517:").unwrap(), "STIF:StopArea:SP:71517:");
    for bad in ["", "a b", "C01742&x=1", "../x"] {
        assert!(matches!(ratp::line_ref(bad, "line"), Err(ConnectorError::BadParams { .. })), "{bad}");
        assert!(matches!(ratp::monitoring_ref(bad), Err(ConnectorError::BadParams { .. })), "{bad}");
    }
}

#[test]
fn reads_disruptions_keyed_by_message_id() {
    let body = general_message(vec![
        info_message(
            "IDFM:TN:SNCF:8c1b0001",
            "Perturbation",
            "RER A : trafic perturbé",
            Some("En raison d'un incident technique à Nanterre, le trafic est perturbé — « reprise estimée 10h »."),
        ),
        info_message("IDFM:TN:SNCF:travaux", "Information", "Travaux le week-end", None),
        json!({"InfoMessageIdentifier": {"value": "IDFM:minimal"}, "InfoChannelRef": {"value": "Perturbation"},
               "Content": {"Message": [{"MessageType": "LONG_MESSAGE", "MessageText": {"value": "Ligne 1 : arrêt non desservi\nDétails…"}}]}}),
        json!({"InfoChannelRef": {"value": "Perturbation"}}),
    ])
    .to_string();
    let events = read("disruption", json!({"line": "C01742"}), &body).unwrap();
    assert_eq!(keys(&events), ["IDFM:TN:SNCF:8c1b0001", "IDFM:minimal"], "information skipped, id-less skipped");
    let e = &events[0].ingredients;
    assert_eq!(e["line"], json!("STIF:Line::C01742:"));
    assert_eq!(e["title"], json!("RER A : trafic perturbé"));
    assert!(e["message"].as_str().unwrap().contains("« reprise estimée 10h »"));
    assert_eq!(e["severity"], json!("Perturbation"));
    assert_eq!(e["start"], json!("2026-11-28T07:42:00.000Z"));
    assert_eq!(e["end"], json!("2026-11-28T11:00:00.000Z"));
    let minimal = &events[1].ingredients;
    assert_eq!(minimal["title"], json!("Ligne 1 : arrêt non desservi"), "first line of the long message");
    assert_eq!(minimal["end"], json!(""));
    assert_eq!(minimal.len(), 6);

    let all = read("disruption", json!({"line": "C01742", "include_information": true}), &body).unwrap();
    assert_eq!(keys(&all), ["IDFM:TN:SNCF:8c1b0001", "IDFM:TN:SNCF:travaux", "IDFM:minimal"]);
    assert_eq!(all[1].ingredients["message"], json!("Travaux le week-end"));

    // No message at all is fine.
    let empty = general_message(vec![]).to_string();
    assert!(read("disruption", json!({"line": "C01742"}), &empty).unwrap().is_empty());
    let no_list = json!({"Siri": {"ServiceDelivery": {"GeneralMessageDelivery": [{"Status": "true"}]}}}).to_string();
    assert!(read("disruption", json!({"line": "C01742"}), &no_list).unwrap().is_empty());
}

#[test]
fn reads_departures_within_the_window_once_each() {
    let body = stop_monitoring(vec![
        visit("RATP:VehicleJourney::RA.R.1015:LOC", "2026-11-28T08:03:00.000Z", "2026-11-28T08:04:30.000Z", "delayed"),
        visit("RATP:VehicleJourney::RA.R.1016:LOC", "2026-11-28T08:06:00.000Z", "2026-11-28T08:06:00.000Z", "cancelled"),
        visit("RATP:VehicleJourney::RA.R.1017:LOC", "2026-11-28T08:30:00.000Z", "2026-11-28T08:30:00.000Z", "onTime"),
        visit("RATP:VehicleJourney::RA.R.1014:LOC", "2026-11-28T07:58:00.000Z", "2026-11-28T07:59:00.000Z", "onTime"),
        json!({"ItemIdentifier": "x", "MonitoredVehicleJourney": {"MonitoredCall": {"ExpectedDepartureTime": "not a time"}}}),
        json!({"ItemIdentifier": "bus-42", "MonitoredVehicleJourney": {
            "LineRef": {"value": "STIF:Line::C01100:"}, "PublishedLineName": [{"value": "Bus 42 🚌"}],
            "MonitoredCall": {"ExpectedDepartureTime": "2026-11-28T08:10:00.000Z", "DestinationDisplay": [{"value": "Gare du Nord"}]}}}),
    ])
    .to_string();
    let events = read("next_departure", json!({"stop": "473921", "minutes": 10}), &body).unwrap();
    assert_eq!(
        keys(&events),
        ["RATP:VehicleJourney::RA.R.1015:LOC@2026-11-28T08:03:00.000Z", "bus-42@2026-11-28T08:10:00.000Z"],
        "cancelled, too far, already gone and unreadable departures are skipped"
    );
    let d = &events[0].ingredients;
    assert_eq!(d["line"], json!("STIF:Line::C01742:"));
    assert_eq!(d["destination"], json!("Marne-la-Vallée Chessy"));
    assert_eq!(d["expected_at"], json!("2026-11-28T08:04:30.000Z"));
    assert_eq!(d["minutes"], json!(4));
    let bus = &events[1].ingredients;
    assert_eq!(bus["line"], json!("Bus 42 🚌"));
    assert_eq!(bus["destination"], json!("Gare du Nord"));
    assert_eq!(bus["minutes"], json!(10));

    // The key follows the aimed time: a later expected time is the same departure.
    let moved = stop_monitoring(vec![visit(
        "RATP:VehicleJourney::RA.R.1015:LOC",
        "2026-11-28T08:03:00.000Z",
        "2026-11-28T08:05:30.000Z",
        "delayed",
    )])
    .to_string();
    assert_eq!(keys(&read("next_departure", json!({"stop": "473921"}), &moved).unwrap()), [events[0].key.as_str()]);

    // A smaller window leaves the bus out; the default is 10 minutes.
    let narrow = read("next_departure", json!({"stop": "473921", "minutes": "5"}), &body).unwrap();
    assert_eq!(narrow.len(), 1);
    assert_eq!(read("next_departure", json!({"stop": "473921"}), &body).unwrap().len(), 2);
}

#[test]
fn without_a_response_timestamp_the_given_clock_is_used() {
    let mut body = stop_monitoring(vec![visit("J1", "2026-11-28T08:03:00Z", "2026-11-28T08:03:00Z", "onTime")]);
    body["Siri"]["ServiceDelivery"].as_object_mut().unwrap().remove("ResponseTimestamp");
    let now: DateTime<Utc> = "2026-11-28T08:00:00Z".parse().unwrap();
    let events = ratp::read_departures(body.to_string().as_bytes(), 5, now).unwrap();
    assert_eq!(events[0].ingredients["minutes"], json!(3));
    let later: DateTime<Utc> = "2026-11-28T09:00:00Z".parse().unwrap();
    assert!(ratp::read_departures(body.to_string().as_bytes(), 5, later).unwrap().is_empty());
}

#[test]
fn errors_inside_a_200_are_errors() {
    let refused = json!({"Siri": {"ServiceDelivery": {"ResponseTimestamp": "2026-11-28T08:00:00Z",
        "StopMonitoringDelivery": [{"Status": "false", "ErrorCondition": {"ErrorInformation": {"ErrorText": "Le MonitoringRef n'est pas au bon format"}}}]}}})
    .to_string();
    match read("next_departure", json!({"stop": "473921"}), &refused) {
        Err(ConnectorError::BadResponse { message, .. }) => assert!(message.contains("MonitoringRef"), "{message}"),
        other => panic!("expected BadResponse, got {other:?}"),
    }
    let gateway = r#"{"message": "Invalid API key", "http_status_code": 401}"#;
    assert!(matches!(read("disruption", json!({"line": "C01742"}), gateway), Err(ConnectorError::BadResponse { .. })));
    for body in ["<html></html>", "[]", r#"{"Siri": {}}"#, r#"{"Siri": {"ServiceDelivery": {}}}"#] {
        assert!(matches!(read("disruption", json!({"line": "C01742"}), body), Err(ConnectorError::BadResponse { .. })));
        assert!(matches!(read("next_departure", json!({"stop": "1"}), body), Err(ConnectorError::BadResponse { .. })));
    }
}

#[test]
fn error_statuses_are_classified() {
    let p = params(json!({"line": "C01742"}));
    let ctx = PollContext { params: &p, cursor: None, credential: None };
    let a = action("disruption");
    assert_eq!(
        a.error_for("ratp", &ctx, &resp(401, r#"{"message": "Unauthorized"}"#)).class(),
        ErrorClass::NeedsReconnect
    );
    let e = a.error_for("ratp", &ctx, &resp(403, r#"{"message": "Forbidden"}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("line C01742"), "{e}");
    let e = a.error_for("ratp", &ctx, &resp(404, "{}"));
    assert_eq!(e.class(), ErrorClass::Permanent);
    let mut limited =
        resp(429, r#"{"message": "Rate limit exceeded ! You reach the limit of 1000 requests per 1 days"}"#);
    limited.headers.push(("retry-after".into(), "3600".into()));
    let e = a.error_for("ratp", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(std::time::Duration::from_secs(3600)) });
    assert!(e.to_string().contains("1000 requests"), "{e}");
}

#[tokio::test]
async fn poll_requests_carry_the_refs_and_the_apikey_header() {
    let base = server().await.uri();
    let cred = Credential::ApiKey(KEY.into());
    let p = params(json!({"line": "C01742"}));
    let req = action("disruption").request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.url, format!("{base}/general-message?LineRef=STIF%3ALine%3A%3AC01742%3A"));
    assert!(req.headers.contains(&("apikey".to_string(), KEY.to_string())));
    let p = params(json!({"stop": "473921", "line": "C01742", "minutes": 5}));
    let req =
        action("next_departure").request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(
        req.url,
        format!(
            "{base}/stop-monitoring?MonitoringRef=STIF%3AStopPoint%3AQ%3A473921%3A&LineRef=STIF%3ALine%3A%3AC01742%3A"
        )
    );
    assert!(matches!(
        action("next_departure").request(&PollContext { params: &p, cursor: None, credential: None }),
        Err(ConnectorError::AuthExpired { .. })
    ));
    let p = params(json!({"stop": "473921", "minutes": 500}));
    assert!(matches!(
        action("next_departure").request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }),
        Err(ConnectorError::BadParams { .. })
    ));
}

async fn engine_env(key: &str) -> support::Env {
    use area_core::connections::{Connections, MasterKey, Secret};
    let env = support::Env::new().await;
    let connections = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings()),
    );
    connections.save(env.user_id, "ratp", &Secret::ApiKey { key: key.into() }, None, None).await.unwrap();
    env
}

/// Through the real engine: "disruption on a line → notification"; the first poll baselines
/// the current disruption, a new one fires exactly once.
#[tokio::test]
async fn disruption_end_to_end() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("prim-e2e").await;
    let old = info_message("IDFM:old", "Perturbation", "Ancien incident", None);
    let new =
        info_message("IDFM:new", "Perturbation", "RER B : trafic interrompu ⚠", Some("Suite à un colis suspect."));
    let first = Mock::given(method("GET"))
        .and(path("/general-message"))
        .and(query_param("LineRef", "STIF:Line::C01743:"))
        .and(header("apikey", "prim-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(general_message(vec![old.clone()])))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let later = Mock::given(method("GET"))
        .and(path("/general-message"))
        .and(query_param("LineRef", "STIF:Line::C01743:"))
        .and(header("apikey", "prim-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(general_message(vec![new, old])))
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "RER B",
            "action": {"service": "ratp", "id": "disruption", "params": {"line": "C01743"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}", "body": "{{ message }} ({{ severity }})"}}]
        })))
        .await;
    let recorder = support::RecordingNotifier::new();
    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(recorder.count(), 0, "baseline");
    drop(first);
    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?} {:?}", report.errors, env.state(area).await);
    Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(
        shown,
        [("RER B : trafic interrompu ⚠".to_string(), "Suite à un colis suspect. (Perturbation)".to_string())]
    );
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    drop(later);
}

/// Through the real engine: "departure within 10 minutes → notification"; departures already
/// close at the first poll do not fire, a new one fires once even when its expected time moves.
#[tokio::test]
async fn next_departure_end_to_end() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("prim-e2e-2").await;
    let now = Utc::now();
    let at = |mins: i64| (now + chrono::Duration::minutes(mins)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let answer = |visits: Vec<Value>| {
        let mut body = stop_monitoring(visits);
        body["Siri"]["ServiceDelivery"]["ResponseTimestamp"] = json!(at(0));
        body
    };
    let first = Mock::given(method("GET"))
        .and(path("/stop-monitoring"))
        .and(query_param("MonitoringRef", "STIF:StopPoint:Q:22092:"))
        .and(header("apikey", "prim-e2e-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer(vec![
            visit("J-near", &at(2), &at(2), "onTime"),
            visit("J-far", &at(8), &at(25), "delayed"),
        ])))
        .up_to_n_times(1)
        .mount_as_scoped(srv)
        .await;
    let second = Mock::given(method("GET"))
        .and(path("/stop-monitoring"))
        .and(query_param("MonitoringRef", "STIF:StopPoint:Q:22092:"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer(vec![
            visit("J-near", &at(2), &at(1), "onTime"),
            visit("J-far", &at(8), &at(9), "delayed"),
        ])))
        .up_to_n_times(1)
        .mount_as_scoped(srv)
        .await;
    let third = Mock::given(method("GET"))
        .and(path("/stop-monitoring"))
        .and(query_param("MonitoringRef", "STIF:StopPoint:Q:22092:"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer(vec![visit("J-far", &at(8), &at(7), "onTime")])))
        .mount_as_scoped(srv)
        .await;
    env.add(support::spec(json!({
        "name": "next train",
        "action": {"service": "ratp", "id": "next_departure", "params": {"stop": "STIF:StopPoint:Q:22092:", "minutes": 10}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ destination }} in {{ minutes }} min"}}]
    })))
    .await;
    let recorder = support::RecordingNotifier::new();
    Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert_eq!(recorder.count(), 0, "baseline: the near departure does not fire");
    drop(first);
    Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    drop(second);
    Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(titles[0].starts_with("Marne-la-Vallée Chessy in "), "{titles:?}");
    drop(third);
}
