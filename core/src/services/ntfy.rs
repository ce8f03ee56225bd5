//! `ntfy`: watch an ntfy topic for new messages; publish messages to a topic.
//!
//! ntfy (ntfy.sh, or a self-hosted server) is publish-subscribe over plain HTTP: whoever
//! publishes to a topic notifies every phone and browser subscribed to it.
//!
//! Endpoints (docs.ntfy.sh/subscribe/api, docs.ntfy.sh/publish):
//! - `new_message` polls `GET {base}/{topic}/json?poll=1&since=…`. The answer is newline-delimited
//!   JSON, one object per line: `{"id", "time", "event", "topic", "message", "title"?,
//!   "priority"?, "tags"?, "click"?, …}`. Only `"event": "message"` lines are messages (`open`,
//!   `keepalive` and later kinds are skipped); `poll=1` makes the server answer with what it has
//!   cached and close, instead of streaming.
//! - `publish` sends `POST {base}/{topic}` with the message as a `text/plain` body and the
//!   `Title`, `Priority`, `Tags` and `Click` headers.
//!
//! Decisions:
//! - The topic is checked against ntfy's own rule (`[-_A-Za-z0-9]{1,64}`) before any request,
//!   after rendering for the reaction, so no value can add a path segment (`/`, `..`) or a query;
//!   it then goes into the URL as one percent-encoded path segment. On ntfy.sh anyone who knows a
//!   topic can read and publish to it, so the parameter is a secret: sealed at rest, exported as a
//!   placeholder, never named in errors or the run history.
//! - Base URL `https://ntfy.sh`; a self-hosted server (with a path prefix if it has one) is
//!   `AREA_NTFY_BASE_URL`, which also becomes the only host a connection's token may go to.
//! - Auth is optional: public topics need none, protected ones an access token (`tk_…`) saved as
//!   the `ntfy` connection and sent as `Authorization: Bearer …` — only when there is one
//!   ([`PolledAction::needs_credential`] is `false`, so the engine polls without a connection).
//! - `since`: no cursor yet → `all` (everything the server caches; ntfy.sh keeps 12 hours). Then
//!   the cursor is the newest message `time` seen and the request asks from [`SINCE_OVERLAP_SECS`]
//!   before it; the engine dedupes the overlap by key (the message `id`). A time rather than
//!   `since=<id>`: ntfy selects "after an id" by storage order, so a scheduled message that was
//!   stored before the cursor's message but delivered after it would never be seen.
//! - Ingredients: `priority` is a number (3 when absent, so conditions can compare it), `tags`
//!   the tags joined with commas, `time` RFC 3339 UTC; missing fields are empty.
//! - Headers are rendered in the header context (line breaks become spaces) and any control
//!   character left becomes a space; a value that is not printable ASCII, or holds `=?`, is sent
//!   as RFC 2047 encoded words (`=?UTF-8?B?…?=`), which ntfy decodes — so `Crêpes 🥞` arrives as
//!   written and a crafted title stays text. `Click` must be an http(s) URL. `Priority` is sent as
//!   its number and left out for `default`. The body is cut to ntfy's 4096-byte message limit
//!   (beyond it ntfy would turn the text into a file attachment).
//! - `publish` is not idempotent: ntfy takes no idempotency key, a repeat notifies twice.
//! - Errors ([`ERRORS`]): 401 → reconnect (a refused token), 403 → permanent, the topic needs a
//!   token with access to it; 404, 413 → permanent; 429 → retryable after `Retry-After`; other
//!   statuses → the generic mapping (5xx retry). A 2xx line that is not JSON → bad response (not
//!   an ntfy server).
//! - Connecting checks the access token with `GET /v1/account` (a 401 refuses it; `username`
//!   names the connection).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "ntfy";

/// The public server (overridable with `AREA_NTFY_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://ntfy.sh";

/// Lowest poll interval: ntfy.sh asks clients to be gentle, and a minute is quick for a
/// notification.
pub const MIN_INTERVAL_SECS: u32 = 60;

/// How far before the newest message seen a poll asks again (late scheduled deliveries).
pub const SINCE_OVERLAP_SECS: i64 = 60;

/// ntfy's message size limit, in bytes (a longer body becomes an attachment).
pub const MESSAGE_MAX_BYTES: usize = 4096;

/// The `priority` choices, lowest first (ntfy's 1 to 5).
pub const PRIORITIES: [&str; 5] = ["min", "low", "default", "high", "urgent"];

/// The `ntfy` service: the polled `new_message` action and the `publish` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_message",
        ActionKind::Polled(Arc::new(NewMessage { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert("publish", Arc::new(Publish { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions).with_account_check(WhoAmI::new(
        ID,
        format!("{base}/v1/account"),
        |c| vec![bearer(c)],
        "/username",
    ))
}

fn topic_param(help: &'static str) -> ParamSpec {
    ParamSpec::new("topic", "Topic", help, ParamType::String).secret()
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "ntfy",
        description: "Push notifications to your phone and desktop over plain HTTP, on ntfy.sh or your own ntfy \
                      server: watch a topic for new messages, or publish to one. Public topics need no account; \
                      for a protected topic, connect an access token (tk_…).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["ntfy.sh"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_message",
            name: "New message on a topic",
            description: "Fires for each new message published to an ntfy topic. The server must keep recent \
                          messages (ntfy.sh keeps them 12 hours), so poll more often than that.",
            params: vec![topic_param(
                "The topic's name: letters, digits, - and _, up to 64 characters. On ntfy.sh anyone who knows a \
                 topic can read it, so Area keeps it sealed like a password.",
            )],
            ingredients: vec![
                ingredient("id", "The message's id.", "hwQ2YpKdmg1x"),
                ingredient("title", "Its title (empty when it has none).", "Backup finished"),
                ingredient("message", "Its text.", "Nightly backup of /home: 12.4 GB, no errors."),
                ingredient("priority", "Its priority, 1 (min) to 5 (urgent); 3 when not set.", "4"),
                ingredient("tags", "Its tags, separated by commas.", "warning,floppy_disk"),
                ingredient("click", "The link it opens when tapped (empty when none).", "https://grafana.example.com"),
                ingredient("time", "When it was published (RFC 3339, UTC).", "2021-12-03T14:35:10Z"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(MIN_INTERVAL_SECS),
        }],
        reactions: vec![ReactionManifest {
            id: "publish",
            name: "Publish a message",
            description: "Publishes a message to an ntfy topic: every phone and browser subscribed to it shows a \
                          notification.",
            params: vec![
                topic_param(
                    "The topic to publish to: letters, digits, - and _, up to 64 characters; may use ingredients \
                     as long as the result is such a name. Kept sealed like a password.",
                )
                .templated(),
                ParamSpec::new(
                    "message",
                    "Message",
                    "The notification's text (up to 4096 bytes); may use ingredients.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new("title", "Title", "The notification's title; may use ingredients.", ParamType::String)
                    .optional(Some(json!("")))
                    .templated_as(TextContext::Header),
                ParamSpec::new(
                    "priority",
                    "Priority",
                    "How insistently devices notify: min, low, default, high or urgent.",
                    ParamType::Enum { choices: PRIORITIES.iter().map(|p| p.to_string()).collect() },
                )
                .optional(Some(json!("default"))),
                ParamSpec::new(
                    "tags",
                    "Tags",
                    "Comma-separated tags; names of emojis (warning, tada) show as emojis. May use ingredients.",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated_as(TextContext::Header),
                ParamSpec::new(
                    "click",
                    "Link",
                    "An http(s) address opened when the notification is tapped; may use ingredients.",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated_as(TextContext::Header),
            ],
        }],
    }
}

/// The `topic` parameter, checked against ntfy's rule (`[-_A-Za-z0-9]{1,64}`). The value is
/// never repeated: it is a secret.
pub fn topic(params: &Params) -> Result<&str, ConnectorError> {
    let topic = req_str(params, "topic")?;
    let valid = topic.len() <= 64 && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(topic)
    } else {
        Err(bad_param(
            "topic",
            "must be 1 to 64 letters, digits, - or _ (ntfy's rule: no /, spaces or dots); value not shown, it is secret",
        ))
    }
}

/// `{base}/{topic}` followed by `tail` segments, the topic percent-encoded as one segment.
fn topic_url(base: &str, topic: &str, tail: &[&str]) -> Result<url::Url, ConnectorError> {
    let mut url = parse_url(ID, base)?;
    url.path_segments_mut()
        .map_err(|()| bad_param("base URL", format!("{ID}: {base:?} cannot take a path")))?
        .pop_if_empty()
        .push(topic)
        .extend(tail);
    Ok(url)
}

/// The `since` of a poll: `all` without a cursor, else [`SINCE_OVERLAP_SECS`] before the
/// newest message time the cursor holds.
pub fn since(cursor: Option<&Value>) -> String {
    match cursor.and_then(|c| c.get("time")).and_then(Value::as_i64).filter(|t| *t > SINCE_OVERLAP_SECS) {
        Some(time) => (time - SINCE_OVERLAP_SECS).to_string(),
        None => "all".to_string(),
    }
}

/// The poll request for these parameters and cursor (pure, for tests).
pub fn poll_request(
    base: &str,
    params: &Params,
    cursor: Option<&Value>,
    credential: Option<&Credential>,
) -> Result<HttpRequestSpec, ConnectorError> {
    let mut url = topic_url(base, topic(params)?, &["json"])?;
    url.query_pairs_mut().append_pair("poll", "1").append_pair("since", &since(cursor));
    let mut request = HttpRequestSpec::get(url.as_str());
    request.headers.extend(credential.map(bearer));
    Ok(request)
}

fn text(object: &serde_json::Map<String, Value>, field: &str) -> String {
    object.get(field).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Reads a `/json?poll=1` answer (pure, for tests on saved answers): one event per `message`
/// line, in the server's order (oldest first), and the newest message time. A line that is not
/// a JSON object fails the read: the server is not speaking ntfy's protocol.
pub fn read_messages(body: &[u8]) -> Result<(Vec<Event>, Option<i64>), ConnectorError> {
    let mut events = Vec::new();
    let mut newest: Option<i64> = None;
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(line) else {
            return Err(bad_response(ID, format!("line {} is not a JSON object: is this an ntfy server?", index + 1)));
        };
        if object.get("event").and_then(Value::as_str) != Some("message") {
            continue;
        }
        let id = text(&object, "id");
        if id.is_empty() {
            tracing::warn!(service = ID, "skipping a message without an id");
            continue;
        }
        let time = object.get("time").and_then(Value::as_i64);
        newest = newest.max(time);
        let priority = object.get("priority").and_then(Value::as_u64).filter(|p| (1..=5).contains(p)).unwrap_or(3);
        let tags: Vec<&str> = match object.get("tags") {
            Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let time_text = time
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default();
        let mut ingredients = Ingredients::new();
        ingredients.insert("id".into(), json!(id));
        ingredients.insert("title".into(), json!(text(&object, "title")));
        ingredients.insert("message".into(), json!(text(&object, "message")));
        ingredients.insert("priority".into(), json!(priority));
        ingredients.insert("tags".into(), json!(tags.join(",")));
        ingredients.insert("click".into(), json!(text(&object, "click")));
        ingredients.insert("time".into(), json!(time_text));
        events.push(Event { key: id, ingredients });
    }
    Ok((events, newest))
}

/// What ntfy's error statuses mean.
pub const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: error_message,
    detail: Detail::Says("ntfy"),
    rules: &[
        (401, Outcome::Reconnect, Retry::No),
        (
            403,
            Outcome::Status(
                403,
                "{resource} is protected: it needs an access token allowed to use it: connect ntfy with one{detail}",
            ),
            Retry::No,
        ),
        (404, Outcome::Status(404, "{resource} was not found: is the base URL an ntfy server?{detail}"), Retry::No),
        (413, Outcome::Status(413, "the message is too large for this server{detail}"), Retry::No),
        (429, Outcome::Status(429, "rate limited{detail}"), Retry::Header),
    ],
    otherwise: None,
};

/// ntfy's error body: `{"code": 40301, "http": 403, "error": "forbidden", "link": …}`.
fn error_message(body: &[u8]) -> Option<String> {
    let root: Value = serde_json::from_slice(body).ok()?;
    root.get("error").and_then(Value::as_str).filter(|e| !e.trim().is_empty()).map(excerpt)
}

/// `new_message`: the messages the server caches for the topic, from the cursor on.
struct NewMessage {
    /// The server's base URL (the settings' override or ntfy.sh).
    base: String,
}

impl PolledAction for NewMessage {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        poll_request(&self.base, ctx.params, ctx.cursor, ctx.credential)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let (events, newest) = read_messages(&response.body)?;
        let previous = ctx.cursor.and_then(|c| c.get("time")).and_then(Value::as_i64);
        let cursor = newest.max(previous).map(|time| json!({ "time": time }));
        Ok(PollOutput { events, cursor })
    }

    fn error_for(&self, _service: &str, _ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        ERRORS.map("the topic", response)
    }

    /// Public topics are read without a connection.
    fn needs_credential(&self) -> bool {
        false
    }
}

/// A header value ntfy reads back exactly: control characters become spaces; printable ASCII
/// without `=?` is sent as it is, anything else as RFC 2047 encoded words (`=?UTF-8?B?…?=`, at
/// most 75 characters each, cut between characters), which ntfy decodes and joins.
pub fn header_value(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.trim();
    if text.is_ascii() && !text.contains("=?") {
        return text.to_string();
    }
    // 12 characters of framing leave 63 for base64: 45 bytes of text.
    const CHUNK_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > CHUNK_BYTES {
            words.push(format!("=?UTF-8?B?{}?=", base64_std(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64_std(chunk.as_bytes())));
    }
    words.join(" ")
}

/// An optional header parameter as a header value, `None` when blank.
fn header_param(params: &Params, id: &str) -> Option<String> {
    opt_str(params, id).map(header_value).filter(|v| !v.is_empty())
}

/// The `priority` parameter as ntfy's number, `None` for the default.
fn priority(params: &Params) -> Result<Option<u8>, ConnectorError> {
    Ok(match opt_str(params, "priority").map(str::to_ascii_lowercase).as_deref() {
        None | Some("default" | "3") => None,
        Some("min" | "1") => Some(1),
        Some("low" | "2") => Some(2),
        Some("high" | "4") => Some(4),
        Some("urgent" | "max" | "5") => Some(5),
        Some(other) => return Err(bad_param("priority", format!("{other:?} is not one of {}", PRIORITIES.join(", ")))),
    })
}

/// The `click` parameter: an http(s) URL, or `None` when blank.
fn click(params: &Params) -> Result<Option<String>, ConnectorError> {
    let Some(raw) = opt_str(params, "click") else { return Ok(None) };
    let url = url::Url::parse(raw).map_err(|e| bad_param("click", format!("not a valid URL ({e})")))?;
    match url.scheme() {
        "http" | "https" => Ok(Some(url.to_string())),
        other => Err(bad_param("click", format!("only http and https links are supported, not {other}:"))),
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The `publish` request for rendered parameters (pure, for tests).
pub fn publish_request(
    base: &str,
    params: &Params,
    credential: Option<&Credential>,
) -> Result<HttpRequestSpec, ConnectorError> {
    let url = topic_url(base, topic(params)?, &[])?;
    let message = params.get("message").and_then(Value::as_str).unwrap_or("");
    let mut headers = vec![("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())];
    if let Some(title) = header_param(params, "title") {
        headers.push(("Title".into(), title));
    }
    if let Some(priority) = priority(params)? {
        headers.push(("Priority".into(), priority.to_string()));
    }
    if let Some(tags) = header_param(params, "tags") {
        headers.push(("Tags".into(), tags));
    }
    if let Some(click) = click(params)? {
        headers.push(("Click".into(), click));
    }
    headers.extend(credential.map(bearer));
    Ok(HttpRequestSpec {
        method: "POST".into(),
        url: url.into(),
        headers,
        body: Some(cut_bytes(message, MESSAGE_MAX_BYTES).into_bytes()),
    })
}

/// `publish`: POST {base}/{topic}.
struct Publish {
    /// The server's base URL (the settings' override or ntfy.sh).
    base: String,
}

#[async_trait]
impl Reaction for Publish {
    /// ntfy takes no idempotency key: a repeat notifies twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let spec = publish_request(&self.base, params, ctx.credential)?;
        let response = send(ctx, &spec).await?;
        if !(200..300).contains(&response.status) {
            return Err(ERRORS.map("the topic", &response));
        }
        // The published message (`{"id", "time", "event": "message", …}`); only a plain id is kept.
        let id = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
            .filter(|id| !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        Ok(ReactionOutput {
            summary: match id {
                Some(id) => format!("published ntfy message {id}"),
                None => "published an ntfy message".to_string(),
            },
        })
    }
}
