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

/// An outbound HTTP request, as data (so it can be compared, shared and logged without secrets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpRequestSpec {
    pub method: String,
    pub url: String,
    /// Header names and values; values may hold credentials and are never logged.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequestSpec {
    /// A GET of `url` with no extra headers.
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequestSpec { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None }
    }
}

/// A fully read (size-capped) HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponseData {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponseData {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
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
    /// An OAuth2 access token (kept fresh by the engine).
    OAuth2 { access_token: String },
}

impl Credential {
    /// The secret to put in the request (header or query, as the API documents).
    pub fn secret(&self) -> &str {
        match self {
            Credential::ApiKey(k) => k,
            Credential::OAuth2 { access_token } => access_token,
        }
    }
}

impl std::fmt::Debug for Credential {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Credential::OAuth2 { .. } => f.write_str("OAuth2(<redacted>)"),
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
            Err(ConnectorError::BadResponse { .. }) | Ok(_) => crate::services::status_error(service, response),
            Err(e) => e,
        }
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
}

/// An action that fires at instants computed from its parameters (timers).
pub trait ScheduledAction: Send + Sync {
    /// The first firing instant strictly after `after`, or `None` when it will never fire again.
    fn next_after(&self, params: &Params, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ConnectorError>;
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

/// How the engine treats a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (network, 5xx, 429), no sooner than `retry_after` if given.
    Retryable { retry_after: Option<Duration> },
    /// Retrying cannot help (400/403/404, bad parameters, malformed response).
    Permanent,
    /// The connection's grant is gone; pause its areas until reconnected.
    NeedsReconnect,
}

impl ConnectorError {
    /// Classifies the failure per DESIGN.md's engine contract point 4.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Net(e) => e.class(),
            ConnectorError::Status { status, retry_after, .. } => classify_status(*status, *retry_after),
            ConnectorError::BadResponse { .. } | ConnectorError::BadParams { .. } => ErrorClass::Permanent,
            ConnectorError::AuthExpired { .. } => ErrorClass::NeedsReconnect,
        }
    }
}

/// Retryable for 408/425/429/5xx, reconnect for 401, permanent otherwise.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> ErrorClass {
    match status {
        401 => ErrorClass::NeedsReconnect,
        408 | 425 | 429 | 500..=599 => ErrorClass::Retryable { retry_after },
        _ => ErrorClass::Permanent,
    }
}
