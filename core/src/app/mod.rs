//! The app facade: everything a graphical shell offers, as one cheap-to-clone handle.
//!
//! The desktop app (and a later HTTP server mode) calls these methods and nothing else: each is
//! a plain async function over the store, accounts, catalog, connections and the in-process
//! engine, returning serde/specta types and an [`ApiError`] the UI can place on a form field.
//! The session of the signed-in user lives in the data directory (the same file the `area`
//! command uses), so signing in once serves both shells.

mod cards;
mod error;
mod form;
mod oauth_flow;
mod sample;
pub mod session;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::accounts::{Accounts, User};
use crate::areas::{parse_area_file, AreaDetail, AreaSummary, Areas, DEFAULT_WEBHOOK_LISTEN, WEBHOOK_ADDR_FILE};
use crate::catalog::{ActionKind, AuthKind, Catalog, ServiceManifest};
use crate::connections::{ConnectionInfo, Connections, MasterKey, Secret};
use crate::connector::Notifier;
use crate::engine::history::{self, RunRecord};
use crate::engine::{Engine, EngineConfig};
use crate::net::{HttpClient, NetConfig};
use crate::paths;
use crate::store::{Store, StoreError};

pub use cards::{AreaCard, Fix, LastRun};
pub use error::ApiError;
pub use form::{AreaForm, FormStep};
pub use oauth_flow::{open_in_browser, parse_deep_link, OAuthVia, BROWSER_ENV, DEEP_LINK_REDIRECT};
pub use sample::{SampleEvent, SampleValue};

/// Environment variable naming the webhook listener's address (`127.0.0.1:8787` by default;
/// port 0 lets the OS choose, which tests use).
pub const WEBHOOK_LISTEN_ENV: &str = "AREA_WEBHOOK_LISTEN";
/// File in the data directory whose presence means "pause all": the engine stays stopped
/// across restarts until the user resumes it.
pub const PAUSED_FILE: &str = "engine.paused";

/// A service as the app lists it: its manifest, which connection it uses, and which of its
/// actions can show a sample event.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ServiceEntry {
    pub manifest: ServiceManifest,
    /// The connection its areas use (`google` for Gmail), or `None` when it needs none.
    pub connection_id: Option<String>,
    /// Actions whose latest upstream item can be loaded as a sample before saving an area.
    pub sample_actions: Vec<String>,
}

/// One area with its editor form.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AreaView {
    pub detail: AreaDetail,
    pub form: AreaForm,
}

/// Whether the in-process engine runs, for the status pill and the tray.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Session,
    Areas,
    Runs,
    Connections,
    Engine,
}

/// A change notification for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AppEvent {
    pub kind: ChangeKind,
}

/// Opens URLs in the user's browser; replaceable so tests can play the browser.
pub type UrlOpener = Arc<dyn Fn(&str) + Send + Sync>;

/// The app: cheap to clone, safe to share between commands and background tasks.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    accounts: Accounts,
    catalog: Catalog,
    areas: Areas,
    /// `Err` holds why the master key could not be loaded (connections then say so).
    connections: Result<Connections, String>,
    notifier: Arc<dyn Notifier>,
    http: HttpClient,
    engine: tokio::sync::Mutex<Option<Engine>>,
    status: Mutex<EngineStatus>,
    events: broadcast::Sender<AppEvent>,
    oauth: oauth_flow::Flows,
    opener: Mutex<UrlOpener>,
    stop_watch: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Opens the data directory (`None`: `AREA_DATA_DIR` or the platform default), and starts
    /// the engine in this process unless "pause all" is on. An engine that cannot start (a
    /// daemon already runs on this data) is reported in [`App::engine_status`], not as an error:
    /// the rest of the app still works.
    pub async fn open(data_dir: Option<PathBuf>, notifier: Arc<dyn Notifier>) -> Result<App, ApiError> {
        let dir = paths::data_dir(data_dir).ok_or(StoreError::NoDataDir)?;
        let store = Store::open(&dir).await?;
        let catalog = Catalog::builtin();
        let connections = MasterKey::load(store.dir())
            .map(|key| Connections::new(store.clone(), key, catalog.clone()))
            .map_err(|e| e.to_string());
        let http = HttpClient::new(NetConfig::from_env()).map_err(|e| ApiError::new("internal", e.to_string()))?;
        let (events, _) = broadcast::channel(64);
        let (stop_watch, stop_rx) = tokio::sync::watch::channel(false);
        let app = App {
            inner: Arc::new(Inner {
                accounts: Accounts::new(store.clone()),
                areas: Areas::new(store.clone(), catalog.clone()),
                store,
                catalog,
                connections,
                notifier,
                http,
                engine: tokio::sync::Mutex::new(None),
                status: Mutex::new(EngineStatus::default()),
                events,
                oauth: oauth_flow::Flows::default(),
                opener: Mutex::new(Arc::new(|url: &str| oauth_flow::open_in_browser(url))),
                stop_watch,
            }),
        };
        let paused = app.inner.store.dir().join(PAUSED_FILE).exists();
        if paused {
            app.set_status(EngineStatus { paused: true, ..EngineStatus::default() });
        } else {
            app.start_engine().await;
        }
        tokio::spawn(watch::watch_changes(app.inner.store.pool().clone(), app.inner.events.clone(), stop_rx));
        Ok(app)
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
        let _ = std::fs::remove_file(self.inner.store.dir().join(WEBHOOK_ADDR_FILE));
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
        if let Some(engine) = self.inner.engine.lock().await.as_ref() {
            engine.reload_areas().await;
        }
        self.changed(ChangeKind::Areas);
    }

    fn set_status(&self, status: EngineStatus) {
        *self.inner.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
        self.changed(ChangeKind::Engine);
    }

    // ---- engine ------------------------------------------------------------------------------

    /// Whether the engine runs, is paused, or could not start.
    pub fn engine_status(&self) -> EngineStatus {
        self.inner.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// "Pause all" (stops the engine; remembered across restarts) or resume.
    pub async fn set_paused(&self, paused: bool) -> Result<EngineStatus, ApiError> {
        let marker = self.inner.store.dir().join(PAUSED_FILE);
        if paused {
            std::fs::write(&marker, b"paused by the user\n").map_err(|e| {
                ApiError::new("internal", format!("cannot record the pause in {}: {e}", marker.display()))
            })?;
            if let Some(engine) = self.inner.engine.lock().await.take() {
                engine.shutdown().await;
            }
            let _ = std::fs::remove_file(self.inner.store.dir().join(WEBHOOK_ADDR_FILE));
            self.set_status(EngineStatus { paused: true, ..EngineStatus::default() });
        } else {
            if marker.exists() {
                std::fs::remove_file(&marker).map_err(|e| {
                    ApiError::new("internal", format!("cannot clear the pause in {}: {e}", marker.display()))
                })?;
            }
            self.start_engine().await;
        }
        Ok(self.engine_status())
    }

    async fn start_engine(&self) {
        let mut slot = self.inner.engine.lock().await;
        if slot.is_some() {
            return;
        }
        let listen = std::env::var(WEBHOOK_LISTEN_ENV).ok().filter(|v| !v.trim().is_empty());
        let listen: Result<SocketAddr, String> = listen
            .as_deref()
            .unwrap_or(DEFAULT_WEBHOOK_LISTEN)
            .trim()
            .parse()
            .map_err(|e| format!("{WEBHOOK_LISTEN_ENV} is not an address like 127.0.0.1:8787: {e}"));
        let base = EngineConfig {
            ignore_min_interval: std::env::var("AREA_IGNORE_MIN_INTERVAL").is_ok_and(|v| v == "1"),
            ..EngineConfig::default()
        };
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
                let webhook_base = engine.webhook_addr().map(|addr| {
                    let _ = std::fs::write(self.inner.store.dir().join(WEBHOOK_ADDR_FILE), addr.to_string());
                    format!("http://{}", crate::areas::webhook_listen_addr(self.inner.store.dir()))
                });
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

    // ---- session -----------------------------------------------------------------------------

    /// The signed-in user, or `None` (also when the saved session expired).
    pub async fn session_user(&self) -> Result<Option<User>, ApiError> {
        let Some(token) = session::saved_token(self.inner.store.dir()) else { return Ok(None) };
        match self.inner.accounts.authenticate(&token).await {
            Ok(user) => Ok(Some(user)),
            Err(crate::accounts::AccountError::SessionExpired | crate::accounts::AccountError::NotLoggedIn) => {
                session::forget(self.inner.store.dir());
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn user(&self) -> Result<User, ApiError> {
        self.session_user().await?.ok_or_else(ApiError::not_signed_in)
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
        self.sign_in(email, password).await
    }

    /// Signs in with email and password.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User, ApiError> {
        let session = self.inner.accounts.login(email, password).await?;
        self.remember(&session.token).await?;
        Ok(session.user)
    }

    /// Signs out (revokes the session).
    pub async fn sign_out(&self) -> Result<(), ApiError> {
        if let Some(token) = session::saved_token(self.inner.store.dir()) {
            let _ = self.inner.accounts.logout(&token).await;
        }
        session::forget(self.inner.store.dir());
        self.changed(ChangeKind::Session);
        Ok(())
    }

    /// Signs in (or links, when signed in) with a GitHub or Google identity, through the
    /// browser and a loopback redirect.
    pub async fn sign_in_with(&self, provider_id: &str) -> Result<User, ApiError> {
        use crate::signin::{self, SignInOutcome};
        let provider = signin::provider(provider_id)?;
        let scopes = provider.oauth.scopes.iter().map(|s| s.to_string()).collect();
        let client = crate::oauth::OAuthClientConfig::from_env(&provider.oauth, scopes)?;
        let tokens = self.browser_flow(&client, OAuthVia::Loopback).await?;
        let identity = signin::fetch_identity(&self.inner.http, &provider, &tokens.access_token).await?;
        let current = self.session_user().await?;
        match signin::sign_in(&self.inner.accounts, &identity, current.as_ref()).await? {
            SignInOutcome::SignedIn(session) | SignInOutcome::Created(session) => {
                self.remember(&session.token).await?;
                Ok(session.user)
            }
            SignInOutcome::Linked(user) => Ok(user),
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
                manifest: s.manifest.clone(),
            })
            .collect()
    }

    // ---- connections -------------------------------------------------------------------------

    fn connections(&self) -> Result<&Connections, ApiError> {
        self.inner
            .connections
            .as_ref()
            .map_err(|e| ApiError::new("connection", format!("stored credentials cannot be used: {e}")))
    }

    /// The signed-in user's connections (never their secrets).
    pub async fn list_connections(&self) -> Result<Vec<ConnectionInfo>, ApiError> {
        let user = self.user().await?;
        Ok(self.connections()?.list(user.id).await?)
    }

    /// Saves an API key or token (or a pasted OAuth2 access token) for a service.
    pub async fn connect_token(
        &self,
        service: &str,
        token: &str,
        label: Option<&str>,
    ) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let connections = self.connections()?;
        let manifest = connections.service(service)?.clone();
        let connection_id = manifest.connection_id().unwrap_or(manifest.id);
        let token = token.trim();
        if token.is_empty() {
            return Err(crate::connections::ConnectionError::EmptySecret.into());
        }
        let secret = match manifest.auth {
            AuthKind::ApiKey => Secret::ApiKey { key: token.to_string() },
            AuthKind::OAuth2 => Secret::Oauth2 { access_token: token.to_string(), refresh_token: None, scope: None },
            AuthKind::None => {
                return Err(crate::connections::ConnectionError::NoAuthNeeded(manifest.name.into()).into())
            }
        };
        let label = label.map(str::trim).filter(|l| !l.is_empty());
        let info = connections.save(user.id, connection_id, &secret, label, None).await?;
        self.changed(ChangeKind::Connections);
        self.areas_changed().await;
        Ok(info)
    }

    /// Connects an OAuth2 service through the browser: the redirect comes back to a loopback
    /// listener or as an `area://oauth/callback` deep link. Waits up to five minutes.
    pub async fn connect_oauth(&self, service: &str, via: OAuthVia) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let connections = self.connections()?;
        let manifest = connections.service(service)?.clone();
        let provider = manifest.oauth.as_ref().ok_or_else(|| {
            ApiError::new(
                "connection",
                format!("{} is not connected through OAuth2: paste a key instead", manifest.name),
            )
        })?;
        let client = connections.oauth_client(provider.id)?;
        let tokens = self.browser_flow(&client, via).await?;
        let info = connections.save_tokens(user.id, provider.id, &tokens, None).await?;
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
    ) -> Result<crate::oauth::OAuthTokens, ApiError> {
        let opener = self.inner.opener.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.inner.oauth.run(client, via, opener).await
    }

    /// Removes a connection; areas using it pause until it is connected again.
    pub async fn disconnect(&self, service: &str) -> Result<(), ApiError> {
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
        Ok(())
    }

    // ---- areas -------------------------------------------------------------------------------

    /// The dashboard: every area with its next check, last run and what would fix it.
    pub async fn area_cards(&self) -> Result<Vec<AreaCard>, ApiError> {
        let user = self.user().await?;
        let summaries = self.inner.areas.list(user.id).await?;
        let connections = match &self.inner.connections {
            Ok(c) => c.list(user.id).await?,
            Err(_) => Vec::new(),
        };
        cards::build(self.inner.store.pool(), &self.inner.catalog, user.id, summaries, &connections).await
    }

    /// One area with its editor form.
    pub async fn area(&self, id: i64) -> Result<AreaView, ApiError> {
        let user = self.user().await?;
        let detail = self.inner.areas.get(user.id, id).await?;
        let form = AreaForm::from_spec(detail.spec.clone());
        Ok(AreaView { detail, form })
    }

    /// Checks a form without saving it; the error names the field to fix.
    pub fn validate_area(&self, form: AreaForm) -> Result<(), ApiError> {
        let spec = form.into_spec(&self.inner.catalog)?;
        crate::areas::validate(&self.inner.catalog, &spec)?;
        Ok(())
    }

    /// Creates an area (enabled areas start by recording what already exists).
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

    /// The area file (pretty JSON) of an area, for "export".
    pub async fn export_area(&self, id: i64) -> Result<String, ApiError> {
        let user = self.user().await?;
        let spec = self.inner.areas.export(user.id, id).await?;
        serde_json::to_string_pretty(&spec).map_err(|e| ApiError::new("internal", format!("cannot encode JSON: {e}")))
    }

    /// Imports an area file (one area or a list): all or nothing.
    pub async fn import_areas(&self, text: &str) -> Result<Vec<AreaSummary>, ApiError> {
        let user = self.user().await?;
        if text.len() > crate::areas::MAX_AREA_FILE_BYTES {
            return Err(ApiError::invalid(
                "",
                format!(
                    "the file is larger than {} KiB: is it an area file?",
                    crate::areas::MAX_AREA_FILE_BYTES / 1024
                ),
            ));
        }
        let specs = parse_area_file(text)?;
        let added = self.inner.areas.add_many(user.id, specs).await?;
        self.areas_changed().await;
        Ok(added)
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
        let credential = match self.inner.catalog.service(service).and_then(|s| s.manifest.connection_id()) {
            Some(connection_id) => {
                let stored = self.connections()?.get(user.id, connection_id).await?;
                Some(
                    stored
                        .ok_or_else(|| {
                            ApiError::new("connection", format!("connect {connection_id} first to load a sample"))
                        })?
                        .secret
                        .credential(),
                )
            }
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
                other => ApiError::new("conflict", other.to_string()),
            })?;
        self.changed(ChangeKind::Runs);
        Ok(())
    }
}
