//! The server's API through a real HTTP client: accounts and cookies, CSRF, access tokens,
//! sign-up policies, sign-in throttling, one user kept out of another's data on every route
//! that takes an id, webhooks and `about.json` on the same port.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use area_core::app::{App, AreaForm, FormStep, SignUp, Startup};
use area_core::settings::{Settings, PUBLIC_URL};
use area_server::{router, LoginThrottle, ServerConfig, CSRF_HEADER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Quiet;
impl area_core::connector::Notifier for Quiet {
    fn notify(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A running server on an OS-chosen port, with its data in a temporary directory.
struct Server {
    _dir: tempfile::TempDir,
    app: App,
    base: String,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let app = self.app.clone();
        tokio::spawn(async move { app.shutdown().await });
    }
}

async fn serve(config: ServerConfig) -> Server {
    serve_with_settings(config, &[]).await
}

async fn serve_with_settings(config: ServerConfig, extra: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::from_pairs([("AREA_ALLOW_PRIVATE_NETWORK", "1")]);
    for (key, value) in extra {
        settings = settings.with(*key, *value);
    }
    if let Some(url) = &config.public_url {
        settings = settings.with(PUBLIC_URL, url.as_str().trim_end_matches('/'));
    }
    let app = App::open_without_engine(Startup::new(dir.path().join("data"), settings), Arc::new(Quiet)).await.unwrap();
    let routes = router(app.clone(), config);
    let addr = app.serve_with(Some("127.0.0.1:0".parse().unwrap()), Some(routes), None).await.unwrap().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { _dir: dir, app, base: format!("http://{addr}"), http }
}

async fn open_server() -> Server {
    serve(ServerConfig::new(None, SignUp::Open)).await
}

/// A browser: its session cookie and the CSRF token the page was given.
#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

/// How a request proves who it is.
enum As<'a> {
    Nobody,
    /// The cookie and its CSRF token.
    Page(&'a Browser),
    /// The cookie without the CSRF token (what another site can make a browser send).
    CookieOnly(&'a Browser),
    Token(&'a str),
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Server {
    async fn call(&self, who: As<'_>, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match who {
            As::Nobody => {}
            As::Page(b) => request = request.header("cookie", &b.cookie).header(CSRF_HEADER, &b.csrf),
            As::CookieOnly(b) => request = request.header("cookie", &b.cookie),
            As::Token(t) => request = request.bearer_auth(t),
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    /// Signs up (or fails the test), returning the browser holding the session.
    async fn sign_up(&self, email: &str) -> Browser {
        let answer = self.sign_up_answer(email, None).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        browser(&answer)
    }

    async fn sign_up_answer(&self, email: &str, invite: Option<&str>) -> Answer {
        let body = json!({ "email": email, "password": "correct horse battery", "invite": invite });
        self.call(As::Nobody, Method::POST, "/api/signup", Some(body)).await
    }

    async fn log_in(&self, email: &str, password: &str) -> Answer {
        self.call(As::Nobody, Method::POST, "/api/login", Some(json!({ "email": email, "password": password }))).await
    }
}

fn set_cookie(answer: &Answer) -> String {
    answer.headers.get("set-cookie").expect("a Set-Cookie header").to_str().unwrap().to_owned()
}

fn browser(answer: &Answer) -> Browser {
    let cookie = set_cookie(answer).split(';').next().unwrap().to_owned();
    Browser { cookie, csrf: answer.body["csrf_token"].as_str().expect("a CSRF token").to_owned() }
}

fn webhook_to(sink: &str) -> Value {
    let form = AreaForm {
        name: "Hook to sink".into(),
        action: FormStep { service: "webhook".into(), id: "received".into(), params: BTreeMap::new() },
        reactions: vec![FormStep {
            service: "http".into(),
            id: "request".into(),
            params: [("url".to_string(), sink.to_string()), ("body".to_string(), "{{ text }}".to_string())].into(),
        }],
        condition: None,
        enabled: true,
        interval_secs: None,
        allow_private_network: true,
    };
    serde_json::to_value(form).unwrap()
}

#[tokio::test]
async fn sign_up_sign_in_and_out_with_a_cookie_scripts_cannot_read() {
    let server = open_server().await;
    let signed_up = server.sign_up_answer("Ada@Example.com", None).await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    assert_eq!(signed_up.body["user"]["email"], "ada@example.com");
    assert_eq!(signed_up.body["administrator"], true, "the first account administers the server");
    let cookie = set_cookie(&signed_up);
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "a plain-http server cannot set Secure cookies: {cookie}");

    let page = browser(&signed_up);
    let me = server.call(As::CookieOnly(&page), Method::GET, "/api/session", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    assert_eq!(me.body["csrf_token"], page.csrf.as_str());

    let wrong = server.log_in("ada@example.com", "not the password").await;
    assert_eq!((wrong.status, wrong.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth")));
    assert!(wrong.headers.get("set-cookie").is_none());
    let again = server.log_in("ada@example.com", "correct horse battery").await;
    assert_eq!(again.status, StatusCode::OK);
    let second = browser(&again);
    assert_ne!(second.cookie, page.cookie, "each sign-in is its own session");

    let refused = server.call(As::CookieOnly(&page), Method::POST, "/api/logout", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "signing out without the CSRF token is refused");
    let out = server.call(As::Page(&page), Method::POST, "/api/logout", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(set_cookie(&out).contains("Max-Age=0"), "the cookie is cleared");
    let gone = server.call(As::CookieOnly(&page), Method::GET, "/api/session", None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "the session ended on the server too");
    let other = server.call(As::CookieOnly(&second), Method::GET, "/api/session", None).await;
    assert_eq!(other.status, StatusCode::OK, "the other session goes on");
    let nobody = server.call(As::Nobody, Method::GET, "/api/areas", None).await;
    assert_eq!((nobody.status, nobody.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth")));
}

#[tokio::test]
async fn an_https_server_marks_its_cookies_secure() {
    let url = url::Url::parse("https://area.example.com").unwrap();
    let server = serve(ServerConfig::new(Some(url), SignUp::Open)).await;
    let answer = server.sign_up_answer("ada@example.com", None).await;
    assert!(set_cookie(&answer).contains("; Secure"), "{}", set_cookie(&answer));
}

#[tokio::test]
async fn a_change_without_the_csrf_token_is_refused_and_changes_nothing() {
    let server = open_server().await;
    let page = server.sign_up("ada@example.com").await;
    let forged = Browser { csrf: "0".repeat(64), ..page.clone() };
    for who in [As::CookieOnly(&page), As::Page(&forged)] {
        let answer = server.call(who, Method::POST, "/api/areas", Some(webhook_to("http://127.0.0.1:9/sink"))).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    }
    let areas = server.call(As::CookieOnly(&page), Method::GET, "/api/areas", None).await;
    assert_eq!(areas.body, json!([]), "no area was created");
    let made = server.call(As::Page(&page), Method::POST, "/api/areas", Some(webhook_to("http://127.0.0.1:9/s"))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
}

#[tokio::test]
async fn access_tokens_are_shown_once_work_without_csrf_and_die_when_revoked() {
    let server = open_server().await;
    let page = server.sign_up("ada@example.com").await;
    let created =
        server.call(As::Page(&page), Method::POST, "/api/tokens", Some(json!({ "name": "backup script" }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("area_pat_") && secret.len() > 60, "{secret}");
    let id = created.body["token"]["id"].as_i64().unwrap();

    let made =
        server.call(As::Token(&secret), Method::POST, "/api/areas", Some(webhook_to("http://127.0.0.1:9/s"))).await;
    assert_eq!(made.status, StatusCode::CREATED, "a token needs no CSRF token: {}", made.body);
    let listed = server.call(As::Token(&secret), Method::GET, "/api/tokens", None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["name"], "backup script");
    assert!(listed.body[0]["last_used_at"].is_i64(), "its use is noted: {}", listed.body);
    assert!(!listed.body.to_string().contains(&secret), "the secret is never listed again");
    let stored = std::fs::read(server._dir.path().join("data/area.db")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&stored).contains(&secret), "only the token's hash is stored");

    let bad_name = server.call(As::Page(&page), Method::POST, "/api/tokens", Some(json!({ "name": " " }))).await;
    assert_eq!((bad_name.status, bad_name.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")));

    let revoked = server.call(As::Page(&page), Method::DELETE, &format!("/api/tokens/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = server.call(As::Token(&secret), Method::GET, "/api/areas", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let twice = server.call(As::Page(&page), Method::DELETE, &format!("/api/tokens/{id}"), None).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invite_only_sign_up_spends_each_code_once() {
    let server = serve(ServerConfig::new(None, SignUp::Invite)).await;
    let admin = server.sign_up("admin@example.com").await;
    let uninvited = server.sign_up_answer("bob@example.com", None).await;
    assert_eq!((uninvited.status, uninvited.body["field"].as_str()), (StatusCode::FORBIDDEN, Some("invite")));

    let code = server.call(As::Page(&admin), Method::POST, "/api/invites", None).await;
    assert_eq!(code.status, StatusCode::CREATED);
    let code = code.body["code"].as_str().unwrap().to_owned();
    let invited = server.sign_up_answer("bob@example.com", Some(&code)).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["administrator"], false);
    let reused = server.sign_up_answer("carol@example.com", Some(&code)).await;
    assert_eq!((reused.status, reused.body["field"].as_str()), (StatusCode::FORBIDDEN, Some("invite")));

    let bob = browser(&invited);
    let not_admin = server.call(As::Page(&bob), Method::POST, "/api/invites", None).await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN, "only the administrator invites");
}

#[tokio::test]
async fn closed_sign_up_allows_only_the_first_account() {
    let server = serve(ServerConfig::new(None, SignUp::Closed)).await;
    server.sign_up("admin@example.com").await;
    let refused = server.sign_up_answer("bob@example.com", None).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
}

#[tokio::test]
async fn an_address_that_keeps_guessing_waits_whatever_account_it_tries() {
    let config = ServerConfig {
        throttle: LoginThrottle::new(3, Duration::from_secs(600)),
        ..ServerConfig::new(None, SignUp::Open)
    };
    let server = serve(config).await;
    server.sign_up("ada@example.com").await;
    for email in ["a@example.com", "b@example.com", "ada@example.com"] {
        let answer = server.log_in(email, "guess guess guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let waiting = server.log_in("ada@example.com", "correct horse battery").await;
    assert_eq!((waiting.status, waiting.body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("throttled")));
    let wait: u64 = waiting.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
}

#[tokio::test]
async fn one_user_never_reaches_another_users_areas_runs_connections_or_tokens() {
    let sink = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&sink)
        .await;
    let server = open_server().await;
    let ada = server.sign_up("ada@example.com").await;
    let bob = server.sign_up("bob@example.com").await;

    // Ada: an area that has run once, a connection and an access token.
    let made = server.call(As::Page(&ada), Method::POST, "/api/areas", Some(webhook_to(&sink.uri()))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let area = made.body["id"].as_i64().unwrap();
    let view = server.call(As::Page(&ada), Method::GET, &format!("/api/areas/{area}"), None).await;
    let hook = view.body["detail"]["webhook_url"].as_str().unwrap().to_owned();
    assert!(hook.starts_with(&server.base), "the webhook is served on the server's port: {hook}");
    let posted = server.http.post(&hook).json(&json!({ "text": "hello" })).send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    let run = wait_for_run(&server, &ada).await;
    let service = token_service(&server).await;
    let connected = server
        .call(As::Page(&ada), Method::PUT, &format!("/api/connections/{service}"), Some(json!({ "token": "t0ken" })))
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.body);
    let token = server.call(As::Page(&ada), Method::POST, "/api/tokens", Some(json!({ "name": "ada's" }))).await;
    let token_id = token.body["token"]["id"].as_i64().unwrap();

    // Bob, by every route that takes an id: not found, and nothing of Ada's changes.
    let form = Some(webhook_to(&sink.uri()));
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/areas/{area}"), None),
        (Method::PUT, format!("/api/areas/{area}"), form.clone()),
        (Method::PUT, format!("/api/areas/{area}/enabled"), Some(json!({ "enabled": false }))),
        (Method::GET, format!("/api/areas/{area}/export"), None),
        (Method::GET, format!("/api/areas/{area}/runs"), None),
        (Method::POST, format!("/api/runs/{run}/rerun"), None),
        (Method::DELETE, format!("/api/tokens/{token_id}"), None),
        (Method::DELETE, format!("/api/areas/{area}"), None),
    ];
    for (method, path, body) in routes {
        let answer = server.call(As::Page(&bob), method.clone(), &path, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path} answered {}: {}", answer.status, answer.body);
        assert_eq!(answer.body["code"], "not_found");
    }
    let disconnect = server.call(As::Page(&bob), Method::DELETE, &format!("/api/connections/{service}"), None).await;
    assert!(disconnect.status.is_client_error(), "{}", disconnect.status);
    for path in ["/api/areas", "/api/runs", "/api/connections", "/api/tokens"] {
        let answer = server.call(As::Page(&bob), Method::GET, path, None).await;
        assert_eq!(answer.body, json!([]), "Bob sees none of Ada's {path}");
    }

    let still = server.call(As::Page(&ada), Method::GET, &format!("/api/areas/{area}"), None).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["detail"]["enabled"], true, "Bob's switch did nothing");
    let conns = server.call(As::Page(&ada), Method::GET, "/api/connections", None).await;
    assert_eq!(conns.body.as_array().unwrap().len(), 1, "Ada's connection is still there");
    let tokens = server.call(As::Page(&ada), Method::GET, "/api/tokens", None).await;
    assert_eq!(tokens.body.as_array().unwrap().len(), 1, "Ada's token is still there");
}

/// The id of Ada's first run, once the engine delivered it.
async fn wait_for_run(server: &Server, who: &Browser) -> i64 {
    for _ in 0..200 {
        let runs = server.call(As::Page(who), Method::GET, "/api/runs", None).await;
        if let Some(run) = runs.body.as_array().and_then(|r| r.first()) {
            if run["status"] != "queued" {
                return run["id"].as_i64().unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the webhook event never ran");
}

/// A service connected with a pasted key that connecting does not check against the provider.
async fn token_service(server: &Server) -> String {
    let services = server.call(As::Nobody, Method::GET, "/api/services", None).await;
    services
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["manifest"]["auth"] == "api_key" && s["checks_token"] == false)
        .map(|s| s["manifest"]["id"].as_str().unwrap().to_owned())
        .expect("a service taking an unchecked API key")
}

#[tokio::test]
async fn about_json_and_errors_are_served_in_their_documented_shapes() {
    let server = open_server().await;
    let about = server.call(As::Nobody, Method::GET, "/about.json", None).await;
    assert_eq!(about.status, StatusCode::OK);
    assert_eq!(about.body["client"]["host"], "127.0.0.1");
    assert!(about.body["server"]["current_time"].is_i64());
    let services = about.body["server"]["services"].as_array().unwrap();
    assert!(services.len() > 20);
    for service in services {
        assert!(service["name"].is_string());
        for action in service["actions"].as_array().unwrap().iter().chain(service["reactions"].as_array().unwrap()) {
            assert!(action["name"].is_string() && action["description"].is_string(), "{action}");
        }
    }

    let page = server.sign_up("ada@example.com").await;
    let malformed = server
        .http
        .post(format!("{}/api/areas", server.base))
        .header("cookie", &page.cookie)
        .header(CSRF_HEADER, &page.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["field"].as_str()), (Some("invalid"), Some("body")));
    let bad_id = server.call(As::Page(&page), Method::GET, "/api/areas/abc", None).await;
    assert_eq!((bad_id.status, bad_id.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("id")));
    let invalid = server
        .call(As::Page(&page), Method::POST, "/api/areas", Some(json!({ "name": "", "action": {"service": "webhook", "id": "nope", "params": {}}, "reactions": [], "condition": null, "enabled": true, "interval_secs": null, "allow_private_network": false })))
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.body);
    assert!(invalid.body["field"].is_string(), "the error names its field: {}", invalid.body);
}

#[tokio::test]
async fn webhook_urls_name_the_public_address() {
    let url = url::Url::parse("https://area.example.com/").unwrap();
    let server = serve(ServerConfig::new(Some(url), SignUp::Open)).await;
    let page = server.sign_up("ada@example.com").await;
    let made = server.call(As::Page(&page), Method::POST, "/api/areas", Some(webhook_to("http://127.0.0.1:9/s"))).await;
    let id = made.body["id"].as_i64().unwrap();
    let view = server.call(As::Page(&page), Method::GET, &format!("/api/areas/{id}"), None).await;
    let hook = view.body["detail"]["webhook_url"].as_str().unwrap();
    assert!(hook.starts_with("https://area.example.com/hooks/"), "{hook}");
    let status = server.app.engine_status();
    assert_eq!(status.webhook_base.as_deref(), Some("https://area.example.com"), "the engine status says the same");
}

/// The command names the UI's generated bindings call.
fn ui_commands() -> Vec<String> {
    let bindings = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts")).unwrap();
    let mut names: Vec<String> = bindings
        .split("__TAURI_INVOKE")
        .skip(1)
        .filter_map(|rest| rest.split_once("(\"").and_then(|(_, name)| name.split_once('"')).map(|(n, _)| n.to_owned()))
        .filter(|name| !name.contains(' '))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn every_command_of_the_ui_is_served_or_refused_with_a_reason() {
    let server = open_server().await;
    let admin = server.sign_up("admin@example.com").await;
    let names = ui_commands();
    assert!(names.len() > 30, "{names:?}");
    for name in &names {
        if area_server::SESSION_COMMANDS.contains(&name.as_str()) {
            continue; // the browser transport sends these to the cookie routes
        }
        let answer = server.call(As::Page(&admin), Method::POST, &format!("/api/invoke/{name}"), Some(json!({}))).await;
        let refused = area_server::DESKTOP_ONLY.iter().any(|(n, _)| n == name);
        if refused {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{name}: {}", answer.body);
            assert!(answer.body["message"].as_str().unwrap().contains("not available on an Area server"));
        } else {
            let unknown = answer.status == StatusCode::NOT_FOUND
                && answer.body["message"].as_str().is_some_and(|m| m.starts_with("no command"));
            assert!(!unknown, "the UI calls {name}, which the server does not serve");
            assert!(!answer.status.is_server_error(), "{name}: {} {}", answer.status, answer.body);
        }
    }
    let unknown = server.call(As::Page(&admin), Method::POST, "/api/invoke/format_disk", Some(json!({}))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_ui_commands_act_for_the_signed_in_user_and_changes_reach_the_page_as_events() {
    let server = open_server().await;
    let admin = server.sign_up("admin@example.com").await;
    let bob = server.sign_up("bob@example.com").await;
    let mut events =
        server.http.get(format!("{}/api/events", server.base)).header("cookie", &bob.cookie).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");

    let mut form = webhook_to("https://example.com/sink");
    form["allow_private_network"] = json!(false);
    let made =
        server.call(As::Page(&bob), Method::POST, "/api/invoke/create_area", Some(json!({ "form": form }))).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let mut seen = String::new();
    while !seen.contains("\"areas\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk()).await.unwrap().unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: app-event"), "{seen}");

    let cards = server.call(As::Page(&bob), Method::POST, "/api/invoke/areas", None).await;
    assert_eq!(cards.body.as_array().unwrap().len(), 1);
    let admins = server.call(As::Page(&admin), Method::POST, "/api/invoke/areas", None).await;
    assert_eq!(admins.body, json!([]), "the administrator does not see Bob's area either");
    let id = made.body["id"].as_i64().unwrap();
    let foreign = server.call(As::Page(&admin), Method::POST, "/api/invoke/area", Some(json!({ "id": id }))).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let forged =
        server.call(As::CookieOnly(&bob), Method::POST, "/api/invoke/delete_area", Some(json!({ "id": id }))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "commands need the CSRF token too");

    // Reaching the server's own network is the administrator's choice alone.
    form["allow_private_network"] = json!(true);
    for (path, body) in [
        ("/api/invoke/create_area", json!({ "form": form })),
        (
            "/api/invoke/sample_event",
            json!({ "service": "rss", "action": "new_item", "params": {"url": "http://127.0.0.1/"}, "allowPrivateNetwork": true }),
        ),
    ] {
        let refused = server.call(As::Page(&bob), Method::POST, path, Some(body)).await;
        assert_eq!(
            (refused.status, refused.body["field"].as_str()),
            (StatusCode::FORBIDDEN, Some("allow_private_network")),
            "{path}"
        );
    }
    let rest = server.call(As::Page(&bob), Method::POST, "/api/areas", Some(form.clone())).await;
    assert_eq!(rest.status, StatusCode::FORBIDDEN, "the same rule on the REST route");
    let paused =
        server.call(As::Page(&bob), Method::POST, "/api/invoke/set_paused", Some(json!({ "paused": true }))).await;
    assert_eq!(paused.status, StatusCode::FORBIDDEN, "only the administrator pauses everyone's areas");
    let by_admin =
        server.call(As::Page(&admin), Method::POST, "/api/invoke/create_area", Some(json!({ "form": form }))).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
}

#[tokio::test]
async fn the_web_app_and_its_pwa_files_are_served_with_a_strict_policy() {
    let server = open_server().await;
    let page = server.http.get(format!("{}/", server.base)).send().await.unwrap();
    if !area_server::web::available() {
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "without a UI build the page says how to add it");
        return;
    }
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("rel=\"manifest\""), "the page links its manifest");
    let deep = server.http.get(format!("{}/areas/12", server.base)).send().await.unwrap();
    assert_eq!(deep.status(), StatusCode::OK, "a deep link opens the app");

    let manifest: Value =
        server.http.get(format!("{}/manifest.webmanifest", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["start_url"].is_string() && manifest["name"].is_string());
    let icons = manifest["icons"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["sizes"] == "512x512"));
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let got = server.http.get(format!("{}/{src}", server.base)).send().await.unwrap();
        assert_eq!(
            (got.status(), got.headers()["content-type"].to_str().unwrap()),
            (StatusCode::OK, "image/png"),
            "{src}"
        );
    }
    let worker = server.http.get(format!("{}/sw.js", server.base)).send().await.unwrap();
    assert_eq!(worker.headers()["content-type"], "text/javascript; charset=utf-8");
    let worker = worker.text().await.unwrap();
    assert!(
        worker.contains("addEventListener(\"fetch\"") && worker.contains("/api/"),
        "the worker never caches the API"
    );
    let api_miss = server.call(As::Nobody, Method::GET, "/api/nothing", None).await;
    assert_eq!((api_miss.status, api_miss.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn a_provider_sends_the_browser_back_to_the_server_which_connects_the_user_who_began() {
    use wiremock::matchers::{body_string_contains, method, path};
    let provider = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains("redirect_uri=https%3A%2F%2Farea.example.com%2Foauth%2Fcallback"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "spotify-access", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "spotify-refresh"
        })))
        .expect(1)
        .mount(&provider)
        .await;
    let token_url = format!("{}/token", provider.uri());
    let url = url::Url::parse("https://area.example.com").unwrap();
    let server = serve_with_settings(
        ServerConfig::new(Some(url), SignUp::Open),
        &[
            ("AREA_SPOTIFY_CLIENT_ID", "area-client"),
            ("AREA_SPOTIFY_CLIENT_SECRET", "area-secret"),
            ("AREA_SPOTIFY_AUTH_URL", "https://accounts.example.test/authorize"),
            ("AREA_SPOTIFY_TOKEN_URL", &token_url),
        ],
    )
    .await;
    let ada = server.sign_up("ada@example.com").await;
    let bob = server.sign_up("bob@example.com").await;

    let begun =
        server.call(As::Page(&ada), Method::POST, "/api/oauth/begin", Some(json!({ "service": "spotify" }))).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.body);
    let authorize = url::Url::parse(begun.body["url"].as_str().unwrap()).unwrap();
    assert_eq!(authorize.host_str(), Some("accounts.example.test"));
    let query: BTreeMap<String, String> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], "https://area.example.com/oauth/callback");
    assert_eq!((query["client_id"].as_str(), query["code_challenge_method"].as_str()), ("area-client", "S256"));
    let state = query["state"].clone();

    // The provider sends the browser back. Another account's browser cannot finish Ada's.
    let back = format!("/oauth/callback?code=the-code&state={state}");
    let foreign = server.call(As::CookieOnly(&bob), Method::GET, &back, None).await;
    assert_eq!(foreign.status, StatusCode::BAD_GATEWAY, "{}", foreign.body);
    assert!(foreign.body.as_str().unwrap().contains("another account began it"));
    let nobody = server.call(As::Nobody, Method::GET, &back, None).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);

    let done = server.call(As::CookieOnly(&ada), Method::GET, &back, None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers["location"], "/");
    let connections = server.call(As::Page(&ada), Method::GET, "/api/connections", None).await;
    assert_eq!(connections.body[0]["connection_id"], "spotify", "{}", connections.body);
    assert_eq!(connections.body[0]["kind"], "oauth2");
    let bobs = server.call(As::Page(&bob), Method::GET, "/api/connections", None).await;
    assert_eq!(bobs.body, json!([]));

    let replay = server.call(As::CookieOnly(&ada), Method::GET, &back, None).await;
    assert_eq!(replay.status, StatusCode::BAD_GATEWAY, "an authorization finishes once");
    let crafted = server
        .call(
            As::CookieOnly(&ada),
            Method::GET,
            "/oauth/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=x",
            None,
        )
        .await;
    let page = crafted.body.as_str().unwrap();
    assert!(!page.contains("<script>") && crafted.headers["content-security-policy"] == "default-src 'none'", "{page}");
}

#[tokio::test]
async fn a_server_without_a_public_address_says_what_oauth_needs() {
    let server = serve_with_settings(
        ServerConfig::new(None, SignUp::Open),
        &[("AREA_SPOTIFY_CLIENT_ID", "area-client"), ("AREA_SPOTIFY_CLIENT_SECRET", "s")],
    )
    .await;
    let ada = server.sign_up("ada@example.com").await;
    let begun =
        server.call(As::Page(&ada), Method::POST, "/api/oauth/begin", Some(json!({ "service": "spotify" }))).await;
    assert_eq!(begun.body["code"], "settings", "{}", begun.body);
    assert!(begun.body["message"].as_str().unwrap().contains("--public-url"));
}

#[tokio::test]
async fn the_server_speaks_https_from_a_certificate_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.key_pair.serialize_pem()).unwrap();
    let tls = area_core::engine::tls::load(&cert, &key).unwrap();

    let app = App::open_without_engine(Startup::new(dir.path().join("data"), Settings::empty()), Arc::new(Quiet))
        .await
        .unwrap();
    let routes = router(app.clone(), ServerConfig::new(None, SignUp::Open));
    let addr = app.serve_with(Some("127.0.0.1:0".parse().unwrap()), Some(routes), Some(tls)).await.unwrap().unwrap();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(issued.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let about = trusting.get(format!("https://localhost:{}/about.json", addr.port())).send().await.unwrap();
    assert_eq!(about.status(), StatusCode::OK);
    let signed_up = trusting
        .post(format!("https://localhost:{}/api/signup", addr.port()))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), StatusCode::CREATED);

    let plain = reqwest::get(format!("http://127.0.0.1:{}/about.json", addr.port())).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain http is not served on a TLS port");
    let untrusting = reqwest::get(format!("https://localhost:{}/about.json", addr.port())).await;
    assert!(untrusting.is_err(), "a client that does not trust the certificate is refused");

    std::fs::write(&key, "not a key").unwrap();
    let error = area_core::engine::tls::load(&cert, &key).unwrap_err().to_string();
    assert!(error.contains("key.pem") && error.contains("private key"), "{error}");
    app.shutdown().await;
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_generated_whole_and_every_operation_in_it_is_routed() {
    let server = open_server().await;
    let doc = server.call(As::Nobody, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.body;
    assert_eq!(doc["openapi"], "3.0.3");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in ["AreaForm", "AreaCard", "AreaView", "RunRecord", "ConnectionInfo", "Condition", "Error"] {
        assert!(
            schemas.contains_key(name),
            "{name} missing from the schemas: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20);
    for r in &all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r} is not a local schema"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    // The form's fields as the server reads them (schemars reads the serde attributes).
    let form = &schemas["AreaForm"]["properties"];
    for field in ["name", "action", "reactions", "condition", "enabled", "interval_secs", "allow_private_network"] {
        assert!(form.get(field).is_some(), "AreaForm lacks {field}: {form}");
    }

    let page = server.sign_up("ada@example.com").await;
    let operations = area_server::openapi::operations();
    assert!(operations.len() >= 24, "{}", operations.len());
    for op in operations.iter().filter(|op| op.path != "/api/logout") {
        let path = op.path.replace("{id}", "424242").replace("{service}", "rss");
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let body = (op.method != "get" && op.method != "delete").then(|| json!({}));
        let answer = server.call(As::Page(&page), method, &path, body).await;
        let unrouted = answer.status == StatusCode::METHOD_NOT_ALLOWED
            || answer.body["message"].as_str().is_some_and(|m| m.starts_with("no route"));
        assert!(!unrouted, "{} {} is documented but not routed: {}", op.method, op.path, answer.status);
        assert!(!answer.status.is_server_error(), "{} {path}: {} {}", op.method, answer.status, answer.body);
    }
    assert!(operations.iter().any(|op| op.path == "/api/logout"));
    let out = server.call(As::Page(&page), Method::POST, "/api/logout", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "signing out, checked last");
}

#[tokio::test]
async fn a_run_limit_out_of_range_is_refused_on_its_field() {
    let server = open_server().await;
    let page = server.sign_up("ada@example.com").await;
    for path in ["/api/runs?limit=0", "/api/runs?limit=10001", "/api/areas/1/runs?limit=0"] {
        let answer = server.call(As::Page(&page), Method::GET, path, None).await;
        assert_eq!(
            (answer.status, answer.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
            "{path}"
        );
    }
    let fine = server.call(As::Page(&page), Method::GET, "/api/runs?limit=10000", None).await;
    assert_eq!(fine.status, StatusCode::OK);
}

/// A fake GitHub: its token endpoint (checking the code, verifier and redirect URI it gets) and
/// its `/user` API answering for the token it issued.
async fn fake_github(subject: i64, email: &str) -> wiremock::MockServer {
    use wiremock::matchers::{body_string_contains, header, method, path};
    let github = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(body_string_contains("code=gh-code"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains("redirect_uri=https%3A%2F%2Farea.example.com%2Foauth%2Fcallback"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gh-access", "token_type": "bearer", "scope": "read:user,user:email"
        })))
        .mount(&github)
        .await;
    wiremock::Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", "Bearer gh-access"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({ "id": subject, "login": "octo", "email": email })),
        )
        .mount(&github)
        .await;
    github
}

async fn github_server(github: &wiremock::MockServer, sign_up: SignUp) -> Server {
    let token_url = format!("{}/login/oauth/access_token", github.uri());
    let url = url::Url::parse("https://area.example.com").unwrap();
    serve_with_settings(
        ServerConfig::new(Some(url), sign_up),
        &[
            ("AREA_GITHUB_CLIENT_ID", "area-client"),
            ("AREA_GITHUB_CLIENT_SECRET", "area-secret"),
            ("AREA_GITHUB_TOKEN_URL", &token_url),
            ("AREA_GITHUB_BASE_URL", &github.uri()),
        ],
    )
    .await
}

/// Begins a sign-in with GitHub and comes back from it as the provider would send the browser.
async fn sign_in_with_github(server: &Server, who: As<'_>, invite: Option<&str>) -> Answer {
    let begun = server
        .call(As::Nobody, Method::POST, "/api/signin/begin", Some(json!({ "provider": "github", "invite": invite })))
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.body);
    let authorize = url::Url::parse(begun.body["url"].as_str().unwrap()).unwrap();
    let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    server.call(who, Method::GET, &format!("/oauth/callback?code=gh-code&state={state}"), None).await
}

#[tokio::test]
async fn signing_in_with_github_on_a_server_opens_a_session_and_obeys_the_sign_up_policy() {
    let github = fake_github(4242, "octo@example.com").await;
    let closed = github_server(&github, SignUp::Closed).await;
    closed.sign_up("admin@example.com").await;
    let refused = sign_in_with_github(&closed, As::Nobody, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a new identity on a closed server: {}", refused.body);
    assert!(refused.headers.get("set-cookie").is_none());
    let users = closed.app.accounts().await.unwrap();
    assert_eq!(users.len(), 1, "no account was created");

    let open = github_server(&github, SignUp::Open).await;
    open.sign_up("admin@example.com").await;
    let back = sign_in_with_github(&open, As::Nobody, None).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.headers["location"], "/");
    let cookie = set_cookie(&back);
    assert!(cookie.contains("HttpOnly") && cookie.contains("; Secure"), "{cookie}");
    let page = Browser { cookie: cookie.split(';').next().unwrap().to_owned(), csrf: String::new() };
    let me = open.call(As::CookieOnly(&page), Method::GET, "/api/session", None).await;
    assert_eq!(me.body["user"]["email"], "octo@example.com");
    let again = sign_in_with_github(&open, As::Nobody, None).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(open.app.accounts().await.unwrap().len(), 2, "the same identity signs into the same account");

    let invited = github_server(&github, SignUp::Invite).await;
    let admin = invited.sign_up("admin@example.com").await;
    let code = invited.call(As::Page(&admin), Method::POST, "/api/invites", None).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sign_in_with_github(&invited, As::Nobody, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(sign_in_with_github(&invited, As::Nobody, Some(&code)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(invited.app.accounts().await.unwrap().len(), 2);
}
