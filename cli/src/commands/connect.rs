//! `area connect|connections|disconnect`: a user's service accounts.

use area_core::catalog::AuthKind;
use area_core::connections::{ConnectionError, Connections, MasterKey, Secret};
use serde_json::json;

use crate::commands::CliError;
use crate::context::Context;
use crate::output::Output;
use crate::secrets;

fn connections(ctx: &Context) -> Result<Connections, CliError> {
    let key = MasterKey::load(ctx.store.dir()).map_err(ConnectionError::from)?;
    Ok(Connections::new(ctx.store.clone(), key, ctx.catalog.clone()))
}

pub async fn connect(
    ctx: &Context,
    out: Output,
    service: &str,
    token_stdin: bool,
    label: Option<&str>,
    port: Option<u16>,
) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    let connections = connections(ctx)?;
    let manifest = connections.service(service)?.clone();
    let connection_id = manifest.connection_id().unwrap_or(manifest.id);
    match manifest.auth {
        AuthKind::ApiKey => {
            let key = if token_stdin {
                secrets::stdin_lines(&["token"])?.remove(0)
            } else {
                secrets::prompt(&format!("{} key or token: ", manifest.name))?
            };
            let info = connections
                .save(user.id, connection_id, &Secret::ApiKey { key: key.trim().to_string() }, label, None)
                .await?;
            out.print(&info, || format!("connected {} ({})", manifest.name, info.status));
            Ok(())
        }
        // Some providers cannot do a loopback redirect (Instagram wants https): an access token
        // made in the provider's dashboard can be pasted instead. It is not renewed.
        AuthKind::OAuth2 if token_stdin => {
            let token = secrets::stdin_lines(&["access token"])?.remove(0);
            let secret = Secret::Oauth2 { access_token: token.trim().to_string(), refresh_token: None, scope: None };
            if token.trim().is_empty() {
                return Err(ConnectionError::EmptySecret.into());
            }
            let info = connections.save(user.id, connection_id, &secret, label, None).await?;
            out.print(&info, || {
                format!("connected {} with an access token (not renewed automatically)", manifest.name)
            });
            Ok(())
        }
        AuthKind::OAuth2 => {
            crate::commands::oauth::connect(ctx, out, &connections, user.id, &manifest, label, port).await
        }
        AuthKind::None => Err(ConnectionError::NoAuthNeeded(manifest.name.into()).into()),
    }
}

pub async fn list(ctx: &Context, out: Output) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    let list = connections(ctx)?.list(user.id).await?;
    out.print(&list, || {
        if list.is_empty() {
            return "no connections yet: `area connect SERVICE`".into();
        }
        list.iter()
            .map(|c| {
                let label = c.account_label.as_deref().map(|l| format!(" ({l})")).unwrap_or_default();
                let reason = c.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
                format!("{}{label}\t{}\t{}{reason}", c.connection_id, c.kind, c.status.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub async fn disconnect(ctx: &Context, out: Output, service: &str) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    let connections = connections(ctx)?;
    // Accept a service id (gmail) as well as the connection id it shares (google).
    let connection_id = ctx
        .catalog
        .service(service)
        .and_then(|s| s.manifest.connection_id())
        .map(str::to_owned)
        .unwrap_or_else(|| service.to_owned());
    connections.remove(user.id, &connection_id).await?;
    out.print(&json!({ "disconnected": connection_id }), || {
        format!("disconnected {connection_id}; areas using it are paused until you connect again")
    });
    Ok(())
}
