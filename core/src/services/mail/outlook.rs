//! `outlook`: Outlook.com (and Microsoft 365) mail over IMAP and SMTP, signed in with Microsoft
//! instead of a password.
//!
//! Decisions:
//! - Outlook.com, Hotmail and Live accounts refuse passwords (basic authentication) on IMAP and
//!   SMTP for third-party apps, so the `mail` service cannot reach them. This service signs in
//!   with the Microsoft identity platform (OAuth2, provider `outlook`, tenant `common`: personal
//!   and work accounts) for the scopes `IMAP.AccessAsUser.All` and `SMTP.Send` of
//!   `https://outlook.office.com`, plus `openid email offline_access`, and logs in with SASL
//!   XOAUTH2 (`user=<address>^Aauth=Bearer <token>^A^A`, sent with SASL-IR on IMAP and as
//!   `AUTH XOAUTH2` on SMTP). It is its own connection, not Teams' `microsoft` one: a Microsoft
//!   token is for one resource (Graph or Outlook), and Teams needs a work account.
//! - The address to log in as is the one the sign-in's ID token names (`email`, else
//!   `preferred_username`), kept with the connection; the access token lasts about an hour and
//!   the engine refreshes it like any OAuth2 connection.
//! - The servers are Microsoft's documented ones — IMAP `outlook.office365.com:993` (TLS), SMTP
//!   `smtp-mail.outlook.com:587` (STARTTLS) — and the token is released to them only. Tests (or a
//!   proxy) point elsewhere with `AREA_OUTLOOK_IMAP_URL` / `AREA_OUTLOOK_SMTP_URL`
//!   (`imaps://host:port`, `imap+starttls://…` or `imap://…` for a plain local server; `smtps`,
//!   `smtp+starttls`, `smtp` likewise).
//! - Everything else — checking a folder, events, filters, sending — is the mail family's shared
//!   code (`services::mail`), so this service behaves exactly like `mail`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    idle_wait, new_message_manifest, new_messages, oauth_mail_credential, send_mail, send_manifest, OAuthMailServers,
};
use crate::connector::{MailSecurity, MailServer};
use crate::services::kit::prelude::*;

/// The service id, as used in area files (and the OAuth2 provider id: `AREA_OUTLOOK_CLIENT_ID`).
pub const ID: &str = "outlook";
/// Microsoft's documented IMAP server for Outlook.com and Microsoft 365.
pub const IMAP_URL: &str = "imaps://outlook.office365.com:993";
/// Microsoft's documented SMTP submission server for Outlook.com.
pub const SMTP_URL: &str = "smtp+starttls://smtp-mail.outlook.com:587";
/// The scopes the sign-in asks for.
pub const SCOPES: [&str; 5] = [
    "openid",
    "email",
    "offline_access",
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
];

/// The `outlook` service: new messages in a folder, and sending.
pub fn service(settings: &Settings) -> Service {
    let servers = servers(settings);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_message",
        ActionKind::Fetched(Arc::new(NewMessage { servers: servers.clone() }) as Arc<dyn FetchedAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert("send", Arc::new(Send { servers }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

/// The servers, from the settings when overridden (a malformed override falls back to
/// Microsoft's, with a warning, rather than to nothing).
fn servers(settings: &Settings) -> OAuthMailServers {
    let pick = |key: &str, default: &str, proto: &str| {
        settings
            .service(ID, key)
            .and_then(|url| {
                let parsed = server(url, proto);
                if parsed.is_none() {
                    tracing::warn!(setting = key, "ignored a malformed Outlook mail server setting");
                }
                parsed
            })
            .or_else(|| server(default, proto))
            .unwrap_or(MailServer { host: String::new(), port: 0, security: MailSecurity::Tls })
    };
    OAuthMailServers { imap: pick("IMAP_URL", IMAP_URL, "imap"), smtp: pick("SMTP_URL", SMTP_URL, "smtp") }
}

/// `imaps://host:port` → implicit TLS, `imap+starttls://…` → STARTTLS, `imap://…` → plain (which
/// only areas allowed to reach private networks may use); likewise for `smtp`.
fn server(url: &str, proto: &str) -> Option<MailServer> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let security = match scheme.strip_prefix(proto)? {
        "s" => MailSecurity::Tls,
        "+starttls" => MailSecurity::StartTls,
        "" => MailSecurity::Plain,
        _ => return None,
    };
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| MailServer { host: host.to_string(), port, security })
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Outlook.com mail",
        description: "Your Outlook.com, Hotmail or Live mailbox (or a Microsoft 365 one) over IMAP and SMTP, signed \
                      in with Microsoft: react to new messages, send mail. No password: Microsoft refuses them.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["outlook.office365.com", "smtp-mail.outlook.com"],
        oauth: Some(OAuthProvider {
            id: ID,
            auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            scopes: SCOPES.to_vec(),
            extra_auth_params: vec![],
            loopback_host: LoopbackHost::Localhost,
        }),
        availability: Availability::Available,
        actions: vec![new_message_manifest(
            "Fires when a message arrives in a folder of your Outlook.com mailbox, optionally only from a sender \
             or with a subject: at once (IMAP IDLE), the area interval being the fallback; at most 50 new \
             messages per check.",
        )],
        reactions: vec![send_manifest("Sends a plain-text mail from your Outlook.com mailbox.")],
    }
}

/// `outlook.new_message`: the mail family's check of a folder, logged in with XOAUTH2.
pub struct NewMessage {
    servers: OAuthMailServers,
}

#[async_trait]
impl FetchedAction for NewMessage {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        let credential = oauth_mail_credential(ctx.credential, &self.servers, ID)?;
        let ctx = FetchContext { credential: Some(&credential), ..*ctx };
        new_messages(&ctx, ID).await
    }

    async fn wait_for_change(
        &self,
        ctx: &FetchContext<'_>,
        max_wait: std::time::Duration,
    ) -> Result<SourceWait, ConnectorError> {
        let credential = oauth_mail_credential(ctx.credential, &self.servers, ID)?;
        let ctx = FetchContext { credential: Some(&credential), ..*ctx };
        idle_wait(&ctx, ID, max_wait).await
    }
}

/// `outlook.send`: the mail family's sending, logged in with XOAUTH2.
pub struct Send {
    servers: OAuthMailServers,
}

#[async_trait]
impl Reaction for Send {
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let credential = oauth_mail_credential(ctx.credential, &self.servers, ID)?;
        send_mail(ctx, Some(&credential), params, ID).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_say_how_each_server_is_secured() {
        let imap = server(IMAP_URL, "imap").unwrap();
        assert_eq!((imap.host.as_str(), imap.port, imap.security), ("outlook.office365.com", 993, MailSecurity::Tls));
        let smtp = server(SMTP_URL, "smtp").unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.security),
            ("smtp-mail.outlook.com", 587, MailSecurity::StartTls)
        );
        assert_eq!(server("imap://127.0.0.1:1143", "imap").unwrap().security, MailSecurity::Plain);
        assert!(server("smtp://127.0.0.1:25", "imap").is_none());
        assert!(server("imaps://host", "imap").is_none());
        assert!(server("imaps://:993", "imap").is_none());
    }
}
