//! Work shared through the store: runs are leased to one process, a process that lost a run
//! cannot write it any more (fencing), and on PostgreSQL several engines on one database deliver
//! each queued run once.

mod support;

use std::time::Duration;

use area_core::engine::{Engine, EngineConfig};
use area_core::store::Store;
use serde_json::json;
use support::*;

async fn run_state(env: &Env, area: i64) -> (String, Option<String>) {
    let row: (String, Option<String>) = sqlx::query_as("SELECT status, lease_owner FROM runs WHERE area_id = $1")
        .bind(area)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    row
}

/// A process that held a run too long (stopped, or paused by SIGSTOP) has lost it to another
/// process; when it comes back, its late commit of the outcome changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_by_a_process_that_lost_its_run_is_refused() {
    let env = Env::new().await;
    let (sink_server, reaction) = slow_sink(Duration::from_millis(1500)).await;
    let area = env.add(webhook_area("slow", reaction)).await;
    let token = env.areas.get(env.user_id, area).await.unwrap().webhook_token.unwrap();
    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/hooks/{token}"))
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    let s = &sink_server;
    wait_for("the reaction is being sent", Duration::from_secs(5), || async move { received_count(s).await == 1 })
        .await;
    let (status, owner) = run_state(&env, area).await;
    assert_eq!(status, "queued");
    assert!(owner.is_some(), "the process that accepted the event holds its run");

    // Meanwhile its lease ran out and another process claimed the run (what the retry
    // scanner's claim does: a new owner, a new lease).
    sqlx::query("UPDATE runs SET lease_owner = 'another-process', next_attempt_at = $1 WHERE area_id = $2")
        .bind(chrono::Utc::now().timestamp_millis() + 600_000)
        .bind(area)
        .execute(env.store.pool())
        .await
        .unwrap();
    // The sink answers; the first process records the outcome…
    engine.shutdown().await;
    // …which the store refused: the run is still the other process's, and still to deliver.
    assert_eq!(run_state(&env, area).await, ("queued".to_string(), Some("another-process".to_string())));
}

/// Several engines on one PostgreSQL database (processes on several machines, here in one test
/// process with a data directory each) share the queued runs: each run is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engines_sharing_a_database_deliver_each_queued_run_once() {
    if !support::backend::on_postgres() {
        return; // One SQLite file has one engine (the data directory's lock sees to that).
    }
    const RUNS: i64 = 1200;
    let env = Env::new().await;
    let (sink_server, reaction) = slow_sink(Duration::from_millis(5)).await;
    let area = env.add(webhook_area("shared", reaction)).await;
    let mut engines = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("data"), &env.database).await.unwrap();
        // Room for two runs at a time each: every engine claims again and again, often at the
        // same moment as another, which is what the claim must survive.
        let cfg = EngineConfig { max_concurrent_deliveries: 2, ..config(true) };
        engines.push(Engine::start(&store, cfg, RecordingNotifier::new()).await.unwrap());
        dirs.push((dir, store));
    }
    sqlx::query(
        "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at)
         SELECT $1, 'key-' || n, '{\"n\": ' || n || '}', 'queued', 0, $3 FROM generate_series(1, $2) AS n",
    )
    .bind(area)
    .bind(RUNS)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(env.store.pool())
    .await
    .unwrap();
    let e = &env;
    wait_for("every run delivered", Duration::from_secs(60), || async move {
        e.count_runs(area, "succeeded").await == RUNS as usize
    })
    .await;
    for engine in engines {
        engine.shutdown().await;
    }
    let sent = received(&sink_server).await;
    let mut keys: Vec<String> = sent.iter().map(idem_key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), RUNS as usize, "every run reached the sink");
    assert_eq!(sent.len(), RUNS as usize, "and none twice");
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT lease_owner) FROM runs WHERE area_id = $1 AND status = 'succeeded'")
            .bind(area)
            .fetch_one(env.store.pool())
            .await
            .unwrap();
    assert!(owners >= 2, "the work was shared ({owners} engine(s) delivered)");
}

/// Several engines on one PostgreSQL database read each upstream resource once per interval
/// between them (with its ETag), and every new item fires once, whichever engine read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engines_sharing_a_database_read_each_feed_once_per_interval() {
    if !support::backend::on_postgres() {
        return;
    }
    const AREAS_PER_FEED: usize = 5;
    let env = Env::new().await;
    let (sink_server, sink_url) = sink(200).await;
    let mut feeds = Vec::new();
    let mut areas = Vec::new();
    for f in 0..2 {
        let (server, feed, url) = feed_server(items(&[1, 2]), true).await;
        // The first read is slow: every engine has loaded the areas (not yet baselined) by the
        // time it is recorded.
        feed.set_delay(Duration::from_millis(800));
        for a in 0..AREAS_PER_FEED {
            let area = env.add(json_area(&format!("feed {f} area {a}"), &url, &sink_url)).await;
            env.set_interval(area, 1).await;
            areas.push(area);
        }
        feeds.push((server, feed));
    }
    let started = std::time::Instant::now();
    let mut engines = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("data"), &env.database).await.unwrap();
        engines.push(Engine::start(&store, config(true), RecordingNotifier::new()).await.unwrap());
        dirs.push((dir, store));
    }
    let e = &env;
    let first = areas[0];
    wait_for("the first read baselined the areas", Duration::from_secs(10), || async move {
        e.state(first).await.baselined
    })
    .await;
    // The engine that has been reading the feeds stops; another takes over, whose own view of
    // the areas is from before the first read (it must take theirs from the store, or it would
    // take the new items for a baseline and fire nothing).
    let reader: String =
        sqlx::query_scalar("SELECT owner FROM poll_claims LIMIT 1").fetch_one(env.store.pool()).await.unwrap();
    let at = engines.iter().position(|engine| engine.owner() == reader).expect("an engine read the feeds");
    engines.remove(at).shutdown().await;
    for (_, feed) in &feeds {
        feed.set_delay(Duration::ZERO);
        feed.set(items(&[1, 2, 3, 4]));
    }
    let sink = &sink_server;
    let expected = 2 * AREAS_PER_FEED * 2; // two new items in each feed, for each of its areas
    wait_for(
        "every new item delivered",
        Duration::from_secs(15),
        || async move { received_count(sink).await >= expected },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // a few more intervals: nothing more fires
    for engine in engines {
        engine.shutdown().await;
    }
    let elapsed = started.elapsed().as_secs_f64();

    assert_eq!(received_count(&sink_server).await, expected, "each new item fired once for each area");
    let intervals = elapsed.ceil() as usize;
    for (server, _) in &feeds {
        let reads = received(server).await;
        // At most one read per interval (and one for the interval in progress); three engines
        // reading on their own would make three.
        assert!(reads.len() <= intervals + 1, "{} reads in {elapsed:.1} s of 1 s intervals", reads.len());
        let conditional = reads.iter().filter(|r| r.headers.get("if-none-match").is_some()).count();
        assert!(conditional * 2 >= reads.len(), "reads carry the last answer's ETag: {conditional} of {}", reads.len());
    }
}

/// An area added through one process reaches an engine in another at once (the database
/// notifies it), not at the engine's next look at the areas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_added_elsewhere_reaches_a_running_engine_at_once() {
    if !support::backend::on_postgres() {
        return;
    }
    let env = Env::new().await;
    let (feed_server, _feed, feed_url) = feed_server(items(&[1]), false).await;
    let (_sink_server, sink_url) = sink(200).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(&dir.path().join("data"), &env.database).await.unwrap();
    // It would look at the areas again only in a minute.
    let cfg = EngineConfig { reload_every: Duration::from_secs(60), ..config(true) };
    let engine = Engine::start(&store, cfg, RecordingNotifier::new()).await.unwrap();
    let e = &env;
    wait_for("the engine listens", Duration::from_secs(5), || async move {
        let listening: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_one(e.store.pool())
        .await
        .unwrap();
        listening > 0
    })
    .await;
    env.add(json_area("added elsewhere", &feed_url, &sink_url)).await;
    let server = &feed_server;
    wait_for("the engine reads the new area's feed", Duration::from_secs(2), || async move {
        received_count(server).await >= 1
    })
    .await;
    engine.shutdown().await;
}

/// The database stops for 10 s under a stream of webhooks and starts again: events sent
/// meanwhile are refused (503: the sender retries them), none that was acknowledged is lost, and
/// the engine goes on by itself once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_loses_nothing_acknowledged() {
    if !support::backend::on_postgres() {
        return;
    }
    let cluster = support::backend::Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let database = area_core::store::Database::Postgres(cluster.url.clone());
    let store = Store::open_with(&dir.path().join("data"), &database).await.unwrap();
    let hasher = area_core::accounts::PasswordHasher::new(argon2::Params::new(256, 1, 1, None).unwrap());
    let user = area_core::accounts::Accounts::new(store.clone())
        .with_hasher(hasher)
        .register("ada@example.com", "correct horse")
        .await
        .unwrap();
    let areas = area_core::areas::Areas::new(
        store.clone(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    );
    let (sink_server, reaction) = slow_sink(Duration::ZERO).await;
    let area = areas.add(user.id, webhook_area("through an outage", reaction)).await.unwrap();
    let token = areas.get(user.id, area.id).await.unwrap().webhook_token.unwrap();
    let mut cfg = config(true);
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    let engine = Engine::start(&store, cfg, RecordingNotifier::new()).await.unwrap();
    let url = format!("http://{}/hooks/{token}", engine.webhook_addr().unwrap());

    // A steady sender: every 20 ms one event, numbered; it notes which ones were acknowledged.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let (mut acknowledged, mut refused) = (Vec::new(), 0u32);
        for n in 0u32.. {
            match client.post(&url).json(&json!({"n": n})).send().await {
                Ok(answer) if answer.status().as_u16() == 202 => acknowledged.push(n),
                _ => refused += 1,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = stop_rx.changed() => break,
            }
        }
        (acknowledged, refused)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.pause();
    tokio::time::sleep(Duration::from_secs(10)).await;
    cluster.resume();
    let sink = &sink_server;
    // Back to acknowledging: the sink hears of events sent after the restart.
    let before = received_count(sink).await;
    wait_for("deliveries after the restart", Duration::from_secs(15), || async move {
        received_count(sink).await > before + 20
    })
    .await;
    let _ = stop_tx.send(true);
    let (acknowledged, refused) = sender.await.unwrap();
    assert!(refused > 0, "events sent while the database was down were refused");
    let expected = acknowledged.len();
    wait_for("every acknowledged event delivered", Duration::from_secs(15), || async move {
        received_count(sink).await >= expected
    })
    .await;
    engine.shutdown().await;
    let delivered: std::collections::HashSet<String> = received(&sink_server)
        .await
        .iter()
        .map(|r| body_json(r)["n"].as_str().unwrap_or_default().to_string())
        .collect();
    let lost: Vec<&u32> = acknowledged.iter().filter(|n| !delivered.contains(&n.to_string())).collect();
    assert!(lost.is_empty(), "acknowledged but never delivered: {lost:?}");
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE area_id = $1")
        .bind(area.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(recorded >= expected as i64, "every acknowledged event is recorded ({recorded} of {expected})");
    eprintln!("outage: {expected} acknowledged, {refused} refused, {recorded} recorded, none lost");
}

/// Every process on one PostgreSQL database must use the same master key: the first one seals a
/// known text with its key, and a process with another key is refused before it can seal
/// credentials nobody else can open.
#[tokio::test]
async fn a_process_with_another_master_key_is_refused() {
    if !support::backend::on_postgres() {
        return;
    }
    use area_core::app::{App, ErrorCode, Startup};
    use area_core::settings::{Settings, DATABASE_URL, MASTER_KEY};
    let area_core::store::Database::Postgres(url) = support::backend::fresh_database().await else {
        unreachable!("on PostgreSQL")
    };
    let open = |key: Option<&'static str>| {
        let url = url.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut settings = Settings::from_pairs([(DATABASE_URL, url.as_str())]);
            if let Some(key) = key {
                settings = settings.with(MASTER_KEY, key);
            }
            let startup = Startup::new(dir.path().join("data"), settings);
            App::open_without_engine(startup, RecordingNotifier::new()).await.map(|_| ())
        }
    };
    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const OTHER: &str = "0202020202020202020202020202020202020202020202020202020202020202";
    let without = open(None).await.expect_err("no key of its own on a shared database");
    assert_eq!(without.code, ErrorCode::Settings);
    open(Some(KEY)).await.expect("the first process sets the key");
    open(Some(KEY)).await.expect("the same key again");
    let other = open(Some(OTHER)).await.expect_err("another key is refused");
    assert_eq!(other.code, ErrorCode::Settings);
    assert!(other.message.contains("not the one the other Area processes"), "{}", other.message);
}

/// `area database copy`: one server's embedded database copied into an empty PostgreSQL
/// database holds the same data there, ids kept: the user, the area and its flags, the seen
/// keys, the history, and the sealed connection (opened with the same key). New rows get ids
/// after the copied ones, a second copy into the filled database is refused, and so is a
/// process with another master key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_database_copied_to_postgres_keeps_everything() {
    if !support::backend::on_postgres() {
        return;
    }
    use area_core::accounts::{Accounts, PasswordHasher};
    use area_core::app::{App, ErrorCode, Startup};
    use area_core::connections::{Connections, MasterKey, Secret};
    use area_core::engine::history::list_runs;
    use area_core::engine::writer::{NewEvent, PollUpdate, Writer};
    use area_core::settings::{Settings, DATABASE_URL, MASTER_KEY};
    use area_core::store::Database;
    const KEY: &str = "0303030303030303030303030303030303030303030303030303030303030303";
    const OTHER: &str = "0404040404040404040404040404040404040404040404040404040404040404";

    // The server's data, made through its own APIs on its embedded store.
    let server = tempfile::tempdir().unwrap();
    let data = server.path().join("data");
    let settings = Settings::from_pairs([(MASTER_KEY, KEY)]);
    let catalog = area_core::services::catalog(&settings);
    let source = Store::open(&data).await.unwrap();
    let hasher = PasswordHasher::new(argon2::Params::new(256, 1, 1, None).unwrap());
    let user =
        Accounts::new(source.clone()).with_hasher(hasher).register("ada@example.com", "correct horse").await.unwrap();
    let areas = area_core::areas::Areas::new(source.clone(), catalog.clone());
    let area =
        areas.add(user.id, json_area("copied", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await.unwrap().id;
    let (writer, _task) = Writer::spawn(&source, "server", Default::default()).unwrap();
    let event = |key: &str| NewEvent {
        key: key.into(),
        ingredients: serde_json::from_value(json!({ "title": format!("item {key}") })).unwrap(),
        skip_reason: None,
    };
    let update =
        Some(PollUpdate { cursor: Some(json!({ "after": 2 })), baselined: true, max_new_events: None, claim: None });
    writer.ingest(area, vec![event("1"), event("2")], false, update).await.unwrap();
    drop(writer);
    let key = MasterKey::load_with(&data, &settings).unwrap();
    let secret = Secret::ApiKey { key: "ghp_copied_secret".into() };
    Connections::new(source.clone(), key, catalog.clone())
        .save(user.id, "github", &secret, Some("ada"), None)
        .await
        .unwrap();
    let runs_before = list_runs(source.pool(), user.id, None, 100).await.unwrap();
    source.close().await;

    let Database::Postgres(url) = support::backend::fresh_database().await else { unreachable!("on PostgreSQL") };
    let app =
        App::open_without_engine(Startup::new(data.clone(), settings.clone()), RecordingNotifier::new()).await.unwrap();
    let report = app.copy_database_to(&url).await.expect("copy");
    let rows = |table: &str| report.tables.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
    assert_eq!(
        (rows("users"), rows("areas"), rows("seen_events"), rows("runs"), rows("connections")),
        (Some(1), Some(1), Some(2), Some(2), Some(1)),
        "{report:?}"
    );
    let again = app.copy_database_to(&url).await.expect_err("the database is not empty any more");
    assert_eq!(again.code, ErrorCode::Conflict);
    assert!(again.message.contains("already holds Area data"), "{}", again.message);

    // A process of the cluster, with the same key, sees the same data.
    let node = tempfile::tempdir().unwrap();
    let target = Store::open_with(&node.path().join("data"), &Database::Postgres(url.clone())).await.unwrap();
    let runs_after = list_runs(target.pool(), user.id, None, 100).await.unwrap();
    let summary = |runs: &[area_core::engine::history::RunRecord]| {
        runs.iter().map(|r| (r.id, r.event_key.clone(), r.status.clone(), r.ingredients.clone())).collect::<Vec<_>>()
    };
    assert_eq!(summary(&runs_after), summary(&runs_before));
    let copied = area_core::areas::Areas::new(target.clone(), catalog.clone());
    let detail = copied.get(user.id, area).await.unwrap();
    assert!(detail.summary.enabled, "{detail:?}");
    let state: (i64, Option<String>) =
        sqlx::query_as("SELECT CAST(baselined AS INTEGER), cursor FROM areas WHERE id = $1")
            .bind(area)
            .fetch_one(target.pool())
            .await
            .unwrap();
    assert_eq!(state, (1, Some(json!({ "after": 2 }).to_string())));
    let key = MasterKey::load_with(&node.path().join("data"), &settings).unwrap();
    let connection = Connections::new(target.clone(), key, catalog.clone()).get(user.id, "github").await.unwrap();
    match connection.map(|c| c.secret) {
        Some(Secret::ApiKey { key }) => assert_eq!(key, "ghp_copied_secret"),
        other => panic!("the sealed connection did not open: {other:?}"),
    }
    let next = copied.add(user.id, json_area("new", "http://127.0.0.1:9/feed2", "http://127.0.0.1:9/sink")).await;
    assert!(next.expect("a new area after the copy").id > area, "ids continue after the copied ones");

    let other = Settings::from_pairs([(DATABASE_URL, url.as_str()), (MASTER_KEY, OTHER)]);
    let refused = App::open_without_engine(Startup::new(node.path().join("other"), other), RecordingNotifier::new())
        .await
        .map(|_| ())
        .expect_err("the cluster's key is the copied server's");
    assert_eq!(refused.code, ErrorCode::Settings);
}

/// A process that read a feed under its poll claim and then stalled past it (paused, cut off)
/// cannot move the area's cursor back over what a newer reader stored: its poll result is
/// stored only while it still holds the claim. Its events are still recorded (they are real;
/// the seen keys drop repeats).
#[tokio::test(flavor = "current_thread")]
async fn a_poll_result_stored_after_losing_the_claim_does_not_move_the_cursor() {
    use area_core::engine::writer::{NewEvent, PollUpdate, Writer};
    let env = Env::new().await;
    let area = env.add(json_area("claimed", "http://127.0.0.1:9/feed", "http://127.0.0.1:9/sink")).await;
    let resource: std::sync::Arc<str> = "resource-of-the-feed".into();
    let set_claim = |owner: &'static str| {
        let pool = env.store.pool().clone();
        let resource = resource.clone();
        async move {
            sqlx::query(
                "INSERT INTO poll_claims (resource, due_at, owner) VALUES ($1, 0, $2)
                 ON CONFLICT (resource) DO UPDATE SET owner = $2",
            )
            .bind(resource.as_ref())
            .bind(owner)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let (stalled, _task) = Writer::spawn(&env.store, "process-a", Default::default()).unwrap();
    let update = |cursor: i64| {
        Some(PollUpdate {
            cursor: Some(json!({ "after": cursor })),
            baselined: true,
            max_new_events: None,
            claim: Some(resource.clone()),
        })
    };
    let event = |key: &str| vec![NewEvent { key: key.into(), ingredients: Default::default(), skip_reason: None }];

    set_claim("process-a").await;
    stalled.ingest(area, event("1"), false, update(1)).await.unwrap();
    assert_eq!(env.state(area).await.cursor.as_deref(), Some(r#"{"after":1}"#), "the holder's result is stored");

    // Process B claims the feed and stores a newer cursor; then A's stalled result arrives.
    set_claim("process-b").await;
    let (newer, _task_b) = Writer::spawn(&env.store, "process-b", Default::default()).unwrap();
    newer.ingest(area, event("3"), false, update(3)).await.unwrap();
    let queued = stalled.ingest(area, event("2"), false, update(2)).await.unwrap();
    assert_eq!(env.state(area).await.cursor.as_deref(), Some(r#"{"after":3}"#), "A moved B's cursor back");
    assert_eq!(queued.len(), 1, "A's new event is still recorded");
    assert_eq!(env.seen_count(area).await, 3);
}
