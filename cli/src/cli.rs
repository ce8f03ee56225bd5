//! The command-line grammar (clap derive). Every command and flag has help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Area: personal automation that runs on your own machine.
#[derive(Debug, Parser)]
#[command(name = "area", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Directory holding Area's database and session (default: the platform data directory).
    #[arg(long, global = true, value_name = "DIR", env = "AREA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage local accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Log in; later commands act as this user.
    Login {
        /// The account's email address.
        #[arg(required_unless_present = "with")]
        email: Option<String>,
        /// Sign in with an identity provider instead (github, google); when already logged in,
        /// links that identity to your account.
        #[arg(long, value_name = "PROVIDER", conflicts_with_all = ["email", "password_stdin"])]
        with: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Log out and revoke the session.
    Logout,
    /// Show who is logged in.
    Whoami,
    /// Change your password (other sessions are signed out).
    Passwd {
        /// Read the current password, then the new one, one per line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the services Area offers, or show one service's actions and reactions.
    Services {
        /// A service id (e.g. `rss`) to show its actions, reactions, parameters and ingredients.
        id: Option<String>,
    },
    /// Print about.json (the AREA format: this machine's services, actions and reactions).
    About,
    /// Manage your areas (automations: when an action happens, run reactions).
    #[command(subcommand)]
    Areas(AreasCommand),
    /// Connect a service account: an API key/token (from a no-echo prompt or --token-stdin), or
    /// OAuth2 in the browser. Connecting again replaces the credentials and resumes paused areas.
    Connect {
        /// Service id (see `area services`).
        service: String,
        /// Read the key or token from standard input instead of prompting.
        #[arg(long)]
        token_stdin: bool,
        /// A label for the account (e.g. your login), shown by `area connections`.
        #[arg(long)]
        label: Option<String>,
        /// OAuth2: listen for the browser's redirect on this fixed port (for providers that
        /// compare the redirect URI exactly, port included); default: any free port.
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
    },
    /// Your connected accounts and their status (ok / expires / needs reconnect).
    Connections,
    /// Remove a connection; the areas that use it are paused.
    Disconnect {
        /// Service id, or the shared provider id shown by `area connections` (e.g. google).
        service: String,
    },
    /// Poll every enabled area once, deliver what results, and exit (scripts, cron, tests).
    Run {
        /// Required: a single pass (a long-running engine is `area daemon`).
        #[arg(long)]
        once: bool,
    },
    /// Run every user's enabled areas until SIGINT/SIGTERM, then finish in-flight runs and exit 0.
    Daemon {
        /// Address of the webhook listener (loopback by default); port 0 lets the OS choose.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run history: status, attempts, timings, error (newest first).
    Runs {
        /// Only this area's runs.
        #[arg(long, value_name = "ID")]
        area: Option<i64>,
        /// How many runs to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a failed (or unknown-outcome) run again; a running engine delivers it like a retry.
    Rerun {
        /// The run's id, as `area runs` shows it (`#12`).
        run: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AreasCommand {
    /// Add areas from a JSON area file (one area, or a list of them); prints the new ids.
    Add {
        /// The area file; `-` reads standard input.
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
    },
    /// List your areas: id, name, on/off/paused, and what each does.
    List,
    /// Show one area: its definition, state, last error, run counts (and URL for webhooks).
    Show {
        /// The area id (see `area areas list`).
        id: i64,
    },
    /// Turn an area on; it first records what already exists, so old items do not fire.
    Enable {
        /// The area id.
        id: i64,
    },
    /// Turn an area off.
    Disable {
        /// The area id.
        id: i64,
    },
    /// Delete an area and its run history.
    Rm {
        /// The area id.
        id: i64,
    },
    /// Print an area as JSON; `area areas add --file` re-imports it unchanged.
    Export {
        /// The area id.
        id: i64,
    },
    /// Replace an area's definition from a file (same format as `export`); the cursor is kept
    /// unless the action's parameters change.
    Edit {
        /// The area id.
        id: i64,
        /// The new definition (one area); `-` reads standard input.
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a local account.
    Add {
        /// Email address of the new account.
        email: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List local accounts.
    List,
    /// Delete an account and everything it owns.
    Delete {
        /// Email address of the account to delete.
        email: String,
    },
}
