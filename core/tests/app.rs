//! The app facade (`area_core::app`) as the desktop app uses it: sessions, areas from forms
//! (errors on their field), an in-process engine that fires webhook areas once and stops when an
//! area is switched off, re-running a failed run, dashboard cards with their fix, samples, pause
//! all, and OAuth2 connections finished by the loopback redirect and by an `area://` deep link.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use area_core::app::{App, AreaForm, ChangeKind, ErrorCode, FormStep, OAuthVia, Startup};
use area_core::condition::{Condition, Op};
use area_core::settings::Settings;
use serde_json::json;
use support::{received_count, wait_for, RecordingNotifier};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(15);

/// The settings every test runs with: an OS-chosen webhook port, plus `extra`.
fn settings(extra: &[(&str, String)]) -> Settings {
    let mut pairs = vec![("AREA_WEBHOOK_LISTEN".to_string(), "127.0.0.1:0".to_string())];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Settings::from_pairs(pairs)
}

async fn open_at(dir: &tempfile::TempDir, extra: &[(&str, String)]) -> App {
    let startup = Startup::new(dir.path().join("data"), settings(extra));
    App::open(startup, RecordingNotifier::new()).await.expect("open app")
}

async fn open() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = open_at(&dir, &[]).await;
    (dir, app)
}

async fn signed_in_with(extra: &[(&str, String)]) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = open_at(&dir, extra).await;
    app.sign_up("ada@example.com", "correct horse battery").await.expect("sign up");
    (dir, app)
}

async fn signed_in() -> (tempfile::TempDir, App) {
    signed_in_with(&[]).await
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn webhook_to(sink: &str) -> AreaForm {
    AreaForm {
        name: "Hook to sink".into(),
        action: FormStep { service: "webhook".into(), id: "received".into(), params: BTreeMap::new() },
        reactions: vec![FormStep {
            service: "http".into(),
            id: "request".into(),
            params: params(&[("url", sink), ("body", "{\"said\": \"{{ text }}\"}")]),
        }],
        condition: None,
        enabled: true,
        interval_secs: None,
        allow_private_network: true,
    }
}

/// Posts until the engine has loaded the new area (it reloads area edits every second).
async fn post_accepted(url: &str, key: &str, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while post_event(url, key, text).await >= 300 {
        assert!(std::time::Instant::now() < deadline, "the webhook never accepted the event");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_event(url: &str, key: &str, text: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("Idempotency-Key", key)
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("webhook answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn sessions_sign_up_in_and_out_with_clear_errors() {
    let (_dir, app) = open().await;
    assert_eq!(app.session_user().await.expect("no session"), None);
    let user = app.sign_up("ada@example.com", "correct horse battery").await.expect("sign up");
    assert_eq!(app.session_user().await.expect("session").map(|u| u.id), Some(user.id));
    app.sign_out().await.expect("sign out");
    assert_eq!(app.session_user().await.expect("signed out"), None);
    let wrong = app.sign_in("ada@example.com", "wrong password!").await.expect_err("wrong password");
    assert_eq!((wrong.code.as_str(), wrong.message.as_str()), ("auth", "wrong email or password"));
    let short = app.sign_up("bob@example.com", "short").await.expect_err("too short");
    assert_eq!((short.code.as_str(), short.field.as_deref()), ("invalid", Some("password")));
    let listed = app.area_cards().await.expect_err("areas need a session");
    assert_eq!(listed.code, "auth");
    app.sign_in("ada@example.com", "correct horse battery").await.expect("sign in");
    assert!(app.area_cards().await.expect("areas").is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_parameter_is_reported_on_its_field() {
    let (_dir, app) = signed_in().await;
    let mut form = webhook_to("not a url");
    let err = app.validate_area(form.clone()).expect_err("invalid URL");
    assert_eq!(err.code, "invalid");
    assert_eq!(err.field.as_deref(), Some("reactions[0].params.url"));
    let err = app.create_area(form.clone()).await.expect_err("create refuses too");
    assert_eq!(err.field.as_deref(), Some("reactions[0].params.url"));
    form.reactions[0].params.insert("url".into(), "http://127.0.0.1:9/sink".into());
    form.name = String::new();
    assert_eq!(app.validate_area(form).expect_err("no name").field.as_deref(), Some("name"));
    assert!(app.area_cards().await.expect("cards").is_empty(), "nothing was saved");
    app.shutdown().await;
}

/// Issue 11: the editor asks core instead of mirroring it — the ingredients an area reads
/// (core's template reader), the advanced condition's JSON (core's condition reader, errors on
/// `condition`), and each polled action's default interval (raised to its minimum).
#[tokio::test]
async fn the_editor_reads_ingredients_conditions_and_default_intervals_from_core() {
    let (_dir, app) = signed_in().await;
    let mut form = webhook_to("http://127.0.0.1:9/sink");
    form.reactions[0]
        .params
        .insert("body".into(), "{\"m\": \"{{ msg | upper }}\", \"t\": \"{{ issue.title }}\"}".into());
    form.condition = Some(Condition::compare("sender", Op::Equals, json!("ann")));
    let area = app.create_area(form).await.expect("create");
    let view = app.area(area.id).await.expect("area");
    assert_eq!(view.reads, ["issue", "msg", "sender"], "filters and paths reduce to the top-level name");

    let read = app.read_condition(r#"{"all": [{"ingredient": "a", "op": "equals", "value": "x"}]}"#).expect("reads");
    assert_eq!(
        serde_json::to_value(&read).expect("json"),
        json!({"all": [{"ingredient": "a", "op": "equals", "value": "x"}]})
    );
    let err = app.read_condition("{").expect_err("not JSON");
    assert_eq!(err.code, "invalid");
    assert_eq!(err.field.as_deref(), Some("condition"));
    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    let err = app.read_condition(r#"{"ingredient": "a", "op": "bigger", "value": 1}"#).expect_err("unknown operator");
    assert_eq!(err.field.as_deref(), Some("condition"), "{}", err.message);
    let err = app.read_condition(r#"{"ingredient": "a", "op": "matches", "value": "("}"#).expect_err("bad pattern");
    assert_eq!(err.field.as_deref(), Some("condition"), "{}", err.message);
    assert_eq!(app.read_condition(r#"{"all": []}"#).expect_err("empty list").field.as_deref(), Some("condition"));

    let services = app.services();
    let defaults = |id: &str| services.iter().find(|s| s.manifest.id == id).expect("listed").default_intervals.clone();
    let rss = defaults("rss");
    assert!(rss.iter().any(|d| d.action == "new_item" && d.secs == 300), "{rss:?}");
    assert!(defaults("webhook").is_empty(), "a pushed trigger does not poll");
    for service in &services {
        for d in &service.default_intervals {
            let min = service.manifest.actions.iter().find(|a| a.id == d.action).and_then(|a| a.min_interval_secs);
            // Postman's default also fits its monthly quota (see the Postman plan test).
            let expected = if service.manifest.id == "postman" { 2_592 } else { 300.max(min.unwrap_or(0)) };
            assert_eq!(d.secs, expected, "{}.{}", service.manifest.id, d.action);
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_webhook_area_fires_once_shows_in_activity_and_stops_when_off() {
    let (_dir, app) = signed_in().await;
    assert!(app.engine_status().running, "engine runs: {:?}", app.engine_status());
    let sink = MockServer::start().await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&sink).await;
    let area = app.create_area(webhook_to(&format!("{}/sink", sink.uri()))).await.expect("create");
    let view = app.area(area.id).await.expect("area");
    let url = view.detail.webhook_url.clone().expect("a webhook URL");
    assert!(url.starts_with(app.engine_status().webhook_base.as_deref().expect("listener")), "{url}");
    assert_eq!(view.form.reactions[0].params.get("url").map(String::as_str), Some(&*format!("{}/sink", sink.uri())));

    let mut events = app.subscribe();
    post_accepted(&url, "evt-1", "hello").await;
    assert!(post_event(&url, "evt-1", "hello").await < 300, "a repeat is accepted and ignored");
    wait_for("one delivery", WAIT, || async { received_count(&sink).await == 1 }).await;
    let body: serde_json::Value =
        serde_json::from_slice(&sink.received_requests().await.expect("recorded")[0].body).expect("JSON body");
    assert_eq!(body, json!({ "said": "hello" }));
    wait_for("a succeeded run", WAIT, || async {
        app.runs(None, 50).await.expect("runs").iter().any(|r| r.status == "succeeded")
    })
    .await;
    let cards = app.area_cards().await.expect("cards");
    assert_eq!(cards[0].last_run.as_ref().map(|r| r.status.as_str()), Some("succeeded"));
    assert_eq!(cards[0].next_check_at, None, "webhooks are pushed, not checked");
    // The engine's writes reach the UI as a change event (the watcher's own connection sees them).
    let heard = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(event) if event.kind == ChangeKind::Runs => return true,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(heard, Ok(true), "a runs change event was sent");

    app.set_area_enabled(area.id, false).await.expect("switch off");
    let status = post_event(&url, "evt-2", "again").await;
    assert!(status >= 400, "a switched-off area refuses events, got {status}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(received_count(&sink).await, 1, "nothing more fired");
    assert_eq!(app.runs(Some(area.id), 50).await.expect("runs").len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_run_can_be_re_run_after_the_fix() {
    let (_dir, app) = signed_in().await;
    let sink = MockServer::start().await;
    // The receiver first rejects the request (a permanent 400), then accepts it.
    Mock::given(method("POST"))
        .and(path("/sink"))
        .respond_with(ResponseTemplate::new(400))
        .up_to_n_times(1)
        .mount(&sink)
        .await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&sink).await;
    let area = app.create_area(webhook_to(&format!("{}/sink", sink.uri()))).await.expect("create");
    let url = app.area(area.id).await.expect("area").detail.webhook_url.expect("url");
    post_accepted(&url, "evt-1", "first").await;
    wait_for("a failed run", WAIT, || async {
        app.runs(Some(area.id), 10).await.expect("runs").first().is_some_and(|r| r.status == "failed")
    })
    .await;
    let run = app.runs(Some(area.id), 10).await.expect("runs").remove(0);
    assert!(run.error.as_deref().is_some_and(|e| e.contains("400")), "{:?}", run.error);
    let cards = app.area_cards().await.expect("cards");
    assert_eq!(cards[0].last_run.as_ref().map(|r| r.status.as_str()), Some("failed"));

    app.rerun(run.id).await.expect("re-run");
    wait_for("the re-run succeeded", WAIT, || async {
        app.runs(Some(area.id), 10).await.expect("runs").first().is_some_and(|r| r.status == "succeeded")
    })
    .await;
    assert_eq!(received_count(&sink).await, 2);
    let again = app.rerun(run.id).await.expect_err("a succeeded run is not re-run");
    assert_eq!(again.code, "conflict");
    assert_eq!(app.rerun(999_999).await.expect_err("unknown run").code, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn a_paused_area_offers_reconnect_and_the_sample_loads_real_items() {
    let (_dir, app) = signed_in().await;
    // GitHub needs a connection the user does not have: the engine pauses the area.
    let form = AreaForm {
        name: "Issues".into(),
        action: FormStep {
            service: "github".into(),
            id: "new_issue".into(),
            params: params(&[("repo", "octo/hello")]),
        },
        reactions: vec![FormStep {
            service: "notify".into(),
            id: "send".into(),
            params: params(&[("title", "{{ title }}"), ("body", "new issue")]),
        }],
        condition: None,
        enabled: true,
        interval_secs: None,
        allow_private_network: false,
    };
    if let Err(e) = app.validate_area(form.clone()) {
        panic!("the GitHub form is valid: {e:?}");
    }
    let area = app.create_area(form).await.expect("create");
    wait_for("the area is paused", WAIT, || async {
        app.area_cards().await.expect("cards").iter().any(|c| c.summary.id == area.id && c.fix.is_some())
    })
    .await;
    let card = app.area_cards().await.expect("cards").remove(0);
    let fix = card.fix.expect("a fix");
    assert_eq!(
        (fix.kind.as_str(), fix.service.as_deref(), fix.label.as_str()),
        ("reconnect", Some("github"), "Reconnect GitHub")
    );
    assert!(card.summary.paused_reason.is_some_and(|r| r.contains("github")));

    // A sample from a real (fake) feed: the first item's values.
    let feed = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", "application/rss+xml").set_body_string(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
               <item><title>Hello “world”</title><link>https://example.com/1</link><guid>1</guid></item>
               <item><title>Older</title><link>https://example.com/0</link><guid>0</guid></item></channel></rss>"#,
        ))
        .mount(&feed)
        .await;
    let sample = app
        .sample_event("rss", "new_item", params(&[("url", &format!("{}/feed.xml", feed.uri()))]), true)
        .await
        .expect("sample");
    assert_eq!(sample.items, 2);
    let title = sample.ingredients.iter().find(|i| i.id == "title").map(|i| i.value.as_str());
    assert_eq!(title, Some("Hello “world”"));
    let err = app.sample_event("rss", "new_item", params(&[("url", "nope")]), true).await.expect_err("bad url");
    assert_eq!(err.field.as_deref(), Some("action.params.url"));
    let services = app.services();
    let rss = services.iter().find(|s| s.manifest.id == "rss").expect("rss listed");
    assert_eq!(rss.sample_actions, vec!["new_item".to_string()]);
    let gmail = services.iter().find(|s| s.manifest.id == "gmail").expect("gmail listed");
    assert_eq!(gmail.connection_id.as_deref(), Some("google"));
    app.shutdown().await;
}

/// An action that reads public resources (an open ntfy topic) loads its sample without a
/// connection, as the engine polls it; one that needs its connection still asks for it.
#[tokio::test]
async fn a_public_topic_samples_without_a_connection() {
    let ntfy = MockServer::start().await;
    let line = json!({"id": "sPs71M8A2T", "time": 1_700_000_000, "event": "message", "topic": "phil_alerts", "message": "Disk full"});
    Mock::given(method("GET"))
        .and(path("/phil_alerts/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("{line}\n")))
        .mount(&ntfy)
        .await;
    let (_dir, app) = signed_in_with(&[("AREA_NTFY_BASE_URL", ntfy.uri())]).await;
    let sample =
        app.sample_event("ntfy", "new_message", params(&[("topic", "phil_alerts")]), true).await.expect("sample");
    let message = sample.ingredients.iter().find(|i| i.id == "message").map(|i| i.value.as_str());
    assert_eq!(message, Some("Disk full"));
    let requests = ntfy.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers.get("authorization").is_none(), "no connection, no token");
    let err =
        app.sample_event("github", "new_issue", params(&[("repo", "octo/hello")]), true).await.expect_err("needs one");
    assert_eq!(err.code, "connection");
    app.shutdown().await;
}

#[tokio::test]
async fn pause_all_stops_the_engine_and_survives_a_restart() {
    let (dir, app) = signed_in().await;
    assert!(app.engine_status().running);
    let status = app.set_paused(true).await.expect("pause");
    assert!(status.paused && !status.running);
    app.shutdown().await;
    let again = open_at(&dir, &[]).await;
    assert!(again.engine_status().paused && !again.engine_status().running, "still paused after a restart");
    assert!(again.session_user().await.expect("session").is_some(), "still signed in after a restart");
    let resumed = again.set_paused(false).await.expect("resume");
    assert!(resumed.running && !resumed.paused, "{resumed:?}");
    again.shutdown().await;
}

/// An `area daemon` runs its engine as told and does not follow "Pause all": a window beside it
/// says so instead of showing a pause that did not happen, and takes its marker back, so the
/// next tray does not start paused by surprise.
#[tokio::test]
async fn pause_all_from_a_window_beside_a_daemon_says_it_did_not_take() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let daemon = App::open_without_engine(Startup::new(data.clone(), settings(&[])), RecordingNotifier::new())
        .await
        .expect("open the daemon");
    daemon.serve(Some("127.0.0.1:0".parse().expect("addr"))).await.expect("the daemon serves");
    let window = App::open_beside_engine(Startup::new(data.clone(), settings(&[])), RecordingNotifier::new())
        .await
        .expect("open the window beside the daemon");
    assert!(window.engine_status().running, "{:?}", window.engine_status());

    let refused = window.set_paused(true).await.expect_err("a pause the daemon does not follow");
    assert_eq!(refused.code, ErrorCode::Engine, "{refused:?}");
    assert!(refused.message.contains("area daemon"), "says where the engine runs: {}", refused.message);
    assert!(!data.join("engine.paused").exists(), "the marker is taken back");
    assert!(daemon.engine_status().running && window.engine_status().running);
    window.close().await;
    daemon.close().await;
}

/// The tray app: the engine runs in the tray process and the window is a process beside it on
/// the same data. The window creates an area, the tray's engine fires it, the window hears of
/// the run; "Pause all" in the window stops the tray's engine and resuming starts it again; once
/// the tray is gone the window says so instead of "Running".
#[tokio::test]
async fn a_window_beside_the_tray_engine_sees_its_runs_and_pauses_it() {
    let (dir, tray) = signed_in().await;
    let window =
        App::open_beside_engine(Startup::new(dir.path().join("data"), settings(&[])), RecordingNotifier::new())
            .await
            .expect("open the window beside the engine");
    let status = window.engine_status();
    assert!(status.running && !status.paused && status.webhook_base.is_some(), "{status:?}");

    let sink = MockServer::start().await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&sink).await;
    let area = window.create_area(webhook_to(&format!("{}/sink", sink.uri()))).await.expect("create in the window");
    let url = window.area(area.id).await.expect("area").detail.webhook_url.expect("a webhook URL");
    let mut events = window.subscribe();
    post_accepted(&url, "evt-1", "hello").await;
    wait_for("the tray's engine delivers the run", WAIT, || async { received_count(&sink).await == 1 }).await;
    let heard = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(e) if e.kind == ChangeKind::Runs => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(heard, Ok(true), "the window heard of the tray's run");
    assert_eq!(window.runs(Some(area.id), 10).await.expect("runs").len(), 1);

    let paused = window.set_paused(true).await.expect("pause from the window");
    assert!(paused.paused && !paused.running, "{paused:?}");
    assert!(tray.engine_status().paused, "the tray's engine followed: {:?}", tray.engine_status());
    let refused = reqwest::Client::new().post(&url).json(&json!({ "text": "while paused" })).send().await;
    assert!(refused.is_err(), "the paused engine's listener is closed: {refused:?}");
    let resumed = window.set_paused(false).await.expect("resume from the window");
    assert!(resumed.running && !resumed.paused, "{resumed:?}");
    assert!(tray.engine_status().running, "the tray's engine started again: {:?}", tray.engine_status());

    // Switched off in the window: the tray's engine has applied it by the time the call returns.
    window.set_area_enabled(area.id, false).await.expect("switch off in the window");
    // (The restarted engine listens on a new OS-chosen port.)
    let url = window.area(area.id).await.expect("area").detail.webhook_url.expect("a webhook URL");
    let status = post_event(&url, "evt-3", "after off").await;
    assert!(status >= 400, "an area switched off in the window refuses events at once, got {status}");

    tray.shutdown().await;
    let gone = window.engine_status();
    assert!(!gone.running && gone.error.as_deref() == Some(area_core::app::NOT_RUNNING), "{gone:?}");
    window.shutdown().await;
}

/// Issue 10 item 9: the "pause all" marker was written with a plain write, following a link
/// planted at its name; the link's target is now left alone.
#[tokio::test]
async fn the_pause_marker_does_not_follow_a_planted_link() {
    let (dir, app) = signed_in().await;
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let marker = dir.path().join("data").join("engine.paused");
    std::os::unix::fs::symlink(&victim, &marker).unwrap();
    app.set_paused(true).await.expect("pause");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the link's target is unchanged");
    assert!(std::fs::symlink_metadata(&marker).unwrap().file_type().is_file(), "the marker is a file of its own");
    app.shutdown().await;
}

/// A fake provider token endpoint; the test plays the browser through the URL opener.
async fn token_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-123", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-456"
        })))
        .mount(&server)
        .await;
    server
}

fn query(url: &str, key: &str) -> String {
    url::Url::parse(url)
        .expect("authorization URL")
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn oauth_connects_through_the_loopback_redirect_and_through_a_deep_link() {
    let tokens = token_server().await;
    let (_dir, app) = signed_in_with(&[
        ("AREA_SPOTIFY_CLIENT_ID", "area-test".into()),
        ("AREA_SPOTIFY_AUTH_URL", "http://127.0.0.1:9/authorize".into()),
        ("AREA_SPOTIFY_TOKEN_URL", format!("{}/token", tokens.uri())),
    ])
    .await;

    // Loopback: the "browser" follows the redirect to Area's one-shot listener.
    app.set_url_opener(Arc::new(|auth_url: &str| {
        let redirect = query(auth_url, "redirect_uri");
        let state = query(auth_url, "state");
        assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
        tokio::spawn(async move {
            let callback = format!("{redirect}?code=the-code&state={state}");
            let _ = reqwest::get(callback).await;
        });
    }));
    let info = app.connect_oauth("spotify", OAuthVia::Loopback).await.expect("loopback connect");
    assert_eq!((info.connection_id.as_str(), info.kind.as_str()), ("spotify", "oauth2"));

    // Deep link: the OS hands `area://oauth/callback?…` to the app; forged links first.
    let handle = app.clone();
    app.set_url_opener(Arc::new(move |auth_url: &str| {
        assert_eq!(query(auth_url, "redirect_uri"), "area://oauth/callback");
        let state = query(auth_url, "state");
        let app = handle.clone();
        tokio::spawn(async move {
            for forged in [
                format!("area://oauth/callback?code=evil&state=not-{state}"),
                format!("area://evil/callback?code=evil&state={state}"),
                format!("other://oauth/callback?code=evil&state={state}"),
                format!("area://oauth/elsewhere?code=evil&state={state}"),
            ] {
                assert!(app.handle_deep_link(&forged).await.is_err(), "{forged} must be refused");
            }
            app.handle_deep_link(&format!("area://oauth/callback?code=good&state={state}")).await.expect("accepted");
        });
    }));
    app.connect_oauth("spotify", OAuthVia::DeepLink).await.expect("deep-link connect");
    let exchanges = tokens.received_requests().await.expect("recorded");
    assert_eq!(exchanges.len(), 2, "one code exchange per flow, none for the forged links");
    let second = String::from_utf8_lossy(&exchanges[1].body).to_string();
    assert!(second.contains("code=good") && second.contains("redirect_uri=area%3A%2F%2Foauth%2Fcallback"), "{second}");
    assert!(app.handle_deep_link("area://oauth/callback?code=late&state=x").await.is_err(), "no flow waits now");

    // Cancel: a flow nobody answers ends when cancelled.
    app.set_url_opener(Arc::new(|_: &str| {}));
    let waiting = app.clone();
    let flow = tokio::spawn(async move { waiting.connect_oauth("spotify", OAuthVia::DeepLink).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.cancel_oauth();
    let cancelled = flow.await.expect("joined").expect_err("cancelled");
    assert_eq!(cancelled.code, "cancelled");
    let list = app.list_connections().await.expect("connections");
    assert_eq!(list.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn areas_export_and_import_as_files() {
    let (_dir, app) = signed_in().await;
    let area = app.create_area(webhook_to("http://127.0.0.1:9/sink")).await.expect("create");
    let text = app.export_area(area.id).await.expect("export");
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["name"], "Hook to sink");
    // The exported area asks for the private network, which an import must grant explicitly.
    let imported = app.import_areas(&text, true).await.expect("import");
    assert_eq!(imported.len(), 1);
    assert_ne!(imported[0].area.id, area.id);
    let bad = app.import_areas("{\"name\": \"x\"}", false).await.expect_err("incomplete file");
    assert_eq!(bad.code, "invalid");
    assert_eq!(app.area_cards().await.expect("cards").len(), 2, "a bad import adds nothing");
    app.delete_area(area.id).await.expect("delete");
    assert_eq!(app.area(area.id).await.expect_err("gone").code, "not_found");
    app.shutdown().await;
}

/// Issue 10 item 2: an imported file's areas start switched off, each with its plain-words
/// summary, and `allow_private_network` in the file needs the user's checkbox.
#[tokio::test]
async fn imported_areas_start_off_with_their_summaries() {
    let (_dir, app) = signed_in().await;
    let file = serde_json::json!([
        {
            "name": "Feed to a hook",
            "action": {"service": "rss", "id": "new_item", "params": {"url": "https://example.com/feed.xml"}},
            "reactions": [{"service": "http", "id": "request",
                           "params": {"url": "https://hooks.example.com/in", "body": "{\"t\": \"{{ title }}\"}"}}]
        },
        {
            "name": "Home lab",
            "action": {"service": "webhook", "id": "received"},
            "reactions": [{"service": "http", "id": "request",
                           "params": {"url": "http://127.0.0.1:9/sink", "allow_private_network": true}}]
        }
    ])
    .to_string();

    // Reviewing stores nothing and says what each area would do.
    let reviews = app.review_import(&file, &Default::default()).expect("review");
    assert_eq!(reviews.len(), 2);
    assert!(reviews[0].reads_from.contains("https://example.com/feed.xml"), "{:?}", reviews[0]);
    assert_eq!(reviews[0].hosts, ["example.com", "hooks.example.com"]);
    assert!(!reviews[0].private_network);
    assert!(reviews[1].private_network);
    assert!(app.area_cards().await.expect("cards").is_empty(), "a review adds nothing");

    // Without the checkbox the private network is refused, naming the field; nothing is added.
    let refused = app.import_areas(&file, false).await.expect_err("private network not granted");
    assert_eq!(refused.code, "invalid");
    assert_eq!(refused.field.as_deref(), Some("[1].reactions[0].params.allow_private_network"));
    assert!(app.area_cards().await.expect("cards").is_empty(), "a refused import adds nothing");

    let imported = app.import_areas(&file, true).await.expect("import");
    assert_eq!(imported.len(), 2);
    for item in &imported {
        assert!(!item.area.enabled, "{} was imported switched on", item.area.name);
    }
    assert_eq!(imported[0].review, reviews[0]);
    assert!(imported[1].review.lines.iter().any(|l| l.contains("local network")), "{:?}", imported[1].review);
    let cards = app.area_cards().await.expect("cards");
    assert!(cards.iter().all(|c| !c.summary.enabled));

    // The user enables an area after reading its summary.
    let on = app.set_area_enabled(imported[0].area.id, true).await.expect("enable");
    assert!(on.enabled);

    // Areas made in the app's own editor are the user's own: they start as the form says.
    let own = app.create_area(webhook_to("http://127.0.0.1:9/sink")).await.expect("create");
    assert!(own.enabled);
}

#[tokio::test]
async fn secret_parameters_show_as_placeholders_and_an_import_asks_for_them() {
    let (_dir, app) = signed_in().await;
    let mut form = webhook_to("http://127.0.0.1:9/sink");
    form.reactions[0].params.insert("headers".into(), "{\"Authorization\": \"Bearer s3cr3t\"}".into());
    form.reactions.push(FormStep {
        service: "discord".into(),
        id: "send_webhook".into(),
        params: params(&[("webhook_url", "https://discord.com/api/webhooks/1/t0k3n"), ("content", "hi")]),
    });
    let area = app.create_area(form).await.expect("create");

    let view = app.area(area.id).await.expect("view");
    let shown = &view.form.reactions[0].params["headers"];
    assert!(shown.contains("<secret: headers.Authorization>") && !shown.contains("s3cr3t"), "{shown}");
    app.validate_area(view.form.clone()).expect("placeholders pass the form's check");
    app.update_area(area.id, view.form.clone()).await.expect("an unchanged placeholder keeps the sealed value");

    let text = app.export_area(area.id).await.expect("export");
    assert!(text.contains("<secret: headers.Authorization>") && !text.contains("s3cr3t"), "{text}");
    let asked = app.import_areas(&text, true).await.expect_err("the secret must be given");
    assert_eq!(asked.code, "secrets_needed");
    assert_eq!(
        asked.field.as_deref(),
        Some("[0].reactions[0].params.headers.Authorization,[0].reactions[1].params.webhook_url")
    );
    assert!(!text.contains("t0k3n"), "{text}");
    assert_eq!(app.area_cards().await.expect("cards").len(), 1, "nothing imported without it");
    let given = params(&[
        ("[0].reactions[0].params.headers.Authorization", "Bearer other"),
        ("[0].reactions[1].params.webhook_url", "https://discord.com/api/webhooks/2/other"),
    ]);
    // The import dialog's review asks for the same fields, then reads back without the values.
    let review = app.review_import(&text, &Default::default()).expect_err("the review asks first");
    assert_eq!((review.code.as_str(), &review.field), ("secrets_needed", &asked.field));
    let reviews = app.review_import(&text, &given).expect("review with the secrets");
    assert!(!format!("{reviews:?}").contains("/2/other"), "{reviews:?}");
    let imported = app.import_areas_with_secrets(&text, true, &given).await.expect("import with the secret");
    assert_eq!(imported.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_mail_account_is_connected_with_its_servers_and_bad_fields_are_named() {
    use area_core::services::mail::MailAccountInput;
    let (_dir, app) = signed_in().await;
    // A bare password cannot make a mail connection any more: the servers come with it.
    let err = app.connect_token("mail", "app-password", None).await.unwrap_err();
    assert_eq!(err.code, "invalid");
    let bad = MailAccountInput {
        username: "ada@example.com".into(),
        imap_host: "https://imap.example.com/".into(),
        ..Default::default()
    };
    let err = app.connect_mail("mail", &bad, "app-password", None).await.unwrap_err();
    assert_eq!((err.code.as_str(), err.field.as_deref()), ("invalid", Some("imap_host")), "{err:?}");
    let good = MailAccountInput { imap_host: "imap.example.com".into(), ..bad };
    let info = app.connect_mail("mail", &good, "app-password", Some("ada")).await.expect("connect");
    assert_eq!((info.connection_id.as_str(), info.kind.as_str(), info.status.as_str()), ("mail", "mail", "ok"));
    let err = app.connect_mail("github", &good, "pw", None).await.unwrap_err();
    assert_eq!(err.code, "invalid");
}

#[tokio::test]
async fn send_a_test_runs_the_reactions_once_with_the_newest_item_or_examples() {
    let (_dir, app) = signed_in().await;
    let server = MockServer::start().await;
    let feed = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>
        <item><title>Newest post</title><link>https://example.com/2</link><guid>2</guid></item>
        <item><title>Older post</title><link>https://example.com/1</link><guid>1</guid></item>
        </channel></rss>"#;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("content-type", "application/rss+xml").set_body_string(feed),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let mut form = webhook_to(&format!("{}/sink", server.uri()));
    form.action = FormStep {
        service: "rss".into(),
        id: "new_item".into(),
        params: params(&[("url", &format!("{}/feed.xml", server.uri()))]),
    };
    form.reactions[0].params.insert("body".into(), "{\"said\": \"{{ title }}\"}".into());
    form.interval_secs = Some(3600); // the engine's own poll stays out of the way
    let area = app.create_area(form).await.expect("create");
    let said = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).expect("json body")["said"].clone();

    // The feed answers: the test carries its newest item, and the run shows in the history.
    let sent = app.send_test(area.id).await.expect("send a test");
    assert_eq!((sent.source.as_str(), sent.note.as_deref()), ("sample", None));
    wait_for("the test run succeeded", WAIT, || async {
        app.runs(Some(area.id), 10).await.expect("runs").iter().any(|r| r.id == sent.run_id && r.status == "succeeded")
    })
    .await;
    let posts =
        |all: Vec<wiremock::Request>| all.into_iter().filter(|r| r.method.as_str() == "POST").collect::<Vec<_>>();
    let sent_posts = posts(server.received_requests().await.expect("recorded"));
    assert_eq!(sent_posts.len(), 1);
    assert_eq!(said(&sent_posts[0].body), "Newest post");

    // The feed fails now: the catalog's example values stand in, and the note says why.
    server.reset().await;
    Mock::given(method("GET")).and(path("/feed.xml")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let sent = app.send_test(area.id).await.expect("send a test");
    assert_eq!(sent.source, "examples");
    assert!(sent.note.as_deref().is_some_and(|n| n.contains("no item could be loaded")), "{sent:?}");
    wait_for("the second test run succeeded", WAIT, || async {
        app.runs(Some(area.id), 10).await.expect("runs").iter().any(|r| r.id == sent.run_id && r.status == "succeeded")
    })
    .await;
    let sent_posts = posts(server.received_requests().await.expect("recorded"));
    assert_eq!(sent_posts.len(), 1);
    assert_eq!(said(&sent_posts[0].body), "Announcing Rust 1.85.0");

    // Only a running area delivers: a switched-off one refuses, saying so.
    app.set_area_enabled(area.id, false).await.expect("off");
    let err = app.send_test(area.id).await.expect_err("off");
    assert_eq!(err.code, "conflict");
    assert!(err.message.contains("turn it on"), "{}", err.message);
    app.shutdown().await;
}

#[tokio::test]
async fn every_recipe_filled_with_its_examples_is_a_valid_area() {
    let (_dir, app) = signed_in().await;
    let recipes = app.recipes();
    assert!(recipes.len() >= 20, "{} recipes", recipes.len());
    let mut services = std::collections::BTreeSet::new();
    for recipe in &recipes {
        let values: Vec<String> = recipe.asks.iter().map(|a| a.example.clone()).collect();
        let form = app.recipe_form(&recipe.id, &values).expect("filled");
        app.validate_area(form).unwrap_or_else(|e| panic!("{}: {} ({:?})", recipe.id, e.message, e.field));
        services.extend(recipe.services.iter().cloned());
    }
    assert!(services.len() >= 15, "recipes across the services: {services:?}");
    // A recipe with the wrong number of values says what it needs.
    let err = app.recipe_form("github-release-to-discord", &[]).expect_err("values missing");
    assert_eq!(err.field.as_deref(), Some("action.params.repo"));
    assert!(err.message.contains("rust-lang/rust"), "{}", err.message);
    assert_eq!(app.recipe_form("nope", &[]).expect_err("unknown").code, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn a_sample_from_a_local_address_is_refused_on_the_areas_switch_in_words() {
    let (_dir, app) = signed_in().await;
    let err = app
        .sample_event("rss", "new_item", params(&[("url", "http://127.0.0.1:9/feed.xml")]), false)
        .await
        .expect_err("a local address needs the area's permission");
    assert_eq!((err.code.as_str(), err.field.as_deref()), ("invalid", Some("allow_private_network")));
    assert!(err.message.starts_with("127.0.0.1 is on this computer or your local network"), "{}", err.message);
    assert!(!err.message.contains("AREA_ALLOW_PRIVATE_NETWORK"), "{}", err.message);
    app.shutdown().await;
}

/// Postman's monthly Postman API calls depend on the plan: connecting reads the plan's figure
/// from `GET /me`'s `X-RateLimit-Limit-Month`, and the planner holds areas to it.
#[tokio::test]
async fn the_postman_plan_read_when_connecting_decides_what_areas_may_spend() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let postman = MockServer::start().await;
    let me = |limit: &str| {
        ResponseTemplate::new(200)
            .insert_header("X-RateLimit-Limit-Month", limit)
            .set_body_json(json!({"user": {"id": 1, "username": "ada"}}))
    };
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(header("x-api-key", "PMAK-basic"))
        .respond_with(me("10000"))
        .mount(&postman)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(header("x-api-key", "PMAK-free"))
        .respond_with(me("1000"))
        .mount(&postman)
        .await;
    let (_dir, app) = signed_in_with(&[("AREA_POSTMAN_BASE_URL", postman.uri())]).await;
    // A monitor checked every 5 minutes: 8,640 calls a month.
    let area = json!({"name": "monitor", "interval_secs": 300,
        "action": {"service": "postman", "id": "monitor_run_failed", "params": {"monitor_id": "1e6b6c77-2a38-4b5f-a8e3-6a8bd0f2ab01"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ monitor }} failed"}}]})
    .to_string();

    app.connect_token("postman", "PMAK-free", None).await.expect("connect");
    // An imported area arrives switched off; switching it on is where the plan is checked.
    let id = app.import_areas(&area, false).await.expect("import")[0].area.id;
    let refused = app.set_area_enabled(id, true).await.expect_err("over the free plan");
    assert_eq!(refused.field.as_deref(), Some("interval_secs"), "{refused:?}");
    assert!(refused.message.contains("8640 calls a month, over the 1000 allowed a month"), "{}", refused.message);

    app.connect_token("postman", "PMAK-basic", None).await.expect("reconnect with another plan");
    app.set_area_enabled(id, true).await.expect("within 10,000 a month");
    // Without an interval an area gets one that fits the service's quota on its own: 44 minutes
    // (1,000 calls in 30 days), which the editor shows as its placeholder.
    let entry = app.services().into_iter().find(|s| s.manifest.id == "postman").expect("postman");
    assert_eq!(entry.default_intervals[0].secs, 2_592);
    let planned = app.list_connections().await.expect("list")[0].planned.clone().expect("planned");
    assert_eq!((planned.planned, planned.limit), (8_640, 10_000));
}

/// Start at login through the one API: off at first, suggested once the first area exists and
/// never again after an answer; turning it on writes the entry the session reads at login.
#[tokio::test]
async fn start_at_login_is_suggested_once_after_the_first_area() {
    let (_dir, app) = signed_in().await;
    let config = tempfile::tempdir().unwrap();
    let autostart = config.path().join("autostart");
    let status = app.autostart_status(Some(&autostart)).await.unwrap();
    assert!(status.supported && !status.enabled && !status.suggest, "{status:?}");
    let unsupported = app.autostart_status(None).await.unwrap();
    assert!(!unsupported.supported && unsupported.note.is_some());

    app.create_area(webhook_to("http://127.0.0.1:9/sink")).await.expect("create");
    assert!(app.autostart_status(Some(&autostart)).await.unwrap().suggest, "suggested after the first area");

    let launch =
        area_core::autostart::Launch { program: "/opt/Area/area-app".into(), args: vec!["--background".into()] };
    let on = app.set_autostart(Some(&autostart), Some(&launch)).await.unwrap();
    assert!(on.enabled && !on.suggest);
    assert_eq!(on.command, Some(vec!["/opt/Area/area-app".to_string(), "--background".to_string()]));
    assert!(autostart.join("area.desktop").exists());

    let off = app.set_autostart(Some(&autostart), None).await.unwrap();
    assert!(!off.enabled && !off.suggest, "answered once: not suggested again");
    assert!(!autostart.join("area.desktop").exists());
}
