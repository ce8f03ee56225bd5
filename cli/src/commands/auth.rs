//! `area login|logout|whoami|passwd`: the session lives in the data directory.

use serde_json::json;

use crate::commands::CliError;
use crate::context::Context;
use crate::output::Output;
use crate::secrets;

pub async fn login(ctx: &Context, out: Output, email: &str, password_stdin: bool) -> Result<(), CliError> {
    let password =
        if password_stdin { secrets::stdin_lines(&["password"])?.remove(0) } else { secrets::prompt("Password: ")? };
    let session = ctx.accounts.login(email, &password).await?;
    // Replacing a previous session: revoke it so it does not linger in the store.
    if let Some(old) = ctx.saved_token() {
        let _ = ctx.accounts.logout(&old).await;
    }
    ctx.save_token(&session.token)?;
    out.print(&json!({ "user": session.user, "expires_at": session.expires_at }), || {
        format!("logged in as {}", session.user.email)
    });
    Ok(())
}

pub async fn logout(ctx: &Context, out: Output) -> Result<(), CliError> {
    let token = ctx.saved_token();
    if let Some(token) = &token {
        ctx.accounts.logout(token).await?;
    }
    ctx.forget_token();
    out.print(&json!({ "logged_out": token.is_some() }), || {
        if token.is_some() {
            "logged out".into()
        } else {
            "was not logged in".into()
        }
    });
    Ok(())
}

pub async fn whoami(ctx: &Context, out: Output) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    out.print(&user, || user.email.clone());
    Ok(())
}

pub async fn passwd(ctx: &Context, out: Output, password_stdin: bool) -> Result<(), CliError> {
    let (token, user) = ctx.current_user().await?;
    let (current, new) = if password_stdin {
        let mut lines = secrets::stdin_lines(&["current password", "new password"])?;
        let new = lines.pop().unwrap_or_default();
        (lines.pop().unwrap_or_default(), new)
    } else {
        (secrets::prompt("Current password: ")?, secrets::prompt_new("New password: ")?)
    };
    ctx.accounts.change_password(&token, &current, &new).await?;
    out.print(&json!({ "changed": true, "user": user }), || {
        format!("password changed for {}; other sessions were signed out", user.email)
    });
    Ok(())
}

pub async fn login_with(ctx: &Context, out: Output, provider_id: &str) -> Result<(), CliError> {
    use area_core::connections::ConnectionError;
    use area_core::signin::{self, SignInOutcome};

    let provider = signin::provider(provider_id)?;
    let scopes = provider.oauth.scopes.iter().map(|s| s.to_string()).collect();
    let client =
        area_core::oauth::OAuthClientConfig::from_env(&provider.oauth, scopes).map_err(ConnectionError::from)?;
    let tokens = crate::commands::oauth::browser_flow(&client, &format!("sign in with {provider_id}"), None).await?;
    let http = area_core::net::HttpClient::new(area_core::net::NetConfig::from_env())
        .map_err(|e| CliError::msg(e.to_string()))?;
    let identity = signin::fetch_identity(&http, &provider, &tokens.access_token).await?;
    let current = ctx.current_user().await.ok().map(|(_, user)| user);
    match signin::sign_in(&ctx.accounts, &identity, current.as_ref()).await? {
        SignInOutcome::SignedIn(session) | SignInOutcome::Created(session) => {
            if let Some(old) = ctx.saved_token() {
                let _ = ctx.accounts.logout(&old).await;
            }
            ctx.save_token(&session.token)?;
            out.print(&json!({ "user": session.user, "provider": provider_id }), || {
                format!("logged in as {} with {provider_id}", session.user.email)
            });
        }
        SignInOutcome::Linked(user) => {
            out.print(&json!({ "linked": provider_id, "user": user }), || {
                format!("linked your {provider_id} identity to {}", user.email)
            });
        }
    }
    Ok(())
}
