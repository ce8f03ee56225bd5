//! When things happen: shared polls, fetched actions and timers, plus the scan for due runs
//! (retries, and runs a previous process left queued) and area reloads (every
//! [`EngineConfig::reload_every`] when the areas or connections changed, at once when a shell
//! asks, or when a cursor changes the request an area needs).
//!
//! Areas that would make the same request (same method, URL, headers — hence same credentials —
//! and body, and the same network policy) form one *poll group*: one request per interval (the
//! shortest of its members'), however many areas watch the resource. The request carries
//! `If-None-Match`/`If-Modified-Since` from the previous answer only when every member has read
//! that answer (baselined and not failing). A host that answered `429` with `Retry-After` is
//! skipped until then; a group failing in a retryable way backs off with jitter. Each area reads
//! the shared response with its own parameters and cursor (areas with the same action and cursor
//! share one read), and dedupes against its own seen keys — first in memory (so an unchanged
//! feed costs no database write), then in the store (the source of truth, in the writer's
//! transaction). Fetched actions (IMAP) run per area on the same schedule and are then handled
//! like a poll's read; when their source can push (IMAP IDLE), a watcher task per area waits for
//! its signal and brings the next fetch forward (`watch_area`), the interval staying the fallback.
//!
//! [`EngineConfig::reload_every`]: super::EngineConfig::reload_every

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use super::claims;
use super::delivery::{self, dispatch};
use super::registry::{self, AreaRow, CompiledArea};
use super::writer::{NewEvent, PollUpdate, WriteOp};
use super::{AreaTable, EngineError, RunOnceReport, Shared};
use crate::areas::PauseCause;
use crate::catalog::{ActionKind, Catalog};
use crate::connector::{
    ConnectorError, Credential, ErrorClass, Event, FetchContext, HttpRequestSpec, HttpResponseData, PollContext,
    PollOutput, SourceWait,
};
use crate::net::{backoff_delay, host_key, RequestOptions};

/// Longest a failing poll group backs off.
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How often queued retries are looked for.
const RETRY_SCAN_EVERY: Duration = Duration::from_secs(1);
/// The next look for due runs while a backlog is being worked through.
const RETRY_SCAN_SOON: Duration = Duration::from_millis(50);
/// Longest wait for a pushing source's signal before asking again (IMAP IDLE: RFC 2177 asks
/// clients to re-issue it within 29 minutes).
const WATCH_MAX_WAIT: Duration = Duration::from_secs(25 * 60);
/// Longest pause between attempts of a watcher whose source keeps failing.
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// One shared read: the events, or the error's class and message.
type ReadResult = Result<Arc<PollOutput>, (ErrorClass, String)>;

/// Credentials looked up during one reload, by (user, connection).
type CredentialCache = HashMap<(i64, &'static str), Result<Option<Arc<Credential>>, String>>;

/// Per-area engine state that outlives reloads while the area's action is unchanged.
pub struct AreaRuntime {
    pub area: Arc<CompiledArea>,
    /// Hashes of the keys in the latest read: filters unchanged items before any write.
    seen: Mutex<HashSet<u64>>,
    baselined: AtomicBool,
    cursor: Mutex<Option<Value>>,
    /// Set after a failure so the next success clears the stored failure count.
    failing: AtomicBool,
}

fn key_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

#[derive(Default)]
struct GroupState {
    next_due: Option<Instant>,
    failures: u32,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Areas sharing one upstream request. A poll task works on a clone (cheap: the members and
/// state are shared), so reloads never block a poll.
#[derive(Clone)]
struct PollGroup {
    request: HttpRequestSpec,
    allow_private: bool,
    /// The resource's name in the claims of a shared store ([`claims::resource_key`]).
    resource: Arc<str>,
    interval: Duration,
    members: Vec<Arc<AreaRuntime>>,
    state: Arc<Mutex<GroupState>>,
    busy: Arc<AtomicBool>,
}

struct TimerJob {
    runtime: Arc<AreaRuntime>,
    next: Option<DateTime<Utc>>,
    busy: Arc<AtomicBool>,
}

/// An area whose connector does its own I/O ([`ActionKind::Fetched`]): never shared.
struct FetchJob {
    runtime: Arc<AreaRuntime>,
    interval: Duration,
    next_due: Option<Instant>,
    busy: Arc<AtomicBool>,
    /// Set by the area's watcher when its source signalled a change: fetch now.
    poke: Arc<AtomicBool>,
    /// The watcher task, once started (it ends by itself when the source cannot push).
    watcher: Option<Watcher>,
}

/// A watcher task, stopped when its job is dropped (the area changed or went away).
struct Watcher(tokio::task::AbortHandle);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Owns the schedule of one engine.
pub struct Scheduler {
    shared: Arc<Shared>,
    catalog: Catalog,
    version: Option<(i64, i64, i64, i64)>,
    runtimes: HashMap<i64, Arc<AreaRuntime>>,
    groups: HashMap<u64, PollGroup>,
    timers: HashMap<i64, TimerJob>,
    fetchers: HashMap<i64, FetchJob>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Scheduler {
    /// An empty schedule; call [`Scheduler::reload`] to load the areas.
    pub fn new(shared: Arc<Shared>) -> Self {
        Scheduler {
            catalog: shared.config.catalog.clone(),
            shared,
            version: None,
            runtimes: HashMap::new(),
            groups: HashMap::new(),
            timers: HashMap::new(),
            fetchers: HashMap::new(),
        }
    }

    /// Rebuilds the schedule from the store, keeping the state of unchanged areas and groups.
    pub async fn reload(&mut self) -> Result<(), EngineError> {
        let version = registry::areas_version(&self.shared.pool).await?;
        let rows = registry::load_runnable(&self.shared.pool).await?;
        self.version = Some(version);
        let mut table = AreaTable::default();
        let mut runtimes = HashMap::with_capacity(rows.len());
        let mut groups: HashMap<u64, PollGroup> = HashMap::new();
        let mut timers = HashMap::new();
        let mut fetchers = HashMap::new();
        let mut broken = Vec::new();
        let mut credentials = HashMap::new();
        // Opens the areas' sealed secret parameters.
        let key = self.shared.connections.as_ref().map(|c| c.master_key());
        for row in &rows {
            let area = match registry::compile(&self.catalog, row, key) {
                Ok(mut area) => match self.attach_credentials(&mut area, &mut credentials).await {
                    Ok(()) => Arc::new(area),
                    Err(e) => {
                        broken.push((row.id, e, PauseCause::Credentials));
                        continue;
                    }
                },
                Err(e) => {
                    broken.push((row.id, format!("this area cannot run: {e}"), PauseCause::Failures));
                    continue;
                }
            };
            let runtime = self.runtime_for(row, area.clone());
            runtimes.insert(row.id, runtime.clone());
            table.by_id.insert(row.id, area.clone());
            match &area.action {
                ActionKind::Pushed(_) => {
                    if let Some(token) = &area.webhook_token {
                        table.by_token.insert(token.clone(), row.id);
                    }
                }
                ActionKind::Fetched(_) => {
                    let interval = self.effective_interval(&area);
                    let job = match self.fetchers.remove(&row.id) {
                        Some(old) if old.runtime.area.fingerprint == runtime.area.fingerprint => {
                            FetchJob { runtime, interval, ..old }
                        }
                        _ => FetchJob {
                            runtime,
                            interval,
                            next_due: None,
                            busy: Arc::new(AtomicBool::new(false)),
                            poke: Arc::new(AtomicBool::new(false)),
                            watcher: None,
                        },
                    };
                    fetchers.insert(row.id, job);
                }
                ActionKind::Scheduled(_) => {
                    let (next, busy) = match self.timers.remove(&row.id) {
                        Some(old) if old.runtime.area.fingerprint == runtime.area.fingerprint => (old.next, old.busy),
                        _ => (None, Arc::new(AtomicBool::new(false))),
                    };
                    timers.insert(row.id, TimerJob { runtime, next, busy });
                }
                ActionKind::Polled(action) => {
                    let cursor = runtime.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let ctx = PollContext {
                        params: &area.action_params,
                        cursor: cursor.as_ref(),
                        credential: area.credential.as_deref(),
                    };
                    let request = match action.request(&ctx) {
                        Ok(r) => r,
                        Err(e) => {
                            broken.push((row.id, e.to_string(), PauseCause::Failures));
                            continue;
                        }
                    };
                    let interval = self.effective_interval(&area);
                    let key = group_key(&request, area.allow_private_network);
                    let group = groups.entry(key).or_insert_with(|| {
                        let (state, busy) = match self.groups.remove(&key) {
                            Some(old) => (old.state, old.busy),
                            None => Default::default(),
                        };
                        PollGroup {
                            resource: claims::resource_key(&request, area.allow_private_network).into(),
                            request,
                            allow_private: area.allow_private_network,
                            interval,
                            members: Vec::new(),
                            state,
                            busy,
                        }
                    });
                    group.interval = group.interval.min(interval);
                    group.members.push(runtime);
                }
            }
        }
        for (id, error, cause) in broken {
            tracing::warn!(area = id, error = %error, "area cannot be scheduled");
            self.shared.area_failed(WriteOp::AreaFailed {
                area_ids: vec![id],
                error,
                pause_after: 1,
                cause,
                now_ms: now_ms(),
            });
        }
        tracing::info!(areas = runtimes.len(), poll_groups = groups.len(), timers = timers.len(), "areas loaded");
        self.runtimes = runtimes;
        self.groups = groups;
        self.timers = timers;
        self.fetchers = fetchers;
        *self.shared.areas.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        Ok(())
    }

    /// Gives the area the owner's credentials for its action's and reactions' services. A
    /// missing connection stops the action (it cannot poll) unless the action can do without
    /// ([`crate::connector::PolledAction::needs_credential`]: public ntfy topics), and never stops
    /// a reaction that may not need it (a Discord webhook URL carries its own secret); a
    /// connection marked `needs reconnect` stops both, with the reason that tells the user what
    /// to run.
    async fn attach_credentials(&self, area: &mut CompiledArea, cache: &mut CredentialCache) -> Result<(), String> {
        let manifest_of = |service: &str| self.catalog.service(service).map(|s| &s.manifest);
        let bind = |service: &str, credential: &Option<Arc<Credential>>| {
            let (manifest, credential) = (manifest_of(service)?, credential.as_deref()?);
            Some(Arc::new(self.catalog.bind_credential(manifest, credential)))
        };
        if let Some(connection) = manifest_of(&area.action_service).and_then(|m| m.connection_id()) {
            let credential = self.credential(area.user_id, connection, cache).await?;
            let optional = matches!(&area.action, ActionKind::Polled(action) if !action.needs_credential());
            area.credential = match credential {
                Some(credential) => Some(credential),
                None if optional => None,
                None => return Err(format!("no {connection} connection: run `area connect {connection}`")),
            };
            area.binding = bind(&area.action_service, &area.credential);
        }
        for reaction in &mut area.reactions {
            if let Some(connection) = manifest_of(&reaction.service).and_then(|m| m.connection_id()) {
                reaction.credential = self.credential(area.user_id, connection, cache).await?;
                reaction.binding = bind(&reaction.service, &reaction.credential);
            }
        }
        Ok(())
    }

    async fn credential(
        &self,
        user_id: i64,
        connection: &'static str,
        cache: &mut CredentialCache,
    ) -> Result<Option<Arc<Credential>>, String> {
        if let Some(found) = cache.get(&(user_id, connection)) {
            return found.clone();
        }
        let found = match &self.shared.connections {
            None => Err(format!(
                "stored credentials cannot be opened ({}): fix the master key, or run `area connect {connection}`",
                self.shared.connections_error.as_deref().unwrap_or("no key")
            )),
            Some(connections) => match connections.get(user_id, connection).await {
                Ok(Some(stored)) if stored.info.status == "needs_reconnect" => {
                    Err(stored.info.reason.unwrap_or_else(|| {
                        format!("the {connection} connection needs reconnecting: run `area connect {connection}`")
                    }))
                }
                Ok(Some(stored)) => Ok(Some(Arc::new(stored.secret.credential()))),
                Ok(None) => Ok(None),
                Err(e) => Err(format!("{e} (run `area connect {connection}`)")),
            },
        };
        cache.insert((user_id, connection), found.clone());
        found
    }

    fn runtime_for(&self, row: &AreaRow, area: Arc<CompiledArea>) -> Arc<AreaRuntime> {
        let stored_cursor: Option<Value> = row.cursor.as_deref().and_then(|c| serde_json::from_str(c).ok());
        if let Some(old) = self.runtimes.get(&row.id) {
            // Same action: keep what memory knows (it is never behind the store).
            if old.area.fingerprint == area.fingerprint && (row.baselined || old.baselined.load(Ordering::Acquire)) {
                let seen = old.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let cursor = old.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone().or(stored_cursor);
                return Arc::new(AreaRuntime {
                    area,
                    seen: Mutex::new(seen),
                    baselined: AtomicBool::new(true),
                    cursor: Mutex::new(cursor),
                    failing: AtomicBool::new(old.failing.load(Ordering::Relaxed)),
                });
            }
        }
        Arc::new(AreaRuntime {
            area,
            seen: Mutex::new(HashSet::new()),
            baselined: AtomicBool::new(row.baselined),
            cursor: Mutex::new(stored_cursor),
            failing: AtomicBool::new(false),
        })
    }

    fn effective_interval(&self, area: &CompiledArea) -> Duration {
        if self.shared.config.ignore_min_interval {
            return area.interval;
        }
        let min = self
            .catalog
            .action(&area.action_service, &area.action_id)
            .and_then(|(_, a, _)| a.min_interval_secs)
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or_default();
        area.interval.max(min)
    }

    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut next_reload = Instant::now() + self.shared.config.reload_every;
        let mut next_scan = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            let now = Instant::now();
            let mut wake = (now + Duration::from_secs(1)).min(next_reload).min(next_scan);
            for group in self.groups.values() {
                let due = {
                    let mut st = group.state.lock().unwrap_or_else(|e| e.into_inner());
                    let due_at = *st.next_due.get_or_insert(now);
                    if due_at <= now && !group.busy.load(Ordering::Acquire) {
                        let next = due_at + group.interval;
                        st.next_due = Some(if next <= now { now + group.interval } else { next });
                        true
                    } else {
                        false
                    }
                };
                if due {
                    group.busy.store(true, Ordering::Release);
                    let job = group.clone();
                    let shared = self.shared.clone();
                    self.shared.tasks.spawn(async move {
                        job.poll(&shared, shared.shared_store).await;
                        job.busy.store(false, Ordering::Release);
                    });
                }
                if let Some(at) = group.state.lock().unwrap_or_else(|e| e.into_inner()).next_due {
                    wake = wake.min(at);
                }
            }
            for job in self.fetchers.values_mut() {
                if job.watcher.is_none() {
                    let (shared, runtime, poke) = (self.shared.clone(), job.runtime.clone(), job.poke.clone());
                    let task = self.shared.tasks.spawn(watch_area(shared, runtime, poke, stop.clone()));
                    job.watcher = Some(Watcher(task.abort_handle()));
                }
                if job.poke.swap(false, Ordering::AcqRel) {
                    job.next_due = Some(now);
                }
                let due_at = *job.next_due.get_or_insert(now);
                if due_at <= now && !job.busy.load(Ordering::Acquire) {
                    let next = due_at + job.interval;
                    job.next_due = Some(if next <= now { now + job.interval } else { next });
                    job.busy.store(true, Ordering::Release);
                    let (shared, runtime, busy) = (self.shared.clone(), job.runtime.clone(), job.busy.clone());
                    self.shared.tasks.spawn(async move {
                        fetch_area(&shared, &runtime).await;
                        busy.store(false, Ordering::Release);
                    });
                }
                if let Some(at) = job.next_due {
                    wake = wake.min(at);
                }
            }
            let utc_now = Utc::now();
            for timer in self.timers.values_mut() {
                if timer.next.is_none() {
                    timer.next = first_fire(&timer.runtime, utc_now);
                }
                let Some(at) = timer.next else { continue };
                if at <= utc_now && !timer.busy.load(Ordering::Acquire) {
                    timer.busy.store(true, Ordering::Release);
                    timer.next = next_fire(&timer.runtime, at.max(utc_now));
                    let (shared, runtime, busy) = (self.shared.clone(), timer.runtime.clone(), timer.busy.clone());
                    self.shared.tasks.spawn(async move {
                        fire_timer(&shared, &runtime, at).await;
                        busy.store(false, Ordering::Release);
                    });
                }
                if let Some(at) = timer.next {
                    let until = (at - utc_now).to_std().unwrap_or_default();
                    wake = wake.min(now + until);
                }
            }
            if now >= next_scan {
                let more = self.scan_retries().await;
                next_scan = now + if more { RETRY_SCAN_SOON } else { RETRY_SCAN_EVERY };
            }
            if self.shared.replan.swap(false, Ordering::AcqRel) {
                if let Err(e) = self.reload().await {
                    tracing::error!(error = %e, "re-planning polls failed");
                }
            }
            let asked = self.shared.reload_requested.load(Ordering::Acquire);
            if asked > *self.shared.reload_done.borrow() {
                if let Err(e) = self.reload().await {
                    tracing::error!(error = %e, "reloading areas failed");
                }
                self.shared.reload_done.send_replace(asked);
            }
            let edits_asked = self.shared.edits_check_requested.load(Ordering::Acquire);
            if now >= next_reload || edits_asked > *self.shared.edits_check_done.borrow() {
                next_reload = now + self.shared.config.reload_every;
                match registry::areas_version(&self.shared.pool).await {
                    Ok(v) if Some(v) != self.version => {
                        if let Err(e) = self.reload().await {
                            tracing::error!(error = %e, "reloading areas failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "checking for area changes failed"),
                }
                self.shared.edits_check_done.send_replace(edits_asked);
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = self.shared.reload_wake.notified() => {}
                _ = tokio::time::sleep_until(wake.max(Instant::now()).into()) => {}
            }
        }
    }

    /// Claims the due runs this process has room to deliver now (a run claimed stays this
    /// process's for a lease, so claiming more than it can send would only hold them back from
    /// the other processes sharing the store). True when it claimed all it had room for: more
    /// may be due (or there was no room: look again soon, without asking the store).
    async fn scan_retries(&self) -> bool {
        let room = self.shared.delivery_slots.available_permits().min(1000);
        if room == 0 {
            return true;
        }
        match delivery::due_runs(&self.shared, room as i64).await {
            Ok(runs) => {
                let full = runs.len() >= room;
                for run in runs {
                    dispatch(&self.shared, run);
                }
                full
            }
            Err(e) => {
                tracing::error!(error = %e, "looking for runs to retry failed");
                false
            }
        }
    }

    /// `run --once`: every poll group once, every due timer, concurrently.
    pub async fn poll_all_once(&mut self) -> RunOnceReport {
        let mut report = RunOnceReport::default();
        let jobs: Vec<PollGroup> = self.groups.values().cloned().collect();
        report.requests = jobs.len() as u32;
        report.areas_polled = jobs.iter().map(|j| j.members.len() as u32).sum();
        let shared = self.shared.clone();
        // Asked for now: read at once, whoever holds the resource's claim.
        let polls = jobs.iter().map(|job| job.poll(&shared, false));
        futures_util::future::join_all(polls).await;
        let fetches = self.fetchers.values().map(|job| fetch_area(&shared, &job.runtime));
        report.areas_polled += self.fetchers.len() as u32;
        futures_util::future::join_all(fetches).await;
        let utc_now = Utc::now();
        for timer in self.timers.values() {
            match first_fire(&timer.runtime, utc_now) {
                Some(at) if at <= utc_now => fire_timer(&self.shared, &timer.runtime, at).await,
                _ if !timer.runtime.baselined.load(Ordering::Acquire) => {
                    fire_timer(&self.shared, &timer.runtime, utc_now).await;
                }
                _ => {}
            }
        }
        report
    }
}

fn group_key(request: &HttpRequestSpec, allow_private: bool) -> u64 {
    let mut h = DefaultHasher::new();
    request.hash(&mut h);
    allow_private.hash(&mut h);
    h.finish()
}

impl PollGroup {
    /// Reads the resource and hands the answer to the members; with `claim`, only if this
    /// process wins the resource for this interval (a store shared with other processes).
    async fn poll(&self, shared: &Arc<Shared>, claim: bool) {
        let host = host_key(&self.request.url);
        if let Some(ready) = host.as_deref().and_then(|h| shared.limiter.ready_at(h)) {
            // The host asked us to wait (429): skip this round, only for this host.
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.next_due = Some(st.next_due.map_or(ready, |d| d.max(ready)));
            return;
        }
        // On a shared store, the process that claims the resource reads it for this interval;
        // the others skip it.
        let claim = if claim {
            match claims::claim_poll(&shared.pool, &shared.owner, &self.resource, self.interval, now_ms()).await {
                Ok(Some(claim)) => Some(claim),
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a poll from the database; trying again next interval");
                    return;
                }
            }
        } else {
            None
        };
        if claim.as_ref().is_some_and(|c| c.from_other) {
            self.take_stored_state(shared).await;
        }
        let mut request = self.request.clone();
        // A 304 only says "unchanged since the last answer": it is no use to a member that has
        // not read that answer (not baselined yet: it joined the group later) or could not read
        // it (failing), so such members get an unconditional request.
        let conditional =
            self.members.iter().all(|m| m.baselined.load(Ordering::Acquire) && !m.failing.load(Ordering::Relaxed));
        if conditional {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            // The validators of the last answer, whichever process read it.
            let (etag, last_modified) = match &claim {
                Some(c) => (c.etag.as_ref(), c.last_modified.as_ref()),
                None => (st.etag.as_ref(), st.last_modified.as_ref()),
            };
            if let Some(etag) = etag {
                request.headers.push(("If-None-Match".into(), etag.clone()));
            }
            if let Some(lm) = last_modified {
                request.headers.push(("If-Modified-Since".into(), lm.clone()));
            }
        }
        let options = RequestOptions { allow_private_network: self.allow_private, ..Default::default() };
        let service = self.members.first().map(|m| m.area.action_service.clone()).unwrap_or_default();
        // Members share the request, hence its credential: the first one's binding holds for all.
        let http = match self.members.first().and_then(|m| m.area.binding.clone()) {
            Some(binding) => shared.http.with_credential(binding),
            None => shared.http.clone(),
        };
        let response = match http.send(&request, &options).await {
            Ok(r) => r,
            Err(e) => return self.failed(shared, ConnectorError::Net(e), host.as_deref()),
        };
        if response.status == 304 {
            self.succeeded_unchanged(shared);
            return;
        }
        if !(200..300).contains(&response.status) {
            let error = match self.members.first() {
                Some(member) => match &member.area.action {
                    ActionKind::Polled(action) => {
                        let cursor = member.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        let ctx = PollContext {
                            params: &member.area.action_params,
                            cursor: cursor.as_ref(),
                            credential: member.area.credential.as_deref(),
                        };
                        action.error_for(&service, &ctx, &response)
                    }
                    _ => crate::connector::status_error(&service, &response),
                },
                None => crate::connector::status_error(&service, &response),
            };
            return self.failed(shared, error, host.as_deref());
        }
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.failures = 0;
            st.etag = response.header("etag").map(str::to_owned);
            st.last_modified = response.header("last-modified").map(str::to_owned);
        }
        if claim.is_some() {
            let (etag, last_modified) = (response.header("etag"), response.header("last-modified"));
            if let Err(e) =
                claims::record_validators(&shared.pool, &shared.owner, &self.resource, etag, last_modified).await
            {
                tracing::warn!(error = %e, "cannot store the poll's validators; the next read is unconditional");
            }
        }
        // A read under a claim is stored only while this process still holds it.
        let fence = claim.is_some().then(|| self.resource.clone());
        self.read_for_members(shared, &response, fence).await;
    }

    /// Another process read this resource last: the members' cursors and baselines in memory
    /// are from this process's own last read, so they are taken from the store (which that
    /// process updated) before this read is compared with them.
    async fn take_stored_state(&self, shared: &Shared) {
        let ids: Vec<i64> = self.members.iter().map(|m| m.area.id).collect();
        let stored = match claims::area_states(&shared.pool, &ids).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the areas' state; comparing with this process's own");
                return;
            }
        };
        for (id, cursor, baselined) in stored {
            let Some(member) = self.members.iter().find(|m| m.area.id == id) else { continue };
            *member.cursor.lock().unwrap_or_else(|e| e.into_inner()) =
                cursor.and_then(|c| serde_json::from_str(&c).ok());
            member.baselined.store(baselined, Ordering::Release);
            // The keys this process saw in its own last read stay known: they are in the store
            // too, and forgetting them would send every item of every member to the writer.
        }
    }

    async fn read_for_members(&self, shared: &Arc<Shared>, response: &HttpResponseData, fence: Option<Arc<str>>) {
        // Areas with the same action, parameters and cursor read the response once and share
        // the result: with 1,000 areas on one feed, a copy each would dominate memory.
        let mut cache: HashMap<(String, String), ReadResult> = HashMap::new();
        let mut handles = Vec::new();
        for member in &self.members {
            let ActionKind::Polled(action) = &member.area.action else { continue };
            let cursor = member.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let cache_key =
                (member.area.fingerprint.clone(), cursor.as_ref().map(|c| c.to_string()).unwrap_or_default());
            let output = cache
                .entry(cache_key)
                .or_insert_with(|| {
                    let ctx = PollContext {
                        params: &member.area.action_params,
                        cursor: cursor.as_ref(),
                        credential: member.area.credential.as_deref(),
                    };
                    action.read(&ctx, response).map(Arc::new).map_err(|e| (e.class(), e.to_string()))
                })
                .clone();
            match output {
                Ok(output) => {
                    let (shared, member) = (shared.clone(), member.clone());
                    let (request, fence) = (self.request.clone(), fence.clone());
                    let tasks = shared.tasks.clone();
                    handles.push(
                        tasks.spawn(
                            async move { handle_output(&shared, &member, &output, Some(&request), fence).await },
                        ),
                    );
                }
                Err((class, error)) => {
                    // An error inside a 2xx answer keeps its class: a refused key asks for a
                    // reconnect, a rate limit in the body backs the whole group off.
                    member.failing.store(true, Ordering::Relaxed);
                    // Refused credentials are the connection's business: a renewable one is
                    // renewed and the area goes on from its seen keys, otherwise the connection is
                    // marked and every area using it pauses (`Shared::credentials_refused`).
                    let pause_after = match class {
                        ErrorClass::NeedsReconnect => {
                            shared.credentials_refused(member.area.user_id, &member.area.action_service);
                            u32::MAX
                        }
                        _ => shared.config.pause_after,
                    };
                    if let ErrorClass::Retryable { retry_after } = class {
                        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                        st.failures += 1;
                        let delay =
                            backoff_delay(st.failures, self.interval, MAX_POLL_BACKOFF, retry_after, &mut rand::rng())
                                .max(self.interval);
                        st.next_due = Some(Instant::now() + delay);
                    }
                    shared.area_failed(WriteOp::AreaFailed {
                        area_ids: vec![member.area.id],
                        error,
                        pause_after,
                        cause: pause_cause(&class),
                        now_ms: now_ms(),
                    });
                }
            }
        }
        for h in handles {
            let _ = h.await;
        }
    }

    fn succeeded_unchanged(&self, shared: &Shared) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).failures = 0;
        for member in &self.members {
            if member.failing.swap(false, Ordering::Relaxed) {
                let area_id = member.area.id;
                shared.writer.send(WriteOp::Ingest {
                    area_id,
                    events: Vec::new(),
                    baseline: false,
                    update: Some(PollUpdate { cursor: None, baselined: false, max_new_events: None, claim: None }),
                    reply: None,
                });
            }
        }
    }

    fn failed(&self, shared: &Shared, error: ConnectorError, host: Option<&str>) {
        let class = error.class();
        // An upstream may echo a request's secret header or URL path: cut them out.
        let mut message = self.members.iter().fold(error.to_string(), |m, member| member.area.scrub(&m));
        tracing::warn!(url_host = host.unwrap_or("?"), error = %message, areas = self.members.len(), "poll failed");
        // A provider that still answers 429 is not the area's fault: the poll slows down and the
        // area says so, but it is never paused for it.
        let rate_limited = matches!(&error, ConnectorError::Status { status: 429, .. });
        // Refused credentials pause through the connection (see `Shared::credentials_refused`),
        // so that a renewed token does not cost the area its seen keys.
        let pause_after = match class {
            ErrorClass::NeedsReconnect => u32::MAX,
            _ if rate_limited => u32::MAX,
            _ => shared.config.pause_after,
        };
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.failures += 1;
            if let ErrorClass::Retryable { retry_after } = class {
                let delay = backoff_delay(st.failures, self.interval, MAX_POLL_BACKOFF, retry_after, &mut rand::rng())
                    .max(self.interval);
                st.next_due = Some(Instant::now() + delay);
                if let (Some(host), Some(wait), true) = (host, retry_after, rate_limited) {
                    shared.limiter.block_for(host, wait);
                }
                if rate_limited {
                    let service = self.members.first().map(|m| m.area.action_service.as_str()).unwrap_or_default();
                    let name = shared.config.catalog.service(service).map_or(service, |s| s.manifest.name);
                    message = format!(
                        "{name} is rate-limiting these requests: Area checks less often for now (next check in {}s). {message}",
                        delay.as_secs().max(1)
                    );
                }
            }
        }
        for member in &self.members {
            member.failing.store(true, Ordering::Relaxed);
            if class == ErrorClass::NeedsReconnect {
                shared.credentials_refused(member.area.user_id, &member.area.action_service);
            }
        }
        shared.area_failed(WriteOp::AreaFailed {
            area_ids: self.members.iter().map(|m| m.area.id).collect(),
            error: message,
            pause_after,
            cause: pause_cause(&class),
            now_ms: now_ms(),
        });
    }
}

/// Records a read's events for one area: baseline first time, else only unseen keys.
async fn handle_output(
    shared: &Arc<Shared>,
    rt: &AreaRuntime,
    output: &PollOutput,
    planned: Option<&HttpRequestSpec>,
    claim: Option<Arc<str>>,
) {
    let (events, cursor) = (&output.events, output.cursor.clone());
    let area_id = rt.area.id;
    let current: HashSet<u64> = events.iter().map(|e| key_hash(&e.key)).collect();
    if !rt.baselined.load(Ordering::Acquire) {
        let baseline: Vec<NewEvent> = events
            .iter()
            .map(|e| NewEvent { key: e.key.clone(), ingredients: Default::default(), skip_reason: None })
            .collect();
        let count = baseline.len();
        let update = PollUpdate { cursor: cursor.clone(), baselined: true, max_new_events: None, claim };
        match shared.writer.ingest(area_id, baseline, true, Some(update)).await {
            Ok(_) => {
                rt.baselined.store(true, Ordering::Release);
                *rt.seen.lock().unwrap_or_else(|e| e.into_inner()) = current;
                *rt.cursor.lock().unwrap_or_else(|e| e.into_inner()) = cursor;
                rt.failing.store(false, Ordering::Relaxed);
                replan_if_cursor_moved_request(shared, rt, planned);
                tracing::info!(area = area_id, existing = count, "baseline recorded; nothing fired");
            }
            Err(e) => tracing::error!(area = area_id, error = %e, "recording the baseline failed; will retry"),
        }
        return;
    }
    let fresh: Vec<Event> = {
        let seen = rt.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut in_batch = HashSet::new();
        events
            .iter()
            .filter(|e| !seen.contains(&key_hash(&e.key)) && in_batch.insert(e.key.as_str()))
            .cloned()
            .collect()
    };
    let cursor_changed = cursor.is_some() && *rt.cursor.lock().unwrap_or_else(|e| e.into_inner()) != cursor;
    let was_failing = rt.failing.load(Ordering::Relaxed);
    if fresh.is_empty() && !cursor_changed && !was_failing {
        *rt.seen.lock().unwrap_or_else(|e| e.into_inner()) = current;
        return;
    }
    let new_events: Vec<NewEvent> = fresh
        .into_iter()
        .map(|e| {
            let skip_reason = rt.area.skip_reason(&e.ingredients);
            NewEvent { key: e.key, ingredients: e.ingredients, skip_reason }
        })
        .collect();
    let update = PollUpdate {
        cursor: cursor.clone(),
        baselined: true,
        max_new_events: Some(rt.area.max_events_per_poll),
        claim,
    };
    match shared.writer.ingest(area_id, new_events, false, Some(update)).await {
        Ok(runs) => {
            *rt.seen.lock().unwrap_or_else(|e| e.into_inner()) = current;
            if cursor.is_some() {
                *rt.cursor.lock().unwrap_or_else(|e| e.into_inner()) = cursor;
            }
            rt.failing.store(false, Ordering::Relaxed);
            replan_if_cursor_moved_request(shared, rt, planned);
            for run in runs {
                dispatch(shared, run);
            }
        }
        Err(e) => {
            tracing::error!(area = area_id, error = %e, "recording events failed; they will be seen again next poll")
        }
    }
}

/// Waits for a fetched area's source to signal a change ([`FetchedAction::wait_for_change`]) and
/// pokes the area's job to fetch now, until the engine stops or the area changes (the job's
/// [`Watcher`] aborts it). A source that cannot push ends it at once; failures (the server is
/// down, the connection dropped) are retried with backoff and never fail the area: the regular
/// fetch reports those.
///
/// [`FetchedAction::wait_for_change`]: crate::connector::FetchedAction::wait_for_change
async fn watch_area(shared: Arc<Shared>, rt: Arc<AreaRuntime>, poke: Arc<AtomicBool>, mut stop: watch::Receiver<bool>) {
    let ActionKind::Fetched(action) = &rt.area.action else { return };
    let mut failures: u32 = 0;
    loop {
        let cursor = rt.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let ctx = fetch_context(&shared, &rt, cursor.as_ref());
        let outcome = tokio::select! {
            _ = stop.changed() => return,
            outcome = action.wait_for_change(&ctx, WATCH_MAX_WAIT) => outcome,
        };
        match outcome {
            Ok(SourceWait::Unsupported) => return,
            Ok(SourceWait::Changed) => {
                failures = 0;
                tracing::debug!(area = rt.area.id, "the source signalled a change: fetching now");
                poke.store(true, Ordering::Release);
                shared.reload_wake.notify_one();
            }
            Ok(SourceWait::Quiet) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = Duration::from_secs(1u64 << failures.min(9)).min(MAX_WATCH_BACKOFF);
                tracing::debug!(area = rt.area.id, error = %rt.area.scrub(&e.to_string()), ?delay, "waiting for the source failed");
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// What a fetched area's connector is given: its parameters, `cursor`, credential and network
/// policy.
fn fetch_context<'a>(shared: &Shared, rt: &'a AreaRuntime, cursor: Option<&'a Value>) -> FetchContext<'a> {
    FetchContext {
        params: &rt.area.action_params,
        cursor,
        credential: rt.area.credential.as_deref(),
        allow_private_network: rt.area.allow_private_network || shared.config.net.allow_private_network,
    }
}

/// Runs a [`ActionKind::Fetched`] area's connector once and records what it found.
async fn fetch_area(shared: &Arc<Shared>, rt: &AreaRuntime) {
    let ActionKind::Fetched(action) = &rt.area.action else { return };
    let cursor = rt.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ctx = fetch_context(shared, rt, cursor.as_ref());
    // The connector bounds its own I/O; this is the engine's backstop.
    let limit = shared.config.net.total_timeout * 2;
    let result = match tokio::time::timeout(limit, action.fetch(&ctx)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectorError::Net(crate::net::NetError::Timeout { after: limit })),
    };
    match result {
        Ok(output) => handle_output(shared, rt, &output, None, None).await,
        Err(e) => {
            let class = e.class();
            let message = rt.area.scrub(&e.to_string());
            tracing::warn!(area = rt.area.id, error = %message, "fetch failed");
            rt.failing.store(true, Ordering::Relaxed);
            // As for polls: refused credentials pause through the connection.
            let pause_after = match class {
                ErrorClass::NeedsReconnect => {
                    shared.credentials_refused(rt.area.user_id, &rt.area.action_service);
                    u32::MAX
                }
                _ => shared.config.pause_after,
            };
            shared.area_failed(WriteOp::AreaFailed {
                area_ids: vec![rt.area.id],
                error: message,
                pause_after,
                cause: pause_cause(&class),
                now_ms: now_ms(),
            });
        }
    }
}

/// Some actions build their request from the cursor (a looked-up id, `since_id`): when the new
/// cursor asks for another request than the poll group makes, ask the scheduler to re-plan.
fn replan_if_cursor_moved_request(shared: &Shared, rt: &AreaRuntime, planned: Option<&HttpRequestSpec>) {
    let (Some(planned), ActionKind::Polled(action)) = (planned, &rt.area.action) else { return };
    let cursor = rt.cursor.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ctx = PollContext {
        params: &rt.area.action_params,
        cursor: cursor.as_ref(),
        credential: rt.area.credential.as_deref(),
    };
    if action.request(&ctx).ok().as_ref() != Some(planned) {
        shared.replan.store(true, Ordering::Release);
    }
}

fn scheduled(rt: &AreaRuntime) -> Option<&dyn crate::connector::ScheduledAction> {
    match &rt.area.action {
        ActionKind::Scheduled(s) => Some(s.as_ref()),
        _ => None,
    }
}

fn cursor_instant(rt: &AreaRuntime) -> Option<DateTime<Utc>> {
    let cursor = rt.cursor.lock().unwrap_or_else(|e| e.into_inner());
    cursor
        .as_ref()
        .and_then(|c| c.as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The first instant to fire: after the last handled one (so one missed while stopped fires
/// late, once), or after now for an area not yet baselined.
fn first_fire(rt: &AreaRuntime, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let action = scheduled(rt)?;
    let after = if rt.baselined.load(Ordering::Acquire) { cursor_instant(rt).unwrap_or(now) } else { now };
    match action.next_after(&rt.area.action_params, after) {
        Ok(next) => next,
        Err(e) => {
            tracing::warn!(area = rt.area.id, error = %e, "timer cannot be scheduled");
            None
        }
    }
}

fn next_fire(rt: &AreaRuntime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    scheduled(rt)?.next_after(&rt.area.action_params, after).ok().flatten()
}

async fn fire_timer(shared: &Arc<Shared>, rt: &AreaRuntime, at: DateTime<Utc>) {
    let area_id = rt.area.id;
    let instant = Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    if !rt.baselined.load(Ordering::Acquire) {
        // Enabling a timer records "now" and fires nothing for instants already past.
        let update = PollUpdate { cursor: Some(instant.clone()), baselined: true, max_new_events: None, claim: None };
        if shared.writer.ingest(area_id, Vec::new(), true, Some(update)).await.is_ok() {
            rt.baselined.store(true, Ordering::Release);
            *rt.cursor.lock().unwrap_or_else(|e| e.into_inner()) = Some(instant);
        }
        return;
    }
    let now = Utc::now();
    let Some(action) = scheduled(rt) else { return };
    let event = action.event(at, now);
    let skip_reason = rt.area.skip_reason(&event.ingredients);
    let events = vec![NewEvent { key: event.key, ingredients: event.ingredients, skip_reason }];
    // This one late firing stands for every instant missed up to now: the cursor moves to now,
    // so the next pass (or restart) does not fire the other missed instants one by one.
    let handled = DateTime::from_timestamp(now.timestamp(), 0).map_or(at, |now| now.max(at));
    let instant = Value::String(handled.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let update = PollUpdate { cursor: Some(instant.clone()), baselined: true, max_new_events: None, claim: None };
    match shared.writer.ingest(area_id, events, false, Some(update)).await {
        Ok(runs) => {
            *rt.cursor.lock().unwrap_or_else(|e| e.into_inner()) = Some(instant);
            for run in runs {
                dispatch(shared, run);
            }
        }
        Err(e) => tracing::error!(area = area_id, error = %e, "recording a timer event failed"),
    }
}

/// Why a failure of this class pauses an area: refused credentials are fixed by connecting
/// again, anything else by switching the area on again.
fn pause_cause(class: &ErrorClass) -> PauseCause {
    if matches!(class, ErrorClass::NeedsReconnect) {
        PauseCause::Credentials
    } else {
        PauseCause::Failures
    }
}
