//! `mail`: any mailbox over IMAP and SMTP, the protocols Thunderbird and every mail client speak.
//!
//! Decisions:
//! - Auth is the account's password or, better, an app password (Gmail, Outlook.com, iCloud,
//!   Fastmail and Yahoo require one when 2-step verification is on), stored as the `mail`
//!   connection (`area connect mail`) and sent with IMAP `LOGIN` / SMTP `AUTH` inside TLS.
//!   Outlook.com refuses passwords: its mailboxes are the `outlook` service (SASL XOAUTH2).
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
//! - `new_message` is a fetched action, checked every area interval and, when the server offers
//!   IMAP IDLE (RFC 2177), as soon as the server reports a change: the engine keeps one watcher
//!   connection per area idling on the folder ([`super::idle_wait`], re-issued every 25 minutes,
//!   retried with backoff when it drops) and brings the check forward; the check itself stays the
//!   only judge of what is new, so IDLE changes latency (about half a second against the local
//!   test server, instead of up to the interval), never what fires. `SELECT`
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
pub use super::{matches_filters, message_event, MAIL_FETCH_BYTES, SNIPPET_CHARS};

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
        actions: vec![new_message_manifest(
            "Fires when a message arrives in an IMAP folder, optionally only from a sender or with a subject: at \
             once when the server offers IMAP IDLE, else at the next check (every area interval); at most 50 new \
             messages are read per check.",
        )],
        reactions: vec![
            send_manifest(
                "Sends a plain-text mail through the SMTP submission server of your mail connection (connect it \
                 with an SMTP server).",
            ),
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

/// `mail.new_message`.
pub struct NewMessage;

#[async_trait]
impl FetchedAction for NewMessage {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        new_messages(ctx, ID).await
    }

    async fn wait_for_change(
        &self,
        ctx: &FetchContext<'_>,
        max_wait: std::time::Duration,
    ) -> Result<SourceWait, ConnectorError> {
        idle_wait(ctx, ID, max_wait).await
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

#[async_trait]
impl Reaction for SendMail {
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        send_mail(ctx, ctx.credential, params, ID).await
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
