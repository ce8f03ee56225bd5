//! `ubisoft` service (game news through Steam's ISteamNews API): reading saved answers, the
//! request, error mapping, the catalog entry, and one area end to end through the engine.
//!
//! Only the end-to-end test talks to a server, and it is the only test in this binary that sets
//! `AREA_UBISOFT_BASE_URL` (environment variables are process-global).

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{ConnectorError, ErrorClass, Event, HttpResponseData, PollContext, PolledAction};
use area_core::engine::Engine;
use area_core::services::ubisoft;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

fn action() -> Arc<dyn PolledAction> {
    match ubisoft::service(&area_core::settings::Settings::from_env()).actions.get("new_game_news") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("ubisoft.new_game_news is not polled"),
    }
}

fn response(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "application/json; charset=UTF-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn read(p: Value, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    action().read(&PollContext::new(&p, None), &response(200, body)).map(|o| o.events)
}

/// Shaped like partner.steamgames.com's GetNewsForApp v2 answer: an official patch-notes item
/// with BBCode, an official item with unicode and no tags, a press item from an external feed,
/// a numeric gid, nulls, extra fields, and an item without gid (skipped).
const NEWS: &str = r#"{"appnews": {"appid": 359550, "count": 3120, "newsitems": [
  {"gid": "5123456789012345678", "title": "Y10S3.2 Patch Notes",
   "url": "https://steamstore-a.akamaihd.net/news/externalpost/steam_community_announcements/5123456789012345678",
   "is_external_url": true, "author": "Ubisoft", "contents": "[h1]Y10S3.2[/h1] The patch deploys <b>this week</b>\n\n[list][*]Fixes[/list]",
   "feedlabel": "Community Announcements", "date": 1764259200, "feedname": "steam_community_announcements",
   "feed_type": 1, "appid": 359550, "tags": ["patchnotes"], "new_field": {"x": 1}},
  {"gid": "5123456789012345600", "title": "Opération « Deadly Omen » — 新赛季", "url": "https://store.steampowered.com/news/app/359550/view/5123456789012345600",
   "is_external_url": false, "author": null, "contents": null, "feedlabel": "Community Announcements",
   "date": 1764000000, "feedname": "steam_community_announcements", "feed_type": 1, "appid": 359550},
  {"gid": "5123456789012340000", "title": "Siege X review", "url": "https://www.pcgamer.com/siege-x/",
   "is_external_url": true, "author": "PC Gamer", "contents": "Our take…", "feedlabel": "PC Gamer",
   "date": 1763900000, "feedname": "PCGamer", "feed_type": 0, "appid": 359550},
  {"gid": 5123456789, "title": "numeric gid", "feedname": "steam_community_announcements", "date": null},
  {"title": "no gid", "feedname": "steam_community_announcements"}
]}}"#;

#[test]
fn reads_official_news_with_all_ingredients() {
    let events = read(json!({"appid": 359550}), NEWS).unwrap();
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["5123456789012345678", "5123456789012345600", "5123456789"]);
    let patch = &events[0].ingredients;
    assert_eq!(patch["title"], "Y10S3.2 Patch Notes");
    assert_eq!(patch["author"], "Ubisoft");
    assert_eq!(patch["summary"], "Y10S3.2 The patch deploys this week Fixes");
    assert_eq!(patch["date"], "2025-11-27T16:00:00Z");
    assert_eq!(patch["feed"], "Community Announcements");
    assert_eq!(patch["is_patch_notes"], true);
    assert_eq!(patch["appid"], 359550);
    assert!(patch["url"].as_str().unwrap().ends_with("/5123456789012345678"));
    let second = &events[1].ingredients;
    assert_eq!(second["title"], "Opération « Deadly Omen » — 新赛季");
    assert_eq!(second["author"], "");
    assert_eq!(second["summary"], "");
    assert_eq!(second["is_patch_notes"], false);
    // Missing date → empty, appid falls back to the parameter.
    assert_eq!(events[2].ingredients["date"], "");
    assert_eq!(events[2].ingredients["appid"], 359550);
}

#[test]
fn filters_follow_the_parameters() {
    let all = read(json!({"appid": 359550, "official_only": false}), NEWS).unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.iter().any(|e| e.ingredients["feed"] == "PC Gamer"));
    let patches = read(json!({"appid": "359550", "patch_notes_only": true}), NEWS).unwrap();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].key, "5123456789012345678");
}

#[test]
fn empty_and_error_answers() {
    assert!(read(json!({"appid": 1}), r#"{"appnews": {"appid": 1, "newsitems": [], "count": 0}}"#).unwrap().is_empty());
    assert!(read(json!({"appid": 1}), r#"{"appnews": {"appid": 1}}"#).unwrap().is_empty());
    for body in [
        "",
        "<html>Forbidden</html>",
        r#"{"error": "bad appid"}"#,
        r#"{"appnews": null}"#,
        r#"{"appnews": {"newsitems": 3}}"#,
    ] {
        match read(json!({"appid": 359550}), body) {
            Err(ConnectorError::BadResponse { service, .. }) => assert_eq!(service, "ubisoft"),
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
}

#[test]
fn request_asks_steam_for_the_app_news() {
    let p = params(json!({"appid": 359550}));
    let req = action().request(&PollContext::new(&p, None)).unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.url.contains("/ISteamNews/GetNewsForApp/v2/?appid=359550&count=20&maxlength=300"), "{}", req.url);
    assert!(req.url.ends_with("&feeds=steam_community_announcements"), "{}", req.url);
    let p = params(json!({"appid": "359550", "official_only": false}));
    let req = action().request(&PollContext::new(&p, None)).unwrap();
    assert!(!req.url.contains("feeds="), "{}", req.url);
    for bad in [json!({}), json!({"appid": 0}), json!({"appid": "r6"}), json!({"appid": -3}), json!({"appid": [1]})] {
        let p = params(bad.clone());
        match action().request(&PollContext::new(&p, None)) {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "appid", "{bad}"),
            other => panic!("{bad}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn errors_are_classified() {
    let p = params(json!({"appid": 359550}));
    let ctx = PollContext::new(&p, None);
    for status in [403, 404] {
        let e = action().error_for("ubisoft", &ctx, &response(status, "<html><body>Forbidden</body></html>"));
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.to_string().contains("app 359550"), "{e}");
    }
    let mut limited = response(429, "Too Many Requests");
    limited.headers.push(("retry-after".into(), "30".into()));
    let e = action().error_for("ubisoft", &ctx, &limited);
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) });
    assert!(matches!(action().error_for("ubisoft", &ctx, &response(500, "")).class(), ErrorClass::Retryable { .. }));
}

#[test]
fn catalog_lists_it_as_unofficial_through_steam() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let m = &catalog.service("ubisoft").expect("listed").manifest;
    assert_eq!(m.auth, AuthKind::None);
    match &m.availability {
        Availability::Unofficial(reason) => {
            assert!(reason.contains("Ubisoft has no public API") && reason.contains("Steam"), "{reason}")
        }
        other => panic!("expected Unofficial, got {other:?}"),
    }
    assert!(m.reactions.is_empty());
    let a = &m.actions[0];
    for id in ["title", "url", "date", "summary"] {
        assert!(a.ingredients.iter().any(|i| i.id == id && !i.example.is_empty()), "{id}");
    }
    assert!(catalog.action("ubisoft", "new_game_news").is_some());
}

fn item(gid: &str, title: &str, date: i64) -> Value {
    json!({"gid": gid, "title": title, "url": format!("https://store.steampowered.com/news/app/359550/view/{gid}"),
           "is_external_url": false, "author": "Ubisoft", "contents": "…", "feedlabel": "Community Announcements",
           "date": date, "feedname": "steam_community_announcements", "feed_type": 1, "appid": 359550})
}

#[tokio::test]
async fn engine_fires_once_for_new_news_after_the_baseline() {
    let env = Env::new().await;
    let steam = MockServer::start().await;
    let settings = area_core::settings::Settings::from_pairs([("AREA_UBISOFT_BASE_URL", steam.uri())]);
    let area = env
        .add(spec(json!({
            "name": "siege news",
            "action": {"service": "ubisoft", "id": "new_game_news", "params": {"appid": 359550}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}"}}]
        })))
        .await;
    let old = item("100", "Old news", 1763000000);
    let new = item("200", "Y10S4 is live", 1764000000);
    let news = |items: Vec<Value>| json!({"appnews": {"appid": 359550, "newsitems": items, "count": 2}});
    Mock::given(method("GET"))
        .and(path("/ISteamNews/GetNewsForApp/v2/"))
        .and(query_param("appid", "359550"))
        .respond_with(ResponseTemplate::new(200).set_body_json(news(vec![old.clone()])))
        .up_to_n_times(1)
        .mount(&steam)
        .await;
    Mock::given(method("GET"))
        .and(path("/ISteamNews/GetNewsForApp/v2/"))
        .and(query_param("appid", "359550"))
        .and(query_param("feeds", "steam_community_announcements"))
        .respond_with(ResponseTemplate::new(200).set_body_json(news(vec![new, old])))
        .mount(&steam)
        .await;

    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["Y10S4 is live"]);
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}
