//! `timer`: actions that fire at computed instants — every N minutes, on a cron schedule, or once.
//!
//! All three are stateless [`ScheduledAction`]s: the engine asks for the first instant strictly
//! after a given one and needs no cursor.
//!
//! Decisions:
//! - `every` is aligned to the Unix epoch (fires at `k × minutes × 60` seconds), so restarts and
//!   several processes agree on the instants without storing an anchor.
//! - `cron` takes standard 5-field expressions (minute hour day-of-month month day-of-week, with
//!   Vixie-cron semantics: day-of-week `0`/`7` = Sunday, and when both day fields are restricted a
//!   day matching *either* fires) and the `cron` crate's 6/7-field dialect (seconds first,
//!   optional year last, days of week `1`–`7` = Sunday–Saturday — prefer names there), plus
//!   `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`.
//! - Cron times are wall-clock times in the area's time zone. Across daylight-saving changes each
//!   wall-clock time fires once: a time repeated when clocks go back fires at its first
//!   occurrence; a time skipped when clocks go forward fires shifted by the gap, read with the
//!   offset in force before the change (RFC 5545 §3.3.5, JavaScript Temporal's "compatible"
//!   rule) — e.g. a daily 02:30 in Paris fires at 03:30 on the spring-forward day.
//! - Events carry `scheduled_for` (the computed instant) and `fired_at` (when the engine ran it);
//!   [`scheduled_event`] builds them so every engine path uses the same key and format.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "timer";

/// Largest `every` period accepted: one year, far beyond any sensible use, small enough that
/// `minutes × 60` can never overflow.
pub const MAX_EVERY_MINUTES: i64 = 525_600;

/// Bound on wall-clock candidates examined per call, so no expression can loop for long (a
/// per-second schedule inside a repeated DST hour needs about 3,600).
const MAX_CANDIDATES: usize = 20_000;

/// The `timer` service: manifest plus its three scheduled actions.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("every", ActionKind::Scheduled(Arc::new(Every) as Arc<dyn ScheduledAction>));
    actions.insert("cron", ActionKind::Scheduled(Arc::new(Cron) as Arc<dyn ScheduledAction>));
    actions.insert("at", ActionKind::Scheduled(Arc::new(At) as Arc<dyn ScheduledAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn ingredients() -> Vec<IngredientSpec> {
    vec![
        IngredientSpec {
            id: "fired_at",
            description:
                "When the timer actually fired (RFC 3339, UTC); later than scheduled_for if the device was asleep",
            example: "2025-03-14T09:00:02Z",
        },
        IngredientSpec {
            id: "scheduled_for",
            description: "The instant the timer was due (RFC 3339, UTC)",
            example: "2025-03-14T09:00:00Z",
        },
    ]
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Timer",
        description: "Fire on a schedule: every few minutes, on a cron expression in your time zone, or once at a given moment.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![
            ActionManifest {
                id: "every",
                name: "Every N minutes",
                description: "Fires every N minutes, at instants aligned to the clock (every 15 minutes fires at :00, :15, :30, :45 UTC).",
                params: vec![ParamSpec::new(
                    "minutes",
                    "Minutes",
                    "How many minutes between two firings (at least 1).",
                    ParamType::Integer { min: Some(1), max: Some(MAX_EVERY_MINUTES) },
                )],
                ingredients: ingredients(),
                dynamic_ingredients: false,
                min_interval_secs: None,
            },
            ActionManifest {
                id: "cron",
                name: "On a cron schedule",
                description: "Fires whenever a cron expression matches, in the chosen time zone.",
                params: vec![
                    ParamSpec::new(
                        "expression",
                        "Cron expression",
                        "Five fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5` for 09:00 on weekdays \
                         or `*/30 * * * *` for every half hour. @hourly, @daily, @weekly, @monthly and @yearly also work; \
                         six or seven fields mean seconds first (and a year last).",
                        ParamType::String,
                    ),
                    ParamSpec::new(
                        "timezone",
                        "Time zone",
                        "IANA time zone the expression is read in, e.g. Europe/Paris or America/New_York. \
                         Daylight-saving changes are handled: each local time fires once.",
                        ParamType::String,
                    )
                    .optional(Some(json!("UTC"))),
                ],
                ingredients: ingredients(),
                dynamic_ingredients: false,
                min_interval_secs: None,
            },
            ActionManifest {
                id: "at",
                name: "Once, at a date and time",
                description: "Fires a single time at the given moment, then never again.",
                params: vec![ParamSpec::new(
                    "datetime",
                    "Date and time",
                    "RFC 3339 date and time with its offset, e.g. 2025-12-24T18:00:00+01:00.",
                    ParamType::DateTime,
                )],
                ingredients: ingredients(),
                dynamic_ingredients: false,
                min_interval_secs: None,
            },
        ],
        reactions: vec![],
    }
}

/// Builds the event for a timer firing: key = the scheduled instant (unique per firing of one
/// area), ingredients `scheduled_for` and `fired_at` in RFC 3339 UTC (every timer action's
/// [`ScheduledAction::event`]).
pub fn scheduled_event(scheduled_for: DateTime<Utc>, fired_at: DateTime<Utc>) -> Event {
    let scheduled = scheduled_for.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut ingredients = Ingredients::new();
    ingredients.insert("scheduled_for".into(), Value::String(scheduled.clone()));
    ingredients.insert("fired_at".into(), Value::String(fired_at.to_rfc3339_opts(SecondsFormat::Secs, true)));
    Event { key: scheduled, ingredients }
}

/// `every`: epoch-aligned period.
struct Every;

impl ScheduledAction for Every {
    fn event(&self, scheduled_for: DateTime<Utc>, fired_at: DateTime<Utc>) -> Event {
        scheduled_event(scheduled_for, fired_at)
    }

    fn next_after(&self, params: &Params, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ConnectorError> {
        let minutes = minutes_param(params)?;
        let period = minutes * 60;
        let next = (after.timestamp().div_euclid(period) + 1) * period;
        Ok(DateTime::from_timestamp(next, 0))
    }
}

fn minutes_param(params: &Params) -> Result<i64, ConnectorError> {
    let value = params.get("minutes").ok_or_else(|| bad_param("minutes", "is required"))?;
    let minutes = match value {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| bad_param("minutes", format!("must be a whole number of minutes, got {value}")))?;
    if !(1..=MAX_EVERY_MINUTES).contains(&minutes) {
        return Err(bad_param("minutes", format!("must be between 1 and {MAX_EVERY_MINUTES}, got {minutes}")));
    }
    Ok(minutes)
}

/// `cron`: wall-clock schedule in a time zone.
struct Cron;

impl ScheduledAction for Cron {
    fn event(&self, scheduled_for: DateTime<Utc>, fired_at: DateTime<Utc>) -> Event {
        scheduled_event(scheduled_for, fired_at)
    }

    fn next_after(&self, params: &Params, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ConnectorError> {
        let expression = req_str(params, "expression")?;
        let schedule = CronSchedule::parse(expression)?;
        let tz = timezone_param(params)?;
        Ok(schedule.next_after(tz, after))
    }
}

/// Reads the `timezone` parameter (default UTC) as an IANA zone.
fn timezone_param(params: &Params) -> Result<Tz, ConnectorError> {
    let name = opt_str(params, "timezone").unwrap_or("UTC");
    Tz::from_str(name).map_err(|_| {
        bad_param(
            "timezone",
            format!("unknown time zone {name:?}: use an IANA name such as Europe/Paris, America/New_York or UTC"),
        )
    })
}

/// A parsed cron expression: one schedule, or two whose union is meant (standard cron's
/// "day-of-month OR day-of-week" rule, which the `cron` crate does not implement).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    schedules: Vec<Schedule>,
}

impl CronSchedule {
    /// Parses a 5-field standard expression, a 6/7-field `cron`-crate expression or an `@` macro,
    /// with a message that says what is wrong.
    pub fn parse(expression: &str) -> Result<Self, ConnectorError> {
        let translated = translate(expression).map_err(|m| bad_param("expression", m))?;
        let mut schedules = Vec::with_capacity(translated.len());
        for expr in translated {
            let schedule = Schedule::from_str(&expr).map_err(|e| {
                bad_param(
                    "expression",
                    format!(
                        "{expression:?} is not a valid cron expression: {} — expected five fields \
                         `minute hour day-of-month month day-of-week`, e.g. `0 9 * * 1-5`",
                        explain_cron_error(&expr, &e.to_string())
                    ),
                )
            })?;
            schedules.push(schedule);
        }
        Ok(CronSchedule { schedules })
    }

    /// First instant strictly after `after` whose wall-clock time in `tz` matches, with the DST
    /// rules described in the module doc; `None` when the schedule never fires again.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedules.iter().filter_map(|s| next_for_schedule(s, tz, after)).min()
    }
}

/// Rewords a `cron`-crate error for users. The crate echoes the (translated, so unfamiliar)
/// expression, then a caret line, then an explanation that says "less than" for inclusive maxima.
fn explain_cron_error(translated: &str, raw: &str) -> String {
    let mut lines = raw.lines();
    let _echo = lines.next();
    let mut token = None;
    let mut explanation = Vec::new();
    for line in lines {
        if line.trim() == "^" {
            let col = line.find('^').unwrap_or(0);
            token = translated.get(col..).and_then(|rest| rest.split_whitespace().next());
        } else if !line.trim().is_empty() {
            explanation.push(line.trim().trim_end_matches('.').replace("must be less than", "must be at most"));
        }
    }
    match (explanation.is_empty(), token) {
        (false, _) => explanation.join(" "),
        (true, Some(token)) => format!("cannot read `{token}`"),
        (true, None) => raw.trim().to_string(),
    }
}

/// Runs the schedule over naive wall-clock time (represented as UTC, which has no gaps or
/// repeats) and maps each candidate to a real instant in `tz`.
fn next_for_schedule(schedule: &Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local_after = after.with_timezone(&tz).naive_local();
    schedule
        .after(&Utc.from_utc_datetime(&local_after))
        .take(MAX_CANDIDATES)
        .filter_map(|wall| wall_clock_to_instant(tz, wall.naive_utc()))
        .find(|instant| *instant > after)
}

/// Maps a wall-clock time in `tz` to an instant: the first occurrence when repeated, shifted by
/// the gap (offset before the change) when skipped.
fn wall_clock_to_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // Find the offset in force just before the gap (gaps are at most a day, e.g. Samoa 2011).
            let before =
                (1..=120).find_map(|k| tz.from_local_datetime(&(wall - Duration::minutes(30 * k))).latest())?;
            let offset = i64::from(before.offset().fix().local_minus_utc());
            Some((wall - Duration::seconds(offset)).and_utc())
        }
    }
}

/// Translates the accepted syntaxes into `cron`-crate expressions (seconds first).
fn translate(expression: &str) -> Result<Vec<String>, String> {
    let expr = expression.trim();
    if expr.is_empty() {
        return Err("is empty: give a cron expression such as `0 9 * * 1-5`".into());
    }
    if let Some(name) = expr.strip_prefix('@') {
        let fields = match name.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 0 1 1 *",
            "monthly" => "0 0 0 1 * *",
            "weekly" => "0 0 0 * * SUN",
            "daily" | "midnight" => "0 0 0 * * *",
            "hourly" => "0 0 * * * *",
            _ => return Err(format!("unknown shorthand {expr:?}: use @hourly, @daily, @weekly, @monthly or @yearly")),
        };
        return Ok(vec![fields.to_string()]);
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match fields.len() {
        5 => {
            let (minute, hour, dom, month, dow) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
            let dow_crate = translate_day_of_week(dow)?;
            let restricted = |f: &str| !(f.starts_with('*') || f == "?");
            if restricted(dom) && restricted(dow) {
                // Standard cron: the day matches when EITHER day field matches.
                Ok(vec![
                    format!("0 {minute} {hour} {dom} {month} *"),
                    format!("0 {minute} {hour} * {month} {dow_crate}"),
                ])
            } else {
                Ok(vec![format!("0 {minute} {hour} {dom} {month} {dow_crate}")])
            }
        }
        6 | 7 => Ok(vec![fields.join(" ")]),
        n => Err(format!(
            "{expr:?} has {n} field(s); expected five: minute hour day-of-month month day-of-week (e.g. `0 9 * * 1-5`)"
        )),
    }
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Rewrites a standard day-of-week field (0–7, Sunday = 0 or 7, names, ranges, steps, lists) as
/// a list of names, which the `cron` crate reads unambiguously (its numbers start at 1 = Sunday).
fn translate_day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".into());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| format!("day-of-week step {s:?} is not a positive number"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (day_value(a)?, day_value(b)?)
        } else {
            let single = day_value(range)?;
            // `5/2` means "from 5 on, every 2" (cronie), a plain value means itself.
            (single, if item.contains('/') { 7 } else { single })
        };
        if start > end {
            return Err(format!("day-of-week range {range:?} goes backwards"));
        }
        let mut d = start;
        while d <= end {
            days[(d % 7) as usize] = true;
            d += step;
        }
    }
    let names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| DAY_NAMES[d]).collect();
    Ok(names.join(","))
}

fn day_value(s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return if n <= 7 { Ok(n) } else { Err(format!("day of week {n} is out of range (0-7, Sunday is 0 or 7)")) };
    }
    const FULL: [&str; 7] = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];
    let upper = s.to_ascii_uppercase();
    DAY_NAMES
        .iter()
        .position(|name| *name == upper)
        .or_else(|| FULL.iter().position(|name| *name == upper))
        .map(|p| p as u32)
        .ok_or_else(|| format!("{s:?} is not a day of week (use 0-7 or SUN-SAT)"))
}

/// `at`: one instant.
struct At;

impl ScheduledAction for At {
    fn event(&self, scheduled_for: DateTime<Utc>, fired_at: DateTime<Utc>) -> Event {
        scheduled_event(scheduled_for, fired_at)
    }

    fn next_after(&self, params: &Params, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ConnectorError> {
        let raw = req_str(params, "datetime")?;
        let at = DateTime::parse_from_rfc3339(raw)
            .map_err(|e| {
                bad_param(
                    "datetime",
                    format!("{raw:?} is not an RFC 3339 date and time ({e}); write e.g. 2025-12-24T18:00:00+01:00"),
                )
            })?
            .with_timezone(&Utc);
        Ok((at > after).then_some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_day_of_week() {
        assert_eq!(translate_day_of_week("1-5").unwrap(), "MON,TUE,WED,THU,FRI");
        assert_eq!(translate_day_of_week("0").unwrap(), "SUN");
        assert_eq!(translate_day_of_week("7").unwrap(), "SUN");
        assert_eq!(translate_day_of_week("5-7").unwrap(), "SUN,FRI,SAT");
        assert_eq!(translate_day_of_week("*/2").unwrap(), "SUN,TUE,THU,SAT");
        assert_eq!(translate_day_of_week("mon,Wed,friday").unwrap(), "MON,WED,FRI");
        assert_eq!(translate_day_of_week("*").unwrap(), "*");
        assert!(translate_day_of_week("8").is_err());
        assert!(translate_day_of_week("5-1").is_err());
        assert!(translate_day_of_week("funday").is_err());
        assert!(translate_day_of_week("1/0").is_err());
    }

    #[test]
    fn translates_field_counts_and_macros() {
        assert_eq!(translate("0 9 * * 1-5").unwrap(), vec!["0 0 9 * * MON,TUE,WED,THU,FRI"]);
        assert_eq!(translate("0 9 1 * 1").unwrap().len(), 2);
        assert_eq!(translate("30 0 9 * * *").unwrap(), vec!["30 0 9 * * *"]);
        assert_eq!(translate("@daily").unwrap(), vec!["0 0 0 * * *"]);
        assert!(translate("@reboot").is_err());
        assert!(translate("* * *").is_err());
        assert!(translate("   ").is_err());
    }

    #[test]
    fn gap_times_shift_forward_by_the_gap() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let wall = NaiveDateTime::parse_from_str("2024-03-31 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let t = wall_clock_to_instant(tz, wall).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-31T01:30:00+00:00");
    }
}
