//! The app facade: the one use-case API every shell calls, as one cheap-to-clone handle.
//!
//! The desktop app, the `area` command (and a later HTTP server mode) call these methods and
//! nothing else: each is a plain async function over the store, accounts, catalog, connections
//! and the engine, returning serde/specta types and an [`ApiError`] the UI can place on a form
//! field. A shell starts with [`bootstrap`] (data directory and settings, read once) and opens
//! the app with what it returns; it then only parses its input and presents results. The session
//! of the signed-in user lives in the data directory, so signing in once serves every shell.

mod access;
mod autostart;
mod bootstrap;
mod cards;
mod database_copy;
mod engine_host;
mod error;
mod form;
mod logging;
mod oauth_flow;
mod oauth_redirect;
mod recipes;
mod sample;
pub mod session;
mod test_send;
mod token_check;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::accounts::{AccountError, Accounts, User};
use crate::areas::{
    default_interval_for, parse_area_file, read_condition, summarize, AreaDetail, AreaStatus, AreaSummary, Areas,
    ImportOptions, ImportedArea, TrustSummary, DEFAULT_WEBHOOK_LISTEN, WEBHOOK_ADDR_FILE,
};
use crate::catalog::{ActionKind, AuthKind, Catalog, ServiceManifest};
use crate::condition::Condition;
use crate::connections::{ClientKeySetup, ConnectionError, ConnectionInfo, Connections, MasterKey, Secret};
use crate::connector::Notifier;
use crate::engine::history::{self, RunRecord};
use crate::engine::{Engine, EngineConfig, RunOnceReport};
use crate::net::{HttpClient, NetConfig};
use crate::settings::{self, Settings};
use crate::store::Store;

pub use access::SignUp;
pub use autostart::AutostartStatus;
pub use bootstrap::{bootstrap, Startup};
pub use cards::{AreaCard, Fix, LastRun};
pub use engine_host::{running_elsewhere, NOT_RUNNING, STATUS_FILE};
pub use error::{ApiError, ErrorCode};
pub use form::{AreaForm, FormStep};
pub use logging::log_filter;
pub use oauth_flow::{open_in_browser, parse_deep_link, OAuthVia, BROWSER_ENV, DEEP_LINK_REDIRECT};
pub use oauth_redirect::{RedirectOutcome, OAUTH_CALLBACK_PATH};
pub use recipes::{Recipe, RecipeAsk};
pub use sample::{SampleEvent, SampleValue};
pub use test_send::TestSent;

/// Setting naming the webhook listener's address (`127.0.0.1:8787` by default; port 0 lets the
/// OS choose, which tests use).
pub const WEBHOOK_LISTEN_ENV: &str = settings::WEBHOOK_LISTEN;
/// File in the data directory whose presence means "pause all": the engine stays stopped
/// across restarts until the user resumes it.
pub const PAUSED_FILE: &str = "engine.paused";

/// A service as the app lists it: its manifest, which connection it uses, and which of its
/// actions can show a sample event.
#[derive(Debug, Clone, Serialize, specta::Type, schemars::JsonSchema)]
pub struct ServiceEntry {
    pub manifest: ServiceManifest,
    /// The connection its areas use (`google` for Gmail), or `None` when it needs none.
    pub connection_id: Option<String>,
    /// Actions whose latest upstream item can be loaded as a sample before saving an area.
    pub sample_actions: Vec<String>,
    /// Each polled action's interval when an area names none (the default raised to the
    /// action's minimum), so the editor shows what the engine will do.
    pub default_intervals: Vec<DefaultInterval>,
    /// Whether a token is checked with the service when connecting (and its account shown);
    /// false: saved, not checked.
    pub checks_token: bool,
}

/// The poll interval a polled action gets when its area names none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct DefaultInterval {
    pub action: String,
    pub secs: u32,
}

/// One area with its editor form.
#[derive(Debug, Clone, Serialize, specta::Type, schemars::JsonSchema)]
pub struct AreaView {
    pub detail: AreaDetail,
    pub form: AreaForm,
    /// Every ingredient the area's templates and condition read (core's template reader), so
    /// the editor can offer the ones its action does not declare without parsing templates.
    pub reads: Vec<String>,
}

/// Whether the in-process engine runs, for the status pill and the tray.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct EngineStatus {
    pub running: bool,
    /// "Pause all" is on: nothing polls or fires until resumed.
    pub paused: bool,
    /// Why the engine (or part of it) is not running, e.g. a daemon already owns the data.
    pub error: Option<String>,
    /// Base of webhook URLs (`http://127.0.0.1:8787`), when the listener runs.
    pub webhook_base: Option<String>,
}

/// What changed, so the UI reloads that part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Session,
    Areas,
    Runs,
    Connections,
    Engine,
}

/// A change notification for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct AppEvent {
    pub kind: ChangeKind,
}

/// Opens URLs in the user's browser; replaceable so tests can play the browser (and so the
/// `area` command can print the address too).
pub type UrlOpener = Arc<dyn Fn(&str) + Send + Sync>;

/// A signed-in session as a shell shows it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct SignedIn {
    pub user: User,
    /// When the session ends (Unix seconds).
    pub expires_at: i64,
}

/// What signing in with a provider did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSignIn {
    /// Signed in (an account was found or created for the identity).
    SignedIn(User),
    /// Already signed in: the identity is now linked to this account.
    Linked(User),
}

impl ProviderSignIn {
    /// The account signed in or linked.
    pub fn user(self) -> User {
        match self {
            ProviderSignIn::SignedIn(user) | ProviderSignIn::Linked(user) => user,
        }
    }
}

/// How a browser authorization runs, for [`App::connect_oauth_with`].
#[derive(Debug, Clone, Default)]
pub struct OAuthOptions {
    pub via: OAuthVia,
    /// Loopback: listen on this fixed port (providers that compare the redirect URI exactly,
    /// port included); `None` lets the OS choose.
    pub port: Option<u16>,
    /// A label for the account (e.g. the login), shown with the connection.
    pub label: Option<String>,
}

/// One area with what it does in plain words (`area areas show`).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct AreaReport {
    pub detail: AreaDetail,
    /// Where it reads from, where it sends to, which connections it uses.
    pub review: TrustSummary,
}

/// An area switched on; `review` says what it will do when it was off before.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct SwitchedOn {
    pub area: AreaSummary,
    pub review: Option<TrustSummary>,
}

/// The app: cheap to clone, safe to share between commands and background tasks.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
    /// Who this handle acts for. `None`: the user signed in on this device (the session file),
    /// as in the desktop app and the `area` command. A server binds each request's handle to
    /// the user its cookie or token authenticates ([`App::acting_as`]).
    caller: Option<User>,
}

struct Inner {
    store: Store,
    settings: Settings,
    accounts: Accounts,
    catalog: Catalog,
    areas: Areas,
    /// Loaded on first use (the master key may live in the OS keychain); `Err` holds why the
    /// master key could not be loaded (connections then say so).
    connections: OnceLock<Result<Connections, String>>,
    notifier: Arc<dyn Notifier>,
    http: HttpClient,
    engine: tokio::sync::Mutex<Option<Engine>>,
    status: Mutex<EngineStatus>,
    events: broadcast::Sender<AppEvent>,
    oauth: oauth_flow::Flows,
    redirects: oauth_redirect::RedirectFlows,
    opener: Mutex<UrlOpener>,
    stop_watch: tokio::sync::watch::Sender<bool>,
    /// The engine runs in another process (the tray) and this one is a window beside it: its
    /// status is read from the data directory, and "Pause all" is the marker the owner follows.
    beside: bool,
    /// When this handle was opened, and whether a window has seen its engine's owner yet (until
    /// then, for a moment, a missing owner is "starting", not "not running").
    opened: std::time::Instant,
    owner_seen: std::sync::atomic::AtomicBool,
}

/// Processes sharing a PostgreSQL store open each other's sealed credentials, so they must share
/// one master key: the `AREA_MASTER_KEY` setting, or the `master.key` of the server the data came
/// from, copied into each data directory. A key of its own (a new file, the keychain) would seal
/// what no other process can open, and so would a different key: the first process seals a known
/// text with its key in the database, and a process whose key cannot open it is refused.
async fn check_shared_key(store: &Store, settings: &Settings) -> Result<(), ApiError> {
    if store.backend() != crate::store::Backend::Postgres {
        return Ok(());
    }
    let refuse = |message: &str| ApiError {
        field: Some(settings::MASTER_KEY.into()),
        ..ApiError::new(ErrorCode::Settings, message)
    };
    if !settings.is_set(settings::MASTER_KEY) && !store.dir().join(crate::crypto::KEY_FILE).exists() {
        return Err(refuse(
            "every Area process on a PostgreSQL database needs the same master key: set AREA_MASTER_KEY \
             (64 hex digits, e.g. from `openssl rand -hex 32`) to one value in all of them",
        ));
    }
    let key = MasterKey::load_with(store.dir(), settings).map_err(|e| refuse(&e.to_string()))?;
    let sealed = key.seal(KEY_CHECK_TEXT, KEY_CHECK_AAD).map_err(|e| refuse(&e.to_string()))?;
    sqlx::query("INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT DO NOTHING")
        .bind(sealed)
        .execute(store.pool())
        .await?;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1").fetch_one(store.pool()).await?;
    match key.open(&stored, KEY_CHECK_AAD) {
        Ok(text) if text == KEY_CHECK_TEXT => Ok(()),
        _ => Err(refuse(
            "this AREA_MASTER_KEY is not the one the other Area processes on this database use: give every \
             process the same key (the credentials stored there were sealed with it)",
        )),
    }
}

/// What the first process on a shared database seals with its key ([`check_shared_key`]).
const KEY_CHECK_TEXT: &[u8] = b"area master key check";
const KEY_CHECK_AAD: &str = "master-key-check";

impl App {
    /// Opens the app as the desktop runs it: the data of `startup`, the engine started in this
    /// process unless "pause all" is on, and changes made by other processes noticed. An engine
    /// that cannot start (a daemon already runs on this data) is reported in
    /// [`App::engine_status`], not as an error: the rest of the app still works.
    pub async fn open(startup: Startup, notifier: Arc<dyn Notifier>) -> Result<App, ApiError> {
        let app = App::open_without_engine(startup, notifier).await?;
        let paused = app.inner.store.dir().join(PAUSED_FILE).exists();
        if paused {
            app.set_status(EngineStatus { paused: true, ..EngineStatus::default() });
        } else {
            app.start_engine().await;
        }
        let stop_rx = app.inner.stop_watch.subscribe();
        tokio::spawn(watch::watch_changes(app.inner.store.pool().clone(), app.inner.events.clone(), stop_rx));
        tokio::spawn(engine_host::follow_pause_marker(app.clone(), app.inner.stop_watch.subscribe()));
        engine_host::serve_reloads(&app);
        Ok(app)
    }

    /// Opens the app for a window whose engine runs in another process on the same data (the
    /// tray, `area tray`): this process never starts an engine; its status and "Pause all" go
    /// through the data directory ([`engine_host`]), and the owner's runs reach the UI as
    /// changes.
    pub async fn open_beside_engine(startup: Startup, notifier: Arc<dyn Notifier>) -> Result<App, ApiError> {
        let app = App::open_inner(startup, notifier, true).await?;
        let stop_rx = app.inner.stop_watch.subscribe();
        tokio::spawn(watch::watch_changes(app.inner.store.pool().clone(), app.inner.events.clone(), stop_rx));
        tokio::spawn(engine_host::watch_owner(app.clone(), app.inner.stop_watch.subscribe()));
        Ok(app)
    }

    /// Opens the app as the `area` command runs it: the engine runs only when asked
    /// ([`App::run_once`], [`App::serve`]).
    pub async fn open_without_engine(startup: Startup, notifier: Arc<dyn Notifier>) -> Result<App, ApiError> {
        App::open_inner(startup, notifier, false).await
    }

    async fn open_inner(startup: Startup, notifier: Arc<dyn Notifier>, beside: bool) -> Result<App, ApiError> {
        let Startup { data_dir, settings } = startup;
        let database = crate::store::Database::parse(settings.database_url().unwrap_or_default())?;
        let store = Store::open_with(&data_dir, &database).await?;
        check_shared_key(&store, &settings).await?;
        let catalog = crate::services::catalog(&settings);
        let http = HttpClient::new(NetConfig::from_settings(&settings))
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let (events, _) = broadcast::channel(64);
        let (stop_watch, _) = tokio::sync::watch::channel(false);
        let browser = settings.get(settings::BROWSER).map(str::to_owned);
        let app = App {
            caller: None,
            inner: Arc::new(Inner {
                accounts: Accounts::new(store.clone()),
                areas: Areas::new(store.clone(), catalog.clone()).with_settings(settings.clone()),
                store,
                settings,
                catalog,
                connections: OnceLock::new(),
                notifier,
                http,
                engine: tokio::sync::Mutex::new(None),
                status: Mutex::new(EngineStatus::default()),
                events,
                oauth: oauth_flow::Flows::default(),
                redirects: oauth_redirect::RedirectFlows::default(),
                opener: Mutex::new(Arc::new(move |url: &str| open_in_browser(url, browser.as_deref()))),
                stop_watch,
                beside,
                opened: std::time::Instant::now(),
                owner_seen: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        // Areas saved by an older Area may hold secret parameters in clear: seal them now.
        if let Err(e) = app.inner.areas.seal_clear_secrets().await {
            tracing::warn!(error = %e, "could not seal secret parameters stored in clear");
        }
        Ok(app)
    }

    /// The settings this app runs with (read once by the shell, see [`bootstrap`]).
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Replaces how authorization URLs are opened (tests act as the browser).
    pub fn set_url_opener(&self, opener: UrlOpener) {
        *self.inner.opener.lock().unwrap_or_else(|e| e.into_inner()) = opener;
    }

    /// Stops the engine, letting in-flight runs finish within its grace period. Call on quit.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop_watch.send(true);
        self.inner.oauth.cancel();
        if let Some(engine) = self.inner.engine.lock().await.take() {
            engine.shutdown().await;
        }
        if !self.inner.beside {
            let _ = std::fs::remove_file(self.inner.store.dir().join(WEBHOOK_ADDR_FILE));
            engine_host::withdraw(self.inner.store.dir());
        }
    }

    /// [`App::shutdown`], then closes the database (a command's last call).
    pub async fn close(&self) {
        self.shutdown().await;
        self.inner.store.close().await;
    }

    /// Change notifications (areas, runs, connections, engine, session), for the UI.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.inner.events.subscribe()
    }

    /// Where this app keeps its data.
    pub fn data_dir(&self) -> PathBuf {
        self.inner.store.dir().to_path_buf()
    }

    fn changed(&self, kind: ChangeKind) {
        let _ = self.inner.events.send(AppEvent { kind });
    }

    /// The engine applies area and connection edits before this returns (so "off" means no
    /// more runs), then the UI hears of them.
    async fn areas_changed(&self) {
        if self.inner.beside {
            engine_host::ask_owner_to_reload(self.inner.store.dir()).await;
        } else {
            self.reload_own_engine().await;
        }
        self.changed(ChangeKind::Areas);
    }

    /// Has this process's engine (if it runs one) apply area edits now.
    async fn reload_own_engine(&self) {
        if let Some(engine) = self.inner.engine.lock().await.as_ref() {
            engine.reload_areas().await;
        }
    }

    /// Records this process's engine status; a window beside the engine learns it from the
    /// published copy (an engine that could not start here, e.g. because another process runs
    /// one, publishes nothing).
    fn set_status(&self, status: EngineStatus) {
        if status.running || status.paused {
            engine_host::publish(self.inner.store.dir(), &status);
        } else {
            engine_host::withdraw(self.inner.store.dir());
        }
        *self.inner.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
        self.changed(ChangeKind::Engine);
    }

    // ---- engine ------------------------------------------------------------------------------

    /// Whether the engine runs, is paused, or could not start.
    pub fn engine_status(&self) -> EngineStatus {
        if self.inner.beside {
            let mut status = engine_host::status_beside(self.inner.store.dir());
            let gone = status.error.as_deref() == Some(NOT_RUNNING);
            if !gone {
                self.inner.owner_seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            // The shell starts the tray with the window: until it is first seen, give it a
            // moment before saying it is not running.
            let starting = !self.inner.owner_seen.load(std::sync::atomic::Ordering::Relaxed)
                && self.inner.opened.elapsed() < engine_host::STARTING_GRACE;
            if gone && starting {
                status.error = None;
            }
            return status;
        }
        self.inner.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// "Pause all" (stops the engine; remembered across restarts) or resume.
    pub async fn set_paused(&self, paused: bool) -> Result<EngineStatus, ApiError> {
        let marker = self.inner.store.dir().join(PAUSED_FILE);
        if paused {
            crate::paths::write_private_file(&marker, b"paused by the user\n").map_err(|e| {
                ApiError::new(ErrorCode::Internal, format!("cannot record the pause in {}: {e}", marker.display()))
            })?;
            if self.inner.beside && !engine_host::await_owner(self.inner.store.dir(), true).await {
                // Taken back, so the next engine to start here does not start paused by surprise.
                let _ = std::fs::remove_file(&marker);
                return Err(ApiError::new(ErrorCode::Engine, engine_host::OWNER_DID_NOT_PAUSE));
            } else if !self.inner.beside {
                self.stop_engine_paused().await;
            }
        } else {
            if marker.exists() {
                std::fs::remove_file(&marker).map_err(|e| {
                    ApiError::new(ErrorCode::Internal, format!("cannot clear the pause in {}: {e}", marker.display()))
                })?;
            }
            if self.inner.beside {
                engine_host::await_owner(self.inner.store.dir(), false).await;
            } else {
                self.start_engine().await;
            }
        }
        if self.inner.beside {
            self.changed(ChangeKind::Engine);
        }
        Ok(self.engine_status())
    }

    /// Stops this process's engine for "Pause all" (the marker is already written).
    async fn stop_engine_paused(&self) {
        if let Some(engine) = self.inner.engine.lock().await.take() {
            engine.shutdown().await;
        }
        let _ = std::fs::remove_file(self.inner.store.dir().join(WEBHOOK_ADDR_FILE));
        self.set_status(EngineStatus { paused: true, ..EngineStatus::default() });
    }

    /// The engine's configuration over this app's catalog, which was built from the app's
    /// settings (polling switch, network guard, and the settings passed on to what the engine
    /// opens).
    fn engine_config(&self, webhook_listen: Option<SocketAddr>) -> EngineConfig {
        EngineConfig { webhook_listen, ..EngineConfig::new(self.inner.catalog.clone()) }
    }

    /// The webhook listener's address from the settings (`127.0.0.1:8787` by default).
    fn webhook_listen(&self) -> Result<SocketAddr, String> {
        self.inner
            .settings
            .get(WEBHOOK_LISTEN_ENV)
            .unwrap_or(DEFAULT_WEBHOOK_LISTEN)
            .parse()
            .map_err(|e| format!("{WEBHOOK_LISTEN_ENV} is not an address like 127.0.0.1:8787: {e}"))
    }

    /// Records where webhooks are received, for webhook URLs shown by any process.
    fn engine_started(&self, engine: &Engine) -> Option<String> {
        engine.webhook_addr().map(|addr| {
            let _ = crate::paths::write_private_file(
                &self.inner.store.dir().join(WEBHOOK_ADDR_FILE),
                addr.to_string().as_bytes(),
            );
            crate::areas::webhook_base(&self.inner.settings, self.inner.store.dir())
        })
    }

    async fn start_engine(&self) {
        let mut slot = self.inner.engine.lock().await;
        if slot.is_some() {
            return;
        }
        let listen = self.webhook_listen();
        let base = self.engine_config(None);
        let mut webhook_error = None;
        let mut started = match &listen {
            Ok(addr) => {
                let config = EngineConfig { webhook_listen: Some(*addr), ..base.clone() };
                Engine::start(&self.inner.store, config, self.inner.notifier.clone()).await
            }
            Err(e) => {
                webhook_error = Some(e.clone());
                Engine::start(&self.inner.store, base.clone(), self.inner.notifier.clone()).await
            }
        };
        // A busy webhook port must not stop polls and timers: run without the listener, say why.
        if let Err(crate::engine::EngineError::Listen { addr, source }) = &started {
            webhook_error =
                Some(format!("webhooks are off: cannot listen on {addr} ({source}); set {WEBHOOK_LISTEN_ENV}"));
            started = Engine::start(&self.inner.store, base, self.inner.notifier.clone()).await;
        }
        let status = match started {
            Ok(engine) => {
                let webhook_base = self.engine_started(&engine);
                *slot = Some(engine);
                EngineStatus { running: true, paused: false, error: webhook_error, webhook_base }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the engine did not start");
                EngineStatus { running: false, paused: false, error: Some(e.to_string()), webhook_base: None }
            }
        };
        drop(slot);
        self.set_status(status);
    }

    /// Runs the engine in this process until [`App::shutdown`], with its webhook listener on
    /// `listen` (else the `AREA_WEBHOOK_LISTEN` setting, else `127.0.0.1:8787`): `area daemon`.
    /// Unlike the desktop's engine, a listener that cannot start is an error. Returns the
    /// address the listener took.
    pub async fn serve(&self, listen: Option<SocketAddr>) -> Result<Option<SocketAddr>, ApiError> {
        self.serve_with(listen, None, None).await
    }

    /// [`App::serve`], the listener also serving `routes` (an Area server's API and web app),
    /// over TLS when `tls` is given ([`crate::engine::tls::load`]).
    pub async fn serve_with(
        &self,
        listen: Option<SocketAddr>,
        routes: Option<axum::Router>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Result<Option<SocketAddr>, ApiError> {
        let addr = match listen {
            Some(addr) => addr,
            None => self.webhook_listen().map_err(|e| ApiError {
                field: Some(WEBHOOK_LISTEN_ENV.into()),
                ..ApiError::new(ErrorCode::Settings, e)
            })?,
        };
        self.start_with(EngineConfig { routes, tls, ..self.engine_config(Some(addr)) }).await
    }

    /// Runs the engine in this process without any listener until [`App::shutdown`]: `area
    /// worker`, one of several processes sharing a PostgreSQL database (webhooks reach the
    /// `area serve` instances, which record them there for every worker to deliver).
    pub async fn work(&self) -> Result<(), ApiError> {
        if self.inner.store.backend() != crate::store::Backend::Postgres {
            return Err(ApiError::new(
                ErrorCode::Settings,
                "a worker shares a PostgreSQL database with other Area processes: give --database postgres://… \
                 (or AREA_DATABASE_URL); on the embedded database, run `area daemon`",
            ));
        }
        self.start_with(self.engine_config(None)).await.map(|_| ())
    }

    /// Starts this process's engine with `config`; returns the listener's address, if any.
    async fn start_with(&self, config: EngineConfig) -> Result<Option<SocketAddr>, ApiError> {
        let mut slot = self.inner.engine.lock().await;
        if slot.is_some() {
            return Err(ApiError::new(ErrorCode::Engine, "the engine already runs in this process"));
        }
        let engine = Engine::start(&self.inner.store, config, self.inner.notifier.clone()).await?;
        let bound = engine.webhook_addr();
        let webhook_base = self.engine_started(&engine);
        *slot = Some(engine);
        drop(slot);
        self.set_status(EngineStatus { running: true, paused: false, error: None, webhook_base });
        Ok(bound)
    }

    /// Polls every enabled area once, delivers what results, and returns (`area run --once`).
    pub async fn run_once(&self) -> Result<RunOnceReport, ApiError> {
        Ok(Engine::run_once(&self.inner.store, self.engine_config(None), self.inner.notifier.clone()).await?)
    }

    // ---- accounts (this machine's) -----------------------------------------------------------

    /// Creates a local account without signing it in (`area user add`).
    pub async fn create_account(&self, email: &str, password: &str) -> Result<User, ApiError> {
        Ok(self.inner.accounts.register(email, password).await?)
    }

    /// Every local account, oldest first.
    pub async fn accounts(&self) -> Result<Vec<User>, ApiError> {
        Ok(self.inner.accounts.list_users().await?)
    }

    /// Whether this device has any account yet: a fresh install leads with "Create your account"
    /// instead of a sign-in form nobody can fill.
    pub async fn has_accounts(&self) -> Result<bool, ApiError> {
        Ok(!self.accounts().await?.is_empty())
    }

    /// Deletes an account and everything it owns.
    pub async fn delete_account(&self, email: &str) -> Result<(), ApiError> {
        self.inner.accounts.delete_user(email).await?;
        self.changed(ChangeKind::Session);
        Ok(())
    }

    // ---- session -----------------------------------------------------------------------------

    /// The saved session's user; a session that ended is forgotten, and the error says so.
    async fn authenticate(&self) -> Result<User, AccountError> {
        let dir = self.inner.store.dir();
        let token = session::saved_token(dir).ok_or(AccountError::NotLoggedIn)?;
        match self.inner.accounts.authenticate(&token).await {
            Err(e @ (AccountError::SessionExpired | AccountError::NotLoggedIn)) => {
                session::forget(dir);
                Err(e)
            }
            other => other,
        }
    }

    /// The signed-in user, or `None` (also when the saved session expired).
    pub async fn session_user(&self) -> Result<Option<User>, ApiError> {
        match self.authenticate().await {
            Ok(user) => Ok(Some(user)),
            Err(AccountError::SessionExpired | AccountError::NotLoggedIn) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The signed-in user, or an `auth` error saying to sign in (again).
    pub async fn current_user(&self) -> Result<User, ApiError> {
        match &self.caller {
            Some(user) => Ok(user.clone()),
            None => Ok(self.authenticate().await?),
        }
    }

    /// A handle on the same app acting for `user`: every user-scoped call (areas, runs,
    /// connections) reads and writes that user's data only. An Area server makes one per
    /// request, for the user the request authenticated as.
    pub fn acting_as(&self, user: User) -> App {
        App { inner: self.inner.clone(), caller: Some(user) }
    }

    async fn user(&self) -> Result<User, ApiError> {
        self.current_user().await
    }

    async fn remember(&self, token: &str) -> Result<(), ApiError> {
        if let Some(old) = session::saved_token(self.inner.store.dir()) {
            let _ = self.inner.accounts.logout(&old).await;
        }
        session::save(self.inner.store.dir(), token)?;
        self.changed(ChangeKind::Session);
        Ok(())
    }

    /// Creates an account and signs it in.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<User, ApiError> {
        self.inner.accounts.register(email, password).await?;
        Ok(self.sign_in(email, password).await?.user)
    }

    /// Signs in with email and password (replacing, and revoking, a previous session).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignedIn, ApiError> {
        let session = self.inner.accounts.login(email, password).await?;
        self.remember(&session.token).await?;
        Ok(SignedIn { user: session.user, expires_at: session.expires_at })
    }

    /// Signs out (revokes the session); says whether anyone was signed in.
    pub async fn sign_out(&self) -> Result<bool, ApiError> {
        let token = session::saved_token(self.inner.store.dir());
        if let Some(token) = &token {
            let _ = self.inner.accounts.logout(token).await;
        }
        session::forget(self.inner.store.dir());
        self.changed(ChangeKind::Session);
        Ok(token.is_some())
    }

    /// Changes the signed-in user's password after checking the current one; every other
    /// session of that user is signed out.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<User, ApiError> {
        let user = self.user().await?;
        let token = session::saved_token(self.inner.store.dir()).ok_or_else(ApiError::not_signed_in)?;
        self.inner.accounts.change_password(&token, current, new).await?;
        Ok(user)
    }

    /// Signs in (or links, when signed in) with a GitHub or Google identity, through the
    /// browser and a loopback redirect.
    pub async fn sign_in_with(&self, provider_id: &str) -> Result<ProviderSignIn, ApiError> {
        use crate::signin::{self, SignInOutcome};
        let provider = signin::provider(provider_id)?;
        let scopes = provider.oauth.scopes.iter().map(|s| s.to_string()).collect();
        let client = crate::oauth::OAuthClientConfig::from_settings(&self.inner.settings, &provider.oauth, scopes)?;
        let tokens = self.browser_flow(&client, OAuthVia::Loopback, None).await?;
        let identity =
            signin::fetch_identity(&self.inner.settings, &self.inner.http, &provider, &tokens.access_token).await?;
        let current = self.session_user().await?;
        match signin::sign_in(&self.inner.accounts, &identity, current.as_ref()).await? {
            SignInOutcome::SignedIn(session) | SignInOutcome::Created(session) => {
                self.remember(&session.token).await?;
                Ok(ProviderSignIn::SignedIn(session.user))
            }
            SignInOutcome::Linked(user) => Ok(ProviderSignIn::Linked(user)),
        }
    }

    // ---- catalog -----------------------------------------------------------------------------

    /// Every service with what the UI needs to offer it.
    pub fn services(&self) -> Vec<ServiceEntry> {
        self.inner
            .catalog
            .services()
            .iter()
            .map(|s| ServiceEntry {
                connection_id: s.manifest.connection_id().map(str::to_owned),
                sample_actions: s
                    .actions
                    .iter()
                    .filter(|(_, kind)| matches!(kind, ActionKind::Polled(_) | ActionKind::Fetched(_)))
                    .map(|(id, _)| id.to_string())
                    .collect(),
                default_intervals: s
                    .manifest
                    .actions
                    .iter()
                    .filter(|a| matches!(s.actions.get(a.id), Some(ActionKind::Polled(_))))
                    .map(|a| DefaultInterval {
                        action: a.id.to_string(),
                        secs: default_interval_for(&self.inner.catalog, s.manifest.id, a),
                    })
                    .collect(),
                checks_token: s.account_check.is_some(),
                manifest: s.manifest.clone(),
            })
            .collect()
    }

    /// One service's manifest; an unknown id is a `not_found` error listing the known ones.
    pub fn service(&self, id: &str) -> Result<ServiceManifest, ApiError> {
        match self.inner.catalog.service(id) {
            Some(service) => Ok(service.manifest.clone()),
            None => {
                let known: Vec<&str> = self.inner.catalog.manifests().map(|m| m.id).collect();
                Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("unknown service {id:?}: available services are {}", known.join(", ")),
                ))
            }
        }
    }

    /// `about.json` (the AREA format) for a client at `client_host`.
    pub fn about(&self, client_host: &str) -> serde_json::Value {
        crate::about::about_json(&self.inner.catalog, client_host, chrono::Utc::now().timestamp())
    }

    // ---- connections -------------------------------------------------------------------------

    fn connections(&self) -> Result<&Connections, ApiError> {
        let inner = &self.inner;
        inner
            .connections
            .get_or_init(|| {
                MasterKey::load_with(inner.store.dir(), &inner.settings)
                    .map(|key| {
                        Connections::new(inner.store.clone(), key, inner.catalog.clone())
                            .with_settings(inner.settings.clone())
                    })
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| {
                ApiError::new(ErrorCode::Connection, format!("stored credentials cannot be used: {e}"))
                    .with_cli_text(e.clone())
            })
    }

    /// The manifest of a service that takes a connection (so a shell knows what to ask for);
    /// an unknown service, or one that needs no connection, is an error.
    pub fn connectable(&self, service: &str) -> Result<ServiceManifest, ApiError> {
        let manifest = &self
            .inner
            .catalog
            .service(service)
            .ok_or_else(|| ConnectionError::UnknownService(service.into()))?
            .manifest;
        if manifest.auth == AuthKind::None {
            return Err(ConnectionError::NoAuthNeeded(manifest.name.into()).into());
        }
        Ok(manifest.clone())
    }

    /// The signed-in user's connections (never their secrets), each with what the enabled areas
    /// plan to spend of its service's quota.
    pub async fn list_connections(&self) -> Result<Vec<ConnectionInfo>, ApiError> {
        let user = self.user().await?;
        let mut list = self.connections()?.list(user.id).await?;
        let planned = self.inner.areas.quota_use(user.id).await?;
        for info in &mut list {
            info.planned = planned.iter().find(|p| p.service == info.connection_id).cloned();
        }
        Ok(list)
    }

    /// Saves an API key or token (or a pasted OAuth2 access token) for a service.
    pub async fn connect_token(
        &self,
        service: &str,
        token: &str,
        label: Option<&str>,
    ) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        let connections = self.connections()?;
        let connection_id = manifest.connection_id().unwrap_or(manifest.id);
        let token = token.trim();
        if token.is_empty() {
            return Err(crate::connections::ConnectionError::EmptySecret.into());
        }
        let secret = match manifest.auth {
            AuthKind::ApiKey => Secret::ApiKey { key: token.to_string() },
            AuthKind::OAuth2 => {
                Secret::Oauth2 { access_token: token.to_string(), refresh_token: None, scope: None, account: None }
            }
            AuthKind::MailAccount => {
                return Err(ApiError::invalid(
                    "token",
                    format!("{} needs its servers too: connect it with the mail account form", manifest.name),
                ))
            }
            AuthKind::ClientKey => {
                return Err(ApiError::invalid(
                    "token",
                    format!(
                        "{} is authorized with a certificate Area creates, not a pasted token: create the certificate first",
                        manifest.name
                    ),
                ))
            }
            AuthKind::None => {
                return Err(crate::connections::ConnectionError::NoAuthNeeded(manifest.name.into()).into())
            }
        };
        // A service that can say whose the token is refuses a junk one here, before it is saved.
        let checked = match self.inner.catalog.service(manifest.id).and_then(|s| s.account_check.as_deref()) {
            Some(check) => Some(
                token_check::account_of(&self.inner.catalog, &self.inner.http, &manifest, check, &secret.credential())
                    .await?,
            ),
            None => None,
        };
        let account = checked.as_ref().map(|c| c.account.clone());
        let label = label.map(str::trim).filter(|l| !l.is_empty()).or(account.as_deref());
        // A token the service renews is first renewed once it may be (see `TokenRenewal`).
        let expires_at = match &secret {
            Secret::ApiKey { .. } => connections.pasted_token_expiry(manifest.id),
            _ => None,
        };
        let info = connections.save(user.id, connection_id, &secret, label, expires_at).await?;
        // The plan this account has, if the check said it: the quota planner holds areas to it.
        let plan_limit = checked.and_then(|c| c.plan_limit);
        connections.set_plan_limit(user.id, connection_id, plan_limit).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(info)
    }

    /// Saves a mail account (mail, vinted): its servers and login, sealed with the password,
    /// which is then only ever sent to those servers. Invalid fields come back as `invalid`
    /// errors naming the field (`imap_host`, `smtp_port`…).
    pub async fn connect_mail(
        &self,
        service: &str,
        account: &crate::services::mail::MailAccountInput,
        password: &str,
        label: Option<&str>,
    ) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        let connections = self.connections()?;
        if manifest.auth != AuthKind::MailAccount {
            return Err(ApiError::invalid("service", format!("{} is not a mail account", manifest.name)));
        }
        let connection_id = manifest.connection_id().unwrap_or(manifest.id);
        let account = account.account().map_err(|e| match e {
            crate::services::mail::MailAccountError::Invalid { field, message } => ApiError::invalid(field, message),
        })?;
        let secret = Secret::Mail { password: password.trim_end_matches(['\r', '\n']).to_string(), account };
        let label = label.map(str::trim).filter(|l| !l.is_empty());
        let info = connections.save(user.id, connection_id, &secret, label, None).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(info)
    }

    /// Step 1 of a client-key connection (Revolut Business): Area creates a key pair and the
    /// certificate to upload at the provider with `redirect_uri` (https, on a domain the user
    /// controls). See `connections::client_key` for the whole flow.
    pub async fn begin_client_key(&self, service: &str, redirect_uri: &str) -> Result<ClientKeySetup, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        let setup = self.connections()?.begin_client_key(user.id, manifest.id, redirect_uri).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(setup)
    }

    /// The client-key setup of a service (its certificate and redirect URI, to show them again),
    /// if one was begun.
    pub async fn client_key_setup(&self, service: &str) -> Result<Option<ClientKeySetup>, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        Ok(self.connections()?.client_key_setup(user.id, manifest.id).await?)
    }

    /// Step 2: the consent link for the client id the provider gave, opened in the browser when
    /// the shell can open one (and returned, to be shown or copied).
    pub async fn client_key_consent(&self, service: &str, client_id: &str) -> Result<String, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        let url = self.connections()?.client_key_consent_url(user.id, manifest.id, client_id).await?;
        let opener = self.inner.opener.lock().unwrap_or_else(|e| e.into_inner()).clone();
        opener(&url);
        Ok(url)
    }

    /// Step 3: finishes the authorization with the client id and the address the browser landed
    /// on after consenting (or its code); areas using the connection resume.
    pub async fn finish_client_key(
        &self,
        service: &str,
        client_id: &str,
        code_or_url: &str,
        label: Option<&str>,
    ) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let manifest = self.connectable(service)?;
        let info = self
            .connections()?
            .finish_client_key(&self.inner.http, user.id, manifest.id, client_id, code_or_url, label)
            .await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(info)
    }

    /// Connects an OAuth2 service through the browser: the redirect comes back to a loopback
    /// listener or as an `area://oauth/callback` deep link. Waits up to five minutes.
    pub async fn connect_oauth(&self, service: &str, via: OAuthVia) -> Result<ConnectionInfo, ApiError> {
        self.connect_oauth_with(service, OAuthOptions { via, ..OAuthOptions::default() }).await
    }

    /// [`App::connect_oauth`] with a fixed loopback port or an account label.
    pub async fn connect_oauth_with(&self, service: &str, options: OAuthOptions) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let (client, provider_id) = self.oauth_client_for(service)?;
        let tokens = self.browser_flow(&client, options.via, options.port).await?;
        self.save_oauth_tokens(&user, &provider_id, &tokens, options.label.as_deref()).await
    }

    /// The OAuth2 client of the provider `service` connects through, and that provider's id.
    fn oauth_client_for(&self, service: &str) -> Result<(crate::oauth::OAuthClientConfig, String), ApiError> {
        let manifest = self.connectable(service)?;
        let provider = manifest.oauth.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Connection,
                format!("{} is not connected through OAuth2: paste a key instead", manifest.name),
            )
        })?;
        Ok((self.connections()?.oauth_client(provider.id)?, provider.id.to_owned()))
    }

    /// Saves the tokens an authorization gave as the user's connection to `provider_id`; the
    /// account the provider named (its ID token) labels it unless `label` is given.
    async fn save_oauth_tokens(
        &self,
        user: &User,
        provider_id: &str,
        tokens: &crate::oauth::OAuthTokens,
        label: Option<&str>,
    ) -> Result<ConnectionInfo, ApiError> {
        let named = tokens.account();
        let label = label.map(str::trim).filter(|l| !l.is_empty()).or(named.as_deref());
        let info = self.connections()?.save_tokens(user.id, provider_id, tokens, label).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(info)
    }

    /// Abandons the authorization waiting for the browser, if any.
    pub fn cancel_oauth(&self) {
        self.inner.oauth.cancel();
    }

    /// Finishes the pending authorization from an `area://oauth/callback?…` link. Any other
    /// scheme, host or path, or a state no authorization is waiting for, is refused.
    pub async fn handle_deep_link(&self, url: &str) -> Result<(), ApiError> {
        self.inner.oauth.deliver_deep_link(url)
    }

    async fn browser_flow(
        &self,
        client: &crate::oauth::OAuthClientConfig,
        via: OAuthVia,
        port: Option<u16>,
    ) -> Result<crate::oauth::OAuthTokens, ApiError> {
        let opener = self.inner.opener.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.inner.oauth.run(client, via, port, opener).await
    }

    /// Removes a connection (named by a service id, `gmail`, or the connection id it shares,
    /// `google`); areas using it pause until it is connected again. Returns the connection id.
    pub async fn disconnect(&self, service: &str) -> Result<String, ApiError> {
        let user = self.user().await?;
        let connection_id = self
            .inner
            .catalog
            .service(service)
            .and_then(|s| s.manifest.connection_id())
            .map(str::to_owned)
            .unwrap_or_else(|| service.to_owned());
        self.connections()?.remove(user.id, &connection_id).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(connection_id)
    }

    // ---- areas -------------------------------------------------------------------------------

    /// The dashboard: every area with its next check, last run and what would fix it.
    pub async fn area_cards(&self) -> Result<Vec<AreaCard>, ApiError> {
        let user = self.user().await?;
        let areas = self.inner.areas.list_with_state(user.id).await?;
        let connections = match self.connections() {
            Ok(c) => c.list(user.id).await?,
            Err(_) => Vec::new(),
        };
        cards::build(self.inner.store.pool(), &self.inner.catalog, user.id, areas, &connections).await
    }

    /// The signed-in user's areas as listed (`area areas list`).
    pub async fn list_areas(&self) -> Result<Vec<AreaSummary>, ApiError> {
        let user = self.user().await?;
        Ok(self.inner.areas.list(user.id).await?)
    }

    /// One area with its editor form.
    pub async fn area(&self, id: i64) -> Result<AreaView, ApiError> {
        let user = self.user().await?;
        let detail = self.inner.areas.get(user.id, id).await?;
        let reads = detail.spec.ingredients_read().into_iter().collect();
        let form = AreaForm::from_spec(detail.spec.clone());
        Ok(AreaView { detail, form, reads })
    }

    /// One area with what it does in plain words (`area areas show`).
    pub async fn describe_area(&self, id: i64) -> Result<AreaReport, ApiError> {
        let user = self.user().await?;
        let detail = self.inner.areas.get(user.id, id).await?;
        let review = summarize(&self.inner.catalog, &detail.spec);
        Ok(AreaReport { detail, review })
    }

    /// Switches an area on (resuming it if paused). An area that was off says what it will do
    /// (an import never enabled, or one switched off), so the user reads it before it runs.
    pub async fn enable_area(&self, id: i64) -> Result<SwitchedOn, ApiError> {
        let user = self.user().await?;
        let before = self.inner.areas.get(user.id, id).await?;
        let review = (before.summary.status == AreaStatus::Off).then(|| summarize(&self.inner.catalog, &before.spec));
        let area = self.inner.areas.set_enabled(user.id, id, true).await?;
        self.areas_changed().await;
        Ok(SwitchedOn { area, review })
    }

    /// The editor's advanced (JSON) condition read by core's own reader: invalid JSON or a
    /// wrong shape comes back as an `invalid` error on the `condition` field, in core's words.
    pub fn read_condition(&self, text: &str) -> Result<Condition, ApiError> {
        read_condition(text).map_err(|e| ApiError::invalid("condition", e))
    }

    /// Checks a form without saving it; the error names the field to fix.
    /// A secret left as its placeholder (`<secret: webhook_url>`, an edit keeping the stored
    /// value) is checked as if it held a valid value: the stored one was checked when saved.
    pub fn validate_area(&self, form: AreaForm) -> Result<(), ApiError> {
        let mut spec = form.into_spec(&self.inner.catalog)?;
        let _ = crate::areas::secrets::fill::<()>(&self.inner.catalog, &mut spec, |field| {
            Ok(if field.name.contains('.') { "kept".into() } else { "https://kept.invalid/kept".into() })
        });
        crate::areas::validate(&self.inner.catalog, &spec)?;
        Ok(())
    }

    /// Creates an area from the app's own editor (enabled areas start by recording what already
    /// exists). These are the user's own, so unlike [`App::import_areas`] they start as the form
    /// says.
    pub async fn create_area(&self, form: AreaForm) -> Result<AreaSummary, ApiError> {
        let user = self.user().await?;
        let spec = form.into_spec(&self.inner.catalog)?;
        let area = self.inner.areas.add(user.id, spec).await?;
        self.areas_changed().await;
        Ok(area)
    }

    /// Replaces an area's definition.
    pub async fn update_area(&self, id: i64, form: AreaForm) -> Result<AreaSummary, ApiError> {
        let user = self.user().await?;
        let spec = form.into_spec(&self.inner.catalog)?;
        let area = self.inner.areas.update(user.id, id, spec).await?;
        self.areas_changed().await;
        Ok(area)
    }

    /// The on/off switch; switching on also resumes a paused area.
    pub async fn set_area_enabled(&self, id: i64, enabled: bool) -> Result<AreaSummary, ApiError> {
        let user = self.user().await?;
        let area = self.inner.areas.set_enabled(user.id, id, enabled).await?;
        self.areas_changed().await;
        Ok(area)
    }

    /// Deletes an area and its history.
    pub async fn delete_area(&self, id: i64) -> Result<(), ApiError> {
        let user = self.user().await?;
        self.inner.areas.remove(user.id, id).await?;
        self.areas_changed().await;
        self.changed(ChangeKind::Runs);
        Ok(())
    }

    /// The area file (pretty JSON) of an area, for "export": each secret parameter is a
    /// placeholder (`<secret: webhook_url>`), so the file can be shared.
    pub async fn export_area(&self, id: i64) -> Result<String, ApiError> {
        let user = self.user().await?;
        let spec = self.inner.areas.export(user.id, id).await?;
        serde_json::to_string_pretty(&spec)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot encode JSON: {e}")))
    }

    /// What the areas of a file would do, in plain words, without storing anything: the import
    /// dialog shows this (and the private-network checkbox when one asks for it) before
    /// [`App::import_areas`]. A file that would not import answers its validation error.
    ///
    /// `secrets` are the values of the file's `<secret: …>` placeholders (keyed like
    /// [`App::import_areas_with_secrets`]); a placeholder without one answers `secrets_needed`
    /// naming every such field, so the dialog can ask for them before the review.
    pub fn review_import(
        &self,
        text: &str,
        secrets: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<TrustSummary>, ApiError> {
        let mut specs = self.parse_import(text)?;
        crate::areas::secrets::fill_list(&self.inner.catalog, &mut specs, secrets);
        let missing: Vec<_> = specs
            .iter()
            .enumerate()
            .flat_map(|(i, spec)| {
                crate::areas::secrets::missing(&self.inner.catalog, spec)
                    .into_iter()
                    .map(move |f| crate::areas::secrets::SecretField { path: format!("[{i}].{}", f.path), ..f })
            })
            .collect();
        if !missing.is_empty() {
            return Err(crate::areas::AreaError::SecretsNeeded(crate::areas::secrets::SecretsNeeded(missing)).into());
        }
        let indexed = text.trim_start().starts_with('[');
        for (i, spec) in specs.iter().enumerate() {
            crate::areas::validate(&self.inner.catalog, spec).map_err(|e| {
                if indexed {
                    e.within(&format!("[{i}]"))
                } else {
                    e
                }
            })?;
        }
        Ok(specs.iter().map(|spec| summarize(&self.inner.catalog, spec)).collect())
    }

    /// Imports an area file (one area or a list): all or nothing. An area file is untrusted, so
    /// its areas are created switched off (the user enables them after reading their
    /// summaries), and `allow_private_network` in it is refused unless `allow_private_network`
    /// says the user ticked the checkbox. A file holding secret placeholders (an export) fails
    /// with code `secrets_needed` naming the fields; the UI asks for them and calls
    /// [`App::import_areas_with_secrets`].
    pub async fn import_areas(&self, text: &str, allow_private_network: bool) -> Result<Vec<ImportedArea>, ApiError> {
        self.import_areas_with_secrets(text, allow_private_network, &Default::default()).await
    }

    /// Imports an area file like [`App::import_areas`], filling its secret placeholders from
    /// `secrets` (keyed by the paths a `secrets_needed` error named:
    /// `[0].reactions[0].params.webhook_url`). The values are sealed like any secret parameter.
    pub async fn import_areas_with_secrets(
        &self,
        text: &str,
        allow_private_network: bool,
        secrets: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<ImportedArea>, ApiError> {
        // The app and the server do not grant programs from a file: areas that run one are
        // built in the editor, where the user ticks the permission next to the program.
        let options = ImportOptions { enable: false, allow_private_network, allow_programs: false };
        self.import_area_file(text, options, secrets).await
    }

    /// Imports an area file with the given options (`area areas add`, whose `--enable` may
    /// switch the areas on at once; a file's own `"enabled": false` still keeps one off). The
    /// secret placeholders are filled from `secrets` as for [`App::import_areas_with_secrets`];
    /// a `secrets_needed` error names the ones still missing, in file order.
    pub async fn import_area_file(
        &self,
        text: &str,
        options: ImportOptions,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Vec<ImportedArea>, ApiError> {
        let user = self.user().await?;
        let mut specs = self.parse_import(text)?;
        crate::areas::secrets::fill_list(&self.inner.catalog, &mut specs, secrets);
        let indexed = text.trim_start().starts_with('[');
        let added = self.inner.areas.import(user.id, specs, indexed, options).await?;
        self.areas_changed().await;
        Ok(added)
    }

    /// Replaces an area's definition from an area file holding one area (the shape `export`
    /// prints). A file is untrusted: private-network access the area did not have needs
    /// `allow_private_network`. A secret placeholder left as exported keeps the stored value;
    /// one with nothing stored comes back as `secrets_needed`, to be given in `secrets` (keyed
    /// by the paths named, `reactions[0].params.webhook_url`). The cursor is kept unless the
    /// action's parameters change.
    pub async fn edit_area_from_file(
        &self,
        id: i64,
        text: &str,
        allow_private_network: bool,
        secrets: &BTreeMap<String, String>,
    ) -> Result<AreaSummary, ApiError> {
        let user = self.user().await?;
        let mut specs = self.parse_import(text)?;
        if specs.len() != 1 {
            return Err(ApiError::invalid(
                "",
                format!("an edit takes a file with one area, this one holds {}", specs.len()),
            ));
        }
        let mut spec = specs.remove(0);
        if !secrets.is_empty() {
            crate::areas::secrets::fill_from(&self.inner.catalog, &mut spec, secrets);
        }
        let area = self.inner.areas.update_from_file(user.id, id, spec, allow_private_network).await?;
        self.areas_changed().await;
        Ok(area)
    }

    fn parse_import(&self, text: &str) -> Result<Vec<crate::areas::AreaSpec>, ApiError> {
        if text.len() > crate::areas::MAX_AREA_FILE_BYTES {
            return Err(ApiError::invalid(
                "",
                format!(
                    "the file is larger than {} KiB: is it an area file?",
                    crate::areas::MAX_AREA_FILE_BYTES / 1024
                ),
            ));
        }
        Ok(parse_area_file(text)?)
    }

    /// Fetches the action's current upstream items once and returns the newest one's values,
    /// so the ingredient picker can show real data. Records nothing.
    pub async fn sample_event(
        &self,
        service: &str,
        action: &str,
        params: std::collections::BTreeMap<String, String>,
        allow_private_network: bool,
    ) -> Result<SampleEvent, ApiError> {
        let user = self.user().await?;
        let known = self.inner.catalog.service(service);
        // An action that also reads public resources (an open ntfy topic) samples without a
        // connection, as the engine polls it.
        let needs_credential = match known.and_then(|s| s.actions.get(action)) {
            Some(ActionKind::Polled(polled)) => polled.needs_credential(),
            _ => true,
        };
        let credential = match known.and_then(|s| s.manifest.connection_id()) {
            Some(connection_id) => match self.connections()?.get(user.id, connection_id).await? {
                Some(stored) => Some(stored.secret.credential()),
                None if !needs_credential => None,
                None => {
                    return Err(ApiError::new(
                        ErrorCode::Connection,
                        format!("connect {connection_id} first to load a sample"),
                    ))
                }
            },
            None => None,
        };
        sample::load(&self.inner.catalog, &self.inner.http, service, action, params, credential, allow_private_network)
            .await
    }

    // ---- runs --------------------------------------------------------------------------------

    /// The newest runs, across areas or of one area.
    pub async fn runs(&self, area_id: Option<i64>, limit: u32) -> Result<Vec<RunRecord>, ApiError> {
        let user = self.user().await?;
        Ok(history::list_runs(self.inner.store.pool(), user.id, area_id, i64::from(limit.clamp(1, 10_000))).await?)
    }

    /// Queues a failed (or unknown-outcome) run again; the engine delivers it like a retry.
    pub async fn rerun(&self, run_id: i64) -> Result<(), ApiError> {
        let user = self.user().await?;
        history::requeue(self.inner.store.pool(), user.id, run_id, chrono::Utc::now().timestamp_millis())
            .await
            .map_err(|e| match e {
                history::RequeueError::Database(e) => ApiError::from(e),
                e @ history::RequeueError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
                other => ApiError::new(ErrorCode::Conflict, other.to_string()),
            })?;
        self.changed(ChangeKind::Runs);
        Ok(())
    }
}
