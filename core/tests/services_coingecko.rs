//! `coingecko` service: request building and reading saved `/simple/price` answers across a
//! sequence of polls (crossings fire once each), plus error mappings; one wiremock round trip.

mod kit;

use kit::{ok, params};
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, ErrorClass, HttpResponseData, Params, PollContext, PollOutput, PolledAction,
};
use area_core::net::{HttpClient, NetConfig, RequestOptions};
use area_core::services::coingecko;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn action(id: &str) -> Arc<dyn PolledAction> {
    action_with(&area_core::settings::Settings::empty(), id)
}

/// The action of the service built with `settings` (a fake upstream's base URL).
fn action_with(settings: &area_core::settings::Settings, id: &str) -> Arc<dyn PolledAction> {
    match coingecko::service(settings).actions.get(id) {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("coingecko.{id} is not polled"),
    }
}

/// A documented `/simple/price` answer for bitcoin in USD, with extra fields CoinGecko may add.
fn price_body(price: f64, change: Option<f64>, updated: i64) -> String {
    json!({
        "bitcoin": {
            "usd": price,
            "usd_24h_change": change,
            "usd_market_cap": 1.3e12,
            "last_updated_at": updated,
        }
    })
    .to_string()
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
        assert!(output.cursor.is_some(), "threshold actions always keep a cursor");
        cursor = output.cursor;
        out.push(output.events.into_iter().map(|e| e.key).collect());
    }
    out
}

#[test]
fn manifest_takes_an_optional_demo_key_with_three_polled_actions() {
    let s = coingecko::service(&area_core::settings::Settings::from_env());
    assert_eq!(s.manifest.id, "coingecko");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey, "a Demo API key may be connected");
    assert_eq!(s.manifest.credential_hosts, ["api.coingecko.com"]);
    for id in ["price_above", "price_below", "change_24h"] {
        let m = s.manifest.actions.iter().find(|a| a.id == id).unwrap();
        assert_eq!(m.min_interval_secs, Some(60), "{id}");
        match &s.actions[id] {
            ActionKind::Polled(a) => assert!(!a.needs_credential(), "{id}: the key is optional"),
            _ => panic!("{id} is not polled"),
        }
    }
    assert!(s.manifest.reactions.is_empty());
}

#[test]
fn request_rejects_bad_params() {
    for (id, p, param) in [
        ("price_above", json!({"coin": "bitcoin,ethereum", "threshold": 1}), "coin"),
        ("price_above", json!({"coin": "bit coin", "threshold": 1}), "coin"),
        ("price_above", json!({"threshold": 1}), "coin"),
        ("price_below", json!({"coin": "bitcoin"}), "threshold"),
        ("price_below", json!({"coin": "bitcoin", "threshold": "lots"}), "threshold"),
        ("price_below", json!({"coin": "bitcoin", "currency": "us$", "threshold": 1}), "currency"),
        ("change_24h", json!({"coin": "bitcoin"}), "percent"),
    ] {
        let p = params(p);
        match action(id).request(&PollContext::new(&p, None)) {
            Err(ConnectorError::BadParams { param: got, .. }) => assert_eq!(got, param, "{id} {p:?}"),
            other => panic!("{id} {p:?}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn price_above_fires_once_per_crossing() {
    let p = params(json!({"coin": "bitcoin", "currency": "usd", "threshold": 70000}));
    let keys = run_sequence(
        "price_above",
        &p,
        &[
            price_body(69000.0, Some(1.0), 100),  // baseline: below, recorded
            price_body(70000.0, Some(1.0), 160),  // equal is not above
            price_body(70500.5, Some(2.0), 220),  // crossing → fires
            price_body(71000.0, Some(3.0), 280),  // staying above: nothing
            price_body(72000.0, Some(3.0), 340),  // still nothing
            price_body(69999.0, Some(-1.0), 400), // back below: nothing
            price_body(70001.0, Some(0.5), 460),  // crossing again → fires, new key
        ],
    );
    assert_eq!(
        keys,
        vec![vec![], vec![], vec!["above-1@220".to_string()], vec![], vec![], vec![], vec!["above-2@460".to_string()],]
    );
}

#[test]
fn first_read_only_records_even_when_the_condition_already_holds() {
    let p = params(json!({"coin": "bitcoin", "threshold": 50000}));
    let keys = run_sequence(
        "price_above",
        &p,
        &[
            price_body(67000.0, None, 1),
            price_body(68000.0, None, 2),
            price_body(40000.0, None, 3),
            price_body(51000.0, None, 4),
        ],
    );
    assert_eq!(keys, vec![vec![], vec![], vec![], vec!["above-1@4".to_string()]]);
}

#[test]
fn price_below_fires_on_the_way_down_with_ingredients() {
    let p = params(json!({"coin": "bitcoin", "currency": "usd", "threshold": 60000.5}));
    let first = read("price_below", &p, None, &ok(&price_body(61000.0, Some(-0.5), 10))).unwrap();
    assert!(first.events.is_empty());
    let second = read("price_below", &p, first.cursor.as_ref(), &ok(&price_body(59000.25, Some(-4.75), 70))).unwrap();
    assert_eq!(second.events.len(), 1);
    let e = &second.events[0];
    assert_eq!(e.key, "below-1@70");
    assert_eq!(e.ingredients["coin"], json!("bitcoin"));
    assert_eq!(e.ingredients["currency"], json!("usd"));
    assert_eq!(e.ingredients["price"], json!(59000.25));
    assert_eq!(e.ingredients["threshold"], json!(60000.5));
    assert_eq!(e.ingredients["change_24h"], json!(-4.75));
    assert_eq!(e.ingredients["last_updated_at"], json!(70));
    // Still below: nothing more.
    let third = read("price_below", &p, second.cursor.as_ref(), &ok(&price_body(58000.0, None, 130))).unwrap();
    assert!(third.events.is_empty());
}

#[test]
fn change_24h_fires_on_big_moves_either_way() {
    let p = params(json!({"coin": "bitcoin", "percent": 5}));
    let keys = run_sequence(
        "change_24h",
        &p,
        &[
            price_body(1.0, Some(1.0), 1),
            price_body(1.0, Some(-5.0), 2), // |−5| ≥ 5 → fires
            price_body(1.0, Some(-7.0), 3),
            price_body(1.0, None, 4), // unknown: state kept, nothing
            price_body(1.0, Some(4.9), 5),
            price_body(1.0, Some(6.0), 6), // fires again
        ],
    );
    assert_eq!(keys, vec![vec![], vec!["move-1@2".to_string()], vec![], vec![], vec![], vec!["move-2@6".to_string()]]);

    let first = read("change_24h", &p, None, &ok(&price_body(1.0, Some(0.0), 1))).unwrap();
    let out = read("change_24h", &p, first.cursor.as_ref(), &ok(&price_body(2.5, Some(-12.5), 2))).unwrap();
    let i = &out.events[0].ingredients;
    assert_eq!(i["direction"], json!("down"));
    assert_eq!(i["percent"], json!(5.0));
    assert_eq!(i["change_24h"], json!(-12.5));
    assert_eq!(i["price"], json!(2.5));
}

#[test]
fn unknown_coin_and_currency_are_param_errors() {
    let p = params(json!({"coin": "not-a-coin", "threshold": 1}));
    match read("price_above", &p, None, &ok("{}")) {
        Err(e @ ConnectorError::BadParams { .. }) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            let ConnectorError::BadParams { param, message } = e else { unreachable!() };
            assert_eq!(param, "coin");
            assert!(message.contains("unknown coin id") && message.contains("not-a-coin"), "{message}");
        }
        other => panic!("expected BadParams, got {other:?}"),
    }
    let p = params(json!({"coin": "bitcoin", "currency": "xyz", "threshold": 1}));
    match read("price_above", &p, None, &ok(r#"{"bitcoin": {}}"#)) {
        Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "currency"),
        other => panic!("expected BadParams on currency, got {other:?}"),
    }
}

#[test]
fn error_statuses_map_per_issue_4() {
    let p = params(json!({"coin": "bitcoin", "threshold": 1}));
    let resp = |status: u16, headers: Vec<(String, String)>, body: &str| HttpResponseData {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    };

    match read("price_above", &p, None, &resp(401, vec![], r#"{"status":{"error_code":401}}"#)) {
        Err(e @ ConnectorError::AuthExpired { .. }) => assert_eq!(e.class(), ErrorClass::NeedsReconnect),
        other => panic!("401: expected AuthExpired, got {other:?}"),
    }
    match read("price_above", &p, None, &resp(404, vec![], r#"{"error":"Not found"}"#)) {
        Err(e @ ConnectorError::Status { .. }) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            assert!(e.to_string().contains("bitcoin"), "names the coin: {e}");
        }
        other => panic!("404: expected Status, got {other:?}"),
    }
    let throttled = resp(
        429,
        vec![("retry-after".into(), "42".into())],
        r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}"#,
    );
    match read("price_above", &p, None, &throttled) {
        Err(e @ ConnectorError::Status { status: 429, .. }) => {
            assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(42)) })
        }
        other => panic!("429: expected Status, got {other:?}"),
    }
    // The same rate-limit body inside a 200 is still an error, not a price.
    let in_200 = resp(
        200,
        vec![("retry-after".into(), "30".into())],
        r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}"#,
    );
    match read("price_above", &p, None, &in_200) {
        Err(ConnectorError::Status { status: 429, message, retry_after, .. }) => {
            assert!(message.contains("Rate Limit"), "{message}");
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("429 body in 200: expected Status, got {other:?}"),
    }
    match read("price_above", &p, None, &ok(r#"{"error":"invalid vs_currency"}"#)) {
        Err(ConnectorError::BadResponse { message, .. }) => assert!(message.contains("invalid vs_currency")),
        other => panic!("error body: expected BadResponse, got {other:?}"),
    }
    for body in ["<html>busy</html>", "[1,2]", r#"{"bitcoin": 5}"#] {
        assert!(matches!(read("price_above", &p, None, &ok(body)), Err(ConnectorError::BadResponse { .. })), "{body}");
    }
}

#[test]
fn extra_fields_unicode_and_a_broken_cursor_are_tolerated() {
    let p = params(json!({"coin": "bitcoin", "threshold": 10}));
    let body = r#"{"bitcoin": {"usd": 11, "note": "prix en €, 日本円", "usd_24h_vol": null}, "ethereum": {"usd": 1}}"#;
    // Garbage cursor counts as no cursor: it only records.
    let out = read("price_above", &p, Some(&json!("garbage")), &ok(body)).unwrap();
    assert!(out.events.is_empty());
    // Missing last_updated_at and 24h change: still fires, key without timestamp.
    let below = read("price_above", &p, None, &ok(r#"{"bitcoin": {"usd": 5}}"#)).unwrap();
    let out = read("price_above", &p, below.cursor.as_ref(), &ok(body)).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].key, "above-1");
    assert_eq!(out.events[0].ingredients["change_24h"], json!(""));
    // A null price keeps the previous state.
    let null = read("price_above", &p, out.cursor.as_ref(), &ok(r#"{"bitcoin": {"usd": null}}"#)).unwrap();
    assert!(null.events.is_empty());
    assert_eq!(null.cursor, out.cursor);
}

/// The only test in this binary that looks at the host: it also sets the process-wide
/// `AREA_COINGECKO_BASE_URL` override.
#[tokio::test]
async fn request_url_and_a_round_trip_against_a_fake_server() {
    let p = params(json!({"coin": "Bitcoin", "currency": "EUR", "threshold": 50000}));
    let req = action("price_above").request(&PollContext::new(&p, None)).unwrap();
    assert_eq!(req.method, "GET");
    let url = url::Url::parse(&req.url).unwrap();
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("api.coingecko.com"));
    assert_eq!(url.path(), "/api/v3/simple/price");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(q.contains(&("ids".into(), "bitcoin".into())), "{q:?}");
    assert!(q.contains(&("vs_currencies".into(), "eur".into())), "{q:?}");
    assert!(q.contains(&("include_24hr_change".into(), "true".into())), "{q:?}");
    assert!(req.headers.contains(&("Accept".into(), "application/json".into())));
    assert!(req.body.is_none());
    // Currency defaults to usd.
    let p = params(json!({"coin": "ethereum", "percent": 5}));
    let req = action("change_24h").request(&PollContext::new(&p, None)).unwrap();
    assert!(req.url.contains("ids=ethereum") && req.url.contains("vs_currencies=usd"), "{}", req.url);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/simple/price"))
        .and(query_param("ids", "bitcoin"))
        .and(query_param("vs_currencies", "usd"))
        .and(query_param("include_24hr_change", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_string(price_body(71000.0, Some(2.0), 99)))
        .expect(1)
        .mount(&server)
        .await;
    let settings =
        area_core::settings::Settings::from_pairs([("AREA_COINGECKO_BASE_URL", format!("{}/api/v3/", server.uri()))]);
    let p = params(json!({"coin": "bitcoin", "threshold": 70000}));
    let req = action_with(&settings, "price_above").request(&PollContext::new(&p, None));
    let req = req.unwrap();
    assert!(req.url.starts_with(&format!("{}/api/v3/simple/price?", server.uri())), "{}", req.url);
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let resp = client.send(&req, &RequestOptions::default()).await.unwrap();
    let below = read("price_above", &p, None, &ok(&price_body(65000.0, None, 1))).unwrap().cursor;
    let out = action("price_above").read(&PollContext::new(&p, below.as_ref()), &resp).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].key, "above-1@99");
    assert_eq!(out.events[0].ingredients["price"], json!(71000.0));
}

#[test]
fn coin_ids_that_look_like_error_keys_still_read() {
    // `status` is Status Network's real CoinGecko id.
    let p = params(json!({"coin": "status", "threshold": 0.05}));
    let first = read("price_above", &p, None, &ok(r#"{"status": {"usd": 0.03, "last_updated_at": 1}}"#)).unwrap();
    let out = read("price_above", &p, first.cursor.as_ref(), &ok(r#"{"status": {"usd": 0.06, "last_updated_at": 2}}"#))
        .unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].key, "above-1@2");
    // …while the rate-limit body is still an error for it.
    let limited = r#"{"status": {"error_code": 429, "error_message": "Rate Limit"}}"#;
    assert!(matches!(read("price_above", &p, None, &ok(limited)), Err(ConnectorError::Status { status: 429, .. })));
}

#[test]
fn changing_the_threshold_starts_a_new_baseline() {
    let p = params(json!({"coin": "bitcoin", "threshold": 70000}));
    let first = read("price_above", &p, None, &ok(&price_body(65000.0, None, 1))).unwrap();
    // The user lowers the threshold under the current price: no "crossing" from the old state.
    let lowered = params(json!({"coin": "bitcoin", "threshold": 60000}));
    let second = read("price_above", &lowered, first.cursor.as_ref(), &ok(&price_body(65000.0, None, 2))).unwrap();
    assert!(second.events.is_empty());
    let third = read("price_above", &lowered, second.cursor.as_ref(), &ok(&price_body(59000.0, None, 3))).unwrap();
    let fourth = read("price_above", &lowered, third.cursor.as_ref(), &ok(&price_body(61000.0, None, 4))).unwrap();
    assert_eq!(fourth.events.len(), 1);
    assert_eq!(fourth.events[0].key, "above-1@4");
}

proptest::proptest! {
    #[test]
    fn read_never_panics(
        body in r#"[\[\]\{\}",:a-z0-9. -]{0,200}"#,
        status in 100u16..600,
        holds in proptest::option::of(proptest::bool::ANY),
        which in 0usize..3,
    ) {
        let id = ["price_above", "price_below", "change_24h"][which];
        let p = params(json!({"coin": "bitcoin", "threshold": 1, "percent": 2}));
        let cursor = holds.map(|h| json!({"holds": h, "crossings": 3}));
        let resp = HttpResponseData { status, headers: vec![], body: body.into_bytes() };
        let _ = read(id, &p, cursor.as_ref(), &resp);
    }
}

/// CoinGecko's Demo authentication (docs.coingecko.com/v3.0.1/reference/authentication): the key
/// goes in the `x-cg-demo-api-key` header, never in the URL; without a key the public API still
/// answers. The fake refuses a key in the query and records the headers it got.
#[tokio::test]
async fn a_connected_demo_key_travels_in_its_header_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/simple/price"))
        .and(wiremock::matchers::query_param_contains("x_cg_demo_api_key", ""))
        .respond_with(ResponseTemplate::new(400))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/simple/price"))
        .respond_with(ResponseTemplate::new(200).set_body_string(price_body(71000.0, Some(2.0), 99)))
        .with_priority(2)
        .mount(&server)
        .await;
    let settings = area_core::settings::Settings::from_pairs([("AREA_COINGECKO_BASE_URL", server.uri())]);
    let client = kit::client();
    let p = params(json!({"coin": "bitcoin", "threshold": 70000}));
    let key = area_core::connector::Credential::ApiKey("CG-demoKey123".into());
    for credential in [Some(&key), None] {
        let ctx = PollContext { params: &p, cursor: None, credential };
        let req = action_with(&settings, "price_above").request(&ctx).unwrap();
        let resp = client.send(&req, &RequestOptions::default()).await.unwrap();
        assert_eq!(resp.status, 200, "{credential:?}");
        action_with(&settings, "price_above").read(&ctx, &resp).unwrap();
    }
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let demo_key = |i: usize| received[i].headers.get("x-cg-demo-api-key").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(demo_key(0).as_deref(), Some("CG-demoKey123"), "with a key connected");
    assert_eq!(demo_key(1), None, "without a key, no such header");
    for r in &received {
        assert!(!r.url.as_str().contains("CG-demoKey123"), "never in the URL: {}", r.url);
        assert!(r.headers.get("authorization").is_none());
    }
}
