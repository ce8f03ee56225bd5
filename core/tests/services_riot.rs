//! `riot` service: Riot ID parsing, the lookup-then-poll requests (PUUID kept in the cursor),
//! reading documented account-v1 / match-v5 / league-v4 answers, error mappings, and engine
//! end-to-end tests.
//!
//! `AREA_RIOT_BASE_URL` is process-global: tests that need the fake API share ONE mock server
//! (the variable set once) and use their own Riot IDs / PUUIDs. No mock uses `with_priority`:
//! wiremock 0.6 re-sorts its mock list by priority, which breaks scoped guards of other tests.

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, HttpResponseData, PollContext, PollOutput, PolledAction,
};
use area_core::services::riot;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;

const KEY: &str = "RGAPI-00000000-test-key";

static SERVER: OnceCell<MockServer> = OnceCell::const_new();

/// The settings pointing the services at the fake server (none until it started).
static SETTINGS: std::sync::OnceLock<area_core::settings::Settings> = std::sync::OnceLock::new();

fn settings() -> area_core::settings::Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

async fn server() -> &'static MockServer {
    SERVER
        .get_or_init(|| async {
            let server = MockServer::start().await;
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([("AREA_RIOT_BASE_URL", server.uri())]));
            server
        })
        .await
}

fn action(id: &str) -> Arc<dyn PolledAction> {
    match riot::service(&settings()).actions.get(id) {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("riot.{id} is not polled"),
    }
}

fn resp(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData { status, headers: vec![], body: body.as_bytes().to_vec() }
}

fn read(id: &str, p: &Value, cursor: Option<&Value>, key: &str, body: &str) -> Result<PollOutput, ConnectorError> {
    let p = params(p.clone());
    let cred = Credential::ApiKey(key.into());
    action(id).read(&PollContext { params: &p, cursor, credential: Some(&cred) }, &resp(200, body))
}

fn request_url(id: &str, p: &Value, cursor: Option<&Value>, key: &str) -> Result<String, ConnectorError> {
    let p = params(p.clone());
    let cred = Credential::ApiKey(key.into());
    action(id).request(&PollContext { params: &p, cursor, credential: Some(&cred) }).map(|r| {
        assert!(r.headers.contains(&("X-Riot-Token".to_string(), key.to_string())), "{:?}", r.headers);
        r.url
    })
}

#[test]
fn manifest_says_development_keys_expire() {
    let s = riot::service(&settings());
    assert_eq!(s.manifest.id, "riot");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    match &s.manifest.availability {
        Availability::Limited(reason) => assert!(reason.contains("expire every 24 hours"), "{reason}"),
        other => panic!("expected Limited, got {other:?}"),
    }
    assert!(s.reactions.is_empty());
    let ids: Vec<&str> = s.manifest.actions.iter().map(|a| a.id).collect();
    assert_eq!(ids, ["new_match", "rank_changed"]);
}

#[test]
fn riot_ids_hosts_and_match_links() {
    let id = riot::parse_riot_id(" Café Crème#EUW ").unwrap();
    assert_eq!((id.game_name.as_str(), id.tag_line.as_str()), ("Café Crème", "EUW"));
    for bad in ["a#b#KR1", "Faker", "#KR1", "Faker#", "Faker#TOOLONG", "Faker#K/1", "ThisNameIsWayTooLong#EUW"] {
        assert!(matches!(riot::parse_riot_id(bad), Err(ConnectorError::BadParams { .. })), "{bad}");
    }
    assert_eq!(riot::routing_host("europe"), "https://europe.api.riotgames.com");
    assert_eq!(riot::routing_host("euw1"), "https://euw1.api.riotgames.com");
    assert_eq!(riot::region_of_platform("na1"), "americas");
    assert_eq!(riot::region_of_platform("kr"), "asia");
    assert_eq!(riot::region_of_platform("oc1"), "sea");
    assert_eq!(riot::region_of_platform("euw1"), "europe");
    assert_eq!(riot::match_url("EUW1_7123456789"), "https://www.leagueofgraphs.com/match/euw/7123456789");
    assert_eq!(riot::match_url("weird"), "");
}

#[tokio::test]
async fn new_match_looks_the_riot_id_up_then_polls_matches_since_then() {
    let base = server().await.uri();
    let p = json!({"riot_id": "Café Crème#EUW", "region": "europe"});
    // 1. No cursor: the account lookup, the name percent-encoded.
    let url = request_url("new_match", &p, None, KEY).unwrap();
    assert_eq!(url, format!("{base}/riot/account/v1/accounts/by-riot-id/Caf%C3%A9%20Cr%C3%A8me/EUW"));
    // 2. Its answer (extra fields) becomes the cursor; nothing fires.
    let account = r#"{"puuid": "pUuId_Abc-123", "gameName": "Café Crème", "tagLine": "EUW", "extra": null}"#;
    let out = read("new_match", &p, None, KEY, account).unwrap();
    assert!(out.events.is_empty());
    let cursor = out.cursor.expect("the PUUID is kept");
    assert_eq!(cursor["puuid"], json!("pUuId_Abc-123"));
    assert_eq!(cursor["riot_id"], json!("Café Crème#EUW"));
    let since = cursor["since"].as_i64().unwrap();
    assert!((since - chrono::Utc::now().timestamp()).abs() < 60);
    assert!(!cursor.to_string().contains(KEY), "only a fingerprint of the key is kept");
    // The same lookup answered again (a daemon that has not reloaded yet) keeps the cursor.
    let again = read("new_match", &p, Some(&cursor), KEY, account).unwrap();
    assert!(again.events.is_empty());
    assert_eq!(again.cursor.as_ref(), Some(&cursor));
    // 3. With the cursor: the match ids since the lookup.
    let url = request_url("new_match", &p, Some(&cursor), KEY).unwrap();
    assert_eq!(
        url,
        format!("{base}/lol/match/v5/matches/by-puuid/pUuId_Abc-123/ids?startTime={since}&start=0&count=20")
    );
    // Another Riot ID or another project's key: look up again.
    let other = json!({"riot_id": "Someone#EUW"});
    assert!(request_url("new_match", &other, Some(&cursor), KEY).unwrap().contains("/by-riot-id/Someone/EUW"));
    assert!(request_url("new_match", &p, Some(&cursor), "RGAPI-other").unwrap().contains("/by-riot-id/"));
    // 4. A PUUID parameter skips the lookup (and the engine's own baseline applies).
    let direct = json!({"riot_id": "Caps#EUW", "puuid": "direct-puuid"});
    assert_eq!(
        request_url("new_match", &direct, None, KEY).unwrap(),
        format!("{base}/lol/match/v5/matches/by-puuid/direct-puuid/ids?start=0&count=20")
    );
    let bad = json!({"riot_id": "Caps#EUW", "puuid": "a/../b"});
    assert!(matches!(request_url("new_match", &bad, None, KEY), Err(ConnectorError::BadParams { .. })));
    let bad = json!({"riot_id": "Caps#EUW", "region": "mars"});
    assert!(matches!(request_url("new_match", &bad, None, KEY), Err(ConnectorError::BadParams { .. })));
    // No connection: reconnect.
    let pp = params(p.clone());
    assert!(matches!(
        action("new_match").request(&PollContext { params: &pp, cursor: None, credential: None }),
        Err(ConnectorError::AuthExpired { .. })
    ));
}

#[test]
fn reads_match_ids_as_events() {
    let p = json!({"riot_id": "Caps#EUW", "puuid": "x"});
    let out = read("new_match", &p, None, KEY, r#"["EUW1_7123456790", "EUW1_7123456789", 42, ""]"#).unwrap();
    let keys: Vec<&str> = out.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["EUW1_7123456790", "EUW1_7123456789"]);
    let e = &out.events[0].ingredients;
    assert_eq!(e["match_id"], json!("EUW1_7123456790"));
    assert_eq!(e["riot_id"], json!("Caps#EUW"));
    assert_eq!(e["url"], json!("https://www.leagueofgraphs.com/match/euw/7123456790"));
    assert!(read("new_match", &p, None, KEY, "[]").unwrap().events.is_empty());
    // Error bodies in a 200 and wrong shapes are errors.
    let forbidden = r#"{"status": {"message": "Forbidden", "status_code": 403}}"#;
    assert!(matches!(read("new_match", &p, None, KEY, forbidden), Err(ConnectorError::AuthExpired { .. })));
    let not_found = r#"{"status": {"message": "Data not found - match file not found", "status_code": 404}}"#;
    assert!(matches!(read("new_match", &p, None, KEY, not_found), Err(ConnectorError::BadResponse { .. })));
    assert!(matches!(read("new_match", &p, None, KEY, "<html/>"), Err(ConnectorError::BadResponse { .. })));
    assert!(matches!(
        read("new_match", &p, None, KEY, r#"{"gameName": "x"}"#),
        Err(ConnectorError::BadResponse { .. })
    ));
}

#[test]
fn errors_are_classified_and_name_the_riot_id() {
    let p = params(json!({"riot_id": "Nobody#EUW"}));
    let cred = Credential::ApiKey(KEY.into());
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let a = action("new_match");
    let body = |code: u16, msg: &str| json!({"status": {"message": msg, "status_code": code}}).to_string();
    assert_eq!(a.error_for("riot", &ctx, &resp(401, &body(401, "Unauthorized"))).class(), ErrorClass::NeedsReconnect);
    assert_eq!(
        a.error_for("riot", &ctx, &resp(403, &body(403, "Forbidden"))).class(),
        ErrorClass::NeedsReconnect,
        "Riot answers an expired development key with 403"
    );
    let e = a.error_for(
        "riot",
        &ctx,
        &resp(404, &body(404, "Data not found - No results found for player with riot id Nobody#EUW")),
    );
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("Riot ID Nobody#EUW not found"), "{e}");
    let mut limited = resp(429, &body(429, "Rate limit exceeded"));
    limited.headers.push(("retry-after".into(), "7".into()));
    assert_eq!(
        a.error_for("riot", &ctx, &limited).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(7)) }
    );
    assert!(matches!(a.error_for("riot", &ctx, &resp(503, "")).class(), ErrorClass::Retryable { .. }));
}

fn entry(queue: &str, tier: &str, rank: &str, lp: i64, wins: i64, losses: i64) -> Value {
    json!({"leagueId": "0d5a6a1e-0000", "queueType": queue, "tier": tier, "rank": rank, "puuid": "p",
           "leaguePoints": lp, "wins": wins, "losses": losses, "veteran": false, "inactive": false,
           "freshBlood": true, "hotStreak": false, "miniSeries": null})
}

#[test]
fn rank_changes_fire_against_the_cursor() {
    let p = json!({"riot_id": "Caps#EUW", "platform": "euw1", "puuid": "p"});
    let first = json!([entry("RANKED_SOLO_5x5", "GOLD", "II", 42, 10, 8)]).to_string();
    let out = read("rank_changed", &p, None, KEY, &first).unwrap();
    assert!(out.events.is_empty(), "the first read records, fires nothing");
    let cursor = out.cursor.unwrap();
    // Unchanged: nothing, same cursor.
    let same = read("rank_changed", &p, Some(&cursor), KEY, &first).unwrap();
    assert!(same.events.is_empty());
    assert_eq!(same.cursor.as_ref(), Some(&cursor));
    // LP change + a first placement in flex (extra fields, unicode-free ids).
    let next =
        json!([entry("RANKED_SOLO_5x5", "GOLD", "I", 3, 11, 8), entry("RANKED_FLEX_SR", "SILVER", "IV", 0, 5, 5)])
            .to_string();
    let out = read("rank_changed", &p, Some(&cursor), KEY, &next).unwrap();
    assert_eq!(out.events.len(), 2);
    let solo = &out.events[0];
    assert_eq!(solo.key, "RANKED_SOLO_5x5:GOLD:I:3:11-8");
    assert_eq!(solo.ingredients["tier"], json!("GOLD"));
    assert_eq!(solo.ingredients["rank"], json!("I"));
    assert_eq!(solo.ingredients["lp"], json!(3));
    assert_eq!(solo.ingredients["previous_rank"], json!("II"));
    assert_eq!(solo.ingredients["previous_lp"], json!(42));
    assert_eq!(solo.ingredients["wins"], json!(11));
    assert_eq!(solo.ingredients["riot_id"], json!("Caps#EUW"));
    assert_eq!(out.events[1].ingredients["previous_tier"], json!("UNRANKED"));
    // A queue filter ignores the other queue.
    let only_flex = json!({"riot_id": "Caps#EUW", "puuid": "p", "queue": "RANKED_FLEX_SR"});
    let out = read("rank_changed", &only_flex, Some(&cursor), KEY, &next).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].ingredients["queue"], json!("RANKED_FLEX_SR"));
    // Unranked answer, error bodies.
    assert!(read("rank_changed", &p, Some(&cursor), KEY, "[]").unwrap().events.is_empty());
    let unauthorized = r#"{"status": {"message": "Unauthorized", "status_code": 401}}"#;
    assert!(matches!(read("rank_changed", &p, None, KEY, unauthorized), Err(ConnectorError::AuthExpired { .. })));
}

#[tokio::test]
async fn rank_changed_asks_the_platform_host_after_the_lookup() {
    let base = server().await.uri();
    let p = json!({"riot_id": "Caps#EUW", "platform": "kr"});
    assert!(request_url("rank_changed", &p, None, KEY).unwrap().starts_with(&format!("{base}/riot/account/v1/")));
    let out = read("rank_changed", &p, None, KEY, r#"{"puuid": "pk", "gameName": "Caps", "tagLine": "EUW"}"#).unwrap();
    let cursor = out.cursor.unwrap();
    assert_eq!(
        request_url("rank_changed", &p, Some(&cursor), KEY).unwrap(),
        format!("{base}/lol/league/v4/entries/by-puuid/pk")
    );
    // The first entries read after the lookup keeps the PUUID and fires nothing.
    let out = read(
        "rank_changed",
        &p,
        Some(&cursor),
        KEY,
        &json!([entry("RANKED_SOLO_5x5", "IRON", "IV", 1, 0, 1)]).to_string(),
    )
    .unwrap();
    assert!(out.events.is_empty());
    assert_eq!(out.cursor.unwrap()["puuid"], json!("pk"));
}

async fn engine_env(key: &str) -> support::Env {
    use area_core::connections::{Connections, MasterKey, Secret};
    let env = support::Env::new().await;
    let connections = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings()),
    );
    connections.save(env.user_id, "riot", &Secret::ApiKey { key: key.into() }, None, None).await.unwrap();
    env
}

/// Through the real engine: "new match of a Riot ID → notification". Poll 1 looks the Riot ID
/// up (the baseline), poll 2 finds no match since, poll 3 a new match that fires once, poll 4
/// the same list that fires nothing.
#[tokio::test]
async fn new_match_end_to_end() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("RGAPI-e2e").await;
    let _lookup = Mock::given(method("GET"))
        .and(path("/riot/account/v1/accounts/by-riot-id/Zo%C3%A9/EUW"))
        .and(header("x-riot-token", "RGAPI-e2e"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"puuid": "e2e-puuid", "gameName": "Zoé", "tagLine": "EUW"})),
        )
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let ids_path = "/lol/match/v5/matches/by-puuid/e2e-puuid/ids";
    let empty = Mock::given(method("GET"))
        .and(path(ids_path))
        .and(header("x-riot-token", "RGAPI-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let later = Mock::given(method("GET"))
        .and(path(ids_path))
        .and(header("x-riot-token", "RGAPI-e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["EUW1_7000000001"])))
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "new games",
            "action": {"service": "riot", "id": "new_match", "params": {"riot_id": "Zoé#EUW", "region": "europe"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ riot_id }} played {{ match_id }}", "body": "{{ url }}"}}]
        })))
        .await;
    let recorder = support::RecordingNotifier::new();
    for _ in 0..4 {
        let report =
            Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(env.state(area).await.last_error, None);
    }
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(
        shown,
        [(
            "Zoé#EUW played EUW1_7000000001".to_string(),
            "https://www.leagueofgraphs.com/match/euw/7000000001".to_string()
        )]
    );
    assert_eq!(env.statuses(area).await, ["succeeded"]);
    // The match list was asked with startTime = the lookup time.
    let asked = later.received_requests().await;
    assert_eq!(asked.len(), 2);
    assert!(asked[0].url.query_pairs().any(|(k, _)| k == "startTime"), "{}", asked[0].url);
    drop(empty);
}

/// Through the real engine, with a `puuid` parameter: the first entries read is the baseline,
/// an LP change fires once.
#[tokio::test]
async fn rank_changed_end_to_end() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("RGAPI-e2e-rank").await;
    let entries_path = "/lol/league/v4/entries/by-puuid/rank-e2e";
    let first = Mock::given(method("GET"))
        .and(path(entries_path))
        .and(header("x-riot-token", "RGAPI-e2e-rank"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([entry(
            "RANKED_SOLO_5x5",
            "PLATINUM",
            "III",
            75,
            30,
            20
        )])))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let later = Mock::given(method("GET"))
        .and(path(entries_path))
        .and(header("x-riot-token", "RGAPI-e2e-rank"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([entry(
            "RANKED_SOLO_5x5",
            "PLATINUM",
            "II",
            0,
            31,
            20
        )])))
        .mount_as_scoped(srv)
        .await;
    env.add(support::spec(json!({
        "name": "rank",
        "action": {"service": "riot", "id": "rank_changed", "params": {"riot_id": "Caps#EUW", "platform": "euw1", "puuid": "rank-e2e"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ previous_tier }} {{ previous_rank }} → {{ tier }} {{ rank }} ({{ lp }} LP)"}}]
    })))
    .await;
    let recorder = support::RecordingNotifier::new();
    for _ in 0..3 {
        let report =
            Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles, ["PLATINUM III → PLATINUM II (0 LP)"]);
    drop(first);
    drop(later);
}

/// Under the daemon (not `run --once`), with a `puuid` parameter: the first poll baselines and
/// a new match fires once while the engine keeps polling.
#[tokio::test]
async fn new_match_with_a_puuid_under_the_daemon() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("RGAPI-daemon").await;
    let ids_path = "/lol/match/v5/matches/by-puuid/daemon-puuid/ids";
    let _first = Mock::given(method("GET"))
        .and(path(ids_path))
        .and(header("x-riot-token", "RGAPI-daemon"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["EUW1_1"])))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let _later = Mock::given(method("GET"))
        .and(path(ids_path))
        .and(header("x-riot-token", "RGAPI-daemon"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["EUW1_2", "EUW1_1"])))
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "daemon",
            "action": {"service": "riot", "id": "new_match", "params": {"riot_id": "Caps#EUW", "puuid": "daemon-puuid"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ match_id }}"}}]
        })))
        .await;
    env.set_interval(area, 1).await;
    let recorder = support::RecordingNotifier::new();
    let engine = Engine::start(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    support::wait_for("the new match to fire", Duration::from_secs(10), || {
        let n = recorder.count();
        async move { n >= 1 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // at least one more poll
    engine.shutdown().await;
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles, ["EUW1_2"]);
}

/// Under the daemon, with only a Riot ID: the lookup's cursor changes the request the area
/// needs, so the engine re-plans its polls and the match list is asked next (not the lookup
/// again and again); a new match then fires once.
#[tokio::test]
async fn new_match_by_riot_id_under_the_daemon_replans_after_the_lookup() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("RGAPI-replan").await;
    let lookup = Mock::given(method("GET"))
        .and(path("/riot/account/v1/accounts/by-riot-id/Faker/KR1"))
        .and(header("x-riot-token", "RGAPI-replan"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"puuid": "replan-puuid", "gameName": "Faker", "tagLine": "KR1"})),
        )
        .mount_as_scoped(srv)
        .await;
    let ids_path = "/lol/match/v5/matches/by-puuid/replan-puuid/ids";
    let _first = Mock::given(method("GET"))
        .and(path(ids_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount_as_scoped(srv)
        .await;
    let _later = Mock::given(method("GET"))
        .and(path(ids_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["KR_42"])))
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "replan",
            "action": {"service": "riot", "id": "new_match", "params": {"riot_id": "Faker#KR1", "region": "asia"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ match_id }}"}}]
        })))
        .await;
    env.set_interval(area, 1).await;
    let recorder = support::RecordingNotifier::new();
    let engine = Engine::start(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
    support::wait_for("the new match to fire", Duration::from_secs(10), || {
        let n = recorder.count();
        async move { n >= 1 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    engine.shutdown().await;
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles, ["KR_42"]);
    assert_eq!(lookup.received_requests().await.len(), 1, "the Riot ID is looked up once");
}

/// Defence in depth: the connector does not trust the server's `startTime` filter. A match list
/// that ignores it (answering the player's whole recent history) fires nothing at the priming
/// read after the lookup, nothing when answered again, then only the genuinely new match, once.
#[tokio::test]
async fn a_server_ignoring_start_time_fires_only_new_matches() {
    use area_core::engine::Engine;
    let srv = server().await;
    let env = engine_env("RGAPI-nofilter").await;
    let _lookup = Mock::given(method("GET"))
        .and(path("/riot/account/v1/accounts/by-riot-id/Chovy/KR1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"puuid": "nofilter-puuid", "gameName": "Chovy", "tagLine": "KR1"})),
        )
        .mount_as_scoped(srv)
        .await;
    let history = Arc::new(std::sync::Mutex::new(vec!["KR_300", "KR_200", "KR_100"]));
    let answer = {
        let history = history.clone();
        move |_: &wiremock::Request| ResponseTemplate::new(200).set_body_json(json!(*history.lock().unwrap()))
    };
    let ids = Mock::given(method("GET"))
        .and(path("/lol/match/v5/matches/by-puuid/nofilter-puuid/ids"))
        .and(header("x-riot-token", "RGAPI-nofilter"))
        .respond_with(answer)
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "no filter",
            "action": {"service": "riot", "id": "new_match", "params": {"riot_id": "Chovy#KR1", "region": "asia"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ match_id }}"}}]
        })))
        .await;
    let recorder = support::RecordingNotifier::new();
    let poll = || async {
        let report =
            Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    };
    for _ in 0..3 {
        // The lookup, the priming read, and the same (old) history again.
        poll().await;
    }
    assert_eq!(recorder.count(), 0, "old matches never fire: {:?}", recorder.shown.lock().unwrap());
    history.lock().unwrap().insert(0, "KR_400");
    poll().await;
    poll().await;
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles, ["KR_400"], "only the genuinely new match, once");
    assert_eq!(env.state(area).await.last_error, None);
    let asked = ids.received_requests().await;
    assert_eq!(asked.len(), 4);
    assert!(
        asked.iter().all(|r| r.url.query_pairs().any(|(k, _)| k == "startTime")),
        "still asks the server to filter"
    );
}
