//! `http` service: reading JSON lists (`new_json_items`) and sending requests (`request`)
//! against a local wiremock server.

mod kit;

use kit::{params, NoNotifier};
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::ActionKind;
use area_core::connector::{
    ConnectorError, ErrorClass, HttpResponseData, PollContext, PolledAction, Reaction, ReactionContext,
};
use area_core::net::{HttpClient, NetConfig, NetError};
use area_core::services::http;
use serde_json::{json, Value};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn poll_action() -> Arc<dyn PolledAction> {
    match http::service().actions.get("new_json_items") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("http.new_json_items is not polled"),
    }
}

fn reaction() -> Arc<dyn Reaction> {
    http::service().reactions.get("request").cloned().expect("http.request")
}

fn read(p: Value, body: &str) -> Result<Vec<area_core::connector::Event>, ConnectorError> {
    let p = params(p);
    let resp = HttpResponseData { status: 200, headers: vec![], body: body.as_bytes().to_vec() };
    poll_action().read(&PollContext { params: &p, cursor: None, credential: None }, &resp).map(|o| o.events)
}

fn bad_response_message(r: Result<Vec<area_core::connector::Event>, ConnectorError>) -> String {
    match r {
        Err(ConnectorError::BadResponse { service, message }) => {
            assert_eq!(service, "http");
            message
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
}

const NESTED: &str = r#"{
  "data": {
    "total": 4,
    "items": [
      {"id": 1, "title": "Première", "score": 9.5, "done": false, "author": {"name": "Zoé"}, "tags": ["x"], "note": null},
      {"id": "b-2", "title": "Second", "extra": "ignored by nobody"},
      {"title": "no id here"},
      {"id": 1, "title": "duplicate of the first"}
    ]
  }
}"#;

#[test]
fn reads_items_at_a_nested_path() {
    let events =
        read(json!({"url": "https://api.example.com/x", "items_path": "data.items", "id_field": "id"}), NESTED)
            .unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["1", "b-2"], "item without id skipped, duplicate id kept once");
    let first = &events[0].ingredients;
    assert_eq!(first["id"], json!("1"), "id is always the key as text");
    assert_eq!(first["title"], json!("Première"));
    assert_eq!(first["score"], json!(9.5), "numbers keep their type");
    assert_eq!(first["done"], json!(false));
    assert_eq!(first["author"], json!(r#"{"name":"Zoé"}"#), "nested objects become JSON text");
    assert_eq!(first["tags"], json!(r#"["x"]"#));
    assert_eq!(first["note"], json!(null));
    assert_eq!(events[1].ingredients["extra"], json!("ignored by nobody"));
}

#[test]
fn nested_id_field_and_array_index_in_path() {
    let body = r#"{"results": [{"hits": [{"meta": {"uuid": "u1"}, "n": 1}, {"meta": {"uuid": "u2"}, "n": 2}]}]}"#;
    let events =
        read(json!({"url": "https://a.example/", "items_path": "results.0.hits", "id_field": "meta.uuid"}), body)
            .unwrap();
    assert_eq!(events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["u1", "u2"]);
    assert_eq!(events[0].ingredients["n"], json!(1));
    assert_eq!(events[0].ingredients["id"], json!("u1"));
}

#[test]
fn empty_path_means_the_body_is_the_list() {
    let body = r#"[{"id": "a"}, {"id": "b"}]"#;
    for p in [
        json!({"url": "https://a.example/", "items_path": "", "id_field": "id"}),
        json!({"url": "https://a.example/", "id_field": "id"}),
    ] {
        assert_eq!(read(p, body).unwrap().len(), 2);
    }
    assert!(
        read(json!({"url": "https://a.example/", "id_field": "id"}), "[]").unwrap().is_empty(),
        "an empty list is fine"
    );
}

#[test]
fn all_items_missing_their_id_is_an_error_naming_the_index() {
    let body = r#"{"items": [{"name": "a"}, {"name": "b"}]}"#;
    let msg = bad_response_message(read(
        json!({"url": "https://a.example/", "items_path": "items", "id_field": "uuid"}),
        body,
    ));
    assert!(msg.contains("uuid"), "{msg}");
    assert!(msg.contains("item 0"), "{msg}");
}

#[test]
fn non_array_or_missing_path_is_an_error() {
    let p = json!({"url": "https://a.example/", "items_path": "data.total", "id_field": "id"});
    let msg = bad_response_message(read(p, NESTED));
    assert!(msg.contains("data.total") && msg.contains("expected an array"), "{msg}");

    let p = json!({"url": "https://a.example/", "items_path": "data.missing", "id_field": "id"});
    let msg = bad_response_message(read(p, NESTED));
    assert!(msg.contains("missing"), "{msg}");

    let p = json!({"url": "https://a.example/", "items_path": "", "id_field": "id"});
    let msg = bad_response_message(read(p, r#"{"not": "a list"}"#));
    assert!(msg.contains("expected an array"), "{msg}");

    let p = json!({"url": "https://a.example/", "items_path": "", "id_field": "id"});
    let msg = bad_response_message(read(p, "<html>oops</html>"));
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn poll_request_carries_headers_and_accepts_json() {
    let p = params(json!({
        "url": "https://api.example.com/v1/things?page=1",
        "id_field": "id",
        "headers": {"Authorization": "Bearer abc", "X-Num": 5}
    }));
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: None }).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "https://api.example.com/v1/things?page=1");
    assert!(req.headers.contains(&("Authorization".into(), "Bearer abc".into())));
    assert!(req.headers.contains(&("X-Num".into(), "5".into())));
    assert!(req.headers.contains(&("Accept".into(), "application/json".into())));

    let bad = params(json!({"url": "https://a.example/", "id_field": "id", "headers": {"X-Evil": "a\r\nHost: b"}}));
    match poll_action().request(&PollContext { params: &bad, cursor: None, credential: None }) {
        Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "headers"),
        other => panic!("expected BadParams, got {other:?}"),
    }
    assert!(http::wants_private_network(&params(json!({"allow_private_network": true}))));
    assert!(!http::wants_private_network(&params(json!({}))));
}

fn client() -> HttpClient {
    HttpClient::new(NetConfig::default()).unwrap()
}

async fn run(
    client: &HttpClient,
    allow_ctx: bool,
    p: Value,
) -> Result<area_core::connector::ReactionOutput, ConnectorError> {
    let ctx = ReactionContext {
        http: client,
        idempotency_key: "area-7:evt-42:0",
        notifier: &NoNotifier,
        allow_private_network: allow_ctx,
        credential: None,
    };
    reaction().run(&ctx, &params(p)).await
}

#[tokio::test]
async fn request_sends_method_path_headers_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/hooks/abc"))
        .and(query_param("q", "é"))
        .and(header("Idempotency-Key", "area-7:evt-42:0"))
        .and(header("Content-Type", "application/json"))
        .and(header("X-Token", "s3cret"))
        .and(body_string(r#"{"text": "Café ☕"}"#))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(
        &client(),
        false,
        json!({
            "method": "PUT",
            "url": format!("{}/hooks/abc?q=%C3%A9", server.uri()),
            "headers": {"X-Token": "s3cret"},
            "body": r#"{"text": "Café ☕"}"#,
            "allow_private_network": true
        }),
    )
    .await
    .unwrap();
    assert_eq!(out.summary, "HTTP 201");
    assert!(reaction().idempotent());
}

#[tokio::test]
async fn request_defaults_to_post_and_respects_given_content_type() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/in")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    let c = client();
    run(&c, true, json!({"url": format!("{}/in", server.uri()), "body": "a=1&b=2", "headers": {"content-type": "application/x-www-form-urlencoded"}}))
        .await
        .unwrap();
    run(&c, true, json!({"url": format!("{}/in", server.uri()), "body": "plain words"})).await.unwrap();
    run(&c, true, json!({"method": "post", "url": format!("{}/in", server.uri())})).await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 3);
    let ct = |i: usize| received[i].headers.get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct(0).as_deref(), Some("application/x-www-form-urlencoded"), "user content type kept");
    assert_eq!(received[0].body, b"a=1&b=2");
    assert_eq!(ct(1).as_deref(), Some("text/plain; charset=utf-8"), "non-JSON body");
    assert_eq!(ct(2), None, "no body, no content type");
    assert!(received[2].body.is_empty());
    for r in &received {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.headers.get("idempotency-key").unwrap(), "area-7:evt-42:0");
        assert_eq!(r.headers.get_all("idempotency-key").iter().count(), 1);
    }
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let c = client();
    let url = format!("{}/x", server.uri());
    match run(&c, false, json!({"url": url})).await {
        Err(ConnectorError::Net(NetError::Refused { .. })) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The area-level allowance (context) is enough on its own.
    run(&c, true, json!({"url": url})).await.unwrap();
}

#[tokio::test]
async fn server_errors_map_to_status_errors() {
    let server = MockServer::start().await;
    let long = format!("  internal\n\nerror: {}", "x".repeat(1000));
    Mock::given(path("/500")).respond_with(ResponseTemplate::new(500).set_body_string(long)).mount(&server).await;
    Mock::given(path("/429"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30").set_body_string("slow down"))
        .mount(&server)
        .await;
    Mock::given(path("/404")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    let c = client();

    match run(&c, true, json!({"url": format!("{}/500", server.uri())})).await {
        Err(e @ ConnectorError::Status { .. }) => {
            assert_eq!(e.class(), ErrorClass::Retryable { retry_after: None });
            let ConnectorError::Status { service, status, message, retry_after } = e else { unreachable!() };
            assert_eq!(service, "http");
            assert_eq!(status, 500);
            assert!(message.starts_with("internal error: xxx"), "{message}");
            assert!(message.chars().count() <= 200, "{}", message.chars().count());
            assert_eq!(retry_after, None);
        }
        other => panic!("expected Status, got {other:?}"),
    }
    match run(&c, true, json!({"url": format!("{}/429", server.uri())})).await {
        Err(ConnectorError::Status { status, message, retry_after, .. }) => {
            assert_eq!(status, 429);
            assert_eq!(message, "slow down");
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("expected Status, got {other:?}"),
    }
    match run(&c, true, json!({"url": format!("{}/404", server.uri())})).await {
        Err(e @ ConnectorError::Status { status: 404, .. }) => assert_eq!(e.class(), ErrorClass::Permanent),
        other => panic!("expected Status 404, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_reaction_params_fail_before_sending() {
    let c = client();
    for (p, param) in [
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "file:///etc/passwd"}), "url"),
        (json!({"url": "https://a.example/", "method": "TRACE"}), "method"),
        (json!({"url": "https://a.example/", "headers": {"bad name": "v"}}), "headers"),
        (json!({"url": "https://a.example/", "headers": "[1]"}), "headers"),
    ] {
        match run(&c, true, p.clone()).await {
            Err(ConnectorError::BadParams { param: got, .. }) => assert_eq!(got, param, "{p}"),
            other => panic!("{p}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn build_request_keeps_a_user_idempotency_key() {
    let p = params(json!({"url": "https://a.example/", "headers": {"idempotency-key": "mine"}}));
    let req = http::build_request(&p, "engine-key").unwrap();
    let keys: Vec<_> = req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("idempotency-key")).collect();
    assert_eq!(keys, [&("idempotency-key".to_string(), "mine".to_string())]);
}
