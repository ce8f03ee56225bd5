//! `timer` service: next firing instants for `every`, `cron` (time zones, DST, cron dialects) and `at`.

use std::sync::Arc;

use area_core::catalog::ActionKind;
use area_core::connector::{ConnectorError, Params, ScheduledAction};
use area_core::services::timer;
use chrono::{DateTime, Utc};
use serde_json::json;

fn action(id: &str) -> Arc<dyn ScheduledAction> {
    match timer::service().actions.get(id) {
        Some(ActionKind::Scheduled(a)) => a.clone(),
        _ => panic!("timer.{id} is not a scheduled action"),
    }
}

fn params(v: serde_json::Value) -> Params {
    v.as_object().unwrap().clone()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn next(id: &str, p: serde_json::Value, after: &str) -> Option<DateTime<Utc>> {
    action(id).next_after(&params(p), t(after)).unwrap()
}

fn bad_param_of(id: &str, p: serde_json::Value) -> (String, String) {
    match action(id).next_after(&params(p), t("2024-01-01T00:00:00Z")) {
        Err(ConnectorError::BadParams { param, message }) => (param, message),
        other => panic!("expected BadParams, got {other:?}"),
    }
}

#[test]
fn every_is_aligned_to_the_epoch_and_strictly_after() {
    assert_eq!(next("every", json!({"minutes": 15}), "2024-01-01T10:07:30Z"), Some(t("2024-01-01T10:15:00Z")));
    assert_eq!(next("every", json!({"minutes": 15}), "2024-01-01T10:15:00Z"), Some(t("2024-01-01T10:30:00Z")));
    assert_eq!(next("every", json!({"minutes": 1}), "2024-01-01T10:15:59.900Z"), Some(t("2024-01-01T10:16:00Z")));
    // 7 minutes does not divide an hour: instants are multiples of 420 s since the epoch.
    let after = t("2024-05-05T05:05:05Z");
    let n = next("every", json!({"minutes": 7}), "2024-05-05T05:05:05Z").unwrap();
    assert_eq!(n.timestamp() % 420, 0);
    assert!(n > after && n <= after + chrono::Duration::seconds(420));
    // Stateless: asking again from the result gives the next period.
    let n2 = action("every").next_after(&params(json!({"minutes": 7})), n).unwrap().unwrap();
    assert_eq!((n2 - n).num_seconds(), 420);
    // A numeric string (from a form) is accepted.
    assert_eq!(next("every", json!({"minutes": "60"}), "2024-01-01T10:07:30Z"), Some(t("2024-01-01T11:00:00Z")));
}

#[test]
fn every_rejects_bad_minutes() {
    for bad in
        [json!({"minutes": 0}), json!({"minutes": -5}), json!({"minutes": "abc"}), json!({"minutes": 1.5}), json!({})]
    {
        let (param, message) = bad_param_of("every", bad.clone());
        assert_eq!(param, "minutes", "{bad}");
        assert!(!message.is_empty());
    }
}

#[test]
fn cron_five_fields_weekdays_in_utc_by_default() {
    // 2024-03-01 is a Friday: the next weekday 09:00 is Monday the 4th.
    let p = json!({"expression": "0 9 * * 1-5"});
    assert_eq!(next("cron", p.clone(), "2024-03-01T09:00:00Z"), Some(t("2024-03-04T09:00:00Z")));
    assert_eq!(next("cron", p.clone(), "2024-03-04T08:59:59Z"), Some(t("2024-03-04T09:00:00Z")));
    assert_eq!(next("cron", p, "2024-03-04T09:00:00Z"), Some(t("2024-03-05T09:00:00Z")));
    let every_half_hour = json!({"expression": "*/30 * * * *", "timezone": "UTC"});
    assert_eq!(next("cron", every_half_hour, "2024-03-04T10:29:00Z"), Some(t("2024-03-04T10:30:00Z")));
}

#[test]
fn cron_sunday_is_zero_or_seven_and_names_work() {
    // 2024-03-01 is a Friday; Sunday is the 3rd.
    for dow in ["0", "7", "SUN", "sun"] {
        let p = json!({"expression": format!("0 12 * * {dow}")});
        assert_eq!(next("cron", p, "2024-03-01T00:00:00Z"), Some(t("2024-03-03T12:00:00Z")), "{dow}");
    }
    // Monday is 1 in standard cron (the `cron` crate alone would read 1 as Sunday).
    let p = json!({"expression": "0 12 * * 1"});
    assert_eq!(next("cron", p, "2024-03-01T00:00:00Z"), Some(t("2024-03-04T12:00:00Z")));
}

#[test]
fn cron_day_of_month_or_day_of_week() {
    // Standard cron: "the 13th OR any Friday". 2024-10-13 is a Sunday, so AND semantics would skip it.
    let p = json!({"expression": "0 0 13 * 5"});
    assert_eq!(next("cron", p.clone(), "2024-10-12T00:00:00Z"), Some(t("2024-10-13T00:00:00Z")));
    // 2024-10-18 is a Friday.
    assert_eq!(next("cron", p, "2024-10-13T00:00:00Z"), Some(t("2024-10-18T00:00:00Z")));
}

#[test]
fn cron_six_and_seven_fields_and_macros() {
    let p = json!({"expression": "30 0 9 * * *"});
    assert_eq!(next("cron", p, "2024-03-04T09:00:00Z"), Some(t("2024-03-04T09:00:30Z")));
    let p = json!({"expression": "0 0 12 1 1 * 2030"});
    assert_eq!(next("cron", p.clone(), "2024-03-04T09:00:00Z"), Some(t("2030-01-01T12:00:00Z")));
    assert_eq!(next("cron", p, "2030-01-01T12:00:00Z"), None, "a schedule limited to a past year never fires again");
    let p = json!({"expression": "@daily", "timezone": "Europe/Paris"});
    assert_eq!(next("cron", p, "2024-06-01T12:00:00Z"), Some(t("2024-06-01T22:00:00Z")));
}

#[test]
fn cron_follows_paris_wall_clock_across_dst() {
    let p = json!({"expression": "0 9 * * *", "timezone": "Europe/Paris"});
    // CET (+01:00) before 2024-03-31, CEST (+02:00) after.
    assert_eq!(next("cron", p.clone(), "2024-03-29T12:00:00Z"), Some(t("2024-03-30T08:00:00Z")));
    assert_eq!(next("cron", p.clone(), "2024-03-30T12:00:00Z"), Some(t("2024-03-31T07:00:00Z")));
    assert_eq!(next("cron", p.clone(), "2024-03-31T07:00:00Z"), Some(t("2024-04-01T07:00:00Z")));
    // And back to CET after 2024-10-27.
    assert_eq!(next("cron", p, "2024-10-27T12:00:00Z"), Some(t("2024-10-28T08:00:00Z")));
}

#[test]
fn cron_in_the_spring_forward_gap_fires_shifted_by_the_gap() {
    // 2024-03-31 02:30 does not exist in Paris (02:00 CET → 03:00 CEST): it fires at 03:30 CEST.
    let p = json!({"expression": "30 2 * * *", "timezone": "Europe/Paris"});
    assert_eq!(next("cron", p.clone(), "2024-03-30T12:00:00Z"), Some(t("2024-03-31T01:30:00Z")));
    assert_eq!(next("cron", p, "2024-03-31T01:30:00Z"), Some(t("2024-04-01T00:30:00Z")));
}

#[test]
fn cron_in_the_repeated_hour_fires_once() {
    // 2024-10-27 02:30 happens twice in Paris (CEST, then CET): fire at the first only.
    let p = json!({"expression": "30 2 * * *", "timezone": "Europe/Paris"});
    assert_eq!(next("cron", p.clone(), "2024-10-26T12:00:00Z"), Some(t("2024-10-27T00:30:00Z")));
    assert_eq!(next("cron", p, "2024-10-27T00:30:00Z"), Some(t("2024-10-28T01:30:00Z")));
    // Asked from inside the repeated hour's second pass, nothing already-passed fires again.
    let half_hourly = json!({"expression": "*/30 * * * *", "timezone": "Europe/Paris"});
    assert_eq!(next("cron", half_hourly.clone(), "2024-10-27T00:45:00Z"), Some(t("2024-10-27T02:00:00Z")));
    assert_eq!(next("cron", half_hourly, "2024-10-27T01:10:00Z"), Some(t("2024-10-27T02:00:00Z")));
}

#[test]
fn cron_other_zones() {
    // New York switches on 2024-03-10: 08:00 EST = 13:00Z, then 08:00 EDT = 12:00Z.
    let p = json!({"expression": "0 8 * * *", "timezone": "America/New_York"});
    assert_eq!(next("cron", p.clone(), "2024-03-09T00:00:00Z"), Some(t("2024-03-09T13:00:00Z")));
    assert_eq!(next("cron", p, "2024-03-09T13:00:00Z"), Some(t("2024-03-10T12:00:00Z")));
    // Kolkata has a half-hour offset and no DST.
    let p = json!({"expression": "0 9 * * *", "timezone": "Asia/Kolkata"});
    assert_eq!(next("cron", p, "2024-03-09T00:00:00Z"), Some(t("2024-03-09T03:30:00Z")));
}

#[test]
fn cron_rejects_bad_expressions_and_zones_clearly() {
    for bad in ["61 * * * *", "not a cron", "* * *", "0 9 * * 8", "@reboot", ""] {
        let (param, message) = bad_param_of("cron", json!({"expression": bad}));
        assert_eq!(param, "expression", "{bad:?}");
        assert!(!message.is_empty(), "{bad:?}");
    }
    let (param, message) = bad_param_of("cron", json!({"expression": "0 9 * * *", "timezone": "Mars/Olympus_Mons"}));
    assert_eq!(param, "timezone");
    assert!(message.contains("Mars/Olympus_Mons"), "{message}");
    assert!(message.contains("IANA"), "{message}");
}

#[test]
fn at_fires_once() {
    let p = json!({"datetime": "2025-12-24T18:00:00+01:00"});
    assert_eq!(next("at", p.clone(), "2025-01-01T00:00:00Z"), Some(t("2025-12-24T17:00:00Z")));
    assert_eq!(next("at", p.clone(), "2025-12-24T17:00:00Z"), None, "strictly after: not again at the same instant");
    assert_eq!(next("at", p, "2026-01-01T00:00:00Z"), None);
    let (param, message) = bad_param_of("at", json!({"datetime": "next tuesday"}));
    assert_eq!(param, "datetime");
    assert!(message.contains("RFC 3339"), "{message}");
    let (param, _) = bad_param_of("at", json!({"datetime": "2025-12-24T18:00:00"}));
    assert_eq!(param, "datetime", "an offset is required");
}

#[test]
fn scheduled_event_has_stable_key_and_rfc3339_ingredients() {
    let e = timer::scheduled_event(t("2024-03-04T09:00:00Z"), t("2024-03-04T09:00:02.5Z"));
    assert_eq!(e.key, "2024-03-04T09:00:00Z");
    assert_eq!(e.ingredients["scheduled_for"], json!("2024-03-04T09:00:00Z"));
    assert_eq!(e.ingredients["fired_at"], json!("2024-03-04T09:00:02Z"));
    let manifest = timer::service().manifest;
    for a in &manifest.actions {
        let ids: Vec<_> = a.ingredients.iter().map(|i| i.id).collect();
        assert_eq!(ids, ["fired_at", "scheduled_for"], "{}", a.id);
    }
}
