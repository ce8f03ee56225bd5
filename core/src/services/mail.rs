//! `mail`: any mailbox over IMAP and SMTP, the protocols Thunderbird and every mail client speak.
//!
//! Decisions:
//! - Auth is the account's password or, better, an app password (Gmail, Outlook.com, iCloud,
//!   Fastmail and Yahoo require one when 2-step verification is on), stored as the `mail`
//!   connection (`area connect mail`) and sent with IMAP `LOGIN` / SMTP `AUTH` inside TLS.
//!   SASL XOAUTH2 is not offered yet.
//! - `security`: `tls` (implicit TLS, the default: IMAP 993, SMTP 465 — RFC 8314), `starttls`
//!   (IMAP 143, SMTP 587) or `plain`, which sends the password in clear and is therefore only
//!   accepted when the area may reach private networks (local test servers, home labs). When the
//!   port is not given it follows the security mode. TLS uses rustls with the webpki root store.
//! - SSRF: the host is resolved once, every refused address (loopback, private, link-local…, per
//!   [`crate::net::guard::blocked_reason`]) is dropped unless the area allows private networks,
//!   and the connection goes to a vetted address (the TLS name stays the host name), so there is
//!   no DNS-rebinding window.
//! - Bounds: 10 s to connect, [`OVERALL_TIMEOUT`] for a whole check or reaction (below the
//!   engine's own 60 s backstop, so this connector's message wins), at most [`MAX_MESSAGES`]
//!   messages per check, each fetched partially (`BODY.PEEK[]<0.N>`, [`MAIL_FETCH_BYTES`]).
//! - `new_message` is a fetched action, checked every area interval (no IDLE: an always-open
//!   connection would need a pushed-connection model the engine does not have yet). `SELECT`
//!   gives `UIDVALIDITY`/`UIDNEXT`; the cursor is `{"uidvalidity", "last_uid", "newest"}`
//!   (`newest` = newest INTERNALDATE seen, Unix seconds). Each check asks `UID SEARCH UID
//!   <last+1>:*` (all messages on the first check), keeps the newest [`MAX_MESSAGES`], reads their
//!   sizes, then fetches those within the cap whole in one `UID FETCH` and larger ones truncated
//!   (`BODY.PEEK[]<0.N>`) one by one; `mail-parser` decodes headers (RFC 2047 encoded words) and
//!   bodies.
//!   Event key = `<uidvalidity>:<uid>`.
//! - When `UIDVALIDITY` changes (the server renumbered the folder) every key would be new, so
//!   instead of flooding, the check only returns messages whose INTERNALDATE is strictly newer
//!   than the newest one seen before the change (at most [`MAX_MESSAGES`]); the rest becomes the
//!   new baseline. A message delivered within the same second as the previous newest one is missed.
//! - `from_contains` / `subject_contains` filter client-side, case-insensitively, on the decoded
//!   display name + address and the decoded subject (a server-side `SEARCH` cannot match encoded
//!   words reliably and needs `CHARSET` literals for non-ASCII text).
//! - Errors: a `NO` to `LOGIN` → [`ConnectorError::AuthExpired`] (`[UNAVAILABLE]` → retryable);
//!   connection refused / DNS / TLS / lost connection → `NetError::Connect` (retryable); time
//!   limits → `NetError::Timeout`; a folder the server refuses to `SELECT` → `BadParams`.
//! - Reactions: `send` (SMTP submission with `lettre`; not idempotent — SMTP has no idempotency,
//!   but the Message-ID is derived from the run's idempotency key so receivers can spot a
//!   duplicate); `flag` (`UID STORE +FLAGS.SILENT`, idempotent); `move` (`UID MOVE` when the server
//!   has MOVE, else `UID COPY` + `\Deleted` + `UID EXPUNGE` with UIDPLUS, or a plain `EXPUNGE`,
//!   which also removes messages another client had already marked deleted; not idempotent).
//!   Both check first that the UID exists (a missing one is a parameter error). Header fields with
//!   CR or LF are refused.
//! - Folder names are sent as given (quoted); non-ASCII folder names would need modified UTF-7,
//!   which is not done.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{bad_param, opt_str, req_str, truncate_chars};
use crate::catalog::{
    ActionKind, ActionManifest, AuthKind, Availability, IngredientSpec, ParamSpec, ParamType, ReactionManifest,
    Service, ServiceManifest,
};
use crate::connector::{
    ConnectorError, Credential, Event, FetchContext, FetchedAction, Ingredients, Params, PollOutput, Reaction,
    ReactionContext, ReactionOutput,
};
use crate::net::NetError;

/// The service id, as used in area files.
pub const ID: &str = "mail";
/// Limit for resolving and connecting (and the TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for a whole check or reaction.
pub const OVERALL_TIMEOUT: Duration = Duration::from_secs(50);
/// Most messages read per check.
pub const MAX_MESSAGES: usize = 50;
/// Bytes of each message fetched by `new_message` (headers + the start of the body).
pub const MAIL_FETCH_BYTES: usize = 64 * 1024;
/// Longest snippet, in characters.
pub const SNIPPET_CHARS: usize = 500;

/// The `mail` service: manifest, one fetched action and three reactions.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("new_message", ActionKind::Fetched(Arc::new(NewMessage) as Arc<dyn FetchedAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("send", Arc::new(SendMail) as Arc<dyn Reaction>);
    reactions.insert("flag", Arc::new(FlagMessage) as Arc<dyn Reaction>);
    reactions.insert("move", Arc::new(MoveMessage) as Arc<dyn Reaction>);
    Service { manifest: manifest(), actions, reactions }
}

fn ingredient(id: &'static str, description: &'static str, example: &'static str) -> IngredientSpec {
    IngredientSpec { id, description, example }
}

fn security_spec(help: &'static str) -> ParamSpec {
    ParamSpec::new(
        "security",
        "Security",
        help,
        ParamType::Enum { choices: vec!["tls".into(), "starttls".into(), "plain".into()] },
    )
    .optional(Some(json!("tls")))
}

/// The IMAP connection parameters shared by `mail.new_message`, the IMAP reactions and
/// `vinted.new_alert_item`.
pub(crate) fn imap_param_specs(folder_templated: bool) -> Vec<ParamSpec> {
    let folder = ParamSpec::new("folder", "Folder", "The IMAP folder, e.g. INBOX or Archive.", ParamType::String)
        .optional(Some(json!("INBOX")));
    vec![
        ParamSpec::new("imap_host", "IMAP server", "e.g. imap.gmail.com, outlook.office365.com.", ParamType::String),
        ParamSpec::new(
            "imap_port",
            "IMAP port",
            "Leave empty for 993 with tls, 143 otherwise.",
            ParamType::Integer { min: Some(1), max: Some(65535) },
        )
        .optional(None),
        security_spec(
            "tls = implicit TLS (port 993, recommended); starttls = upgrade a plain connection (port 143); \
             plain = no encryption, only for local test servers (the area must allow private networks).",
        ),
        ParamSpec::new("username", "User name", "The mailbox login, usually your e-mail address.", ParamType::String),
        if folder_templated { folder.templated() } else { folder },
    ]
}

fn manifest() -> ServiceManifest {
    let mut new_message_params = imap_param_specs(false);
    new_message_params.push(
        ParamSpec::new(
            "from_contains",
            "From contains",
            "Only messages whose sender name or address contains this text (case-insensitive).",
            ParamType::String,
        )
        .optional(None),
    );
    new_message_params.push(
        ParamSpec::new(
            "subject_contains",
            "Subject contains",
            "Only messages whose subject contains this text (case-insensitive).",
            ParamType::String,
        )
        .optional(None),
    );
    let uid_spec = || {
        ParamSpec::new(
            "uid",
            "Message UID",
            "The message's IMAP UID in the folder, usually {{ uid }} from a mail trigger.",
            ParamType::String,
        )
        .templated()
    };
    let mut flag_params = imap_param_specs(true);
    flag_params.push(uid_spec());
    flag_params.push(
        ParamSpec::new(
            "flag",
            "Flag",
            "flagged = star the message; seen = mark it as read.",
            ParamType::Enum { choices: vec!["flagged".into(), "seen".into()] },
        )
        .optional(Some(json!("flagged"))),
    );
    let mut move_params = imap_param_specs(true);
    move_params.push(uid_spec());
    move_params.push(
        ParamSpec::new("target", "Move to folder", "The destination folder, e.g. Archive.", ParamType::String)
            .templated(),
    );
    ServiceManifest {
        id: ID,
        name: "Mail (IMAP/SMTP)",
        description: "Any mailbox over IMAP and SMTP, the standard protocols Thunderbird and every mail client \
                      speak: react to new messages, send mail, flag or move messages. Connect with the \
                      account's password or, where the provider offers one (Gmail, Outlook.com, iCloud, \
                      Yahoo, Fastmail), an app password.",
        auth: AuthKind::ApiKey,
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_message",
            name: "New message in a folder",
            description: "Fires when a message arrives in an IMAP folder, optionally only from a sender or with a \
                          subject. The folder is checked every area interval (no IMAP IDLE push yet); at most \
                          50 new messages are read per check.",
            params: new_message_params,
            ingredients: vec![
                ingredient(
                    "from",
                    "Sender as \"Name <address>\" (or the address alone).",
                    "Ada Lovelace <ada@example.com>",
                ),
                ingredient("from_address", "Sender's e-mail address.", "ada@example.com"),
                ingredient("subject", "Decoded subject.", "Déjeuner vendredi ?"),
                ingredient("date", "The message's Date header (RFC 3339).", "2026-11-28T10:30:00+01:00"),
                ingredient("message_id", "The Message-ID header, without angle brackets.", "CAF1234@mail.example.com"),
                ingredient("snippet", "Start of the plain-text body (500 characters at most).", "Hi, are you free on…"),
                ingredient("uid", "The message's IMAP UID in this folder (for the flag and move reactions).", "4211"),
                ingredient("folder", "The folder it arrived in.", "INBOX"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: None,
        }],
        reactions: vec![
            ReactionManifest {
                id: "send",
                name: "Send a mail",
                description: "Sends a plain-text mail through your provider's SMTP submission server.",
                params: vec![
                    ParamSpec::new("smtp_host", "SMTP server", "e.g. smtp.gmail.com.", ParamType::String),
                    ParamSpec::new(
                        "smtp_port",
                        "SMTP port",
                        "Leave empty for 465 with tls, 587 with starttls, 25 with plain.",
                        ParamType::Integer { min: Some(1), max: Some(65535) },
                    )
                    .optional(None),
                    security_spec(
                        "tls = implicit TLS (port 465); starttls = upgrade a plain connection (port 587); plain = \
                         no encryption, only for local test servers (the area must allow private networks).",
                    ),
                    ParamSpec::new(
                        "username",
                        "User name",
                        "The SMTP login, usually your e-mail address.",
                        ParamType::String,
                    ),
                    ParamSpec::new("from", "From", "Sender, e.g. Ada <ada@example.com>.", ParamType::String),
                    ParamSpec::new("to", "To", "Recipients, comma-separated; may use ingredients.", ParamType::String)
                        .templated(),
                    ParamSpec::new("subject", "Subject", "May use ingredients.", ParamType::String).templated(),
                    ParamSpec::new("body", "Body", "Plain text; may use ingredients.", ParamType::String)
                        .optional(Some(json!("")))
                        .templated(),
                ],
            },
            ReactionManifest {
                id: "flag",
                name: "Flag a message",
                description: "Stars a message or marks it as read (IMAP \\Flagged or \\Seen).",
                params: flag_params,
            },
            ReactionManifest {
                id: "move",
                name: "Move a message",
                description: "Moves a message to another folder.",
                params: move_params,
            },
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Implicit TLS from the first byte (RFC 8314).
    Tls,
    /// Plain connection upgraded with STARTTLS.
    StartTls,
    /// No encryption (local test servers only).
    Plain,
}

impl Security {
    fn from_params(params: &Params, allow_private: bool) -> Result<Security, ConnectorError> {
        let security = match opt_str(params, "security").unwrap_or("tls").to_ascii_lowercase().as_str() {
            "tls" => Security::Tls,
            "starttls" => Security::StartTls,
            "plain" => Security::Plain,
            other => return Err(bad_param("security", format!("expected tls, starttls or plain, got {other:?}"))),
        };
        if security == Security::Plain && !allow_private {
            return Err(bad_param(
                "security",
                "plain sends the password unencrypted and is only allowed for local servers: set \
                 allow_private_network on the area (or AREA_ALLOW_PRIVATE_NETWORK=1), or use tls",
            ));
        }
        Ok(security)
    }
}

fn port_param(params: &Params, id: &str, default: u16) -> Result<u16, ConnectorError> {
    match params.get(id) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| bad_param(id, format!("expected a port between 1 and 65535, got {n}"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(default),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad_param(id, format!("expected a port between 1 and 65535, got {s:?}"))),
        Some(other) => Err(bad_param(id, format!("expected a port number, got {other}"))),
    }
}

/// Refuses CR, LF and NUL, which would let a value inject protocol lines or headers.
pub(crate) fn no_line_breaks<'a>(id: &str, value: &'a str) -> Result<&'a str, ConnectorError> {
    if value.contains(['\r', '\n', '\0']) {
        Err(bad_param(id, "must not contain line breaks"))
    } else {
        Ok(value)
    }
}

fn host_param<'a>(params: &'a Params, id: &str) -> Result<&'a str, ConnectorError> {
    let host = no_line_breaks(id, req_str(params, id)?)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(['/', ' ', '@']) {
        return Err(bad_param(id, format!("expected a host name such as imap.example.com, got {host:?}")));
    }
    Ok(host)
}

/// Where and how to reach one IMAP folder.
#[derive(Debug, Clone)]
pub(crate) struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub folder: String,
    pub allow_private: bool,
}

impl ImapSettings {
    pub(crate) fn from_params(params: &Params, allow_private: bool) -> Result<ImapSettings, ConnectorError> {
        let security = Security::from_params(params, allow_private)?;
        let default_port = if security == Security::Tls { 993 } else { 143 };
        Ok(ImapSettings {
            host: host_param(params, "imap_host")?.to_string(),
            port: port_param(params, "imap_port", default_port)?,
            security,
            username: no_line_breaks("username", req_str(params, "username")?)?.to_string(),
            folder: no_line_breaks("folder", opt_str(params, "folder").unwrap_or("INBOX"))?.to_string(),
            allow_private,
        })
    }
}

fn secret<'a>(credential: Option<&'a Credential>, service: &str) -> Result<&'a str, ConnectorError> {
    let secret = credential.ok_or_else(|| ConnectorError::AuthExpired { service: service.into() })?.secret();
    if secret.contains(['\r', '\n', '\0']) {
        return Err(ConnectorError::AuthExpired { service: service.into() });
    }
    Ok(secret)
}

// ---------------------------------------------------------------------------------------------
// Network: resolve with the SSRF guard, connect, TLS

/// A retryable network error; the cause is cut short, since parser errors quote server data.
fn connect_error(what: &str, host: &str, port: u16, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Net(NetError::Connect(truncate_chars(&format!("{what} {host}:{port}: {e}"), 300)))
}

/// Resolves `host` and keeps the addresses the guard allows.
pub(crate) async fn vetted_addrs(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ConnectorError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Err(_) => return Err(ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT })),
            Ok(Err(e)) => return Err(connect_error("cannot resolve", host, port, e)),
            Ok(Ok(found)) => found.collect(),
        },
    };
    if allow_private {
        return Ok(addrs);
    }
    let mut refusal = None;
    let kept: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match crate::net::guard::blocked_reason(a.ip()) {
            Some(reason) => {
                refusal = Some(reason);
                false
            }
            None => true,
        })
        .collect();
    match (kept.is_empty(), refusal) {
        (true, Some(reason)) => {
            Err(ConnectorError::Net(NetError::Refused { host: format!("{host}:{port}"), reason: reason.into() }))
        }
        (true, None) => Err(connect_error("no address for", host, port, "empty DNS answer")),
        (false, _) => Ok(kept),
    }
}

async fn tcp_connect(host: &str, port: u16, allow_private: bool) -> Result<TcpStream, ConnectorError> {
    let addrs = vetted_addrs(host, port, allow_private).await?;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(connect_error("cannot connect to", host, port, e)),
            Err(_) => last = Some(ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT })),
        }
    }
    Err(last.unwrap_or_else(|| connect_error("cannot connect to", host, port, "no address")))
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: std::sync::OnceLock<Arc<tokio_rustls::rustls::ClientConfig>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

async fn tls_wrap(tcp: TcpStream, host: &str, port: u16) -> Result<MailStream, ConnectorError> {
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| bad_param("imap_host", format!("{host:?} is not a valid TLS server name")))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, tls_connector().connect(name, tcp)).await {
        Ok(Ok(tls)) => Ok(MailStream::Tls(Box::new(tls))),
        Ok(Err(e)) => Err(connect_error("TLS handshake failed with", host, port, e)),
        Err(_) => Err(ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT })),
    }
}

/// A plain or TLS byte stream under the IMAP client.
#[derive(Debug)]
pub(crate) enum MailStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for MailStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IMAP

pub(crate) type ImapSession = async_imap::Session<MailStream>;

fn imap_error(settings: &ImapSettings, e: async_imap::error::Error) -> ConnectorError {
    use async_imap::error::Error;
    match e {
        Error::Io(e) => connect_error("connection to", &settings.host, settings.port, e),
        Error::ConnectionLost => connect_error("lost the connection to", &settings.host, settings.port, "closed"),
        other => ConnectorError::BadResponse {
            service: ID.into(),
            message: truncate_chars(&format!("IMAP server {}: {other}", settings.host), 300),
        },
    }
}

/// Connects, secures and logs in; the session is not in a folder yet.
pub(crate) async fn imap_login(
    settings: &ImapSettings,
    credential: Option<&Credential>,
    service: &str,
) -> Result<ImapSession, ConnectorError> {
    let password = secret(credential, service)?;
    let tcp = tcp_connect(&settings.host, settings.port, settings.allow_private).await?;
    let stream = match settings.security {
        Security::Tls => tls_wrap(tcp, &settings.host, settings.port).await?,
        Security::Plain | Security::StartTls => MailStream::Plain(tcp),
    };
    let mut client = async_imap::Client::new(stream);
    let greeting = tokio::time::timeout(CONNECT_TIMEOUT, client.read_response())
        .await
        .map_err(|_| ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT }))?
        .map_err(|e| connect_error("connection to", &settings.host, settings.port, e))?;
    if greeting.is_none() {
        return Err(connect_error("connection to", &settings.host, settings.port, "closed before the greeting"));
    }
    if settings.security == Security::StartTls {
        client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| imap_error(settings, e))?;
        let MailStream::Plain(tcp) = client.into_inner() else { unreachable!("STARTTLS starts from a plain stream") };
        client = async_imap::Client::new(tls_wrap(tcp, &settings.host, settings.port).await?);
    }
    match client.login(&settings.username, password).await {
        Ok(session) => Ok(session),
        // RFC 5530: `[UNAVAILABLE]` is a temporary server problem, not refused credentials.
        Err((async_imap::error::Error::No(message), _)) if message.to_ascii_uppercase().contains("UNAVAILABLE") => Err(
            ConnectorError::Net(NetError::Connect(format!("IMAP server {} is temporarily unavailable", settings.host))),
        ),
        Err((async_imap::error::Error::No(_), _)) => Err(ConnectorError::AuthExpired { service: service.into() }),
        Err((e, _)) => Err(imap_error(settings, e)),
    }
}

/// `SELECT`s the folder: its UIDVALIDITY and UIDNEXT. A refused folder is a parameter error.
pub(crate) async fn imap_select(
    session: &mut ImapSession,
    settings: &ImapSettings,
    param: &str,
    folder: &str,
) -> Result<(u32, Option<u32>), ConnectorError> {
    match session.select(folder).await {
        Ok(mailbox) => Ok((mailbox.uid_validity.unwrap_or(0), mailbox.uid_next)),
        // NO is the standard answer; some servers answer BAD to an unknown name.
        Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => {
            Err(bad_param(param, format!("the server has no folder {folder:?} (or refuses to open it)")))
        }
        Err(e) => Err(imap_error(settings, e)),
    }
}

/// One fetched message: its UID, INTERNALDATE (Unix seconds) and raw bytes (maybe truncated).
#[derive(Debug, Clone)]
pub(crate) struct RawMessage {
    pub uid: u32,
    pub internal_date: Option<i64>,
    pub raw: Vec<u8>,
}

/// The position in a folder a check resumes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MailCursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
    /// Newest INTERNALDATE seen, Unix seconds.
    pub newest: Option<i64>,
}

impl MailCursor {
    fn from_value(value: Option<&Value>) -> Option<MailCursor> {
        let v = value?;
        let num = |k: &str| v.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
        Some(MailCursor {
            uidvalidity: num("uidvalidity")?,
            last_uid: num("last_uid")?,
            newest: v.get("newest").and_then(Value::as_i64),
        })
    }

    fn to_value(self) -> Value {
        json!({"uidvalidity": self.uidvalidity, "last_uid": self.last_uid, "newest": self.newest})
    }
}

/// What one check of a folder found: the new messages (oldest first) and the next cursor.
pub(crate) struct FolderCheck {
    pub uidvalidity: u32,
    pub messages: Vec<RawMessage>,
    pub cursor: Value,
}

/// The whole check of a fetched mail action: login, select, search past the cursor, fetch the
/// newest [`MAX_MESSAGES`] (truncated to `max_bytes` each), logout. Bounded by [`OVERALL_TIMEOUT`].
pub(crate) async fn check_folder(
    ctx: &FetchContext<'_>,
    service: &str,
    max_bytes: usize,
) -> Result<FolderCheck, ConnectorError> {
    let settings = ImapSettings::from_params(ctx.params, ctx.allow_private_network)?;
    match tokio::time::timeout(OVERALL_TIMEOUT, check_folder_inner(ctx, &settings, service, max_bytes)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectorError::Net(NetError::Timeout { after: OVERALL_TIMEOUT })),
    }
}

fn fetch_list(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Fetches these messages: sizes and dates first, then every message that fits `max_bytes`
/// whole in one `UID FETCH`, and each larger one truncated (`BODY.PEEK[]<0.max>`) on its own.
async fn fetch_messages(
    session: &mut ImapSession,
    settings: &ImapSettings,
    uids: &[u32],
    max_bytes: usize,
) -> Result<Vec<RawMessage>, ConnectorError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let mut meta: Vec<(u32, Option<i64>, usize)> = Vec::new();
    {
        let mut stream = session
            .uid_fetch(fetch_list(uids), "(UID RFC822.SIZE INTERNALDATE)")
            .await
            .map_err(|e| imap_error(settings, e))?;
        while let Some(item) = stream.next().await {
            let fetch = item.map_err(|e| imap_error(settings, e))?;
            let Some(uid) = fetch.uid else { continue };
            let size = fetch.size.map_or(usize::MAX, |s| s as usize);
            meta.push((uid, fetch.internal_date().map(|d| d.timestamp()), size));
        }
    }
    let small: Vec<u32> = meta.iter().filter(|m| m.2 <= max_bytes).map(|m| m.0).collect();
    let large: Vec<u32> = meta.iter().filter(|m| m.2 > max_bytes).map(|m| m.0).collect();
    let mut bodies: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut batches: Vec<(String, String)> = Vec::new();
    if !small.is_empty() {
        batches.push((fetch_list(&small), "(UID BODY.PEEK[])".to_string()));
    }
    for uid in large {
        batches.push((uid.to_string(), format!("(UID BODY.PEEK[]<0.{max_bytes}>)")));
    }
    for (set, query) in batches {
        let mut stream = session.uid_fetch(set, query).await.map_err(|e| imap_error(settings, e))?;
        while let Some(item) = stream.next().await {
            let fetch = item.map_err(|e| imap_error(settings, e))?;
            let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else { continue };
            bodies.insert(uid, body[..body.len().min(max_bytes)].to_vec());
        }
    }
    Ok(meta
        .into_iter()
        .map(|(uid, internal_date, _)| RawMessage { uid, internal_date, raw: bodies.remove(&uid).unwrap_or_default() })
        .collect())
}

async fn check_folder_inner(
    ctx: &FetchContext<'_>,
    settings: &ImapSettings,
    service: &str,
    max_bytes: usize,
) -> Result<FolderCheck, ConnectorError> {
    let mut session = imap_login(settings, ctx.credential, service).await?;
    let (uidvalidity, uid_next) = imap_select(&mut session, settings, "folder", &settings.folder).await?;
    let previous = MailCursor::from_value(ctx.cursor);
    let same_validity = previous.is_some_and(|c| c.uidvalidity == uidvalidity);
    let query = match previous {
        Some(c) if same_validity => format!("UID {}:*", c.last_uid.saturating_add(1)),
        _ => "ALL".to_string(),
    };
    let found = session.uid_search(&query).await.map_err(|e| imap_error(settings, e))?;
    let mut uids: Vec<u32> = found.into_iter().collect();
    if let (Some(c), true) = (previous, same_validity) {
        // `n:*` always includes the highest UID, even when it is below n.
        uids.retain(|u| *u > c.last_uid);
    }
    uids.sort_unstable();
    let highest = uids.last().copied();
    if uids.len() > MAX_MESSAGES {
        uids.drain(..uids.len() - MAX_MESSAGES);
    }
    let messages = fetch_messages(&mut session, settings, &uids, max_bytes).await?;
    let _ = session.logout().await;
    let mut messages = messages;
    messages.sort_by_key(|m| m.uid);
    messages.dedup_by_key(|m| m.uid);

    let newest_now = messages.iter().filter_map(|m| m.internal_date).max();
    let newest = match previous {
        Some(c) => c.newest.max(newest_now),
        None => newest_now,
    };
    if let Some(c) = previous.filter(|_| !same_validity) {
        // Renumbered folder: only what is newer than anything seen before is new.
        messages.retain(|m| matches!((m.internal_date, c.newest), (Some(d), Some(n)) if d > n));
    }
    let base = if same_validity { previous.map_or(0, |c| c.last_uid) } else { 0 };
    let last_uid = base.max(highest.unwrap_or(0)).max(uid_next.map_or(0, |n| n.saturating_sub(1)));
    let cursor = MailCursor { uidvalidity, last_uid, newest }.to_value();
    Ok(FolderCheck { uidvalidity, messages, cursor })
}

// ---------------------------------------------------------------------------------------------
// Reading messages

/// The decoded parts of a message the connectors use.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ParsedMail {
    pub from: String,
    pub from_name: String,
    pub from_address: String,
    pub subject: String,
    pub date: String,
    pub message_id: String,
    pub text: String,
    /// The text/html part, empty when the message has none.
    pub html: String,
}

/// Decodes a raw (possibly truncated) message; never fails (missing parts are empty).
pub(crate) fn parse_mail(raw: &[u8]) -> ParsedMail {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return ParsedMail::default();
    };
    let (from_name, from_address) = message
        .from()
        .and_then(|a| a.first())
        .map(|a| (a.name().unwrap_or("").trim().to_string(), a.address().unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let from = match (from_name.is_empty(), from_address.is_empty()) {
        (false, false) => format!("{from_name} <{from_address}>"),
        (false, true) => from_name.clone(),
        _ => from_address.clone(),
    };
    ParsedMail {
        from,
        from_name,
        from_address,
        subject: message.subject().unwrap_or("").trim().to_string(),
        date: message.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        message_id: message.message_id().unwrap_or("").to_string(),
        text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        // Only a real text/html part: mail-parser would otherwise render the text part as HTML.
        html: match message.html_part(0).map(|p| &p.body) {
            Some(mail_parser::PartType::Html(html)) => html.to_string(),
            _ => String::new(),
        },
    }
}

/// Whitespace-collapsed start of a text.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    truncate_chars(&text.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// The event of one message (pure, for tests on saved messages).
pub fn message_event(uidvalidity: u32, uid: u32, folder: &str, raw: &[u8]) -> Event {
    let mail = parse_mail(raw);
    let mut ing = Ingredients::new();
    ing.insert("from".into(), Value::String(mail.from));
    ing.insert("from_address".into(), Value::String(mail.from_address));
    ing.insert("subject".into(), Value::String(mail.subject));
    ing.insert("date".into(), Value::String(mail.date));
    ing.insert("message_id".into(), Value::String(mail.message_id));
    ing.insert("snippet".into(), Value::String(snippet(&mail.text, SNIPPET_CHARS)));
    ing.insert("uid".into(), Value::from(uid));
    ing.insert("folder".into(), Value::String(folder.to_string()));
    Event { key: format!("{uidvalidity}:{uid}"), ingredients: ing }
}

/// Whether an event passes the `from_contains` / `subject_contains` filters.
pub fn matches_filters(event: &Event, from_contains: Option<&str>, subject_contains: Option<&str>) -> bool {
    let field = |k: &str| event.ingredients.get(k).and_then(Value::as_str).unwrap_or("");
    from_contains.is_none_or(|f| contains_ci(field("from"), f))
        && subject_contains.is_none_or(|s| contains_ci(field("subject"), s))
}

/// `mail.new_message`.
pub struct NewMessage;

#[async_trait]
impl FetchedAction for NewMessage {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        let from_contains = opt_str(ctx.params, "from_contains");
        let subject_contains = opt_str(ctx.params, "subject_contains");
        let check = check_folder(ctx, ID, MAIL_FETCH_BYTES).await?;
        let folder = opt_str(ctx.params, "folder").unwrap_or("INBOX");
        let events = check
            .messages
            .iter()
            .map(|m| message_event(check.uidvalidity, m.uid, folder, &m.raw))
            .filter(|e| matches_filters(e, from_contains, subject_contains))
            .collect();
        Ok(PollOutput { events, cursor: Some(check.cursor) })
    }
}

// ---------------------------------------------------------------------------------------------
// Reactions

fn uid_param(params: &Params) -> Result<u32, ConnectorError> {
    let raw = match params.get("uid") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        _ => return Err(bad_param("uid", "is required")),
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_param("uid", format!("expected a message UID (a positive number), got {raw:?}")))
}

/// Logs in, selects the folder and checks the UID is there.
async fn open_message(
    ctx: &ReactionContext<'_>,
    params: &Params,
) -> Result<(ImapSession, ImapSettings, u32), ConnectorError> {
    let settings = ImapSettings::from_params(params, ctx.allow_private_network)?;
    let uid = uid_param(params)?;
    let mut session = imap_login(&settings, ctx.credential, ID).await?;
    imap_select(&mut session, &settings, "folder", &settings.folder).await?;
    let found = session.uid_search(format!("UID {uid}")).await.map_err(|e| imap_error(&settings, e))?;
    if !found.contains(&uid) {
        let _ = session.logout().await;
        return Err(bad_param("uid", format!("no message with UID {uid} in {:?}", settings.folder)));
    }
    Ok((session, settings, uid))
}

async fn bounded<T>(work: impl std::future::Future<Output = Result<T, ConnectorError>>) -> Result<T, ConnectorError> {
    tokio::time::timeout(OVERALL_TIMEOUT, work)
        .await
        .unwrap_or(Err(ConnectorError::Net(NetError::Timeout { after: OVERALL_TIMEOUT })))
}

/// `mail.flag`.
pub struct FlagMessage;

#[async_trait]
impl Reaction for FlagMessage {
    fn idempotent(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let flag = match opt_str(params, "flag").unwrap_or("flagged") {
            "flagged" => "\\Flagged",
            "seen" => "\\Seen",
            other => return Err(bad_param("flag", format!("expected flagged or seen, got {other:?}"))),
        };
        bounded(async {
            let (mut session, settings, uid) = open_message(ctx, params).await?;
            {
                let mut updates = session
                    .uid_store(uid.to_string(), format!("+FLAGS.SILENT ({flag})"))
                    .await
                    .map_err(|e| imap_error(&settings, e))?;
                while let Some(item) = updates.next().await {
                    item.map_err(|e| imap_error(&settings, e))?;
                }
            }
            let _ = session.logout().await;
            Ok(ReactionOutput { summary: format!("set {flag} on UID {uid} in {}", settings.folder) })
        })
        .await
    }
}

/// `mail.move`.
pub struct MoveMessage;

#[async_trait]
impl Reaction for MoveMessage {
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let target = no_line_breaks("target", req_str(params, "target")?)?.to_string();
        bounded(async {
            let (mut session, settings, uid) = open_message(ctx, params).await?;
            let caps = session.capabilities().await.map_err(|e| imap_error(&settings, e))?;
            let refused = |e: async_imap::error::Error| match e {
                async_imap::error::Error::No(_) => {
                    bad_param("target", format!("the server refused to move the message to {target:?}"))
                }
                e => imap_error(&settings, e),
            };
            if caps.has_str("MOVE") {
                session.uid_mv(uid.to_string(), &target).await.map_err(refused)?;
            } else {
                session.uid_copy(uid.to_string(), &target).await.map_err(refused)?;
                {
                    let mut updates = session
                        .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")
                        .await
                        .map_err(|e| imap_error(&settings, e))?;
                    while let Some(item) = updates.next().await {
                        item.map_err(|e| imap_error(&settings, e))?;
                    }
                }
                if caps.has_str("UIDPLUS") {
                    let gone = session.uid_expunge(uid.to_string()).await.map_err(|e| imap_error(&settings, e))?;
                    gone.collect::<Vec<_>>().await;
                } else {
                    let gone = session.expunge().await.map_err(|e| imap_error(&settings, e))?;
                    gone.collect::<Vec<_>>().await;
                }
            }
            let _ = session.logout().await;
            Ok(ReactionOutput { summary: format!("moved UID {uid} from {} to {target}", settings.folder) })
        })
        .await
    }
}

/// `mail.send`.
pub struct SendMail;

fn mailbox_param(id: &str, value: &str) -> Result<lettre::message::Mailbox, ConnectorError> {
    no_line_breaks(id, value)?
        .trim()
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| bad_param(id, format!("not a valid address ({e}): {value:?}")))
}

fn smtp_error(settings_host: &str, e: lettre::transport::smtp::Error) -> ConnectorError {
    let code = e.status().map(|c| c.to_string());
    if matches!(code.as_deref(), Some("535" | "534" | "530")) {
        return ConnectorError::AuthExpired { service: ID.into() };
    }
    if e.is_timeout() {
        return ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT });
    }
    let message = truncate_chars(&format!("SMTP server {settings_host}: {e}"), 300);
    if e.is_permanent() {
        ConnectorError::BadResponse { service: ID.into(), message }
    } else {
        // Transient (4xx) answers, lost connections, TLS failures: worth another try.
        ConnectorError::Net(NetError::Connect(message))
    }
}

#[async_trait]
impl Reaction for SendMail {
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        use lettre::message::header::ContentType;
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let security = Security::from_params(params, ctx.allow_private_network)?;
        let host = host_param(params, "smtp_host")?.to_string();
        let default_port = match security {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        };
        let port = port_param(params, "smtp_port", default_port)?;
        let username = no_line_breaks("username", req_str(params, "username")?)?.to_string();
        let password = secret(ctx.credential, ID)?.to_string();
        let from = mailbox_param("from", req_str(params, "from")?)?;
        let subject = no_line_breaks("subject", params.get("subject").and_then(Value::as_str).unwrap_or(""))?;
        let body = params.get("body").and_then(Value::as_str).unwrap_or("").to_string();
        let to_raw = req_str(params, "to")?;
        let mut builder = Message::builder().from(from.clone()).subject(subject);
        let mut recipients = 0;
        for part in to_raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            builder = builder.to(mailbox_param("to", part)?);
            recipients += 1;
        }
        if recipients == 0 {
            return Err(bad_param("to", "needs at least one address"));
        }
        // A Message-ID derived from the run's idempotency key: a re-sent copy carries the same id.
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ctx.idempotency_key.as_bytes()));
        let domain = from.email.domain().to_string();
        let message = builder
            .message_id(Some(format!("<area.{}@{domain}>", &digest[..32])))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| bad_param("to", format!("cannot build the message: {e}")))?;

        bounded(async {
            let addr = vetted_addrs(&host, port, ctx.allow_private_network).await?[0];
            let tls = match security {
                Security::Plain => Tls::None,
                Security::Tls | Security::StartTls => {
                    let parameters = TlsParameters::new(host.clone())
                        .map_err(|e| bad_param("smtp_host", format!("cannot use TLS with {host:?}: {e}")))?;
                    if security == Security::Tls {
                        Tls::Wrapper(parameters)
                    } else {
                        Tls::Required(parameters)
                    }
                }
            };
            // Connect to the vetted address; TLS still verifies the certificate for `host`.
            let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
                .port(addr.port())
                .tls(tls)
                .credentials(Credentials::new(username, password))
                .timeout(Some(CONNECT_TIMEOUT))
                .build();
            let response = transport.send(message).await.map_err(|e| smtp_error(&host, e))?;
            Ok(ReactionOutput { summary: format!("sent to {recipients} recipient(s), SMTP {}", response.code()) })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_encoded_words_and_multipart_bodies() {
        let raw = b"From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>\r\n\
Subject: =?UTF-8?B?w4kgbcOpdMOpbyDimIA=?=\r\nMessage-ID: <abc@example.com>\r\n\
Date: Sat, 28 Nov 2026 10:30:00 +0100\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Hello   there\r\n\r\nbye\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Hello</p>\r\n--b--\r\n";
        let event = message_event(7, 42, "INBOX", raw);
        assert_eq!(event.key, "7:42");
        assert_eq!(event.ingredients["from"], "Renée <renee@example.com>");
        assert_eq!(event.ingredients["from_address"], "renee@example.com");
        assert_eq!(event.ingredients["subject"], "É météo ☀");
        assert_eq!(event.ingredients["message_id"], "abc@example.com");
        assert_eq!(event.ingredients["date"], "2026-11-28T10:30:00+01:00");
        assert_eq!(event.ingredients["snippet"], "Hello there bye");
        assert!(matches_filters(&event, Some("RENÉE"), Some("météo")));
        assert!(!matches_filters(&event, Some("bob"), None));
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [&b""[..], b"\xff\xfe", b"Subject", b"From: <\r\n\r\n"] {
            let _ = message_event(1, 1, "INBOX", raw);
        }
    }

    #[test]
    fn plain_needs_private_network_and_ports_follow_security() {
        let mut p = Params::new();
        p.insert("imap_host".into(), json!("imap.example.com"));
        p.insert("username".into(), json!("ada"));
        p.insert("security".into(), json!("plain"));
        assert!(matches!(ImapSettings::from_params(&p, false), Err(ConnectorError::BadParams { .. })));
        assert_eq!(ImapSettings::from_params(&p, true).unwrap().port, 143);
        p.insert("security".into(), json!("tls"));
        assert_eq!(ImapSettings::from_params(&p, false).unwrap().port, 993);
        p.insert("folder".into(), json!("IN\r\nBOX"));
        assert!(ImapSettings::from_params(&p, false).is_err());
    }

    #[test]
    fn cursor_round_trips() {
        let c = MailCursor { uidvalidity: 3, last_uid: 9, newest: Some(100) };
        assert_eq!(MailCursor::from_value(Some(&c.to_value())), Some(c));
        assert_eq!(MailCursor::from_value(Some(&json!({"x": 1}))), None);
    }
}
