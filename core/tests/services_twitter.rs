//! `twitter` service: the username lookup and `since_id` cursor, reading documented timeline
//! pages (no `data` when empty, partial errors, unicode), X's error shapes (problems, 402/403
//! for the account's plan, 429 with `x-rate-limit-reset`), the `post` reaction against wiremock,
//! and an end-to-end run through the engine.
//!
//! Services are built with the settings each test wants (`AREA_TWITTER_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

mod support;

use kit::{client, params};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, HttpResponseData, Params, PollContext, PollOutput, PolledAction,
    ReactionContext,
};
use area_core::engine::Engine;
use area_core::services::twitter;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE: &str = "http://127.0.0.1:9";

fn token() -> Credential {
    Credential::OAuth2 { access_token: "x-token".into(), account: None }
}

fn ok(body: Value) -> HttpResponseData {
    HttpResponseData { status: 200, headers: vec![], body: body.to_string().into_bytes() }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match twitter::service(&Settings::empty()).actions.get("new_post") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("twitter.new_post is not polled"),
    }
}

fn request_url(p: &Params, cursor: Option<&Value>) -> String {
    twitter::poll_request(BASE, p, cursor, &token()).unwrap().url
}

fn read(p: &Params, cursor: Option<&Value>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
    let cred = token();
    poll_action().read(&PollContext { params: p, cursor, credential: Some(&cred) }, response)
}

fn tweet(id: &str, text: &str) -> Value {
    json!({"id": id, "text": text, "created_at": "2026-11-28T09:41:07.000Z", "author_id": "11348282",
           "edit_history_tweet_ids": [id], "lang": "fr",
           "public_metrics": {"retweet_count": 3, "reply_count": 1, "like_count": 42, "quote_count": 0}})
}

fn timeline(tweets: Vec<Value>) -> Value {
    let newest = tweets.first().and_then(|t| t["id"].as_str()).unwrap_or_default().to_string();
    let oldest = tweets.last().and_then(|t| t["id"].as_str()).unwrap_or_default().to_string();
    json!({
        "data": tweets,
        "includes": {"users": [{"id": "11348282", "name": "NASA ✨", "username": "NASA", "verified": true}]},
        "meta": {"result_count": 2, "newest_id": newest, "oldest_id": oldest, "next_token": "7140dibdnow9c7btw3w29"}
    })
}

#[test]
fn manifest_says_a_paid_account_is_needed() {
    let m = twitter::service(&Settings::empty()).manifest;
    assert_eq!((m.id, m.name), ("twitter", "X (Twitter)"));
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("twitter"));
    match &m.availability {
        Availability::Limited(reason) => {
            assert!(reason.contains("paid X developer account") && reason.contains("free tier"), "{reason}")
        }
        other => panic!("unexpected availability {other:?}"),
    }
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.auth_url, "https://x.com/i/oauth2/authorize");
    assert_eq!(oauth.token_url, "https://api.x.com/2/oauth2/token");
    assert_eq!(oauth.scopes, ["tweet.read", "users.read", "tweet.write", "offline.access"]);
    assert!(!twitter::service(&Settings::empty()).reactions["post"].idempotent());
}

#[test]
fn a_username_is_looked_up_once_then_the_timeline_is_primed_and_followed() {
    let p = params(json!({"username": "@NASA"}));
    // 1. Lookup.
    assert_eq!(request_url(&p, None), format!("{BASE}/2/users/by/username/NASA?user.fields=username%2Cname"));
    let lookup = ok(json!({"data": {"id": "11348282", "name": "NASA", "username": "NASA"}}));
    let out = read(&p, None, &lookup).unwrap();
    assert!(out.events.is_empty());
    let c1 = out.cursor.unwrap();
    assert_eq!(c1["user_id"], json!("11348282"));
    assert_eq!(c1["primed"], json!(false));
    // 2. Priming read: 5 posts, no since_id, fires nothing, keeps the newest id.
    let url = request_url(&p, Some(&c1));
    assert!(url.starts_with(&format!("{BASE}/2/users/11348282/tweets?max_results=5&tweet.fields=")), "{url}");
    assert!(url.contains("expansions=author_id") && url.contains("exclude=replies%2Cretweets"), "{url}");
    assert!(!url.contains("since_id"), "{url}");
    let out =
        read(&p, Some(&c1), &ok(timeline(vec![tweet("1861000000000000002", "b"), tweet("1861000000000000001", "a")])))
            .unwrap();
    assert!(out.events.is_empty(), "priming fires nothing");
    let c2 = out.cursor.unwrap();
    assert_eq!(c2["since_id"], json!("1861000000000000002"));
    // 3. Following: since_id, up to 100 posts; new posts become events.
    let url = request_url(&p, Some(&c2));
    assert!(url.contains("max_results=100&since_id=1861000000000000002&"), "{url}");
    let out =
        read(&p, Some(&c2), &ok(timeline(vec![tweet("1861000000000000003", "Webb a capturé 🌌 https://t.co/x")])))
            .unwrap();
    assert_eq!(out.events.len(), 1);
    let e = &out.events[0];
    assert_eq!(e.key, "1861000000000000003");
    assert_eq!(e.ingredients["text"], json!("Webb a capturé 🌌 https://t.co/x"));
    assert_eq!(e.ingredients["url"], json!("https://x.com/NASA/status/1861000000000000003"));
    assert_eq!(e.ingredients["author"], json!("NASA"));
    assert_eq!(e.ingredients["author_name"], json!("NASA ✨"));
    assert_eq!(e.ingredients["created_at"], json!("2026-11-28T09:41:07.000Z"));
    let declared: Vec<_> =
        twitter::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    assert_eq!(e.ingredients.len(), declared.len());
    let c3 = out.cursor.unwrap();
    assert_eq!(c3["since_id"], json!("1861000000000000003"));
    // Nothing new: `{"meta": {"result_count": 0}}` without data keeps the mark.
    let out = read(&p, Some(&c3), &ok(json!({"meta": {"result_count": 0}}))).unwrap();
    assert!(out.events.is_empty());
    assert_eq!(out.cursor.unwrap()["since_id"], json!("1861000000000000003"));
    // Another username starts over with a lookup.
    let other = params(json!({"username": "esa"}));
    assert!(request_url(&other, Some(&c3)).contains("/2/users/by/username/esa"));
}

#[test]
fn a_user_id_skips_the_lookup_and_missing_params_are_refused() {
    let p = params(json!({"user_id": "11348282", "include_replies": true}));
    let url = request_url(&p, None);
    assert!(url.starts_with(&format!("{BASE}/2/users/11348282/tweets?max_results=5")), "{url}");
    assert!(!url.contains("exclude="), "{url}");
    // Posts without author expansion still get a link; ids that are not numbers are skipped.
    let out = read(&p, None, &ok(json!({"data": [{"id": "5", "text": "t"}], "meta": {"result_count": 1}}))).unwrap();
    let c = out.cursor.unwrap();
    let out = read(
        &p,
        Some(&c),
        &ok(json!({"data": [{"id": "7", "text": "hi", "extra": null}, {"id": "x1", "text": "bad"}, {"text": "no id"}],
                   "meta": {"result_count": 3}})),
    )
    .unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].ingredients["url"], json!("https://x.com/i/web/status/7"));
    assert_eq!(out.cursor.unwrap()["since_id"], json!("7"), "largest id when meta has no newest_id");
    for bad in [json!({}), json!({"user_id": "12ab"}), json!({"username": "not valid!"})] {
        let e = twitter::poll_request(BASE, &params(bad.clone()), None, &token()).unwrap_err();
        assert!(matches!(e, ConnectorError::BadParams { .. }), "{bad}: {e:?}");
    }
}

#[test]
fn errors_in_200_bodies_and_statuses() {
    let p = params(json!({"username": "ghost_account"}));
    let not_found = ok(json!({"errors": [{
        "value": "ghost_account", "detail": "Could not find user with username: [ghost_account].",
        "title": "Not Found Error", "resource_type": "user", "parameter": "username",
        "resource_id": "ghost_account", "type": "https://api.twitter.com/2/problems/resource-not-found"}]}));
    let e = read(&p, None, &not_found).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("@ghost_account") && e.to_string().contains("not found"), "{e}");
    let protected = ok(
        json!({"errors": [{"title": "Authorization Error", "detail": "Sorry, you are not authorized to see the user with id: [1].",
        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}]}),
    );
    assert!(matches!(read(&p, None, &protected).unwrap_err(), ConnectorError::Status { status: 403, .. }));
    assert!(matches!(read(&p, None, &ok(json!(["not", "an object"]))), Err(ConnectorError::BadResponse { .. })));

    let resp = |status: u16, headers: Vec<(String, String)>, body: Value| HttpResponseData {
        status,
        headers,
        body: body.to_string().into_bytes(),
    };
    let problem =
        |title: &str, status: u16| json!({"title": title, "type": "about:blank", "status": status, "detail": title});
    assert_eq!(
        twitter::poll_error(&p, &resp(401, vec![], problem("Unauthorized", 401))).class(),
        ErrorClass::NeedsReconnect
    );
    let free = resp(
        403,
        vec![],
        json!({
        "client_id": "123", "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview", "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access", "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden"}),
    );
    let e = twitter::poll_error(&p, &free);
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("free tier") && e.to_string().contains("attached to a Project"), "{e}");
    let e = twitter::poll_error(&p, &resp(402, vec![], problem("CreditsDepleted", 402)));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("credits"), "{e}");
    let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 300;
    let limited = resp(429, vec![("x-rate-limit-reset".into(), reset.to_string())], problem("Too Many Requests", 429));
    match twitter::poll_error(&p, &limited).class() {
        ErrorClass::Retryable { retry_after: Some(d) } => assert!((295..=300).contains(&d.as_secs()), "{d:?}"),
        other => panic!("unexpected {other:?}"),
    }
    let limited = resp(429, vec![("retry-after".into(), "9".into())], json!({}));
    assert_eq!(
        twitter::poll_error(&p, &limited).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(9)) }
    );
}

async fn post(base: &str, p: Value) -> Result<area_core::connector::ReactionOutput, ConnectorError> {
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
    twitter::post(&ctx, &params(p), base).await
}

#[tokio::test]
async fn post_sends_the_text_and_maps_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("Authorization", "Bearer x-token"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({"text": "Nouvelle image du jour 🌌 https://apod.nasa.gov"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "1445880548472328192", "text": "Nouvelle image du jour 🌌 https://t.co/x",
            "edit_history_tweet_ids": ["1445880548472328192"]}})))
        .expect(1)
        .mount(&server)
        .await;
    let out = post(&server.uri(), json!({"text": "Nouvelle image du jour 🌌 https://apod.nasa.gov"})).await.unwrap();
    assert!(out.summary.contains("1445880548472328192"), "{}", out.summary);

    let long = "é".repeat(400);
    let req = twitter::post_request(&server.uri(), &params(json!({"text": long})), &token()).unwrap();
    let sent: Value = serde_json::from_slice(req.body.as_ref().unwrap()).unwrap();
    assert_eq!(sent["text"].as_str().unwrap().chars().count(), 280);

    let mut results = Vec::new();
    for (status, body) in [
        (401, json!({"title": "Unauthorized", "status": 401, "detail": "Unauthorized", "type": "about:blank"})),
        (
            403,
            json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403}),
        ),
        (
            429,
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
        ),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", "4").set_body_json(body))
            .mount(&server)
            .await;
        results.push(post(&server.uri(), json!({"text": "hi"})).await.unwrap_err());
    }
    assert_eq!(results[0].class(), ErrorClass::NeedsReconnect);
    assert_eq!(results[1].class(), ErrorClass::Permanent);
    assert!(results[1].to_string().contains("duplicate content"), "{}", results[1]);
    assert_eq!(results[2].class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(4)) });
    server.reset().await;
    let e = post(&server.uri(), json!({"text": " "})).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { .. }));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_poll_defaults_to_the_real_api() {
    let p = params(json!({"user_id": "11348282"}));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert!(req.url.starts_with("https://api.x.com/2/users/11348282/tweets?"), "{}", req.url);
    assert!(req.headers.contains(&("Authorization".into(), "Bearer x-token".into())));
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { .. })));
}

/// Through the engine: lookup (baseline), priming read, then one new post fires the reaction
/// exactly once, and the next poll asks only for newer posts.
#[tokio::test]
async fn engine_fires_a_new_post_once() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_TWITTER_BASE_URL", server.uri())]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let far = chrono::Utc::now().timestamp() + 86_400 * 365;
    let secret = Secret::Oauth2 {
        access_token: "x-access".into(),
        refresh_token: Some("rt".into()),
        scope: None,
        account: None,
    };
    conns.save(env.user_id, "twitter", &secret, None, Some(far)).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "nasa posts",
            "action": {"service": "twitter", "id": "new_post", "params": {"username": "NASA"}},
            "reactions": [{"service": "twitter", "id": "post", "params": {"text": "RT @{{ author }}: {{ text }}"}}]
        })))
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/by/username/NASA"))
        .and(header("authorization", "Bearer x-access"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "11348282", "name": "NASA", "username": "NASA"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/11348282/tweets"))
        .and(query_param("max_results", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(timeline(vec![tweet("100", "old")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/11348282/tweets"))
        .and(query_param("since_id", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(timeline(vec![tweet("101", "Bonjour ☀️")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/11348282/tweets"))
        .and(query_param("since_id", "101"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"meta": {"result_count": 0}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer x-access"))
        .and(body_json(json!({"text": "RT @NASA: Bonjour ☀️"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "102", "text": "RT @NASA: Bonjour ☀️"}})),
        )
        .expect(1)
        .mount(&server)
        .await;

    for _ in 0..4 {
        Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    }
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    assert_eq!(env.state(area).await.last_error, None);
}

/// A timeline that ignores `since_id` (a proxy, a cache, an API change): it always answers every
/// post it holds, newest first.
#[derive(Clone, Default)]
struct IgnoresSinceId(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl wiremock::Respond for IgnoresSinceId {
    fn respond(&self, _request: &wiremock::Request) -> ResponseTemplate {
        let tweets = self.0.lock().unwrap().clone();
        ResponseTemplate::new(200).set_body_json(timeline(tweets))
    }
}

/// Defence in depth: the connector does not trust the server's `since_id` filter. After the
/// lookup and the priming read, a server that returns the old posts again fires only the post
/// that is genuinely new, once.
#[tokio::test]
async fn a_server_ignoring_since_id_fires_only_new_posts() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_TWITTER_BASE_URL", server.uri())]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let far = chrono::Utc::now().timestamp() + 86_400 * 365;
    let secret = Secret::Oauth2 { access_token: "x-access".into(), refresh_token: None, scope: None, account: None };
    conns.save(env.user_id, "twitter", &secret, None, Some(far)).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "esa posts",
            "action": {"service": "twitter", "id": "new_post", "params": {"username": "esa"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ post_id }}: {{ text }}"}}]
        })))
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/by/username/esa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "21436663", "username": "esa"}})))
        .mount(&server)
        .await;
    let posts = IgnoresSinceId::default();
    *posts.0.lock().unwrap() = vec![tweet("300", "third"), tweet("200", "second"), tweet("100", "first")];
    Mock::given(method("GET")).and(path("/2/users/21436663/tweets")).respond_with(posts.clone()).mount(&server).await;

    let notifier = RecordingNotifier::new();
    for _ in 0..3 {
        // Lookup, priming read, then a read where the server answers the same posts again.
        Engine::run_once(&env.store, config_with(true, &settings), notifier.clone()).await.unwrap();
    }
    assert_eq!(notifier.count(), 0, "old posts never fire: {:?}", notifier.shown.lock().unwrap());
    posts.0.lock().unwrap().insert(0, tweet("400", "fourth"));
    for _ in 0..2 {
        Engine::run_once(&env.store, config_with(true, &settings), notifier.clone()).await.unwrap();
    }
    let shown: Vec<String> = notifier.shown.lock().unwrap().iter().map(|(title, _)| title.clone()).collect();
    assert_eq!(shown, ["400: fourth"], "only the genuinely new post, once");
    assert_eq!(env.state(area).await.last_error, None);
    let received = server.received_requests().await.unwrap();
    let timeline_reads: Vec<_> = received.iter().filter(|r| r.url.path().ends_with("/tweets")).collect();
    assert_eq!(timeline_reads.len(), 4);
    assert!(
        timeline_reads[1..].iter().all(|r| r.url.query_pairs().any(|(k, _)| k == "since_id")),
        "the connector still asks the server to filter"
    );
}
