//! Quotas planned, not discovered: areas whose polls would exceed their service's documented
//! limit (PRIM's 1,000 general-message calls a day per token) are refused when added, changed or
//! switched on — on their interval field, with the figures and the interval that would fit — and
//! what the enabled areas plan is listed per service.

mod backend;

use area_core::areas::{parse_area_value, AreaError, Areas};
use serde_json::json;

struct Env {
    _dir: tempfile::TempDir,
    areas: Areas,
    user: i64,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = backend::open_store(&dir.path().join("data")).await;
    let user: i64 =
        sqlx::query_scalar("INSERT INTO users (email, created_at) VALUES ('ada@example.com', 0) RETURNING id")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let areas = Areas::new(store.clone(), area_core::services::catalog(&area_core::settings::Settings::empty()));
    Env { _dir: dir, areas, user }
}

/// A RATP disruption area on `line`, polled every `interval` seconds.
fn disruption(line: &str, interval: u32, enabled: bool) -> area_core::areas::AreaSpec {
    let mut specs = parse_area_value(&json!({
        "name": format!("line {line}"),
        "enabled": enabled,
        "interval_secs": interval,
        "action": {"service": "ratp", "id": "disruption", "params": {"line": line}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}"}}]
    }))
    .unwrap();
    specs.remove(0)
}

fn refusal(e: AreaError) -> String {
    assert_eq!(e.field(), Some("interval_secs"), "{e}");
    e.to_string()
}

#[tokio::test]
async fn an_area_that_would_exceed_the_quota_is_refused_with_the_figures_and_the_interval_that_fits() {
    let env = env().await;
    // 720 calls a day of 1,000.
    env.areas.add(env.user, disruption("C01742", 120, true)).await.unwrap();
    let used = env.areas.quota_use(env.user).await.unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!((used[0].service.as_str(), used[0].planned, used[0].limit, used[0].areas), ("ratp", 720, 1_000, 1));

    // Another line every 2 minutes: 1,440 a day.
    let message = refusal(env.areas.add(env.user, disruption("C01743", 120, true)).await.unwrap_err());
    assert!(
        message.contains("2 RATP") && message.contains("1440 calls a day, over the 1000 allowed a day per PRIM token"),
        "{message}"
    );
    // 280 calls remain: one every 309 s, offered as whole minutes.
    assert!(message.contains("use an interval of at least 6 minutes"), "{message}");
    // That interval fits; the same line again shares the first area's poll and costs nothing.
    env.areas.add(env.user, disruption("C01743", 360, true)).await.unwrap();
    env.areas.add(env.user, disruption("C01742", 600, true)).await.unwrap();
    assert_eq!(env.areas.quota_use(env.user).await.unwrap()[0].planned, 720 + 240);
}

#[tokio::test]
async fn switched_off_areas_are_not_counted_until_switched_on() {
    let env = env().await;
    env.areas.add(env.user, disruption("C01742", 120, true)).await.unwrap();
    let off = env.areas.add(env.user, disruption("C01743", 120, false)).await.unwrap();
    let message = refusal(env.areas.set_enabled(env.user, off.id, true).await.unwrap_err());
    assert!(message.contains("1440 calls a day"), "{message}");
    // Changing it to a longer interval is allowed, and then it may be switched on.
    let mut longer = disruption("C01743", 600, false);
    longer.name = "line C01743".into();
    env.areas.update(env.user, off.id, longer).await.unwrap();
    env.areas.set_enabled(env.user, off.id, true).await.unwrap();
    // 720 + 144 planned: a third line at its minimum of 2 minutes would pass the 1,000.
    let third = refusal(env.areas.add(env.user, disruption("C01744", 120, true)).await.unwrap_err());
    assert!(third.contains("3 RATP (Île-de-France Mobilités) areas would make 1584 calls a day"), "{third}");
    assert!(third.contains("use an interval of at least 11 minutes"), "{third}");
}
