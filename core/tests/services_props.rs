//! Property tests: connector code never panics on hostile input, and timers always move forward.

use area_core::catalog::ActionKind;
use area_core::connector::{Params, ScheduledAction};
use area_core::services::{http, rss, timer, webhook};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::json;

fn scheduled(id: &str) -> std::sync::Arc<dyn ScheduledAction> {
    match timer::service().actions.get(id) {
        Some(ActionKind::Scheduled(a)) => a.clone(),
        _ => unreachable!(),
    }
}

proptest! {
    #[test]
    fn feed_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = rss::parse_feed(&body, Some("https://example.com/feed.xml"));
    }

    #[test]
    fn feed_like_text_never_panics(body in r#"(<\?xml version="1.0"\?>)?<(rss version="2.0"|feed|rdf:RDF)>(<channel>|<item>|<entry>|<title>|</title>|<link>|</item>|<guid>|[a-z &;<>/"=]{0,20}){0,30}"#) {
        let _ = rss::parse_feed(body.as_bytes(), None);
    }

    #[test]
    fn html_to_text_never_panics(s in ".{0,300}") {
        let out = rss::html_to_text(&s);
        prop_assert!(!out.starts_with(' ') && !out.ends_with(' '));
    }

    #[test]
    fn webhook_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), json_ct in any::<bool>()) {
        let ct = if json_ct { "application/json" } else { "application/x-www-form-urlencoded" };
        let _ = webhook::event_from_body(Some(ct), &body, 256);
    }

    #[test]
    fn json_items_never_panic(body in r#"[\[\]\{\}",:a-z0-9 ]{0,200}"#, path in "[a-z0-9.]{0,8}", id in "[a-z0-9.]{0,6}") {
        let _ = http::read_json_items(body.as_bytes(), &path, &id);
    }

    #[test]
    fn timers_always_move_forward(secs in 0i64..4_000_000_000, minutes in 1i64..10_000, expr_idx in 0usize..6, tz_idx in 0usize..4) {
        let after: DateTime<Utc> = DateTime::from_timestamp(secs, 0).unwrap();
        let p: Params = json!({"minutes": minutes}).as_object().unwrap().clone();
        let n = scheduled("every").next_after(&p, after).unwrap().unwrap();
        prop_assert!(n > after && (n - after).num_seconds() <= minutes * 60);

        let exprs = ["*/5 * * * *", "30 2 * * *", "0 9 * * 1-5", "0 0 13 * 5", "15 1,2,3 * * *", "@hourly"];
        let zones = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"];
        let p: Params = json!({"expression": exprs[expr_idx], "timezone": zones[tz_idx]}).as_object().unwrap().clone();
        if let Some(n) = scheduled("cron").next_after(&p, after).unwrap() {
            prop_assert!(n > after);
            prop_assert!((n - after).num_days() <= 8, "{} after {} is {}", exprs[expr_idx], after, n);
        }
    }
}
