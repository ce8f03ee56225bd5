//! The contract between the engine and a service's code.
//!
//! The engine owns all I/O; a connector *describes* it. A polled action says which request to make
//! ([`PolledAction::request`]) and how to read the response into events ([`PolledAction::read`]) —
//! both plain functions, testable on a saved response — so that shared polls, ETags, rate limits,
//! retries and dedupe live in one place (the engine). Reactions do their own requests through the
//! shared [`crate::net::HttpClient`] because each one is a single call with a known idempotency key.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::net::{classify_status, ErrorClass, HttpRequestSpec, HttpResponseData};

/// An event's named values (`title`, `url`, …). JSON values so that conditions can compare numbers.
pub type Ingredients = BTreeMap<String, Value>;

/// An action's or reaction's parameters, already validated against its manifest, defaults applied.
pub type Params = serde_json::Map<String, Value>;

/// One occurrence of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable identity for dedupe: the same upstream item always yields the same key.
    pub key: String,
    pub ingredients: Ingredients,
}

/// What a polled action's [`PolledAction::read`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutput {
    /// Every item currently visible upstream, newest or oldest first — the engine dedupes.
    pub events: Vec<Event>,
    /// State to hand back on the next read (threshold crossings, last value seen…).
    pub cursor: Option<Value>,
}

/// A connection's secret, decrypted in memory only for the requests that need it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key or personal access token, as the user gave it.
    ApiKey(String),
    /// An OAuth2 access token (kept fresh by the engine), with the account it belongs to when
    /// the provider named it (its OpenID Connect ID token): the login of SASL XOAUTH2.
    OAuth2 { access_token: String, account: Option<String> },
    /// A mailbox password together with the servers it was given for (entered when connecting,
    /// sealed with it): areas cannot name another server.
    Mail { password: String, account: MailAccount },
}

/// How a connection to a mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Implicit TLS from the first byte (RFC 8314).
    Tls,
    /// Plain connection upgraded with STARTTLS.
    StartTls,
    /// No encryption (local test servers only).
    Plain,
}

/// How a mail connection logs in to its servers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailAuth {
    /// IMAP `LOGIN` and SMTP `AUTH PLAIN`/`LOGIN` with the connection's password (or app password).
    #[default]
    Password,
    /// SASL XOAUTH2 with an OAuth2 access token, for providers that refuse passwords to
    /// third-party apps (Outlook.com): the secret is the token, the login the account it names.
    XOAuth2,
}

/// One mail server recorded with a mail connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServer {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
}

/// The non-secret half of a mail connection: as whom to log in and the only servers that may
/// receive the password (ARCHITECTURE.md "Trust rules": "A credential goes only where it was
/// given for").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAccount {
    /// The IMAP and SMTP login, usually the e-mail address.
    pub username: String,
    pub imap: MailServer,
    /// Needed only to send mail.
    pub smtp: Option<MailServer>,
    /// How to log in (connections recorded before it existed used passwords).
    #[serde(default)]
    pub auth: MailAuth,
}

impl Credential {
    /// The secret to put in the request (header or query, as the API documents).
    pub fn secret(&self) -> &str {
        match self {
            Credential::ApiKey(k) => k,
            Credential::OAuth2 { access_token, .. } => access_token,
            Credential::Mail { password, .. } => password,
        }
    }

    /// The servers the connection itself records as the credential's destinations (mail), as
    /// `(host, port)`; empty when the service's manifest names them.
    pub fn own_hosts(&self) -> Vec<(String, u16)> {
        match self {
            Credential::Mail { account, .. } => {
                std::iter::once(&account.imap).chain(account.smtp.as_ref()).map(|s| (s.host.clone(), s.port)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The mail account recorded with the connection, if this is a mail connection.
    pub fn mail_account(&self) -> Option<&MailAccount> {
        match self {
            Credential::Mail { account, .. } => Some(account),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Credential {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Credential::OAuth2 { .. } => f.write_str("OAuth2(<redacted>)"),
            Credential::Mail { account, .. } => {
                write!(f, "Mail({}@{}, <redacted>)", account.username, account.imap.host)
            }
        }
    }
}

/// Inputs of a poll, grouped so connectors keep one signature as credentials etc. are added.
#[derive(Debug, Clone, Copy)]
pub struct PollContext<'a> {
    pub params: &'a Params,
    /// What the previous read returned as cursor, if anything.
    pub cursor: Option<&'a Value>,
    /// The area owner's connection to this service, for services that need one.
    pub credential: Option<&'a Credential>,
}

impl<'a> PollContext<'a> {
    /// A context without credentials (services that need none, tests).
    pub fn new(params: &'a Params, cursor: Option<&'a Value>) -> Self {
        PollContext { params, cursor, credential: None }
    }

    /// The credential, or the error that tells the user to connect the service.
    pub fn require_credential(&self, service: &str) -> Result<&'a Credential, ConnectorError> {
        self.credential.ok_or_else(|| ConnectorError::AuthExpired { service: service.into() })
    }
}

/// An action the engine polls.
pub trait PolledAction: Send + Sync {
    /// The request to make for these parameters. Identical requests from different areas are
    /// made once per interval and their response shared.
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError>;
    /// Turns a successful (2xx) response into events. Must not panic on any input.
    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError>;

    /// Turns an error answer (non-2xx, not 304) into this connector's error, so provider error
    /// bodies (an invalid API key inside a 403, a rate limit in the body) keep their meaning.
    /// The default asks [`PolledAction::read`], which many connectors write to map error
    /// statuses, and falls back to the generic mapping (status, `Retry-After`) when `read`
    /// only says it could not parse the body.
    fn error_for(&self, service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        match self.read(ctx, response) {
            Err(ConnectorError::BadResponse { .. }) | Ok(_) => status_error(service, response),
            Err(e) => e,
        }
    }

    /// Whether these parameters ask to reach loopback/private addresses (a home-lab URL): the
    /// engine then lets the area's polls through the SSRF guard. No by default.
    fn wants_private_network(&self, _params: &Params) -> bool {
        false
    }

    /// Whether the action needs the owner's connection to its service. `false` for an action
    /// that also reads public resources (an open ntfy topic): without a stored connection the
    /// engine polls it with no credential, with one it sends it. Yes by default.
    fn needs_credential(&self) -> bool {
        true
    }
}

/// Inputs of a fetch (an action that is not one HTTP request).
#[derive(Debug, Clone, Copy)]
pub struct FetchContext<'a> {
    pub params: &'a Params,
    /// What the previous fetch returned as cursor (e.g. IMAP `UIDVALIDITY` and last `UID`).
    pub cursor: Option<&'a Value>,
    pub credential: Option<&'a Credential>,
    /// Whether this area may reach loopback/private addresses (home-lab mail servers, tests).
    pub allow_private_network: bool,
}

/// An action the engine cannot describe as one HTTP request (IMAP…): the connector does its own
/// I/O, on the engine's schedule, and returns what a polled action's `read` would. The engine
/// still owns baselines, dedupe, cursors, retries and pausing; the connector must bound its own
/// connect/total timeouts and response sizes like the shared HTTP client does.
#[async_trait]
pub trait FetchedAction: Send + Sync {
    /// Fetches the current items (and next cursor).
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError>;

    /// Waits, at most about `max_wait`, until the source may hold something new (IMAP IDLE's
    /// `EXISTS`), so that the engine fetches at once instead of at the next interval. Only a hint:
    /// the fetch still decides what is new, so a wake-up that finds nothing costs one check and a
    /// missed one delays to the interval. The default says the source cannot push.
    async fn wait_for_change(
        &self,
        _ctx: &FetchContext<'_>,
        _max_wait: Duration,
    ) -> Result<SourceWait, ConnectorError> {
        Ok(SourceWait::Unsupported)
    }
}

/// What [`FetchedAction::wait_for_change`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceWait {
    /// Something may have changed: fetch now.
    Changed,
    /// Nothing happened within the wait; wait again.
    Quiet,
    /// The source cannot tell (no push, or the server lacks it): the interval alone decides.
    Unsupported,
}

/// An action that fires at instants computed from its parameters (timers).
pub trait ScheduledAction: Send + Sync {
    /// The first firing instant strictly after `after`, or `None` when it will never fire again.
    fn next_after(&self, params: &Params, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ConnectorError>;
    /// The event of a firing planned for `scheduled_for` and happening at `fired_at` (its key
    /// must be unique per firing of one area).
    fn event(&self, scheduled_for: DateTime<Utc>, fired_at: DateTime<Utc>) -> Event;
}

/// Why a pushed request was refused: the HTTP status to answer and a secret-free message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PushRejected {
    pub status: u16,
    pub message: String,
}

/// An action whose events are pushed to Area (webhooks): the engine's listener receives the
/// request (token, size and time limits, queueing) and the action reads its body.
pub trait PushedAction: Send + Sync {
    /// The event's ingredients from a received body of at most `max_bytes` bytes. Must not
    /// panic on any input.
    fn event_from_body(
        &self,
        content_type: Option<&str>,
        body: &[u8],
        max_bytes: usize,
    ) -> Result<Ingredients, PushRejected>;
}

/// A cheap, documented call that says whose a credential is (GitHub `GET /user`, Discord
/// `GET /users/@me`), so that connecting with a token is checked at once: a junk token is refused
/// before any area relies on it, and a good one is shown with its account. Like a polled action it
/// only describes the request and reads the answer; the caller sends it through the shared client
/// with the credential bound to the service's hosts.
pub trait AccountCheck: Send + Sync {
    /// The request that identifies `credential`'s owner (the credential attached as the
    /// service's other calls attach it).
    fn request(&self, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError>;
    /// The account a 2xx answer names (a login, a username), as shown beside the connection.
    fn account(&self, response: &HttpResponseData) -> Result<String, ConnectorError>;
    /// The limit of the service's quota ([`crate::catalog::Quota`]) this account's plan has, when
    /// the answer says it (Postman's `X-RateLimit-Limit-Month`): plans differ, and the planner
    /// should hold the user to their own, not to the most restrictive one.
    fn plan_limit(&self, _response: &HttpResponseData) -> Option<u64> {
        None
    }
}

/// A pasted token that the provider renews before it expires (Instagram's long-lived tokens last
/// 60 days and are renewed with `GET /refresh_access_token`), so an area keeps running instead of
/// stopping the day the token dies. Like [`AccountCheck`] it only describes the request and reads
/// the answer; the engine sends it through the shared client with the token bound to the
/// service's hosts, once the token is within [`TokenRenewal::renew_within`] of its expiry.
pub trait TokenRenewal: Send + Sync {
    /// How long before its expiry a token is renewed. Long enough that a device that was off for
    /// weeks still finds a live token to renew.
    fn renew_within(&self) -> Duration;
    /// When a freshly pasted token is first renewed, counted from when it was connected: the
    /// provider does not say how old a pasted token is, nor may it renew one too young.
    fn first_renewal_after(&self) -> Duration;
    /// The request that renews `credential`.
    fn request(&self, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError>;
    /// The new token of a 2xx answer, with its lifetime.
    fn read(&self, response: &HttpResponseData) -> Result<RenewedToken, ConnectorError>;
}

/// A token a [`TokenRenewal`] obtained.
#[derive(Clone, PartialEq, Eq)]
pub struct RenewedToken {
    /// The new token (it replaces the connection's).
    pub token: String,
    /// How long it lasts.
    pub expires_in: Duration,
}

impl std::fmt::Debug for RenewedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewedToken").field("token", &"<redacted>").field("expires_in", &self.expires_in).finish()
    }
}

/// Shows a notification to the user; the daemon and the desktop app plug in their own.
pub trait Notifier: Send + Sync {
    /// Shows `title`/`body`; an error string says why it could not be shown.
    fn notify(&self, title: &str, body: &str) -> Result<(), String>;
}

/// Everything a reaction may use besides its parameters.
pub struct ReactionContext<'a> {
    pub http: &'a crate::net::HttpClient,
    /// Deterministic per (area, event, reaction index): pass it on where the API accepts one.
    pub idempotency_key: &'a str,
    pub notifier: &'a dyn Notifier,
    /// Whether this area may reach loopback/private addresses (SSRF guard override).
    pub allow_private_network: bool,
    /// The area owner's connection to this reaction's service, for services that need one.
    pub credential: Option<&'a Credential>,
}

/// What a reaction reports back for the run history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionOutput {
    /// A short, secret-free summary ("HTTP 201", "notification shown").
    pub summary: String,
}

/// Something a service does.
#[async_trait]
pub trait Reaction: Send + Sync {
    /// True when re-sending after a crash is safe (the API dedupes on the idempotency key, or the
    /// effect is harmless to repeat). False makes the engine mark an interrupted run
    /// `unknown outcome` instead of re-sending it.
    fn idempotent(&self) -> bool;
    /// Performs the reaction with rendered (template-expanded) parameters.
    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError>;

    /// What the engine rate-limits this delivery by (a host that answered 429 delays the runs
    /// going to it), from the rendered parameters; `None` (the default) when the reaction goes
    /// to a fixed API whose errors carry their own waits.
    fn rate_limit_key(&self, _params: &Params) -> Option<String> {
        None
    }
}

/// Why a connector call failed, classified so the engine knows whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The request never got a complete answer (connect, timeout, size cap, SSRF refusal…).
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// The upstream answered with an error status.
    #[error("{service} answered HTTP {status}: {message}")]
    Status { service: String, status: u16, message: String, retry_after: Option<Duration> },
    /// The upstream answered 2xx but the body is not what its documentation promises.
    #[error("unexpected response from {service}: {message}")]
    BadResponse { service: String, message: String },
    /// The area's parameters cannot work (fix the area).
    #[error("invalid parameter `{param}`: {message}")]
    BadParams { param: String, message: String },
    /// Credentials were refused: the connection needs to be reconnected.
    #[error("{service} refused the credentials: run `area connect {service}`")]
    AuthExpired { service: String },
}

impl ConnectorError {
    /// Classifies the failure per ARCHITECTURE.md "Engine contract", point 4.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Net(e) => e.class(),
            ConnectorError::Status { status, retry_after, .. } => classify_status(*status, *retry_after),
            ConnectorError::BadResponse { .. } | ConnectorError::BadParams { .. } => ErrorClass::Permanent,
            ConnectorError::AuthExpired { .. } => ErrorClass::NeedsReconnect,
        }
    }
}

/// Longest upstream error excerpt kept in [`ConnectorError::Status`] messages, in characters.
pub const ERROR_EXCERPT_CHARS: usize = 200;

/// Turns a non-2xx response into [`ConnectorError::Status`]: a short, whitespace-collapsed
/// excerpt of the body (at most [`ERROR_EXCERPT_CHARS`] characters) and `Retry-After` as a
/// delay, so every connector reports upstream errors the same way and the engine can back off.
/// URLs in the excerpt keep their origin only: an upstream may echo the request's URL, key
/// included, and the excerpt goes to the run history.
pub fn status_error(service: &str, response: &HttpResponseData) -> ConnectorError {
    let text = String::from_utf8_lossy(&response.body);
    let collapsed = crate::net::redact_urls(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    let message = if collapsed.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate_chars(&collapsed, ERROR_EXCERPT_CHARS - 1)
    };
    ConnectorError::Status {
        service: service.to_string(),
        status: response.status,
        message,
        retry_after: crate::net::retry_after(response, std::time::SystemTime::now()),
    }
}

/// Cuts `s` to at most `max` characters (on a char boundary), adding `…` when it was longer.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((idx, _)) => {
            let mut out = s[..idx].trim_end().to_string();
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo wörld", 4), "héll…");
        assert_eq!(truncate_chars("日本語のテキスト", 3), "日本語…");
    }

    /// The same URL through Area's client: the net error names the origin only.
    #[tokio::test]
    async fn a_net_error_for_a_url_with_a_key_displays_without_it() {
        let client =
            crate::net::HttpClient::new(crate::net::NetConfig { allow_private_network: true, ..Default::default() })
                .expect("client");
        let request = HttpRequestSpec::get("http://127.0.0.1:1/planetary/apod?api_key=SECRET");
        let err = client.send(&request, &Default::default()).await.expect_err("nothing listens on port 1");
        let text = ConnectorError::Net(err).to_string();
        assert!(!text.contains("SECRET") && !text.contains("planetary"), "{text}");
    }

    #[test]
    fn an_upstream_error_body_echoing_the_url_is_cut() {
        let response = HttpResponseData {
            status: 403,
            headers: vec![],
            body: b"{\"error\": \"API_KEY_INVALID for https://api.nasa.gov/planetary/apod?api_key=SECRET\"}".to_vec(),
        };
        let text = status_error("nasa", &response).to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("https://api.nasa.gov"), "{text}");
    }
}
