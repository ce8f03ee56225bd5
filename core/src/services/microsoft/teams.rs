//! `teams`: new message in a Microsoft Teams chat, posting to a chat (Microsoft Graph), and
//! posting to a channel through a Teams Workflows webhook.
//!
//! Decisions:
//! - Auth is the Microsoft identity platform (provider id `microsoft`, so other Microsoft 365
//!   services can share the connection) on the `organizations` tenant: Graph's chat endpoints do
//!   not support personal Microsoft accounts, so asking only work or school accounts to sign in
//!   fails early instead of at the first poll. A "Mobile and desktop" public client with PKCE
//!   needs no secret. Scopes: `offline_access` (refresh token), `User.Read`, `Chat.Read`,
//!   `ChatMessage.Send` — all user-consentable (channel reads would need admin consent, so they
//!   are not offered).
//! - `new_chat_message` polls `GET /v1.0/chats/{chat-id}/messages?$top=50&$orderby=createdDateTime desc`
//!   (50 is Graph's maximum). The research notes order by `createdDateTime`, and so do we: the
//!   default `lastModifiedDateTime` order lets edits and reactions on old messages push new ones
//!   out of the page. Key = the message id. System events (`messageType` other than
//!   `message`) and deleted messages are skipped. `content` is the body with HTML removed
//!   (`<br>`/paragraphs → line breaks, entities decoded, emoji kept from their `alt`).
//! - `chat_id` accepts the chat id (`19:…@thread.v2`, `19:…@unq.gbl.spaces`) or a
//!   `teams.microsoft.com/l/chat/<id>/…` link; it is sent as one percent-encoded path segment.
//! - `post_chat_message` posts `{"body": {"contentType": "text", "content": …}}`; Graph has no
//!   idempotency key, so it is not idempotent.
//! - `post_workflow_webhook` posts an Adaptive Card message (the payload of the Workflows
//!   template "Post to a channel when a webhook request is received") to the workflow's URL. The
//!   URL is the secret (its `sig` parameter): it is never echoed in errors, and the reaction needs
//!   no Microsoft connection. It must be https on a Power Automate / Logic Apps host
//!   (`*.powerplatform.com`, `*.logic.azure.com`, and their US government twins) with
//!   `/workflows/` in its path, or under `AREA_TEAMS_BASE_URL` when that is set (tests); the
//!   retired Office 365 connector URLs (`*.webhook.office.com`) are refused with that reason.
//! - Errors ([`graph_error`]): Graph bodies are `{"error": {"code", "message", "innerError"}}`.
//!   401 → [`ConnectorError::AuthExpired`]; 403/404 → permanent, naming the chat; 429 and 5xx →
//!   retryable with `Retry-After`. An `{"error": …}` body in a 2xx answer is an error too. For
//!   the webhook (no connection to repair), 401/403 are [`ConnectorError::BadParams`] on
//!   `webhook_url`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{graph_error_detail, graph_json, microsoft_provider};
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "teams";
/// Microsoft Graph (overridable with `AREA_TEAMS_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com";
/// Scopes this service asks the Microsoft identity platform for.
pub const SCOPES: [&str; 4] = ["offline_access", "User.Read", "Chat.Read", "ChatMessage.Send"];
/// Messages per poll (Graph's maximum `$top` for chat messages).
pub const PAGE_SIZE: u32 = 50;
/// Hosts (and their subdomains) that serve Teams Workflows / Power Automate webhooks.
pub const WORKFLOW_HOST_SUFFIXES: [&str; 4] =
    ["logic.azure.com", "logic.azure.us", "powerplatform.com", "powerplatform.us"];

/// The `teams` service: manifest, the polled `new_chat_message` action and the
/// `post_chat_message` and `post_workflow_webhook` reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_chat_message",
        ActionKind::Polled(Arc::new(NewChatMessage { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert("post_chat_message", Arc::new(PostChatMessage { base: base.clone() }) as Arc<dyn Reaction>);
    reactions.insert(
        "post_workflow_webhook",
        Arc::new(PostWorkflowWebhook { overridden_base: settings.service(ID, "BASE_URL").map(str::to_string) })
            as Arc<dyn Reaction>,
    );
    Service::new(manifest(), actions, reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Microsoft Teams",
        description: "Watch a Teams chat for new messages, post to a chat, or post to a channel through a Workflows \
                      webhook.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["graph.microsoft.com"],
        oauth: Some(microsoft_provider(SCOPES.to_vec())),
        availability: Availability::Limited(
            "work or school Microsoft accounts only: Microsoft Graph does not offer Teams chats to personal \
             Microsoft accounts."
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_chat_message",
            name: "New message in a chat",
            description: "Fires for each new message in a Teams chat (one-on-one, group or meeting chat) you are a \
                          member of. System events (member added, call ended…) are skipped.",
            params: vec![ParamSpec::new(
                "chat_id",
                "Chat",
                "The chat's id, e.g. 19:2da4c29f6d7041eca70b638b43d45437@thread.v2, or a link to the chat \
                 (in Teams: … on the chat → Copy link). Graph Explorer's GET /me/chats lists your chats' ids.",
                ParamType::String,
            )],
            ingredients: vec![
                IngredientSpec {
                    id: "content",
                    description: "The message text, formatting removed.",
                    example: "Le déploiement est terminé ✅",
                },
                IngredientSpec {
                    id: "from",
                    description: "Who sent it (display name of the user or app).",
                    example: "Adele Vance",
                },
                IngredientSpec {
                    id: "created_at",
                    description: "When it was sent (RFC 3339).",
                    example: "2026-11-28T09:41:07.253Z",
                },
                IngredientSpec {
                    id: "url",
                    description: "A link opening the message in Teams.",
                    example: "https://teams.microsoft.com/l/message/19%3A2da4c29f6d7041eca70b638b43d45437%40thread.v2/1616964509832?context=%7B%22contextType%22%3A%22chat%22%7D",
                },
                IngredientSpec { id: "message_id", description: "The message's id.", example: "1616964509832" },
            ],
            dynamic_ingredients: false,
            // Graph throttles Teams reads per app and tenant; one chat a minute is ample.
            min_interval_secs: Some(60),
        }],
        reactions: vec![
            ReactionManifest {
                id: "post_chat_message",
                name: "Post a message to a chat",
                description: "Sends a plain-text message, as you, to a Teams chat you are a member of.",
                params: vec![
                    ParamSpec::new(
                        "chat_id",
                        "Chat",
                        "The chat's id (19:…@thread.v2 or 19:…@unq.gbl.spaces) or a link to the chat.",
                        ParamType::String,
                    )
                    .templated(),
                    ParamSpec::new("content", "Message", "The message text; may use ingredients.", ParamType::String)
                        .templated(),
                ],
            },
            ReactionManifest {
                id: "post_workflow_webhook",
                name: "Post to a channel via a Workflows webhook",
                description: "Posts a card through a Teams Workflows webhook (in the channel: … → Workflows → \"Post \
                              to a channel when a webhook request is received\"). Needs no Microsoft connection.",
                params: vec![
                    ParamSpec::new(
                        "webhook_url",
                        "Webhook URL",
                        "The URL the workflow shows after it is created (https://….powerplatform.com/… or \
                         https://….logic.azure.com/…/workflows/…). Treat it like a password: anyone holding it can \
                         post. The workflow's trigger must allow \"Anyone\" to trigger it. Area keeps it sealed and \
                         exports it as a placeholder.",
                        ParamType::Url,
                    )
                    .secret(),
                    ParamSpec::new(
                        "title",
                        "Title",
                        "An optional bold first line; may use ingredients.",
                        ParamType::String,
                    )
                    .optional(None)
                    .templated(),
                    ParamSpec::new("text", "Text", "The card's text (Markdown); may use ingredients.", ParamType::String)
                        .templated(),
                ],
            },
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Maps a Graph error answer about `resource` (e.g. `Teams chat "19:…"`) to a [`ConnectorError`]
/// (see the module doc).
pub fn graph_error(resource: &str, response: &HttpResponseData) -> ConnectorError {
    GRAPH_ERRORS.map(resource, response)
}

/// What Microsoft Graph's error statuses mean.
const GRAPH_ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: graph_error_detail,
    detail: Detail::Excerpt,
    rules: &[
        (401, Outcome::Reconnect, Retry::Header),
        (
            403,
            Outcome::Status(
                403,
                "access to {resource} is forbidden (only work or school accounts that are members of the chat can \
                 use it): {detail}",
            ),
            Retry::Header,
        ),
        (404, Outcome::Status(404, "{resource} was not found: {detail}"), Retry::Header),
        (429, Outcome::Status(429, "Microsoft Graph is throttling requests; backing off: {detail}"), Retry::Header),
    ],
    otherwise: Some("{detail}"),
};

// ---------------------------------------------------------------------------------------------
// Chat ids

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The chat id in `raw`: the id itself, or a `https://teams.microsoft.com/l/chat/<id>/…` link.
/// `None` when it cannot be a chat id (empty, whitespace, `/`, `?`, `#`, `\`).
pub fn chat_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let host = url.host_str()?;
            if !(host == "teams.microsoft.com" || host == "teams.cloud.microsoft") {
                return None;
            }
            let segments: Vec<&str> = url.path_segments()?.collect();
            let at = segments.iter().position(|s| *s == "chat")?;
            percent_decode(segments.get(at + 1)?)?
        }
        _ => raw.to_string(),
    };
    let valid = !id.is_empty()
        && id.len() <= 512
        && !id.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '\\'));
    valid.then_some(id)
}

fn chat_param(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "chat_id")?;
    chat_id(raw).ok_or_else(|| bad_param("chat_id", format!("{raw:?} is not a Teams chat id or chat link")))
}

fn chat_resource(chat: &str) -> String {
    format!("Teams chat {chat:?}")
}

/// `{base}/v1.0/chats/{chat}/messages`, the chat id as one encoded path segment.
fn messages_url(base: &str, chat: &str) -> Result<url::Url, ConnectorError> {
    let mut url = parse_url(ID, &format!("{}/v1.0/chats", base.trim_end_matches('/')))?;
    url.path_segments_mut()
        .map_err(|_| bad_param("base URL", format!("{ID}: the base URL cannot have a path")))?
        .push(chat)
        .push("messages");
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// HTML

fn decode_entity(entity: &str) -> Option<String> {
    let named = match entity {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => " ",
        _ => "",
    };
    if !named.is_empty() {
        return Some(named.to_string());
    }
    let code = if let Some(hex) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else {
        entity.strip_prefix('#')?.parse::<u32>().ok()?
    };
    char::from_u32(code).map(String::from)
}

/// Decodes HTML character references in `text` (unknown ones are kept as written).
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail
            .find(';')
            .filter(|&end| end > 1 && end <= 10)
            .and_then(|end| decode_entity(&tail[1..end]).map(|d| (d, end)));
        match decoded {
            Some((d, end)) => {
                out.push_str(&d);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a tag's inside (`emoji id="x" alt="😄"`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let start = from + pos;
        from = start + name.len();
        let preceded = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
        let after = tag[from..].trim_start();
        if !preceded || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next()?;
        if quote == '"' || quote == '\'' {
            let inner = &value[1..];
            return inner.find(quote).map(|end| decode_entities(&inner[..end]));
        }
        let end = value.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(value.len());
        return Some(decode_entities(&value[..end]));
    }
    None
}

/// Plain text of a Teams message body: tags removed, block ends and `<br>` turned into line
/// breaks, `<emoji>`/`<img>` replaced by their `alt`, entities decoded, blank runs collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let tail = &rest[open + 1..];
        let Some(close) = tail.find('>') else {
            out.push_str(&decode_entities(&rest[open..]));
            rest = "";
            break;
        };
        let tag = &tail[..close];
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>();
        let name = name.to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match name.as_str() {
            "br" => out.push('\n'),
            "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" if closing => {
                out.push('\n')
            }
            "li" => out.push_str("• "),
            "emoji" | "img" if !closing => {
                if let Some(alt) = attribute(tag, "alt") {
                    out.push_str(&alt);
                }
            }
            _ => {}
        }
        rest = &tail[close + 1..];
    }
    out.push_str(&decode_entities(rest));
    let lines: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let mut text = String::new();
    let mut blank = false;
    for line in lines {
        if line.is_empty() {
            blank = !text.is_empty();
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        text.push_str(&line);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// new_chat_message

/// The `new_chat_message` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let chat = chat_param(params)?;
    let mut url = messages_url(base, &chat)?;
    // Built by hand: OData wants `$top` and `%20`, not the form encoding's `%24top` and `+`.
    url.set_query(Some(&format!("$top={PAGE_SIZE}&$orderby=createdDateTime%20desc")));
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessagePage {
    value: Option<Vec<ChatMessage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ChatMessage {
    id: Option<String>,
    message_type: Option<String>,
    created_date_time: Option<String>,
    deleted_date_time: Option<String>,
    web_url: Option<String>,
    from: Option<From>,
    body: Option<Body>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct From {
    user: Option<Identity>,
    application: Option<Identity>,
    device: Option<Identity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Identity {
    display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Body {
    content_type: Option<String>,
    content: Option<String>,
}

/// Reads a `GET /chats/{id}/messages` body into events (pure: tests use saved responses).
pub fn read_messages(params: &Params, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let chat = chat_param(params)?;
    let page: MessagePage = graph_json(ID, &chat_resource(&chat), response)?;
    let mut events = Vec::new();
    for message in page.value.unwrap_or_default() {
        let Some(id) = message.id.filter(|s| !s.trim().is_empty()) else { continue };
        if message.message_type.as_deref().is_some_and(|t| t != "message") || message.deleted_date_time.is_some() {
            continue;
        }
        let from = message
            .from
            .and_then(|f| [f.user, f.application, f.device].into_iter().flatten().find_map(|i| i.display_name))
            .unwrap_or_default();
        let content = match message.body {
            Some(Body { content: Some(content), content_type }) => {
                if content_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("text")) {
                    content.trim().to_string()
                } else {
                    html_to_text(&content)
                }
            }
            _ => String::new(),
        };
        let mut ingredients = Ingredients::new();
        ingredients.insert("content".into(), json!(content));
        ingredients.insert("from".into(), json!(from));
        ingredients.insert("created_at".into(), json!(message.created_date_time.unwrap_or_default()));
        ingredients.insert("url".into(), json!(message.web_url.unwrap_or_default()));
        ingredients.insert("message_id".into(), json!(id));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll answer maps to an error (see [`graph_error`]).
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    let chat = opt_str(params, "chat_id").and_then(chat_id).unwrap_or_default();
    graph_error(&chat_resource(&chat), response)
}

struct NewChatMessage {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewChatMessage {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.params, ctx.require_credential(ID)?)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_messages(ctx.params, response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx.params, response)
    }
}

// ---------------------------------------------------------------------------------------------
// post_chat_message

/// The `post_chat_message` request against `base` (pure, for tests).
pub fn post_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let chat = chat_param(params)?;
    let content = params.get("content").and_then(Value::as_str).unwrap_or_default();
    if content.trim().is_empty() {
        return Err(bad_param("content", "is empty: Teams refuses empty messages"));
    }
    let body = json!({ "body": { "contentType": "text", "content": content } });
    Ok(json_post(messages_url(base, &chat)?.to_string(), credential, &body))
}

/// Runs `post_chat_message` against `base` (what the reaction does with the configured base URL).
pub async fn post_chat_message(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = post_request(base, params, credential)?;
    let resource = chat_resource(&chat_param(params)?);
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(graph_error(&resource, &response));
    }
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Created {
        id: Option<String>,
    }
    let created: Created = graph_json(ID, &resource, &response)?;
    Ok(ReactionOutput {
        summary: match created.id {
            Some(id) => format!("posted Teams message {id}"),
            None => format!("posted a Teams message (HTTP {})", response.status),
        },
    })
}

struct PostChatMessage {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for PostChatMessage {
    /// Graph has no idempotency key: a repeat would post twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        post_chat_message(ctx, params, &self.base).await
    }
}

// ---------------------------------------------------------------------------------------------
// post_workflow_webhook

/// Checks a Workflows webhook URL (see the module doc). Messages never repeat the URL, whose
/// `sig` parameter is the secret.
/// `overridden_base` is the settings' `AREA_TEAMS_BASE_URL`, when set: URLs under it are
/// accepted too (tests, self-hosted).
pub fn workflow_target(params: &Params, overridden_base: Option<&str>) -> Result<url::Url, ConnectorError> {
    let raw = req_str(params, "webhook_url")?;
    let url = url::Url::parse(raw)
        .map_err(|_| bad_param("webhook_url", "is not a valid URL (value not shown: it is secret)"))?;
    let override_base = overridden_base.map(|v| v.trim().trim_end_matches('/')).filter(|v| !v.is_empty());
    if override_base.is_some_and(|base| url.as_str().starts_with(&format!("{base}/"))) {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host.ends_with("webhook.office.com") || host == "outlook.office.com" || host == "outlook.office365.com" {
        return Err(bad_param(
            "webhook_url",
            "is an Office 365 connector webhook, which Microsoft retired: create a Workflows webhook instead (… on \
             the channel → Workflows)",
        ));
    }
    let known = WORKFLOW_HOST_SUFFIXES.iter().any(|s| host == *s || host.ends_with(&format!(".{s}")));
    if url.scheme() != "https" || !known || !url.path().contains("/workflows/") {
        return Err(bad_param(
            "webhook_url",
            "must be a Teams Workflows webhook URL (https://….powerplatform.com/…/workflows/… or \
             https://….logic.azure.com/workflows/…)",
        ));
    }
    Ok(url)
}

/// The Adaptive Card message the Workflows webhook template expects (pure, for tests).
pub fn workflow_body(params: &Params) -> Result<Value, ConnectorError> {
    let text = params.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(bad_param("text", "is empty: there would be nothing to post"));
    }
    let mut blocks = Vec::new();
    if let Some(title) = opt_str(params, "title") {
        blocks.push(json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true}));
    }
    blocks.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    Ok(json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": blocks,
            }
        }]
    }))
}

/// How a failed webhook answer maps to an error: no connection to repair, so refusals point at
/// the URL.
pub fn workflow_error(response: &HttpResponseData) -> ConnectorError {
    let detail = graph_error_detail(&response.body).map(|d| format!(" ({d})")).unwrap_or_default();
    match response.status {
        401 | 403 => bad_param(
            "webhook_url",
            format!("the workflow refused the request: check the URL and that its trigger allows \"Anyone\"{detail}"),
        ),
        404 => ConnectorError::Status {
            service: ID.into(),
            status: 404,
            message: format!("the workflow was not found: was it deleted or turned off?{detail}"),
            retry_after: None,
        },
        _ => status_error(ID, response),
    }
}

/// Runs `post_workflow_webhook` (an overridden base URL only matters for which URLs are
/// accepted).
pub async fn post_workflow_webhook(
    ctx: &ReactionContext<'_>,
    params: &Params,
    overridden_base: Option<&str>,
) -> Result<ReactionOutput, ConnectorError> {
    let url = workflow_target(params, overridden_base)?;
    let body = workflow_body(params)?;
    let spec = HttpRequestSpec {
        method: "POST".into(),
        url: url.into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Some(body.to_string().into_bytes()),
    };
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(workflow_error(&response));
    }
    Ok(ReactionOutput { summary: format!("sent to the Teams workflow (HTTP {})", response.status) })
}

struct PostWorkflowWebhook {
    /// `AREA_TEAMS_BASE_URL`, when the settings set it.
    overridden_base: Option<String>,
}

#[async_trait]
impl Reaction for PostWorkflowWebhook {
    /// Workflows take no idempotency key: a repeat would post twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        post_workflow_webhook(ctx, params, self.overridden_base.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_reduced_to_text() {
        assert_eq!(
            html_to_text("<p>Hello <b>world</b> &amp; co</p><p>Line&nbsp;2<br>Line 3</p>"),
            "Hello world & co\nLine 2\nLine 3"
        );
        assert_eq!(html_to_text(r#"Nice <emoji id="smile" alt="😄" title="Smile"></emoji>!"#), "Nice 😄!");
        assert_eq!(html_to_text("a &lt;b&gt; &#233;&#x1F600; &bogus; & z"), "a <b> é😀 &bogus; & z");
        assert_eq!(html_to_text("<div>unclosed <tag"), "unclosed <tag");
        assert_eq!(html_to_text(""), "");
    }

    #[test]
    fn attributes_are_found_only_as_whole_names() {
        assert_eq!(attribute(r#"img salt="x" alt='y'"#, "alt").as_deref(), Some("y"));
        assert_eq!(attribute("img alt=z>", "alt").as_deref(), Some("z"));
        assert_eq!(attribute("img", "alt"), None);
    }
}
