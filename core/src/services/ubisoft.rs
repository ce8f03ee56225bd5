//! `ubisoft`: news and patch notes for a Ubisoft game, read from Steam's public news API.
//!
//! Ubisoft offers no third-party API. The Ubisoft Connect services
//! (`public-ubiservices.ubi.com`) are undocumented, need the user's e-mail and password, and
//! community libraries warn of account bans: not acceptable. The honest substitute (our call,
//! per issue 6) is **Steam's Web API `ISteamNews/GetNewsForApp/v2`**: public, documented
//! (partner.steamgames.com/doc/webapi/ISteamNews), keyless, and it carries the official
//! announcements Ubisoft posts for its games sold on Steam (Rainbow Six Siege X = 359550,
//! Assassin's Creed Shadows = 3159330, The Crew Motorfest = 2698940, …). It is labelled
//! [`Availability::Unofficial`]: not Ubisoft's own API, and games not on Steam are not covered.
//!
//! Decisions:
//! - Request: `GET {base}/ISteamNews/GetNewsForApp/v2/?appid=N&count=20&maxlength=300&format=json`
//!   (base `https://api.steampowered.com`, overridden by `AREA_UBISOFT_BASE_URL`); with
//!   `official_only` (default) also `feeds=steam_community_announcements`, so press articles
//!   from external sites (PC Gamer…) are left out. The same filter is applied again in `read`.
//! - Answer: `{appnews: {appid, newsitems: [{gid, title, url, is_external_url, author, contents,
//!   feedlabel, date, feedname, feed_type, appid, tags?}], count}}`. Key = `gid` (a string; a
//!   number is accepted too). `date` (Unix seconds) becomes RFC 3339.
//! - `contents` is cut by Steam to 300 characters; BBCode/HTML tags are removed and whitespace
//!   collapsed for the `summary` ingredient.
//! - `patch_notes_only` keeps items tagged `patchnotes` by the publisher.
//! - Errors: 403/404 → permanent, naming the app; 429 → retryable with `Retry-After`; a 2xx body
//!   without `appnews` → [`ConnectorError::BadResponse`]. Minimum interval 15 minutes.
//! - No reactions: nothing can be done on Ubisoft's side.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use chrono::{SecondsFormat, TimeZone, Utc};
use regex::Regex;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "ubisoft";
/// Steam's Web API, used unless `AREA_UBISOFT_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.steampowered.com";
/// Steam's feed name for a game's own announcements.
pub const OFFICIAL_FEED: &str = "steam_community_announcements";
/// Items asked for per poll.
pub const COUNT: u32 = 20;
/// Longest `summary` ingredient, in characters (Steam cuts `contents` to this too).
pub const SUMMARY_MAX_CHARS: usize = 300;
/// Lowest poll interval.
pub const MIN_INTERVAL_SECS: u32 = 900;

/// The `ubisoft` service: one polled action, no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_game_news",
        ActionKind::Polled(Arc::new(NewGameNews { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Ubisoft (game news via Steam)",
        description: "News and patch notes for a Ubisoft game sold on Steam, read from Steam's public news API. \
                      Ubisoft has no public API, and Area never uses your Ubisoft password.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Unofficial(
            "Ubisoft has no public API; this reads the game's news from Steam (ISteamNews), so only Ubisoft \
             games sold on Steam are covered"
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_game_news",
            name: "New news for a Ubisoft game",
            description: "Fires when a new announcement (or patch notes) is posted for the game on Steam.",
            params: vec![
                ParamSpec::new(
                    "appid",
                    "Steam app id",
                    "The game's Steam app id: the number in its store URL store.steampowered.com/app/<id>/. \
                     E.g. 359550 (Rainbow Six Siege X), 3159330 (Assassin's Creed Shadows), 2698940 (The Crew \
                     Motorfest).",
                    ParamType::Integer { min: Some(1), max: None },
                ),
                ParamSpec::new(
                    "official_only",
                    "Official announcements only",
                    "Only the publisher's own announcements (on by default); off also includes press articles \
                     Steam aggregates from other sites.",
                    ParamType::Boolean,
                )
                .optional(Some(json!(true))),
                ParamSpec::new(
                    "patch_notes_only",
                    "Patch notes only",
                    "Only announcements the publisher tagged as patch notes.",
                    ParamType::Boolean,
                )
                .optional(Some(json!(false))),
            ],
            ingredients: vec![
                ingredient("title", "The news item's title.", "Y10S3.2 Patch Notes"),
                ingredient(
                    "url",
                    "Link to the full item.",
                    "https://steamstore-a.akamaihd.net/news/externalpost/steam_community_announcements/5123456789",
                ),
                ingredient("author", "Who posted it (may be empty).", "Ubisoft"),
                ingredient(
                    "summary",
                    "The start of the text, formatting removed (at most 300 characters).",
                    "The Y10S3.2 patch will deploy on PC and consoles this week…",
                ),
                ingredient("date", "When it was posted (RFC 3339, UTC).", "2026-11-24T15:00:00Z"),
                ingredient("feed", "Steam's label for its source.", "Community Announcements"),
                ingredient("is_patch_notes", "Whether the publisher tagged it as patch notes.", "true"),
                ingredient("appid", "The game's Steam app id.", "359550"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: vec![],
    }
}

/// Reads the `appid` parameter: a positive integer, as a number or as text.
pub fn appid(params: &Params) -> Result<u64, ConnectorError> {
    let bad = |shown: String| bad_param("appid", format!("expected a Steam app id such as 359550, got {shown}"));
    match params.get("appid") {
        Some(Value::Number(n)) => n.as_u64().filter(|n| *n > 0).ok_or_else(|| bad(n.to_string())),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| bad(format!("{s:?}"))),
        None | Some(Value::Null) => Err(bad_param("appid", "is required")),
        Some(other) => Err(bad(other.to_string())),
    }
}

fn official_only(params: &Params) -> Result<bool, ConnectorError> {
    Ok(opt_bool(params, "official_only")?.unwrap_or(true))
}

/// The news request for these parameters (pure, for tests).
pub fn news_request(base: &str, params: &Params) -> Result<HttpRequestSpec, ConnectorError> {
    let appid = appid(params)?;
    let mut url = format!(
        "{}/ISteamNews/GetNewsForApp/v2/?appid={appid}&count={COUNT}&maxlength={SUMMARY_MAX_CHARS}&format=json",
        base
    );
    if official_only(params)? {
        url.push_str("&feeds=");
        url.push_str(OFFICIAL_FEED);
    }
    let mut req = HttpRequestSpec::get(url);
    req.headers.push(("Accept".into(), "application/json".into()));
    Ok(req)
}

static TAGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^>]*>|\[/?[A-Za-z0-9*]+(?:=[^\]]*)?\]").expect("valid regex"));

/// Steam `contents` as plain text: BBCode and HTML tags removed, whitespace collapsed, cut.
fn plain(contents: &str) -> String {
    let stripped = TAGS.replace_all(contents, " ");
    truncate_chars(&stripped.split_whitespace().collect::<Vec<_>>().join(" "), SUMMARY_MAX_CHARS)
}

fn str_field(item: &Value, name: &str) -> String {
    item.get(name).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Reads a GetNewsForApp answer (pure, for tests on saved responses), filtered by the
/// parameters.
pub fn read_news(body: &[u8], params: &Params) -> Result<Vec<Event>, ConnectorError> {
    let official = official_only(params)?;
    let patch_only = opt_bool(params, "patch_notes_only")?.unwrap_or(false);
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    let Some(appnews) = root.get("appnews").filter(|v| v.is_object()) else {
        let detail = root.get("error").or_else(|| root.get("message")).and_then(Value::as_str).unwrap_or("");
        return Err(bad_response(ID, format!("no `appnews` object in Steam's answer {}", truncate_chars(detail, 200))));
    };
    let items = match appnews.get("newsitems") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad_response(ID, "`appnews.newsitems` is not an array")),
    };
    let wanted_app = appid(params).ok();
    let mut events = Vec::new();
    for item in items {
        let gid = match item.get("gid") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        let feedname = str_field(item, "feedname");
        if official && feedname != OFFICIAL_FEED {
            continue;
        }
        let tags: Vec<&str> = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let is_patch = tags.contains(&"patchnotes");
        if patch_only && !is_patch {
            continue;
        }
        let date = item
            .get("date")
            .and_then(Value::as_i64)
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single())
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default();
        let app = item.get("appid").and_then(Value::as_u64).or(wanted_app);
        let mut ing = Ingredients::new();
        ing.insert("title".into(), Value::String(str_field(item, "title")));
        ing.insert("url".into(), Value::String(str_field(item, "url")));
        ing.insert("author".into(), Value::String(str_field(item, "author")));
        ing.insert("summary".into(), Value::String(plain(&str_field(item, "contents"))));
        ing.insert("date".into(), Value::String(date));
        ing.insert("feed".into(), Value::String(str_field(item, "feedlabel")));
        ing.insert("is_patch_notes".into(), Value::Bool(is_patch));
        ing.insert("appid".into(), app.map(Value::from).unwrap_or(Value::Null));
        events.push(Event { key: gid, ingredients: ing });
    }
    Ok(events)
}

/// Classifies a non-2xx Steam answer about the app: 403/404 permanent naming it, the rest (429
/// with `Retry-After`, 5xx) through [`status_error`].
pub fn error_for(params: &Params, response: &HttpResponseData) -> ConnectorError {
    let app = appid(params).map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    match response.status {
        403 | 404 => ConnectorError::Status {
            service: ID.into(),
            status: response.status,
            message: format!(
                "Steam has no public news for app {app} (HTTP {}): check the app id in the game's store URL",
                response.status
            ),
            retry_after: None,
        },
        _ => status_error(ID, response),
    }
}

/// `new_game_news`: GET the game's news from Steam.
struct NewGameNews {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewGameNews {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        news_request(&self.base, ctx.params)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_news(&response.body, ctx.params)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        error_for(ctx.params, response)
    }
}
