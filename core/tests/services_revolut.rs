//! `revolut` service (Business API, read-only): reading saved transaction lists, the request
//! and its `from` cursor, error mapping, the catalog entry (no reaction), and one area end to
//! end through the engine, authorized the way Revolut Business documents it (a generated
//! certificate, a signed client assertion, renewals) against `tests/revolut-server`.

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{ConnectionError, Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, HttpResponseData, PollContext, PollOutput, PolledAction,
};
use area_core::engine::Engine;
use area_core::net::{HttpClient, NetConfig};
use area_core::services::revolut;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

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
    assert_eq!(m.auth, AuthKind::ClientKey);
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

/// The fake Revolut Business of `tests/revolut-server` (Node, no packages): it checks
/// certificates and assertions with Node's own X.509 and RSA code.
struct FakeRevolut {
    child: Child,
    base: String,
    web: reqwest::Client,
}

impl Drop for FakeRevolut {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeRevolut {
    fn start(token_ttl: u32) -> FakeRevolut {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/revolut-server");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("TOKEN_TTL", token_ttl.to_string())
            .stdin(Stdio::piped()) // the server exits when this closes
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js 20+ (scripts/setup.sh does)"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("READY line");
        let base = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("unexpected {line:?}")).to_string();
        let web = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        FakeRevolut { child, base, web }
    }

    fn settings(&self) -> area_core::settings::Settings {
        area_core::settings::Settings::from_pairs([("AREA_REVOLUT_BASE_URL", format!("{}/api/1.0", self.base))])
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.web.post(format!("{}{path}", self.base)).json(&body).send().await.expect("fake reachable");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// What the user does in Revolut Business: upload the certificate with the redirect URI.
    async fn upload(&self, certificate: &str, redirect_uri: &str) -> String {
        let answer =
            self.post("/test/certificates", json!({"certificate": certificate, "redirect_uri": redirect_uri})).await;
        answer["client_id"].as_str().expect("client id").to_string()
    }

    /// Consents on `consent_url` and returns where the browser lands.
    async fn consent(&self, consent_url: &str) -> String {
        let r = self.web.get(consent_url).send().await.expect("consent page");
        assert_eq!(r.status(), 302, "consent refused: {}", r.text().await.unwrap_or_default());
        r.headers()["location"].to_str().expect("location").to_string()
    }

    async fn log(&self) -> Vec<Value> {
        let r = self.web.get(format!("{}/test/log", self.base)).send().await.expect("log");
        r.json::<Vec<Value>>().await.expect("log json")
    }
}

const REDIRECT: &str = "https://area.example.com/revolut/callback";

fn http() -> HttpClient {
    HttpClient::new(NetConfig { allow_private_network: true, ..NetConfig::default() }).expect("client")
}

#[tokio::test]
async fn connecting_creates_a_certificate_revolut_accepts_and_a_wrong_key_is_refused() {
    let fake = FakeRevolut::start(2399);
    let env = Env::new().await;
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&fake.settings()));

    // A redirect URI Revolut would refuse is refused here first, on its field.
    let err = conns.begin_client_key(env.user_id, "revolut", "http://area.example.com/cb").await.unwrap_err();
    assert!(matches!(err, ConnectionError::Invalid { field: "redirect_uri", .. }), "{err}");

    let setup = conns.begin_client_key(env.user_id, "revolut", REDIRECT).await.unwrap();
    assert_eq!(setup.issuer, "area.example.com");
    assert!(!setup.authorized);
    let waiting = &conns.list(env.user_id).await.unwrap()[0];
    assert_eq!(waiting.status, "needs_reconnect");
    assert!(waiting.reason.as_deref().unwrap_or("").contains("upload the certificate"), "{waiting:?}");

    // Node parses the certificate and registers it (RSA ≥ 2048, self-signed).
    let client_id = fake.upload(&setup.certificate_pem, REDIRECT).await;
    let consent = conns.client_key_consent_url(env.user_id, "revolut", &client_id).await.unwrap();
    assert!(consent.starts_with(&format!("{}/app-confirm?client_id=", fake.base)), "{consent}");
    assert!(consent.ends_with("&response_type=code&scope=READ#authorise"), "{consent}");
    let landed = fake.consent(&consent).await;
    assert!(landed.starts_with(REDIRECT) && landed.contains("code=oa_sand_c"), "{landed}");

    // A client id Revolut does not know: its refusal is reported, nothing changes.
    let err =
        conns.finish_client_key(&http(), env.user_id, "revolut", "client-nobody", &landed, None).await.unwrap_err();
    assert!(err.to_string().contains("is no registered client"), "{err}");

    let info = conns.finish_client_key(&http(), env.user_id, "revolut", &client_id, &landed, None).await.unwrap();
    assert_eq!((info.kind.as_str(), info.status.as_str()), ("client_key", "ok"));
    let expires = info.expires_at.expect("expiry recorded") - chrono::Utc::now().timestamp();
    assert!((2390..=2399).contains(&expires), "{expires}");
    let Secret::ClientKey { access_token, refresh_token, .. } =
        conns.get(env.user_id, "revolut").await.unwrap().unwrap().secret
    else {
        panic!("not a client-key secret")
    };
    assert!(access_token.starts_with("oa_sand_") && refresh_token.is_some());

    // The code is single-use, and a new key (another setup) no longer matches the uploaded
    // certificate: the fake's signature check refuses it.
    let again = fake.consent(&consent).await;
    conns.begin_client_key(env.user_id, "revolut", REDIRECT).await.unwrap();
    let err = conns.finish_client_key(&http(), env.user_id, "revolut", &client_id, &again, None).await.unwrap_err();
    assert!(err.to_string().contains("signature does not verify"), "{err}");
    let refused: Vec<Value> = fake.log().await.into_iter().filter(|e| e["ok"] == false).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
}

#[tokio::test]
async fn areas_keep_running_across_renewals_and_pause_when_revolut_refuses() {
    // Tokens of 300 s are always within the 10-minute renewal window.
    let fake = FakeRevolut::start(300);
    let settings = fake.settings();
    let env = Env::new().await;
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let setup = conns.begin_client_key(env.user_id, "revolut", REDIRECT).await.unwrap();
    let client_id = fake.upload(&setup.certificate_pem, REDIRECT).await;
    let landed = fake.consent(&conns.client_key_consent_url(env.user_id, "revolut", &client_id).await.unwrap()).await;
    conns.finish_client_key(&http(), env.user_id, "revolut", &client_id, &landed, None).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "spending",
            "action": {"service": "revolut", "id": "new_transaction", "params": {}},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ counterparty }}: {{ amount }} {{ currency }}"}}]
        })))
        .await;
    let old = transaction("t-1", "2026-11-27T08:00:00Z", -3.2, "Boulangerie");
    fake.post("/test/transactions", json!([old])).await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline

    // Renewed before expiry (the run above renewed once already): each renewal is a refresh
    // with a fresh assertion (the fake refuses a replayed jti).
    assert_eq!(conns.renew_client_keys(&http()).await.unwrap(), 1);
    assert_eq!(conns.renew_client_keys(&http()).await.unwrap(), 1);
    let refreshes = fake.log().await.into_iter().filter(|e| e["grant_type"] == "refresh_token").collect::<Vec<_>>();
    assert_eq!(refreshes.len(), 3);
    assert!(refreshes.iter().all(|e| e["ok"] == true), "{refreshes:?}");

    // The token dies anyway (the device slept): the poll's 401 renews it instead of pausing,
    // and the next poll fires the new transaction.
    fake.post("/test/expire", json!({})).await;
    fake.post("/test/transactions", json!([transaction("t-2", "2026-11-28T09:30:00Z", -42.5, "Café"), old])).await;
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    assert_eq!(conns.list(env.user_id).await.unwrap()[0].status, "ok");
    assert!(env.state(area).await.paused_reason.is_none());
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["Café: -42.5 EUR"]);

    // Revolut revokes the access: the renewal is refused, the connection asks to be connected
    // again and the area pauses with the reason.
    fake.post("/test/revoke", json!({})).await;
    fake.post("/test/expire", json!({})).await;
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    wait_for("needs reconnect", Duration::from_secs(5), || async {
        conns.list(env.user_id).await.unwrap()[0].status == "needs_reconnect"
    })
    .await;
    let reason = env.state(area).await.paused_reason.expect("paused after the refused renewal");
    assert!(reason.contains("refused to renew") && reason.contains("invalid_grant"), "{reason}");
}
