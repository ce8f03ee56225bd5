//! `area login|logout|whoami|passwd`: the session lives in the data directory.

use area_core::app::{App, ProviderSignIn};
use serde_json::json;

use crate::commands::CliError;
use crate::output::Output;
use crate::secrets;

pub async fn login(app: &App, out: Output, email: &str, password_stdin: bool) -> Result<(), CliError> {
    let password =
        if password_stdin { secrets::stdin_lines(&["password"])?.remove(0) } else { secrets::prompt("Password: ")? };
    let signed_in = app.sign_in(email, &password).await?;
    out.print(&signed_in, || format!("logged in as {}", signed_in.user.email));
    Ok(())
}

pub async fn logout(app: &App, out: Output) -> Result<(), CliError> {
    let was = app.sign_out().await?;
    out.print(&json!({ "logged_out": was }), || if was { "logged out".into() } else { "was not logged in".into() });
    Ok(())
}

pub async fn whoami(app: &App, out: Output) -> Result<(), CliError> {
    let user = app.current_user().await?;
    out.print(&user, || user.email.clone());
    Ok(())
}

pub async fn passwd(app: &App, out: Output, password_stdin: bool) -> Result<(), CliError> {
    // Logged in first: nobody is asked for passwords that cannot be used.
    app.current_user().await?;
    let (current, new) = if password_stdin {
        let mut lines = secrets::stdin_lines(&["current password", "new password"])?;
        let new = lines.pop().unwrap_or_default();
        (lines.pop().unwrap_or_default(), new)
    } else {
        (secrets::prompt("Current password: ")?, secrets::prompt_new("New password: ")?)
    };
    let user = app.change_password(&current, &new).await?;
    out.print(&json!({ "changed": true, "user": user }), || {
        format!("password changed for {}; other sessions were signed out", user.email)
    });
    Ok(())
}

pub async fn login_with(app: &App, out: Output, provider_id: &str) -> Result<(), CliError> {
    crate::commands::print_and_open_urls(app, &format!("sign in with {provider_id}"));
    match app.sign_in_with(provider_id).await? {
        ProviderSignIn::SignedIn(user) => {
            out.print(&json!({ "user": user, "provider": provider_id }), || {
                format!("logged in as {} with {provider_id}", user.email)
            });
        }
        ProviderSignIn::Linked(user) => {
            out.print(&json!({ "linked": provider_id, "user": user }), || {
                format!("linked your {provider_id} identity to {}", user.email)
            });
        }
    }
    Ok(())
}
