//! `discord` service: reading saved channel messages, building the poll request, and both
//! reactions against a local wiremock server.
//!
//! `AREA_DISCORD_BASE_URL` is process-global and tests run in parallel, so every test that needs
//! the fake API shares ONE mock server (started once, the variable set once to its URI) and uses
//! its own channel or webhook path with scoped mocks.

mod kit;

use kit::{params, NoNotifier};
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, Reaction,
    ReactionContext, ReactionOutput,
};
use area_core::net::{HttpClient, NetConfig};
use area_core::services::discord;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

static SERVER: OnceCell<MockServer> = OnceCell::const_new();

/// The settings pointing the services at the fake server (none until it started).
static SETTINGS: std::sync::OnceLock<area_core::settings::Settings> = std::sync::OnceLock::new();

fn settings() -> area_core::settings::Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The shared fake Discord; `AREA_DISCORD_BASE_URL` points at it from the first call on.
async fn server() -> &'static MockServer {
    SERVER
        .get_or_init(|| async {
            let server = MockServer::start().await;
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([("AREA_DISCORD_BASE_URL", server.uri())]));
            server
        })
        .await
}

fn bot() -> Credential {
    Credential::ApiKey("bot_test_token".into())
}

fn action() -> Arc<dyn PolledAction> {
    match discord::service(&settings()).actions.get("new_message") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("discord.new_message is not polled"),
    }
}

fn reaction(id: &str) -> Arc<dyn Reaction> {
    discord::service(&settings()).reactions.get(id).cloned().unwrap_or_else(|| panic!("discord.{id}"))
}

fn read(p: Value, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    let cred = bot();
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let resp = HttpResponseData { status: 200, headers: vec![], body: body.as_bytes().to_vec() };
    action().read(&ctx, &resp).map(|o| o.events)
}

fn keys(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.key.as_str()).collect()
}

/// Shaped like discord-api-docs "Get Channel Messages" (newest first): a user message with
/// extra fields, a bot message, a webhook message, a message with nulls and unicode.
const MESSAGES: &str = r#"[
  {
    "type": 0, "tts": false, "timestamp": "2024-03-05T10:30:00.123000+00:00", "pinned": false,
    "mentions": [], "mention_roles": [], "mention_everyone": false, "id": "1214500000000000004",
    "flags": 0, "embeds": [], "edited_timestamp": null, "content": "Salut 👋 — café ☕",
    "components": [], "channel_id": "1100000000000000000",
    "author": {"username": "ada", "public_flags": 0, "id": "80351110224678912", "global_name": "Ada L.",
               "discriminator": "0", "avatar": null, "avatar_decoration_data": null},
    "attachments": [{"id": "1", "url": "https://cdn.discordapp.com/x.png"}], "new_future_field": {"a": 1}
  },
  {
    "id": "1214500000000000003", "channel_id": "1100000000000000000", "content": "I am a bot",
    "author": {"id": "2", "username": "areabot", "bot": true}, "timestamp": "2024-03-05T10:29:00+00:00"
  },
  {
    "id": "1214500000000000002", "channel_id": "1100000000000000000", "content": "via webhook",
    "webhook_id": "999", "author": {"id": "999", "username": "Captain Hook"}, "timestamp": "2024-03-05T10:28:00+00:00"
  },
  {
    "id": "1214500000000000001", "content": null, "author": {"id": "3", "username": null, "bot": null},
    "timestamp": null
  }
]"#;

#[test]
fn reads_messages_skipping_bots_by_default() {
    let events = read(json!({"channel_id": "1100000000000000000"}), MESSAGES).unwrap();
    assert_eq!(keys(&events), ["1214500000000000004", "1214500000000000001"], "bot and webhook messages skipped");
    let m = &events[0].ingredients;
    assert_eq!(m["content"], json!("Salut 👋 — café ☕"));
    assert_eq!(m["author"], json!("ada"));
    assert_eq!(m["author_id"], json!("80351110224678912"));
    assert_eq!(m["timestamp"], json!("2024-03-05T10:30:00.123000+00:00"));
    assert_eq!(m["message_id"], json!("1214500000000000004"));
    assert_eq!(
        m["url"],
        json!("https://discord.com/channels/@me/1100000000000000000/1214500000000000004"),
        "without a guild id, the @me link form"
    );
    let nulls = &events[1].ingredients;
    assert_eq!(nulls["content"], json!(""));
    assert_eq!(nulls["author"], json!(""));
    assert_eq!(nulls["timestamp"], json!(""));
    assert_eq!(
        nulls["url"],
        json!("https://discord.com/channels/@me/1100000000000000000/1214500000000000001"),
        "channel from the parameters when the message lacks it"
    );
}

#[test]
fn guild_links_and_bot_messages_on_request() {
    let p = json!({"channel_id": "1100000000000000000", "guild_id": "613425648685547541", "include_bots": true});
    let events = read(p, MESSAGES).unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[0].ingredients["url"],
        json!("https://discord.com/channels/613425648685547541/1100000000000000000/1214500000000000004")
    );
    assert_eq!(events[1].ingredients["author"], json!("areabot"));
    assert!(matches!(
        read(json!({"channel_id": "1100000000000000000", "guild_id": "not-a-guild"}), "[]"),
        Err(ConnectorError::BadParams { ref param, .. }) if param == "guild_id"
    ));
}

#[test]
fn an_error_body_in_a_200_is_an_error_not_events() {
    let p = json!({"channel_id": "1100000000000000000"});
    match read(p.clone(), r#"{"message": "Missing Access", "code": 50001}"#) {
        Err(ConnectorError::BadResponse { service, message }) => {
            assert_eq!(service, "discord");
            assert!(message.contains("Missing Access") && message.contains("50001"), "{message}");
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert!(matches!(read(p.clone(), "not json"), Err(ConnectorError::BadResponse { .. })));
    assert!(matches!(read(p.clone(), r#"{"id": "1"}"#), Err(ConnectorError::BadResponse { .. })));
    assert!(read(p, "[]").unwrap().is_empty());
}

#[tokio::test]
async fn poll_request_uses_the_bot_token() {
    let base = server().await.uri();
    let cred = bot();
    let p = params(json!({"channel_id": " 1100000000000000000 "}));
    let req = action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, format!("{base}/api/v10/channels/1100000000000000000/messages?limit=50"));
    assert_eq!(
        req.headers,
        vec![
            ("Authorization".to_string(), "Bot bot_test_token".to_string()),
            ("Accept".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), format!("DiscordBot (https://github.com/area, {})", env!("CARGO_PKG_VERSION")))
        ]
    );
    match action().request(&PollContext { params: &p, cursor: None, credential: None }) {
        Err(ConnectorError::AuthExpired { service }) => assert_eq!(service, "discord"),
        other => panic!("expected AuthExpired, got {other:?}"),
    }
    for bad in ["general", "../1", "1/messages", "", "123456789012345678901"] {
        let p = params(json!({ "channel_id": bad }));
        match action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }) {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "channel_id"),
            other => panic!("{bad:?}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn manifest_and_idempotency() {
    let s = discord::service(&settings());
    assert_eq!(s.manifest.id, "discord");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    assert!(s.manifest.oauth.is_none());
    assert_eq!(discord::DEFAULT_BASE_URL, "https://discord.com");
    assert!(reaction("send_message").idempotent(), "nonce + enforce_nonce");
    assert!(!reaction("send_webhook").idempotent(), "webhooks take no nonce");
    let webhook = s.manifest.reactions.iter().find(|r| r.id == "send_webhook").unwrap();
    let url_param = webhook.params.iter().find(|p| p.id == "webhook_url").unwrap();
    assert!(url_param.help.contains("password"), "the help says the URL is a secret");
    assert!(!url_param.templated);
}

#[test]
fn nonce_is_stable_short_and_distinct() {
    let a = discord::nonce_for("area-1:evt-1:0");
    assert_eq!(a.len(), 25);
    assert_eq!(a, discord::nonce_for("area-1:evt-1:0"));
    assert_ne!(a, discord::nonce_for("area-1:evt-1:1"));
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
}

async fn run(id: &str, credential: Option<&Credential>, p: Value) -> Result<ReactionOutput, ConnectorError> {
    server().await;
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let ctx = ReactionContext {
        http: &client,
        idempotency_key: "area-1:evt-1:0",
        notifier: &NoNotifier,
        allow_private_network: false,
        credential,
    };
    reaction(id).run(&ctx, &params(p)).await
}

#[tokio::test]
async fn send_webhook_posts_content_without_mentions_and_no_token() {
    let srv = server().await;
    let guard = Mock::given(method("POST"))
        .and(path("/api/webhooks/111/hook-secret"))
        .and(query_param("wait", "true"))
        .and(query_param("thread_id", "555"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1214600000000000000", "type": 0, "content": "x", "webhook_id": "111", "extra": null
        })))
        .expect(2)
        .mount_as_scoped(srv)
        .await;
    let url = format!("{}/api/webhooks/111/hook-secret?thread_id=555&wait=false", srv.uri());
    let out = run(
        "send_webhook",
        None,
        json!({"webhook_url": url, "content": "New issue: Café ☕ @everyone", "username": "Area"}),
    )
    .await
    .unwrap();
    assert_eq!(out.summary, "posted Discord message 1214600000000000000 via webhook");
    assert!(!out.summary.contains("hook-secret"));
    // With a bot connection present, the webhook still carries no Authorization header.
    let cred = bot();
    run("send_webhook", Some(&cred), json!({"webhook_url": url, "content": "second"})).await.unwrap();

    let received = guard.received_requests().await;
    assert_eq!(received.len(), 2);
    let first: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        first,
        json!({"content": "New issue: Café ☕ @everyone", "username": "Area", "allowed_mentions": {"parse": []}})
    );
    let second: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(second, json!({"content": "second", "allowed_mentions": {"parse": []}}), "no username when not given");
    for r in &received {
        assert!(r.headers.get("authorization").is_none(), "a webhook needs no token");
        assert_eq!(r.url.query_pairs().filter(|(k, _)| k == "wait").count(), 1);
    }
}

#[tokio::test]
async fn send_webhook_refuses_other_hosts_without_echoing_the_url() {
    server().await;
    for url in [
        "https://evil.example.com/api/webhooks/1/secret-token",
        "http://discord.com/api/webhooks/1/secret-token",
        "https://discord.com/api/v10/channels/1/secret-token",
        "not a url secret-token",
    ] {
        match run("send_webhook", None, json!({"webhook_url": url, "content": "hi"})).await {
            Err(ConnectorError::BadParams { param, message }) => {
                assert_eq!(param, "webhook_url");
                assert!(!message.contains("secret-token"), "{message}");
            }
            other => panic!("{url}: expected BadParams, got {other:?}"),
        }
    }
    let official =
        discord::webhook_target(&params(json!({"webhook_url": "https://discord.com/api/webhooks/123/tok"})), None)
            .unwrap();
    assert_eq!(official.as_str(), "https://discord.com/api/webhooks/123/tok?wait=true");
    let legacy =
        discord::webhook_target(&params(json!({"webhook_url": "https://discordapp.com/api/webhooks/1/t"})), None)
            .unwrap();
    assert_eq!(legacy.host_str(), Some("discordapp.com"));
}

#[tokio::test]
async fn content_is_required_and_cut_to_the_limit() {
    let srv = server().await;
    let guard = Mock::given(method("POST"))
        .and(path("/api/webhooks/222/long"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let url = format!("{}/api/webhooks/222/long", srv.uri());
    match run("send_webhook", None, json!({"webhook_url": url, "content": "  "})).await {
        Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "content"),
        other => panic!("expected BadParams, got {other:?}"),
    }
    run("send_webhook", None, json!({"webhook_url": url, "content": "é".repeat(3000)})).await.unwrap();
    let sent: Value = serde_json::from_slice(&guard.received_requests().await[0].body).unwrap();
    assert_eq!(sent["content"].as_str().unwrap().chars().count(), discord::CONTENT_MAX_CHARS);
}

#[tokio::test]
async fn send_message_posts_as_the_bot_with_a_nonce() {
    let srv = server().await;
    let guard = Mock::given(method("POST"))
        .and(path("/api/v10/channels/1100000000000000001/messages"))
        .and(header("authorization", "Bot bot_test_token"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1214700000000000000", "channel_id": "1100000000000000001", "content": "Hello", "nonce": "x"
        })))
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let cred = bot();
    let out = run("send_message", Some(&cred), json!({"channel_id": "1100000000000000001", "content": "Hello 🎉"}))
        .await
        .unwrap();
    assert_eq!(out.summary, "posted Discord message 1214700000000000000 in channel 1100000000000000001");
    let sent: Value = serde_json::from_slice(&guard.received_requests().await[0].body).unwrap();
    assert_eq!(
        sent,
        json!({
            "content": "Hello 🎉",
            "nonce": discord::nonce_for("area-1:evt-1:0"),
            "enforce_nonce": true,
            "allowed_mentions": {"parse": []}
        })
    );
}

#[tokio::test]
async fn send_message_without_a_bot_token_asks_to_connect() {
    let srv = server().await;
    let _guard = Mock::given(method("POST"))
        .and(path("/api/v10/channels/1100000000000000002/messages"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount_as_scoped(srv)
        .await;
    match run("send_message", None, json!({"channel_id": "1100000000000000002", "content": "x"})).await {
        Err(e @ ConnectorError::AuthExpired { .. }) => assert_eq!(e.class(), ErrorClass::NeedsReconnect),
        other => panic!("expected AuthExpired, got {other:?}"),
    }
}

async fn send_message_answered(channel: &str, response: ResponseTemplate) -> ConnectorError {
    let _guard = Mock::given(method("POST"))
        .and(path(format!("/api/v10/channels/{channel}/messages")))
        .respond_with(response)
        .expect(1)
        .mount_as_scoped(server().await)
        .await;
    let cred = bot();
    run("send_message", Some(&cred), json!({"channel_id": channel, "content": "x"})).await.expect_err("should fail")
}

#[tokio::test]
async fn error_statuses_are_classified() {
    let err = send_message_answered(
        "9000000000000000401",
        ResponseTemplate::new(401).set_body_json(json!({"message": "401: Unauthorized", "code": 0})),
    )
    .await;
    assert!(matches!(err, ConnectorError::AuthExpired { ref service } if service == "discord"), "{err:?}");

    let err = send_message_answered(
        "9000000000000000403",
        ResponseTemplate::new(403).set_body_json(json!({"message": "Missing Permissions", "code": 50013})),
    )
    .await;
    match &err {
        ConnectorError::Status { status: 403, message, .. } => {
            assert!(message.contains("channel 9000000000000000403"), "{message}");
            assert!(message.contains("Missing Permissions"), "{message}");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = send_message_answered(
        "9000000000000000404",
        ResponseTemplate::new(404).set_body_json(json!({"message": "Unknown Channel", "code": 10003})),
    )
    .await;
    match &err {
        ConnectorError::Status { status: 404, message, .. } => {
            assert!(message.contains("channel 9000000000000000404 not found"), "{message}")
        }
        other => panic!("expected 404, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = send_message_answered(
        "9000000000000000429",
        ResponseTemplate::new(429)
            .insert_header("retry-after", "65")
            .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 64.57, "global": false})),
    )
    .await;
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs_f64(64.57)) });

    let err = send_message_answered(
        "9000000000000000200",
        ResponseTemplate::new(200).set_body_json(json!({"message": "Unknown Message", "code": 10008})),
    )
    .await;
    match err {
        ConnectorError::BadResponse { message, .. } => assert!(message.contains("Unknown Message"), "{message}"),
        other => panic!("expected BadResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_errors_do_not_ask_to_reconnect_the_bot() {
    let srv = server().await;
    let _g401 = Mock::given(method("POST"))
        .and(path("/api/webhooks/401/bad"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid Webhook Token", "code": 50027})),
        )
        .mount_as_scoped(srv)
        .await;
    let _g404 = Mock::given(method("POST"))
        .and(path("/api/webhooks/404/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Unknown Webhook", "code": 10015})))
        .mount_as_scoped(srv)
        .await;
    let url = format!("{}/api/webhooks/401/bad", srv.uri());
    let err = run("send_webhook", None, json!({"webhook_url": url, "content": "x"})).await.unwrap_err();
    match &err {
        ConnectorError::BadParams { param, message } => {
            assert_eq!(param, "webhook_url");
            assert!(message.contains("Invalid Webhook Token"), "{message}");
            assert!(!message.contains("/bad"), "no URL in errors: {message}");
        }
        other => panic!("expected BadParams, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent, "a webhook has no connection to reconnect");

    let url = format!("{}/api/webhooks/404/gone", srv.uri());
    let err = run("send_webhook", None, json!({"webhook_url": url, "content": "x"})).await.unwrap_err();
    match &err {
        ConnectorError::Status { status: 404, message, .. } => {
            assert!(message.contains("webhook not found"), "{message}");
            assert!(!message.contains("/gone"), "no URL in errors: {message}");
        }
        other => panic!("expected a 404 status error, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[test]
fn error_for_reads_discords_float_retry_after() {
    let resp = HttpResponseData {
        status: 429,
        headers: vec![],
        body: br#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": true}"#.to_vec(),
    };
    assert_eq!(
        discord::error_for(&resp, "channel 1", true).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_millis(250)) }
    );
    let no_hint = HttpResponseData { status: 429, headers: vec![], body: b"".to_vec() };
    assert_eq!(discord::error_for(&no_hint, "channel 1", true).class(), ErrorClass::Retryable { retry_after: None });
}

/// Discord's API reference ("User Agent") asks every client for
/// `User-Agent: DiscordBot ($url, $versionNumber)` and may block others: the fake refuses any
/// other agent, on the poll, both reactions and the token check.
#[tokio::test]
async fn every_discord_request_names_itself_as_a_discordbot() {
    let srv = server().await;
    let agent = regex::Regex::new(r"^DiscordBot \(https?://[^,]+, [0-9.]+\)$").unwrap();
    let seen = Mock::given(wiremock::matchers::path_regex(
        r"^/api/(v10/channels/1100000000000000077/|v10/users/@me|webhooks/77/)",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1", "username": "bot"})))
    .mount_as_scoped(srv)
    .await;
    let cred = bot();
    let client = kit::client();

    let p = params(json!({"channel_id": "1100000000000000077"}));
    let poll = action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    client.send(&poll, &Default::default()).await.unwrap();
    run("send_message", Some(&cred), json!({"channel_id": "1100000000000000077", "content": "hi"})).await.unwrap();
    let hook = format!("{}/api/webhooks/77/agent-token", srv.uri());
    run("send_webhook", None, json!({"webhook_url": hook, "content": "hi"})).await.unwrap();
    let check = discord::service(&settings()).account_check.expect("discord checks tokens");
    client.send(&check.request(&cred).unwrap(), &Default::default()).await.unwrap();

    let received = seen.received_requests().await;
    assert_eq!(received.len(), 4, "poll, bot message, webhook and token check");
    for r in &received {
        let ua = r.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(agent.is_match(ua), "{} {}: User-Agent {ua:?}", r.method, r.url.path());
        assert_eq!(r.headers.get_all("user-agent").iter().count(), 1, "one User-Agent, not the client's too");
    }
}
