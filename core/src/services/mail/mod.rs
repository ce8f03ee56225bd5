//! Mail: the [`mail`] service (any mailbox over IMAP and SMTP), [`vinted`] (alert mails read
//! from a mailbox) and [`thunderbird`] (listed, unavailable), and what they share — the mail
//! connection's servers and password ([`MailAccountInput`], [`connection_password`]), IMAP and
//! SMTP connections through the SSRF guard, checking a folder for new messages
//! ([`check_folder`]) and decoding messages ([`parse_mail`]). See [`mail`] for the decisions.

#[allow(clippy::module_inception)]
pub mod mail;
pub mod thunderbird;
pub mod vinted;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::services::kit::prelude::*;

/// The service errors of the shared IMAP and SMTP code are reported under.
const ID: &str = mail::ID;
/// Limit for resolving and connecting (and the TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for a whole check or reaction.
pub const OVERALL_TIMEOUT: Duration = Duration::from_secs(50);
/// Most messages read per check.
pub const MAX_MESSAGES: usize = 50;
/// The IMAP parameters shared by `mail.new_message`, the IMAP reactions and
/// `vinted.new_alert_item`: only the folder, since the server and login belong to the connection.
pub(crate) fn imap_param_specs(folder_templated: bool) -> Vec<ParamSpec> {
    let folder = ParamSpec::new(
        "folder",
        "Folder",
        "The IMAP folder, e.g. INBOX or Archive (on the server of your mail connection).",
        ParamType::String,
    )
    .optional(Some(json!("INBOX")));
    vec![if folder_templated { folder.templated() } else { folder }]
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// How the connection is secured (recorded with the connection).
pub use crate::connector::MailSecurity as Security;

/// Refuses `plain` (the password in clear) unless the area may reach private networks.
fn check_security(security: Security, allow_private: bool) -> Result<Security, ConnectorError> {
    if security == Security::Plain && !allow_private {
        return Err(bad_param(
            "security",
            "the mail connection uses plain, which sends the password unencrypted and is only allowed for \
             local servers: set allow_private_network on the area (or AREA_ALLOW_PRIVATE_NETWORK=1), or \
             reconnect with --imap-security tls",
        ));
    }
    Ok(security)
}

/// Why a mail connection could not be recorded (`area connect mail`).
#[derive(Debug, thiserror::Error)]
pub enum MailAccountError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// What a user enters to connect a mailbox (besides the password, which comes from a no-echo
/// prompt or standard input): validated into a [`crate::connector::MailAccount`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct MailAccountInput {
    /// The login, usually the e-mail address.
    pub username: String,
    /// e.g. `imap.gmail.com`.
    pub imap_host: String,
    /// Empty: 993 with tls, 143 otherwise.
    pub imap_port: Option<u16>,
    /// `tls` (default), `starttls` or `plain` (local test servers only).
    pub imap_security: Option<String>,
    /// e.g. `smtp.gmail.com`; empty when the connection only reads mail.
    pub smtp_host: Option<String>,
    /// Empty: 465 with tls, 587 with starttls, 25 with plain.
    pub smtp_port: Option<u16>,
    /// Defaults to the IMAP security.
    pub smtp_security: Option<String>,
}

impl MailAccountInput {
    /// Checks host names, user name and security modes, and fills default ports.
    pub fn account(&self) -> Result<crate::connector::MailAccount, MailAccountError> {
        use crate::connector::{MailAccount, MailServer};
        let invalid = |field: &'static str, message: String| MailAccountError::Invalid { field, message };
        let security = |field: &'static str, value: Option<&str>, default: Security| match value
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") => Ok(default),
            Some("tls") => Ok(Security::Tls),
            Some("starttls") => Ok(Security::StartTls),
            Some("plain") => Ok(Security::Plain),
            Some(other) => Err(invalid(field, format!("expected tls, starttls or plain, got {other:?}"))),
        };
        let host = |field: &'static str, value: &str| {
            valid_host(value).map_err(|m| invalid(field, m)).map(str::to_ascii_lowercase)
        };
        let username = self.username.trim();
        if username.is_empty() || username.contains(['\r', '\n', '\0']) {
            return Err(invalid("username", "is required, on one line (usually your e-mail address)".into()));
        }
        let imap_security = security("imap_security", self.imap_security.as_deref(), Security::Tls)?;
        let imap = MailServer {
            host: host("imap_host", &self.imap_host)?,
            port: self.imap_port.filter(|p| *p > 0).unwrap_or(if imap_security == Security::Tls { 993 } else { 143 }),
            security: imap_security,
        };
        let smtp = match self.smtp_host.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
            None => None,
            Some(smtp_host) => {
                let smtp_security = security("smtp_security", self.smtp_security.as_deref(), imap_security)?;
                let default_port = match smtp_security {
                    Security::Tls => 465,
                    Security::StartTls => 587,
                    Security::Plain => 25,
                };
                Some(MailServer {
                    host: host("smtp_host", smtp_host)?,
                    port: self.smtp_port.filter(|p| *p > 0).unwrap_or(default_port),
                    security: smtp_security,
                })
            }
        };
        Ok(MailAccount { username: username.to_string(), imap, smtp })
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

/// A bare host name or IP address (no scheme, path, port or user), brackets removed.
fn valid_host(value: &str) -> Result<&str, String> {
    let host = value.trim().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', ' ', '@', '\r', '\n', '\0']) {
        return Err(format!("expected a host name such as imap.example.com, got {host:?}"));
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
    /// The connection's IMAP server and login, and the area's folder. Nothing in `params` can
    /// name a server.
    pub(crate) fn new(
        credential: Option<&Credential>,
        params: &Params,
        allow_private: bool,
        service: &str,
    ) -> Result<ImapSettings, ConnectorError> {
        let account = mail_account(credential, service)?;
        Ok(ImapSettings {
            host: account.imap.host.clone(),
            port: account.imap.port,
            security: check_security(account.imap.security, allow_private)?,
            username: account.username.clone(),
            folder: no_line_breaks("folder", opt_str(params, "folder").unwrap_or("INBOX"))?.to_string(),
            allow_private,
        })
    }
}

/// The servers recorded with the connection. A connection made before servers belonged to it
/// (a bare password) must be made again.
fn mail_account<'a>(
    credential: Option<&'a Credential>,
    service: &str,
) -> Result<&'a crate::connector::MailAccount, ConnectorError> {
    credential.and_then(Credential::mail_account).ok_or_else(|| ConnectorError::AuthExpired { service: service.into() })
}

/// The password, released only for a server the connection records: the one place the IMAP and
/// SMTP code gets it, so no area, ingredient or bug can send it to another host.
pub(crate) fn connection_password<'a>(
    credential: Option<&'a Credential>,
    service: &str,
    host: &str,
    port: u16,
) -> Result<&'a str, ConnectorError> {
    let credential = credential.ok_or_else(|| ConnectorError::AuthExpired { service: service.into() })?;
    let allowed = crate::net::AllowedHosts::default();
    let allowed = credential.own_hosts().iter().fold(allowed, |a, (h, p)| a.with_host_port(h, *p));
    if !allowed.allows(host, port) {
        tracing::warn!(service, "refused to send the mail password to a server the connection does not record");
        return Err(ConnectorError::Net(NetError::CredentialHost {
            service: service.into(),
            host: format!("{host}:{port}"),
            allowed: allowed.describe(),
        }));
    }
    let secret = credential.secret();
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
    let password = connection_password(credential, service, &settings.host, settings.port)?;
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
    let settings = ImapSettings::new(ctx.credential, ctx.params, ctx.allow_private_network, service)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(input: &MailAccountInput) -> Credential {
        Credential::Mail { password: "pw-123456789".into(), account: input.account().unwrap() }
    }

    #[test]
    fn plain_needs_private_network_and_ports_follow_security() {
        let mut input = MailAccountInput {
            username: "ada".into(),
            imap_host: "imap.example.com".into(),
            imap_security: Some("plain".into()),
            ..Default::default()
        };
        let mut p = Params::new();
        let plain = connection(&input);
        assert!(matches!(ImapSettings::new(Some(&plain), &p, false, ID), Err(ConnectorError::BadParams { .. })));
        assert_eq!(ImapSettings::new(Some(&plain), &p, true, ID).unwrap().port, 143);
        input.imap_security = Some("tls".into());
        let tls = connection(&input);
        assert_eq!(ImapSettings::new(Some(&tls), &p, false, ID).unwrap().port, 993);
        p.insert("folder".into(), json!("IN\r\nBOX"));
        assert!(ImapSettings::new(Some(&tls), &p, false, ID).is_err());
    }

    #[test]
    fn servers_come_from_the_connection_only() {
        let input = MailAccountInput {
            username: "ada".into(),
            imap_host: "imap.example.com".into(),
            smtp_host: Some("smtp.example.com".into()),
            smtp_security: Some("starttls".into()),
            ..Default::default()
        };
        let credential = connection(&input);
        let mut p = Params::new();
        p.insert("imap_host".into(), json!("imap.evil.example"));
        let settings = ImapSettings::new(Some(&credential), &p, false, ID).unwrap();
        assert_eq!((settings.host.as_str(), settings.port), ("imap.example.com", 993));
        assert_eq!(connection_password(Some(&credential), ID, "imap.example.com", 993).unwrap(), "pw-123456789");
        assert_eq!(connection_password(Some(&credential), ID, "smtp.example.com", 587).unwrap(), "pw-123456789");
        let err = connection_password(Some(&credential), ID, "imap.evil.example", 993).unwrap_err();
        assert!(err.to_string().contains("imap.evil.example"), "{err}");
        let bare = Credential::ApiKey("pw-123456789".into());
        assert!(matches!(ImapSettings::new(Some(&bare), &p, false, ID), Err(ConnectorError::AuthExpired { .. })));
        assert!(MailAccountInput { imap_host: "x/y".into(), username: "a".into(), ..Default::default() }
            .account()
            .is_err());
    }

    #[test]
    fn cursor_round_trips() {
        let c = MailCursor { uidvalidity: 3, last_uid: 9, newest: Some(100) };
        assert_eq!(MailCursor::from_value(Some(&c.to_value())), Some(c));
        assert_eq!(MailCursor::from_value(Some(&json!({"x": 1}))), None);
    }
}
