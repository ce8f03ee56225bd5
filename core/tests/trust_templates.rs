//! Ingredients are data: text read from the internet (here a webhook body) is escaped for where
//! it goes and can never change where a request goes, add a JSON field or break a header.
//! Issue 10, reproduction 1, through the areas API and the engine.

mod support;

use std::time::Duration;

use area_core::areas::AreaError;
use area_core::engine::Engine;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A wiremock answering 200 to any request.
async fn any_sink() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    server
}

fn hostile_reaction(url: &str) -> Value {
    json!({"service": "http", "id": "request", "params": {
        "url": url,
        "headers": {"Authorization": "Bearer SECRET-TOKEN", "X-Title": "{{ title }}"},
        "body": "{\"text\": \"{{ title }}\"}"
    }})
}

/// The attacker's webhook body: a path that would move the request to another host, and a
/// title that would close the JSON string and add `"admin": true`.
fn hostile_body(other_port: u16) -> Value {
    json!({
        "path": format!("@localhost:{other_port}/stolen"),
        "title": "hi\", \"admin\": true, \"x\": \"\r\nX-Injected: 1",
    })
}

/// Adds a webhook area with [`hostile_reaction`] to `url`, starts the engine with its listener
/// and posts `body` to the area's hook; returns the running engine once `202` came back.
async fn post_to_hook(env: &Env, url: &str, body: &Value) -> (i64, Engine) {
    let area = env.add(webhook_area("hook", hostile_reaction(url))).await;
    let token = env.areas.get(env.user_id, area).await.unwrap().webhook_token.expect("webhook token");
    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let hook = format!("http://{}/hooks/{token}", engine.webhook_addr().expect("listening"));
    let response = reqwest::Client::new().post(&hook).json(body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    (area, engine)
}

#[tokio::test]
async fn a_templated_url_without_a_literal_origin_is_refused_when_saved() {
    let env = Env::new().await;
    let p1 = any_sink().await;
    let p1_addr = p1.address();
    for url in [
        format!("http://{p1_addr}{{{{ path }}}}"),
        "{{ path }}".to_string(),
        format!("http{{{{ s }}}}://{p1_addr}/"),
        format!("http://{}{{{{ host }}}}/x", p1_addr.ip()),
    ] {
        let result = env.areas.add(env.user_id, webhook_area("hook", hostile_reaction(&url))).await;
        match result {
            Err(AreaError::Invalid { field: path, message }) => {
                assert_eq!(path, "reactions[0].params.url", "{url}");
                assert!(message.contains("literal address"), "{url}: {message}");
            }
            other => panic!("{url} must be refused, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_json_body_with_a_placeholder_outside_quotes_is_refused_when_saved() {
    let env = Env::new().await;
    let p1 = any_sink().await;
    let reaction = json!({"service": "http", "id": "request", "params": {
        "url": format!("{}/in", p1.uri()),
        "body": "{\"text\": {{ title }}}"
    }});
    match env.areas.add(env.user_id, webhook_area("hook", reaction)).await {
        Err(AreaError::Invalid { field: path, message }) => {
            assert_eq!(path, "reactions[0].params.body");
            assert!(message.contains("inside a string"), "{message}");
        }
        other => panic!("must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_webhook_body_cannot_redirect_the_request_add_json_fields_or_split_headers() {
    let env = Env::new().await;
    let p1 = any_sink().await;
    let p2 = any_sink().await;
    let url = format!("http://{}/in/{{{{ path }}}}", p1.address());
    let (_, engine) = post_to_hook(&env, &url, &hostile_body(p2.address().port())).await;

    let p1_ref = &p1;
    wait_for(
        "delivery to the literal host",
        Duration::from_secs(10),
        || async move { received_count(p1_ref).await == 1 },
    )
    .await;
    engine.shutdown().await;

    assert_eq!(received_count(&p2).await, 0, "the other host received nothing");
    let request = &received(&p1).await[0];
    assert_eq!(request.url.path(), "/in/%40localhost%3A".to_string() + &p2.address().port().to_string() + "%2Fstolen");
    let body = body_json(request);
    assert_eq!(body, json!({"text": "hi\", \"admin\": true, \"x\": \"\r\nX-Injected: 1"}));
    assert!(body.get("admin").is_none());
    assert_eq!(request.headers.get("authorization").unwrap(), "Bearer SECRET-TOKEN");
    assert_eq!(
        request.headers.get("x-title").unwrap().to_str().unwrap(),
        "hi\", \"admin\": true, \"x\": \"  X-Injected: 1"
    );
    assert!(request.headers.get("x-injected").is_none());
}

#[tokio::test]
async fn a_dot_dot_value_cannot_climb_out_of_the_literal_path() {
    let env = Env::new().await;
    let p1 = any_sink().await;
    let url = format!("http://{}/api/items/{{{{ path }}}}", p1.address());
    let (area, engine) = post_to_hook(&env, &url, &json!({"path": "..", "title": "t"})).await;

    let env_ref = &env;
    wait_for("the run fails", Duration::from_secs(10), || async move { env_ref.count_runs(area, "failed").await == 1 })
        .await;
    engine.shutdown().await;
    assert_eq!(received_count(&p1).await, 0);
    let runs = env.runs(area).await;
    let error = runs[0].error.clone().unwrap_or_default();
    assert!(error.contains("cannot change where a request goes"), "{error}");
}
