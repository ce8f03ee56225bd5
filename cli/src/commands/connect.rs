//! `area connect|connections|disconnect`: a user's service accounts.

use area_core::app::{App, OAuthOptions};
use area_core::catalog::{AuthKind, ServiceManifest};
use area_core::connector::MailAccount;
use area_core::services::mail::MailAccountInput;
use serde_json::json;

use crate::cli::{ClientKeyArgs, MailArgs};
use crate::commands::CliError;
use crate::output::Output;
use crate::secrets;

/// How `area connect` was asked to connect: the flags beside the service id.
pub struct How<'a> {
    pub token_stdin: bool,
    pub mail: &'a MailArgs,
    pub client_key: &'a ClientKeyArgs,
    pub label: Option<&'a str>,
    pub port: Option<u16>,
}

pub async fn connect(app: &App, out: Output, service: &str, how: How<'_>) -> Result<(), CliError> {
    let How { token_stdin, mail, client_key, label, port } = how;
    let manifest = app.connectable(service)?;
    // Logged in first: nobody is asked for a secret that cannot be stored.
    app.current_user().await?;
    if mail.given() && manifest.auth != AuthKind::MailAccount {
        return Err(CliError::msg(format!(
            "--username, --imap-* and --smtp-* are for mail accounts (mail, vinted), not {}",
            manifest.name
        )));
    }
    if client_key.given() && manifest.auth != AuthKind::ClientKey {
        return Err(CliError::msg(format!(
            "--redirect-uri, --client-id and --code are for services authorized with a certificate (revolut), not {}",
            manifest.name
        )));
    }
    match manifest.auth {
        AuthKind::ClientKey => connect_client_key(app, out, &manifest, client_key, label).await?,
        AuthKind::MailAccount => {
            let input = MailAccountInput {
                username: mail.username.clone().unwrap_or_default(),
                imap_host: mail.imap_host.clone().unwrap_or_default(),
                imap_port: mail.imap_port,
                imap_security: mail.imap_security.clone(),
                smtp_host: mail.smtp_host.clone(),
                smtp_port: mail.smtp_port,
                smtp_security: mail.smtp_security.clone(),
            };
            // The flags are checked before the password is asked for.
            let account = input.account().map_err(|e| {
                CliError::msg(format!(
                    "{e} (connect with `area connect {} --username LOGIN --imap-host HOST [--smtp-host HOST]`)",
                    manifest.id
                ))
            })?;
            let password = if token_stdin {
                secrets::stdin_lines(&["password"])?.remove(0)
            } else {
                secrets::prompt(&format!("{} password for {}: ", manifest.name, account.username))?
            };
            let info = app.connect_mail(service, &input, &password, label).await?;
            out.print(&info, || {
                let servers = describe_servers(&account);
                format!("connected {} ({}); the password is only sent to {servers}", manifest.name, info.status)
            });
        }
        AuthKind::ApiKey => {
            let key = if token_stdin {
                secrets::stdin_lines(&["token"])?.remove(0)
            } else {
                secrets::prompt(&format!("{} key or token: ", manifest.name))?
            };
            let info = app.connect_token(service, &key, label).await?;
            let checked = app.services().iter().any(|s| s.manifest.id == manifest.id && s.checks_token);
            out.print(&info, || match (checked, &info.account_label) {
                (true, Some(account)) => format!("connected {} as {account} (token checked)", manifest.name),
                (true, None) => format!("connected {} (token checked)", manifest.name),
                (false, _) => format!("saved {0}, not checked: {0} offers no way to check a token", manifest.name),
            });
        }
        // Some providers cannot do a loopback redirect (Instagram wants https): an access token
        // made in the provider's dashboard can be pasted instead. It is not renewed.
        AuthKind::OAuth2 if token_stdin => {
            let token = secrets::stdin_lines(&["access token"])?.remove(0);
            let info = app.connect_token(service, &token, label).await?;
            out.print(&info, || {
                format!("connected {} with an access token (not renewed automatically)", manifest.name)
            });
        }
        AuthKind::OAuth2 => {
            crate::commands::print_and_open_urls(app, &format!("connect {}", manifest.name));
            let options = OAuthOptions { port, label: label.map(str::to_owned), ..OAuthOptions::default() };
            let info = app.connect_oauth_with(service, options).await?;
            let provider = manifest.oauth.as_ref().map_or(manifest.id, |p| p.id);
            out.print(&info, || {
                format!("connected {} ({}, shared by every {provider} service)", manifest.name, info.status)
            });
        }
        // `connectable` refuses services that need no connection.
        AuthKind::None => {}
    }
    Ok(())
}

/// The certificate flow, one step per call: `--redirect-uri` creates the certificate,
/// `--client-id` (with `--code` or a prompt) finishes; with neither, says where the setup stands.
async fn connect_client_key(
    app: &App,
    out: Output,
    manifest: &ServiceManifest,
    args: &ClientKeyArgs,
    label: Option<&str>,
) -> Result<(), CliError> {
    let id = manifest.id;
    if let Some(redirect_uri) = &args.redirect_uri {
        let setup = app.begin_client_key(id, redirect_uri).await?;
        out.print(&setup, || {
            format!(
                "{cert}\nUpload this certificate in {name} (Settings → APIs → Business API → add an API certificate) \
                 with the redirect URI {uri}, then run `area connect {id} --client-id <the client id it shows>`.",
                cert = setup.certificate_pem.trim_end(),
                name = manifest.name,
                uri = setup.redirect_uri,
            )
        });
        return Ok(());
    }
    let Some(client_id) = &args.client_id else {
        let Some(setup) = app.client_key_setup(id).await? else {
            return Err(CliError::msg(format!(
                "{} is authorized with a certificate Area creates: start with `area connect {id} --redirect-uri https://<your domain>/<path>`",
                manifest.name
            )));
        };
        out.print(&setup, || {
            format!(
                "{cert}\n{state} (redirect URI {uri}); next: `area connect {id} --client-id <the client id {name} shows>`",
                cert = setup.certificate_pem.trim_end(),
                state = if setup.authorized { "authorized" } else { "waiting for the authorization" },
                uri = setup.redirect_uri,
                name = manifest.name,
            )
        });
        return Ok(());
    };
    let code = match &args.code {
        Some(code) => code.clone(),
        None => {
            let browser = app.settings().get(area_core::settings::BROWSER).map(str::to_owned);
            let name = manifest.name;
            app.set_url_opener(std::sync::Arc::new(move |url: &str| {
                eprintln!(
                    "To let Area read {name}, open this address, consent, and copy the address it sends you to:\n{url}"
                );
                area_core::app::open_in_browser(url, browser.as_deref());
            }));
            app.client_key_consent(id, client_id).await?;
            secrets::prompt("The address your browser landed on after consenting: ")?
        }
    };
    let info = app.finish_client_key(id, client_id, &code, label).await?;
    out.print(&info, || format!("connected {} ({}); Area renews its access by itself", manifest.name, info.status));
    Ok(())
}

/// `imap.example.com:993 and smtp.example.com:465`, for the confirmation line.
fn describe_servers(account: &MailAccount) -> String {
    let imap = format!("{}:{}", account.imap.host, account.imap.port);
    match &account.smtp {
        Some(smtp) => format!("{imap} and {}:{}", smtp.host, smtp.port),
        None => imap,
    }
}

pub async fn list(app: &App, out: Output) -> Result<(), CliError> {
    let list = app.list_connections().await?;
    out.print(&list, || {
        if list.is_empty() {
            return "no connections yet: `area connect SERVICE`".into();
        }
        list.iter()
            .map(|c| {
                let label = c.account_label.as_deref().map(|l| format!(" ({l})")).unwrap_or_default();
                let reason = c.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
                let planned = c
                    .planned
                    .as_ref()
                    .map(|p| {
                        format!("\tplanned: {} of {} calls {} {}", p.planned, p.limit, p.window.per(), p.counted_per)
                    })
                    .unwrap_or_default();
                format!("{}{label}\t{}\t{}{reason}{planned}", c.connection_id, c.kind, c.status.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub async fn disconnect(app: &App, out: Output, service: &str) -> Result<(), CliError> {
    let connection_id = app.disconnect(service).await?;
    out.print(&json!({ "disconnected": connection_id }), || {
        format!("disconnected {connection_id}; areas using it are paused until you connect again")
    });
    Ok(())
}
