//! `mail`: any mailbox over IMAP and SMTP, the protocols Thunderbird and every mail client speak.
//!
//! Decisions:
//! - Auth is the account's password or, better, an app password (Gmail, Outlook.com, iCloud,
//!   Fastmail and Yahoo require one when 2-step verification is on), stored as the `mail`
//!   connection (`area connect mail`) and sent with IMAP `LOGIN` / SMTP `AUTH` inside TLS.
//!   SASL XOAUTH2 is not offered yet.
//! - The servers belong to the connection, not to areas (ARCHITECTURE.md "Trust rules": a
//!   credential goes only where it was given for): `area connect mail` records the user name, the
//!   IMAP server and, for sending, the SMTP server (host, port, security) sealed with the password
//!   ([`crate::connector::MailAccount`]). Areas name only folders, UIDs and messages; an area file
//!   that still names `imap_host`, `smtp_host`, `username`, … fails validation (unknown parameter).
//!   The password is released only for a server the connection records ([`connection_password`]),
//!   so nothing an area or an ingredient says can send it elsewhere.
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
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::*;
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "mail";
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
    Service::new(manifest(), actions, reactions)
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
        auth: AuthKind::MailAccount,
        credential_hosts: vec![],
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
                description: "Sends a plain-text mail through the SMTP submission server of your mail connection \
                              (connect it with an SMTP server).",
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
    let settings = ImapSettings::new(ctx.credential, params, ctx.allow_private_network, ID)?;
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

        let account = mail_account(ctx.credential, ID)?;
        let smtp = account.smtp.as_ref().ok_or_else(|| {
            bad_param(
                "smtp_host",
                "the mail connection has no SMTP server: connect Mail again with one (its SMTP host)",
            )
        })?;
        let security = check_security(smtp.security, ctx.allow_private_network)?;
        let (host, port) = (smtp.host.clone(), smtp.port);
        let username = account.username.clone();
        let password = connection_password(ctx.credential, ID, &host, port)?.to_string();
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
}
