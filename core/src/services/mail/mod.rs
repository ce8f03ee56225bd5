//! Mail: the [`mail`] service (any mailbox over IMAP and SMTP), [`outlook`] (Outlook.com over
//! IMAP and SMTP with SASL XOAUTH2), [`vinted`] (alert mails read from a mailbox) and
//! [`thunderbird`] (listed, unavailable), and what they share — the mail
//! connection's servers and password ([`MailAccountInput`], [`connection_password`]), IMAP and
//! SMTP connections through the SSRF guard, checking a folder for new messages
//! ([`check_folder`]) and decoding messages ([`parse_mail`]). See [`mail`] for the decisions.

#[allow(clippy::module_inception)]
pub mod mail;
pub mod outlook;
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
use crate::connector::{MailAccount, MailAuth, MailServer};

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
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type, schemars::JsonSchema,
)]
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
        Ok(MailAccount { username: username.to_string(), imap, smtp, auth: MailAuth::Password })
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
    /// How to log in: `LOGIN` with the password, or SASL XOAUTH2 with an access token.
    pub auth: MailAuth,
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
            auth: account.auth,
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
    let login = match settings.auth {
        MailAuth::Password => client.login(&settings.username, password).await,
        // With SASL-IR (RFC 4959) the whole exchange is one line, as Gmail and Outlook.com accept.
        MailAuth::XOAuth2 => {
            let initial =
                base64_std(format!("user={}\x01auth=Bearer {password}\x01\x01", settings.username).as_bytes());
            client.authenticate(format!("XOAUTH2 {initial}"), XOAuth2Refused).await
        }
    };
    match login {
        Ok(session) => Ok(session),
        // RFC 5530: `[UNAVAILABLE]` is a temporary server problem, not refused credentials.
        Err((async_imap::error::Error::No(message), _)) if message.to_ascii_uppercase().contains("UNAVAILABLE") => Err(
            ConnectorError::Net(NetError::Connect(format!("IMAP server {} is temporarily unavailable", settings.host))),
        ),
        Err((async_imap::error::Error::No(_), _)) => Err(ConnectorError::AuthExpired { service: service.into() }),
        Err((e, _)) => Err(imap_error(settings, e)),
    }
}

/// Answers an XOAUTH2 error challenge (a JSON status the server sends instead of accepting the
/// token) with the empty response the protocol asks for; the server then says `NO`.
struct XOAuth2Refused;

impl async_imap::Authenticator for XOAuth2Refused {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Self::Response {
        Vec::new()
    }
}

/// The fixed servers of a mail provider reached with OAuth2 (SASL XOAUTH2) instead of a password.
#[derive(Debug, Clone)]
pub(crate) struct OAuthMailServers {
    pub imap: MailServer,
    pub smtp: MailServer,
}

/// The mail credential of an OAuth2 connection to a provider with fixed servers: the access token
/// is the secret, the account its sign-in named is the login, and only these servers may receive
/// it. A connection whose sign-in named no account must be made again.
pub(crate) fn oauth_mail_credential(
    credential: Option<&Credential>,
    servers: &OAuthMailServers,
    service: &str,
) -> Result<Credential, ConnectorError> {
    match credential {
        Some(Credential::OAuth2 { access_token, account: Some(account) }) => Ok(Credential::Mail {
            password: access_token.clone(),
            account: MailAccount {
                username: account.clone(),
                imap: servers.imap.clone(),
                smtp: Some(servers.smtp.clone()),
                auth: MailAuth::XOAuth2,
            },
        }),
        _ => Err(ConnectorError::AuthExpired { service: service.into() }),
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

// ---------------------------------------------------------------------------------------------
// What the mail services' actions and reactions share: new messages as events, sending

/// Bytes of each message fetched by `new_message` (headers + the start of the body).
pub const MAIL_FETCH_BYTES: usize = 64 * 1024;
/// Longest snippet, in characters.
pub const SNIPPET_CHARS: usize = 500;

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

/// The `new_message` trigger of a mail service: the folder, optional sender and subject filters,
/// and one ingredient per decoded header.
pub(crate) fn new_message_manifest(description: &'static str) -> ActionManifest {
    let mut params = imap_param_specs(false);
    params.push(
        ParamSpec::new(
            "from_contains",
            "From contains",
            "Only messages whose sender name or address contains this text (case-insensitive).",
            ParamType::String,
        )
        .optional(None),
    );
    params.push(
        ParamSpec::new(
            "subject_contains",
            "Subject contains",
            "Only messages whose subject contains this text (case-insensitive).",
            ParamType::String,
        )
        .optional(None),
    );
    ActionManifest {
        id: "new_message",
        name: "New message in a folder",
        description,
        params,
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
    }
}

/// The `send` reaction of a mail service: a plain-text message from, to, subject, body.
pub(crate) fn send_manifest(description: &'static str) -> ReactionManifest {
    ReactionManifest {
        id: "send",
        name: "Send a mail",
        description,
        params: vec![
            ParamSpec::new("from", "From", "Sender, e.g. Ada <ada@example.com>.", ParamType::String),
            ParamSpec::new(
                "to",
                "To",
                "Recipients, comma-separated; may use ingredients, each giving one address.",
                ParamType::String,
            )
            .templated_as(TextContext::AddressList),
            ParamSpec::new("subject", "Subject", "May use ingredients.", ParamType::String)
                .templated_as(TextContext::Header),
            ParamSpec::new("body", "Body", "Plain text; may use ingredients.", ParamType::String)
                .optional(Some(json!("")))
                .templated(),
        ],
    }
}

/// Waits in IMAP IDLE (RFC 2177) on the area's folder until the server reports a change
/// (`EXISTS`, `EXPUNGE`…) or `max_wait` passes: the `wait_for_change` of mail actions. A folder
/// that already holds messages past the cursor (`UIDNEXT`) is a change at once. A server without
/// the IDLE capability gets [`SourceWait::Unsupported`] (the interval polls it).
pub(crate) async fn idle_wait(
    ctx: &FetchContext<'_>,
    service: &str,
    max_wait: Duration,
) -> Result<SourceWait, ConnectorError> {
    let settings = ImapSettings::new(ctx.credential, ctx.params, ctx.allow_private_network, service)?;
    let mut session = bounded(imap_login(&settings, ctx.credential, service)).await?;
    let capabilities = bounded(async { session.capabilities().await.map_err(|e| imap_error(&settings, e)) }).await?;
    if !capabilities.has_str("IDLE") {
        let _ = session.logout().await;
        return Ok(SourceWait::Unsupported);
    }
    drop(capabilities);
    let (uidvalidity, uid_next) = bounded(imap_select(&mut session, &settings, "folder", &settings.folder)).await?;
    // A message that arrived since the last check (before this IDLE began) would not be
    // signalled: the folder's UIDNEXT says so at once.
    if let Some(seen) = MailCursor::from_value(ctx.cursor) {
        let unseen =
            seen.uidvalidity != uidvalidity || uid_next.is_some_and(|next| next > seen.last_uid.saturating_add(1));
        if unseen {
            let _ = session.logout().await;
            return Ok(SourceWait::Changed);
        }
    }
    let mut idle = session.idle();
    bounded(async { idle.init().await.map_err(|e| imap_error(&settings, e)) }).await?;
    let seen = {
        let (wait, _interrupt) = idle.wait_with_timeout(max_wait);
        // Keep-alives restart the library's timer: this bounds the whole wait.
        match tokio::time::timeout(max_wait + CONNECT_TIMEOUT, wait).await {
            Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(_))) => SourceWait::Changed,
            Ok(Ok(_)) | Err(_) => SourceWait::Quiet,
            Ok(Err(e)) => return Err(imap_error(&settings, e)),
        }
    };
    if let Ok(Ok(mut session)) = tokio::time::timeout(CONNECT_TIMEOUT, idle.done()).await {
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, session.logout()).await;
    }
    Ok(seen)
}

/// The new messages of the area's folder as events, filtered by `from_contains` /
/// `subject_contains`: the body of `new_message` actions.
pub(crate) async fn new_messages(ctx: &FetchContext<'_>, service: &str) -> Result<PollOutput, ConnectorError> {
    let from_contains = opt_str(ctx.params, "from_contains");
    let subject_contains = opt_str(ctx.params, "subject_contains");
    let check = check_folder(ctx, service, MAIL_FETCH_BYTES).await?;
    let folder = opt_str(ctx.params, "folder").unwrap_or("INBOX");
    let events = check
        .messages
        .iter()
        .map(|m| message_event(check.uidvalidity, m.uid, folder, &m.raw))
        .filter(|e| matches_filters(e, from_contains, subject_contains))
        .collect();
    Ok(PollOutput { events, cursor: Some(check.cursor) })
}

fn mailbox_param(id: &str, value: &str) -> Result<lettre::message::Mailbox, ConnectorError> {
    no_line_breaks(id, value)?
        .trim()
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| bad_param(id, format!("not a valid address ({e}): {value:?}")))
}

fn smtp_error(service: &str, settings_host: &str, e: lettre::transport::smtp::Error) -> ConnectorError {
    let code = e.status().map(|c| c.to_string());
    if matches!(code.as_deref(), Some("535" | "534" | "530")) {
        return ConnectorError::AuthExpired { service: service.into() };
    }
    if e.is_timeout() {
        return ConnectorError::Net(NetError::Timeout { after: CONNECT_TIMEOUT });
    }
    let message = truncate_chars(&format!("SMTP server {settings_host}: {e}"), 300);
    if e.is_permanent() {
        ConnectorError::BadResponse { service: service.into(), message }
    } else {
        // Transient (4xx) answers, lost connections, TLS failures: worth another try.
        ConnectorError::Net(NetError::Connect(message))
    }
}

/// Runs `work` within [`OVERALL_TIMEOUT`].
pub(crate) async fn bounded<T>(
    work: impl std::future::Future<Output = Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    tokio::time::timeout(OVERALL_TIMEOUT, work)
        .await
        .unwrap_or(Err(ConnectorError::Net(NetError::Timeout { after: OVERALL_TIMEOUT })))
}

/// Sends one message through the SMTP server of `credential` (a mail connection's, or one made
/// for an OAuth2 provider's servers by [`oauth_mail_credential`]): the body of `send` reactions.
pub(crate) async fn send_mail(
    ctx: &ReactionContext<'_>,
    credential: Option<&Credential>,
    params: &Params,
    service: &str,
) -> Result<ReactionOutput, ConnectorError> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let account = mail_account(credential, service)?;
    let smtp = account.smtp.as_ref().ok_or_else(|| {
        bad_param("smtp_host", "the mail connection has no SMTP server: connect Mail again with one (its SMTP host)")
    })?;
    let security = check_security(smtp.security, ctx.allow_private_network)?;
    let (host, port) = (smtp.host.clone(), smtp.port);
    let username = account.username.clone();
    let password = connection_password(credential, service, &host, port)?.to_string();
    let mechanisms = match account.auth {
        MailAuth::Password => vec![Mechanism::Plain, Mechanism::Login],
        MailAuth::XOAuth2 => vec![Mechanism::Xoauth2],
    };
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
            .authentication(mechanisms)
            .timeout(Some(CONNECT_TIMEOUT))
            .build();
        let response = transport.send(message).await.map_err(|e| smtp_error(service, &host, e))?;
        Ok(ReactionOutput { summary: format!("sent to {recipients} recipient(s), SMTP {}", response.code()) })
    })
    .await
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
