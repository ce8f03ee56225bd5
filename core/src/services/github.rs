//! `github`: watch a repository for new issues, releases and stars; open issues and comment.
//!
//! Decisions:
//! - Auth is a personal access token (classic or fine-grained), sent as
//!   `Authorization: Bearer <token>` with `Accept: application/vnd.github+json` and
//!   `X-GitHub-Api-Version: 2022-11-28` on every request. Tokens from "Sign in with GitHub"
//!   (OAuth) will come later; an OAuth2 credential is sent the same way.
//! - Base URL `https://api.github.com`, overridden by `AREA_GITHUB_BASE_URL` (read at call time).
//! - `repo` is `owner/name`; a `https://github.com/owner/name` URL or a trailing `.git` is accepted
//!   too. Owner and name are checked against GitHub's allowed characters, so they never need
//!   escaping in a path.
//! - Conditional requests: the engine stores each poll's `ETag` and sends `If-None-Match`; GitHub
//!   answers `304 Not Modified` for an unchanged list, which does not count against the rate limit.
//!   Nothing connector-side is needed.
//! - `new_issue` lists `state=all` (an issue opened and closed between two polls still fires),
//!   newest first, 30 per page, and skips pull requests (items with a `pull_request` key: the
//!   issues API lists both). Key = the issue's global `id`.
//! - `new_release` skips drafts (only visible to tokens with push access, and not published yet);
//!   key = release `id`; `name` falls back to the tag when the release has no title.
//! - `new_star` reads one page of stargazers per poll (100, with
//!   `application/vnd.github.star+json` for `starred_at`). GitHub lists stargazers oldest first
//!   (docs.github.com/rest/activity/starring), so new stars land at the end of the LAST page. The
//!   cursor (`{"page", "since"}`) says which page to ask: the first poll reads page 1 (the
//!   engine's baseline) and, when its `Link` header has `rel="last"`, the next polls read that
//!   page. The page then follows the list ([`next_star_page`]): to `rel="last"` when the list grew
//!   past the page, to the next page when the read page is full (the next star starts a new
//!   page), back one page when it came back empty (unstars shrank the list). A page that was
//!   never read holds old stars the engine did not record at its baseline, so a star only fires
//!   when its `starred_at` is after `since`, the `Date` of the first answer (GitHub's clock; the
//!   local one if it has none). Asking the page directly keeps one request per poll and the
//!   engine's ETag conditional requests meaningful (the page asked is the one that changes).
//!   Key = the user's login. More than 100 new stars within one poll interval may skip a page.
//! - Every field is optional and may be `null` (missing → empty text); an item whose fields
//!   have unexpected types is skipped with a warning rather than failing the whole read.
//! - Bodies are cut to [`BODY_MAX_CHARS`] characters; labels become a comma-separated list.
//! - Reactions are not idempotent: GitHub has no idempotency-key header, so a run interrupted by
//!   a crash is marked `unknown outcome` by the engine instead of opening a second issue.
//! - Errors ([`error_for`]): 401 → [`ConnectorError::AuthExpired`] (reconnect); 403/404 → a
//!   permanent status naming the resource; GitHub's rate limits (429, or 403 with
//!   `x-ratelimit-remaining: 0` or a `retry-after`) → a retryable status 429 waiting until
//!   `x-ratelimit-reset` / `retry-after`. A 2xx whose body is an error object (`{"message": …}`)
//!   or not the documented shape → [`ConnectorError::BadResponse`]. Note: for polled actions the
//!   engine classifies non-2xx answers itself (generic status mapping); [`error_for`] is used by
//!   the reactions and is public so the engine can use it for polls too.
//! - Connecting checks the token with `GET /user` (a 401 refuses it; the `login` names the
//!   connection).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::services::kit::link_target;
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "github";
/// The real API, used unless `AREA_GITHUB_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";
/// The REST API version every request pins.
pub const API_VERSION: &str = "2022-11-28";
/// Longest issue/release body kept as an ingredient, in characters.
pub const BODY_MAX_CHARS: usize = 2000;

const ACCEPT_JSON: &str = "application/vnd.github+json";
const ACCEPT_STAR: &str = "application/vnd.github.star+json";

/// The `github` service: manifest, three polled actions and two reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_issue", ActionKind::Polled(Arc::new(NewIssue { base: base.clone() }) as Arc<dyn PolledAction>));
    actions.insert(
        "new_release",
        ActionKind::Polled(Arc::new(NewRelease { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    actions.insert("new_star", ActionKind::Polled(Arc::new(NewStar { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("create_issue", Arc::new(CreateIssue { base: base.clone() }) as Arc<dyn Reaction>);
    reactions.insert("comment_issue", Arc::new(CommentIssue { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions).with_account_check(WhoAmI::new(
        ID,
        format!("{base}/user"),
        |c| headers(c, ACCEPT_JSON),
        "/login",
    ))
}

fn repo_param_spec(templated: bool) -> ParamSpec {
    let spec = ParamSpec::new(
        "repo",
        "Repository",
        "The repository as owner/name, e.g. rust-lang/rust. Private repositories need a token that can read them.",
        ParamType::String,
    );
    if templated {
        spec.templated()
    } else {
        spec
    }
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "GitHub",
        description: "Watch a repository for new issues, releases and stars; open issues and post comments. \
                      Connect with a personal access token (github.com → Settings → Developer settings).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["api.github.com"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![
            ActionManifest {
                id: "new_issue",
                name: "New issue",
                description: "Fires when an issue is opened in a repository (pull requests are ignored).",
                params: vec![repo_param_spec(false)],
                ingredients: vec![
                    ingredient("title", "The issue's title.", "Crash when the config file is empty"),
                    ingredient("url", "Link to the issue on github.com.", "https://github.com/octocat/hello/issues/42"),
                    ingredient("number", "The issue number in its repository.", "42"),
                    ingredient("author", "Login of the person who opened it.", "octocat"),
                    ingredient(
                        "body",
                        "The issue text (Markdown, cut to 2000 characters; may be empty).",
                        "Steps to reproduce: …",
                    ),
                    ingredient("labels", "Label names, comma-separated.", "bug, help wanted"),
                    ingredient("created_at", "When it was opened (RFC 3339).", "2024-03-05T10:30:00Z"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(60),
            },
            ActionManifest {
                id: "new_release",
                name: "New release",
                description: "Fires when a release is published in a repository (drafts are ignored).",
                params: vec![repo_param_spec(false)],
                ingredients: vec![
                    ingredient("name", "The release title (the tag when it has none).", "Version 2.0"),
                    ingredient("tag", "The release's tag.", "v2.0.0"),
                    ingredient(
                        "url",
                        "Link to the release on github.com.",
                        "https://github.com/octocat/hello/releases/tag/v2.0.0",
                    ),
                    ingredient("author", "Login of the person who published it.", "octocat"),
                    ingredient("published_at", "When it was published (RFC 3339).", "2024-03-05T10:30:00Z"),
                    ingredient(
                        "body",
                        "Release notes (Markdown, cut to 2000 characters; may be empty).",
                        "## What's new …",
                    ),
                    ingredient("prerelease", "Whether it is marked as a pre-release.", "false"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(60),
            },
            ActionManifest {
                id: "new_star",
                name: "New star",
                description: "Fires when someone stars a repository.",
                params: vec![repo_param_spec(false)],
                ingredients: vec![
                    ingredient("user", "Login of the person who starred.", "octocat"),
                    ingredient("user_url", "Link to their GitHub profile.", "https://github.com/octocat"),
                    ingredient("starred_at", "When they starred (RFC 3339).", "2024-03-05T10:30:00Z"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(60),
            },
        ],
        reactions: vec![
            ReactionManifest {
                id: "create_issue",
                name: "Create an issue",
                description: "Opens an issue in a repository.",
                params: vec![
                    repo_param_spec(true),
                    ParamSpec::new("title", "Title", "Issue title; may use ingredients.", ParamType::String)
                        .templated(),
                    ParamSpec::new("body", "Body", "Issue text (Markdown); may use ingredients.", ParamType::String)
                        .optional(Some(json!("")))
                        .templated(),
                    ParamSpec::new(
                        "labels",
                        "Labels",
                        "Comma-separated label names, e.g. bug, from-area. Labels are only applied when the token \
                         may push to the repository.",
                        ParamType::String,
                    )
                    .optional(None)
                    .templated(),
                ],
            },
            ReactionManifest {
                id: "comment_issue",
                name: "Comment on an issue",
                description: "Posts a comment on an issue or pull request.",
                params: vec![
                    repo_param_spec(true),
                    ParamSpec::new(
                        "number",
                        "Issue number",
                        "The issue or pull request number, e.g. 42 or {{ number }}.",
                        ParamType::String,
                    )
                    .templated(),
                    ParamSpec::new(
                        "body",
                        "Comment",
                        "Comment text (Markdown); may use ingredients.",
                        ParamType::String,
                    )
                    .templated(),
                ],
            },
        ],
    }
}

/// A repository reference, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Parses `owner/name` (or a github.com URL of the repository) per GitHub's naming rules.
pub fn parse_repo(raw: &str) -> Result<Repo, ConnectorError> {
    let bad = || bad_param("repo", format!("expected owner/name, e.g. rust-lang/rust, got {raw:?}"));
    let mut s = raw.trim();
    for prefix in ["https://github.com/", "http://github.com/", "https://www.github.com/", "github.com/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            break;
        }
    }
    let s = s.trim_end_matches('/');
    let s = s.strip_suffix(".git").unwrap_or(s);
    let (owner, name) = s.split_once('/').ok_or_else(bad)?;
    let owner_ok = !owner.is_empty()
        && owner.len() <= 39
        && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let name_ok = !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if owner_ok && name_ok {
        Ok(Repo { owner: owner.to_string(), name: name.to_string() })
    } else {
        Err(bad())
    }
}

/// The headers every GitHub request carries: auth, media type and API version.
pub fn headers(credential: &Credential, accept: &str) -> Vec<(String, String)> {
    vec![
        ("Authorization".into(), format!("Bearer {}", credential.secret())),
        ("Accept".into(), accept.into()),
        ("X-GitHub-Api-Version".into(), API_VERSION.into()),
    ]
}

fn get(
    base: &str,
    ctx: &PollContext<'_>,
    path_and_query: String,
    accept: &str,
) -> Result<HttpRequestSpec, ConnectorError> {
    let credential = ctx.require_credential(ID)?;
    let mut req = HttpRequestSpec::get(format!("{base}{path_and_query}"));
    req.headers = headers(credential, accept);
    Ok(req)
}

/// Parses a list response: a JSON array, or the reason it is not one (GitHub error objects
/// `{"message": …}` arriving with a 2xx included).
pub fn parse_list(body: &[u8]) -> Result<Vec<Value>, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    match root {
        Value::Array(items) => Ok(items),
        Value::Object(map) => match map.get("message").and_then(Value::as_str) {
            Some(message) => {
                Err(bad_response(ID, format!("GitHub returned an error: {}", truncate_chars(message, 200))))
            }
            None => Err(bad_response(ID, "expected a JSON array, got an object")),
        },
        _ => Err(bad_response(ID, "expected a JSON array")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct User {
    login: Option<String>,
    html_url: Option<String>,
}

fn login(user: &Option<User>) -> String {
    user.as_ref().and_then(|u| u.login.clone()).unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Issue {
    id: Option<u64>,
    number: Option<u64>,
    title: Option<String>,
    html_url: Option<String>,
    user: Option<User>,
    body: Option<String>,
    labels: Option<Vec<Value>>,
    created_at: Option<String>,
}

/// Label names, whether GitHub sent label objects (`{"name": …}`) or plain strings.
fn label_names(labels: &[Value]) -> String {
    labels
        .iter()
        .filter_map(|l| match l {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => m.get("name").and_then(Value::as_str),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(s: Option<String>) -> Value {
    Value::String(s.unwrap_or_default())
}

fn body_text(s: Option<String>) -> Value {
    Value::String(truncate_chars(s.as_deref().unwrap_or(""), BODY_MAX_CHARS))
}

/// Reads an issue list (pure, for tests on saved responses): pull requests skipped, items
/// without an id skipped.
pub fn read_issues(body: &[u8]) -> Result<Vec<Event>, ConnectorError> {
    let mut events = Vec::new();
    for item in parse_list(body)? {
        if item.get("pull_request").is_some() {
            continue;
        }
        let Ok(issue) = serde_json::from_value::<Issue>(item) else {
            tracing::warn!(service = ID, "skipping an issue of unexpected shape");
            continue;
        };
        let Some(id) = issue.id else { continue };
        let mut ing = Ingredients::new();
        ing.insert("title".into(), text(issue.title));
        ing.insert("url".into(), text(issue.html_url));
        ing.insert("number".into(), issue.number.map(Value::from).unwrap_or(Value::Null));
        ing.insert("author".into(), Value::String(login(&issue.user)));
        ing.insert("body".into(), body_text(issue.body));
        ing.insert("labels".into(), Value::String(label_names(issue.labels.as_deref().unwrap_or_default())));
        ing.insert("created_at".into(), text(issue.created_at));
        events.push(Event { key: id.to_string(), ingredients: ing });
    }
    Ok(events)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Release {
    id: Option<u64>,
    name: Option<String>,
    tag_name: Option<String>,
    html_url: Option<String>,
    author: Option<User>,
    published_at: Option<String>,
    body: Option<String>,
    draft: Option<bool>,
    prerelease: Option<bool>,
}

/// Reads a release list (pure): drafts and items without an id skipped.
pub fn read_releases(body: &[u8]) -> Result<Vec<Event>, ConnectorError> {
    let mut events = Vec::new();
    for item in parse_list(body)? {
        let Ok(release) = serde_json::from_value::<Release>(item) else {
            tracing::warn!(service = ID, "skipping a release of unexpected shape");
            continue;
        };
        let Some(id) = release.id else { continue };
        if release.draft == Some(true) {
            continue;
        }
        let tag = release.tag_name.unwrap_or_default();
        let name = release.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| tag.clone());
        let mut ing = Ingredients::new();
        ing.insert("name".into(), Value::String(name));
        ing.insert("tag".into(), Value::String(tag));
        ing.insert("url".into(), text(release.html_url));
        ing.insert("author".into(), Value::String(login(&release.author)));
        ing.insert("published_at".into(), text(release.published_at));
        ing.insert("body".into(), body_text(release.body));
        ing.insert("prerelease".into(), Value::Bool(release.prerelease.unwrap_or(false)));
        events.push(Event { key: id.to_string(), ingredients: ing });
    }
    Ok(events)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Stargazer {
    starred_at: Option<String>,
    user: Option<User>,
}

/// Reads a stargazer list (pure). With the `star+json` media type items are
/// `{"starred_at", "user"}`; a plain user object (default media type) is accepted too.
pub fn read_stargazers(body: &[u8]) -> Result<Vec<Event>, ConnectorError> {
    let mut events = Vec::new();
    for item in parse_list(body)? {
        let (user, starred_at) = if item.get("user").is_some_and(Value::is_object) {
            match serde_json::from_value::<Stargazer>(item) {
                Ok(s) => (s.user, s.starred_at),
                Err(_) => continue,
            }
        } else {
            (serde_json::from_value::<User>(item).ok(), None)
        };
        let Some(user) = user else { continue };
        let Some(login) = user.login.filter(|l| !l.is_empty()) else { continue };
        let mut ing = Ingredients::new();
        ing.insert("user".into(), Value::String(login.clone()));
        ing.insert("user_url".into(), text(user.html_url));
        ing.insert("starred_at".into(), text(starred_at));
        events.push(Event { key: login, ingredients: ing });
    }
    Ok(events)
}

/// A polled repository's error answer, named after the repository (rate limits included).
fn repo_error(ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
    let repo = req_str(ctx.params, "repo").unwrap_or("?");
    error_for(response, &format!("repository {repo}"))
}

/// `new_issue`: the newest 30 issues of any state.
struct NewIssue {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewIssue {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let repo = parse_repo(req_str(ctx.params, "repo")?)?;
        get(
            &self.base,
            ctx,
            format!("/repos/{}/{}/issues?state=all&sort=created&direction=desc&per_page=30", repo.owner, repo.name),
            ACCEPT_JSON,
        )
    }

    fn read(&self, _ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_issues(&response.body)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        repo_error(ctx, response)
    }
}

/// `new_release`: the newest 30 releases.
struct NewRelease {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewRelease {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let repo = parse_repo(req_str(ctx.params, "repo")?)?;
        get(&self.base, ctx, format!("/repos/{}/{}/releases?per_page=30", repo.owner, repo.name), ACCEPT_JSON)
    }

    fn read(&self, _ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_releases(&response.body)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        repo_error(ctx, response)
    }
}

/// Stargazers per page (GitHub's maximum).
const STARS_PER_PAGE: usize = 100;

/// The `new_star` cursor: the page to ask, and when the area started watching.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
struct StarCursor {
    page: u32,
    /// RFC 3339; stars up to it are older than the area and never fire.
    since: String,
}

fn star_cursor(cursor: Option<&Value>) -> Option<StarCursor> {
    cursor.and_then(|c| serde_json::from_value(c.clone()).ok()).filter(|c: &StarCursor| c.page >= 1)
}

/// The `page` query parameter of a `Link` target.
fn link_page(response: &HttpResponseData, rel: &str) -> Option<u32> {
    let target = url::Url::parse(&link_target(response, rel)?).ok()?;
    let page = target.query_pairs().find(|(k, _)| k == "page")?.1.parse().ok()?;
    Some(page).filter(|p| *p >= 1)
}

/// Which page holds the next new star, after reading `page` with `items` stargazers: the last
/// one when the list now runs past it, the next one when it is full, the previous one when it
/// came back empty, else the same.
pub fn next_star_page(response: &HttpResponseData, page: u32, items: usize) -> u32 {
    match link_page(response, "last") {
        Some(last) if last != page => last,
        _ if items >= STARS_PER_PAGE => page.saturating_add(1),
        _ if items == 0 && page > 1 => page - 1,
        _ => page,
    }
}

/// When the first answer was made, by GitHub's clock (`Date`), else by ours: the `since` mark.
fn answer_time(response: &HttpResponseData) -> chrono::DateTime<chrono::Utc> {
    response
        .header("date")
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now)
}

/// Whether a star is older than the area (a stargazer on a page the baseline did not read). A
/// star without a readable date is kept: the engine still dedupes it by login.
fn starred_before(event: &Event, since: &chrono::DateTime<chrono::Utc>) -> bool {
    event
        .ingredients
        .get("starred_at")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t.with_timezone(&chrono::Utc) <= *since)
}

/// `new_star`: the page of stargazers (100, oldest first) where new stars appear.
struct NewStar {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewStar {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let repo = parse_repo(req_str(ctx.params, "repo")?)?;
        let mut path = format!("/repos/{}/{}/stargazers?per_page={STARS_PER_PAGE}", repo.owner, repo.name);
        if let Some(cursor) = star_cursor(ctx.cursor) {
            path.push_str(&format!("&page={}", cursor.page));
        }
        get(&self.base, ctx, path, ACCEPT_STAR)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let mut events = read_stargazers(&response.body)?;
        let items = events.len();
        let (page, since) = match star_cursor(ctx.cursor) {
            Some(c) => {
                let since = chrono::DateTime::parse_from_rfc3339(&c.since)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_else(|_| answer_time(response));
                events.retain(|e| !starred_before(e, &since));
                (c.page, since)
            }
            // The first read is the engine's baseline (or a sample): everything it sees is kept.
            None => (1, answer_time(response)),
        };
        let next = StarCursor {
            page: next_star_page(response, page, items),
            since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        if next.page != page {
            tracing::debug!(service = ID, from = page, to = next.page, "new stars are on another page");
        }
        Ok(PollOutput { events, cursor: serde_json::to_value(next).ok() })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        repo_error(ctx, response)
    }
}

/// When GitHub's rate limit lets us try again, if this answer is a rate-limit answer: 429, or
/// 403 with `x-ratelimit-remaining: 0` (primary limit) or a `retry-after` (secondary limit).
/// The delay comes from `retry-after`, else `x-ratelimit-reset` (Unix seconds), capped at
/// [`MAX_RETRY_AFTER`]; `Some(None)` means "rate limited, no hint".
fn rate_limit(response: &HttpResponseData, now: SystemTime) -> Option<Option<Duration>> {
    let exhausted = response.header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let retry_after = crate::net::retry_after(response, now);
    let limited = response.status == 429 || (response.status == 403 && (exhausted || retry_after.is_some()));
    if !limited {
        return None;
    }
    if retry_after.is_some() {
        return Some(retry_after);
    }
    let reset = response.header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok()).map(|reset| {
        let now_secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Duration::from_secs(reset.saturating_sub(now_secs)).min(MAX_RETRY_AFTER)
    });
    Some(reset)
}

/// The `message` of a GitHub error body, if any.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("message").and_then(Value::as_str).map(|m| truncate_chars(m, 200))
}

/// Classifies a non-2xx GitHub answer about `resource` (e.g. "repository octo/hello"), per the
/// module rules: 401 → reconnect, rate limits → retryable 429 with the wait, 403/404 → permanent
/// with a message naming the resource, anything else → [`status_error`].
pub fn error_for(response: &HttpResponseData, resource: &str) -> ConnectorError {
    if response.status == 401 {
        return ConnectorError::AuthExpired { service: ID.into() };
    }
    if let Some(retry_after) = rate_limit(response, SystemTime::now()) {
        let detail = error_message(&response.body).unwrap_or_else(|| "API rate limit exceeded".into());
        return ConnectorError::Status {
            service: ID.into(),
            status: 429,
            message: format!("rate limited (HTTP {}): {detail}", response.status),
            retry_after,
        };
    }
    ERRORS.map(resource, response)
}

/// What GitHub's other error statuses mean (401 and rate limits are read first).
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: error_message,
    detail: Detail::Says("GitHub"),
    rules: &[
        (404, Outcome::Status(404, "{resource} not found or not visible to this token{detail}"), Retry::No),
        (
            403,
            Outcome::Status(403, "access to {resource} forbidden: the token lacks the needed permission{detail}"),
            Retry::No,
        ),
    ],
    otherwise: None,
};

async fn post_json(
    base: &str,
    ctx: &ReactionContext<'_>,
    path: &str,
    body: &Value,
    resource: &str,
) -> Result<Value, ConnectorError> {
    let credential = ctx.credential.ok_or_else(|| ConnectorError::AuthExpired { service: ID.into() })?;
    let mut headers = headers(credential, ACCEPT_JSON);
    headers.push(("Content-Type".into(), "application/json".into()));
    let spec = HttpRequestSpec {
        method: "POST".into(),
        url: format!("{base}{path}"),
        headers,
        body: Some(body.to_string().into_bytes()),
    };
    let opts = RequestOptions { allow_private_network: ctx.allow_private_network, ..Default::default() };
    let response = ctx.http.send(&spec, &opts).await?;
    if !(200..300).contains(&response.status) {
        return Err(error_for(&response, resource));
    }
    let v: Value = serde_json::from_slice(&response.body)
        .map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    if v.get("id").is_none() {
        if let Some(message) = v.get("message").and_then(Value::as_str) {
            return Err(bad_response(ID, format!("GitHub returned an error: {}", truncate_chars(message, 200))));
        }
    }
    Ok(v)
}

/// Builds the JSON body of `create_issue` from rendered parameters (pure, for tests).
pub fn create_issue_body(params: &Params) -> Result<Value, ConnectorError> {
    let title = req_str(params, "title")?;
    let mut body = json!({ "title": title });
    if let Some(text) = params.get("body").and_then(Value::as_str).filter(|b| !b.trim().is_empty()) {
        body["body"] = json!(text);
    }
    if let Some(labels) = opt_str(params, "labels") {
        let names: Vec<&str> = labels.split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
        if !names.is_empty() {
            body["labels"] = json!(names);
        }
    }
    Ok(body)
}

/// `create_issue`: POST /repos/{owner}/{repo}/issues.
struct CreateIssue {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for CreateIssue {
    /// GitHub has no idempotency key: a repeat would open a second issue.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let repo = parse_repo(req_str(params, "repo")?)?;
        let body = create_issue_body(params)?;
        let path = format!("/repos/{}/{}/issues", repo.owner, repo.name);
        let created = post_json(&self.base, ctx, &path, &body, &format!("repository {repo}")).await?;
        let number = created.get("number").and_then(Value::as_u64);
        Ok(ReactionOutput {
            summary: match number {
                Some(n) => format!("created issue {repo}#{n}"),
                None => format!("created an issue in {repo}"),
            },
        })
    }
}

/// Reads the `number` parameter: a positive integer given as a number or text (`{{ number }}`
/// renders to text), `#42` accepted.
pub fn issue_number(params: &Params) -> Result<u64, ConnectorError> {
    let bad = |shown: String| bad_param("number", format!("expected an issue number such as 42, got {shown}"));
    match params.get("number") {
        Some(Value::Number(n)) => n.as_u64().filter(|n| *n > 0).ok_or_else(|| bad(n.to_string())),
        Some(Value::String(s)) => {
            let t = s.trim().trim_start_matches('#');
            t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| bad(format!("{s:?}")))
        }
        None | Some(Value::Null) => Err(bad_param("number", "is required")),
        Some(other) => Err(bad(other.to_string())),
    }
}

/// `comment_issue`: POST /repos/{owner}/{repo}/issues/{number}/comments.
struct CommentIssue {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for CommentIssue {
    /// GitHub has no idempotency key: a repeat would post a second comment.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let repo = parse_repo(req_str(params, "repo")?)?;
        let number = issue_number(params)?;
        let text = req_str(params, "body")?;
        let path = format!("/repos/{}/{}/issues/{number}/comments", repo.owner, repo.name);
        post_json(&self.base, ctx, &path, &json!({ "body": text }), &format!("issue {repo}#{number}")).await?;
        Ok(ReactionOutput { summary: format!("commented on {repo}#{number}") })
    }
}
