//! One end-to-end test per connector through the real engine (`Engine::run_once`): a fake
//! upstream (wiremock) serving the provider's documented answer shape, the service's base URL
//! variable pointed at it, the credential stored as a connection, and an area
//! "action → notify.send" whose title renders an ingredient. Each test polls three times:
//! (1) the baseline fires nothing, (2) one new item (or a threshold crossing) fires exactly one
//! notification, (3) the same answer again fires nothing more.
//!
//! `AREA_<SERVICE>_BASE_URL` variables are process-global and the tests of this binary run in
//! parallel: each test sets the variable of its own service only, and no other test here touches
//! it.

mod support;

use std::sync::{Arc, Mutex};

use area_core::connections::{Connections, MasterKey, Secret};
use area_core::engine::Engine;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Far in the future (2100-01-01), so the engine never tries to renew an OAuth2 token.
const FAR_FUTURE: i64 = 4_102_444_800;

fn connections(env: &Env) -> Connections {
    Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    )
}

async fn save_api_key(env: &Env, connection_id: &str, key: &str) {
    connections(env)
        .save(env.user_id, connection_id, &Secret::ApiKey { key: key.into() }, None, Some(FAR_FUTURE))
        .await
        .unwrap();
}

async fn save_google_token(env: &Env, access_token: &str) {
    let secret = Secret::Oauth2 { access_token: access_token.into(), refresh_token: None, scope: None, account: None };
    connections(env).save(env.user_id, "google", &secret, None, Some(FAR_FUTURE)).await.unwrap();
}

/// A 200 JSON answer the test swaps between polls.
#[derive(Clone)]
struct Answer(Arc<Mutex<Value>>);

impl Answer {
    fn new() -> Answer {
        Answer(Arc::new(Mutex::new(Value::Null)))
    }

    fn set(&self, body: Value) {
        *self.0.lock().unwrap() = body;
    }
}

impl Respond for Answer {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(self.0.lock().unwrap().clone())
    }
}

/// One `run --once`, which must report no error.
async fn run(env: &Env, settings: &Settings, recorder: &Arc<RecordingNotifier>) {
    let report = Engine::run_once(&env.store, config_with(true, settings), recorder.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

/// The three polls: `baseline`, then `fresh` twice. Returns the notifications shown (title,
/// body) after checking exactly one was, that the area is healthy with one succeeded run, and
/// that the upstream was asked once per poll.
async fn three_polls(
    env: &Env,
    settings: &Settings,
    area: i64,
    server: &MockServer,
    answer: &Answer,
    baseline: Value,
    fresh: Value,
) -> Vec<(String, String)> {
    let recorder = RecordingNotifier::new();
    answer.set(baseline);
    run(env, settings, &recorder).await;
    assert_eq!(recorder.count(), 0, "the first poll is a baseline");
    let state = env.state(area).await;
    assert!(state.baselined, "{state:?}");
    assert_eq!(state.last_error, None);

    answer.set(fresh.clone());
    run(env, settings, &recorder).await;
    assert_eq!(recorder.count(), 1, "{:?}", recorder.shown.lock().unwrap());

    answer.set(fresh);
    run(env, settings, &recorder).await;
    assert_eq!(recorder.count(), 1, "the same answer again fires nothing: {:?}", recorder.shown.lock().unwrap());

    let state = env.state(area).await;
    assert_eq!((state.last_error, state.consecutive_failures, state.paused_reason), (None, 0, None));
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    assert_eq!(received_count(server).await, 3, "one request per poll");
    let shown = recorder.shown.lock().unwrap().clone();
    shown
}

/// Every request the upstream received carried this header value.
async fn all_had_header(server: &MockServer, name: &str, value: &str) {
    for request in received(server).await {
        let got = request.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(got, Some(value), "{name} of {}", request.url);
    }
}

fn notify(title: &str) -> Value {
    json!({"service": "notify", "id": "send", "params": {"title": title, "body": "{{ url }}"}})
}

// ---------------------------------------------------------------------------------------------
// Google (one `google` OAuth2 connection)

#[tokio::test]
async fn gmail_new_mail_end_to_end() {
    let env = Env::new().await;
    save_google_token(&env, "ya29.gmail-token").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_GMAIL_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .and(query_param("q", "in:inbox is:unread"))
        .and(query_param("maxResults", "20"))
        .and(header("authorization", "Bearer ya29.gmail-token"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "mail",
            "action": {"service": "gmail", "id": "new_mail", "params": {"query": "in:inbox is:unread"}},
            "reactions": [notify("Mail {{ id }} in {{ thread_id }}")]
        })))
        .await;
    let old = json!({"id": "18c2f5a9e0b4d7c1", "threadId": "18c2f5a9e0b4d7c0", "labelIds": ["INBOX", "UNREAD"]});
    let new = json!({"id": "18c2f5a9e0b4d7c9", "threadId": "18c2f5a9e0b4d7c0", "labelIds": ["INBOX", "UNREAD"]});
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        json!({"messages": [old], "resultSizeEstimate": 1}),
        json!({"messages": [new, old], "nextPageToken": "0987", "resultSizeEstimate": 2}),
    )
    .await;
    assert_eq!(
        shown,
        [(
            "Mail 18c2f5a9e0b4d7c9 in 18c2f5a9e0b4d7c0".to_string(),
            "https://mail.google.com/mail/u/0/#inbox/18c2f5a9e0b4d7c9".to_string()
        )]
    );
    all_had_header(&server, "authorization", "Bearer ya29.gmail-token").await;
}

fn drive_file(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "mimeType": "application/pdf",
        "webViewLink": format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
        "createdTime": "2026-03-14T09:26:53.589Z",
        "owners": [{"displayName": "Zoé Martin", "kind": "drive#user", "me": true, "emailAddress": "zoe@example.com"}],
        "size": "12345"
    })
}

#[tokio::test]
async fn google_drive_new_file_end_to_end() {
    let env = Env::new().await;
    save_google_token(&env, "ya29.drive-token").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_GOOGLE_DRIVE_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(query_param("q", "'1FolderXyZ' in parents and trashed=false"))
        .and(query_param("orderBy", "createdTime desc"))
        .and(header("authorization", "Bearer ya29.drive-token"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "drive",
            "action": {"service": "google_drive", "id": "new_file",
                       "params": {"folder_id": "https://drive.google.com/drive/folders/1FolderXyZ?usp=sharing"}},
            "reactions": [notify("{{ name }} by {{ owner }}")]
        })))
        .await;
    let old = drive_file("1oldFile", "Budget");
    let new = drive_file("1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ", "Facture mars — été 2026.pdf");
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        json!({"kind": "drive#fileList", "incompleteSearch": false, "files": [old]}),
        json!({"kind": "drive#fileList", "incompleteSearch": false, "files": [new, old]}),
    )
    .await;
    assert_eq!(
        shown,
        [(
            "Facture mars — été 2026.pdf by Zoé Martin".to_string(),
            "https://drive.google.com/file/d/1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ/view?usp=drivesdk".to_string()
        )]
    );
    all_had_header(&server, "authorization", "Bearer ya29.drive-token").await;
}

const CHANNEL: &str = "UCuAXFkgsw1L7xaCfnd5JJOw";

fn video(video_id: &str, title: &str) -> Value {
    json!({
        "kind": "youtube#playlistItem",
        "etag": "abc",
        "id": format!("VVV{video_id}"),
        "snippet": {
            "publishedAt": "2026-03-14T09:05:00Z",
            "channelId": CHANNEL,
            "title": title,
            "description": "Dans cet épisode…",
            "thumbnails": {
                "default": {"url": format!("https://i.ytimg.com/vi/{video_id}/default.jpg"), "width": 120, "height": 90},
                "high": {"url": format!("https://i.ytimg.com/vi/{video_id}/hqdefault.jpg"), "width": 480, "height": 360}
            },
            "channelTitle": "Café & Code",
            "playlistId": "UUuAXFkgsw1L7xaCfnd5JJOw",
            "position": 0,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
            "videoOwnerChannelTitle": "Café & Code",
            "videoOwnerChannelId": CHANNEL
        },
        "contentDetails": {"videoId": video_id, "videoPublishedAt": "2026-03-14T09:00:00Z"}
    })
}

#[tokio::test]
async fn youtube_new_video_end_to_end() {
    let env = Env::new().await;
    save_google_token(&env, "ya29.youtube-token").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_YOUTUBE_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/youtube/v3/playlistItems"))
        .and(query_param("playlistId", "UUuAXFkgsw1L7xaCfnd5JJOw"))
        .and(query_param("part", "snippet,contentDetails,status"))
        .and(header("authorization", "Bearer ya29.youtube-token"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "videos",
            "action": {"service": "youtube", "id": "new_video",
                       "params": {"channel_id": format!("https://www.youtube.com/channel/{CHANNEL}")}},
            "reactions": [notify("{{ channel_title }}: {{ title }}")]
        })))
        .await;
    let page = |items: Vec<Value>| {
        json!({"kind": "youtube#playlistItemListResponse", "etag": "e", "items": items,
               "pageInfo": {"totalResults": items.len(), "resultsPerPage": 20}})
    };
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        page(vec![video("oldVid_123", "Épisode 2")]),
        page(vec![video("dQw4w9WgXcQ", "Café & code — épisode 3"), video("oldVid_123", "Épisode 2")]),
    )
    .await;
    assert_eq!(
        shown,
        [(
            "Café & Code: Café & code — épisode 3".to_string(),
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ".to_string()
        )]
    );
    all_had_header(&server, "authorization", "Bearer ya29.youtube-token").await;
}

// ---------------------------------------------------------------------------------------------
// Keyless state triggers

fn bitcoin(price: f64, updated: i64) -> Value {
    json!({"bitcoin": {"usd": price, "usd_24h_change": 2.5, "usd_market_cap": 1.3e12, "last_updated_at": updated}})
}

#[tokio::test]
async fn coingecko_price_above_end_to_end() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_COINGECKO_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/simple/price"))
        .and(query_param("ids", "bitcoin"))
        .and(query_param("vs_currencies", "usd"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "btc",
            "action": {"service": "coingecko", "id": "price_above", "params": {"coin": "bitcoin", "threshold": 70000}},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ coin }} is at {{ price }} {{ currency }}"}}]
        })))
        .await;
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        bitcoin(69_500.25, 1_711_356_300),
        bitcoin(70_123.5, 1_711_356_360),
    )
    .await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, "bitcoin is at 70123.5 usd");
    // Keyless: no credential is sent.
    assert!(received(&server)
        .await
        .iter()
        .all(|r| r.headers.get("authorization").is_none() && r.headers.get("x-cg-demo-api-key").is_none()));
}

/// With a CoinGecko Demo key connected, the engine sends it on every poll in the documented
/// `x-cg-demo-api-key` header (docs.coingecko.com/v3.0.1/reference/authentication), never in the URL.
#[tokio::test]
async fn coingecko_demo_key_end_to_end() {
    let env = Env::new().await;
    save_api_key(&env, "coingecko", "CG-e2e-demo-key").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_COINGECKO_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/simple/price"))
        .and(header("x-cg-demo-api-key", "CG-e2e-demo-key"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "btc with a key",
            "action": {"service": "coingecko", "id": "price_above", "params": {"coin": "bitcoin", "threshold": 70000}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ coin }} at {{ price }}"}}]
        })))
        .await;
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        bitcoin(69_500.25, 1_711_356_300),
        bitcoin(70_123.5, 1_711_356_360),
    )
    .await;
    assert_eq!(shown.len(), 1);
    for request in received(&server).await {
        assert!(!request.url.as_str().contains("CG-e2e-demo-key"), "{}", request.url);
    }
}

fn forecast(time: &str, temperature: f64) -> Value {
    json!({
        "latitude": 48.86,
        "longitude": 2.3399997,
        "generationtime_ms": 0.0298,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 43.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                          "precipitation": "mm", "rain": "mm", "weather_code": "wmo code"},
        "current": {"time": time, "interval": 900, "temperature_2m": temperature,
                    "precipitation": 0.0, "rain": 0.0, "weather_code": 1}
    })
}

#[tokio::test]
async fn weather_temperature_above_end_to_end() {
    let env = Env::new().await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_WEATHER_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/v1/forecast"))
        .and(query_param("latitude", "48.8566"))
        .and(query_param("longitude", "2.3522"))
        .and(query_param("current", "temperature_2m,precipitation,rain,weather_code"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "warm",
            "action": {"service": "weather", "id": "temperature_above",
                       "params": {"latitude": 48.8566, "longitude": 2.3522, "threshold": 20}},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ temperature }} °C at {{ time }} ({{ conditions }})"}}]
        })))
        .await;
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        forecast("2026-11-28T10:45", 18.25),
        forecast("2026-11-28T11:00", 21.5),
    )
    .await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, "21.5 °C at 2026-11-28T11:00 (mainly clear)");
    assert!(received(&server).await.iter().all(|r| r.headers.get("authorization").is_none()));
}

// ---------------------------------------------------------------------------------------------
// API keys

fn apod(date: &str, title: &str) -> Value {
    json!({
        "copyright": "\nJuan Filas\n",
        "date": date,
        "explanation": "Sculpted by stellar winds and radiation, a magnificent interstellar dust cloud.",
        "hdurl": format!("https://apod.nasa.gov/apod/image/{date}_2400.jpg"),
        "media_type": "image",
        "service_version": "v1",
        "title": title,
        "url": format!("https://apod.nasa.gov/apod/image/{date}_1080.jpg"),
    })
}

#[tokio::test]
async fn nasa_new_apod_end_to_end() {
    let env = Env::new().await;
    save_api_key(&env, "nasa", "nasa-e2e-key").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_NASA_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/planetary/apod"))
        .and(header("x-api-key", "nasa-e2e-key"))
        .and(query_param("thumbs", "true"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "apod",
            "action": {"service": "nasa", "id": "new_apod", "params": {}},
            "reactions": [notify("{{ date }}: {{ title }} © {{ copyright }}")]
        })))
        .await;
    let shown = three_polls(
        &env,
        &settings,
        area,
        &server,
        &answer,
        apod("2024-03-24", "Yesterday's sky"),
        apod("2024-03-25", "The Horsehead Nebula 馬頭星雲"),
    )
    .await;
    assert_eq!(
        shown,
        [(
            "2024-03-25: The Horsehead Nebula 馬頭星雲 © Juan Filas".to_string(),
            "https://apod.nasa.gov/apod/image/2024-03-25_1080.jpg".to_string()
        )]
    );
    for request in received(&server).await {
        assert!(!request.url.query_pairs().any(|(k, _)| k == "api_key"), "never in the URL: {}", request.url);
    }
}

fn discord_message(id: &str, content: &str, username: &str) -> Value {
    json!({
        "type": 0, "tts": false, "timestamp": "2024-03-05T10:30:00.123000+00:00", "pinned": false,
        "mentions": [], "mention_roles": [], "mention_everyone": false, "id": id,
        "flags": 0, "embeds": [], "edited_timestamp": null, "content": content,
        "components": [], "channel_id": "1100000000000000000",
        "author": {"username": username, "public_flags": 0, "id": "80351110224678912", "global_name": "Ada L.",
                   "discriminator": "0", "avatar": null},
        "attachments": []
    })
}

#[tokio::test]
async fn discord_new_message_end_to_end() {
    let env = Env::new().await;
    save_api_key(&env, "discord", "bot-e2e-token").await;
    let server = MockServer::start().await;
    let settings = Settings::from_pairs([("AREA_DISCORD_BASE_URL", server.uri())]);
    let answer = Answer::new();
    Mock::given(method("GET"))
        .and(path("/api/v10/channels/1100000000000000000/messages"))
        .and(query_param("limit", "50"))
        .and(header("authorization", "Bot bot-e2e-token"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    let area = env
        .add(spec(json!({
            "name": "discord",
            "action": {"service": "discord", "id": "new_message",
                       "params": {"channel_id": "1100000000000000000", "guild_id": "900000000000000000"}},
            "reactions": [notify("{{ author }}: {{ content }}")]
        })))
        .await;
    let old = discord_message("1214500000000000001", "bonjour", "grace");
    let new = discord_message("1214500000000000004", "Salut 👋 — café ☕", "ada");
    // A bot's message arriving with the new one is skipped (include_bots is off).
    let mut bot = discord_message("1214500000000000003", "I am a bot", "areabot");
    bot["author"]["bot"] = json!(true);
    let shown = three_polls(&env, &settings, area, &server, &answer, json!([old]), json!([new, bot, old])).await;
    assert_eq!(
        shown,
        [(
            "ada: Salut 👋 — café ☕".to_string(),
            "https://discord.com/channels/900000000000000000/1100000000000000000/1214500000000000004".to_string()
        )]
    );
    all_had_header(&server, "authorization", "Bot bot-e2e-token").await;
}
