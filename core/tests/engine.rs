//! The trigger engine end to end (ARCHITECTURE.md "Engine contract"): a temporary store, areas
//! added through the areas API, fake upstreams and sinks with wiremock on 127.0.0.1, and assertions
//! on the `runs` table and on what the fake servers received.

mod support;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use area_core::engine::delivery::idempotency_key;
use area_core::engine::history::{prune, KEEP_RUNS_DAYS, KEEP_RUNS_PER_AREA, KEEP_SEEN_PER_AREA};
use area_core::engine::writer::LEASE_MS;
use area_core::engine::{Engine, EngineConfig};
use chrono::Utc;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

async fn run_once(
    env: &Env,
    config: EngineConfig,
    notifier: &Arc<RecordingNotifier>,
) -> area_core::engine::RunOnceReport {
    Engine::run_once(&env.store, config, notifier.clone()).await.expect("run once")
}

fn sorted_bodies(requests: &[wiremock::Request]) -> Vec<Value> {
    let mut bodies: Vec<Value> = requests.iter().map(body_json).collect();
    bodies.sort_by_key(|b| b["id"].as_str().unwrap_or_default().to_string());
    bodies
}

// 1. Baseline, then each new item fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_fires_nothing_then_each_new_item_fires_once() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;

    let report = run_once(&env, config(true), &notifier).await;
    assert_eq!(report.requests, 1);
    assert!(env.runs(area).await.is_empty(), "the first poll records what exists and fires nothing");
    assert_eq!(received_count(&sink_server).await, 0);
    assert_eq!(env.seen_count(area).await, 3, "existing items are recorded as seen");
    assert!(env.state(area).await.baselined);

    feed.set(items(&[1, 2, 3, 4, 5]));
    let report = run_once(&env, config(true), &notifier).await;
    assert_eq!((report.runs_delivered, report.runs_failed), (2, 0));
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.status == "succeeded" && r.attempts == 1), "{runs:?}");
    let mut keys: Vec<_> = runs.iter().map(|r| r.event_key.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["4", "5"]);
    let requests = received(&sink_server).await;
    assert_eq!(requests.len(), 2);
    let idem: HashSet<String> = requests.iter().map(idem_key).collect();
    assert_eq!(idem.len(), 2, "each run has its own idempotency key");
    let expected: HashSet<String> = ["4", "5"].iter().map(|k| idempotency_key(area, k, 0)).collect();
    assert_eq!(idem, expected, "keys are the deterministic (area, event, reaction) keys");
    assert_eq!(
        sorted_bodies(&requests),
        [json!({"title": "Item 4", "id": "4"}), json!({"title": "Item 5", "id": "5"})],
        "the body template is rendered with each item's ingredients"
    );

    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 2, "an unchanged feed fires nothing");
    assert_eq!(received_count(&sink_server).await, 2);
}

// 2. Across restarts: a daemon, `run --once` and another daemon on a reopened store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_items_fire_once_across_restarts() {
    let mut env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), true).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    env.set_interval(area, 1).await;

    // Daemon 1 baselines.
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    {
        let env = &env;
        wait_for("the baseline", Duration::from_secs(5), || async move { env.state(area).await.baselined }).await;
    }
    engine.shutdown().await;
    assert!(env.runs(area).await.is_empty());

    // Items appear while nothing runs; `run --once` on a reopened store fires them.
    feed.set(items(&[1, 2, 3, 4, 5]));
    env.reopen().await;
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded", "succeeded"]);
    assert_eq!(received_count(&sink_server).await, 2);

    // Daemon 2 on a reopened store sees the same feed: nothing fires again.
    env.reopen().await;
    let before = received_count(&feed_server).await;
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    {
        let server = &feed_server;
        wait_for("two polls", Duration::from_secs(5), || async move { received_count(server).await >= before + 2 })
            .await;
    }
    // A new item while it runs fires once.
    feed.set(items(&[1, 2, 3, 4, 5, 6]));
    {
        let env = &env;
        wait_for(
            "item 6 delivered",
            Duration::from_secs(5),
            || async move { env.count_runs(area, "succeeded").await == 3 },
        )
        .await;
    }
    engine.shutdown().await;

    // And one more `run --once` after a restart fires nothing.
    env.reopen().await;
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded", "succeeded", "succeeded"]);
    let requests = received(&sink_server).await;
    assert_eq!(requests.len(), 3, "no item delivered twice");
    assert_eq!(requests.iter().map(idem_key).collect::<HashSet<_>>().len(), 3);
}

// 3. Reordered and repeated pages never fire an item twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_or_repeated_pages_fire_nothing_twice() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;

    feed.set(items(&[3, 1, 2, 2, 1, 3]));
    run_once(&env, config(true), &notifier).await;
    assert!(env.runs(area).await.is_empty(), "reordered duplicates of known items fire nothing");

    feed.set(items(&[4, 3, 4, 1, 4, 2]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded"], "item 4, repeated in one page, fires once");

    // Item 4 leaves the page and comes back (a paginated or flapping API).
    feed.set(items(&[1, 2, 3]));
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[2, 4, 1]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 1);
    assert_eq!(received_count(&sink_server).await, 1);

    // The same with a running engine (in-memory dedupe path).
    env.set_interval(area, 1).await;
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    let pages = [items(&[4, 3, 2, 1]), items(&[1, 1, 4]), items(&[5, 4, 5, 3]), items(&[3, 5]), items(&[5, 4, 1])];
    for page in pages {
        feed.set(page);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    engine.shutdown().await;
    let mut keys: Vec<_> = env.runs(area).await.into_iter().map(|r| r.event_key).collect();
    keys.sort();
    assert_eq!(keys, ["4", "5"]);
    assert_eq!(received_count(&sink_server).await, 2);
}

// 4. Editing keeps the cursor unless the action's parameters change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_keeps_cursor_and_parameter_change_rebaselines() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), false).await;
    let other = Feed::new(items(&[100, 101]), false);
    other.mount(&feed_server, "/other").await;
    let other_url = format!("{}/other", feed_server.uri());
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;

    // New reaction body, same action: the cursor stays, the new item fires with the new body.
    let mut edited = json_area("watch (renamed)", &feed_url, &sink_url);
    edited.reactions[0].params.insert("body".into(), json!("{\"id\": \"{{ id }}\", \"edited\": \"yes\"}"));
    env.areas.update(env.user_id, area, edited.clone()).await.unwrap();
    assert!(env.state(area).await.baselined, "an edit of the reactions keeps the baseline");
    feed.set(items(&[1, 2, 3, 4]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    let requests = received(&sink_server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(body_json(&requests[0]), json!({"id": "4", "edited": "yes"}));

    // id_field changes: the area baselines again; items present at its next poll do not fire.
    let mut by_uid = edited.clone();
    by_uid.action.params.insert("id_field".into(), json!("uid"));
    env.areas.update(env.user_id, area, by_uid.clone()).await.unwrap();
    assert!(!env.state(area).await.baselined);
    feed.set(items(&[1, 2, 3, 4, 5]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 1, "the first poll after a parameter change fires nothing");
    feed.set(items(&[1, 2, 3, 4, 5, 6]));
    run_once(&env, config(true), &notifier).await;
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].event_key, "u-6", "keys now come from the new id field");

    // URL changes: baseline again on the other feed.
    let mut moved = by_uid.clone();
    moved.action.params.insert("url".into(), json!(other_url));
    env.areas.update(env.user_id, area, moved).await.unwrap();
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 2, "the other feed's existing items fire nothing");
    other.set(items(&[100, 101, 102]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 3);
    assert_eq!(received_count(&sink_server).await, 3);
}

// 4b. The same edits seen by a running engine (reload path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_engine_picks_up_edits_keeping_or_resetting_the_cursor() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), true).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    env.set_interval(area, 1).await;
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    let e = &env;
    wait_for("the baseline", Duration::from_secs(5), || async move { e.state(area).await.baselined }).await;

    let mut edited = json_area("watch", &feed_url, &sink_url);
    edited.interval_secs = Some(30);
    edited.reactions[0].params.insert("body".into(), json!("{\"id\": \"{{ id }}\", \"v\": \"2\"}"));
    env.areas.update(env.user_id, area, edited.clone()).await.unwrap();
    env.set_interval(area, 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    feed.set(items(&[1, 2, 3, 4]));
    wait_for("item 4 delivered", Duration::from_secs(5), || async move { e.count_runs(area, "succeeded").await == 1 })
        .await;
    let requests = received(&sink_server).await;
    assert_eq!(body_json(&requests[0]), json!({"id": "4", "v": "2"}), "the edited reaction is used");

    let mut by_uid = edited.clone();
    by_uid.action.params.insert("id_field".into(), json!("uid"));
    feed.set(items(&[1, 2, 3, 4, 5]));
    env.areas.update(env.user_id, area, by_uid).await.unwrap();
    env.set_interval(area, 1).await;
    wait_for("the new baseline", Duration::from_secs(5), || async move { e.state(area).await.baselined }).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(env.runs(area).await.len(), 1, "items present at the re-baseline do not fire");
    feed.set(items(&[1, 2, 3, 4, 5, 6]));
    wait_for("item 6 delivered", Duration::from_secs(5), || async move { e.count_runs(area, "succeeded").await == 2 })
        .await;
    engine.shutdown().await;
    assert_eq!(env.runs(area).await[0].event_key, "u-6");
    assert_eq!(received_count(&sink_server).await, 2);
}

// 5. Shared polling: one request per upstream resource per interval, conditional requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_polls_are_shared_and_conditional() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (server_a, feed_a, url_a) = feed_server(items(&[1, 2]), true).await;
    let (server_b, _feed_b, url_b) = feed_server(items(&[7]), true).await;
    let (sink_server, sink_url) = sink(200).await;
    let mut on_a = Vec::new();
    for i in 0..20 {
        on_a.push(env.add(json_area(&format!("a{i}"), &url_a, &sink_url)).await);
    }
    let mut on_b = Vec::new();
    for i in 0..5 {
        on_b.push(env.add(json_area(&format!("b{i}"), &url_b, &sink_url)).await);
    }

    let report = run_once(&env, config(true), &notifier).await;
    assert_eq!(report.requests, 2);
    assert_eq!(report.areas_polled, 25);
    assert_eq!(received_count(&server_a).await, 1, "20 areas, one request");
    assert_eq!(received_count(&server_b).await, 1, "5 areas, one request");

    for id in on_a.iter().chain(&on_b) {
        env.set_interval(*id, 1).await;
    }
    let (a0, b0) = (received_count(&server_a).await, received_count(&server_b).await);
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let (a1, b1) = (received_count(&server_a).await - a0, received_count(&server_b).await - b0);
    assert!((3..=5).contains(&a1), "about one request per interval on A, not one per area: {a1}");
    assert!((3..=5).contains(&b1), "about one request per interval on B: {b1}");
    let requests = received(&server_a).await;
    let first_etag = feed_a.etag();
    let second = &requests[a0 + 1];
    assert_eq!(
        second.headers.get("if-none-match").and_then(|v| v.to_str().ok()),
        Some(first_etag.as_str()),
        "the second poll sends the ETag of the first answer"
    );
    assert!(env.all_runs().await.is_empty(), "304 answers fire nothing");
    for id in on_a.iter().chain(&on_b) {
        let state = env.state(*id).await;
        assert!(state.last_error.is_none() && state.consecutive_failures == 0, "{state:?}");
    }

    // A new item on A: one more request, and every area watching A fires once.
    feed_a.set(items(&[1, 2, 3]));
    let e = &env;
    wait_for("20 deliveries", Duration::from_secs(6), || async move {
        e.all_runs().await.iter().filter(|r| r.status == "succeeded").count() == 20
    })
    .await;
    engine.shutdown().await;
    let runs = env.all_runs().await;
    assert_eq!(runs.len(), 20);
    let watchers: HashSet<i64> = runs.iter().map(|r| r.area_id).collect();
    assert_eq!(watchers, on_a.iter().copied().collect::<HashSet<_>>());
    let sent = received(&sink_server).await;
    assert_eq!(sent.len(), 20);
    assert_eq!(sent.iter().map(idem_key).collect::<HashSet<_>>().len(), 20);
}

// 5b. An area that joins an existing poll group while its ETag is unchanged still baselines
// at once, so items appearing after it was added fire for it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_joining_a_conditional_poll_group_baselines_and_fires() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_server, feed, url) = feed_server(items(&[1, 2]), true).await;
    let (_sink_server, sink_url) = sink(200).await;
    let first = env.add(json_area("first", &url, &sink_url)).await;
    env.set_interval(first, 1).await;
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    let e = &env;
    wait_for("first baselined", Duration::from_secs(5), || async move { e.state(first).await.baselined }).await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // at least one 304 by now

    let second = env.add(json_area("second", &url, &sink_url)).await;
    env.set_interval(second, 1).await;
    wait_for("second baselined while the feed is unchanged", Duration::from_secs(5), || async move {
        e.state(second).await.baselined
    })
    .await;
    feed.set(items(&[1, 2, 3]));
    wait_for("item 3 delivered to both areas", Duration::from_secs(5), || async move {
        e.count_runs(first, "succeeded").await == 1 && e.count_runs(second, "succeeded").await == 1
    })
    .await;
    engine.shutdown().await;
}

/// A webhook area created by another process (the window beside the tray, the `area` command)
/// takes its first event at once, not after the engine's next periodic look at the areas: an
/// unknown token makes the engine look for edits first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_area_added_by_another_process_takes_events_at_once() {
    let env = Env::new().await;
    let (_sink_server, sink_url) = sink(200).await;
    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.reload_every = Duration::from_secs(3600); // its periodic look would come only in an hour
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().expect("listening");

    let reaction = json!({"service": "http", "id": "request", "params": {"url": sink_url}});
    let area = env.add(webhook_area("added elsewhere", reaction)).await;
    let token = env.areas.get(env.user_id, area).await.unwrap().webhook_token.expect("webhook token");
    let client = reqwest::Client::new();
    let response = client.post(format!("http://{addr}/hooks/{token}")).json(&json!({"n": 1})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(env.runs(area).await.len(), 1);
    let unknown =
        client.post(format!("http://{addr}/hooks/{}", "0".repeat(64))).json(&json!({"n": 2})).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404, "a token nobody has is still refused");
    engine.shutdown().await;
}

// 6. Webhooks: 202 only once recorded; refusals record nothing; sender keys dedupe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_records_before_202_and_refuses_bad_requests() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (sink_server, sink_url) = sink(200).await;
    let reaction = json!({"service": "http", "id": "request",
                          "params": {"url": sink_url, "body": "{\"temp\": \"{{ temp }}\", \"room\": \"{{ room }}\"}"}});
    let area = env.add(webhook_area("hook", reaction)).await;
    let token = env.areas.get(env.user_id, area).await.unwrap().webhook_token.expect("webhook token");
    let db_token: String = sqlx::query_scalar("SELECT webhook_token FROM areas WHERE id = $1")
        .bind(area)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(token, db_token);

    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.max_webhook_body = 1024;
    let engine = Engine::start(&env.store, cfg, notifier.clone()).await.unwrap();
    let addr = engine.webhook_addr().expect("listening");
    let url = format!("http://{addr}/hooks/{token}");
    let client = reqwest::Client::new();

    let response = client.post(&url).json(&json!({"temp": 21, "room": "kitchen"})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 1, "the run is recorded by the time 202 is received");
    assert_eq!(runs[0].ingredients["temp"], json!(21));
    let s = &sink_server;
    wait_for("delivery", Duration::from_secs(5), || async move { received_count(s).await == 1 }).await;
    assert_eq!(body_json(&received(&sink_server).await[0]), json!({"temp": "21", "room": "kitchen"}));

    let wrong_type = client.post(&url).header("content-type", "text/plain").body("temp=21").send().await.unwrap();
    assert_eq!(wrong_type.status().as_u16(), 415);
    let malformed =
        client.post(&url).header("content-type", "application/json").body("{\"temp\": ").send().await.unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let big = json!({"blob": "x".repeat(2000)});
    let oversize = client.post(&url).json(&big).send().await.unwrap();
    assert_eq!(oversize.status().as_u16(), 413);
    let unknown =
        client.post(format!("http://{addr}/hooks/{}", "0".repeat(64))).json(&json!({"temp": 1})).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    assert_eq!(env.runs(area).await.len(), 1, "refused requests record nothing");
    assert_eq!(env.all_runs().await.len(), 1);

    // A sender retrying with the same Idempotency-Key is one event.
    for _ in 0..2 {
        let r = client.post(&url).header("Idempotency-Key", "evt-42").json(&json!({"temp": 22})).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    assert_eq!(env.runs(area).await.len(), 2);
    wait_for("second delivery", Duration::from_secs(5), || async move { received_count(s).await == 2 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    engine.shutdown().await;
    assert_eq!(received_count(&sink_server).await, 2);
    assert_eq!(env.statuses(area).await, ["succeeded", "succeeded"]);
}

// 7a. A 5xx from a reaction's host: retried later, with the error recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_5xx_is_retried_with_backoff() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(500).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[1, 2]));
    let t0 = now_ms();
    let report = run_once(&env, config(true), &notifier).await;
    assert_eq!(report.runs_failed, 0);
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, "queued", "{run:?}");
    assert!(run.attempts >= 1, "{run:?}");
    let next = run.next_attempt_at.expect("a queued run has a next attempt");
    assert!(next > t0 && next > now_ms() - 50, "the retry is scheduled in the future: {run:?}");
    assert!(run.error.as_deref().unwrap_or_default().contains("500"), "{run:?}");
    let sent = received(&sink_server).await;
    assert!(!sent.is_empty());
    assert_eq!(sent.iter().map(idem_key).collect::<HashSet<_>>().len(), 1, "retries reuse the idempotency key");
}

// 7b. A 4xx from a reaction's host: failed at once, never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_4xx_fails_without_retry() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(400).await;
    let area = env.add(json_area("watch", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[1, 2]));
    let report = run_once(&env, config(true), &notifier).await;
    assert_eq!(report.runs_failed, 1);
    run_once(&env, config(true), &notifier).await;
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "failed");
    assert!(runs[0].error.as_deref().unwrap_or_default().contains("400"), "{:?}", runs[0]);
    assert_eq!(received_count(&sink_server).await, 1, "a permanent error is not retried");
}

// 7c. 429 + Retry-After on host A delays only host A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_host_delays_only_itself() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let host_a = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sink"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&host_a)
        .await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&host_a).await;
    let (host_b, url_b) = sink(200).await;
    let url_a = format!("{}/sink", host_a.uri());
    let body =
        |u: &str| json!({"service": "http", "id": "request", "params": {"url": u, "body": "{\"n\": \"{{ n }}\"}"}});
    let to_a = env.add(webhook_area("to A", body(&url_a))).await;
    let to_b = env.add(webhook_area("to B", body(&url_b))).await;
    let token = |id| {
        let env = &env;
        async move { env.areas.get(env.user_id, id).await.unwrap().webhook_token.unwrap() }
    };
    let (token_a, token_b) = (token(to_a).await, token(to_b).await);

    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    let engine = Engine::start(&env.store, cfg, notifier.clone()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let post = |token: &str, n: u32| client.post(format!("http://{addr}/hooks/{token}")).json(&json!({"n": n})).send();

    assert_eq!(post(&token_a, 1).await.unwrap().status().as_u16(), 202);
    let a = &host_a;
    wait_for("the 429", Duration::from_secs(5), || async move { received_count(a).await == 1 }).await;
    let limited_at = Instant::now();
    assert_eq!(post(&token_a, 2).await.unwrap().status().as_u16(), 202);
    assert_eq!(post(&token_b, 3).await.unwrap().status().as_u16(), 202);
    let b = &host_b;
    wait_for("host B served promptly", Duration::from_secs(1), || async move { received_count(b).await == 1 }).await;
    let e = &env;
    wait_for("B's run recorded as succeeded", Duration::from_secs(1), || async move {
        e.count_runs(to_b, "succeeded").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(limited_at.elapsed())).await;
    assert_eq!(received_count(&host_a).await, 1, "nothing is sent to host A before its Retry-After");
    wait_for("A's runs delivered after the wait", Duration::from_secs(8), || async move {
        e.count_runs(to_a, "succeeded").await == 2
    })
    .await;
    assert!(limited_at.elapsed() >= Duration::from_millis(1900), "Retry-After honoured");
    engine.shutdown().await;
    assert_eq!(received_count(&host_a).await, 3, "one 429, then each run once");
}

// 7d. Hostile upstreams end in a clear error on their own area; others stay on schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_upstreams_fail_their_own_area_only() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_sink_server, sink_url) = sink(200).await;
    let (healthy_server, _healthy, healthy_url) = feed_server(items(&[1]), false).await;
    let (bad_server, malformed, malformed_url) = feed_server(vec![], false).await;
    malformed.set_raw(200, "{\"items\": [{\"id\": 1,");
    let huge = Feed::new(vec![], false);
    huge.set_raw(200, vec![b' '; 10 * 1024 * 1024]);
    huge.mount(&bad_server, "/huge").await;
    let (endless_addr, endless_hits) = endless_server().await;
    let (stalled_addr, stalled_hits) = stalled_server().await;

    let healthy = env.add(json_area("healthy", &healthy_url, &sink_url)).await;
    let bad = [
        ("malformed", malformed_url.clone(), "not valid JSON"),
        ("huge", format!("{}/huge", bad_server.uri()), "exceeds the limit"),
        ("endless", format!("http://{endless_addr}/feed"), ""),
        ("stalled", format!("http://{stalled_addr}/feed"), "no complete response"),
    ];
    let mut bad_ids = Vec::new();
    for (name, url, _) in &bad {
        bad_ids.push(env.add(json_area(name, url, &sink_url)).await);
    }
    for id in bad_ids.iter().chain([&healthy]) {
        env.set_interval(*id, 1).await;
    }

    let mut cfg = config(true);
    cfg.net.total_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let engine = Engine::start(&env.store, cfg, notifier.clone()).await.unwrap();
    let e = &env;
    for (id, (name, _, expected)) in bad_ids.iter().zip(&bad) {
        let id = *id;
        wait_for(&format!("an error on `{name}`"), Duration::from_secs(6), || async move {
            e.state(id).await.last_error.is_some()
        })
        .await;
        let error = env.state(id).await.last_error.unwrap();
        assert!(error.contains(expected), "{name}: {error}");
        if *name == "endless" {
            assert!(error.contains("exceeds the limit") || error.contains("no complete response"), "{error}");
        }
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    tokio::time::sleep(Duration::from_millis(4500).saturating_sub(started.elapsed())).await;
    let healthy_polls = received_count(&healthy_server).await;
    let elapsed = started.elapsed();
    engine.shutdown().await;
    assert!(healthy_polls >= 4, "the healthy feed stayed on its 1 s schedule: {healthy_polls} polls in {elapsed:?}");
    let state = env.state(healthy).await;
    assert!(state.last_error.is_none() && state.baselined, "{state:?}");
    assert!(endless_hits.load(Ordering::SeqCst) >= 1 && stalled_hits.load(Ordering::SeqCst) >= 1);
    assert!(env.all_runs().await.is_empty());
}

// 7e. A feed that keeps failing: failures counted, then the area is paused with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_feed_pauses_its_area_after_repeated_failures() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (feed_server, feed, feed_url) = feed_server(vec![], false).await;
    feed.set_raw(404, "{\"message\": \"Not Found\"}");
    let (_sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("gone", &feed_url, &sink_url)).await;
    let mut cfg = config(true);
    cfg.pause_after = 3;
    for n in 1..=2 {
        run_once(&env, cfg.clone(), &notifier).await;
        let state = env.state(area).await;
        assert_eq!(state.consecutive_failures, n);
        assert!(state.last_error.as_deref().unwrap_or_default().contains("404"), "{state:?}");
        assert!(state.paused_reason.is_none());
    }
    run_once(&env, cfg.clone(), &notifier).await;
    let state = env.state(area).await;
    let reason = state.paused_reason.expect("paused after 3 failures");
    assert!(reason.contains("404"), "{reason}");
    let detail = env.areas.get(env.user_id, area).await.unwrap();
    assert_eq!(detail.summary.status.as_str(), "paused");
    run_once(&env, cfg.clone(), &notifier).await;
    assert_eq!(received_count(&feed_server).await, 3, "a paused area is not polled");

    // The owner fixes the feed and turns the area back on: it baselines, then fires new items.
    feed.set(items(&[1, 2]));
    env.areas.set_enabled(env.user_id, area, true).await.unwrap();
    run_once(&env, cfg.clone(), &notifier).await;
    let state = env.state(area).await;
    assert!(state.paused_reason.is_none() && state.last_error.is_none() && state.baselined, "{state:?}");
    assert_eq!(state.consecutive_failures, 0);
    assert!(env.runs(area).await.is_empty());
    feed.set(items(&[1, 2, 3]));
    run_once(&env, cfg.clone(), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}

// 7f. A malformed feed served with an ETag keeps its error (a 304 must not hide it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_feed_with_etag_keeps_failing_until_paused() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(vec![], true).await;
    feed.set_raw(200, "<html>not json</html>");
    let (_sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("broken", &feed_url, &sink_url)).await;
    env.set_interval(area, 1).await;
    let mut cfg = config(true);
    cfg.pause_after = 3;
    let engine = Engine::start(&env.store, cfg, notifier.clone()).await.unwrap();
    let e = &env;
    wait_for("the first error", Duration::from_secs(5), || async move { e.state(area).await.last_error.is_some() })
        .await;
    wait_for("the area paused after 3 failures", Duration::from_secs(6), || async move {
        let state = e.state(area).await;
        assert!(state.last_error.is_some(), "the error vanished although the feed is still broken: {state:?}");
        state.paused_reason.is_some()
    })
    .await;
    engine.shutdown().await;
}

// 8. SSRF: private targets refused unless allowed; nothing reaches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_network_targets_are_refused() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (target, _feed, target_url) = feed_server(items(&[1]), false).await;
    let port = target.address().port();
    // A server the test explicitly allows (private_exceptions) that redirects to the target,
    // and serves a feed whose reaction points at a private sink.
    let relay = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/redirect"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", target_url.as_str()))
        .mount(&relay)
        .await;
    let relay_feed = Feed::new(items(&[1]), false);
    relay_feed.mount(&relay, "/feed").await;
    let (sink_server, sink_url) = sink(200).await;

    let urls = [
        target_url.clone(),
        format!("http://[::1]:{port}/feed"),
        "http://10.0.0.1/feed".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        format!("{}/redirect", relay.uri()),
    ];
    let mut ids = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        ids.push(env.add(json_area(&format!("ssrf {i}"), url, &sink_url)).await);
    }
    let reacting = env.add(json_area("private sink", &format!("{}/feed", relay.uri()), &sink_url)).await;

    let mut cfg = config(false);
    cfg.net.private_exceptions = vec![*relay.address()];
    run_once(&env, cfg.clone(), &notifier).await;
    for (id, url) in ids.iter().zip(&urls) {
        let state = env.state(*id).await;
        let error = state.last_error.unwrap_or_default();
        assert!(error.contains("refused"), "{url}: {error:?}");
        assert!(!state.baselined);
    }
    assert_eq!(received_count(&target).await, 0, "no request reached the private target");
    assert!(env.state(reacting).await.baselined);

    relay_feed.set(items(&[1, 2]));
    run_once(&env, cfg.clone(), &notifier).await;
    let runs = env.runs(reacting).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "failed", "a refused reaction target is a permanent error");
    assert!(runs[0].error.as_deref().unwrap_or_default().contains("refused"), "{:?}", runs[0]);
    assert_eq!(received_count(&sink_server).await, 0);
}

// 8b. The per-area override lets a home-lab area reach a private address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_area_private_network_override_is_honoured() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (server, _feed, url) = feed_server(items(&[1]), false).await;
    let (_sink_server, sink_url) = sink(200).await;
    let mut whole_area = json_area("area-level", &url, &sink_url);
    whole_area.allow_private_network = true;
    let whole_area = env.add(whole_area).await;
    // The `http` action's own `allow_private_network` parameter (documented in the catalog).
    let mut by_param = json_area("param-level", &format!("{url}?by=param"), &sink_url);
    by_param.action.params.insert("allow_private_network".into(), json!(true));
    let by_param = env.add(by_param).await;
    run_once(&env, config(false), &notifier).await;
    for id in [whole_area, by_param] {
        let state = env.state(id).await;
        assert!(state.baselined && state.last_error.is_none(), "area {id}: {state:?}");
    }
    assert_eq!(received_count(&server).await, 2);
}

// 9. Crash recovery: an interrupted non-idempotent reaction is not re-sent; queued runs resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_recovery_marks_unknown_outcome_and_resumes_queued_runs() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (sink_server, sink_url) = sink(200).await;
    let notify = json!({"service": "notify", "id": "send", "params": {"title": "{{ msg }}"}});
    let notify_area = env.add(webhook_area("notify", notify)).await;
    let http =
        json!({"service": "http", "id": "request", "params": {"url": sink_url, "body": "{\"msg\": \"{{ msg }}\"}"}});
    let http_area = env.add(webhook_area("http", http)).await;
    let now = now_ms();
    // On SQLite the engine is alone: whatever a previous process held is recovered at start. On
    // a shared PostgreSQL store other processes may still be at work, so only what is held past
    // its lease is recovered: the leases here ended just now.
    let lease_end = if support::backend::on_postgres() { now - 1 } else { now + LEASE_MS };
    sqlx::query(
        "INSERT INTO runs (area_id, event_key, ingredients, status, attempts, reactions_done, in_flight,
                           next_attempt_at, created_at, started_at)
         VALUES ($1, 'key:a', '{\"msg\": \"was being shown\"}', 'running', 0, 0, 0, $2, $3, $4),
                ($5, 'key:b', '{\"msg\": \"waiting\"}', 'queued', 0, 0, NULL, $6, $7, NULL)",
    )
    .bind(notify_area)
    .bind(lease_end)
    .bind(now - 1000)
    .bind(now - 900)
    .bind(http_area)
    .bind(lease_end)
    .bind(now - 1000)
    .execute(env.store.pool())
    .await
    .unwrap();

    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    let e = &env;
    wait_for("the queued run delivered", Duration::from_secs(5), || async move {
        e.count_runs(http_area, "succeeded").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // one more retry scan
    engine.shutdown().await;

    let interrupted = &env.runs(notify_area).await[0];
    assert_eq!(interrupted.status, "unknown_outcome", "{interrupted:?}");
    assert!(interrupted.error.as_deref().unwrap_or_default().contains("not re-sent"), "{interrupted:?}");
    assert_eq!(notifier.count(), 0, "the notification was not shown again");
    let sent = received(&sink_server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(idem_key(&sent[0]), idempotency_key(http_area, "key:b", 0));
    assert_eq!(body_json(&sent[0]), json!({"msg": "waiting"}));
}

// 10. Conditions: rejected events are recorded as skipped and not delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_rejected_events_are_skipped() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1, 2, 3]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let mut area = json_area("big scores", &feed_url, &sink_url);
    area.condition =
        Some(serde_json::from_value(json!({"ingredient": "score", "op": "greater_than", "value": 4})).unwrap());
    let area = env.add(area).await;
    assert_eq!(env.areas.get(env.user_id, area).await.unwrap().seen_items, 0);
    run_once(&env, config(true), &notifier).await;
    // The baseline recorded what the feed already held: the detail says how many.
    assert_eq!(env.areas.get(env.user_id, area).await.unwrap().seen_items, 3);
    feed.set(items(&[1, 2, 3, 4, 5, 6]));
    run_once(&env, config(true), &notifier).await;
    let runs = env.runs(area).await;
    let by_key = |k: &str| runs.iter().find(|r| r.event_key == k).map(|r| r.status.as_str());
    assert_eq!(runs.len(), 3);
    assert_eq!(by_key("4"), Some("skipped"));
    // The skipped run says why, in words.
    let skipped = runs.iter().find(|r| r.event_key == "4").and_then(|r| r.summary.as_deref());
    assert_eq!(skipped, Some("skipped: score is not more than 4"));
    assert_eq!(by_key("5"), Some("succeeded"));
    assert_eq!(by_key("6"), Some("succeeded"));
    let sent = received(&sink_server).await;
    assert_eq!(sorted_bodies(&sent), [json!({"title": "Item 5", "id": "5"}), json!({"title": "Item 6", "id": "6"})]);
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 3, "a skipped event is not reconsidered");
}

// 11. Timers: enabling baselines; missed instants fire late, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_baselines_then_fires_a_missed_instant_once() {
    // Stay clear of a minute boundary so no fresh instant falls due during the test.
    let second = Utc::now().timestamp() % 60;
    if second >= 50 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let area = env
        .add(spec(json!({
            "name": "tick",
            "action": {"service": "timer", "id": "every", "params": {"minutes": 1}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "tick {{ scheduled_for }}"}}],
        })))
        .await;
    run_once(&env, config(true), &notifier).await;
    let state = env.state(area).await;
    assert!(state.baselined && state.cursor.is_some(), "{state:?}");
    assert!(env.runs(area).await.is_empty(), "enabling a timer fires nothing");
    assert_eq!(notifier.count(), 0);

    let two_minutes_ago =
        (Utc::now() - chrono::Duration::minutes(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sqlx::query("UPDATE areas SET cursor = $1 WHERE id = $2")
        .bind(Value::String(two_minutes_ago).to_string())
        .bind(area)
        .execute(env.store.pool())
        .await
        .unwrap();
    run_once(&env, config(true), &notifier).await;
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(notifier.count(), 1);
    assert!(notifier.shown.lock().unwrap()[0].0.starts_with("tick 20"));

    // Both missed instants were covered by that one late firing.
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 1, "missed instants fire once, not once per pass");
    assert_eq!(notifier.count(), 1);
}

// 12. History is bounded: finished runs beyond the count or the age go; queued ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_bounds_history_but_keeps_pending_runs() {
    let env = Env::new().await;
    let (_sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("busy", "https://example.com/feed", &sink_url)).await;
    let other = env.add(json_area("quiet", "https://example.com/other", &sink_url)).await;
    let now = now_ms();
    let old = now - (KEEP_RUNS_DAYS + 10) * 24 * 3600 * 1000;
    let pool = env.store.pool();
    let insert = "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at)
                  VALUES ($1, $2, '{}', $3, $4, $5)";
    for (key, status) in [("q1", "queued"), ("q2", "queued"), ("r1", "running")] {
        sqlx::query(insert).bind(area).bind(key).bind(status).bind(old).bind(old).execute(pool).await.unwrap();
    }
    sqlx::query(insert).bind(area).bind("ancient").bind("succeeded").bind(old).bind(old).execute(pool).await.unwrap();
    let extra = 5;
    sqlx::query(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1)
         INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at)
         SELECT $2, 'recent-' || n, '{}', CASE WHEN n % 2 = 0 THEN 'failed' ELSE 'succeeded' END, $3, $4 FROM seq",
    )
    .bind(KEEP_RUNS_PER_AREA + extra)
    .bind(area)
    .bind(now)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    for k in 0..10 {
        sqlx::query(insert)
            .bind(other)
            .bind(format!("o{k}"))
            .bind("succeeded")
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1)
         INSERT INTO seen_events (area_id, event_key, seen_at) SELECT $2, 'k' || n, n FROM seq",
    )
    .bind(KEEP_SEEN_PER_AREA + 3)
    .bind(area)
    .execute(pool)
    .await
    .unwrap();

    let (runs_deleted, seen_deleted) = prune(pool, now).await.unwrap();
    assert_eq!(runs_deleted, 1 + extra as u64);
    assert_eq!(seen_deleted, 3);
    let count = |sql: &'static str, id: i64| async move {
        sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_one(pool).await.unwrap()
    };
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE area_id = $1 AND status = 'queued'", area).await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE area_id = $1 AND status = 'running'", area).await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM runs WHERE area_id = $1 AND status IN ('succeeded', 'failed')", area).await,
        KEEP_RUNS_PER_AREA
    );
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE area_id = $1 AND event_key = 'ancient'", area).await, 0);
    for gone in 1..=extra {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE event_key = $1")
            .bind(format!("recent-{gone}"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "the oldest finished runs go first");
    }
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE area_id = $1", other).await, 10);
    assert_eq!(count("SELECT COUNT(*) FROM seen_events WHERE area_id = $1", area).await, KEEP_SEEN_PER_AREA);
    assert_eq!(count("SELECT MIN(seen_at) FROM seen_events WHERE area_id = $1", area).await, 4);

    // Pruning again deletes nothing more.
    assert_eq!(prune(pool, now).await.unwrap(), (0, 0));
}

// Shutdown: a poll in flight when the engine stops is finished (or dropped) before
// `shutdown` returns; nothing is recorded or delivered by a stopped engine afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_nothing_running() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("slow", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[1, 2]));
    feed.set_delay(Duration::from_millis(1500));
    let engine = Engine::start(&env.store, config(true), notifier.clone()).await.unwrap();
    let server = &feed_server;
    wait_for("a poll in flight", Duration::from_secs(5), || async move { received_count(server).await == 2 }).await;
    engine.shutdown().await;
    let runs_at_stop = env.runs(area).await.len();
    let sent_at_stop = received_count(&sink_server).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.runs(area).await.len(), runs_at_stop, "a stopped engine recorded a run");
    assert_eq!(received_count(&sink_server).await, sent_at_stop, "a stopped engine delivered a run");
    // Whatever was not done is picked up by the next engine, exactly once.
    feed.set_delay(Duration::ZERO);
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    assert_eq!(received_count(&sink_server).await, 1);
}

/// Makes every queued run of the store due now (instead of waiting for its backoff).
async fn make_queued_runs_due(env: &Env) {
    sqlx::query("UPDATE runs SET next_attempt_at = $1 WHERE status = 'queued'")
        .bind(now_ms() - 1)
        .execute(env.store.pool())
        .await
        .unwrap();
}

// A run whose second reaction fails resumes after the first one, which is not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_run_resumes_after_the_reactions_already_done() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (first_sink, first_url) = sink(200).await;
    let second_sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sink"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&second_sink)
        .await;
    Mock::given(method("POST")).and(path("/sink")).respond_with(ResponseTemplate::new(200)).mount(&second_sink).await;
    let mut area = json_area("two steps", &feed_url, &first_url);
    area.reactions.push(spec_step(post_reaction(&format!("{}/sink", second_sink.uri()))));
    let area = env.add(area).await;
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[1, 2]));
    run_once(&env, config(true), &notifier).await;
    let run = env.runs(area).await.remove(0);
    assert_eq!(run.status, "queued", "{run:?}");
    assert!(run.error.as_deref().unwrap_or_default().contains("503"), "{run:?}");

    make_queued_runs_due(&env).await;
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    assert_eq!(received_count(&first_sink).await, 1, "the first reaction is not repeated");
    let second = received(&second_sink).await;
    assert_eq!(second.len(), 2);
    assert_eq!(idem_key(&second[0]), idem_key(&second[1]), "a retry carries the same idempotency key");
    assert_eq!(idem_key(&second[0]), idempotency_key(area, "2", 1));
    assert_ne!(idem_key(&received(&first_sink).await[0]), idem_key(&second[0]), "one key per reaction");
}

// Disabling an area settles its pending runs as skipped; enabling it baselines again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_skips_pending_runs_and_enable_baselines_again() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(500).await;
    let area = env.add(json_area("flaky sink", &feed_url, &sink_url)).await;
    run_once(&env, config(true), &notifier).await;
    feed.set(items(&[1, 2]));
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["queued"]);
    let attempts = received_count(&sink_server).await;

    env.areas.set_enabled(env.user_id, area, false).await.unwrap();
    feed.set(items(&[1, 2, 3]));
    make_queued_runs_due(&env).await;
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.statuses(area).await, ["skipped"], "a disabled area's pending run is not delivered");
    assert_eq!(received_count(&sink_server).await, attempts);

    // Item 3 appeared while the area was off: enabling baselines, so it does not fire.
    env.areas.set_enabled(env.user_id, area, true).await.unwrap();
    run_once(&env, config(true), &notifier).await;
    assert_eq!(env.runs(area).await.len(), 1);
    feed.set(items(&[1, 2, 3, 4]));
    run_once(&env, config(true), &notifier).await;
    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].event_key, "4");
}

// 7f. Runs that end in one writer batch are recorded together, yet in the order they were sent:
// a success resets the failure count only for the failures before it, and each run keeps its
// own status, error and summary.
#[tokio::test(flavor = "current_thread")]
async fn runs_finished_in_one_batch_keep_their_order() {
    use area_core::engine::writer::{NewEvent, RunEnd, RunStatus, WriteOp, Writer};
    let env = Env::new().await;
    let area = env.add(json_area("batch", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await;
    let (writer, _task) = Writer::spawn(&env.store, "test-writer", Default::default()).expect("writer");
    let events = (1..=4)
        .map(|n| NewEvent { key: format!("k{n}"), ingredients: Default::default(), skip_reason: None })
        .collect();
    let queued = writer.ingest(area, events, false, None).await.expect("ingest");
    assert_eq!(queued.len(), 4);
    let ends = [
        (RunStatus::Succeeded, None),
        (RunStatus::Failed, Some("boom")),
        (RunStatus::Succeeded, None),
        (RunStatus::Failed, Some("bang")),
    ];
    // No await between the sends: the writer takes them as one batch.
    for (run, (status, error)) in queued.iter().zip(ends) {
        let end = RunEnd {
            run_id: run.run_id,
            area_id: area,
            status,
            reactions_done: u32::from(status == RunStatus::Succeeded),
            error: error.map(str::to_string),
            summary: Some(format!("summary of {}", run.event_key)),
            now_ms: Utc::now().timestamp_millis(),
        };
        assert!(writer.send(WriteOp::Finish { end, pause_after: 2 }));
    }
    writer.flush().await;

    let state = env.state(area).await;
    assert_eq!(state.consecutive_failures, 1, "the success between the failures reset the count: {state:?}");
    assert!(state.paused_reason.is_none(), "two failures, but not in a row: {state:?}");
    assert!(state.last_error.as_deref().unwrap_or_default().contains("bang"), "{state:?}");
    let mut runs = env.runs(area).await;
    runs.sort_by_key(|r| r.id);
    let got: Vec<_> = runs.iter().map(|r| (r.event_key.as_str(), r.status.as_str(), r.error.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("k1", "succeeded", None),
            ("k2", "failed", Some("boom")),
            ("k3", "succeeded", None),
            ("k4", "failed", Some("bang"))
        ]
    );
    assert!(runs.iter().all(|r| r.finished_at.is_some() && r.attempts == 1), "{runs:?}");
    assert!(runs.iter().all(|r| r.summary.as_deref() == Some(&format!("summary of {}", r.event_key))), "{runs:?}");
}

// 7d. A provider that keeps answering 429 slows the poll down and the area says so in words;
// unlike other failures, rate limiting never pauses the area.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_answering_429_is_polled_less_often_and_never_pauses_the_area() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let limited = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(429)).mount(&limited).await;
    let (_sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("limited", &format!("{}/feed", limited.uri()), &sink_url)).await;
    let config = || EngineConfig { pause_after: 2, ..config(true) };
    for _ in 0..4 {
        run_once(&env, config(), &notifier).await;
    }
    let state = env.state(area).await;
    assert_eq!(state.paused_reason, None, "a rate-limited area was paused");
    let error = state.last_error.unwrap_or_default();
    assert!(error.contains("is rate-limiting these requests: Area checks less often for now"), "{error}");
    assert!(error.contains("429"), "{error}");
}

// 7g. The writer remembers which areas it knows to have no failures (so a success does not reset
// them again): a failure in a later batch makes it forget, and the next success resets the
// count again.
#[tokio::test(flavor = "current_thread")]
async fn a_success_after_a_failure_in_a_later_batch_still_resets_the_count() {
    use area_core::engine::writer::{NewEvent, RunEnd, RunStatus, WriteOp, Writer};
    let env = Env::new().await;
    let area = env.add(json_area("batches", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await;
    let (writer, _task) = Writer::spawn(&env.store, "test-writer", Default::default()).expect("writer");
    let events = (1..=3)
        .map(|n| NewEvent { key: format!("k{n}"), ingredients: Default::default(), skip_reason: None })
        .collect();
    let queued = writer.ingest(area, events, false, None).await.expect("ingest");
    let end = |run: &area_core::engine::writer::QueuedRun, status: RunStatus| RunEnd {
        run_id: run.run_id,
        area_id: area,
        status,
        reactions_done: u32::from(status == RunStatus::Succeeded),
        error: (status == RunStatus::Failed).then(|| "boom".to_string()),
        summary: None,
        now_ms: Utc::now().timestamp_millis(),
    };
    // One batch each: flush between the sends.
    for (run, status) in queued.iter().zip([RunStatus::Succeeded, RunStatus::Failed]) {
        assert!(writer.send(WriteOp::Finish { end: end(run, status), pause_after: 5 }));
        writer.flush().await;
    }
    assert_eq!(env.state(area).await.consecutive_failures, 1);
    assert!(writer.send(WriteOp::Finish { end: end(&queued[2], RunStatus::Succeeded), pause_after: 5 }));
    writer.flush().await;
    assert_eq!(env.state(area).await.consecutive_failures, 0, "the success after the failure reset the count");
}

// 7h. A batch the database refuses (here an event for an area that no longer exists) is
// answered with the error and keeps nothing; the writer goes on with the next batch.
#[tokio::test(flavor = "current_thread")]
async fn a_refused_batch_is_answered_with_the_error_and_the_writer_goes_on() {
    use area_core::engine::writer::{NewEvent, Writer};
    let env = Env::new().await;
    let area = env.add(json_area("refused", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await;
    let (writer, _task) = Writer::spawn(&env.store, "test-writer", Default::default()).expect("writer");
    let event = |key: &str| vec![NewEvent { key: key.into(), ingredients: Default::default(), skip_reason: None }];
    let error = writer.ingest(area + 1000, event("gone"), false, None).await.expect_err("no such area");
    assert!(error.contains("could not record to the database"), "{error}");
    let queued = writer.ingest(area, event("k1"), false, None).await.expect("the next batch is recorded");
    assert_eq!(queued.len(), 1);
    let runs = env.runs(area).await;
    assert_eq!(runs.iter().map(|r| r.event_key.as_str()).collect::<Vec<_>>(), ["k1"]);
}

// 7i. Ingests that the writer takes as one batch are written together (on PostgreSQL as a few
// multi-row statements), yet each behaves as if alone and in order: a key repeated by a later
// ingest of the same area fires once, a baseline fires nothing, the budget and the condition
// hold per area, and each caller gets back exactly its own queued runs.
#[tokio::test(flavor = "current_thread")]
async fn ingests_in_one_batch_fire_each_new_key_once_and_answer_each_caller() {
    use area_core::engine::writer::{NewEvent, PollUpdate, WriteOp, Writer};
    let env = Env::new().await;
    let first = env.add(json_area("first", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await;
    let second = env.add(json_area("second", "http://127.0.0.1:9/feed2", "http://127.0.0.1:9/sink")).await;
    let third = env.add(json_area("third", "http://127.0.0.1:9/feed3", "http://127.0.0.1:9/sink")).await;
    let (writer, _task) = Writer::spawn(&env.store, "test-writer", Default::default()).expect("writer");
    let event = |key: &str, skip: Option<&str>| NewEvent {
        key: key.into(),
        ingredients: serde_json::from_value(json!({ "title": format!("title {key}") })).unwrap(),
        skip_reason: skip.map(str::to_string),
    };
    let update = |cursor: Option<Value>, budget: Option<u32>| {
        Some(PollUpdate { cursor, baselined: true, max_new_events: budget, claim: None })
    };
    let ops = vec![
        (third, vec![event("old", None)], true, update(Some(json!("c0")), None)),
        (first, vec![event("a", None), event("b", Some("too short"))], false, update(Some(json!("c1")), None)),
        (second, vec![event("x", None), event("y", None), event("z", None)], false, update(None, Some(1))),
        (first, vec![event("a", None), event("c", None)], false, update(None, None)),
    ];
    let mut replies = Vec::new();
    // No await between the sends: the writer takes them as one batch.
    for (area_id, events, baseline, update) in ops {
        let (reply, rx) = tokio::sync::oneshot::channel();
        assert!(writer.send(WriteOp::Ingest { area_id, events, baseline, update, reply: Some(reply) }));
        replies.push(rx);
    }
    let mut answered = Vec::new();
    for rx in replies {
        let runs = rx.await.expect("answered").expect("recorded");
        answered.push(runs.iter().map(|r| (r.area_id, r.event_key.clone())).collect::<Vec<_>>());
    }
    let pair = |area: i64, key: &str| (area, key.to_string());
    assert_eq!(
        answered,
        [vec![], vec![pair(first, "a")], vec![pair(second, "x")], vec![pair(first, "c")]],
        "each caller gets its own queued runs, and the repeated key fires once"
    );
    let statuses = |runs: Vec<area_core::engine::history::RunRecord>| {
        let mut got: Vec<_> = runs.into_iter().map(|r| (r.event_key, r.status)).collect();
        got.sort();
        got
    };
    let s = |k: &str, st: &str| (k.to_string(), st.to_string());
    assert_eq!(statuses(env.runs(first).await), [s("a", "queued"), s("b", "skipped"), s("c", "queued")]);
    let second_runs = env.runs(second).await;
    assert_eq!(second_runs.len(), 2, "one fired, one says the other two were over the budget: {second_runs:?}");
    assert!(second_runs
        .iter()
        .any(|r| r.status == "skipped" && r.error.as_deref().unwrap_or("").starts_with("2 new items")));
    assert!(env.runs(third).await.is_empty(), "a baseline fires nothing");
    assert_eq!((env.seen_count(first).await, env.seen_count(second).await, env.seen_count(third).await), (3, 3, 1));
    let ingredients = env.runs(first).await.into_iter().find(|r| r.event_key == "a").unwrap().ingredients;
    assert_eq!(ingredients["title"], "title a", "{ingredients}");
    assert_eq!(env.state(first).await.cursor.as_deref(), Some("\"c1\""), "a later ingest without a cursor keeps it");
    assert!(env.state(third).await.baselined);
    assert_eq!(env.state(third).await.cursor.as_deref(), Some("\"c0\""));
}
