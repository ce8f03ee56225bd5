//! `twitter`: new post by a user, and posting, through the X API v2.
//!
//! Decisions:
//! - Auth is OAuth 2.0 authorization code with PKCE for a "Native App" (public client, no
//!   secret): authorize at `https://x.com/i/oauth2/authorize`, token at
//!   `https://api.x.com/2/oauth2/token`. Scopes `tweet.read users.read tweet.write
//!   offline.access` (the last one yields a refresh token; access tokens last about 2 h).
//! - `new_post` reads `GET /2/users/{id}/tweets`. The timeline needs the numeric user id, so the
//!   action takes `user_id` or `username`. With only a username, the first poll looks the user up
//!   (`GET /2/users/by/username/{username}`, one "user read") and keeps the id in the cursor, so
//!   areas stay readable (`@nasa`) and the lookup is paid once, not per poll; if the username
//!   parameter changes, the cursor no longer matches and the lookup is redone.
//! - The cursor's `since_id` is the high-water mark (`meta.newest_id`, else the largest id seen):
//!   each poll asks only for newer posts, so X bills only new posts (pay-per-use charges per post
//!   read). The first timeline read ("priming") asks for 5 posts only, fires nothing and just
//!   records `since_id`; it would otherwise re-fire the recent posts after a lookup baseline.
//!   Later reads ask for up to 100 posts. Key = the post id (kept as a string: ids exceed 2^53).
//! - The `since_id` filter is not trusted (defence in depth): a read also drops every post whose
//!   id is not above the mark the previous read recorded — the priming read's posts included,
//!   which the engine never saw as events. Post ids are Snowflakes, time-ordered, so "not above
//!   the mark" is exactly what `since_id` asks the server to leave out; a server (or proxy) that
//!   ignores the parameter and answers older posts again fires nothing twice.
//!   Replies and reposts are excluded unless `include_replies` is set.
//! - An empty timeline is `{"meta": {"result_count": 0}}` with no `data`: no events, not an
//!   error. A 200 with `errors` and no `data` (unknown or suspended user, protected account) is
//!   an error naming the user.
//! - `post` sends `POST /2/tweets {"text": …}` (201 → `{data: {id, text}}`). X has no
//!   idempotency key: not idempotent.
//! - Errors ([`x_error`]): bodies are RFC 7807-style problems `{"title", "detail", "type",
//!   "status"}` (older ones `{"errors": [{"message", "code"}]}`). 401 → `AuthExpired`; 402 and
//!   403 → permanent, saying what the developer account lacks (the free tier cannot read posts;
//!   spent credits); 404 → permanent naming the resource; 429 → retryable at
//!   `x-rate-limit-reset` (epoch seconds) or `Retry-After`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "twitter";
/// The real API's base URL (overridable with `AREA_TWITTER_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";
/// Scopes this service asks X for.
pub const SCOPES: [&str; 4] = ["tweet.read", "users.read", "tweet.write", "offline.access"];
/// Posts asked for on the first (priming) timeline read: X's minimum, since they only set the mark.
pub const PRIMING_RESULTS: u32 = 5;
/// Posts asked for on later reads (X's maximum per page).
pub const MAX_RESULTS: u32 = 100;
/// Longest post text X accepts (for non-Premium accounts), in characters.
pub const TEXT_MAX_CHARS: usize = 280;

/// The `twitter` service: manifest, the polled `new_post` action and the `post` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_post", ActionKind::Polled(Arc::new(NewPost { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("post", Arc::new(Post { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "X (Twitter)",
        description: "Watch an X account for new posts, or post from your account.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["api.x.com"],
        oauth: Some(OAuthProvider {
            id: "twitter",
            auth_url: "https://x.com/i/oauth2/authorize",
            token_url: "https://api.x.com/2/oauth2/token",
            scopes: SCOPES.to_vec(),
            extra_auth_params: vec![],
            loopback_host: LoopbackHost::Ip,
        }),
        availability: Availability::Limited(
            "needs a paid X developer account (pay-per-use credits, or a legacy Basic/Pro plan): the free tier is \
             closed to new developers and cannot read posts, and each post read or created is billed to your \
             account."
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_post",
            name: "New post by a user",
            description: "Fires for each new post by an X account (replies and reposts excluded unless asked). X \
                          bills each post read to your developer account.",
            params: vec![
                ParamSpec::new(
                    "username",
                    "Username",
                    "The account's handle, with or without @, e.g. NASA. Looked up once (one billed user read).",
                    ParamType::String,
                )
                .optional(None),
                ParamSpec::new(
                    "user_id",
                    "User id",
                    "Or the account's numeric id (skips the lookup), e.g. 11348282. Give a username or an id.",
                    ParamType::String,
                )
                .optional(None),
                ParamSpec::new(
                    "include_replies",
                    "Include replies and reposts",
                    "Also fire for the account's replies and reposts.",
                    ParamType::Boolean,
                )
                .optional(Some(json!(false))),
            ],
            ingredients: vec![
                IngredientSpec {
                    id: "text",
                    description: "The post's text.",
                    example: "Webb a capturé une nouvelle image ✨ https://t.co/abc123",
                },
                IngredientSpec {
                    id: "url",
                    description: "The post's link on x.com.",
                    example: "https://x.com/NASA/status/1861234567890123456",
                },
                IngredientSpec {
                    id: "created_at",
                    description: "When it was posted (RFC 3339).",
                    example: "2026-11-28T09:41:07.000Z",
                },
                IngredientSpec { id: "author", description: "The author's username.", example: "NASA" },
                IngredientSpec { id: "author_name", description: "The author's display name.", example: "NASA" },
                IngredientSpec { id: "post_id", description: "The post's id.", example: "1861234567890123456" },
            ],
            dynamic_ingredients: false,
            // User timelines allow 900 requests per 15 minutes per user, but every read is billed.
            min_interval_secs: Some(120),
        }],
        reactions: vec![ReactionManifest {
            id: "post",
            name: "Post",
            description: "Publishes a post from the connected X account (billed per post created).",
            params: vec![ParamSpec::new(
                "text",
                "Text",
                "The post's text (up to 280 characters); may use ingredients.",
                ParamType::String,
            )
            .templated()],
        }],
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The upstream explanation of an X error body: a problem's `detail`/`title`, or the first
/// `errors[].detail`/`message`.
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text =
        |v: &Value, keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str)).map(str::to_string);
    let message = text(&value, &["detail", "title", "error_description", "error"])
        .or_else(|| value.get("errors")?.as_array()?.iter().find_map(|e| text(e, &["detail", "message", "title"])))?;
    Some(excerpt(&message))
}

/// When X's rate-limit window reopens: `x-rate-limit-reset` (epoch seconds), else `Retry-After`.
fn x_retry_after(response: &HttpResponseData) -> Option<Duration> {
    let reset = response.header("x-rate-limit-reset").and_then(|v| v.trim().parse::<u64>().ok());
    match reset {
        Some(at) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            Some(Duration::from_secs(at.saturating_sub(now)).min(MAX_RETRY_AFTER))
        }
        None => crate::net::retry_after(response, SystemTime::now()),
    }
}

/// Maps an X error answer about `resource` to a [`ConnectorError`] (see the module doc).
pub fn x_error(resource: &str, response: &HttpResponseData) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What X's error statuses mean.
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: error_message,
    detail: Detail::Excerpt,
    rules: &[
        (401, Outcome::Reconnect, Retry::No),
        (
            402,
            Outcome::Status(
                402,
                "your X developer account has no credits left for {resource} (top up or check its spending limit): \
                 {detail}",
            ),
            Retry::No,
        ),
        (
            403,
            Outcome::Status(
                403,
                "X refused access to {resource} (the free tier cannot read posts; the app must be in a project \
                 with a paid plan or pay-per-use credits, and protected accounts are hidden): {detail}",
            ),
            Retry::No,
        ),
        (404, Outcome::Status(404, "{resource} was not found: {detail}"), Retry::No),
        (429, Outcome::Status(429, "X rate limit reached; backing off: {detail}"), Retry::With(x_retry_after)),
    ],
    otherwise: None,
};

/// A 2xx body with `errors` but no `data` is an error about `resource` (unknown or suspended
/// user, protected posts…); mapped by the problem's `type`.
fn error_in_body(resource: &str, value: &Value, status: u16) -> Option<ConnectorError> {
    if value.get("data").is_some_and(|d| !d.is_null()) {
        return None;
    }
    let first = value.get("errors")?.as_array()?.first()?;
    let kind = first.get("type").and_then(Value::as_str).unwrap_or_default();
    let detail = error_message(&serde_json::to_vec(value).unwrap_or_default()).unwrap_or_default();
    let mapped = if kind.contains("resource-not-found") {
        404
    } else if kind.contains("not-authorized") || kind.contains("forbidden") {
        403
    } else {
        return Some(ConnectorError::BadResponse {
            service: ID.into(),
            message: format!("{resource}: an error came back with HTTP {status}: {detail}"),
        });
    };
    Some(x_error(
        resource,
        &HttpResponseData { status: mapped, headers: vec![], body: serde_json::to_vec(value).unwrap_or_default() },
    ))
}

fn x_json(resource: &str, response: &HttpResponseData) -> Result<Value, ConnectorError> {
    let value: Value = serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("the body is not the documented JSON: {e}"),
    })?;
    if !value.is_object() {
        return Err(ConnectorError::BadResponse {
            service: ID.into(),
            message: "the body is not a JSON object".into(),
        });
    }
    match error_in_body(resource, &value, response.status) {
        Some(e) => Err(e),
        None => Ok(value),
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters and cursor

/// A username without `@`, if it is a valid X handle (1–15 letters, digits or `_`).
pub fn normalise_username(raw: &str) -> Option<String> {
    let name = raw.trim();
    let name = name.strip_prefix('@').unwrap_or(name);
    let name = name
        .strip_prefix("https://x.com/")
        .or_else(|| name.strip_prefix("https://twitter.com/"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default())
        .unwrap_or(name);
    (!name.is_empty() && name.len() <= 15 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_string())
}

/// Who the area watches: a known id, or a username to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Id(String),
    Username(String),
}

fn target(params: &Params) -> Result<Target, ConnectorError> {
    if let Some(id) = opt_str(params, "user_id") {
        if id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_param("user_id", format!("{id:?} is not a numeric X user id")));
        }
        return Ok(Target::Id(id.to_string()));
    }
    match opt_str(params, "username") {
        Some(raw) => normalise_username(raw)
            .map(Target::Username)
            .ok_or_else(|| bad_param("username", format!("{raw:?} is not an X username"))),
        None => Err(bad_param("username", "give the account's username or its numeric user_id")),
    }
}

/// The `new_post` cursor: who was looked up, and the high-water mark.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Cursor {
    /// The username the id was looked up for (lower-cased), when the area names a username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The watched account's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The account's username as X spells it (for post links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Whether the timeline was read once (the mark below is meaningful).
    pub primed: bool,
    /// The newest post id seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_id: Option<String>,
}

/// The cursor, if it still describes this area's target (a changed parameter starts over).
fn current_cursor(params: &Params, cursor: Option<&Value>) -> Result<Option<Cursor>, ConnectorError> {
    let target = target(params)?;
    let Some(cursor) = cursor.and_then(|c| serde_json::from_value::<Cursor>(c.clone()).ok()) else { return Ok(None) };
    let matches = match &target {
        Target::Id(id) => cursor.user_id.as_deref() == Some(id.as_str()) && cursor.username.is_none(),
        Target::Username(name) => {
            cursor.username.as_deref() == Some(name.to_ascii_lowercase().as_str()) && cursor.user_id.is_some()
        }
    };
    Ok(matches.then_some(cursor))
}

fn target_resource(params: &Params) -> String {
    match target(params) {
        Ok(Target::Id(id)) => format!("X user {id}"),
        Ok(Target::Username(name)) => format!("X user @{name}"),
        Err(_) => "the X user".into(),
    }
}

/// Whether a post was read by an earlier poll: its id is not above the recorded `mark` (the
/// `since_id` the server was asked to filter on, which it may ignore).
fn already_read(id: &str, mark: Option<&str>) -> bool {
    mark.is_some_and(|mark| !id_greater(id, mark))
}

/// Numeric comparison of two decimal id strings.
fn id_greater(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len() > b.len() || (a.len() == b.len() && a > b)
}

// ---------------------------------------------------------------------------------------------
// new_post

/// The `new_post` poll request against `base` for these parameters and cursor (pure, for
/// tests): a username lookup while the id is unknown, then the timeline.
pub fn poll_request(
    base: &str,
    params: &Params,
    cursor: Option<&Value>,
    credential: &Credential,
) -> Result<HttpRequestSpec, ConnectorError> {
    let base = base.trim_end_matches('/');
    let cursor = current_cursor(params, cursor)?;
    let url = match (target(params)?, &cursor) {
        (Target::Username(name), None) => {
            let mut url = parse_url(ID, &format!("{base}/2/users/by/username/{name}"))?;
            url.query_pairs_mut().append_pair("user.fields", "username,name");
            url
        }
        (target, _) => {
            let known = cursor.as_ref().and_then(|c| c.user_id.clone());
            let id = match target {
                Target::Id(id) => id,
                Target::Username(_) => known.unwrap_or_default(),
            };
            let mut url = parse_url(ID, &format!("{base}/2/users/{id}/tweets"))?;
            let primed = cursor.as_ref().is_some_and(|c| c.primed);
            let since = cursor.as_ref().and_then(|c| c.since_id.clone()).filter(|_| primed);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("max_results", &if primed { MAX_RESULTS } else { PRIMING_RESULTS }.to_string());
                if let Some(since) = since {
                    q.append_pair("since_id", &since);
                }
                q.append_pair("tweet.fields", "created_at,author_id")
                    .append_pair("expansions", "author_id")
                    .append_pair("user.fields", "username,name");
                if !opt_bool(params, "include_replies")?.unwrap_or(false) {
                    q.append_pair("exclude", "replies,retweets");
                }
            }
            url
        }
    };
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Tweet {
    id: Option<String>,
    text: Option<String>,
    created_at: Option<String>,
    author_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct User {
    id: Option<String>,
    username: Option<String>,
    name: Option<String>,
}

/// Reads a `new_post` response (lookup or timeline) into events and the next cursor (pure).
pub fn read_poll(
    params: &Params,
    cursor: Option<&Value>,
    response: &HttpResponseData,
) -> Result<PollOutput, ConnectorError> {
    let resource = target_resource(params);
    let value = x_json(&resource, response)?;
    let current = current_cursor(params, cursor)?;
    let target = target(params)?;
    if let (Target::Username(name), None) = (&target, &current) {
        // The lookup: remember the id; the timeline is read (and primed) next time.
        let user: User = serde_json::from_value(value.get("data").cloned().unwrap_or_default()).unwrap_or_default();
        let Some(id) = user.id.filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit())) else {
            return Err(ConnectorError::BadResponse {
                service: ID.into(),
                message: format!("the lookup of {resource} returned no user id"),
            });
        };
        let next = Cursor {
            username: Some(name.to_ascii_lowercase()),
            user_id: Some(id),
            handle: user.username,
            primed: false,
            since_id: None,
        };
        return Ok(PollOutput { events: vec![], cursor: serde_json::to_value(next).ok() });
    }
    let mut next = current.unwrap_or_else(|| Cursor {
        user_id: match &target {
            Target::Id(id) => Some(id.clone()),
            Target::Username(_) => None,
        },
        ..Cursor::default()
    });
    let tweets: Vec<Tweet> =
        serde_json::from_value(value.get("data").cloned().unwrap_or(Value::Null)).ok().unwrap_or_default();
    let users: Vec<User> = value
        .get("includes")
        .and_then(|i| i.get("users"))
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    let mut newest = value
        .get("meta")
        .and_then(|m| m.get("newest_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| next.since_id.clone());
    // What the previous reads recorded: posts at or below it were read already.
    let mark = next.since_id.clone().filter(|_| next.primed);
    let mut events = Vec::new();
    for tweet in tweets {
        let Some(id) = tweet.id.filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit())) else {
            continue;
        };
        if newest.as_deref().is_none_or(|n| id_greater(&id, n)) {
            newest = Some(id.clone());
        }
        if already_read(&id, mark.as_deref()) {
            tracing::debug!(service = ID, post = %id, "the server answered a post at or below since_id; skipped");
            continue;
        }
        let author = tweet.author_id.as_deref().and_then(|a| users.iter().find(|u| u.id.as_deref() == Some(a)));
        let handle = author.and_then(|u| u.username.clone()).or_else(|| next.handle.clone());
        let url = match &handle {
            Some(h) => format!("https://x.com/{h}/status/{id}"),
            None => format!("https://x.com/i/web/status/{id}"),
        };
        let mut ingredients = Ingredients::new();
        ingredients.insert("text".into(), json!(tweet.text.unwrap_or_default()));
        ingredients.insert("url".into(), json!(url));
        ingredients.insert("created_at".into(), json!(tweet.created_at.unwrap_or_default()));
        ingredients.insert("author".into(), json!(handle.clone().unwrap_or_default()));
        ingredients.insert("author_name".into(), json!(author.and_then(|u| u.name.clone()).unwrap_or_default()));
        ingredients.insert("post_id".into(), json!(id));
        events.push(Event { key: id, ingredients });
    }
    if next.handle.is_none() {
        next.handle = users.iter().find(|u| u.id == next.user_id).and_then(|u| u.username.clone());
    }
    let priming = !next.primed;
    next.primed = true;
    next.since_id = newest;
    if priming {
        events.clear();
    }
    Ok(PollOutput { events, cursor: serde_json::to_value(next).ok() })
}

/// How a failed (non-2xx) poll answer maps to an error (see [`x_error`]).
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    x_error(&target_resource(params), response)
}

struct NewPost {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewPost {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        poll_request(&self.base, ctx.params, ctx.cursor, ctx.require_credential(ID)?)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        read_poll(ctx.params, ctx.cursor, response)
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx.params, response)
    }
}

// ---------------------------------------------------------------------------------------------
// post

/// The `post` request against `base` (pure, for tests). Text longer than 280 characters is cut
/// with `…` (Premium accounts may post more, but X would refuse it from others).
pub fn post_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let text = params.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(bad_param("text", "is empty: X refuses empty posts"));
    }
    let body = json!({ "text": truncate_chars(text, TEXT_MAX_CHARS - 1) });
    Ok(json_post(parse_url(ID, &format!("{}/2/tweets", base.trim_end_matches('/')))?.to_string(), credential, &body))
}

/// Runs `post` against `base` (what the reaction does with the configured base URL).
pub async fn post(ctx: &ReactionContext<'_>, params: &Params, base: &str) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = post_request(base, params, credential)?;
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(x_error("posting", &response));
    }
    let value = x_json("posting", &response)?;
    match value.get("data").and_then(|d| d.get("id")).and_then(Value::as_str) {
        Some(id) => Ok(ReactionOutput { summary: format!("posted https://x.com/i/web/status/{id}") }),
        None => Err(ConnectorError::BadResponse { service: ID.into(), message: "the answer has no post id".into() }),
    }
}

struct Post {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for Post {
    /// X has no idempotency key: a repeat would post twice (or be refused as a duplicate).
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        post(ctx, params, &self.base).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_numerically() {
        assert!(id_greater("1000", "999"));
        assert!(!id_greater("999", "1000"));
        assert!(id_greater("1861234567890123457", "1861234567890123456"));
        assert!(!id_greater("5", "5"));
    }

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(normalise_username("@NASA").as_deref(), Some("NASA"));
        assert_eq!(normalise_username("https://x.com/NASA/status/1").as_deref(), Some("NASA"));
        assert_eq!(normalise_username("bad name"), None);
        assert_eq!(normalise_username("../me"), None);
        assert_eq!(normalise_username("a_very_long_username_x"), None);
    }
}
