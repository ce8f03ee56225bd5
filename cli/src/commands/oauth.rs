//! `area connect SERVICE` for OAuth2 services: the browser flow through a loopback redirect
//! (RFC 8252): Area listens once on 127.0.0.1 with an OS-chosen port, for at most 5 minutes.

use std::time::Duration;

use area_core::catalog::ServiceManifest;
use area_core::connections::{ConnectionError, Connections};
use area_core::oauth::{self, LoopbackListener};

use crate::commands::CliError;
use crate::context::Context;
use crate::output::Output;

/// How long the loopback listener waits for the browser.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn connect(
    _ctx: &Context,
    out: Output,
    connections: &Connections,
    user_id: i64,
    manifest: &ServiceManifest,
    label: Option<&str>,
    port: Option<u16>,
) -> Result<(), CliError> {
    let provider = manifest
        .oauth
        .as_ref()
        .ok_or_else(|| CliError::msg(format!("{} declares OAuth2 but no provider", manifest.name)))?;
    let client = connections.oauth_client(provider.id)?;
    let tokens = browser_flow(&client, &format!("connect {}", manifest.name), port).await?;
    let info = connections.save_tokens(user_id, provider.id, &tokens, label).await?;
    out.print(&info, || {
        format!("connected {} ({}, shared by every {} service)", manifest.name, info.status, provider.id)
    });
    Ok(())
}

/// Runs the authorization in the user's browser and returns the tokens: loopback listener,
/// authorization URL printed (and opened where possible), one callback, code exchange.
pub async fn browser_flow(
    client: &oauth::OAuthClientConfig,
    purpose: &str,
    port: Option<u16>,
) -> Result<oauth::OAuthTokens, CliError> {
    let listener = LoopbackListener::bind_port(port.unwrap_or(0)).await.map_err(ConnectionError::from)?;
    let (url, pending) = oauth::start(client, &listener.redirect_uri()).map_err(ConnectionError::from)?;
    eprintln!("To {purpose}, open this address in your browser (waiting up to 5 minutes):\n{url}");
    area_core::app::open_in_browser(&url);
    let callback = listener.wait(CALLBACK_TIMEOUT).await.map_err(ConnectionError::from)?;
    Ok(oauth::finish(client, &pending, &callback).await.map_err(ConnectionError::from)?)
}
