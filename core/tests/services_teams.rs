//! `teams` service: reading documented Graph chat-message pages, the poll request, Graph error
//! mapping (401, 403, 404, 429 with `Retry-After`, error bodies in a 200), both reactions'
//! requests against wiremock, and an end-to-end run through the engine.
//!
//! Services are built with the settings each test wants (`AREA_TEAMS_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

mod support;

use kit::{client, ok, params};
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionContext,
    ReactionOutput,
};
use area_core::engine::Engine;
use area_core::services::microsoft::teams;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHAT: &str = "19:2da4c29f6d7041eca70b638b43d45437@thread.v2";

fn token() -> Credential {
    Credential::OAuth2 { access_token: "eyJ0eXAi.test".into(), account: None }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match teams::service(&Settings::empty()).actions.get("new_chat_message") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("teams.new_chat_message is not polled"),
    }
}

fn read(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({"chat_id": CHAT}));
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

fn message(id: &str, from: &str, html: &str) -> Value {
    json!({
        "id": id, "replyToId": null, "etag": id, "messageType": "message",
        "createdDateTime": "2026-11-28T09:41:07.253Z", "lastModifiedDateTime": "2026-11-28T09:41:07.253Z",
        "lastEditedDateTime": null, "deletedDateTime": null, "subject": null, "summary": null,
        "chatId": CHAT, "importance": "normal", "locale": "en-us",
        "webUrl": format!("https://teams.microsoft.com/l/message/{CHAT}/{id}?context=%7B%22contextType%22%3A%22chat%22%7D"),
        "channelIdentity": null, "policyViolation": null, "eventDetail": null,
        "from": {"application": null, "device": null, "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2",
            "displayName": from, "userIdentityType": "aadUser", "tenantId": "2432b57b-0abd-43db-aa7b-16eadd115d34"}},
        "body": {"contentType": "html", "content": html},
        "attachments": [], "mentions": [], "reactions": [], "messageHistory": []
    })
}

#[test]
fn manifest_uses_the_microsoft_work_account_provider() {
    let m = teams::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "teams");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("microsoft"));
    match &m.availability {
        Availability::Limited(reason) => assert!(reason.contains("work or school"), "{reason}"),
        other => panic!("unexpected availability {other:?}"),
    }
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.auth_url, "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize");
    assert_eq!(oauth.token_url, "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
    assert_eq!(oauth.scopes, ["offline_access", "User.Read", "Chat.Read", "ChatMessage.Send"]);
    let service = teams::service(&Settings::empty());
    assert!(!service.reactions["post_chat_message"].idempotent());
    assert!(!service.reactions["post_workflow_webhook"].idempotent());
    for a in &service.manifest.actions {
        assert!(a.ingredients.iter().all(|i| !i.example.is_empty() && !i.description.is_empty()));
    }
}

#[test]
fn reads_a_documented_messages_page() {
    let mut system = message("1616964500000", "", "<systemEventMessage/>");
    system["messageType"] = json!("systemEventMessage");
    system["from"] = Value::Null;
    system["eventDetail"] = json!({"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail"});
    let mut deleted = message("1616964400000", "Ghost", "");
    deleted["deletedDateTime"] = json!("2026-11-28T09:00:00Z");
    let mut bot = message("1616964300000", "", "Build <b>#42</b> passed");
    bot["from"] = json!({"user": null, "device": null, "application": {"id": "a", "displayName": "Azure DevOps"}});
    let mut plain = message("1616964200000", "Zoé", "  plain text &amp; kept  ");
    plain["body"]["contentType"] = json!("text");
    let mut bare = json!({"id": "1616964100000"});
    bare["unknownField"] = json!({"nested": [1, 2]});
    let page = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chats('19%3A2da4c29f6d7041eca70b638b43d45437%40thread.v2')/messages",
        "@odata.count": 6,
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/chats/19:2da4c29f6d7041eca70b638b43d45437@thread.v2/messages?$top=50&$skiptoken=M2UyZGFj",
        "value": [
            message("1616964509832", "Adele Vance", "<p>Le déploiement est terminé <emoji id=\"checkmark\" alt=\"✅\" title=\"Check\"></emoji></p><p>Détails&nbsp;: <a href=\"https://ci.example\">ici</a></p>"),
            system, deleted, bot, plain, bare,
            {"id": null, "messageType": "message"}
        ]
    });
    let events = read(&ok(&page.to_string())).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["1616964509832", "1616964300000", "1616964200000", "1616964100000"]);
    let first = &events[0].ingredients;
    assert_eq!(first["content"], json!("Le déploiement est terminé ✅\nDétails : ici"));
    assert_eq!(first["from"], json!("Adele Vance"));
    assert_eq!(first["created_at"], json!("2026-11-28T09:41:07.253Z"));
    assert!(first["url"].as_str().unwrap().starts_with("https://teams.microsoft.com/l/message/19:2da4"));
    assert_eq!(first["message_id"], json!("1616964509832"));
    assert_eq!(events[1].ingredients["from"], json!("Azure DevOps"), "apps are named too");
    assert_eq!(events[1].ingredients["content"], json!("Build #42 passed"));
    assert_eq!(events[2].ingredients["content"], json!("plain text &amp; kept"), "text bodies are not HTML");
    let bare = &events[3].ingredients;
    assert_eq!((bare["content"].clone(), bare["from"].clone(), bare["url"].clone()), (json!(""), json!(""), json!("")));
    let declared: Vec<_> =
        teams::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
}

#[test]
fn empty_pages_and_error_bodies() {
    assert!(read(&ok(r#"{"@odata.context": "x", "@odata.count": 0, "value": []}"#)).unwrap().is_empty());
    assert!(read(&ok(r#"{"value": null}"#)).unwrap().is_empty());
    let in_200 = r#"{"error": {"code": "InternalServerError", "message": "Failed to process request.",
                    "innerError": {"date": "2026-11-28T09:41:07", "request-id": "r", "client-request-id": "c"}}}"#;
    let e = read(&ok(in_200)).unwrap_err();
    assert!(matches!(e, ConnectorError::BadResponse { .. }) && e.to_string().contains("Failed to process"), "{e}");
    assert!(matches!(read(&ok("<html>oops</html>")), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn chat_ids_and_links_are_accepted() {
    assert_eq!(teams::chat_id(CHAT).as_deref(), Some(CHAT));
    let one_on_one = "19:8ea0e38b-efb3-4757-924a-5f94061cf8c2_97f62344-57dc-409c-88ad-c4af14158ff5@unq.gbl.spaces";
    assert_eq!(teams::chat_id(one_on_one).as_deref(), Some(one_on_one));
    let link = "https://teams.microsoft.com/l/chat/19%3A2da4c29f6d7041eca70b638b43d45437%40thread.v2/conversations?context=%7B%7D";
    assert_eq!(teams::chat_id(link).as_deref(), Some(CHAT));
    for bad in ["", "19:a/../b", "a b", "https://evil.example/l/chat/19:x", "x?y"] {
        assert_eq!(teams::chat_id(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn poll_request_lists_the_chat_newest_first() {
    let p = params(json!({"chat_id": CHAT}));
    let req = teams::list_request("http://127.0.0.1:9/", &p, &token()).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v1.0/chats/19:2da4c29f6d7041eca70b638b43d45437@thread.v2/messages?$top=50&$orderby=createdDateTime%20desc"
    );
    assert!(req.headers.contains(&("Authorization".into(), "Bearer eyJ0eXAi.test".into())));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert!(req.url.starts_with("https://graph.microsoft.com/v1.0/chats/19:"), "{}", req.url);
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { ref service }) if service == "teams"));
    let bad = params(json!({"chat_id": "a/b"}));
    assert!(matches!(
        poll_action().request(&PollContext { params: &bad, cursor: None, credential: Some(&cred) }),
        Err(ConnectorError::BadParams { .. })
    ));
}

fn graph_error_body(code: &str, message: &str) -> Vec<u8> {
    json!({"error": {"code": code, "message": message,
           "innerError": {"date": "2026-11-28T09:41:07", "request-id": "7d1c", "client-request-id": "7d1c"}}})
    .to_string()
    .into_bytes()
}

#[test]
fn poll_errors_follow_the_rules() {
    let p = params(json!({"chat_id": CHAT}));
    let resp = |status: u16, headers: Vec<(String, String)>, code: &str, message: &str| HttpResponseData {
        status,
        headers,
        body: graph_error_body(code, message),
    };
    let expired = teams::poll_error(&p, &resp(401, vec![], "InvalidAuthenticationToken", "Access token has expired."));
    assert_eq!(expired.class(), ErrorClass::NeedsReconnect);
    let forbidden = teams::poll_error(&p, &resp(403, vec![], "Forbidden", "Forbidden"));
    assert_eq!(forbidden.class(), ErrorClass::Permanent);
    assert!(forbidden.to_string().contains(CHAT) && forbidden.to_string().contains("work or school"), "{forbidden}");
    let missing = teams::poll_error(&p, &resp(404, vec![], "NotFound", "Resource not found"));
    assert_eq!(missing.class(), ErrorClass::Permanent);
    assert!(missing.to_string().contains(CHAT) && missing.to_string().contains("NotFound"), "{missing}");
    let throttled = teams::poll_error(
        &p,
        &resp(429, vec![("retry-after".into(), "7".into())], "TooManyRequests", "Too many requests"),
    );
    assert_eq!(throttled.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(7)) });
    let unavailable = teams::poll_error(&p, &resp(503, vec![], "ServiceNotAvailable", "Try later"));
    assert!(matches!(unavailable.class(), ErrorClass::Retryable { .. }));
}

async fn run_reaction(
    f: impl AsyncFnOnce(&ReactionContext<'_>) -> Result<ReactionOutput, ConnectorError>,
    credential: Option<Credential>,
) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let notifier = RecordingNotifier::default();
    let ctx = ReactionContext {
        http: &http,
        idempotency_key: "area-1:evt-1:0",
        notifier: &notifier,
        allow_private_network: true,
        credential: credential.as_ref(),
    };
    f(&ctx).await
}

#[tokio::test]
async fn post_chat_message_sends_a_text_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/chats/{CHAT}/messages")))
        .and(header("Authorization", "Bearer eyJ0eXAi.test"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({"body": {"contentType": "text", "content": "Bonjour <b>ça va</b> ? 🎉"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(message("1616991463150", "Ada", "Bonjour")))
        .expect(1)
        .mount(&server)
        .await;
    let p = params(json!({"chat_id": CHAT, "content": "Bonjour <b>ça va</b> ? 🎉"}));
    let out =
        run_reaction(async |ctx| teams::post_chat_message(ctx, &p, &server.uri()).await, Some(token())).await.unwrap();
    assert!(out.summary.contains("1616991463150"), "{}", out.summary);

    // Errors: 401 → reconnect, 403/404 name the chat, 429 honours Retry-After.
    let mut results = Vec::new();
    for (status, code) in [(401, "InvalidAuthenticationToken"), (403, "Forbidden"), (404, "NotFound"), (429, "TooMany")]
    {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Retry-After", "3")
                    .set_body_raw(graph_error_body(code, "nope"), "application/json"),
            )
            .mount(&server)
            .await;
        results.push(
            run_reaction(async |ctx| teams::post_chat_message(ctx, &p, &server.uri()).await, Some(token()))
                .await
                .unwrap_err(),
        );
    }
    assert_eq!(results[0].class(), ErrorClass::NeedsReconnect);
    assert_eq!(results[1].class(), ErrorClass::Permanent);
    assert!(results[1].to_string().contains(CHAT));
    assert_eq!(results[2].class(), ErrorClass::Permanent);
    assert_eq!(results[3].class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(3)) });

    // Empty text and bad chat ids never reach Graph; no credential asks to connect.
    server.reset().await;
    let empty = params(json!({"chat_id": CHAT, "content": "  "}));
    let e = run_reaction(async |ctx| teams::post_chat_message(ctx, &empty, &server.uri()).await, Some(token()))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "content"), "{e:?}");
    let e = run_reaction(async |ctx| teams::post_chat_message(ctx, &p, &server.uri()).await, None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn workflow_urls_are_checked_without_echoing_them() {
    let check = |url: &str| teams::workflow_target(&params(json!({"webhook_url": url})), None);
    for good in [
        "https://prod-12.westeurope.logic.azure.com:443/workflows/4f3a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETSIG",
        "https://default2432b57b0abd43dbaa7b16eadd115d.34.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/86ff/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG",
    ] {
        assert!(check(good).is_ok(), "{good}");
    }
    for bad in [
        "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/SECRETSIG/ghi",
        "http://prod-12.westeurope.logic.azure.com/workflows/4f3a?sig=SECRETSIG",
        "https://evil.example/workflows/4f3a?sig=SECRETSIG",
        "https://prod-12.westeurope.logic.azure.com.evil.example/workflows/x?sig=SECRETSIG",
        "not a url SECRETSIG",
    ] {
        let e = check(bad).unwrap_err();
        assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "webhook_url"), "{bad}: {e:?}");
        assert!(!e.to_string().contains("SECRETSIG"), "the URL leaked: {e}");
    }
    assert!(check("https://contoso.webhook.office.com/webhookb2/x").unwrap_err().to_string().contains("retired"));
}

#[tokio::test]
async fn workflow_webhook_posts_an_adaptive_card_without_credentials() {
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_TEAMS_BASE_URL", server.uri())]);
    let expected = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Nouveau ticket 🎫", "weight": "Bolder", "size": "Medium", "wrap": true},
                    {"type": "TextBlock", "text": "**#42** Le serveur répond 500", "wrap": true}
                ]
            }
        }]
    });
    Mock::given(method("POST"))
        .and(path("/workflows/4f3a/triggers/manual/paths/invoke"))
        .and(query_param("sig", "SECRETSIG"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(expected))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/workflows/4f3a/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG", server.uri());
    let p = params(json!({"webhook_url": url, "title": "Nouveau ticket 🎫", "text": "**#42** Le serveur répond 500"}));
    let reaction = teams::service(&settings).reactions["post_workflow_webhook"].clone();
    let out = run_reaction(async |ctx| reaction.run(ctx, &p).await, None).await;
    assert!(out.is_ok(), "{out:?}");
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none(), "no Microsoft token goes to a webhook");

    // A refused signature points at the URL (no connection to repair) and never repeats it.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": "DirectApiAuthorizationRequired", "message": "The request must be authenticated"}})))
        .mount(&server)
        .await;
    let e = run_reaction(async |ctx| reaction.run(ctx, &p).await, None).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "webhook_url"), "{e:?}");
    assert!(!e.to_string().contains("SECRETSIG") && e.to_string().contains("Anyone"), "{e}");
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "WorkflowNotFound", "message": "x"}})),
        )
        .mount(&server)
        .await;
    let e = run_reaction(async |ctx| reaction.run(ctx, &p).await, None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "20"))
        .mount(&server)
        .await;
    let e = run_reaction(async |ctx| reaction.run(ctx, &p).await, None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(20)) });
}

/// Through the engine: a stored Microsoft connection, a baseline poll, then one new message
/// fires both reactions exactly once (the chat post with the token, the webhook without).
#[tokio::test]
async fn engine_fires_a_new_chat_message_once() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_TEAMS_BASE_URL", server.uri())]);
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    let far = chrono::Utc::now().timestamp() + 86_400 * 365;
    let secret = Secret::Oauth2 {
        access_token: "graph-token".into(),
        refresh_token: Some("rt".into()),
        scope: None,
        account: None,
    };
    conns.save(env.user_id, "microsoft", &secret, None, Some(far)).await.unwrap();
    let webhook = format!("{}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=S", server.uri());
    let area = env
        .add(spec(json!({
            "name": "relay",
            "action": {"service": "teams", "id": "new_chat_message", "params": {"chat_id": CHAT}},
            "reactions": [
                {"service": "teams", "id": "post_chat_message",
                 "params": {"chat_id": "19:other@thread.v2", "content": "{{ from }}: {{ content }}"}},
                {"service": "teams", "id": "post_workflow_webhook",
                 "params": {"webhook_url": webhook, "text": "{{ content }} ({{ url }})"}}
            ]
        })))
        .await;
    let list = format!("/v1.0/chats/{CHAT}/messages");
    Mock::given(method("GET"))
        .and(path(list.as_str()))
        .and(header("authorization", "Bearer graph-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [message("1", "Ada", "<p>old</p>")]})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(list.as_str()))
        .and(header("authorization", "Bearer graph-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            message("2", "Zoé", "<p>Nouveau <b>message</b> ☕</p>"), message("1", "Ada", "<p>old</p>")
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/chats/19:other@thread.v2/messages"))
        .and(header("authorization", "Bearer graph-token"))
        .and(body_json(json!({"body": {"contentType": "text", "content": "Zoé: Nouveau message ☕"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "99"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/workflows/abc/triggers/manual/paths/invoke"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;

    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap(); // baseline
    assert!(env.state(area).await.baselined);
    assert_eq!(env.runs(area).await.len(), 0);
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap(); // nothing new
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    let requests = server.received_requests().await.unwrap();
    let webhook_call = requests.iter().find(|r| r.url.path().starts_with("/workflows/")).expect("webhook called");
    assert!(webhook_call.headers.get("authorization").is_none());
    let card = support::body_json(webhook_call);
    let text = card["attachments"][0]["content"]["body"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Nouveau message ☕ (https://teams.microsoft.com/l/message/"), "{text}");
}

/// The Workflows webhook needs no Microsoft connection: an area fed by another service posts
/// through it although the user never connected Microsoft.
#[tokio::test]
async fn engine_posts_to_a_workflow_without_a_microsoft_connection() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_TEAMS_BASE_URL", server.uri())]);
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let webhook = format!("{}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=S", server.uri());
    let area = env
        .add(spec(json!({
            "name": "feed to teams",
            "action": {"service": "http", "id": "new_json_items",
                       "params": {"url": feed_url, "items_path": "items", "id_field": "id"}},
            "reactions": [{"service": "teams", "id": "post_workflow_webhook",
                           "params": {"webhook_url": webhook, "title": "Nouveau", "text": "{{ title }}"}}]
        })))
        .await;
    Mock::given(method("POST"))
        .and(path("/workflows/abc/triggers/manual/paths/invoke"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap(); // baseline
    feed.set(items(&[2, 1]));
    Engine::run_once(&env.store, config_with(true, &settings), RecordingNotifier::new()).await.unwrap();
    assert_eq!(env.state(area).await.paused_reason, None);
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    let requests = server.received_requests().await.unwrap();
    let card = support::body_json(&requests[0]);
    assert_eq!(card["attachments"][0]["content"]["body"][1]["text"], json!("Item 2"));
}
