//! One module per command group; each function parses nothing and prints its result.

mod areas;
mod auth;
mod connect;
mod engine;
pub(crate) mod oauth;
mod services;
mod user;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::output::Output;

/// A command's failure, printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Core(#[from] area_core::Error),
    #[error("{0}")]
    Message(String),
}

impl CliError {
    /// A plain message error.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }
}

impl From<area_core::accounts::AccountError> for CliError {
    fn from(e: area_core::accounts::AccountError) -> Self {
        CliError::Core(e.into())
    }
}

impl From<area_core::areas::AreaError> for CliError {
    fn from(e: area_core::areas::AreaError) -> Self {
        CliError::Core(e.into())
    }
}

impl From<area_core::connections::ConnectionError> for CliError {
    fn from(e: area_core::connections::ConnectionError) -> Self {
        CliError::Message(e.to_string())
    }
}

impl From<area_core::signin::SignInError> for CliError {
    fn from(e: area_core::signin::SignInError) -> Self {
        CliError::Message(e.to_string())
    }
}

impl From<area_core::store::StoreError> for CliError {
    fn from(e: area_core::store::StoreError) -> Self {
        CliError::Core(e.into())
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Output { json: cli.json };
    let ctx = Context::open(cli.data_dir).await?;
    let result = match cli.command {
        Command::User(cmd) => user::run(&ctx, out, cmd).await,
        Command::Login { with: Some(provider), .. } => auth::login_with(&ctx, out, &provider).await,
        Command::Login { email, password_stdin, .. } => {
            auth::login(&ctx, out, email.as_deref().unwrap_or_default(), password_stdin).await
        }
        Command::Logout => auth::logout(&ctx, out).await,
        Command::Whoami => auth::whoami(&ctx, out).await,
        Command::Passwd { password_stdin } => auth::passwd(&ctx, out, password_stdin).await,
        Command::Services { id } => services::services(&ctx, out, id.as_deref()),
        Command::About => services::about(&ctx, out),
        Command::Areas(cmd) => areas::run(&ctx, out, cmd).await,
        Command::Connect { service, token_stdin, label, port } => {
            connect::connect(&ctx, out, &service, token_stdin, label.as_deref(), port).await
        }
        Command::Connections => connect::list(&ctx, out).await,
        Command::Disconnect { service } => connect::disconnect(&ctx, out, &service).await,
        Command::Run { once: true } => engine::run_once(&ctx, out).await,
        Command::Run { once: false } => {
            Err(CliError::msg("`area run` needs --once (for a long-running engine use `area daemon`)"))
        }
        Command::Daemon { listen } => engine::daemon(&ctx, out, listen).await,
        Command::Runs { area, limit } => engine::runs(&ctx, out, area, limit).await,
        Command::Rerun { run } => engine::rerun(&ctx, out, run).await,
    };
    ctx.store.close().await;
    result
}
