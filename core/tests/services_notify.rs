//! `notify` service: the `send` reaction hands title and body to the shell's notifier.

mod kit;

use kit::params;
use std::sync::{Arc, Mutex};

use area_core::connector::{ConnectorError, ErrorClass, Notifier, Reaction, ReactionContext};
use area_core::net::{HttpClient, NetConfig};
use area_core::services::notify;
use serde_json::{json, Value};

#[derive(Default)]
struct Recording {
    shown: Mutex<Vec<(String, String)>>,
}

impl Notifier for Recording {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        self.shown.lock().unwrap().push((title.to_string(), body.to_string()));
        Ok(())
    }
}

struct Broken;

impl Notifier for Broken {
    fn notify(&self, _: &str, _: &str) -> Result<(), String> {
        Err("no display available".into())
    }
}

fn reaction() -> Arc<dyn Reaction> {
    notify::service().reactions.get("send").cloned().expect("notify.send")
}

async fn run(notifier: &dyn Notifier, p: Value) -> Result<area_core::connector::ReactionOutput, ConnectorError> {
    let http = HttpClient::new(NetConfig::default()).unwrap();
    let ctx =
        ReactionContext { http: &http, idempotency_key: "k", notifier, allow_private_network: false, credential: None };
    reaction().run(&ctx, &params(p)).await
}

#[tokio::test]
async fn send_shows_title_and_body() {
    let rec = Recording::default();
    let out = run(&rec, json!({"title": "New post: Café ☕", "body": "https://example.com/cafe"})).await.unwrap();
    assert_eq!(out.summary, "notification shown");
    run(&rec, json!({"title": "Only a title"})).await.unwrap();
    assert_eq!(
        *rec.shown.lock().unwrap(),
        vec![
            ("New post: Café ☕".to_string(), "https://example.com/cafe".to_string()),
            ("Only a title".to_string(), String::new()),
        ]
    );
}

#[tokio::test]
async fn missing_title_is_a_bad_param_and_nothing_is_shown() {
    let rec = Recording::default();
    match run(&rec, json!({"body": "x"})).await {
        Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "title"),
        other => panic!("expected BadParams, got {other:?}"),
    }
    assert!(rec.shown.lock().unwrap().is_empty());
}

#[tokio::test]
async fn notifier_failure_is_reported_with_its_reason() {
    match run(&Broken, json!({"title": "t", "body": "b"})).await {
        Err(e @ ConnectorError::BadResponse { .. }) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            let msg = e.to_string();
            assert!(msg.contains("notify") && msg.contains("no display available"), "{msg}");
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
}

#[test]
fn send_is_not_idempotent_and_params_are_templated() {
    assert!(!reaction().idempotent(), "a repeated notification is visible");
    let m = notify::service().manifest;
    let r = &m.reactions[0];
    assert_eq!(r.id, "send");
    assert!(r.params.iter().all(|p| p.templated));
    assert_eq!(r.params.iter().map(|p| p.id).collect::<Vec<_>>(), ["title", "body"]);
}
