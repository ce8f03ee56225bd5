//! `instagram` service: reading documented `GET /me/media` pages (extra fields, nulls, unicode,
//! videos), Meta's error bodies (codes decide, not only statuses), the two-request
//! `publish_photo` reaction against wiremock, and an end-to-end run through the engine.
//!
//! Services are built with the settings each test wants (`AREA_INSTAGRAM_BASE_URL` pointing at a
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
use area_core::services::instagram;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token() -> Credential {
    Credential::OAuth2 { access_token: "IGAAT-test".into(), account: None }
}

fn ok(body: Value) -> HttpResponseData {
    HttpResponseData { status: 200, headers: vec![], body: body.to_string().into_bytes() }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match instagram::service(&Settings::empty()).actions.get("new_media") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("instagram.new_media is not polled"),
    }
}

fn read(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({}));
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

fn media(id: &str, caption: Option<&str>) -> Value {
    json!({
        "id": id, "caption": caption, "media_type": "IMAGE",
        "media_url": format!("https://scontent.cdninstagram.com/v/t51.2885-15/{id}_n.jpg?_nc_ht=x&oh=y"),
        "permalink": format!("https://www.instagram.com/p/C{id}/"), "timestamp": "2026-11-28T09:41:07+0000"
    })
}

#[test]
fn manifest_names_the_accounts_that_work() {
    let m = instagram::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "instagram");
    // a pasted long-lived token, checked when connected and renewed before it expires; no
    // OAuth2 sign-in, which could only yield a 1-hour token
    assert_eq!(m.auth, AuthKind::ApiKey);
    assert!(m.oauth.is_none());
    let service = instagram::service(&Settings::empty());
    assert!(service.account_check.is_some() && service.token_renewal.is_some());
    assert_eq!(m.connection_id(), Some("instagram"));
    match &m.availability {
        Availability::Limited(reason) => {
            assert!(
                reason.starts_with("Business or Creator Instagram accounts only; personal accounts cannot use the API")
            )
        }
        other => panic!("unexpected availability {other:?}"),
    }
    assert!(!instagram::service(&Settings::empty()).reactions["publish_photo"].idempotent());
}

#[test]
fn reads_a_documented_media_page() {
    let mut video = media("17900000000000002", Some("Reel du jour 🎬"));
    video["media_type"] = json!("VIDEO");
    video["media_url"] = json!("https://video.cdninstagram.com/o1/v/t16/abc.mp4");
    video["thumbnail_url"] = json!("https://scontent.cdninstagram.com/v/thumb.jpg");
    let mut album = media("17900000000000003", None);
    album["media_type"] = json!("CAROUSEL_ALBUM");
    album["is_shared_to_feed"] = json!(true);
    let page = json!({
        "data": [
            media("17900000000000001", Some("Coucher de soleil sur la Seine 🌅 #paris")),
            video,
            album,
            {"id": "17900000000000004"},
            {"id": null, "caption": "no id"},
            {"caption": "missing id"}
        ],
        "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"},
                   "next": "https://graph.instagram.com/v23.0/1789/media?access_token=SECRET&after=QVFIUl"}
    });
    let events = read(&ok(page)).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["17900000000000001", "17900000000000002", "17900000000000003", "17900000000000004"]);
    let first = &events[0].ingredients;
    assert_eq!(first["caption"], json!("Coucher de soleil sur la Seine 🌅 #paris"));
    assert_eq!(first["media_type"], json!("IMAGE"));
    assert_eq!(first["image_url"], first["media_url"]);
    assert_eq!(first["url"], json!("https://www.instagram.com/p/C17900000000000001/"));
    assert_eq!(first["created_at"], json!("2026-11-28T09:41:07+0000"));
    assert_eq!(first["media_id"], json!("17900000000000001"));
    assert_eq!(events[1].ingredients["image_url"], json!("https://scontent.cdninstagram.com/v/thumb.jpg"));
    assert_eq!(events[1].ingredients["media_url"], json!("https://video.cdninstagram.com/o1/v/t16/abc.mp4"));
    assert_eq!(events[2].ingredients["caption"], json!(""), "null caption");
    assert_eq!(events[3].ingredients["url"], json!(""));
    let declared: Vec<_> =
        instagram::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
    assert!(read(&ok(json!({"data": []}))).unwrap().is_empty());
    assert!(read(&ok(json!({"paging": {}}))).unwrap().is_empty());
    assert!(matches!(
        read(&HttpResponseData { status: 200, headers: vec![], body: b"oops".to_vec() }),
        Err(ConnectorError::BadResponse { .. })
    ));
}

fn meta_body(message: &str, kind: &str, code: i64, subcode: Option<i64>) -> Vec<u8> {
    let mut error = json!({"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf123"});
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    json!({ "error": error }).to_string().into_bytes()
}

#[test]
fn meta_error_codes_decide() {
    let resp = |status: u16, body: Vec<u8>| HttpResponseData {
        status,
        headers: vec![("retry-after".into(), "6".into())],
        body,
    };
    let expired =
        resp(400, meta_body("Error validating access token: Session has expired", "OAuthException", 190, Some(463)));
    assert_eq!(instagram::poll_error(&expired).class(), ErrorClass::NeedsReconnect);
    assert_eq!(instagram::poll_error(&resp(401, b"{}".to_vec())).class(), ErrorClass::NeedsReconnect);
    let limited = resp(403, meta_body("Application request limit reached", "OAuthException", 4, None));
    assert_eq!(
        instagram::poll_error(&limited).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(6)) }
    );
    let publishing =
        resp(400, meta_body("The user has reached the publishing limit", "OAuthException", 9, Some(2207042)));
    assert!(matches!(instagram::poll_error(&publishing).class(), ErrorClass::Retryable { .. }));
    let transient = resp(
        500,
        meta_body("An unexpected error has occurred. Please retry your request later.", "OAuthException", 2, None),
    );
    assert!(matches!(instagram::poll_error(&transient).class(), ErrorClass::Retryable { .. }));
    let denied =
        resp(400, meta_body("(#10) Application does not have permission for this action", "OAuthException", 10, None));
    let e = instagram::poll_error(&denied);
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("your Instagram media") && e.to_string().contains("Business or Creator"), "{e}");
    let missing = resp(
        400,
        meta_body("Unsupported get request. Object with ID 'x' does not exist", "GraphMethodException", 100, Some(33)),
    );
    let e = instagram::poll_error(&missing);
    assert!(matches!(e, ConnectorError::Status { status: 404, .. }), "{e:?}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    // An error object inside a 200 is an error, mapped by its code.
    assert_eq!(
        read(&ok(serde_json::from_slice(&meta_body("x", "OAuthException", 190, None)).unwrap())).unwrap_err().class(),
        ErrorClass::NeedsReconnect
    );
    let e = read(&ok(serde_json::from_slice(&meta_body("Invalid parameter", "OAuthException", 100, None)).unwrap()))
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn the_poll_sends_the_token_in_a_header_not_the_url() {
    let p = params(json!({}));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(
        req.url,
        "https://graph.instagram.com/me/media?fields=id%2Ccaption%2Cmedia_type%2Cmedia_url%2Cpermalink%2Cthumbnail_url%2Ctimestamp"
    );
    assert!(!req.url.contains("IGAAT"));
    assert!(req.headers.contains(&("Authorization".into(), "Bearer IGAAT-test".into())));
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { .. })));
}

async fn publish(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
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
    instagram::publish_photo(&ctx, &params(p), base).await
}

#[tokio::test]
async fn publish_photo_creates_a_container_then_publishes_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/me/media"))
        .and(header("Authorization", "Bearer IGAAT-test"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(
            json!({"image_url": "https://images.example.fr/photo%C3%A9.jpg", "caption": "Bonjour 🌍 #area"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "17889455560051444"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/me/media_publish"))
        .and(header("Authorization", "Bearer IGAAT-test"))
        .and(body_json(json!({"creation_id": "17889455560051444"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "17920238422030506"})))
        .expect(1)
        .mount(&server)
        .await;
    let out = publish(
        &server.uri(),
        json!({"image_url": "https://images.example.fr/photoé.jpg", "caption": "Bonjour 🌍 #area"}),
    )
    .await
    .unwrap();
    assert_eq!(out.summary, "published Instagram media 17920238422030506");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.iter().map(|r| r.url.path()).collect::<Vec<_>>(), ["/me/media", "/me/media_publish"]);

    // A refused image stops before publishing; a failed publish is reported.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/me/media"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            meta_body("The media could not be fetched from this URI", "OAuthException", 9004, Some(2207052)),
            "application/json",
        ))
        .mount(&server)
        .await;
    let e = publish(&server.uri(), json!({"image_url": "https://images.example.fr/x.jpg"})).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("could not be fetched") && e.to_string().contains("container"), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/me/media"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c1"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/me/media_publish"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            meta_body("Media ID is not available", "OAuthException", 9007, Some(2207027)),
            "application/json",
        ))
        .mount(&server)
        .await;
    let e = publish(&server.uri(), json!({"image_url": "https://images.example.fr/x.jpg"})).await.unwrap_err();
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }), "{e:?}");
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(meta_body("Invalid OAuth access token", "OAuthException", 190, None), "application/json"),
        )
        .mount(&server)
        .await;
    let e = publish(&server.uri(), json!({"image_url": "https://images.example.fr/x.jpg"})).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);

    server.reset().await;
    let e = publish(&server.uri(), json!({"image_url": "file:///etc/passwd"})).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "image_url"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Through the engine: a stored Instagram connection, a baseline poll, then one new post fires
/// the reaction exactly once.
#[tokio::test]
async fn engine_fires_new_media_once() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_INSTAGRAM_BASE_URL", server.uri())]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let far = chrono::Utc::now().timestamp() + 86_400 * 50;
    let secret = Secret::Oauth2 { access_token: "IGAAT-e2e".into(), refresh_token: None, scope: None, account: None };
    conns.save(env.user_id, "instagram", &secret, None, Some(far)).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "new posts",
            "action": {"service": "instagram", "id": "new_media", "params": {}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ caption }}", "body": "{{ url }}"}}]
        })))
        .await;
    Mock::given(method("GET"))
        .and(path("/me/media"))
        .and(query_param("fields", instagram::MEDIA_FIELDS))
        .and(header("authorization", "Bearer IGAAT-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [media("1", Some("old"))]})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/me/media"))
        .and(header("authorization", "Bearer IGAAT-e2e"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [media("2", Some("Nouveau ☕")), media("1", Some("old"))]})),
        )
        .mount(&server)
        .await;
    let recorder = RecordingNotifier::new();
    for _ in 0..3 {
        Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    }
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(shown, [("Nouveau ☕".to_string(), "https://www.instagram.com/p/C2/".to_string())]);
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}

// ---- renewing the long-lived token ----------------------------------------------------------------

const RENEWED_LIFETIME: i64 = 5_183_944; // what Instagram's documentation shows for `expires_in`

fn connections(env: &Env, settings: &Settings) -> Connections {
    let key = MasterKey::load(env.store.dir()).unwrap();
    Connections::new(env.store.clone(), key, area_core::services::catalog(settings))
}

async fn paste(conns: &Connections, env: &Env, token: &str, expires_in_days: i64) {
    let expires = chrono::Utc::now().timestamp() + 86_400 * expires_in_days;
    conns.save(env.user_id, "instagram", &Secret::ApiKey { key: token.into() }, None, Some(expires)).await.unwrap();
}

/// Instagram's documented renewal: `GET /refresh_access_token?grant_type=ig_refresh_token` with
/// the token; answers the new one.
async fn renewal_answers(server: &MockServer, old: &str, answer: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .and(query_param("grant_type", "ig_refresh_token"))
        .and(header("authorization", format!("Bearer {old}").as_str()))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// A token within 50 days of its expiry is renewed when the engine starts; the areas go on with
/// the new one, and it is not renewed again until its own window.
#[tokio::test]
async fn the_engine_renews_a_long_lived_token_before_it_expires_and_the_area_keeps_running() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_INSTAGRAM_BASE_URL", server.uri())]);
    let conns = connections(&env, &settings);
    paste(&conns, &env, "IGAAT-old", 10).await;
    renewal_answers(
        &server,
        "IGAAT-old",
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "IGAAT-new", "token_type": "bearer", "expires_in": RENEWED_LIFETIME}),
        ),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/me/media"))
        .and(header("authorization", "Bearer IGAAT-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [media("1", Some("old"))]})))
        .mount(&server)
        .await;
    env.add(spec(json!({
        "name": "new posts",
        "action": {"service": "instagram", "id": "new_media", "params": {}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ caption }}"}}]
    })))
    .await;
    let recorder = RecordingNotifier::new();
    for _ in 0..2 {
        let report = Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
    let stored = conns.get(env.user_id, "instagram").await.unwrap().unwrap();
    assert_eq!(stored.secret, Secret::ApiKey { key: "IGAAT-new".into() });
    assert_eq!(stored.info.status, "ok");
    let expected = chrono::Utc::now().timestamp() + RENEWED_LIFETIME;
    assert!((stored.info.expires_at.unwrap() - expected).abs() < 120, "{:?}", stored.info.expires_at);
    // the polls used the new token (the old one would have matched no mock)
    let polls = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/me/media").count();
    assert!(polls >= 1);
}

/// A token far from its expiry is left alone: no request at all.
#[tokio::test]
async fn a_token_outside_its_renewal_window_is_not_renewed() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_INSTAGRAM_BASE_URL", server.uri())]);
    let conns = connections(&env, &settings);
    paste(&conns, &env, "IGAAT-fresh", 55).await;
    renewal_answers(&server, "IGAAT-fresh", ResponseTemplate::new(200), 0).await;
    assert_eq!(conns.renew_pasted_tokens(&client()).await.unwrap(), 0);
}

/// Instagram refusing the renewal (code 190: expired or revoked) marks the connection for
/// reconnecting, in words, and pauses its areas instead of failing them poll after poll; a
/// temporary failure leaves it as it is, to be tried again.
#[tokio::test]
async fn a_refused_renewal_asks_for_a_new_token_and_a_temporary_failure_is_retried() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_INSTAGRAM_BASE_URL", server.uri())]);
    let conns = connections(&env, &settings);
    paste(&conns, &env, "IGAAT-busy", 20).await;
    renewal_answers(
        &server,
        "IGAAT-busy",
        ResponseTemplate::new(500)
            .set_body_json(json!({"error": {"message": "Please retry", "type": "OAuthException", "code": 2}})),
        1,
    )
    .await;
    assert_eq!(conns.renew_pasted_tokens(&client()).await.unwrap(), 0);
    let stored = conns.get(env.user_id, "instagram").await.unwrap().unwrap();
    assert_eq!(
        (stored.info.status.as_str(), stored.secret.clone()),
        ("ok", Secret::ApiKey { key: "IGAAT-busy".into() })
    );

    server.reset().await;
    renewal_answers(
        &server,
        "IGAAT-busy",
        ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190}}),
        ),
        1,
    )
    .await;
    assert_eq!(conns.renew_pasted_tokens(&client()).await.unwrap(), 0);
    let info = conns.get(env.user_id, "instagram").await.unwrap().unwrap().info;
    assert_eq!(info.status, "needs_reconnect");
    assert!(info.reason.as_deref().unwrap_or_default().contains("connect Instagram again"), "{:?}", info.reason);
}

/// A pasted token's age is unknown and Instagram will not renew one younger than a day: its first
/// renewal is due a little over a day after it was connected.
#[tokio::test]
async fn a_freshly_pasted_token_is_first_renewed_after_a_day() {
    let env = Env::new().await;
    let conns = connections(&env, &Settings::empty());
    let due = conns.pasted_token_expiry("instagram").unwrap() - chrono::Utc::now().timestamp();
    let renew_within = 50 * 86_400;
    assert!((due - renew_within - 25 * 3600).abs() < 60, "{due}");
    assert_eq!(conns.pasted_token_expiry("github"), None);
}
