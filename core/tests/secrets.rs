//! Secret parameters (ARCHITECTURE.md "Trust rules": "Secrets are sealed"): an HTTP header value
//! and a Discord webhook URL are canaries that must reach the upstream yet never appear in the
//! database file, its WAL, the logs, the run history or an export.
//!
//! `AREA_DISCORD_BASE_URL` is process-global: this binary sets it once (to the one fake Discord
//! every test here shares), the pattern of `services_discord.rs`, because the Discord reaction
//! only posts to discord.com or to that override.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use area_core::areas::secrets::{self, SecretsNeeded};
use area_core::areas::AreaError;
use area_core::engine::Engine;
use serde_json::json;
use support::*;
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

static DISCORD: OnceCell<MockServer> = OnceCell::const_new();

/// The settings pointing the services at the fake server (none until it started).
static SETTINGS: std::sync::OnceLock<area_core::settings::Settings> = std::sync::OnceLock::new();

fn settings() -> area_core::settings::Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The shared fake Discord; `AREA_DISCORD_BASE_URL` points at it from the first call on.
async fn discord() -> &'static MockServer {
    DISCORD
        .get_or_init(|| async {
            let server = MockServer::start().await;
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([("AREA_DISCORD_BASE_URL", server.uri())]));
            server
        })
        .await
}

/// A fresh random string no other part of the system could produce by chance.
fn canary(what: &str) -> String {
    format!("canary{what}{:032x}", rand::random::<u128>())
}

/// Every log line written while it is the default subscriber of the current thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// The engine runs on this test's thread (current-thread runtime), so the thread-local
// subscriber sees every log line of the engine's tasks.
#[tokio::test(flavor = "current_thread")]
async fn canaries_reach_upstreams_but_never_the_db_wal_logs_history_or_export() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let header_canary = canary("header");
    let poll_canary = canary("poll");
    let token_canary = canary("token");
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let discord = discord().await;
    let hook_path = format!("/api/webhooks/1/{token_canary}");
    // 500 first (retried), then 404: both bodies echo the path, as some servers do.
    Mock::given(method("POST"))
        .and(path(hook_path.as_str()))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("upstream failed for {hook_path}")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(discord)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path.as_str()))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": format!("Unknown Webhook {hook_path}"), "code": 10015})),
        )
        .with_priority(2)
        .mount(discord)
        .await;

    let header_area = env
        .add(spec(json!({
            "name": "canary header",
            "action": {"service": "http", "id": "new_json_items",
                       "params": {"url": feed_url, "items_path": "items", "id_field": "id",
                                  "headers": {"X-Poll-Canary": poll_canary}}},
            "reactions": [{"service": "http", "id": "request",
                           "params": {"method": "POST", "url": sink_url, "headers": {"X-Canary": header_canary},
                                      "body": "{\"title\": \"{{ title }}\"}"}}],
        })))
        .await;
    let webhook_url = format!("{}{hook_path}", discord.uri());
    let discord_area = env
        .add(spec(json!({
            "name": "canary webhook",
            "action": {"service": "http", "id": "new_json_items",
                       "params": {"url": feed_url, "items_path": "items", "id_field": "id"}},
            "reactions": [{"service": "discord", "id": "send_webhook",
                           "params": {"webhook_url": webhook_url, "content": "{{ title }}"}}],
        })))
        .await;

    Engine::run_once(&env.store, config_with(true, &settings()), notifier.clone()).await.expect("baseline");
    feed.set(items(&[1, 2]));
    Engine::run_once(&env.store, config_with(true, &settings()), notifier.clone()).await.expect("first delivery");
    assert_eq!(env.statuses(discord_area).await, ["queued"], "a 500 is retried");
    sqlx::query("UPDATE runs SET next_attempt_at = 0 WHERE status = 'queued'").execute(env.store.pool()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings()), notifier.clone()).await.expect("retry");

    // The reactions received the real values.
    let delivered = received(&sink_server).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].headers.get("x-canary").and_then(|v| v.to_str().ok()), Some(header_canary.as_str()));
    let feed_requests = received(&feed_server).await;
    assert!(
        feed_requests
            .iter()
            .any(|r| r.headers.get("x-poll-canary").and_then(|v| v.to_str().ok()) == Some(&poll_canary)),
        "the poll sent its sealed header"
    );
    let hook_hits = received(discord).await.into_iter().filter(|r| r.url.path() == hook_path).count();
    assert_eq!(hook_hits, 2, "the webhook URL with its token was used twice (500, then 404)");
    assert_eq!(env.statuses(header_area).await, ["succeeded"]);
    assert_eq!(env.statuses(discord_area).await, ["failed"]);

    // History: errors are there, with origins only.
    let history = serde_json::to_string(&env.all_runs().await).unwrap();
    assert!(history.contains("HTTP 404") || history.contains("not found"), "{history}");
    let state = env.state(discord_area).await;
    let area_error = state.last_error.clone().unwrap_or_default();

    // Exports carry placeholders.
    let mut exports = String::new();
    for id in [header_area, discord_area] {
        exports.push_str(&serde_json::to_string_pretty(&env.areas.export(env.user_id, id).await.unwrap()).unwrap());
    }
    assert!(exports.contains("<secret: webhook_url>"), "{exports}");
    assert!(exports.contains("<secret: headers.X-Canary>"), "{exports}");
    let shown = serde_json::to_string(&env.areas.get(env.user_id, discord_area).await.unwrap()).unwrap();

    let log_text = logs.text();
    assert!(log_text.contains("run failed"), "the test subscriber captured the engine's logs:\n{log_text}");
    let (db, wal) = if support::backend::on_postgres() {
        // The server's files are its own: every row of every table, as text, stands for them.
        (database_rows(&env).await, Vec::new())
    } else {
        let db = std::fs::read(env.store.dir().join("area.db")).unwrap();
        let wal = std::fs::read(env.store.dir().join("area.db-wal")).unwrap_or_default();
        assert!(!wal.is_empty(), "the WAL still holds the recent writes");
        (db, wal)
    };
    for secret in [&header_canary, &token_canary, &poll_canary] {
        assert!(!contains(&db, secret), "{secret} in the database file");
        assert!(!contains(&wal, secret), "{secret} in the WAL");
        assert!(!log_text.contains(secret.as_str()), "{secret} in the logs:\n{log_text}");
        assert!(!history.contains(secret.as_str()), "{secret} in the history: {history}");
        assert!(!area_error.contains(secret.as_str()), "{secret} in the area's last error: {area_error}");
        assert!(!exports.contains(secret.as_str()), "{secret} in an export: {exports}");
        assert!(!shown.contains(secret.as_str()), "{secret} in `areas show`: {shown}");
    }
}

/// Every row of every table of a PostgreSQL store, as text.
async fn database_rows(env: &Env) -> Vec<u8> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_all(env.store.pool())
            .await
            .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM {table} t");
        let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(env.store.pool()).await.unwrap();
        rows.extend_from_slice(text.as_bytes());
    }
    assert!(!rows.is_empty(), "the database holds the areas");
    rows
}

/// An export re-imports only once its secrets are given again; given, they are sealed and used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_an_export_asks_for_each_secret() {
    let env = Env::new().await;
    let (sink_server, sink_url) = sink(200).await;
    let token = canary("token");
    let discord = discord().await;
    let hook_path = format!("/api/webhooks/2/{token}");
    Mock::given(method("POST"))
        .and(path(hook_path.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "42"})))
        .mount(discord)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/sink$"))
        .and(header("authorization", "Bearer imported"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&sink_server)
        .await;
    let original = spec(json!({
        "name": "two secrets",
        "action": {"service": "webhook", "id": "received", "params": {}},
        "reactions": [
            {"service": "http", "id": "request",
             "params": {"url": sink_url, "headers": {"Authorization": "Bearer original"}, "body": "x"}},
            {"service": "discord", "id": "send_webhook",
             "params": {"webhook_url": format!("{}{hook_path}", discord.uri()), "content": "hi"}},
        ],
    }));
    let id = env.add(original).await;
    let exported = env.areas.export(env.user_id, id).await.unwrap();

    let catalog = env.areas.catalog().clone();
    let fields: Vec<String> = secrets::missing(&catalog, &exported).into_iter().map(|f| f.path).collect();
    assert_eq!(fields, ["reactions[0].params.headers.Authorization", "reactions[1].params.webhook_url"]);
    match env.areas.add(env.user_id, exported.clone()).await {
        Err(AreaError::SecretsNeeded(SecretsNeeded(needed))) => {
            assert_eq!(needed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), fields);
        }
        other => panic!("expected the secrets to be asked for, got {other:?}"),
    }

    let mut filled = exported.clone();
    let given = [("reactions[0].params.headers.Authorization", "Bearer imported".to_string())];
    let hook = format!("{}{hook_path}", discord.uri());
    secrets::fill(&catalog, &mut filled, |field| {
        Ok::<_, ()>(match field.path.as_str() {
            "reactions[1].params.webhook_url" => hook.clone(),
            other => given.iter().find(|(p, _)| *p == other).map(|(_, v)| v.clone()).unwrap_or_default(),
        })
    })
    .unwrap();
    assert!(secrets::missing(&catalog, &filled).is_empty());
    let copy = env.add(filled).await;
    assert_eq!(env.areas.export(env.user_id, copy).await.unwrap(), exported, "the copy exports like the original");

    // The sealed values are what the engine uses: a webhook event reaches both upstreams.
    let config = area_core::engine::EngineConfig {
        webhook_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..support::config_with(true, &settings())
    };
    env.areas.remove(env.user_id, id).await.unwrap();
    let engine = Engine::start(&env.store, config, RecordingNotifier::new()).await.unwrap();
    let detail = env.areas.get(env.user_id, copy).await.unwrap();
    let token_path = detail.webhook_token.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let status = post_webhook(addr, &token_path).await;
    assert_eq!(status, 202);
    wait_for("both reactions delivered", std::time::Duration::from_secs(10), || async {
        env.statuses(copy).await == ["succeeded"]
    })
    .await;
    engine.shutdown().await;
    assert_eq!(received(&sink_server).await.len(), 1);
}

/// POSTs `{}` to the webhook listener and returns the status code.
async fn post_webhook(addr: std::net::SocketAddr, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /hooks/{token} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Editing through the app's form keeps a secret the user left as its placeholder, and takes a
/// new value when one is typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_leaving_the_placeholder_keeps_the_sealed_value() {
    let env = Env::new().await;
    let catalog = env.areas.catalog().clone();
    let id = env
        .add(spec(json!({
            "name": "hook",
            "action": {"service": "webhook", "id": "received", "params": {}},
            "reactions": [{"service": "http", "id": "request",
                           "params": {"url": "https://example.com/in", "headers": {"X-Key": "first"}, "body": "b"}}],
        })))
        .await;
    let shown = env.areas.get(env.user_id, id).await.unwrap().spec;
    assert_eq!(shown.reactions[0].params["headers"], json!({"X-Key": "<secret: headers.X-Key>"}));
    let mut edit = shown.clone();
    edit.name = "renamed".into();
    env.areas.update(env.user_id, id, edit).await.expect("placeholders keep the sealed values");
    let clear = env.areas.unsealed(env.user_id, id).await.unwrap();
    assert_eq!(clear.reactions[0].params["headers"], json!({"X-Key": "first"}));
    assert_eq!(clear.name, "renamed");

    let mut edit = shown.clone();
    edit.reactions[0].params["headers"] = json!({"X-Key": "second", "X-Other": "<secret: headers.X-Other>"});
    match env.areas.update(env.user_id, id, edit).await {
        Err(AreaError::SecretsNeeded(SecretsNeeded(fields))) => {
            assert_eq!(fields[0].path, "reactions[0].params.headers.X-Other")
        }
        other => panic!("a placeholder with no stored value must be asked for, got {other:?}"),
    }
    let mut edit = shown;
    edit.reactions[0].params["headers"] = json!({"X-Key": "second"});
    env.areas.update(env.user_id, id, edit).await.unwrap();
    let clear = env.areas.unsealed(env.user_id, id).await.unwrap();
    assert_eq!(clear.reactions[0].params["headers"], json!({"X-Key": "second"}));
    assert!(secrets::missing(&catalog, &clear).is_empty());
}

/// An area saved before secrets were sealed (its definition in clear) is sealed at the next
/// open, and the clear text is gone from the database file and its WAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stored_in_clear_by_an_older_version_are_sealed() {
    let env = Env::new().await;
    let secret = canary("legacy");
    let clear = spec(json!({
        "name": "old",
        "action": {"service": "webhook", "id": "received", "params": {}},
        "reactions": [{"service": "http", "id": "request",
                       "params": {"url": "https://example.com/in", "headers": {"X-Key": secret}, "body": "b"}}],
    }));
    let id = env.add(clear.clone()).await;
    sqlx::query("UPDATE areas SET definition = $1 WHERE id = $2")
        .bind(serde_json::to_string(&clear).unwrap())
        .bind(id)
        .execute(env.store.pool())
        .await
        .unwrap();
    assert_eq!(env.areas.seal_clear_secrets().await.unwrap(), 1);
    assert_eq!(env.areas.seal_clear_secrets().await.unwrap(), 0, "nothing left to seal");
    assert_eq!(env.areas.unsealed(env.user_id, id).await.unwrap().reactions[0].params["headers"]["X-Key"], secret);
    for name in ["area.db", "area.db-wal"] {
        let bytes = std::fs::read(env.store.dir().join(name)).unwrap_or_default();
        assert!(!contains(&bytes, &secret), "{secret} still in {name}");
    }
}
