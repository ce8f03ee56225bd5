//! The command-line grammar (clap derive). Every command and flag has help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Area: personal automation that runs on your own machine.
#[derive(Debug, Parser)]
#[command(name = "area", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Directory holding Area's database and session (default: AREA_DATA_DIR, else the platform
    /// data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the data lives: a PostgreSQL server (postgres://user@host/db) shared by several
    /// Area processes, or `sqlite` for the embedded database in the data directory (default:
    /// AREA_DATABASE_URL, else embedded).
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
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
    /// Ready-made areas: list them, or create one from a recipe with the values it asks for.
    Recipes {
        /// A recipe's id (as the list shows it) to create an area from it.
        #[arg(long = "use", value_name = "ID")]
        use_recipe: Option<String>,
        /// The values the recipe asks for, in the order the list shows them.
        #[arg(requires = "use_recipe")]
        values: Vec<String>,
    },
    /// Connect a service account: an API key/token (from a no-echo prompt or --token-stdin), or
    /// OAuth2 in the browser. Mail accounts (mail, vinted) also take their servers and user
    /// name as flags: the password is only ever sent to those servers. Connecting again
    /// replaces the credentials and resumes paused areas.
    Connect {
        /// Service id (see `area services`).
        service: String,
        /// Read the key, token or password from standard input instead of prompting.
        #[arg(long, visible_alias = "password-stdin")]
        token_stdin: bool,
        #[command(flatten)]
        mail: Box<MailArgs>,
        #[command(flatten)]
        client_key: ClientKeyArgs,
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
    /// Run the engine without any listener, as one of several processes sharing a PostgreSQL
    /// database (--database): polls and queued runs are shared out through it; webhooks reach
    /// `area serve`. Until SIGINT/SIGTERM, then finish in-flight runs and exit 0.
    Worker,
    /// Run the engine with a tray icon until Quit (or SIGINT/SIGTERM): the desktop app's
    /// background half. Its menu opens the window (the app, a process of its own), pauses or
    /// resumes every area, and quits; no web view is loaded while the window is closed.
    Tray {
        /// The desktop app to start for "Open Area" (default: `area-app` beside this command,
        /// else on PATH).
        #[arg(long, value_name = "PATH")]
        app: Option<PathBuf>,
    },
    /// Start Area (`area tray` on this data directory: the engine with its tray icon) when you
    /// log in to your desktop, or stop doing so; without on/off, show what is set. Off until you
    /// turn it on.
    Autostart {
        #[arg(value_enum)]
        state: Option<OnOff>,
    },
    /// The database itself: copy this data directory's embedded one into PostgreSQL.
    #[command(subcommand)]
    Database(DatabaseCommand),
    /// Serve Area to many users: the engine, the JSON API under /api, webhooks at
    /// /hooks/<token> and /about.json, on one port, until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on; port 0 lets the OS choose.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The address users reach the server at (https://area.example.com): webhook URLs name
        /// it, and an https one makes session cookies Secure.
        #[arg(long, value_name = "URL")]
        public_url: Option<url::Url>,
        /// Who may create an account: open, invite (an administrator's code) or closed. The
        /// first account can always be created and administers the server.
        #[arg(long, value_name = "POLICY", default_value = "invite")]
        sign_up: area_core::app::SignUp,
        /// Behind one reverse proxy: take the client's address from the last X-Forwarded-For
        /// entry (for sign-in throttling) instead of the proxy's.
        #[arg(long)]
        trust_forwarded: bool,
        /// Serve https directly: the certificate chain (PEM, leaf first). Needs --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM). Needs --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
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
    /// Run an area's reactions once with a sample event (the action's newest item, or example
    /// values), to see what they do without waiting for a new item.
    Test {
        /// The area's id, as `area areas list` shows it.
        area: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AreasCommand {
    /// Add areas from a JSON area file (one area, or a list of them). An area file is untrusted:
    /// its areas are created switched off unless `--enable` is given, and each is described in
    /// plain words (where it reads from, which hosts it sends to, which connections it uses).
    /// Secret parameters (HTTP headers, webhook URLs) are sealed; a file exported by Area holds
    /// `<secret: NAME>` placeholders instead, and each one is asked for with a no-echo prompt.
    Add {
        /// The area file; `-` reads standard input.
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
        /// Switch the new areas on at once (a file's own `"enabled": false` still keeps one off).
        #[arg(long)]
        enable: bool,
        /// Grant the `allow_private_network` the file asks for (letting its requests reach this
        /// machine and your local network); without it such a file is refused.
        #[arg(long)]
        allow_private_network: bool,
        /// Grant the permission the file gives itself to run a program on this computer (its
        /// `allow`); without it such a file is refused. Read what the file runs first.
        #[arg(long)]
        allow_programs: bool,
        /// Read the value of each `<secret: …>` placeholder from standard input, one per line in
        /// file order, instead of prompting (never give secrets as arguments).
        #[arg(long)]
        secrets_stdin: bool,
    },
    /// List your areas: id, name, on/off/paused, and what each does.
    List,
    /// Show one area: what it reads and sends where, its definition, state, last error, run
    /// counts (and URL for webhooks).
    Show {
        /// The area id (see `area areas list`).
        id: i64,
    },
    /// Turn an area on; it first records what already exists, so old items do not fire. An area
    /// that was off is described first (where it reads from, sends to, which connections it uses).
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
    /// Print an area as JSON; secret parameters are `<secret: NAME>` placeholders, so the output
    /// can be shared; `area areas add --file` re-imports it, asking for each secret.
    Export {
        /// The area id.
        id: i64,
    },
    /// Replace an area's definition from a file (same format as `export`); the cursor is kept
    /// unless the action's parameters change. A `<secret: NAME>` placeholder left as exported
    /// keeps the stored secret; a new one is asked for.
    Edit {
        /// The area id.
        id: i64,
        /// The new definition (one area); `-` reads standard input.
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
        /// Read the value of each secret still needed from standard input, one per line.
        #[arg(long)]
        secrets_stdin: bool,
        /// Grant the `allow_private_network` the file asks for when the area did not have it yet;
        /// without it such a file is refused.
        #[arg(long)]
        allow_private_network: bool,
    },
}

/// A switch's two positions, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum DatabaseCommand {
    /// Copy everything in this data directory's embedded database (users, areas, seen items,
    /// history, sealed connections) into an empty PostgreSQL database, to run a cluster on it
    /// (stop `area serve` / `area daemon` first). The cluster's processes then need this
    /// directory's master key: its `master.key` file, or the AREA_MASTER_KEY it ran with.
    Copy {
        /// The empty PostgreSQL database (postgres://user@host/db).
        #[arg(long, value_name = "URL")]
        to: String,
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
    /// Create a single-use invitation for an Area server whose sign-up is invite-only (run
    /// while logged in as its administrator, the first account); share the printed link.
    Invite {
        /// The server's public address, to print the link to open (https://area.example.com).
        #[arg(long, value_name = "URL")]
        public_url: Option<url::Url>,
    },
}

/// The servers and login of a mail connection (`area connect mail|vinted`); not secrets, so
/// flags. The password comes from the no-echo prompt or `--password-stdin`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MailArgs {
    /// Mail accounts: the login, usually your e-mail address.
    #[arg(long, value_name = "LOGIN")]
    pub username: Option<String>,
    /// Mail accounts: the IMAP server, e.g. imap.gmail.com.
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,
    /// Mail accounts: the IMAP port (default 993 with tls, 143 otherwise).
    #[arg(long, value_name = "PORT")]
    pub imap_port: Option<u16>,
    /// Mail accounts: tls (default), starttls, or plain (local test servers only).
    #[arg(long, value_name = "MODE")]
    pub imap_security: Option<String>,
    /// Mail accounts: the SMTP submission server, e.g. smtp.gmail.com (needed to send mail).
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// Mail accounts: the SMTP port (default 465 with tls, 587 with starttls, 25 with plain).
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// Mail accounts: tls, starttls or plain (default: the IMAP one).
    #[arg(long, value_name = "MODE")]
    pub smtp_security: Option<String>,
}

/// The steps of a connection authorized with a certificate Area creates (`area connect
/// revolut`): none of these is a secret (the code is single-use and short-lived).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientKeyArgs {
    /// Certificate services (revolut): create the key and the certificate to upload, for this
    /// https redirect URI (on a domain you control; nothing needs to be served there).
    #[arg(long, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// Certificate services: the client id the provider showed for the uploaded certificate;
    /// opens the consent page, then asks for the address the browser landed on.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Certificate services: the address the browser landed on after consenting (or its code),
    /// instead of being asked for it.
    #[arg(long, value_name = "URL", requires = "client_id")]
    pub code: Option<String>,
}

impl ClientKeyArgs {
    /// Whether any certificate flag was given.
    pub fn given(&self) -> bool {
        self.redirect_uri.is_some() || self.client_id.is_some() || self.code.is_some()
    }
}

impl MailArgs {
    /// Whether any mail flag was given (they only make sense for mail accounts).
    pub fn given(&self) -> bool {
        self.username.is_some()
            || self.imap_host.is_some()
            || self.imap_port.is_some()
            || self.imap_security.is_some()
            || self.smtp_host.is_some()
            || self.smtp_port.is_some()
            || self.smtp_security.is_some()
    }
}
