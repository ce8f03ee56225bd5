//! `ntfy` service: the documented poll request (`GET /{topic}/json?poll=1&since=…`, the topic one
//! checked path segment, a bearer token only when connected), reading newline-delimited JSON
//! with `open`/`keepalive` lines mixed in, the error table, the `publish` request against a
//! local fake (method, path, `Title`/`Priority`/`Tags`/`Click`, body), crafted values staying
//! data, and end-to-end runs through the engine with and without a connection.
//!
//! Services are built with the settings each test wants (`AREA_NTFY_BASE_URL` pointing at a local
//! server, or none for ntfy.sh): no test changes the process environment.

mod kit;

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Catalog, ParamType, TextContext};
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{ConnectorError, Credential, ErrorClass, HttpResponseData, PollContext, PolledAction};
use area_core::engine::Engine;
use area_core::services::ntfy;
use area_core::settings::Settings;
use base64::Engine as _;
use kit::{client, ok, params, reaction_ctx};
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2";

fn token() -> Credential {
    Credential::ApiKey(TOKEN.into())
}

fn poll_action(settings: &Settings) -> Arc<dyn PolledAction> {
    match ntfy::service(settings).actions.get("new_message") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("ntfy.new_message is not polled"),
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Decodes RFC 2047 `=?UTF-8?B?…?=` words separated by spaces, as ntfy does.
fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    for word in value.split(' ') {
        let inner = word.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect("an encoded word");
        assert!(word.len() <= 75, "encoded words are at most 75 characters: {word}");
        out.extend(base64::engine::general_purpose::STANDARD.decode(inner).expect("base64"));
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The documented message object (docs.ntfy.sh/subscribe/api, "JSON message format").
fn message(id: &str, time: i64, title: Option<&str>, text: &str) -> Value {
    let mut m = json!({"id": id, "time": time, "event": "message", "topic": "phil_alerts", "message": text});
    if let Some(title) = title {
        m["title"] = json!(title);
    }
    m
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn open(time: i64) -> Value {
    json!({"id": "SLiKI64DOt", "time": time, "event": "open", "topic": "phil_alerts"})
}

fn keepalive(time: i64) -> Value {
    json!({"id": "DGUDShMCsc", "time": time, "event": "keepalive", "topic": "phil_alerts"})
}

#[test]
fn manifest_declares_an_optional_token_for_ntfy_sh_and_the_contexts_of_its_parameters() {
    let s = ntfy::service(&Settings::empty());
    let m = &s.manifest;
    assert_eq!((m.id, m.auth, m.connection_id()), ("ntfy", AuthKind::ApiKey, Some("ntfy")));
    assert_eq!(m.credential_hosts, ["ntfy.sh"]);
    assert!(!poll_action(&Settings::empty()).needs_credential(), "public topics need no connection");
    let action = &m.actions[0];
    assert_eq!((action.id, action.min_interval_secs), ("new_message", Some(60)));
    let ids: Vec<_> = action.ingredients.iter().map(|i| i.id).collect();
    assert_eq!(ids, ["id", "title", "message", "priority", "tags", "click", "time"]);
    assert!(action.params[0].secret, "a topic is a password on ntfy.sh");

    let reaction = &m.reactions[0];
    assert_eq!(reaction.id, "publish");
    assert!(!s.reactions["publish"].idempotent(), "ntfy takes no idempotency key");
    let context = |id: &str| {
        let p = reaction.params.iter().find(|p| p.id == id).unwrap();
        (p.templated, p.context, p.secret)
    };
    assert_eq!(context("topic"), (true, TextContext::Text, true));
    assert_eq!(context("message"), (true, TextContext::Text, false));
    for id in ["title", "tags", "click"] {
        assert_eq!(context(id), (true, TextContext::Header, false), "{id}");
    }
    let priority = reaction.params.iter().find(|p| p.id == "priority").unwrap();
    assert!(matches!(&priority.kind, ParamType::Enum { choices } if choices == &ntfy::PRIORITIES));
    assert!(!priority.templated);
}

#[test]
fn the_token_may_go_to_ntfy_sh_or_to_the_configured_server_only() {
    let catalog = area_core::services::catalog(&Settings::empty());
    let manifest = &catalog.service("ntfy").unwrap().manifest;
    let hosts = catalog.allowed_hosts(manifest, &token());
    assert!(hosts.allows_url(&url::Url::parse("https://ntfy.sh/alerts").unwrap()));
    assert!(!hosts.allows_url(&url::Url::parse("https://ntfy.example.com/alerts").unwrap()));

    let home = Settings::from_pairs([("AREA_NTFY_BASE_URL", "https://ntfy.example.com")]);
    let catalog: Catalog = area_core::services::catalog(&home);
    let hosts = catalog.allowed_hosts(&catalog.service("ntfy").unwrap().manifest, &token());
    assert!(hosts.allows_url(&url::Url::parse("https://ntfy.example.com/alerts").unwrap()));
    assert!(!hosts.allows_url(&url::Url::parse("https://ntfy.sh/alerts").unwrap()));
}

#[test]
fn the_poll_is_the_documented_get_with_a_bearer_only_when_connected() {
    let p = params(json!({"topic": "phil_alerts"}));
    let action = poll_action(&Settings::empty());

    let req = action.request(&PollContext { params: &p, cursor: None, credential: None }).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "https://ntfy.sh/phil_alerts/json?poll=1&since=all");
    assert!(req.headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("authorization")), "{:?}", req.headers);

    let cred = token();
    let cursor = json!({"time": 1_638_542_110});
    let req = action.request(&PollContext { params: &p, cursor: Some(&cursor), credential: Some(&cred) }).unwrap();
    assert_eq!(req.url, "https://ntfy.sh/phil_alerts/json?poll=1&since=1638542050", "a minute before the newest");
    assert_eq!(req.headers, [("Authorization".to_string(), format!("Bearer {TOKEN}"))]);

    // A self-hosted server under a path prefix.
    let home = Settings::from_pairs([("AREA_NTFY_BASE_URL", "https://home.example.net/ntfy/")]);
    let req = poll_action(&home).request(&PollContext { params: &p, cursor: None, credential: None }).unwrap();
    assert_eq!(req.url, "https://home.example.net/ntfy/phil_alerts/json?poll=1&since=all");
}

#[test]
fn a_topic_that_is_not_an_ntfy_name_is_refused_before_any_request() {
    let long = "x".repeat(65);
    for bad in ["a/b", "../admin", "..", "a b", "a?b=1", "a#b", "a%2Fb", "ünï", "a.b", long.as_str(), "  "] {
        let p = params(json!({"topic": bad, "message": "hi"}));
        for result in [
            ntfy::poll_request(ntfy::DEFAULT_BASE_URL, &p, None, None),
            ntfy::publish_request(ntfy::DEFAULT_BASE_URL, &p, None),
        ] {
            match result {
                Err(ConnectorError::BadParams { param, message }) => {
                    assert_eq!(param, "topic");
                    assert!(bad.trim().is_empty() || !message.contains(bad), "the secret topic is echoed: {message}");
                }
                other => panic!("{bad:?}: expected BadParams, got {other:?}"),
            }
        }
    }
    let p = params(json!({"topic": "Backups_4f9c-2", "message": "hi"}));
    assert_eq!(ntfy::publish_request("http://127.0.0.1:9", &p, None).unwrap().url, "http://127.0.0.1:9/Backups_4f9c-2");
}

#[test]
fn reads_ndjson_with_open_and_keepalive_lines_mixed_in() {
    let full = json!({
        "id": "wze9zgqK41", "time": 1_638_542_110, "expires": 1_638_585_310, "event": "message",
        "topic": "phil_alerts", "priority": 5, "tags": ["warning", "skull"],
        "title": "Unauthorized access detected", "message": "Remote access to phils-laptop detected. Act right away.",
        "click": "https://home.example.com/logs", "icon": "https://example.com/i.png"
    });
    let minimal = message("hwQ2YpKdmg", 1_638_542_741, None, "Disk full 💾");
    let future_kind = json!({"id": "Zx9", "time": 1_638_542_800, "event": "message_delete", "topic": "phil_alerts"});
    let body = format!(
        "{}\r\n{}\n\n{}{}{}",
        open(1_638_542_000),
        full,
        ndjson(&[keepalive(1_638_542_200), minimal, future_kind]),
        json!({"time": 1_638_542_900, "event": "message", "message": "no id"}),
        "\n",
    );
    let (events, newest) = ntfy::read_messages(body.as_bytes()).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["wze9zgqK41", "hwQ2YpKdmg"], "only message lines with an id, in the server's order");
    assert_eq!(newest, Some(1_638_542_741));
    let first = &events[0].ingredients;
    assert_eq!(first["id"], json!("wze9zgqK41"));
    assert_eq!(first["title"], json!("Unauthorized access detected"));
    assert_eq!(first["message"], json!("Remote access to phils-laptop detected. Act right away."));
    assert_eq!(first["priority"], json!(5));
    assert_eq!(first["tags"], json!("warning,skull"));
    assert_eq!(first["click"], json!("https://home.example.com/logs"));
    assert_eq!(first["time"], json!("2021-12-03T14:35:10Z"));
    let second = &events[1].ingredients;
    assert_eq!(second["message"], json!("Disk full 💾"));
    assert_eq!((&second["title"], &second["priority"], &second["tags"]), (&json!(""), &json!(3), &json!("")));
    let declared: Vec<_> =
        ntfy::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.keys().map(String::as_str).collect::<Vec<_>>().len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }

    // An empty answer (nothing cached) is no message; a page that is not ndjson is an error.
    assert_eq!(ntfy::read_messages(b"").unwrap(), (vec![], None));
    let html = ntfy::read_messages(b"<!DOCTYPE html>\n<html>ntfy web app</html>").unwrap_err();
    assert!(matches!(html, ConnectorError::BadResponse { .. }) && html.to_string().contains("line 1"), "{html}");
}

#[test]
fn the_cursor_is_the_newest_message_time_and_survives_an_empty_read() {
    let action = poll_action(&Settings::empty());
    let p = params(json!({"topic": "phil_alerts"}));
    let read = |cursor: Option<&Value>, body: &str| {
        action.read(&PollContext { params: &p, cursor, credential: None }, &ok(body)).unwrap().cursor
    };
    let body = ndjson(&[message("a1", 1_700_000_100, None, "x"), message("a0", 1_700_000_050, None, "y")]);
    assert_eq!(read(None, &body), Some(json!({"time": 1_700_000_100})));
    let previous = json!({"time": 1_700_000_500});
    assert_eq!(read(Some(&previous), &body), Some(previous.clone()), "never goes back");
    assert_eq!(read(Some(&previous), ""), Some(previous.clone()));
    assert_eq!(read(None, &ndjson(&[keepalive(1_700_000_900)])), None);
}

fn answer(status: u16, body: Value) -> HttpResponseData {
    HttpResponseData { status, headers: vec![("retry-after".into(), "30".into())], body: body.to_string().into_bytes() }
}

#[test]
fn error_statuses_follow_the_table() {
    let action = poll_action(&Settings::empty());
    let p = params(json!({"topic": "phil_alerts"}));
    let ctx = PollContext { params: &p, cursor: None, credential: None };
    let error = |status: u16, code: u32, text: &str| {
        action.error_for("ntfy", &ctx, &answer(status, json!({"code": code, "http": status, "error": text})))
    };
    assert_eq!(error(401, 40101, "unauthorized").class(), ErrorClass::NeedsReconnect);
    let forbidden = error(403, 40301, "forbidden");
    assert_eq!(forbidden.class(), ErrorClass::Permanent);
    let text = forbidden.to_string();
    assert!(text.contains("access token") && text.contains("ntfy says: forbidden"), "{text}");
    assert!(!text.contains("phil_alerts"), "the topic is a secret: {text}");
    assert_eq!(error(404, 40401, "page not found").class(), ErrorClass::Permanent);
    assert_eq!(
        error(429, 42901, "limit reached: too many requests, please be nice").class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) }
    );
    assert!(matches!(error(500, 50001, "internal").class(), ErrorClass::Retryable { .. }));
}

/// A publish through the shared client to `server`, as the engine would run it.
async fn publish(server: &MockServer, p: Value, credential: Option<&Credential>) -> Result<String, ConnectorError> {
    let settings = Settings::from_pairs([("AREA_NTFY_BASE_URL", server.uri())]);
    let http = client();
    let ctx = reaction_ctx(&http, "area-1-abc-0", credential);
    let reaction = ntfy::service(&settings).reactions["publish"].clone();
    reaction.run(&ctx, &params(p)).await.map(|o| o.summary)
}

async fn published_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "hwQ2YpKdmg1x", "time": 1_638_542_741, "expires": 1_638_585_941, "event": "message",
            "topic": "phil_alerts", "message": "Disk full"
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn publish_sends_the_documented_post_with_a_bearer_only_when_connected() {
    let server = published_server().await;
    let p = json!({"topic": "phil_alerts", "message": "Disk full on /dev/sda1\nsecond line", "title": "Disk alert",
                   "priority": "high", "tags": "warning,floppy_disk", "click": "https://grafana.example.com/d/disk"});
    let summary = publish(&server, p.clone(), None).await.unwrap();
    assert_eq!(summary, "published ntfy message hwQ2YpKdmg1x");
    let cred = token();
    publish(&server, p, Some(&cred)).await.unwrap();

    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.method.as_str(), "POST");
        assert_eq!(request.url.path(), "/phil_alerts");
        assert_eq!(request.url.query(), None);
        assert_eq!(header(request, "content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(header(request, "title"), Some("Disk alert"));
        assert_eq!(header(request, "priority"), Some("4"));
        assert_eq!(header(request, "tags"), Some("warning,floppy_disk"));
        assert_eq!(header(request, "click"), Some("https://grafana.example.com/d/disk"));
        assert_eq!(request.body, b"Disk full on /dev/sda1\nsecond line");
    }
    assert_eq!(header(&requests[0], "authorization"), None, "no connection, no token");
    assert_eq!(header(&requests[1], "authorization"), Some(format!("Bearer {TOKEN}").as_str()));

    // Defaults: no optional header at all, `default` priority left to the server.
    let server_again = published_server().await;
    publish(&server_again, json!({"topic": "phil_alerts", "message": "hi", "title": "", "priority": "default"}), None)
        .await
        .unwrap();
    let request = &received(&server_again).await[0];
    for name in ["title", "priority", "tags", "click", "authorization"] {
        assert_eq!(header(request, name), None, "{name}");
    }
}

#[test]
fn header_values_stay_data() {
    let build = |title: &str| {
        let p = params(json!({"topic": "t", "message": "m", "title": title}));
        let req = ntfy::publish_request("http://127.0.0.1:9", &p, None).unwrap();
        req.headers.into_iter().find(|(k, _)| k == "Title").map(|(_, v)| v).unwrap()
    };
    // A line break cannot start another header.
    assert_eq!(build("Disk full\r\nX-Injected: yes"), "Disk full  X-Injected: yes");
    // Non-ASCII text is sent as RFC 2047 words that decode to exactly the text.
    let title = build("Crêpes 🥞 prêtes");
    assert!(title.is_ascii(), "{title}");
    assert_eq!(decode_words(&title), "Crêpes 🥞 prêtes");
    // ASCII that looks like an encoded word is encoded too, so ntfy shows it as written.
    assert_eq!(decode_words(&build("=?UTF-8?B?SGk=?=")), "=?UTF-8?B?SGk=?=");
    // Long text: several words, each within RFC 2047's 75 characters, cut between characters.
    let long = "é".repeat(100) + "🎉";
    assert_eq!(decode_words(&build(&long)), long);
    assert_eq!(ntfy::header_value("plain ASCII stays as it is"), "plain ASCII stays as it is");
}

#[tokio::test]
async fn publish_refuses_what_cannot_work_and_maps_errors() {
    let server = published_server().await;
    for (bad, param) in [
        (json!({"topic": "t", "message": "m", "click": "javascript:alert(1)"}), "click"),
        (json!({"topic": "t", "message": "m", "click": "not a url"}), "click"),
        (json!({"topic": "t", "message": "m", "priority": "loud"}), "priority"),
        (json!({"topic": "a/b", "message": "m"}), "topic"),
    ] {
        match publish(&server, bad, None).await {
            Err(ConnectorError::BadParams { param: p, .. }) => assert_eq!(p, param),
            other => panic!("expected BadParams on {param}, got {other:?}"),
        }
    }
    assert!(received(&server).await.is_empty(), "nothing was sent");

    // ntfy's 4096-byte message limit: cut on a character boundary.
    publish(&server, json!({"topic": "t", "message": "é".repeat(3000)}), None).await.unwrap();
    let body = String::from_utf8(received(&server).await[0].body.clone()).expect("UTF-8");
    assert!(body.len() <= ntfy::MESSAGE_MAX_BYTES && body.ends_with('…'), "{}", body.len());

    let mut classes = Vec::new();
    for (status, code, text) in [(401, 40101, "unauthorized"), (403, 40301, "forbidden"), (429, 42901, "limit reached")]
    {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Retry-After", "5")
                    .set_body_json(json!({"code": code, "http": status, "error": text})),
            )
            .mount(&server)
            .await;
        classes.push(publish(&server, json!({"topic": "t", "message": "m"}), None).await.unwrap_err().class());
    }
    assert_eq!(
        classes,
        [
            ErrorClass::NeedsReconnect,
            ErrorClass::Permanent,
            ErrorClass::Retryable { retry_after: Some(Duration::from_secs(5)) }
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Through the engine

/// A topic's `/json` answer that the test changes between polls.
#[derive(Clone, Default)]
struct TopicAnswer(Arc<Mutex<String>>);

impl TopicAnswer {
    fn set(&self, lines: &[Value]) {
        *self.0.lock().unwrap() = ndjson(lines);
    }
}

impl Respond for TopicAnswer {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header("Content-Type", "application/x-ndjson; charset=utf-8")
            .set_body_string(self.0.lock().unwrap().clone())
    }
}

/// A fake ntfy server: `GET /in/json` answers what `answer` holds, `POST /out` publishes.
async fn fake_ntfy() -> (MockServer, TopicAnswer, Settings) {
    let server = MockServer::start().await;
    let answer = TopicAnswer::default();
    Mock::given(method("GET"))
        .and(path("/in/json"))
        .and(query_param("poll", "1"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/out"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "pub000000001", "event": "message"})))
        .mount(&server)
        .await;
    let settings = Settings::from_pairs([("AREA_NTFY_BASE_URL", server.uri())]);
    (server, answer, settings)
}

fn relay_area(reaction_topic: &str) -> Value {
    json!({
        "name": "relay",
        "action": {"service": "ntfy", "id": "new_message", "params": {"topic": "in"}},
        "reactions": [{"service": "ntfy", "id": "publish", "params": {
            "topic": reaction_topic, "message": "{{ message }}", "title": "{{ title }}",
            "tags": "{{ tags }}", "priority": "high", "click": "https://example.com/m/{{ id }}"
        }}]
    })
}

async fn run(env: &Env, settings: &Settings) {
    let report = Engine::run_once(&env.store, config_with(true, settings), RecordingNotifier::new()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

fn gets(requests: &[Request]) -> Vec<&Request> {
    requests.iter().filter(|r| r.method.as_str() == "GET").collect()
}

fn posts(requests: &[Request]) -> Vec<&Request> {
    requests.iter().filter(|r| r.method.as_str() == "POST").collect()
}

/// A public topic, no connection: the baseline fires nothing, two new messages (a keepalive
/// between them, one with a crafted title) publish twice, the same answer again nothing more.
#[tokio::test]
async fn engine_relays_a_public_topic_without_a_connection() {
    let env = Env::new().await;
    let (server, answer, settings) = fake_ntfy().await;
    let area = env.add(spec(relay_area("out"))).await;
    let old = message("old000000001", 1_700_000_000, Some("old"), "already there");
    answer.set(std::slice::from_ref(&old));
    run(&env, &settings).await;
    assert!(env.state(area).await.baselined);
    assert!(env.statuses(area).await.is_empty(), "the first poll is a baseline");

    let crafted = message("new000000001", 1_700_000_100, Some("Disk full\r\nX-Injected: yes"), "line 1\n../../admin");
    let mut tagged = message("new000000002", 1_700_000_160, Some("Crêpes 🥞"), "ready");
    tagged["tags"] = json!(["tada", "fork_and_knife"]);
    answer.set(&[old, crafted, keepalive(1_700_000_150), tagged]);
    run(&env, &settings).await;
    run(&env, &settings).await;

    assert_eq!(env.statuses(area).await, ["succeeded", "succeeded"]);
    let requests = received(&server).await;
    let since: Vec<_> = gets(&requests)
        .iter()
        .map(|r| r.url.query_pairs().find(|(k, _)| k == "since").unwrap().1.into_owned())
        .collect();
    assert_eq!(since, ["all", "1699999940", "1700000100"], "all, then from a minute before the newest");
    assert!(requests.iter().all(|r| header(r, "authorization").is_none()), "no connection, no token");

    let mut posts = posts(&requests);
    assert_eq!(posts.len(), 2, "one publish per new message");
    // The two runs are delivered concurrently: take them in the order of their messages.
    posts.sort_by_key(|r| r.body != b"line 1\n../../admin");
    assert_eq!(header(posts[0], "title"), Some("Disk full  X-Injected: yes"));
    assert_eq!(header(posts[0], "x-injected"), None, "the crafted line break made no header");
    assert_eq!(posts[0].body, b"line 1\n../../admin", "the message is the body, as it is");
    assert_eq!(header(posts[0], "priority"), Some("4"));
    assert_eq!(header(posts[0], "click"), Some("https://example.com/m/new000000001"));
    assert_eq!(decode_words(header(posts[1], "title").unwrap()), "Crêpes 🥞");
    assert_eq!(header(posts[1], "tags"), Some("tada,fork_and_knife"));
    assert!(posts.iter().all(|r| r.url.path() == "/out"));
}

/// With an `ntfy` connection, the token goes with the poll and the publish.
#[tokio::test]
async fn engine_sends_the_connection_token_when_there_is_one() {
    let env = Env::new().await;
    let (server, answer, settings) = fake_ntfy().await;
    let key = MasterKey::load(env.store.dir()).unwrap();
    let conns = Connections::new(env.store.clone(), key, area_core::services::catalog(&settings));
    conns.save(env.user_id, "ntfy", &Secret::ApiKey { key: TOKEN.into() }, None, None).await.unwrap();
    let area = env.add(spec(relay_area("out"))).await;
    answer.set(&[]);
    run(&env, &settings).await;
    answer.set(&[message("new000000001", 1_700_000_100, None, "hello")]);
    run(&env, &settings).await;

    assert_eq!(env.statuses(area).await, ["succeeded"]);
    let requests = received(&server).await;
    assert_eq!((gets(&requests).len(), posts(&requests).len()), (2, 1));
    let bearer = format!("Bearer {TOKEN}");
    assert!(requests.iter().all(|r| header(r, "authorization") == Some(bearer.as_str())));
}

/// A reaction topic taken from an ingredient that holds a `/` fails the run; nothing is sent.
#[tokio::test]
async fn engine_refuses_a_topic_an_ingredient_would_turn_into_a_path() {
    let env = Env::new().await;
    let (server, answer, settings) = fake_ntfy().await;
    let area = env.add(spec(relay_area("{{ message }}"))).await;
    answer.set(&[]);
    run(&env, &settings).await;
    answer.set(&[message("new000000001", 1_700_000_100, None, "out/../../admin")]);
    run(&env, &settings).await;

    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "failed");
    let error = runs[0].error.clone().unwrap_or_default();
    assert!(error.contains("`topic`") && !error.contains("admin"), "{error}");
    assert!(posts(&received(&server).await).is_empty(), "nothing was published");
}
