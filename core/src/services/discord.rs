//! `discord`: watch a channel for new messages (bot), post through a webhook or as the bot.
//!
//! Decisions:
//! - Auth is a bot token (Developer Portal → your application → Bot), sent as
//!   `Authorization: Bot <token>`. Reading message text needs the bot's MESSAGE_CONTENT
//!   privileged intent; without it Discord returns messages with an empty `content`.
//! - Base URL `https://discord.com` (API v10 under `/api/v10`), overridden by
//!   `AREA_DISCORD_BASE_URL` (read at call time).
//! - `new_message` polls `GET /api/v10/channels/{id}/messages?limit=50` (newest first). Key = the
//!   message id (a snowflake, unique and time-ordered). Messages from bots and webhooks are
//!   skipped unless `include_bots` is set, so an area posting into the channel it watches does
//!   not feed itself. Discord sends no ETag: every poll is a full request (rate limits are
//!   per-route buckets, 429 carries `retry_after`).
//! - Message links: the messages endpoint does not return the guild, so `url` is
//!   `https://discord.com/channels/{guild_id}/{channel}/{message}` when the optional `guild_id`
//!   parameter is given, else the `@me` form (which opens for DM channels; server channels need
//!   the guild id).
//! - `send_webhook` posts to a webhook URL (the URL itself is the secret: it is never logged or
//!   echoed in errors). It needs no bot token. The URL must be `https` on discord.com /
//!   discordapp.com (incl. ptb/canary) under `/api/…/webhooks/`; when `AREA_DISCORD_BASE_URL` is
//!   set, URLs under that base are accepted too (tests, proxies). `?wait=true` is added so
//!   Discord answers with the created message. Not idempotent: webhooks take no nonce.
//! - `send_message` posts as the bot with `nonce` = first 25 hex chars of SHA-256 of the run's
//!   idempotency key and `enforce_nonce: true`: Discord returns the already-created message for a
//!   repeated nonce (within a few minutes), so the reaction is declared idempotent.
//! - Both reactions send `allowed_mentions: {"parse": []}`, so templated text cannot ping
//!   @everyone or roles, and cut `content` to Discord's 2000-character limit.
//! - Errors ([`error_for`]): 401 → [`ConnectorError::AuthExpired`] for the bot (for a webhook,
//!   which has no connection to repair, [`ConnectorError::BadParams`] on `webhook_url`); 403/404 → permanent, naming the channel or
//!   webhook; 429 → retryable with the body's `retry_after` (float seconds) or `Retry-After`.
//!   A 2xx whose body is an error object (`{"message", "code"}`) → [`ConnectorError::BadResponse`].
//! - Connecting checks the bot token with `GET /api/v10/users/@me` (a 401 refuses it; the bot's
//!   `username` names the connection).
//! - Every request (poll, both reactions, the token check) sends
//!   `User-Agent: DiscordBot (https://github.com/area, <crate version>)` ([`user_agent`]):
//!   Discord's API reference requires that form and may block other agents, so it replaces the
//!   shared client's default agent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "discord";
/// The real API host, used unless `AREA_DISCORD_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://discord.com";
/// Longest message Discord accepts, in characters.
pub const CONTENT_MAX_CHARS: usize = 2000;
/// Longest `nonce` Discord accepts.
pub const NONCE_MAX_CHARS: usize = 25;

/// The project URL named in the `User-Agent` Discord requires.
pub const USER_AGENT_URL: &str = "https://github.com/area";

/// Hosts a webhook URL may point at.
const WEBHOOK_HOSTS: [&str; 5] =
    ["discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com", "www.discord.com"];

/// The `discord` service: manifest, the polled `new_message` action and two reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_message",
        ActionKind::Polled(Arc::new(NewMessage { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert(
        "send_webhook",
        Arc::new(SendWebhook { overridden_base: settings.service(ID, "BASE_URL").map(str::to_string) })
            as Arc<dyn Reaction>,
    );
    reactions.insert("send_message", Arc::new(SendMessage { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions).with_account_check(WhoAmI::new(
        ID,
        format!("{base}/api/v10/users/@me"),
        |c| vec![auth_header(c), user_agent()],
        "/username",
    ))
}

fn channel_param(templated: bool) -> ParamSpec {
    let spec = ParamSpec::new(
        "channel_id",
        "Channel id",
        "The channel's numeric id (enable Developer Mode in Discord, then right-click the channel → Copy Channel ID). \
         The bot must be in the server and allowed to see the channel.",
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
        name: "Discord",
        description: "Watch a channel for new messages with your bot, or post messages through a webhook or as the \
                      bot. Connect with a bot token (Discord Developer Portal → your application → Bot).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["discord.com"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_message",
            name: "New message in a channel",
            description: "Fires when a message is posted in a channel the bot can read. The bot needs the Message \
                          Content intent to see message text.",
            params: vec![
                channel_param(false),
                ParamSpec::new(
                    "guild_id",
                    "Server id",
                    "The server's id, used to build message links (right-click the server → Copy Server ID). \
                     Leave empty for direct messages.",
                    ParamType::String,
                )
                .optional(None),
                ParamSpec::new(
                    "include_bots",
                    "Include bot messages",
                    "Also fire for messages from bots and webhooks (off by default, so an area posting into the \
                     channel it watches does not trigger itself).",
                    ParamType::Boolean,
                )
                .optional(Some(json!(false))),
            ],
            ingredients: vec![
                ingredient("content", "The message text (empty without the Message Content intent).", "Hello 👋"),
                ingredient("author", "The author's username.", "ada"),
                ingredient("author_id", "The author's user id.", "80351110224678912"),
                ingredient(
                    "url",
                    "Link to the message.",
                    "https://discord.com/channels/@me/1100000000000000000/1200000000000000000",
                ),
                ingredient("timestamp", "When it was posted (ISO 8601).", "2024-03-05T10:30:00.123000+00:00"),
                ingredient("message_id", "The message id.", "1200000000000000000"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(30),
        }],
        reactions: vec![
            ReactionManifest {
                id: "send_webhook",
                name: "Send a message via webhook",
                description: "Posts a message through a channel webhook (Channel settings → Integrations → Webhooks). \
                              Needs no bot.",
                params: vec![
                    ParamSpec::new(
                        "webhook_url",
                        "Webhook URL",
                        "The webhook's URL, https://discord.com/api/webhooks/…. Treat it like a password: anyone \
                         holding it can post in the channel. Area keeps it sealed and exports it as a placeholder.",
                        ParamType::Url,
                    )
                    .secret(),
                    ParamSpec::new(
                        "content",
                        "Message",
                        "Message text (up to 2000 characters, Markdown); may use ingredients. Mentions never ping.",
                        ParamType::String,
                    )
                    .templated(),
                    ParamSpec::new(
                        "username",
                        "Display name",
                        "Overrides the webhook's name for this message; may use ingredients.",
                        ParamType::String,
                    )
                    .optional(None)
                    .templated(),
                ],
            },
            ReactionManifest {
                id: "send_message",
                name: "Send a message as the bot",
                description: "Posts a message in a channel as your bot.",
                params: vec![
                    channel_param(true),
                    ParamSpec::new(
                        "content",
                        "Message",
                        "Message text (up to 2000 characters, Markdown); may use ingredients. Mentions never ping.",
                        ParamType::String,
                    )
                    .templated(),
                ],
            },
        ],
    }
}

/// Reads a snowflake parameter (channel, guild): digits only.
fn snowflake_param<'a>(params: &'a Params, id: &str) -> Result<&'a str, ConnectorError> {
    let raw = req_str(params, id)?;
    if raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(bad_param(id, format!("expected a numeric Discord id such as 1100000000000000000, got {raw:?}")))
    }
}

/// The `Authorization` header value for a bot token.
pub fn auth_header(credential: &Credential) -> (String, String) {
    ("Authorization".into(), format!("Bot {}", credential.secret()))
}

/// The `User-Agent: DiscordBot ($url, $versionNumber)` header Discord's API reference requires
/// of every client ("clients may be blocked" otherwise); set on the request, it replaces the
/// shared client's default agent.
pub fn user_agent() -> (String, String) {
    ("User-Agent".into(), format!("DiscordBot ({USER_AGENT_URL}, {})", env!("CARGO_PKG_VERSION")))
}

/// An error object's message (`{"message": "Unknown Channel", "code": 10003}`), if the body is one.
fn error_message(v: &Value) -> Option<String> {
    let message = v.get("message")?.as_str()?;
    let code = v.get("code").and_then(Value::as_i64).map(|c| format!(" (code {c})")).unwrap_or_default();
    Some(format!("{}{code}", truncate_chars(message, 200)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Author {
    id: Option<String>,
    username: Option<String>,
    bot: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Message {
    id: Option<String>,
    channel_id: Option<String>,
    content: Option<String>,
    author: Option<Author>,
    timestamp: Option<String>,
    webhook_id: Option<String>,
}

/// Reads a channel's message list (pure, for tests on saved responses). `guild_id` builds the
/// links; bot and webhook messages are skipped unless `include_bots`.
pub fn read_messages(
    body: &[u8],
    channel_id: &str,
    guild_id: Option<&str>,
    include_bots: bool,
) -> Result<Vec<Event>, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    let items = match root {
        Value::Array(items) => items,
        other => {
            return Err(bad_response(
                ID,
                match error_message(&other) {
                    Some(m) => format!("Discord returned an error: {m}"),
                    None => "expected a JSON array of messages".to_string(),
                },
            ))
        }
    };
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        let Ok(message) = serde_json::from_value::<Message>(item) else {
            tracing::warn!(service = ID, "skipping a message of unexpected shape");
            continue;
        };
        let Some(id) = message.id.filter(|i| !i.is_empty()) else { continue };
        let author = message.author.unwrap_or_default();
        if !include_bots && (author.bot == Some(true) || message.webhook_id.is_some()) {
            continue;
        }
        let channel = message.channel_id.unwrap_or_else(|| channel_id.to_string());
        let guild = guild_id.unwrap_or("@me");
        let mut ing = Ingredients::new();
        ing.insert("content".into(), Value::String(message.content.unwrap_or_default()));
        ing.insert("author".into(), Value::String(author.username.unwrap_or_default()));
        ing.insert("author_id".into(), Value::String(author.id.unwrap_or_default()));
        ing.insert("url".into(), Value::String(format!("https://discord.com/channels/{guild}/{channel}/{id}")));
        ing.insert("timestamp".into(), Value::String(message.timestamp.unwrap_or_default()));
        ing.insert("message_id".into(), Value::String(id.clone()));
        events.push(Event { key: id, ingredients: ing });
    }
    Ok(events)
}

/// `new_message`: the 50 newest messages of a channel.
struct NewMessage {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewMessage {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let channel = snowflake_param(ctx.params, "channel_id")?;
        let credential = ctx.require_credential(ID)?;
        let mut req = HttpRequestSpec::get(format!("{}/api/v10/channels/{channel}/messages?limit=50", self.base));
        req.headers = vec![auth_header(credential), accept_json(), user_agent()];
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let channel = snowflake_param(ctx.params, "channel_id")?;
        let guild = match opt_str(ctx.params, "guild_id") {
            Some(_) => Some(snowflake_param(ctx.params, "guild_id")?),
            None => None,
        };
        let include_bots = opt_bool(ctx.params, "include_bots")?.unwrap_or(false);
        Ok(PollOutput { events: read_messages(&response.body, channel, guild, include_bots)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        let channel = req_str(ctx.params, "channel_id").unwrap_or("?");
        error_for(response, &format!("channel {channel}"), true)
    }
}

/// How long Discord asks us to wait on a 429: the body's `retry_after` (float seconds), else the
/// `Retry-After` header, capped at [`MAX_RETRY_AFTER`].
fn discord_retry_after(response: &HttpResponseData) -> Option<Duration> {
    let from_body = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER.as_secs_f64())));
    from_body.or_else(|| crate::net::retry_after(response, SystemTime::now()))
}

/// Classifies a non-2xx Discord answer about `resource` (e.g. "channel 123"). `bot` says whether
/// the bot token was used (a 401 then means reconnect); webhook calls pass `false`.
pub fn error_for(response: &HttpResponseData, resource: &str, bot: bool) -> ConnectorError {
    let parsed = serde_json::from_slice::<Value>(&response.body).ok();
    let detail = parsed.as_ref().and_then(error_message).map(|m| format!(" (Discord says: {m})")).unwrap_or_default();
    let status = |status: u16, message: String, retry_after: Option<Duration>| ConnectorError::Status {
        service: ID.into(),
        status,
        message,
        retry_after,
    };
    match response.status {
        401 if bot => ConnectorError::AuthExpired { service: ID.into() },
        // No connection to repair: the area's webhook URL is wrong (a 401 status would read as
        // "reconnect" to the engine).
        401 => bad_param("webhook_url", format!("{resource} refused the request: the webhook URL is invalid{detail}")),
        403 => status(403, format!("access to {resource} forbidden: check the bot's permissions there{detail}"), None),
        404 if bot => status(404, format!("{resource} not found or not visible to the bot{detail}"), None),
        404 => status(404, format!("{resource} not found: was it deleted?{detail}"), None),
        429 => status(429, format!("rate limited{detail}"), discord_retry_after(response)),
        _ => status_error(ID, response),
    }
}

/// Checks a webhook URL (host and path) and returns it with `wait=true` added. Error messages
/// never repeat the URL, which holds the webhook's token. `overridden_base` is the settings'
/// `AREA_DISCORD_BASE_URL`, when set: webhook URLs under it are accepted too (tests, self-hosted).
pub fn webhook_target(params: &Params, overridden_base: Option<&str>) -> Result<url::Url, ConnectorError> {
    let raw = req_str(params, "webhook_url")?;
    let mut url = url::Url::parse(raw)
        .map_err(|_| bad_param("webhook_url", "is not a valid URL (value not shown: it is secret)"))?;
    let under_override =
        overridden_base.is_some_and(|base| url.as_str().starts_with(&format!("{}/", base.trim_end_matches('/'))));
    let official = url.scheme() == "https" && url.host_str().is_some_and(|h| WEBHOOK_HOSTS.contains(&h));
    if !(official || under_override) {
        return Err(bad_param(
            "webhook_url",
            "must be a Discord webhook URL starting with https://discord.com/api/webhooks/",
        ));
    }
    if !url.path().contains("/webhooks/") {
        return Err(bad_param("webhook_url", "must be a Discord webhook URL (…/api/webhooks/<id>/<token>)"));
    }
    let kept: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != "wait").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(kept).append_pair("wait", "true");
    Ok(url)
}

/// The message text, cut to Discord's limit; empty text is refused (Discord would answer 400).
fn content_param(params: &Params) -> Result<String, ConnectorError> {
    let content = params.get("content").and_then(Value::as_str).unwrap_or("");
    if content.trim().is_empty() {
        return Err(bad_param("content", "is empty: Discord refuses empty messages"));
    }
    Ok(truncate_chars(content, CONTENT_MAX_CHARS - 1))
}

/// Builds the `send_webhook` JSON body from rendered parameters (pure, for tests).
pub fn webhook_body(params: &Params) -> Result<Value, ConnectorError> {
    let mut body = json!({ "content": content_param(params)?, "allowed_mentions": { "parse": [] } });
    if let Some(username) = opt_str(params, "username") {
        body["username"] = json!(truncate_chars(username, 79));
    }
    Ok(body)
}

/// The nonce for a run: the first [`NONCE_MAX_CHARS`] hex characters of SHA-256 of its
/// idempotency key (stable across retries, within Discord's length limit).
pub fn nonce_for(idempotency_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
    digest[..NONCE_MAX_CHARS].to_string()
}

/// Builds the `send_message` JSON body from rendered parameters (pure, for tests).
pub fn message_body(params: &Params, idempotency_key: &str) -> Result<Value, ConnectorError> {
    Ok(json!({
        "content": content_param(params)?,
        "nonce": nonce_for(idempotency_key),
        "enforce_nonce": true,
        "allowed_mentions": { "parse": [] },
    }))
}

/// Sends a JSON POST and reads the created message (`{"id": …}`), mapping errors.
async fn post_message(
    ctx: &ReactionContext<'_>,
    url: String,
    mut headers: Vec<(String, String)>,
    body: &Value,
    resource: &str,
    bot: bool,
) -> Result<Option<String>, ConnectorError> {
    headers.push(("Content-Type".into(), "application/json".into()));
    headers.push(user_agent());
    let spec = HttpRequestSpec { method: "POST".into(), url, headers, body: Some(body.to_string().into_bytes()) };
    let opts = RequestOptions { allow_private_network: ctx.allow_private_network, ..Default::default() };
    let response = ctx.http.send(&spec, &opts).await?;
    if !(200..300).contains(&response.status) {
        return Err(error_for(&response, resource, bot));
    }
    if response.status == 204 || response.body.is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&response.body)
        .map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    match v.get("id").and_then(Value::as_str) {
        Some(id) => Ok(Some(id.to_string())),
        None => Err(bad_response(
            ID,
            match error_message(&v) {
                Some(m) => format!("Discord returned an error: {m}"),
                None => "the answer has no message id".to_string(),
            },
        )),
    }
}

fn summary(id: Option<String>, how: &str) -> ReactionOutput {
    ReactionOutput {
        summary: match id {
            Some(id) => format!("posted Discord message {id} {how}"),
            None => format!("posted a Discord message {how}"),
        },
    }
}

/// `send_webhook`: POST {webhook_url}?wait=true.
struct SendWebhook {
    /// `AREA_DISCORD_BASE_URL`, when the settings set it.
    overridden_base: Option<String>,
}

#[async_trait]
impl Reaction for SendWebhook {
    /// Webhooks take no nonce: a repeat would post twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let url = webhook_target(params, self.overridden_base.as_deref())?;
        let body = webhook_body(params)?;
        let id = post_message(ctx, url.into(), Vec::new(), &body, "the webhook", false).await?;
        Ok(summary(id, "via webhook"))
    }
}

/// `send_message`: POST /api/v10/channels/{id}/messages as the bot.
struct SendMessage {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for SendMessage {
    /// A repeat carries the same `nonce` with `enforce_nonce`, so Discord does not post twice.
    fn idempotent(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let channel = snowflake_param(params, "channel_id")?;
        let credential = ctx.credential.ok_or_else(|| ConnectorError::AuthExpired { service: ID.into() })?;
        let body = message_body(params, ctx.idempotency_key)?;
        let url = format!("{}/api/v10/channels/{channel}/messages", self.base);
        let id =
            post_message(ctx, url, vec![auth_header(credential)], &body, &format!("channel {channel}"), true).await?;
        Ok(summary(id, &format!("in channel {channel}")))
    }
}
