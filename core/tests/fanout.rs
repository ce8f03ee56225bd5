//! The fan-out budget (ARCHITECTURE.md "Engine contract", point 7): one poll fires at most
//! `max_events_per_poll` new events per area (default 25); the rest are marked seen, never fire
//! later, and one `skipped` history entry says how many and why.

mod support;

use area_core::areas::spec::DEFAULT_MAX_EVENTS_PER_POLL;
use area_core::engine::Engine;
use serde_json::json;
use support::*;

fn ids(range: std::ops::RangeInclusive<u32>) -> Vec<u32> {
    range.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_new_items_fires_25_and_records_one_skipped_entry() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let area = env.add(json_area("burst", &feed_url, &sink_url)).await;
    Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap(); // baseline

    feed.set(items(&ids(1..=501)));
    let report = Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap();
    assert_eq!(DEFAULT_MAX_EVENTS_PER_POLL, 25);
    assert_eq!(report.runs_delivered, 25, "{report:?}");
    assert_eq!(received_count(&sink_server).await, 25);
    // The first 25 new items in the order the feed lists them.
    let mut fired: Vec<String> =
        received(&sink_server).await.iter().map(|r| body_json(r)["id"].as_str().unwrap().to_string()).collect();
    fired.sort_by_key(|id| id.parse::<u32>().unwrap());
    assert_eq!(fired, ids(2..=26).iter().map(u32::to_string).collect::<Vec<_>>());

    let runs = env.runs(area).await;
    assert_eq!(runs.len(), 26, "25 runs and one entry for the rest");
    assert_eq!(runs.iter().filter(|r| r.status == "succeeded").count(), 25);
    let skipped: Vec<_> = runs.iter().filter(|r| r.status == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{runs:?}");
    let why = skipped[0].error.as_deref().unwrap_or_default();
    assert!(why.contains("475 new items were skipped") && why.contains("limit of 25"), "{why}");
    assert_eq!(env.seen_count(area).await, 501, "every item is marked seen");

    // They never fire later: not on the next poll, not after a restart of the engine.
    let report = Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap();
    assert_eq!(report.runs_queued, 0, "{report:?}");
    assert_eq!(env.runs(area).await.len(), 26);
    assert_eq!(received_count(&sink_server).await, 25);

    // A later new item fires normally.
    feed.set(items(&ids(1..=502)));
    Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap();
    assert_eq!(received_count(&sink_server).await, 26);
    assert_eq!(env.count_runs(area, "skipped").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_set_per_area_and_validated() {
    let env = Env::new().await;
    let notifier = RecordingNotifier::new();
    let (_feed_server, feed, feed_url) = feed_server(items(&[1]), false).await;
    let (sink_server, sink_url) = sink(200).await;
    let area_file = |budget: serde_json::Value| {
        json!({
            "name": "burst",
            "action": {"service": "http", "id": "new_json_items",
                       "params": {"url": feed_url, "items_path": "items", "id_field": "id"}},
            "reactions": [post_reaction(&sink_url)],
            "max_events_per_poll": budget,
        })
    };
    for bad in [json!(0), json!(1001), json!(-3), json!("100"), json!(2.5)] {
        let parsed = area_core::areas::parse_area_value(&area_file(bad.clone()));
        let refused = match parsed {
            Err(e) => e.to_string(),
            Ok(mut specs) => env.areas.add(env.user_id, specs.remove(0)).await.unwrap_err().to_string(),
        };
        assert!(refused.contains("max_events_per_poll"), "{bad}: {refused}");
    }
    let area = env.add(spec(area_file(json!(100)))).await;
    let exported = env.areas.export(env.user_id, area).await.unwrap();
    assert_eq!(exported.max_events_per_poll, Some(100), "the export keeps the area's budget");
    Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap(); // baseline
    feed.set(items(&ids(1..=500)));
    Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap();
    assert_eq!(received_count(&sink_server).await, 100);
    assert_eq!(env.count_runs(area, "succeeded").await, 100);
    let runs = env.runs(area).await;
    let skipped: Vec<_> = runs.iter().filter(|r| r.status == "skipped").collect();
    assert_eq!(skipped.len(), 1);
    let why = skipped[0].error.as_deref().unwrap_or_default();
    assert!(why.contains("399 new items were skipped") && why.contains("limit of 100"), "{why}");

    // Exactly at the budget: nothing is skipped.
    feed.set(items(&ids(1..=600)));
    Engine::run_once(&env.store, config(true), notifier.clone()).await.unwrap();
    assert_eq!(received_count(&sink_server).await, 200);
    assert_eq!(env.count_runs(area, "skipped").await, 1);
}
