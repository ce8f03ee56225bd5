//! One module per command group; each function makes one call of core's use-case API
//! ([`App`]) and prints its result.

mod areas;
mod auth;
mod autostart;
mod connect;
mod engine;
mod recipes;
mod services;
mod tray;
mod user;

use std::sync::Arc;

use area_core::app::{ApiError, App, Startup};

use crate::cli::{Cli, Command, DatabaseCommand, OnOff};
use crate::notifier::DaemonNotifier;
use crate::output::Output;

/// A command's failure, printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Core's error, in the words of the command line.
    #[error("{}", .0.cli_text())]
    Api(#[from] ApiError),
    #[error("{0}")]
    Message(String),
}

impl CliError {
    /// A plain message error.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }
}

/// Runs the parsed command line on the data and settings `startup` settled.
pub async fn run(cli: Cli, startup: Startup) -> Result<(), CliError> {
    let out = Output { json: cli.json };
    // A server's public address names its webhook URLs: part of the settings the app opens with.
    let startup = match &cli.command {
        Command::Serve { public_url: Some(url), .. } => Startup {
            settings: startup.settings.with(area_core::settings::PUBLIC_URL, url.as_str().trim_end_matches('/')),
            ..startup
        },
        _ => startup,
    };
    // A server or a cluster's worker runs areas of many users on a machine that is none of
    // theirs: the services that act on the device itself are unavailable there.
    let startup = match &cli.command {
        Command::Serve { .. } | Command::Worker => {
            Startup { settings: startup.settings.with(area_core::settings::SHARED_SERVER, "1"), ..startup }
        }
        _ => startup,
    };
    if let Command::Tray { app } = cli.command {
        return tray::run(startup, app, out).await;
    }
    let app = App::open_without_engine(startup, Arc::new(DaemonNotifier::echoing())).await?;
    let result = match cli.command {
        Command::User(cmd) => user::run(&app, out, cmd).await,
        Command::Login { with: Some(provider), .. } => auth::login_with(&app, out, &provider).await,
        Command::Login { email, password_stdin, .. } => {
            auth::login(&app, out, email.as_deref().unwrap_or_default(), password_stdin).await
        }
        Command::Logout => auth::logout(&app, out).await,
        Command::Whoami => auth::whoami(&app, out).await,
        Command::Passwd { password_stdin } => auth::passwd(&app, out, password_stdin).await,
        Command::Services { id } => services::services(&app, out, id.as_deref()),
        Command::About => services::about(&app),
        Command::Areas(cmd) => areas::run(&app, out, cmd).await,
        Command::Recipes { use_recipe: None, .. } => {
            recipes::list(&app, out);
            Ok(())
        }
        Command::Recipes { use_recipe: Some(id), values } => recipes::create(&app, out, &id, &values).await,
        Command::Connect { service, token_stdin, mail, client_key, label, port } => {
            let how = connect::How { token_stdin, mail: &mail, client_key: &client_key, label: label.as_deref(), port };
            connect::connect(&app, out, &service, how).await
        }
        Command::Connections => connect::list(&app, out).await,
        Command::Disconnect { service } => connect::disconnect(&app, out, &service).await,
        Command::Run { once: true } => engine::run_once(&app, out).await,
        Command::Run { once: false } => {
            Err(CliError::msg("`area run` needs --once (for a long-running engine use `area daemon`)"))
        }
        Command::Daemon { listen } => engine::daemon(&app, out, listen).await,
        Command::Worker => engine::worker(&app, out).await,
        Command::Tray { .. } => Ok(()),
        Command::Autostart { state } => autostart::run(&app, out, state.map(|s| s == OnOff::On)).await,
        Command::Database(DatabaseCommand::Copy { to }) => engine::copy_database(&app, out, &to).await,
        Command::Serve { listen, public_url, sign_up, trust_forwarded, tls_cert, tls_key } => {
            let config =
                area_server::ServerConfig { trust_forwarded, ..area_server::ServerConfig::new(public_url, sign_up) };
            match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => match area_core::engine::tls::load(&cert, &key) {
                    Ok(tls) => engine::serve(&app, out, listen, config, Some(tls)).await,
                    Err(e) => Err(CliError::msg(e.to_string())),
                },
                _ => engine::serve(&app, out, listen, config, None).await,
            }
        }
        Command::Runs { area, limit } => engine::runs(&app, out, area, limit).await,
        Command::Rerun { run } => engine::rerun(&app, out, run).await,
        Command::Test { area } => engine::send_test(&app, out, area).await,
    };
    app.close().await;
    result
}

/// Prints the authorization address (a server has no browser; a terminal user may prefer to
/// copy it) and opens it in the browser where possible, for what `purpose` says.
pub(crate) fn print_and_open_urls(app: &App, purpose: &str) {
    let browser = app.settings().get(area_core::settings::BROWSER).map(str::to_owned);
    let purpose = purpose.to_owned();
    app.set_url_opener(Arc::new(move |url: &str| {
        eprintln!("To {purpose}, open this address in your browser (waiting up to 5 minutes):\n{url}");
        area_core::app::open_in_browser(url, browser.as_deref());
    }));
}
