//! The trigger engine: turns events observed on services into one run per area and event, and
//! delivers it, durably (ARCHITECTURE.md, "Engine contract").
//!
//! Parts, one job each:
//! - [`registry`]: the enabled, unpaused areas compiled from the store (validated again, secret
//!   parameters unsealed, templates parsed);
//! - [`scheduler`]: when things happen — shared polls (one request per poll group and interval,
//!   conditional on the last ETag/Last-Modified), fetched actions (a connector's own I/O, one
//!   area at a time), timers, the scan for due runs, and reloading the areas when they change;
//! - [`writer`]: the single group-commit writer — seen keys and queued runs in one transaction,
//!   the fan-out budget, every other engine write;
//! - [`delivery`]: renders and runs reactions with idempotency keys, retries with backoff,
//!   records outcomes, and after a crash turns interrupted non-idempotent runs into
//!   `unknown_outcome`;
//! - [`webhook`]: the bounded loopback HTTP listener for pushed events;
//! - [`history`]: listing runs, re-queuing a failed one, pruning runs and seen keys.
//!
//! Every task the engine starts but the writer lives in one task tracker, so
//! [`Engine::shutdown`] can let them finish within the grace period before it flushes the
//! writer. One `Engine` per data directory: an exclusive lock on `engine.lock` keeps a second
//! engine (a daemon and a `run --once`, say) from delivering the same runs.

mod batch_tx;
mod changes;
mod claims;
pub mod delivery;
pub mod history;
pub mod registry;
pub mod scheduler;
mod set_writes;
pub mod tls;
pub mod webhook;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

use crate::catalog::Catalog;
use crate::connector::Notifier;
use crate::net::{HostLimiter, HttpClient, NetConfig};
use crate::store::Store;
use registry::CompiledArea;
use writer::Writer;

/// Tunables of an engine; defaults suit a personal machine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The services areas may use, with the settings they were built with.
    pub catalog: Catalog,
    /// Where the webhook listener binds; `None` runs no listener.
    pub webhook_listen: Option<SocketAddr>,
    /// Consecutive failures after which an area is paused.
    pub pause_after: u32,
    /// Reactions delivered concurrently.
    pub max_concurrent_deliveries: usize,
    /// How long a stopping engine waits for in-flight deliveries.
    pub grace: Duration,
    /// How often the engine looks for area edits made by other processes.
    pub reload_every: Duration,
    /// Largest webhook body accepted.
    pub max_webhook_body: usize,
    /// How long a webhook sender may take to send a request's headers (and how long an idle
    /// kept-alive connection stays open): a half-open connection is closed after this.
    pub webhook_header_timeout: Duration,
    /// How long a webhook sender may take to send a request's body once its headers are in.
    pub webhook_body_timeout: Duration,
    /// Webhook connections open at once; connections over the cap are closed at once.
    pub webhook_max_connections: usize,
    /// Accepted webhook events held in memory until delivered; when full, senders get `503`
    /// with `Retry-After` instead of Area growing without bound.
    pub webhook_queue: usize,
    /// How long a sender finding the queue full waits for room before that `503`: a burst is
    /// absorbed by answering a little later instead of by errors, while a flood is still told
    /// to come back (each waiting sender holds one of the capped connections).
    pub webhook_queue_wait: Duration,
    pub net: NetConfig,
    /// Lets polls run faster than each service's minimum interval (benchmarks, tests).
    pub ignore_min_interval: bool,
    /// How long runs this process holds stay its own on a shared store (`AREA_RUN_LEASE_SECS`).
    pub leases: writer::Leases,
    /// The settings the shell started with (master key, OAuth2 apps…), passed on to what the
    /// engine opens.
    pub settings: crate::settings::Settings,
    /// More routes the listener serves beside `/hooks/…` and `/about.json`: an Area server's
    /// API and web app, under the same connection limits and timeouts as webhooks.
    pub routes: Option<axum::Router>,
    /// Serve the listener over TLS with this configuration ([`tls::load`]) instead of plain HTTP.
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl EngineConfig {
    /// The defaults, for areas over `catalog`; the shared client's private-network switch and
    /// the minimum-interval override come from the settings the catalog was built with.
    pub fn new(catalog: Catalog) -> Self {
        let settings = catalog.settings().clone();
        EngineConfig {
            catalog,
            webhook_listen: None,
            pause_after: 10,
            max_concurrent_deliveries: 256,
            grace: Duration::from_secs(10),
            reload_every: Duration::from_secs(1),
            max_webhook_body: 1024 * 1024,
            webhook_header_timeout: Duration::from_secs(10),
            webhook_body_timeout: Duration::from_secs(10),
            webhook_max_connections: 256,
            webhook_queue: 1024,
            webhook_queue_wait: Duration::from_secs(1),
            net: NetConfig::from_settings(&settings),
            ignore_min_interval: settings.flag(crate::settings::IGNORE_MIN_INTERVAL),
            leases: settings.run_lease_secs().map_or_else(writer::Leases::default, writer::Leases::from_run_secs),
            settings,
            routes: None,
            tls: None,
        }
    }
}

/// Why an engine could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("another Area engine (daemon or `area run`) is already running on {0}: stop it first")]
    AlreadyRunning(String),
    #[error("cannot lock the data directory {path}: {source}")]
    Lock { path: String, source: std::io::Error },
    #[error("cannot listen for webhooks on {addr}: {source} (choose another with --listen)")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("HTTP client setup failed: {0}")]
    Net(#[from] crate::net::NetError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot open the database for the engine's writer: {0}")]
    Writer(#[from] batch_tx::TxError),
}

/// Runnable areas by id and by webhook token.
#[derive(Default)]
pub struct AreaTable {
    pub by_id: HashMap<i64, Arc<CompiledArea>>,
    pub by_token: HashMap<String, i64>,
}

/// State shared by the engine's tasks.
pub struct Shared {
    pub pool: AnyPool,
    /// This process's name in the runs and polls it holds (random per start), so that a
    /// process that lost one to another cannot write it any more (fencing).
    pub owner: String,
    /// The store is shared with other Area processes (PostgreSQL): polls and queued runs are
    /// claimed before they are worked on.
    pub shared_store: bool,
    pub writer: Writer,
    pub http: HttpClient,
    pub limiter: HostLimiter,
    pub notifier: Arc<dyn Notifier>,
    pub config: EngineConfig,
    pub areas: RwLock<Arc<AreaTable>>,
    /// Runs being delivered by this process (so the retry scanner does not start them twice).
    pub in_flight: Mutex<HashSet<i64>>,
    pub delivery_slots: Arc<Semaphore>,
    pub tasks: TaskTracker,
    /// Stored credentials; `None` when the master key could not be loaded (areas that need a
    /// connection then report why).
    pub connections: Option<crate::connections::Connections>,
    pub connections_error: Option<String>,
    /// Area failures seen by this engine (bounded), for `run --once` reports.
    pub area_errors: Mutex<Vec<String>>,
    /// Set when an area's cursor changed the request it needs: the scheduler re-plans polls.
    pub replan: std::sync::atomic::AtomicBool,
    /// Reloads asked for by [`Engine::reload_areas`] (a counter), the wake-up that starts them (and
    /// brings forward a fetch its source signalled),
    /// and the last request the scheduler has served.
    pub reload_requested: AtomicU64,
    pub reload_wake: tokio::sync::Notify,
    pub reload_done: watch::Sender<u64>,
    /// Looks for edits made by another process asked for now rather than at the next periodic
    /// check ([`Shared::look_for_edits_now`]), and the last one served.
    pub edits_check_requested: AtomicU64,
    pub edits_check_done: watch::Sender<u64>,
    /// Runs this process delivered successfully / finished as failed (for reports).
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
}

impl Shared {
    /// Has the scheduler look for area edits by other processes now (and reload if there are
    /// any), returning once it has or after a second. For an unknown webhook token: the area may
    /// have been created a moment ago by the window or the `area` command, before the periodic
    /// check. Concurrent asks share one check, which is one cheap query when nothing changed.
    pub async fn look_for_edits_now(&self) {
        let wanted = self.edits_check_requested.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1;
        let mut done = self.edits_check_done.subscribe();
        self.reload_wake.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(1), done.wait_for(|served| *served >= wanted)).await;
    }

    /// Records an area failure (an [`WriteOp::AreaFailed`]) and remembers it for reports.
    pub fn area_failed(&self, op: writer::WriteOp) {
        if let writer::WriteOp::AreaFailed { area_ids, error, .. } = &op {
            let mut errors = self.area_errors.lock().unwrap_or_else(|e| e.into_inner());
            for id in area_ids {
                if errors.len() < 100 {
                    errors.push(format!("area {id}: {error}"));
                }
            }
        }
        self.writer.send(op);
    }

    /// Credentials for `service` were refused: mark the owner's connection `needs reconnect`
    /// and pause the areas using it (in the background, inside the engine's task tracker so a
    /// stopping engine finishes it; the caller records its own failure).
    pub fn credentials_refused(&self, user_id: i64, service: &str) {
        let Some(manifest) = self.config.catalog.service(service).map(|s| s.manifest.clone()) else { return };
        let (Some(connection_id), Some(connections)) = (manifest.connection_id(), self.connections.clone()) else {
            return;
        };
        let reason = format!("{} refused the credentials: run `area connect {connection_id}`", manifest.name);
        let http = self.http.clone();
        // In the engine's tracker: a stopping engine (the end of `run --once`) waits for the
        // mark instead of closing the database under it.
        self.tasks.spawn(async move {
            // An OAuth2 access token may just have expired: renew it (which marks the connection
            // itself if the grant is gone). An API key has no such second chance.
            let result = match connections.kind(user_id, connection_id).await {
                Ok(Some(kind)) if kind == "oauth2" => connections.refresh(user_id, connection_id).await,
                // A client-key connection renews with its refresh token and a fresh assertion
                // (which marks the connection itself if the provider refuses).
                Ok(Some(kind)) if kind == "client_key" => {
                    connections.renew_client_key(&http, user_id, connection_id).await.map(|_| ())
                }
                _ => connections.mark_needs_reconnect(user_id, connection_id, &reason).await,
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "could not renew or mark the refused connection");
            }
        });
    }

    /// The runnable area with this id, if any.
    pub fn area(&self, id: i64) -> Option<Arc<CompiledArea>> {
        self.areas.read().unwrap_or_else(|e| e.into_inner()).by_id.get(&id).cloned()
    }

    /// A snapshot of the runnable areas.
    pub fn table(&self) -> Arc<AreaTable> {
        self.areas.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Renews OAuth2 access tokens and pasted tokens (services with a `TokenRenewal`) before they
/// expire. One task per engine, and the connections' refresh lock, make renewals single-flight.
async fn refresh_tokens_forever(
    connections: crate::connections::Connections,
    http: HttpClient,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match connections.refresh_expiring().await {
            Ok(n) if n > 0 => tracing::info!(refreshed = n, "renewed expiring access tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "looking for expiring tokens failed"),
        }
        match connections.renew_pasted_tokens(&http).await {
            Ok(n) if n > 0 => tracing::info!(renewed = n, "renewed pasted tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "looking for pasted tokens to renew failed"),
        }
        match connections.renew_client_keys(&http).await {
            Ok(n) if n > 0 => tracing::info!(renewed = n, "renewed client-key access tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "looking for client-key tokens to renew failed"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Holds the data directory's engine lock for as long as it lives.
pub(crate) struct EngineLock(#[allow(dead_code)] File);

/// Takes the data directory's engine lock: one engine per directory, and nothing that must not
/// run beside one (copying the database away).
pub(crate) fn lock_data_dir(store: &Store) -> Result<EngineLock, EngineError> {
    let path = store.dir().join("engine.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| EngineError::Lock { path: path.display().to_string(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(EngineLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::AlreadyRunning(store.dir().display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(EngineError::Lock { path: path.display().to_string(), source })
        }
    }
}

/// A running engine. Dropping it without [`Engine::shutdown`] aborts its tasks.
pub struct Engine {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    writer_task: tokio::task::JoinHandle<()>,
    webhook_addr: Option<SocketAddr>,
    _lock: EngineLock,
}

/// What one `run --once` pass did.
#[derive(Debug, Clone, Default, serde::Serialize, specta::Type, schemars::JsonSchema)]
pub struct RunOnceReport {
    pub areas_polled: u32,
    pub requests: u32,
    pub runs_queued: u32,
    pub runs_delivered: u32,
    pub runs_failed: u32,
    pub errors: Vec<String>,
}

/// A fresh name for this process's engine: random, so a restarted process is a new owner.
fn new_owner() -> String {
    use rand::Rng;
    let bytes: [u8; 8] = rand::rng().random();
    hex::encode(bytes)
}

impl Engine {
    async fn prepare(
        store: &Store,
        config: EngineConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Result<(Arc<Shared>, tokio::task::JoinHandle<()>, EngineLock), EngineError> {
        let lock = lock_data_dir(store)?;
        let shared_store = store.backend() == crate::store::Backend::Postgres;
        let (unknown, requeued) = delivery::recover(store.pool(), shared_store).await?;
        if unknown + requeued > 0 {
            tracing::info!(unknown, requeued, "recovered runs left by a previous engine");
        }
        let http = HttpClient::new(config.net.clone())?;
        let (connections, connections_error) =
            match crate::connections::MasterKey::load_with(store.dir(), &config.settings) {
                Ok(key) => (
                    Some(
                        crate::connections::Connections::new(store.clone(), key, config.catalog.clone())
                            .with_settings(config.settings.clone()),
                    ),
                    None,
                ),
                Err(e) => (None, Some(e.to_string())),
            };
        let owner = new_owner();
        let (writer, writer_task) = Writer::spawn(store, &owner, config.leases)?;
        let shared = Arc::new(Shared {
            pool: store.pool().clone(),
            owner,
            shared_store,
            writer,
            http,
            limiter: HostLimiter::new(),
            notifier,
            delivery_slots: Arc::new(Semaphore::new(config.max_concurrent_deliveries.max(1))),
            config,
            areas: RwLock::new(Arc::new(AreaTable::default())),
            in_flight: Mutex::new(HashSet::new()),
            tasks: TaskTracker::new(),
            connections,
            connections_error,
            replan: std::sync::atomic::AtomicBool::new(false),
            reload_requested: AtomicU64::new(0),
            reload_wake: tokio::sync::Notify::new(),
            reload_done: watch::channel(0).0,
            edits_check_requested: AtomicU64::new(0),
            edits_check_done: watch::channel(0).0,
            area_errors: Mutex::new(Vec::new()),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        Ok((shared, writer_task, lock))
    }

    /// Starts the engine: scheduler, retry scanner, pruning and (if configured) the webhook
    /// listener. Returns once everything is scheduled.
    pub async fn start(
        store: &Store,
        config: EngineConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Engine, EngineError> {
        let listen = config.webhook_listen;
        let (shared, writer_task, lock) = Engine::prepare(store, config, notifier).await?;
        let (stop, stop_rx) = watch::channel(false);
        // Areas start with fresh access tokens rather than failing their first poll.
        if let Some(connections) = &shared.connections {
            if let Err(e) = connections.refresh_expiring().await {
                tracing::warn!(error = %e, "renewing access tokens at start failed");
            }
            if let Err(e) = connections.renew_pasted_tokens(&shared.http).await {
                tracing::warn!(error = %e, "renewing pasted tokens at start failed");
            }
        }
        let mut scheduler = scheduler::Scheduler::new(shared.clone());
        scheduler.reload().await?;
        let webhook_addr = match listen {
            Some(addr) => Some(webhook::serve(shared.clone(), addr, stop_rx.clone()).await?),
            None => None,
        };
        // Every engine task lives in the tracker, so `shutdown` drains them all.
        shared.tasks.spawn(scheduler.run(stop_rx.clone()));
        shared.tasks.spawn(history::prune_forever(shared.pool.clone(), stop_rx.clone()));
        if let Some(url) = store.server_url() {
            shared.tasks.spawn(changes::listen(shared.clone(), url.to_string(), stop_rx.clone()));
        }
        if let Some(connections) = shared.connections.clone() {
            shared.tasks.spawn(refresh_tokens_forever(connections, shared.http.clone(), stop_rx));
        }
        Ok(Engine { shared, stop, writer_task, webhook_addr, _lock: lock })
    }

    /// Makes the running engine pick up area edits now instead of at its next periodic check,
    /// and returns once it has (or after two seconds): a shell that just switched an area off
    /// can promise that nothing more fires.
    pub async fn reload_areas(&self) {
        let wanted = self.shared.reload_requested.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1;
        let mut done = self.shared.reload_done.subscribe();
        self.shared.reload_wake.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(2), done.wait_for(|served| *served >= wanted)).await;
    }

    /// The webhook listener's actual address (the port may have been chosen by the OS).
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook_addr
    }

    /// This engine's name in the runs and polls it holds on the store (random per start), for
    /// logs and for telling the processes of a cluster apart.
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    /// Stops polling and listening, lets in-flight deliveries finish within the grace period,
    /// and commits everything recorded.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.shared.tasks.close();
        if tokio::time::timeout(self.shared.config.grace, self.shared.tasks.wait()).await.is_err() {
            tracing::warn!("grace period over; runs still in flight stay queued and resume at the next start");
        }
        self.shared.writer.flush().await;
        let Engine { shared, writer_task, .. } = self;
        drop(shared);
        let _ = tokio::time::timeout(Duration::from_secs(5), writer_task).await;
    }

    /// Polls every enabled area once, fires due timers, delivers everything due, and returns.
    pub async fn run_once(
        store: &Store,
        config: EngineConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Result<RunOnceReport, EngineError> {
        let mut report = RunOnceReport::default();
        let (shared, writer_task, _lock) = Engine::prepare(store, config, notifier).await?;
        if let Some(connections) = &shared.connections {
            if let Err(e) = connections.refresh_expiring().await {
                report.errors.push(format!("renewing access tokens failed: {e}"));
            }
            if let Err(e) = connections.renew_pasted_tokens(&shared.http).await {
                report.errors.push(format!("renewing pasted tokens failed: {e}"));
            }
            if let Err(e) = connections.renew_client_keys(&shared.http).await {
                report.errors.push(format!("renewing client-key tokens failed: {e}"));
            }
        }
        let mut scheduler = scheduler::Scheduler::new(shared.clone());
        scheduler.reload().await?;
        let polled = scheduler.poll_all_once().await;
        report.areas_polled = polled.areas_polled;
        report.requests = polled.requests;
        shared.tasks.close();
        shared.tasks.wait().await;
        shared.tasks.reopen();
        loop {
            let due = delivery::due_runs(&shared, 1000).await?;
            let fresh: Vec<_> = {
                let in_flight = shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                due.into_iter().filter(|r| !in_flight.contains(&r.run_id)).collect()
            };
            if fresh.is_empty() {
                break;
            }
            report.runs_queued += fresh.len() as u32;
            for run in fresh {
                delivery::dispatch(&shared, run);
            }
            shared.tasks.close();
            shared.tasks.wait().await;
            shared.tasks.reopen();
            shared.writer.flush().await;
        }
        shared.tasks.close();
        shared.tasks.wait().await;
        shared.writer.flush().await;
        report.errors.extend(shared.area_errors.lock().unwrap_or_else(|e| e.into_inner()).drain(..));
        report.runs_delivered = shared.delivered.load(Ordering::Relaxed) as u32;
        report.runs_failed = shared.failed.load(Ordering::Relaxed) as u32;
        drop(scheduler);
        drop(shared);
        let _ = tokio::time::timeout(Duration::from_secs(5), writer_task).await;
        Ok(report)
    }
}
