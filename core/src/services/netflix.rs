//! `netflix`: a new #1 in Netflix's weekly Top 10, from Netflix's public Top 10 data files.
//!
//! Netflix retired its public API on 2014-11-14 and has no API for members. What it does
//! publish is the weekly Top 10 as public data files on its Tudum site
//! (`https://www.netflix.com/tudum/top10/data/…`), updated every Tuesday. The service reads
//! those and is labelled [`Availability::Unofficial`] with the source: the files are public and
//! Netflix's own, but undocumented as an API and may change without notice.
//!
//! Decisions:
//! - Source: `all-weeks-global.tsv` (columns `week, category, weekly_rank, show_title,
//!   season_title, weekly_hours_viewed, runtime, weekly_views, cumulative_weeks_in_top_10,
//!   is_staggered_launch, episode_launch_details`). It is about 1 MB (≈ 9 000 rows in autumn
//!   2025, + 40 rows a week), well under the engine's 4 MiB response cap.
//! - **Per-country lists are not offered (yet).** Netflix publishes them only as ONE file for
//!   every country and week, `all-weeks-countries.tsv` (tens of MB, ≈ 20 rows per country per
//!   week since mid-2021) — no per-country file exists. The engine caps polled bodies at 4 MiB
//!   for every action, so that file cannot be read; it needs a per-action body cap in the
//!   engine (follow-up). Until then the action watches the worldwide lists.
//! - Columns are found by header name, so added or reordered columns still work; `\r\n` line
//!   ends, a UTF-8 BOM and `N/A` cells (→ empty) are handled. Lines with too few cells are
//!   skipped.
//! - The action looks at the chosen category only, takes the latest `week` (ISO dates compare
//!   as text) and its `weekly_rank` 1. Key = `week/category/title/season`: stable, and a new
//!   week's #1 has a new key. By default a title that was already #1 the week before does not
//!   fire again (`include_repeats` turns that on).
//! - A body that is not the TSV (an HTML page, missing columns) or has no row for the category
//!   → [`ConnectorError::BadResponse`]. 403/404 → permanent naming the file; 429/5xx →
//!   retryable. Minimum interval 6 h (the file changes once a week); the engine's conditional
//!   requests make unchanged polls cheap when the CDN sends validators.
//! - No reactions: there is no write API.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "netflix";
/// Netflix's Top 10 data directory, used unless `AREA_NETFLIX_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://www.netflix.com/tudum/top10/data";
/// The worldwide weekly lists, under the base URL.
pub const GLOBAL_FILE: &str = "/all-weeks-global.tsv";
/// Where users see the lists.
pub const TOP10_PAGE: &str = "https://www.netflix.com/tudum/top10";
/// The four worldwide lists, as named in the file's `category` column.
pub const CATEGORIES: [&str; 4] = ["Films (English)", "Films (Non-English)", "TV (English)", "TV (Non-English)"];
/// Lowest poll interval: the file changes once a week.
pub const MIN_INTERVAL_SECS: u32 = 6 * 3600;

/// The `netflix` service: one polled action, no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_top10_number_one",
        ActionKind::Polled(Arc::new(NewNumberOne { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Netflix (Top 10 data)",
        description: "Netflix's weekly worldwide Top 10, read from the public data files Netflix publishes on \
                      netflix.com/tudum/top10 every Tuesday. Netflix has no API: nothing about your account \
                      is available.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Unofficial(
            "Netflix has no API since 2014; this reads Netflix's public Top 10 data files (tudum/top10), \
             worldwide lists only"
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_top10_number_one",
            name: "New #1 in the weekly Top 10",
            description: "Fires when a new week's worldwide Top 10 list has a new #1 (per-country lists are not \
                          available yet: Netflix ships them as one file too big to poll).",
            params: vec![
                ParamSpec::new(
                    "category",
                    "List",
                    "Which worldwide list to watch, as Netflix names it.",
                    ParamType::Enum { choices: CATEGORIES.iter().map(|c| c.to_string()).collect() },
                ),
                ParamSpec::new(
                    "include_repeats",
                    "Fire for repeat #1s",
                    "Also fire when last week's #1 keeps the top spot (off: only a new title at #1 fires).",
                    ParamType::Boolean,
                )
                .optional(Some(json!(false))),
            ],
            ingredients: vec![
                ingredient("title", "The #1 show or film.", "Stranger Things"),
                ingredient("season", "The season, for TV (empty for films).", "Stranger Things: Season 5"),
                ingredient("week", "The week, as Netflix labels it (YYYY-MM-DD).", "2026-11-29"),
                ingredient("category", "The list.", "TV (English)"),
                ingredient("weekly_views", "Views that week (may be empty).", "59600000"),
                ingredient("weekly_hours_viewed", "Hours viewed that week (may be empty).", "487300000"),
                ingredient("weeks_in_top10", "Weeks it has spent in this Top 10.", "2"),
                ingredient("link", "The Top 10 page.", "https://www.netflix.com/tudum/top10"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: vec![],
    }
}

/// The file URL in use: `AREA_NETFLIX_BASE_URL` or [`DEFAULT_BASE_URL`], plus [`GLOBAL_FILE`].
/// The global Top 10 file under `base` (the settings' `AREA_NETFLIX_BASE_URL` or the real host).
pub fn global_url(base: &str) -> String {
    format!("{base}{GLOBAL_FILE}")
}

fn category(params: &Params) -> Result<&str, ConnectorError> {
    let raw = req_str(params, "category")?;
    CATEGORIES
        .iter()
        .find(|c| c.eq_ignore_ascii_case(raw))
        .copied()
        .ok_or_else(|| bad_param("category", format!("expected one of {}, got {raw:?}", CATEGORIES.join(", "))))
}

/// One row of the list, cells by column name (`N/A` read as empty).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    week: String,
    rank: String,
    title: String,
    season: String,
    views: String,
    hours: String,
    weeks: String,
}

fn clean(cell: &str) -> String {
    let t = cell.trim();
    if t.eq_ignore_ascii_case("N/A") {
        String::new()
    } else {
        t.to_string()
    }
}

/// The rows of one category (pure TSV reading: header by name, other columns ignored).
fn rows_of(body: &[u8], wanted: &str) -> Result<Vec<Row>, ConnectorError> {
    let text = String::from_utf8_lossy(body);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').map(str::trim).collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(week), Some(cat), Some(rank), Some(title)) =
        (col("week"), col("category"), col("weekly_rank"), col("show_title"))
    else {
        let start: String = text.chars().take(60).collect();
        return Err(bad_response(
            ID,
            format!(
                "not Netflix's Top 10 TSV (no week/category/weekly_rank/show_title header); it starts with {:?}",
                start.trim()
            ),
        ));
    };
    let (season, views, hours, weeks) =
        (col("season_title"), col("weekly_views"), col("weekly_hours_viewed"), col("cumulative_weeks_in_top_10"));
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|c| clean(c)).unwrap_or_default();
        if cells.len() <= week.max(cat).max(rank).max(title) {
            continue;
        }
        if !cells[cat].trim().eq_ignore_ascii_case(wanted) {
            continue;
        }
        rows.push(Row {
            week: cell(Some(week)),
            rank: cell(Some(rank)),
            title: cell(Some(title)),
            season: cell(season),
            views: cell(views),
            hours: cell(hours),
            weeks: cell(weeks),
        });
    }
    Ok(rows)
}

/// Reads the global TSV (pure, for tests on saved files): the latest week's #1 of `wanted`, or
/// nothing when it was also last week's #1 and `include_repeats` is off.
pub fn read_number_one(body: &[u8], wanted: &str, include_repeats: bool) -> Result<Vec<Event>, ConnectorError> {
    let rows = rows_of(body, wanted)?;
    let mut weeks: Vec<&str> = rows.iter().map(|r| r.week.as_str()).filter(|w| !w.is_empty()).collect();
    weeks.sort_unstable();
    weeks.dedup();
    let Some(latest) = weeks.last().copied() else {
        return Err(bad_response(ID, format!("the Top 10 file has no row for the list {wanted:?}")));
    };
    let number_one = |week: &str| rows.iter().find(|r| r.week == week && r.rank.parse::<u32>().ok() == Some(1));
    let Some(top) = number_one(latest) else {
        return Err(bad_response(ID, format!("the Top 10 file has no #1 for {wanted:?} in the week of {latest}")));
    };
    if !include_repeats && weeks.len() >= 2 {
        if let Some(previous) = number_one(weeks[weeks.len() - 2]) {
            if previous.title == top.title && previous.season == top.season {
                return Ok(Vec::new());
            }
        }
    }
    let mut ing = Ingredients::new();
    ing.insert("title".into(), Value::String(top.title.clone()));
    ing.insert("season".into(), Value::String(top.season.clone()));
    ing.insert("week".into(), Value::String(top.week.clone()));
    ing.insert("category".into(), Value::String(wanted.to_string()));
    ing.insert("weekly_views".into(), Value::String(top.views.clone()));
    ing.insert("weekly_hours_viewed".into(), Value::String(top.hours.clone()));
    ing.insert("weeks_in_top10".into(), Value::String(top.weeks.clone()));
    ing.insert("link".into(), Value::String(TOP10_PAGE.into()));
    let key = format!("{}/{wanted}/{}/{}", top.week, top.title, top.season);
    Ok(vec![Event { key, ingredients: ing }])
}

/// Classifies a non-2xx answer: 403/404 permanent naming the file, the rest (429 with
/// `Retry-After`, 5xx) through [`status_error`].
pub fn error_for(file: &str, response: &HttpResponseData) -> ConnectorError {
    match response.status {
        403 | 404 => ConnectorError::Status {
            service: ID.into(),
            status: response.status,
            message: format!(
                "Netflix's Top 10 data file {} is not available (HTTP {}): Netflix may have moved it",
                file, response.status
            ),
            retry_after: None,
        },
        _ => status_error(ID, response),
    }
}

/// `new_top10_number_one`: GET the global TSV, at most one event (this week's #1).
struct NewNumberOne {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewNumberOne {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        category(ctx.params)?;
        let mut req = HttpRequestSpec::get(global_url(&self.base));
        req.headers.push(("Accept".into(), "text/tab-separated-values, text/plain;q=0.9, */*;q=0.5".into()));
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let wanted = category(ctx.params)?;
        let repeats = opt_bool(ctx.params, "include_repeats")?.unwrap_or(false);
        Ok(PollOutput { events: read_number_one(&response.body, wanted, repeats)?, cursor: None })
    }

    fn error_for(&self, _service: &str, _ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        error_for(&global_url(&self.base), response)
    }
}
