//! `netflix` service (Netflix's public Top 10 TSV): reading saved files, the request, error
//! mapping, the catalog entry, and one area end to end through the engine.
//!
//! Only the end-to-end test talks to a server, and it is the only test in this binary that sets
//! `AREA_NETFLIX_BASE_URL` (environment variables are process-global).

mod kit;

use kit::params;
use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability, ParamType};
use area_core::connector::{ConnectorError, ErrorClass, Event, HttpResponseData, PollContext, PolledAction};
use area_core::engine::Engine;
use area_core::services::netflix;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

fn action() -> Arc<dyn PolledAction> {
    match netflix::service(&area_core::settings::Settings::from_env()).actions.get("new_top10_number_one") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("netflix.new_top10_number_one is not polled"),
    }
}

fn response(status: u16, body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: vec![("content-type".into(), "text/tab-separated-values".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn read(p: Value, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    action().read(&PollContext::new(&p, None), &response(200, body)).map(|o| o.events)
}

const HEADER: &str = "week\tcategory\tweekly_rank\tshow_title\tseason_title\tweekly_hours_viewed\truntime\t\
                      weekly_views\tcumulative_weeks_in_top_10\tis_staggered_launch\tepisode_launch_details";

/// A global file row.
fn row(week: &str, category: &str, rank: u32, title: &str, season: &str, views: &str) -> String {
    format!("{week}\t{category}\t{rank}\t{title}\t{season}\t487300000\t8.2\t{views}\t2\tFalse\tN/A")
}

/// Shaped like `all-weeks-global.tsv`: newest week first, four categories, `N/A` cells,
/// unicode titles, CRLF line ends and a BOM.
fn global_file() -> String {
    let lines = [
        HEADER.to_string(),
        row("2026-11-22", "TV (English)", 2, "Wednesday", "Wednesday: Season 2", "N/A"),
        row("2026-11-22", "TV (English)", 1, "Stranger Things", "Stranger Things: Season 5", "59600000"),
        row("2026-11-22", "Films (Non-English)", 1, "La Sociedad de la Nieve", "N/A", "12300000"),
        row("2026-11-22", "TV (Non-English)", 1, "오징어 게임", "오징어 게임: 시즌 3", "30100000"),
        row("2026-11-15", "TV (English)", 1, "Wednesday", "Wednesday: Season 2", "40100000"),
        row("2026-11-15", "TV (Non-English)", 1, "오징어 게임", "오징어 게임: 시즌 3", "28000000"),
        row("2026-11-15", "Films (Non-English)", 1, "Lupin", "N/A", "1000"),
        "short\tline".to_string(),
        String::new(),
    ];
    format!("\u{feff}{}", lines.join("\r\n"))
}

#[test]
fn reads_the_latest_weeks_number_one() {
    let events = read(json!({"category": "TV (English)"}), &global_file()).unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.key, "2026-11-22/TV (English)/Stranger Things/Stranger Things: Season 5");
    let i = &e.ingredients;
    assert_eq!(i["title"], "Stranger Things");
    assert_eq!(i["season"], "Stranger Things: Season 5");
    assert_eq!(i["week"], "2026-11-22");
    assert_eq!(i["category"], "TV (English)");
    assert_eq!(i["weekly_views"], "59600000");
    assert_eq!(i["weekly_hours_viewed"], "487300000");
    assert_eq!(i["weeks_in_top10"], "2");
    assert_eq!(i["link"], "https://www.netflix.com/tudum/top10");
    // N/A → empty; the category parameter is matched case-insensitively.
    let films = read(json!({"category": "films (non-english)"}), &global_file()).unwrap();
    assert_eq!(films[0].ingredients["title"], "La Sociedad de la Nieve");
    assert_eq!(films[0].ingredients["season"], "");
}

#[test]
fn a_repeat_number_one_fires_only_when_asked() {
    assert!(read(json!({"category": "TV (Non-English)"}), &global_file()).unwrap().is_empty());
    let events = read(json!({"category": "TV (Non-English)", "include_repeats": true}), &global_file()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].ingredients["title"], "오징어 게임");
    assert_eq!(events[0].key, "2026-11-22/TV (Non-English)/오징어 게임/오징어 게임: 시즌 3");
}

#[test]
fn columns_are_found_by_name() {
    // Reordered columns, an extra one, LF line ends, no optional columns.
    let body = "rank_note\tshow_title\tweekly_rank\tcategory\tweek\n\
                x\tOld\t1\tFilms (English)\t2026-11-15\n\
                y\tNew 🎬\t1\tFilms (English)\t2026-11-22\n";
    let events = read(json!({"category": "Films (English)"}), body).unwrap();
    assert_eq!(events[0].ingredients["title"], "New 🎬");
    assert_eq!(events[0].ingredients["weekly_views"], "");
}

#[test]
fn other_bodies_are_bad_responses() {
    for body in ["", "<!DOCTYPE html><html><body>Netflix</body></html>", "{\"error\": \"nope\"}", HEADER] {
        match read(json!({"category": "TV (English)"}), body) {
            Err(ConnectorError::BadResponse { service, .. }) => assert_eq!(service, "netflix"),
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
    // A week without a #1 for the category.
    let body = format!("{HEADER}\n{}", row("2026-11-22", "TV (English)", 2, "Second", "N/A", "1"));
    assert!(matches!(read(json!({"category": "TV (English)"}), &body), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn request_and_parameters() {
    let p = params(json!({"category": "TV (English)"}));
    let req = action().request(&PollContext::new(&p, None)).unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.url.ends_with("/all-weeks-global.tsv"), "{}", req.url);
    let p = params(json!({"category": "Anime"}));
    assert!(matches!(
        action().request(&PollContext::new(&p, None)),
        Err(ConnectorError::BadParams { param, .. }) if param == "category"
    ));
}

#[test]
fn errors_are_classified() {
    let p = params(json!({"category": "TV (English)"}));
    let ctx = PollContext::new(&p, None);
    for status in [403, 404] {
        let e = action().error_for("netflix", &ctx, &response(status, "<html>Not Found</html>"));
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.to_string().contains("all-weeks-global.tsv"), "{e}");
    }
    let mut limited = response(429, "");
    limited.headers.push(("retry-after".into(), "60".into()));
    assert_eq!(
        action().error_for("netflix", &ctx, &limited).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(60)) }
    );
}

#[test]
fn catalog_lists_it_as_unofficial_with_the_source() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let m = &catalog.service("netflix").expect("listed").manifest;
    assert_eq!(m.auth, AuthKind::None);
    match &m.availability {
        Availability::Unofficial(reason) => {
            assert!(reason.contains("no API since 2014") && reason.contains("tudum/top10"), "{reason}")
        }
        other => panic!("expected Unofficial, got {other:?}"),
    }
    assert!(m.reactions.is_empty());
    let a = &m.actions[0];
    assert_eq!(a.id, "new_top10_number_one");
    let category = a.params.iter().find(|p| p.id == "category").unwrap();
    assert_eq!(category.kind, ParamType::Enum { choices: netflix::CATEGORIES.iter().map(|c| c.to_string()).collect() });
    for id in ["title", "season", "week", "category"] {
        assert!(a.ingredients.iter().any(|i| i.id == id && !i.example.is_empty()), "{id}");
    }
}

#[tokio::test]
async fn engine_fires_once_for_a_new_number_one() {
    let env = Env::new().await;
    let netflix = MockServer::start().await;
    let settings = area_core::settings::Settings::from_pairs([("AREA_NETFLIX_BASE_URL", netflix.uri())]);
    let area = env
        .add(spec(json!({
            "name": "netflix #1",
            "action": {"service": "netflix", "id": "new_top10_number_one", "params": {"category": "TV (English)"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "#1: {{ title }} ({{ week }})"}}]
        })))
        .await;
    let last_week = [
        HEADER.to_string(),
        row("2026-11-15", "TV (English)", 1, "Wednesday", "Wednesday: Season 2", "40100000"),
        row("2026-11-15", "TV (English)", 2, "Stranger Things", "Stranger Things: Season 5", "3"),
    ]
    .join("\n");
    Mock::given(method("GET"))
        .and(path("/all-weeks-global.tsv"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(last_week.into_bytes(), "text/tab-separated-values"))
        .up_to_n_times(1)
        .mount(&netflix)
        .await;
    Mock::given(method("GET"))
        .and(path("/all-weeks-global.tsv"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(global_file().into_bytes(), "text/tab-separated-values"))
        .mount(&netflix)
        .await;

    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let shown: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(shown, ["#1: Stranger Things (2026-11-22)"]);
    assert_eq!(env.statuses(area).await, ["succeeded"]);
}
