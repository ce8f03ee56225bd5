//! `postman` service: reading documented `GET /monitors/{id}` answers, the poll request, the
//! `run_monitor` reaction against wiremock, error mappings, and one engine end-to-end test.
//!
//! `AREA_POSTMAN_BASE_URL` is process-global: every test that needs the fake API shares ONE
//! mock server (the variable set once) and uses its own monitor id with scoped mocks.

mod kit;

use kit::{params, NoNotifier};
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionContext,
    ReactionOutput,
};
use area_core::net::{HttpClient, NetConfig};
use area_core::services::postman;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;

const KEY: &str = "PMAK-test-0123456789abcdef";

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
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([("AREA_POSTMAN_BASE_URL", server.uri())]));
            server
        })
        .await
}

fn key() -> Credential {
    Credential::ApiKey(KEY.into())
}

fn action() -> Arc<dyn PolledAction> {
    match postman::service(&settings()).actions.get("monitor_run_failed") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("postman.monitor_run_failed is not polled"),
    }
}

fn resp(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn read(body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({"monitor_id": "1e6b6cc1-c760-48e0-968f-4bfaeeae9af1"}));
    let cred = key();
    action()
        .read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, &resp(200, body))
        .map(|o| o.events)
}

/// Shaped like learning.postman.com "Get a monitor": extra fields, a failed last run.
fn monitor(status: &str, finished_at: Value) -> Value {
    json!({"monitor": {
        "id": "1e6b6cc1-c760-48e0-968f-4bfaeeae9af1",
        "name": "Vérification de l'API — café ☕",
        "uid": "12345678-1e6b6cc1-c760-48e0-968f-4bfaeeae9af1",
        "owner": 12345678,
        "collectionUid": "12345678-12ece9e1-2abf-4edc-8e34-de66e74114d2",
        "environmentUid": "12345678-5daabc50-8451-43f6-922d-96b403b4f28e",
        "options": {"strictSSL": true, "followRedirects": true, "requestTimeout": null, "requestDelay": 0},
        "notificationRecipients": [{"email": "taylor.lee@example.com"}],
        "distribution": [],
        "schedule": {"cron": "0 0 * * * *", "timezone": "America/Chicago", "nextRun": "2026-11-28T11:00:00.000Z"},
        "lastRun": {
            "status": status,
            "startedAt": "2026-11-28T10:00:00.000Z",
            "finishedAt": finished_at,
            "stats": {"assertions": {"total": 8, "failed": 2}, "requests": {"total": 4, "failed": 1}}
        },
        "some_future_field": {"x": 1}
    }})
}

#[test]
fn manifest_is_an_api_key_service_with_one_action_and_one_reaction() {
    let s = postman::service(&settings());
    assert_eq!(s.manifest.id, "postman");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    assert_eq!(s.manifest.availability, Availability::Available);
    assert_eq!(s.manifest.connection_id(), Some("postman"));
    assert_eq!(postman::DEFAULT_BASE_URL, "https://api.getpostman.com");
    assert!(s.actions.contains_key("monitor_run_failed"));
    assert!(!s.reactions["run_monitor"].idempotent(), "Postman has no idempotency key");
    let ingredients: Vec<&str> = s.manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    assert_eq!(ingredients, ["monitor", "status", "finished_at", "failed_count", "url"]);
}

#[test]
fn a_failed_last_run_is_one_event_keyed_by_monitor_and_finish_time() {
    let events = read(&monitor("failed", json!("2026-11-28T10:00:12.345Z")).to_string()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key, "1e6b6cc1-c760-48e0-968f-4bfaeeae9af1@2026-11-28T10:00:12.345Z");
    let ing = &events[0].ingredients;
    assert_eq!(ing["monitor"], json!("Vérification de l'API — café ☕"));
    assert_eq!(ing["status"], json!("failed"));
    assert_eq!(ing["finished_at"], json!("2026-11-28T10:00:12.345Z"));
    assert_eq!(ing["failed_count"], json!(3), "2 failed assertions + 1 failed request");
    assert_eq!(ing["url"], json!("https://go.postman.co/monitors/12345678-1e6b6cc1-c760-48e0-968f-4bfaeeae9af1"));

    // `error` fires too; without a finish time the start time keys it.
    let events = read(&monitor("error", Value::Null).to_string()).unwrap();
    assert_eq!(events[0].key, "1e6b6cc1-c760-48e0-968f-4bfaeeae9af1@2026-11-28T10:00:00.000Z");
    assert_eq!(events[0].ingredients["finished_at"], json!(""));

    // The same run read twice is the same key; the next run is a new one.
    let again = read(&monitor("failed", json!("2026-11-28T10:00:12.345Z")).to_string()).unwrap();
    let next = read(&monitor("failed", json!("2026-11-28T11:00:09.000Z")).to_string()).unwrap();
    assert_eq!(again[0].key, read(&monitor("FAILED", json!("2026-11-28T10:00:12.345Z")).to_string()).unwrap()[0].key);
    assert_ne!(again[0].key, next[0].key);
}

#[test]
fn successful_aborted_or_missing_runs_fire_nothing() {
    for status in ["success", "aborted"] {
        assert!(read(&monitor(status, json!("2026-11-28T10:00:12.345Z")).to_string()).unwrap().is_empty());
    }
    assert!(read(r#"{"monitor": {"id": "m1", "name": "never run", "lastRun": null}}"#).unwrap().is_empty());
    assert!(read(r#"{"monitor": {"id": "m1"}}"#).unwrap().is_empty());
    // Minimal failed run: missing stats, name and uid.
    let events = read(r#"{"monitor": {"id": "m1", "lastRun": {"status": "failed", "finishedAt": "t"}}}"#).unwrap();
    assert_eq!(events[0].ingredients["failed_count"], json!(0));
    assert_eq!(events[0].ingredients["url"], json!("https://go.postman.co/monitors/m1"));
    assert_eq!(events[0].ingredients["monitor"], json!(""));
}

#[test]
fn error_bodies_in_a_200_are_errors() {
    match read(
        r#"{"error": {"name": "instanceNotFoundError", "message": "We could not find the monitor you are looking for"}}"#,
    ) {
        Err(ConnectorError::BadResponse { message, .. }) => {
            assert!(message.contains("could not find the monitor"), "{message}")
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert!(matches!(
        read(r#"{"error": {"name": "AuthenticationError", "message": "API key not found"}}"#),
        Err(ConnectorError::AuthExpired { .. })
    ));
    assert!(matches!(read("<html>oops</html>"), Err(ConnectorError::BadResponse { .. })));
    assert!(matches!(read(r#"{"monitors": []}"#), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn poll_errors_are_classified_and_name_the_monitor() {
    let p = params(json!({"monitor_id": "mon-404"}));
    let cred = key();
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let e = action().error_for(
        "postman",
        &ctx,
        &resp(401, r#"{"error": {"name": "AuthenticationError", "message": "API key not found"}}"#),
    );
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
    let e = action().error_for(
        "postman",
        &ctx,
        &resp(404, r#"{"error": {"name": "instanceNotFoundError", "message": "not found"}}"#),
    );
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("monitor mon-404 not found"), "{e}");
    let e =
        action().error_for("postman", &ctx, &resp(403, r#"{"error": {"name": "forbiddenError", "message": "nope"}}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("monitor mon-404") && e.to_string().contains("nope"), "{e}");
    let mut limited =
        resp(429, r#"{"error": "rateLimited", "message": "Rate limit exceeded. Please retry after 1669048687"}"#);
    limited.headers.push(("retryafter".into(), "30".into()));
    let e = action().error_for("postman", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) });
    let e = action().error_for("postman", &ctx, &resp(503, "upstream down"));
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }));
}

#[tokio::test]
async fn poll_request_has_the_path_and_the_key_header() {
    let base = server().await.uri();
    let cred = key();
    let p = params(json!({"monitor_id": " 1e6b6cc1-c760-48e0-968f-4bfaeeae9af1 "}));
    let req = action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, format!("{base}/monitors/1e6b6cc1-c760-48e0-968f-4bfaeeae9af1"));
    assert!(req.headers.contains(&("X-Api-Key".to_string(), KEY.to_string())));
    assert!(matches!(
        action().request(&PollContext { params: &p, cursor: None, credential: None }),
        Err(ConnectorError::AuthExpired { .. })
    ));
    for bad in ["../x", "a/b", "m?x=1", ""] {
        let p = params(json!({ "monitor_id": bad }));
        match action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }) {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "monitor_id"),
            other => panic!("{bad:?}: expected BadParams, got {other:?}"),
        }
    }
}

async fn run(credential: Option<&Credential>, p: Value) -> Result<ReactionOutput, ConnectorError> {
    server().await;
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let ctx = ReactionContext {
        http: &client,
        idempotency_key: "area-1:evt-1:0",
        notifier: &NoNotifier,
        allow_private_network: false,
        credential,
    };
    postman::service(&settings()).reactions["run_monitor"].run(&ctx, &params(p)).await
}

#[tokio::test]
async fn run_monitor_posts_an_async_run_with_the_key() {
    let guard = Mock::given(method("POST"))
        .and(path("/monitors/mon-run/run"))
        .and(query_param("async", "true"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"run": {"info": {
            "jobId": "1ecee76a-e14e-47c0-bddc-256bf690c407", "monitorId": "mon-run",
            "name": "Checkout — ☕", "collectionUid": "x", "environmentUid": null,
            "status": "in-progress", "startedAt": "2026-11-28T10:00:00.000Z", "finishedAt": null
        }}})))
        .expect(1)
        .mount_as_scoped(server().await)
        .await;
    let cred = key();
    let out = run(Some(&cred), json!({"monitor_id": "mon-run"})).await.unwrap();
    assert_eq!(out.summary, "started monitor Checkout — ☕ (in-progress)");
    assert!(!out.summary.contains(KEY));
    let received = guard.received_requests().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method.as_str(), "POST");
    assert!(received[0].body.is_empty(), "no body is sent");
}

#[tokio::test]
async fn run_monitor_errors() {
    let cred = key();
    // No connection: nothing is sent.
    let guard = Mock::given(method("POST"))
        .and(path("/monitors/mon-nocred/run"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount_as_scoped(server().await)
        .await;
    assert!(matches!(run(None, json!({"monitor_id": "mon-nocred"})).await, Err(ConnectorError::AuthExpired { .. })));
    drop(guard);

    let answered = |id: &'static str, response: ResponseTemplate| async move {
        let _g = Mock::given(method("POST"))
            .and(path(format!("/monitors/{id}/run")))
            .respond_with(response)
            .expect(1)
            .mount_as_scoped(server().await)
            .await;
        run(Some(&key()), json!({ "monitor_id": id })).await.expect_err("should fail")
    };
    let e = answered(
        "mon-401",
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": {"name": "AuthenticationError", "message": "API key not found"}})),
    )
    .await;
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
    let e = answered(
        "mon-404",
        ResponseTemplate::new(404).set_body_json(
            json!({"error": {"name": "instanceNotFoundError", "message": "We could not find the monitor"}}),
        ),
    )
    .await;
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("monitor mon-404 not found"), "{e}");
    let e = answered("mon-429", ResponseTemplate::new(429).insert_header("retry-after", "12")).await;
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(12)) });
    let e = answered(
        "mon-200err",
        ResponseTemplate::new(200)
            .set_body_json(json!({"error": {"name": "serverError", "message": "Something went wrong"}})),
    )
    .await;
    assert!(
        matches!(&e, ConnectorError::BadResponse { message, .. } if message.contains("Something went wrong")),
        "{e:?}"
    );
    drop(cred);
}

/// Through the real engine: the API key stored as a connection, an area "monitor run failed →
/// notification"; the first poll baselines (an old failed run does not fire), a new failed run
/// fires exactly once.
#[tokio::test]
async fn monitor_run_failed_end_to_end() {
    use area_core::connections::{Connections, MasterKey, Secret};
    use area_core::engine::Engine;

    let srv = server().await;
    let env = support::Env::new().await;
    let connections = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings()),
    );
    connections.save(env.user_id, "postman", &Secret::ApiKey { key: "PMAK-e2e".into() }, None, None).await.unwrap();

    let mon = |finished: &str| {
        let mut m = monitor("failed", json!(finished));
        m["monitor"]["id"] = json!("mon-e2e");
        m
    };
    let first = Mock::given(method("GET"))
        .and(path("/monitors/mon-e2e"))
        .and(header("x-api-key", "PMAK-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mon("2026-11-28T09:00:05.000Z")))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let later = Mock::given(method("GET"))
        .and(path("/monitors/mon-e2e"))
        .and(header("x-api-key", "PMAK-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mon("2026-11-28T10:00:07.000Z")))
        .mount_as_scoped(srv)
        .await;

    let area = env
        .add(support::spec(json!({
            "name": "monitor failed",
            // No interval: the default one fits the 1,000 calls a month assumed for an account
            // whose plan is not known.
            "action": {"service": "postman", "id": "monitor_run_failed", "params": {"monitor_id": "mon-e2e"}},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ monitor }} {{ status }}", "body": "{{ failed_count }} failures at {{ finished_at }}"}}]
        })))
        .await;
    let recorder = support::RecordingNotifier::new();
    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.runs_queued, 0, "the first poll only baselines");
    assert_eq!(recorder.count(), 0);
    drop(first);

    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(
        shown,
        [("Vérification de l'API — café ☕ failed".to_string(), "3 failures at 2026-11-28T10:00:07.000Z".to_string())]
    );
    assert_eq!(env.statuses(area).await, ["succeeded"]);

    // The same run seen again fires nothing more.
    Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    assert_eq!(recorder.count(), 1);
    drop(later);
}
