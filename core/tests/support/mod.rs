//! Shared fixtures for the engine tests: a temporary store with one user, area builders, a
//! scriptable JSON feed and a request sink (wiremock on 127.0.0.1), a recording notifier,
//! hostile raw-TCP upstreams and small polling helpers.

#![allow(dead_code)]

pub mod private_bus;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use area_core::accounts::{Accounts, PasswordHasher};
use area_core::areas::{parse_area_value, AreaSpec, Areas};
use area_core::connector::Notifier;
use area_core::engine::history::{list_runs, RunRecord};
use area_core::engine::EngineConfig;
use area_core::net::NetConfig;
use area_core::store::Store;
use serde_json::{json, Value};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[path = "../backend/mod.rs"]
pub mod backend;

/// A temporary data directory with an open store (on the back end under test), the areas API
/// and one registered user.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub database: area_core::store::Database,
    pub store: Store,
    pub areas: Areas,
    pub user_id: i64,
}

impl Env {
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = backend::fresh_database().await;
        let store = Store::open_with(&dir.path().join("data"), &database).await.expect("open store");
        let hasher = PasswordHasher::new(argon2::Params::new(256, 1, 1, None).expect("valid params"));
        let accounts = Accounts::new(store.clone()).with_hasher(hasher);
        let user = accounts.register("ada@example.com", "correct horse").await.expect("register");
        let areas = Areas::new(store.clone(), area_core::services::catalog(&area_core::settings::Settings::from_env()));
        Env { dir, database, store, areas, user_id: user.id }
    }

    /// Closes the store and opens it again on the same directory (a process restart).
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = Store::open_with(&self.dir.path().join("data"), &self.database).await.expect("reopen store");
        self.areas =
            Areas::new(self.store.clone(), area_core::services::catalog(&area_core::settings::Settings::from_env()));
    }

    /// Adds one area (validated by the areas API) and returns its id.
    pub async fn add(&self, spec: AreaSpec) -> i64 {
        self.areas.add(self.user_id, spec).await.expect("add area").id
    }

    /// Sets the poll interval below the service minimum (validation refuses that; the engine
    /// honours it with `ignore_min_interval`), and bumps `updated_at` so a running engine reloads.
    pub async fn set_interval(&self, area_id: i64, secs: i64) {
        sqlx::query("UPDATE areas SET interval_secs = $1, updated_at = updated_at + 1 WHERE id = $2")
            .bind(secs)
            .bind(area_id)
            .execute(self.store.pool())
            .await
            .unwrap();
    }

    pub async fn runs(&self, area_id: i64) -> Vec<RunRecord> {
        list_runs(self.store.pool(), self.user_id, Some(area_id), 10_000).await.unwrap()
    }

    pub async fn all_runs(&self) -> Vec<RunRecord> {
        list_runs(self.store.pool(), self.user_id, None, 10_000).await.unwrap()
    }

    /// Statuses of an area's runs, oldest first.
    pub async fn statuses(&self, area_id: i64) -> Vec<String> {
        let mut runs = self.runs(area_id).await;
        runs.reverse();
        runs.into_iter().map(|r| r.status).collect()
    }

    pub async fn count_runs(&self, area_id: i64, status: &str) -> usize {
        self.runs(area_id).await.iter().filter(|r| r.status == status).count()
    }

    /// Asserts that the area's newest run failed with an error saying `needle`.
    pub async fn assert_last_run_failed(&self, area_id: i64, needle: &str) {
        let runs = self.runs(area_id).await;
        let last = runs.first().expect("the area has a run");
        assert_eq!(last.status, "failed", "{last:?}");
        assert!(last.error.as_deref().unwrap_or("").contains(needle), "{needle:?} not in {:?}", last.error);
    }

    pub async fn seen_count(&self, area_id: i64) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM seen_events WHERE area_id = $1")
            .bind(area_id)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    pub async fn state(&self, area_id: i64) -> AreaState {
        let row = sqlx::query(
            "SELECT last_error, consecutive_failures, paused_reason, CAST(baselined AS INTEGER), cursor FROM areas WHERE id = $1",
        )
        .bind(area_id)
        .fetch_one(self.store.pool())
        .await
        .unwrap();
        AreaState {
            last_error: row.get(0),
            consecutive_failures: row.get(1),
            paused_reason: row.get(2),
            baselined: row.get::<i64, _>(3) != 0,
            cursor: row.get(4),
        }
    }
}

/// The engine-owned columns of an area.
#[derive(Debug, Clone)]
pub struct AreaState {
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub paused_reason: Option<String>,
    pub baselined: bool,
    pub cursor: Option<String>,
}

/// An area spec from JSON, through the public area-file parser.
pub fn spec(value: Value) -> AreaSpec {
    let mut specs = parse_area_value(&value).expect("valid area file");
    assert_eq!(specs.len(), 1);
    specs.remove(0)
}

/// One action or reaction step from JSON.
pub fn spec_step(value: Value) -> area_core::areas::StepSpec {
    serde_json::from_value(value).expect("valid step")
}

/// `http.request` reaction POSTing `{"title": …, "id": …}` to `url`.
pub fn post_reaction(url: &str) -> Value {
    json!({
        "service": "http",
        "id": "request",
        "params": {"method": "POST", "url": url, "body": "{\"title\": \"{{ title }}\", \"id\": \"{{ id }}\"}"}
    })
}

/// An `http.new_json_items` area over `feed_url` (items at `items`, id field `id`) reacting
/// with [`post_reaction`] to `sink_url`.
pub fn json_area(name: &str, feed_url: &str, sink_url: &str) -> AreaSpec {
    spec(json!({
        "name": name,
        "action": {"service": "http", "id": "new_json_items",
                   "params": {"url": feed_url, "items_path": "items", "id_field": "id"}},
        "reactions": [post_reaction(sink_url)],
    }))
}

/// A `webhook.received` area reacting with one reaction.
pub fn webhook_area(name: &str, reaction: Value) -> AreaSpec {
    spec(json!({
        "name": name,
        "action": {"service": "webhook", "id": "received", "params": {}},
        "reactions": [reaction],
    }))
}

/// Engine settings for tests: polls as often as areas say, reloads quickly, and may reach
/// loopback (the fake upstreams) when `allow_private`. The services are built from the
/// process's `AREA_*` variables (tests that need their own build [`config_with`]).
pub fn config(allow_private: bool) -> EngineConfig {
    config_with(allow_private, &area_core::settings::Settings::from_env())
}

/// [`config`] over services built with `settings` (base URLs of fake upstreams).
pub fn config_with(allow_private: bool, settings: &area_core::settings::Settings) -> EngineConfig {
    EngineConfig {
        ignore_min_interval: true,
        reload_every: Duration::from_millis(200),
        grace: Duration::from_secs(3),
        net: NetConfig { allow_private_network: allow_private, ..NetConfig::default() },
        ..EngineConfig::new(area_core::services::catalog(settings))
    }
}

/// Items `{"id": i, "title": "Item i", "uid": "u-i", "score": i}` for each `i`.
pub fn items(ids: &[u32]) -> Vec<Value> {
    ids.iter().map(|i| json!({"id": i, "title": format!("Item {i}"), "uid": format!("u-{i}"), "score": i})).collect()
}

/// A JSON feed whose items tests change at will: `{"items": [...]}`, with an ETag that changes
/// with the content and 304 answers to a matching `If-None-Match` (when `etag` is on).
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Mutex<FeedState>>,
}

struct FeedState {
    items: Vec<Value>,
    version: u64,
    etag: bool,
    raw: Option<(u16, Vec<u8>)>,
    delay: Duration,
}

impl Feed {
    pub fn new(items: Vec<Value>, etag: bool) -> Feed {
        Feed { inner: Arc::new(Mutex::new(FeedState { items, version: 1, etag, raw: None, delay: Duration::ZERO })) }
    }

    /// Serves these items (dropping any [`Feed::set_raw`] answer).
    pub fn set(&self, items: Vec<Value>) {
        let mut st = self.inner.lock().unwrap();
        st.items = items;
        st.raw = None;
        st.version += 1;
    }

    /// Serves this status and body instead of the items (same ETag rules).
    pub fn set_raw(&self, status: u16, body: impl Into<Vec<u8>>) {
        let mut st = self.inner.lock().unwrap();
        st.raw = Some((status, body.into()));
        st.version += 1;
    }

    /// Answers every request only after `delay` (a slow upstream).
    pub fn set_delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn etag(&self) -> String {
        format!("\"v{}\"", self.inner.lock().unwrap().version)
    }

    /// Serves the feed at `GET /path` on `server`.
    pub async fn mount(&self, server: &MockServer, at: &str) {
        Mock::given(method("GET")).and(path(at)).respond_with(self.clone()).mount(server).await;
    }
}

impl Respond for Feed {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let st = self.inner.lock().unwrap();
        let etag = format!("\"v{}\"", st.version);
        if st.etag {
            let inm = request.headers.get("if-none-match").and_then(|v| v.to_str().ok());
            if inm == Some(etag.as_str()) {
                return ResponseTemplate::new(304).insert_header("ETag", etag.as_str());
            }
        }
        let mut response = match &st.raw {
            Some((status, body)) => ResponseTemplate::new(*status).set_body_raw(body.clone(), "application/json"),
            None => ResponseTemplate::new(200).set_body_json(json!({"items": st.items})),
        };
        if st.etag {
            response = response.insert_header("ETag", etag.as_str());
        }
        response.set_delay(st.delay)
    }
}

/// A sink that answers every `POST /sink` with 200 after `delay`, and an http reaction posting
/// the event's `n` to it.
pub async fn slow_sink(delay: Duration) -> (MockServer, Value) {
    let sink_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sink"))
        .respond_with(ResponseTemplate::new(200).set_delay(delay))
        .mount(&sink_server)
        .await;
    let reaction = json!({"service": "http", "id": "request",
                          "params": {"url": format!("{}/sink", sink_server.uri()), "body": "{\"n\": \"{{ n }}\"}"}});
    (sink_server, reaction)
}

/// A wiremock server with a feed mounted at `/feed`; returns the feed and its URL.
pub async fn feed_server(items: Vec<Value>, etag: bool) -> (MockServer, Feed, String) {
    let server = MockServer::start().await;
    let feed = Feed::new(items, etag);
    feed.mount(&server, "/feed").await;
    let url = format!("{}/feed", server.uri());
    (server, feed, url)
}

/// A sink answering every `POST /sink` with `status`; returns the server and the sink URL.
pub async fn sink(status: u16) -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(status)).mount(&server).await;
    let url = format!("{}/sink", server.uri());
    (server, url)
}

/// Requests a wiremock server received.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("request recording is on")
}

pub async fn received_count(server: &MockServer) -> usize {
    received(server).await.len()
}

/// The `Idempotency-Key` header of a request.
pub fn idem_key(request: &Request) -> String {
    request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).expect("Idempotency-Key header").to_string()
}

pub fn body_json(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

/// A notifier that records what it was asked to show.
#[derive(Default)]
pub struct RecordingNotifier {
    pub shown: Mutex<Vec<(String, String)>>,
}

impl RecordingNotifier {
    pub fn new() -> Arc<RecordingNotifier> {
        Arc::new(RecordingNotifier::default())
    }

    pub fn count(&self) -> usize {
        self.shown.lock().unwrap().len()
    }
}

impl Notifier for RecordingNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        self.shown.lock().unwrap().push((title.to_string(), body.to_string()));
        Ok(())
    }
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server that accepts connections and never answers; counts connections.
pub async fn stalled_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, count)
}

/// A server answering 200 with a chunked JSON body that never ends.
pub async fn endless_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let piece = "{\"id\": 1, \"title\": \"again\"},".repeat(1000);
                let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                let _ = socket.write_all(b"6\r\n{\"a\":[\r\n").await;
                while socket.write_all(chunk.as_bytes()).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
    });
    (addr, count)
}
