//! `pinterest` service: reading documented board-pin pages (extra fields, nulls, unicode, videos,
//! `bookmark` pagination), Pinterest's `{code, message}` errors, the `create_pin` reaction
//! against wiremock, and an end-to-end run through the engine.
//!
//! Services are built with the settings each test wants (`AREA_PINTEREST_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

mod support;

use kit::{client, params};
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionContext,
    ReactionOutput,
};
use area_core::engine::Engine;
use area_core::services::pinterest;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BOARD: &str = "549755885175";

fn token() -> Credential {
    Credential::OAuth2 { access_token: "pina_test".into(), account: None }
}

fn ok(body: Value) -> HttpResponseData {
    HttpResponseData { status: 200, headers: vec![], body: body.to_string().into_bytes() }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match pinterest::service(&Settings::empty()).actions.get("new_pin") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("pinterest.new_pin is not polled"),
    }
}

fn read(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({"board_id": BOARD}));
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

fn pin(id: &str, title: Option<&str>) -> Value {
    json!({
        "id": id, "created_at": "2026-11-28T09:41:07", "link": "https://cuisine.example.fr/tarte",
        "title": title, "description": "La recette de grand-mère", "dominant_color": "#6E7874",
        "alt_text": null, "creative_type": "REGULAR", "board_id": BOARD, "board_section_id": null,
        "board_owner": {"username": "ada"}, "is_owner": true, "is_standard": true, "has_been_promoted": false,
        "note": "", "pin_metrics": null, "parent_pin_id": null, "product_tags": [],
        "media": {"media_type": "image", "images": {
            "150x150": {"width": 150, "height": 150, "url": format!("https://i.pinimg.com/150x150/{id}.jpg")},
            "1200x": {"width": 1200, "height": 1600, "url": format!("https://i.pinimg.com/1200x/{id}.jpg")},
            "600x": {"width": 600, "height": 800, "url": format!("https://i.pinimg.com/600x/{id}.jpg")},
            "400x300": {"width": 400, "height": 300, "url": format!("https://i.pinimg.com/400x300/{id}.jpg")}
        }}
    })
}

#[test]
fn manifest_uses_its_own_pinterest_connection() {
    let m = pinterest::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "pinterest");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("pinterest"));
    assert!(matches!(m.availability, Availability::Limited(ref r) if r.contains("Trial")));
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.auth_url, "https://www.pinterest.com/oauth/");
    assert_eq!(oauth.token_url, "https://api.pinterest.com/v5/oauth/token");
    assert_eq!(oauth.scopes, ["boards:read,pins:read,pins:write"], "one comma-separated scope parameter");
    assert!(!pinterest::service(&Settings::empty()).reactions["create_pin"].idempotent());
}

#[test]
fn reads_a_documented_board_page() {
    let mut video = pin("813744226420795885", Some("Vidéo 🎥"));
    video["media"] = json!({"media_type": "video", "cover_image_url": "https://i.pinimg.com/videos/thumbnails/originals/ab.jpg",
                            "video_url": null, "duration": 12000, "height": 1920, "width": 1080});
    let mut bare = json!({"id": "813744226420795886"});
    bare["media"] = Value::Null;
    let page = json!({
        "items": [pin("813744226420795884", Some("Tarte aux pommes 🍎")), video, bare, pin("", None), {"title": "no id"}, 42],
        "bookmark": "ZXhhbXBsZQ=="
    });
    let events = read(&ok(page)).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["813744226420795884", "813744226420795885", "813744226420795886"]);
    let first = &events[0].ingredients;
    assert_eq!(first["title"], json!("Tarte aux pommes 🍎"));
    assert_eq!(first["description"], json!("La recette de grand-mère"));
    assert_eq!(first["link"], json!("https://cuisine.example.fr/tarte"));
    assert_eq!(first["url"], json!("https://www.pinterest.com/pin/813744226420795884/"));
    assert_eq!(first["media_url"], json!("https://i.pinimg.com/1200x/813744226420795884.jpg"), "widest image");
    assert_eq!(first["created_at"], json!("2026-11-28T09:41:07"));
    assert_eq!(first["pin_id"], json!("813744226420795884"));
    assert_eq!(events[1].ingredients["media_url"], json!("https://i.pinimg.com/videos/thumbnails/originals/ab.jpg"));
    assert_eq!(events[2].ingredients["title"], json!(""));
    assert_eq!(events[2].ingredients["media_url"], json!(""));
    let declared: Vec<_> =
        pinterest::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
    assert!(read(&ok(json!({"items": [], "bookmark": null}))).unwrap().is_empty());
    let e = read(&ok(json!({"code": 2, "message": "Authentication failed."}))).unwrap_err();
    assert!(matches!(e, ConnectorError::BadResponse { .. }) && e.to_string().contains("Authentication failed"), "{e}");
    assert!(matches!(read(&ok(json!([1, 2]))), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn poll_errors_follow_the_rules() {
    let p = params(json!({"board_id": BOARD}));
    let resp = |status: u16, code: i64, message: &str| HttpResponseData {
        status,
        headers: vec![("retry-after".into(), "30".into())],
        body: json!({"code": code, "message": message}).to_string().into_bytes(),
    };
    assert_eq!(pinterest::poll_error(&p, &resp(401, 2, "Authentication failed.")).class(), ErrorClass::NeedsReconnect);
    let e = pinterest::poll_error(&p, &resp(403, 3, "Not authorized to access board"));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains(BOARD) && e.to_string().contains("Not authorized"), "{e}");
    let e = pinterest::poll_error(&p, &resp(404, 40, "Board not found."));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains(BOARD) && e.to_string().contains("not found"), "{e}");
    assert_eq!(
        pinterest::poll_error(&p, &resp(429, 8, "You have exceeded your rate limit. Try again later.")).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) }
    );
}

#[tokio::test]
async fn poll_request_lists_the_board() {
    let p = params(json!({"board_id": BOARD}));
    let req = pinterest::list_request("http://127.0.0.1:9/", &p, &token()).unwrap();
    assert_eq!(req.url, format!("http://127.0.0.1:9/v5/boards/{BOARD}/pins?page_size=50"));
    assert!(req.headers.contains(&("Authorization".into(), "Bearer pina_test".into())));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.url, format!("https://api.pinterest.com/v5/boards/{BOARD}/pins?page_size=50"));
    let bad = params(json!({"board_id": "../me"}));
    assert!(matches!(
        poll_action().request(&PollContext { params: &bad, cursor: None, credential: Some(&cred) }),
        Err(ConnectorError::BadParams { .. })
    ));
    assert!(matches!(
        poll_action().request(&PollContext { params: &p, cursor: None, credential: None }),
        Err(ConnectorError::AuthExpired { .. })
    ));
}

async fn create(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let cred = token();
    let notifier = RecordingNotifier::default();
    let ctx = ReactionContext {
        http: &http,
        idempotency_key: "k",
        notifier: &notifier,
        allow_private_network: true,
        credential: Some(&cred),
    };
    pinterest::create_pin(&ctx, &params(p), base).await
}

#[tokio::test]
async fn create_pin_posts_the_documented_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v5/pins"))
        .and(header("Authorization", "Bearer pina_test"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({
            "board_id": BOARD,
            "title": "Tarte aux pommes 🍎",
            "description": "Recette",
            "link": "https://cuisine.example.fr/tarte",
            "media_source": {"source_type": "image_url", "url": "https://images.example.fr/tarte.jpg"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(pin("813744226420795887", Some("Tarte aux pommes 🍎"))))
        .expect(1)
        .mount(&server)
        .await;
    let out = create(
        &server.uri(),
        json!({"board_id": BOARD, "image_url": "https://images.example.fr/tarte.jpg", "title": "Tarte aux pommes 🍎",
               "description": "Recette", "link": "https://cuisine.example.fr/tarte", "alt_text": ""}),
    )
    .await
    .unwrap();
    assert!(out.summary.contains("813744226420795887"), "{}", out.summary);

    let long = pinterest::pin_body(&params(json!({"board_id": BOARD, "image_url": "https://i.example/x.jpg",
                                                   "title": "é".repeat(150), "alt_text": "a".repeat(600)})))
    .unwrap();
    assert_eq!(long["title"].as_str().unwrap().chars().count(), 100);
    assert_eq!(long["alt_text"].as_str().unwrap().chars().count(), 500);
    assert!(long.get("link").is_none() && long.get("description").is_none());

    let mut results = Vec::new();
    for (status, code, message) in [
        (401, 2, "Authentication failed."),
        (403, 3, "Forbidden"),
        (404, 40, "Board not found."),
        (429, 8, "Rate limited"),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Retry-After", "5")
                    .set_body_json(json!({"code": code, "message": message})),
            )
            .mount(&server)
            .await;
        results.push(
            create(&server.uri(), json!({"board_id": BOARD, "image_url": "https://i.example/x.jpg"}))
                .await
                .unwrap_err(),
        );
    }
    assert_eq!(results[0].class(), ErrorClass::NeedsReconnect);
    assert_eq!(results[1].class(), ErrorClass::Permanent);
    assert!(results[2].to_string().contains(BOARD) && results[2].to_string().contains("Board not found"));
    assert_eq!(results[3].class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(5)) });

    server.reset().await;
    for bad in [
        json!({"board_id": "abc", "image_url": "https://i.example/x.jpg"}),
        json!({"board_id": BOARD, "image_url": "ftp://i.example/x.jpg"}),
        json!({"board_id": BOARD, "image_url": "https://i.example/x.jpg", "link": "javascript:alert(1)"}),
    ] {
        assert!(matches!(create(&server.uri(), bad).await, Err(ConnectorError::BadParams { .. })));
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Through the engine: a stored Pinterest connection, a baseline poll, then one new pin fires
/// the reaction (a pin on another board) exactly once.
#[tokio::test]
async fn engine_fires_a_new_pin_once() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_PINTEREST_BASE_URL", server.uri())]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let far = chrono::Utc::now().timestamp() + 86_400 * 365;
    let secret = Secret::Oauth2 {
        access_token: "pina_e2e".into(),
        refresh_token: Some("pinr".into()),
        scope: None,
        account: None,
    };
    conns.save(env.user_id, "pinterest", &secret, None, Some(far)).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "copy pins",
            "action": {"service": "pinterest", "id": "new_pin", "params": {"board_id": BOARD}},
            "reactions": [{"service": "pinterest", "id": "create_pin",
                           "params": {"board_id": "42", "image_url": "{{ media_url }}", "title": "{{ title }}"}}]
        })))
        .await;
    let list = format!("/v5/boards/{BOARD}/pins");
    Mock::given(method("GET"))
        .and(path(list.as_str()))
        .and(query_param("page_size", "50"))
        .and(header("authorization", "Bearer pina_e2e"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [pin("1", Some("old"))], "bookmark": null})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(list.as_str()))
        .and(header("authorization", "Bearer pina_e2e"))
        // Custom-sorted board: the new pin is not first.
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"items": [pin("1", Some("old")), pin("2", Some("Crêpes 🥞"))], "bookmark": null}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v5/pins"))
        .and(header("authorization", "Bearer pina_e2e"))
        .and(body_json(json!({"board_id": "42", "title": "Crêpes 🥞",
                              "media_source": {"source_type": "image_url", "url": "https://i.pinimg.com/1200x/2.jpg"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(pin("3", Some("Crêpes 🥞"))))
        .expect(1)
        .mount(&server)
        .await;
    for _ in 0..3 {
        Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    }
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}
