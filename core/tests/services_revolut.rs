//! `revolut` service (Business API, read-only): reading saved transaction lists, the request
//! and its `from` cursor, error mapping, the catalog entry (no reaction), and one area end to
//! end through the engine with a stored access token.
//!
//! Only the end-to-end test talks to a server, and it is the only test in this binary that sets
//! `AREA_REVOLUT_BASE_URL` (environment variables are process-global).

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, HttpResponseData, PollContext, PollOutput, PolledAction,
};
use area_core::engine::Engine;
use area_core::services::revolut;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

fn action() -> Arc<dyn PolledAction> {
    match revolut::service(&area_core::settings::Settings::from_env()).actions.get("new_transaction") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("revolut.new_transaction is not polled"),
    }
}

fn response(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn token() -> Credential {
    Credential::ApiKey("oa_prod_test".into())
}

fn read(body: &str, cursor: Option<&Value>) -> Result<PollOutput, ConnectorError> {
    let p = params(json!({}));
    let cred = token();
    let ctx = PollContext { params: &p, cursor, credential: Some(&cred) };
    action().read(&ctx, &response(200, body))
}

/// Shaped like developer.revolut.com "Retrieve a list of transactions": a card payment with a
/// merchant, a transfer with a counterparty and unicode, a pending top-up with nulls, extra
/// fields, and an item without id (skipped).
const TRANSACTIONS: &str = r#"[
  {"id": "62b2f29a-c0a5-a1b2-9ad4-aa3f5e1d2c3b", "type": "card_payment", "request_id": null, "state": "completed",
   "created_at": "2026-11-28T10:54:02.557373Z", "updated_at": "2026-11-28T10:54:03Z",
   "completed_at": "2026-11-28T10:54:03Z", "reference": null,
   "merchant": {"name": "Amazon", "city": "Luxembourg", "category_code": "5942", "country": "LUX"},
   "card": {"card_number": "4111********1111", "first_name": "Ada"},
   "legs": [{"leg_id": "l1", "account_id": "8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d", "amount": -12.5, "fee": 0,
             "currency": "EUR", "bill_amount": -12.5, "bill_currency": "EUR", "description": "Amazon",
             "balance": 1987.5}],
   "future_field": {"a": 1}},
  {"id": "62b2f29b-0000-4000-8000-000000000002", "type": "transfer", "state": "completed",
   "created_at": "2026-11-27T09:00:00Z", "reference": "Facture n° 2026-117 — café ☕",
   "legs": [{"leg_id": "l2", "account_id": "8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d", "amount": 1500,
             "currency": "EUR", "description": "Payment from Société Générale Client",
             "counterparty": {"id": "cp1", "account_type": "external", "account_id": "x"}}]},
  {"id": "62b2f29c-0000-4000-8000-000000000003", "type": "topup", "state": "pending",
   "created_at": "2026-11-26T08:00:00Z", "reference": "", "merchant": null, "legs": []},
  {"type": "fee", "state": "completed", "created_at": "2026-11-29T00:00:00Z"}
]"#;

#[test]
fn reads_transactions_with_all_ingredients() {
    let out = read(TRANSACTIONS, None).unwrap();
    let keys: Vec<&str> = out.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "62b2f29a-c0a5-a1b2-9ad4-aa3f5e1d2c3b",
            "62b2f29b-0000-4000-8000-000000000002",
            "62b2f29c-0000-4000-8000-000000000003"
        ]
    );
    let card = &out.events[0].ingredients;
    assert_eq!(card["amount"], -12.5);
    assert_eq!(card["currency"], "EUR");
    assert_eq!(card["description"], "Amazon");
    assert_eq!(card["counterparty"], "Amazon");
    assert_eq!(card["state"], "completed");
    assert_eq!(card["created_at"], "2026-11-28T10:54:02.557373Z");
    assert_eq!(card["type"], "card_payment");
    assert_eq!(card["reference"], "");
    assert_eq!(card["account_id"], "8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d");
    let transfer = &out.events[1].ingredients;
    assert_eq!(transfer["amount"], 1500);
    assert_eq!(transfer["counterparty"], "Payment from Société Générale Client");
    assert_eq!(transfer["reference"], "Facture n° 2026-117 — café ☕");
    // No legs: empty text and a null amount, the reference as description.
    let topup = &out.events[2].ingredients;
    assert_eq!(topup["amount"], Value::Null);
    assert_eq!(topup["currency"], "");
    assert_eq!(topup["state"], "pending");
    // The cursor remembers the newest created_at of the items read (the id-less one is not).
    assert_eq!(out.cursor, Some(json!({"latest_created_at": "2026-11-28T10:54:02.557373Z"})));
}

#[test]
fn cursor_never_goes_back_and_survives_an_empty_list() {
    let previous = json!({"latest_created_at": "2026-12-01T00:00:00.000000Z"});
    assert_eq!(read(TRANSACTIONS, Some(&previous)).unwrap().cursor, Some(previous.clone()));
    let out = read("[]", Some(&previous)).unwrap();
    assert!(out.events.is_empty());
    assert_eq!(out.cursor, Some(previous));
    assert_eq!(read("[]", None).unwrap().cursor, None);
}

#[test]
fn error_bodies_in_a_200_are_errors() {
    for body in [r#"{"code": 9002, "message": "Access token expired"}"#, "", "<html></html>", r#""text""#] {
        match read(body, None) {
            Err(ConnectorError::BadResponse { service, message }) => {
                assert_eq!(service, "revolut");
                if body.contains("9002") {
                    assert!(message.contains("Access token expired"), "{message}");
                }
            }
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
}

#[test]
fn request_carries_the_token_and_the_from_cursor() {
    let p = params(json!({}));
    let cred = token();
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let req = action().request(&ctx).unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.url.ends_with("/transactions?count=100"), "{}", req.url);
    assert!(req.headers.contains(&("Authorization".to_string(), "Bearer oa_prod_test".to_string())));

    let cursor = json!({"latest_created_at": "2026-11-28T10:54:02.557373Z"});
    let p = params(json!({"account": "8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d"}));
    let ctx = PollContext { params: &p, cursor: Some(&cursor), credential: Some(&cred) };
    let req = action().request(&ctx).unwrap();
    assert!(
        req.url.ends_with(
            "/transactions?count=100&from=2026-11-27T10:54:02Z&account=8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d"
        ),
        "{}",
        req.url
    );

    // No connection: the user is told to connect; a strange account id is refused.
    let ctx = PollContext::new(&p, None);
    assert!(matches!(action().request(&ctx), Err(ConnectorError::AuthExpired { .. })));
    let p = params(json!({"account": "../accounts?x=1"}));
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    assert!(matches!(action().request(&ctx), Err(ConnectorError::BadParams { param, .. }) if param == "account"));
}

#[test]
fn errors_are_classified() {
    let p = params(json!({"account": "acc-1"}));
    let cred = token();
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let body = r#"{"code": 9002, "message": "The request is unauthorised"}"#;
    let e = action().error_for("revolut", &ctx, &response(401, body));
    assert!(matches!(e, ConnectorError::AuthExpired { .. }));
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
    let e = action().error_for("revolut", &ctx, &response(403, r#"{"code": 9001, "message": "Forbidden"}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("READ scope") && e.to_string().contains("Forbidden"), "{e}");
    let e = action().error_for("revolut", &ctx, &response(404, r#"{"code": 3000, "message": "Account not found"}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("account acc-1"), "{e}");
    let mut limited = response(429, r#"{"message": "Too many requests"}"#);
    limited.headers.push(("retry-after".into(), "10".into()));
    let e = action().error_for("revolut", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(10)) });
    assert!(matches!(action().error_for("revolut", &ctx, &response(502, "")).class(), ErrorClass::Retryable { .. }));
}

#[test]
fn catalog_lists_it_as_limited_with_no_money_moving_reaction() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let m = &catalog.service("revolut").expect("listed").manifest;
    assert_eq!(m.auth, AuthKind::ApiKey);
    match &m.availability {
        Availability::Limited(reason) => {
            assert!(reason.contains("Revolut Business accounts only; personal accounts have no API"), "{reason}")
        }
        other => panic!("expected Limited, got {other:?}"),
    }
    assert!(m.reactions.is_empty(), "no money-moving reaction");
    assert!(m.description.contains("never moves money"));
    let a = &m.actions[0];
    for id in ["amount", "currency", "description", "counterparty", "state", "created_at"] {
        assert!(a.ingredients.iter().any(|i| i.id == id && !i.example.is_empty()), "{id}");
    }
}

fn transaction(id: &str, created_at: &str, amount: f64, merchant: &str) -> Value {
    json!({"id": id, "type": "card_payment", "state": "completed", "created_at": created_at,
           "merchant": {"name": merchant},
           "legs": [{"leg_id": "l", "account_id": "acc", "amount": amount, "currency": "EUR", "description": merchant}]})
}

#[tokio::test]
async fn engine_fires_once_for_a_new_transaction_and_asks_to_reconnect_on_401() {
    let env = Env::new().await;
    let revolut = MockServer::start().await;
    let settings =
        area_core::settings::Settings::from_pairs([("AREA_REVOLUT_BASE_URL", format!("{}/api/1.0", revolut.uri()))]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    conns.save(env.user_id, "revolut", &Secret::ApiKey { key: "oa_sand_token".into() }, None, None).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "spending",
            "action": {"service": "revolut", "id": "new_transaction", "params": {}},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ counterparty }}: {{ amount }} {{ currency }}"}}]
        })))
        .await;
    let old = transaction("t-1", "2026-11-27T08:00:00Z", -3.2, "Boulangerie");
    let new = transaction("t-2", "2026-11-28T09:30:00Z", -42.0, "Café Ümlaut");
    Mock::given(method("GET"))
        .and(path("/api/1.0/transactions"))
        .and(header("authorization", "Bearer oa_sand_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([old.clone()])))
        .up_to_n_times(1)
        .mount(&revolut)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/transactions"))
        .and(header("authorization", "Bearer oa_sand_token"))
        .and(query_param("from", "2026-11-26T08:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([new, old])))
        .up_to_n_times(2)
        .mount(&revolut)
        .await;

    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["Café Ümlaut: -42.0 EUR"]);
    assert_eq!(env.statuses(area).await, ["succeeded"]);

    // The 40-minute token expires: 401 → the connection needs reconnecting, the area pauses.
    revolut.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/transactions"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"code": 9002, "message": "The request is unauthorised"})),
        )
        .mount(&revolut)
        .await;
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    wait_for("needs reconnect", Duration::from_secs(5), || async {
        conns.list(env.user_id).await.unwrap()[0].status == "needs_reconnect"
    })
    .await;
    let reason = env.state(area).await.paused_reason.expect("paused after 401");
    assert!(reason.contains("area connect revolut"), "{reason}");
}
