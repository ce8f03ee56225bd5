//! `gmail`: new mail matching a search query, and sending a mail, through the Gmail API.
//!
//! What the Google connectors share (the OAuth2 provider, Google's error mapping) lives in
//! [`super`]; this module re-exports [`google_error`] for callers that map Gmail answers.
//!
//! Decisions:
//! - `new_mail` lists `GET /gmail/v1/users/me/messages?q=<query>&maxResults=20`. The list only
//!   carries `{id, threadId}`, and the polled-action contract makes one request per poll, so the
//!   ingredients are `id`, `thread_id` and a `url` opening the mail in Gmail. Subject, sender
//!   and snippet need one more `messages.get` per message: a known limitation, stated in the
//!   manifest rather than faked. The key is the message id (not the thread id: a reply in an
//!   existing thread is a new mail). A response without `messages` (nothing matches) is an
//!   empty list, not an error.
//! - `send_mail` builds an RFC 5322 message (`To`, `Subject` — RFC 2047 encoded-words when not
//!   plain ASCII —, `MIME-Version`, `Content-Type: text/plain; charset=UTF-8`, body in base64
//!   lines so any text and line length is safe), base64url-encodes it and posts
//!   `{"raw": …}` to `/gmail/v1/users/me/messages/send`. Gmail sets `From` to the connected
//!   account. CR, LF or NUL in `to`/`subject` are refused (header injection). Gmail offers no
//!   idempotency key, so the reaction is not idempotent.
//! - Google errors ([`google_error`]): 401 → [`ConnectorError::AuthExpired`]; 403/429 with
//!   reason `rateLimitExceeded`/`userRateLimitExceeded` → a 429 status (retryable, honouring
//!   `Retry-After`); `quotaExceeded`/`dailyLimitExceeded` → a permanent 403 saying the project's
//!   daily quota is used up; `insufficientPermissions` → permanent, asking to reconnect Google;
//!   other 403 and 404 → permanent, naming the resource. An `{"error": …}` body in a 2xx
//!   response is mapped the same way by its `code`.
//! - Scopes: `gmail.readonly` (listing with `q=` needs it; `gmail.metadata` refuses `q`) and
//!   `gmail.send`. Both are Google "restricted"/"sensitive": an app in Testing status (users
//!   bring their own OAuth client) works for its test users.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub use super::google_error;
use super::{google_json, google_provider};
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "gmail";
/// The real API's base URL (overridable with `AREA_GMAIL_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";
/// Default search query of `new_mail`.
pub const DEFAULT_QUERY: &str = "in:inbox";
/// How many messages one poll lists.
pub const MAX_RESULTS: u32 = 20;
/// Scopes this service asks Google for.
pub const SCOPES: [&str; 2] =
    ["https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/gmail.send"];

// ---------------------------------------------------------------------------------------------
// Service

/// The `gmail` service: manifest, the polled `new_mail` action and the `send_mail` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_mail", ActionKind::Polled(Arc::new(NewMail { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("send_mail", Arc::new(SendMail { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Gmail",
        description: "Watch your Gmail for mail matching a search, or send a mail from your Gmail account.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["gmail.googleapis.com"],
        oauth: Some(google_provider(SCOPES.to_vec())),
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_mail",
            name: "New mail matching a search",
            description: "Fires for each new mail matching a Gmail search (the same syntax as Gmail's search box). \
                          Only the message id, thread id and a link are available: Gmail's list does not include \
                          the subject or sender.",
            params: vec![ParamSpec::new(
                "query",
                "Search",
                "A Gmail search such as `in:inbox is:unread from:boss@example.com` or `label:invoices`.",
                ParamType::String,
            )
            .optional(Some(json!(DEFAULT_QUERY)))],
            ingredients: vec![
                IngredientSpec { id: "id", description: "The message id.", example: "18c2f5a9e0b4d7c1" },
                IngredientSpec {
                    id: "thread_id",
                    description: "The id of the conversation the message belongs to.",
                    example: "18c2f5a9e0b4d7c1",
                },
                IngredientSpec {
                    id: "url",
                    description: "A link opening the message in Gmail (first signed-in account).",
                    example: "https://mail.google.com/mail/u/0/#inbox/18c2f5a9e0b4d7c1",
                },
            ],
            dynamic_ingredients: false,
            // messages.list costs 5 of the 15,000 quota units a user may spend per minute.
            min_interval_secs: Some(60),
        }],
        reactions: vec![ReactionManifest {
            id: "send_mail",
            name: "Send a mail",
            description: "Sends a plain-text mail from the connected Gmail account.",
            params: vec![
                ParamSpec::new(
                    "to",
                    "To",
                    "Recipient address(es), comma-separated, e.g. `me@example.com` or `Zoé <zoe@example.com>`.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new("subject", "Subject", "The subject; may use ingredients.", ParamType::String)
                    .templated(),
                ParamSpec::new("body", "Body", "The plain-text body; may use ingredients.", ParamType::String)
                    .optional(Some(json!("")))
                    .templated(),
            ],
        }],
    }
}

/// Names the searched query in errors.
fn query_resource(query: &str) -> String {
    format!("the Gmail search {query:?}")
}

fn query_param(params: &Params) -> &str {
    opt_str(params, "query").unwrap_or(DEFAULT_QUERY)
}

/// The `new_mail` poll request against `base` (pure: tests pass a base explicitly).
pub fn list_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let mut url = parse_url(ID, &format!("{}/gmail/v1/users/me/messages", base.trim_end_matches('/')))?;
    url.query_pairs_mut().append_pair("q", query_param(params)).append_pair("maxResults", &MAX_RESULTS.to_string());
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageList {
    messages: Option<Vec<MessageRef>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageRef {
    id: Option<String>,
    #[serde(rename = "threadId")]
    thread_id: Option<String>,
}

/// Reads a `messages.list` body into events (pure: tests use saved responses).
pub fn read_messages(params: &Params, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let list: MessageList = google_json(ID, &query_resource(query_param(params)), response)?;
    let mut events = Vec::new();
    for message in list.messages.unwrap_or_default() {
        let Some(id) = message.id.filter(|s| !s.trim().is_empty()) else { continue };
        let mut ingredients = Ingredients::new();
        ingredients.insert("id".into(), json!(id));
        ingredients.insert("thread_id".into(), json!(message.thread_id.unwrap_or_default()));
        ingredients.insert("url".into(), json!(format!("https://mail.google.com/mail/u/0/#inbox/{id}")));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll response maps to an error, Google's rules applied (see
/// [`google_error`]). The engine classifies poll statuses generically today; this is ready for a
/// per-action error hook.
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    google_error(ID, &query_resource(query_param(params)), response)
}

struct NewMail {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewMail {
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
// Sending

fn reject_line_breaks(id: &str, value: &str) -> Result<(), ConnectorError> {
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(bad_param(id, "must not contain line breaks"));
    }
    Ok(())
}

/// RFC 2047 encoded-words (`=?UTF-8?B?…?=`) for `text`, each under the 75-character limit,
/// separated by `sep`.
fn encoded_words(text: &str, sep: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 39 bytes of UTF-8 → 52 base64 characters + 12 of framing = 64, so even the first
        // word after `Subject: ` keeps the line under the recommended 78 characters.
        if chunk.len() + c.len_utf8() > 39 {
            words.push(format!("=?UTF-8?B?{}?=", base64_std(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64_std(chunk.as_bytes())));
    }
    words.join(sep)
}

/// Whether `text` can go into an unstructured header as is.
fn is_plain_header_text(text: &str) -> bool {
    text.len() <= 900 && !text.contains("=?") && text.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
}

/// The `Subject` header value: as is when plain printable ASCII, otherwise folded encoded-words.
fn encode_subject(subject: &str) -> String {
    if is_plain_header_text(subject) {
        subject.to_string()
    } else {
        encoded_words(subject, "\r\n ")
    }
}

fn valid_address(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && addr.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | '"' | '(' | ')' | ';'))
}

/// The `To` header value: comma-separated `addr` or `Name <addr>`, display names quoted or
/// RFC 2047 encoded.
fn format_recipients(to: &str) -> Result<String, ConnectorError> {
    let mut out = Vec::new();
    for part in to.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, addr) = match part.strip_suffix('>').and_then(|p| p.rsplit_once('<')) {
            Some((name, addr)) => (name.trim().trim_matches('"').trim(), addr.trim()),
            None => ("", part),
        };
        if !valid_address(addr) {
            return Err(bad_param(
                "to",
                format!("{addr:?} is not an e-mail address (internationalised addresses are not supported)"),
            ));
        }
        if name.is_empty() {
            out.push(addr.to_string());
        } else if name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            out.push(format!("\"{escaped}\" <{addr}>"));
        } else {
            out.push(format!("{} <{addr}>", encoded_words(name, " ")));
        }
    }
    if out.is_empty() {
        return Err(bad_param("to", "needs at least one address"));
    }
    Ok(out.join(", "))
}

/// Builds the RFC 5322 message `send_mail` sends (pure, for tests): headers as described in the
/// module doc, the body (line ends made CRLF) in base64 lines of 76 characters.
pub fn build_message(to: &str, subject: &str, body: &str) -> Result<String, ConnectorError> {
    reject_line_breaks("to", to)?;
    reject_line_breaks("subject", subject)?;
    let to = format_recipients(to)?;
    let subject = encode_subject(subject.trim());
    let body = body.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n");
    let encoded = base64_std(body.as_bytes());
    let mut message = format!(
        "To: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    );
    for line in encoded.as_bytes().chunks(76) {
        // The alphabet is ASCII, so every chunk is valid UTF-8.
        message.push_str(std::str::from_utf8(line).unwrap_or_default());
        message.push_str("\r\n");
    }
    Ok(message)
}

/// The `send_mail` request against `base` (pure, for tests).
pub fn send_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let to = req_str(params, "to")?;
    let subject = params.get("subject").and_then(Value::as_str).unwrap_or_default();
    let body = params.get("body").and_then(Value::as_str).unwrap_or_default();
    let message = build_message(to, subject, body)?;
    let payload = json!({ "raw": base64_url(message.as_bytes()) });
    Ok(json_post(
        parse_url(ID, &format!("{}/gmail/v1/users/me/messages/send", base.trim_end_matches('/')))?.to_string(),
        credential,
        &payload,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SentMessage {
    id: Option<String>,
}

/// Runs `send_mail` against `base` (what the reaction does with the configured base URL).
pub async fn send_mail(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = send_request(base, params, credential)?;
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(google_error(ID, "sending mail", &response));
    }
    let sent: SentMessage = google_json(ID, "sending mail", &response)?;
    Ok(ReactionOutput {
        summary: match sent.id {
            Some(id) => format!("mail sent (message {id})"),
            None => format!("mail sent (HTTP {})", response.status),
        },
    })
}

struct SendMail {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for SendMail {
    /// Gmail has no idempotency key: a repeat would send the mail twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        send_mail(ctx, params, &self.base).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_stay_short_and_split_on_char_boundaries() {
        let long = "é".repeat(100);
        let words = encoded_words(&long, " ");
        for w in words.split(' ') {
            assert!(w.len() <= 75, "{w}");
            assert!(w.starts_with("=?UTF-8?B?") && w.ends_with("?="));
        }
        assert_eq!(encoded_words("Café", " "), "=?UTF-8?B?Q2Fmw6k=?=");
    }

    #[test]
    fn recipients_are_validated_and_display_names_encoded() {
        assert_eq!(format_recipients("a@b.c, Zoé <z@x.fr>").unwrap(), "a@b.c, =?UTF-8?B?Wm/DqQ==?= <z@x.fr>");
        assert_eq!(format_recipients("\"Bob \\ Q\" <b@x.fr>").unwrap(), "\"Bob \\\\ Q\" <b@x.fr>");
        assert!(format_recipients("not an address").is_err());
        assert!(format_recipients(" , ").is_err());
        assert!(format_recipients("zoé@exemple.fr").is_err());
    }
}
