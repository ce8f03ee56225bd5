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
        email: String,
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
