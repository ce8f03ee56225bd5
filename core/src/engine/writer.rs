//! The single writer: every engine change to the database goes through one writer that commits
//! whatever has queued up in one transaction (group commit).
//!
//! With ~4 ms per fsync, one commit per event would cap Area near 250 events/s; batching keeps
//! each event durable *before* it is acknowledged while paying one fsync for many events.
//! Callers that wait (ingest, the in-flight mark) are answered only once the transaction has
//! committed.
//!
//! On SQLite the writer owns its own connection and runs each batch synchronously on a blocking
//! thread (rusqlite, statements prepared once). On PostgreSQL the same batch runs on the same
//! blocking thread through the store's pool, one statement at a time in one transaction: the
//! statements are written once ([`BatchTx`]) for both. Through the async pool every statement and every
//! returned row was a hand-over to the connection's worker thread and back, two context switches
//! each, several times per batch on the webhook hot path; here a batch costs one hand-over
//! (bench/README.md has the figures).
//! The dedupe contract lives here too: a new event's key is recorded as seen in the same
//! transaction that queues its run (the outbox), so an event can never be queued twice, and a
//! key is recorded without a run only on purpose — a baseline, or events beyond the area's
//! fan-out budget (see [`PollUpdate::max_new_events`]).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use sha2::Digest;
use tokio::sync::{mpsc, oneshot};

use super::batch_tx::{BatchTx, Param, PgTx, SqliteTx, TxError};
use super::set_writes::{self, EndedRun, NewRun, PolledArea};
use crate::store::Backend;

use crate::areas::PauseCause;
use crate::connector::Ingredients;

/// Most operations folded into one transaction.
const MAX_BATCH: usize = 4096;
/// A run queued by ingest is delivered from memory at once; the store only hands it out again
/// (to the retry scanner) after this lease, i.e. if this process died before finishing it.
pub const LEASE_MS: i64 = 30_000;
/// How long a reaction marked in flight holds its run: longer than any reaction may take (the
/// 60 s reaction timeout, plus [`LEASE_MS`]), so that only a process that died (or stopped)
/// loses it, and the run becomes `unknown outcome`.
pub const IN_FLIGHT_LEASE_MS: i64 = LEASE_MS + 60_000;

/// How long the runs this process holds stay its own: [`LEASE_MS`] and [`IN_FLIGHT_LEASE_MS`]
/// by default, shorter or longer with `AREA_RUN_LEASE_SECS` (a cluster that should take over a
/// dead process's runs sooner, or tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leases {
    /// A run ingested or claimed, until it is finished or marked in flight.
    pub run_ms: i64,
    /// A run whose reaction is being sent.
    pub in_flight_ms: i64,
}

impl Default for Leases {
    fn default() -> Leases {
        Leases { run_ms: LEASE_MS, in_flight_ms: IN_FLIGHT_LEASE_MS }
    }
}

impl Leases {
    /// Leases of `run_secs` (a reaction in flight: that plus the reaction timeout).
    pub fn from_run_secs(run_secs: u64) -> Leases {
        let run_ms = i64::try_from(run_secs.saturating_mul(1000)).unwrap_or(LEASE_MS);
        Leases { run_ms, in_flight_ms: run_ms + (IN_FLIGHT_LEASE_MS - LEASE_MS) }
    }
}

/// An event ready to be recorded, with its condition already evaluated.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub key: String,
    pub ingredients: Ingredients,
    /// Why the area's condition rejected the event (recorded as `skipped`, with this as its
    /// summary, and not fired); `None`: it fires.
    pub skip_reason: Option<String>,
}

/// A run that was committed as `queued` and should now be delivered.
#[derive(Debug, Clone)]
pub struct QueuedRun {
    pub run_id: i64,
    pub area_id: i64,
    pub event_key: String,
    pub ingredients: Ingredients,
    pub reactions_done: u32,
    pub attempts: u32,
}

/// What the writer did with one operation of a batch.
type OpResult = Result<Vec<QueuedRun>, String>;

/// The message for a write to a run this process no longer holds.
fn lease_lost(run_id: i64) -> String {
    format!("run {run_id} was claimed by another Area process (this one held it too long): its write is refused")
}

/// Engine state to store alongside an area's poll result.
#[derive(Debug, Clone, Default)]
pub struct PollUpdate {
    pub cursor: Option<serde_json::Value>,
    /// Marks the area as baselined (its first poll recorded what exists).
    pub baselined: bool,
    /// The area's fan-out budget: at most this many new events fire from this poll. The first
    /// ones in the order the connector listed them fire; the rest are only marked seen, and one
    /// `skipped` run says how many and why. Events the area's condition rejects fire nothing
    /// and do not count (each is recorded as skipped, as always). The engine cannot tell old
    /// from new across services (some list newest first, some oldest first), so it keeps the
    /// listing order. `None`: no budget (a timer's single instant).
    pub max_new_events: Option<u32>,
    /// The poll claim this read was made under, on a store shared by several processes
    /// ([`super::claims`]): the area's cursor and baseline are stored only while this process
    /// still holds it, so one that stalled past its claim (paused, cut off) cannot move a cursor
    /// back over a newer reader's. Its events are still recorded: they are real, and the seen
    /// keys drop those already recorded. `None`: not claimed (one process, timers, `run --once`).
    pub claim: Option<std::sync::Arc<str>>,
}

/// How a run ended (or paused) for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Skipped,
    UnknownOutcome,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
            RunStatus::UnknownOutcome => "unknown_outcome",
        }
    }
}

/// How a run ended, for [`WriteOp::Finish`].
#[derive(Debug)]
pub struct RunEnd {
    pub run_id: i64,
    pub area_id: i64,
    pub status: RunStatus,
    /// Reactions that succeeded (the run resumes after them if it is re-run).
    pub reactions_done: u32,
    pub error: Option<String>,
    pub summary: Option<String>,
    pub now_ms: i64,
}

/// One change for the writer.
#[derive(Debug)]
pub enum WriteOp {
    /// Record events for an area. With `baseline`, keys are only marked seen; nothing fires.
    /// Replies with the runs queued (only events not seen before).
    Ingest {
        area_id: i64,
        events: Vec<NewEvent>,
        baseline: bool,
        update: Option<PollUpdate>,
        reply: Option<oneshot::Sender<Result<Vec<QueuedRun>, String>>>,
    },
    /// A poll of these areas failed; bump their failure count and pause those over `pause_after`
    /// for `cause`.
    AreaFailed { area_ids: Vec<i64>, error: String, pause_after: u32, cause: PauseCause, now_ms: i64 },
    /// Marks that reaction `index` of a run is about to be sent (non-idempotent reactions only),
    /// so a crash turns the run into `unknown outcome` instead of a blind re-send.
    InFlight { run_id: i64, index: u32, now_ms: i64, reply: oneshot::Sender<Result<(), String>> },
    /// A run reached a final state; a failure counts against its area, which is paused past
    /// `pause_after` failures in a row.
    Finish { end: RunEnd, pause_after: u32 },
    /// A run failed in a retryable way and is queued again for `next_attempt_at`.
    Retry { run_id: i64, reactions_done: u32, next_attempt_ms: i64, error: String, count_attempt: bool },
    /// Waits until everything sent before it is committed.
    Flush { reply: oneshot::Sender<()> },
}

/// Handle to the writer.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriteOp>,
}

impl Writer {
    /// Opens the writer's connection to the store's database and starts the writer; it ends (and
    /// the returned handle resolves) when every handle is dropped.
    /// `owner` names this process in the runs it holds (see [`QueuedRun`] leases).
    pub fn spawn(
        store: &crate::store::Store,
        owner: &str,
        leases: Leases,
    ) -> Result<(Writer, tokio::task::JoinHandle<()>), TxError> {
        let target = match store.backend() {
            Backend::Sqlite => Target::Sqlite(store.dir().join(crate::store::DB_FILE)),
            Backend::Postgres => Target::Postgres(store.pool().clone()),
        };
        let state = Batcher {
            conn: target.open()?,
            owner: owner.to_string(),
            leases,
            clean: CleanAreas::default(),
            batch: Vec::with_capacity(64),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(target, state, rx));
        Ok((Writer { tx }, task))
    }

    /// Queues an operation; false when the writer has stopped.
    pub fn send(&self, op: WriteOp) -> bool {
        self.tx.send(op).is_ok()
    }

    /// Records events and waits until they are durable.
    pub async fn ingest(
        &self,
        area_id: i64,
        events: Vec<NewEvent>,
        baseline: bool,
        update: Option<PollUpdate>,
    ) -> Result<Vec<QueuedRun>, String> {
        let (reply, rx) = oneshot::channel();
        if !self.send(WriteOp::Ingest { area_id, events, baseline, update, reply: Some(reply) }) {
            return Err("the engine is stopping".into());
        }
        rx.await.map_err(|_| "the engine is stopping".to_string())?
    }

    /// Durably marks a reaction as in flight.
    pub async fn in_flight(&self, run_id: i64, index: u32, now_ms: i64) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        if !self.send(WriteOp::InFlight { run_id, index, now_ms, reply }) {
            return Err("the engine is stopping".into());
        }
        rx.await.map_err(|_| "the engine is stopping".to_string())?
    }

    /// Waits for everything queued so far to be committed.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.send(WriteOp::Flush { reply }) {
            let _ = rx.await;
        }
    }
}

/// Where the writer writes: its own connection to the SQLite file, or the PostgreSQL pool.
#[derive(Clone)]
enum Target {
    Sqlite(PathBuf),
    Postgres(sqlx::AnyPool),
}

/// The writer's open connection.
enum WriterConn {
    Sqlite(Connection),
    Postgres(sqlx::AnyPool, tokio::runtime::Handle),
}

impl Target {
    fn open(&self) -> Result<WriterConn, TxError> {
        match self {
            Target::Sqlite(path) => Ok(WriterConn::Sqlite(open_sqlite(path)?)),
            Target::Postgres(pool) => Ok(WriterConn::Postgres(pool.clone(), tokio::runtime::Handle::current())),
        }
    }
}

/// The writer's SQLite connection, with the store's durability settings: a commit is on disk
/// when it returns (WAL, set by the store on the file, and `synchronous=FULL` on this connection).
fn open_sqlite(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Who writes: the process's owner name (runs it holds carry it) and its leases.
#[derive(Clone, Copy)]
struct Holder<'a> {
    owner: &'a str,
    leases: Leases,
}

/// The writer's connection and what it keeps between batches.
struct Batcher {
    conn: WriterConn,
    owner: String,
    leases: Leases,
    clean: CleanAreas,
    batch: Vec<WriteOp>,
}

async fn run(target: Target, mut state: Batcher, mut rx: mpsc::UnboundedReceiver<WriteOp>) {
    let (state_owner, leases) = (state.owner.clone(), state.leases);
    while let Some(first) = rx.recv().await {
        state.batch.push(first);
        // Let the tasks that are ready to run (other webhook requests, finished deliveries)
        // reach the queue first: one commit then carries them all (group commit), at the cost
        // of one turn of the scheduler, not of a timer.
        tokio::task::yield_now().await;
        while state.batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => state.batch.push(op),
                Err(_) => break,
            }
        }
        // The statements and the commit's fsync run on a blocking thread; what is sent
        // meanwhile queues up for the next batch.
        let done = tokio::task::spawn_blocking(move || {
            let holder = Holder { owner: &state.owner, leases: state.leases };
            apply(&mut state.conn, holder, &mut state.batch, &mut state.clean);
            state.batch.clear();
            state
        })
        .await;
        state = match done {
            Ok(state) => state,
            // A panic lost the connection (and answered the batch's callers with "stopping"):
            // start again on a new one rather than stop recording.
            Err(e) => {
                tracing::error!(error = %e, "the engine's writer failed; reopening its connection");
                match target.open() {
                    Ok(conn) => Batcher {
                        conn,
                        owner: state_owner.clone(),
                        leases,
                        clean: CleanAreas::default(),
                        batch: Vec::with_capacity(64),
                    },
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reopen the engine's writer; nothing more is recorded");
                        return;
                    }
                }
            }
        };
    }
}

/// Commits a batch, then answers its waiting callers: with their queued runs once the
/// transaction committed, or with the error if it did not (nothing of the batch is then kept).
fn apply(conn: &mut WriterConn, holder: Holder<'_>, batch: &mut Vec<WriteOp>, clean: &mut CleanAreas) {
    match commit_batch(conn, holder, batch, clean) {
        Ok(mut queued) => {
            for (op, runs) in batch.drain(..).zip(queued.drain(..)) {
                match op {
                    WriteOp::Ingest { reply: Some(tx), .. } => {
                        let _ = tx.send(runs);
                    }
                    WriteOp::InFlight { reply, .. } => {
                        let _ = reply.send(runs.map(|_| ()));
                    }
                    WriteOp::Flush { reply } => {
                        let _ = reply.send(());
                    }
                    _ => {}
                }
            }
        }
        Err(e) => {
            let message = format!("could not record to the database: {e}");
            tracing::error!(error = %e, ops = batch.len(), "engine write failed");
            for op in batch.drain(..) {
                match op {
                    WriteOp::Ingest { reply: Some(tx), .. } => {
                        let _ = tx.send(Err(message.clone()));
                    }
                    WriteOp::InFlight { reply, .. } => {
                        let _ = reply.send(Err(message.clone()));
                    }
                    WriteOp::Flush { reply } => {
                        let _ = reply.send(());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Runs the batch in one transaction on the writer's back end and commits it.
fn commit_batch(
    conn: &mut WriterConn,
    holder: Holder<'_>,
    batch: &[WriteOp],
    clean: &mut CleanAreas,
) -> Result<Vec<OpResult>, TxError> {
    // Areas whose failure count this transaction set to zero (known clean once it commits).
    let mut clean_now = BTreeSet::new();
    let queued = match conn {
        WriterConn::Sqlite(conn) => {
            // IMMEDIATE: the write lock is taken (or waited for) at the start, so a reader
            // elsewhere can never make this transaction fail half-way on upgrading its lock.
            let mut tx = SqliteTx::new(conn.transaction_with_behavior(TransactionBehavior::Immediate)?);
            let queued = write_batch(&mut tx, holder, batch, clean, &mut clean_now)?;
            tx.commit()?;
            queued
        }
        WriterConn::Postgres(pool, handle) => {
            let mut tx = PgTx::begin(pool, handle)?;
            let queued = write_batch(&mut tx, holder, batch, clean, &mut clean_now)?;
            tx.commit()?;
            queued
        }
    };
    // Only a committed reset makes an area known clean.
    clean.known.extend(clean_now);
    Ok(queued)
}

/// Applies every operation of the batch in the order it was sent. Returns, per operation, the
/// runs it queued (empty for all but ingests), or why it was refused: a write to a run that
/// another process has claimed since (`owner` no longer holds it) changes nothing. Consecutive
/// ingests, and consecutive run ends, are written together ([`set_writes`]).
fn write_batch(
    tx: &mut dyn BatchTx,
    holder: Holder<'_>,
    batch: &[WriteOp],
    clean: &mut CleanAreas,
    clean_now: &mut BTreeSet<i64>,
) -> Result<Vec<OpResult>, TxError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let owner = holder.owner;
    let mut queued = Vec::with_capacity(batch.len());
    let mut at = 0;
    while at < batch.len() {
        let op = &batch[at];
        match op {
            WriteOp::Ingest { .. } => {
                let group = same_kind_run(&batch[at..]);
                queued.extend(ingest_group(tx, holder, &batch[at..at + group], now_ms)?.into_iter().map(Ok));
                at += group;
                continue;
            }
            WriteOp::Finish { .. } => {
                let group = same_kind_run(&batch[at..]);
                finish_group(tx, owner, &batch[at..at + group], clean, clean_now)?;
                queued.extend((0..group).map(|_| Ok(Vec::new())));
                at += group;
                continue;
            }
            _ => {}
        }
        let mut runs = Ok(Vec::new());
        match op {
            WriteOp::AreaFailed { area_ids, error, pause_after, cause, now_ms } => {
                for area_id in area_ids {
                    clean.forget(*area_id);
                    clean_now.remove(area_id);
                    record_area_failure(tx, *area_id, error, *pause_after, *cause, *now_ms)?;
                }
            }
            WriteOp::InFlight { run_id, index, now_ms, .. } => {
                let held = tx.exec(
                    "UPDATE runs SET status = 'running', in_flight = ?1, started_at = COALESCE(started_at, ?2),
                     next_attempt_at = ?2 + ?5 WHERE id = ?3 AND lease_owner = ?4",
                    &[
                        Param::Int(i64::from(*index)),
                        Param::Int(*now_ms),
                        Param::Int(*run_id),
                        Param::text(Some(owner)),
                        Param::Int(holder.leases.in_flight_ms),
                    ],
                )?;
                if held == 0 {
                    runs = Err(lease_lost(*run_id));
                }
            }
            WriteOp::Retry { run_id, reactions_done, next_attempt_ms, error, count_attempt } => {
                let held = tx.exec(
                    "UPDATE runs SET status = 'queued', in_flight = NULL, reactions_done = ?1, next_attempt_at = ?2,
                     error = ?3, attempts = attempts + ?4 WHERE id = ?5 AND lease_owner = ?6",
                    &[
                        Param::Int(i64::from(*reactions_done)),
                        Param::Int(*next_attempt_ms),
                        Param::text(Some(error)),
                        Param::Int(i64::from(*count_attempt)),
                        Param::Int(*run_id),
                        Param::text(Some(owner)),
                    ],
                )?;
                if held == 0 {
                    tracing::warn!(run = run_id, "{}", lease_lost(*run_id));
                }
            }
            WriteOp::Ingest { .. } | WriteOp::Finish { .. } | WriteOp::Flush { .. } => {}
        }
        queued.push(runs);
        at += 1;
    }
    Ok(queued)
}

/// How many operations at the start of `ops` are of the first one's kind.
fn same_kind_run(ops: &[WriteOp]) -> usize {
    let Some(first) = ops.first() else { return 0 };
    ops.iter().take_while(|op| std::mem::discriminant(*op) == std::mem::discriminant(first)).count()
}

/// Records consecutive ingests: each event's key is marked seen, and each key not seen before
/// gets its run (queued, or skipped by the condition) unless its ingest is a baseline or its
/// area's fan-out budget is spent; then the areas' poll state is stored. Returns, per ingest,
/// the runs it queued.
fn ingest_group(
    tx: &mut dyn BatchTx,
    holder: Holder<'_>,
    ops: &[WriteOp],
    now_ms: i64,
) -> Result<Vec<Vec<QueuedRun>>, TxError> {
    let ingests: Vec<(i64, &[NewEvent], bool, Option<&PollUpdate>)> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Ingest { area_id, events, baseline, update, .. } => {
                Some((*area_id, events.as_slice(), *baseline, update.as_ref()))
            }
            _ => None,
        })
        .collect();
    let keys: Vec<(i64, &str)> =
        ingests.iter().flat_map(|(area_id, events, ..)| events.iter().map(|e| (*area_id, e.key.as_str()))).collect();
    let mut fresh = set_writes::mark_seen(tx, &keys, now_ms / 1000)?.into_iter();
    let mut runs = Vec::new();
    // Per run: its ingest, and the event (for the queued run handed back).
    let mut sources: Vec<(usize, &NewEvent)> = Vec::new();
    // Per area over its budget: how many were only marked seen, the limit, the first of them.
    let mut over_budgets = Vec::new();
    for (n, (area_id, events, baseline, update)) in ingests.iter().enumerate() {
        let budget = update.and_then(|u| u.max_new_events);
        let mut firing = 0u32;
        let mut over_budget: Option<(u32, &str)> = None;
        for event in events.iter() {
            if !fresh.next().unwrap_or(false) || *baseline {
                continue;
            }
            let skipped = event.skip_reason.as_deref();
            if skipped.is_none() {
                if budget.is_some_and(|limit| firing >= limit) {
                    over_budget.get_or_insert((0, event.key.as_str())).0 += 1;
                    continue;
                }
                firing += 1;
            }
            runs.push(NewRun {
                area_id: *area_id,
                event_key: &event.key,
                ingredients: serde_json::to_string(&event.ingredients).unwrap_or_else(|_| "{}".into()),
                status: if skipped.is_none() { RunStatus::Queued.as_str() } else { RunStatus::Skipped.as_str() },
                summary: skipped.map(|why| format!("skipped: {why}")),
            });
            sources.push((n, event));
        }
        if let (Some((skipped, first)), Some(limit)) = (over_budget, budget) {
            over_budgets.push((*area_id, skipped, limit, first));
        }
    }
    let ids = set_writes::insert_runs(tx, holder.owner, &runs, now_ms, holder.leases.run_ms)?;
    let mut queued = vec![Vec::new(); ingests.len()];
    for ((run, id), (n, event)) in runs.iter().zip(ids).zip(sources) {
        if let (Some(run_id), true) = (id, run.status == RunStatus::Queued.as_str()) {
            queued[n].push(QueuedRun {
                run_id,
                area_id: run.area_id,
                event_key: event.key.clone(),
                ingredients: event.ingredients.clone(),
                reactions_done: 0,
                attempts: 0,
            });
        }
    }
    for (area_id, skipped, limit, first) in over_budgets {
        record_over_budget(tx, area_id, skipped, limit, first, now_ms)?;
    }
    let polled: Vec<PolledArea> = ingests
        .iter()
        .filter_map(|(area_id, _, _, update)| {
            update.map(|u| PolledArea {
                area_id: *area_id,
                cursor: u.cursor.as_ref().map(|c| c.to_string()),
                baselined: u.baselined,
                claim: u.claim.as_deref(),
            })
        })
        .collect();
    set_writes::update_polled(tx, holder.owner, &polled, now_ms)?;
    Ok(queued)
}

/// Records consecutive run ends (those `owner` still holds), then what they mean for their
/// areas: a failure counts against its area, which may pause it; a success resets the count.
fn finish_group(
    tx: &mut dyn BatchTx,
    owner: &str,
    ops: &[WriteOp],
    clean: &mut CleanAreas,
    clean_now: &mut BTreeSet<i64>,
) -> Result<(), TxError> {
    let ends: Vec<(&RunEnd, u32)> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Finish { end, pause_after } => Some((end, *pause_after)),
            _ => None,
        })
        .collect();
    let rows: Vec<EndedRun> = ends
        .iter()
        .map(|(end, _)| EndedRun {
            run_id: end.run_id,
            status: end.status.as_str(),
            reactions_done: end.reactions_done,
            error: end.error.as_deref(),
            summary: end.summary.as_deref(),
            now_ms: end.now_ms,
        })
        .collect();
    let recorded = set_writes::end_runs(tx, owner, &rows)?;
    for ((end, pause_after), recorded) in ends.into_iter().zip(recorded) {
        let area_id = end.area_id;
        if !recorded {
            tracing::warn!(run = end.run_id, "{}", lease_lost(end.run_id));
        } else if fails_area(end) {
            clean.forget(area_id);
            clean_now.remove(&area_id);
            let error = end.error.as_deref().unwrap_or_default();
            record_area_failure(tx, area_id, error, pause_after, PauseCause::Failures, end.now_ms)?;
        } else if end.status == RunStatus::Succeeded && !clean.known.contains(&area_id) && clean_now.insert(area_id) {
            tx.exec(
                "UPDATE areas SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures > 0",
                &[Param::Int(area_id)],
            )?;
        }
    }
    Ok(())
}

/// Whether a run's end counts against its area (a failure with an error): the area's failure
/// count goes up, and may pause it, right after the run is recorded.
fn fails_area(end: &RunEnd) -> bool {
    end.status == RunStatus::Failed && end.error.is_some()
}

/// Areas whose failure count the writer knows to be zero, so that a succeeded run does not
/// reset it again: that `UPDATE` was a statement on every batch of the webhook hot path. The
/// writer is the only place that raises the count (`record_area_failure`), and it forgets the
/// area there; everything else only ever sets it to zero. Empty at start.
#[derive(Default)]
struct CleanAreas {
    known: HashSet<i64>,
}

impl CleanAreas {
    /// The area's failure count is about to go up.
    fn forget(&mut self, area_id: i64) {
        self.known.remove(&area_id);
    }
}

/// The one history entry for the new events a poll did not fire because of the area's
/// fan-out budget: a `skipped` run saying how many and why, so the user is told.
fn record_over_budget(
    tx: &mut dyn BatchTx,
    area_id: i64,
    skipped: u32,
    limit: u32,
    first_key: &str,
    now_ms: i64,
) -> Result<(), TxError> {
    let (items, were) = if skipped == 1 { ("new item", "was") } else { ("new items", "were") };
    let why = format!(
        "{skipped} {items} {were} skipped: more than this area's limit of {limit} new items per check \
         (they are marked as seen and will not fire; \"max_events_per_poll\" in the area file raises the limit, \
         up to {})",
        crate::areas::spec::MAX_EVENTS_PER_POLL_RANGE.end()
    );
    // The first skipped key was new in this transaction, so this key is new too.
    let digest = sha2::Sha256::digest(first_key.as_bytes());
    let key = format!("over-budget:{}", hex::encode(&digest[..12]));
    let ingredients = serde_json::json!({ "skipped": skipped, "limit": limit }).to_string();
    tx.exec(
        "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at, finished_at, error)
         VALUES (?1, ?2, ?3, 'skipped', ?4, ?4, ?4, ?5) ON CONFLICT DO NOTHING",
        &[
            Param::Int(area_id),
            Param::text(Some(&key)),
            Param::text(Some(&ingredients)),
            Param::Int(now_ms),
            Param::text(Some(&why)),
        ],
    )?;
    tracing::warn!(area = area_id, skipped, limit, "new events over the area's fan-out budget were skipped");
    Ok(())
}

fn record_area_failure(
    tx: &mut dyn BatchTx,
    area_id: i64,
    error: &str,
    pause_after: u32,
    cause: PauseCause,
    now_ms: i64,
) -> Result<(), TxError> {
    let reason = if pause_after <= 1 {
        error.to_string()
    } else {
        format!("paused after {pause_after} consecutive failures; last error: {error}")
    };
    tx.exec(
        "UPDATE areas SET consecutive_failures = consecutive_failures + 1, last_error = ?1,
         paused_reason = CASE WHEN consecutive_failures + 1 >= ?2 AND paused_reason IS NULL THEN ?3 ELSE paused_reason END,
         paused_cause = CASE WHEN consecutive_failures + 1 >= ?2 AND paused_reason IS NULL THEN ?4 ELSE paused_cause END,
         updated_at = CASE WHEN consecutive_failures + 1 >= ?2 AND paused_reason IS NULL THEN ?5 ELSE updated_at END
         WHERE id = ?6",
        &[
            Param::text(Some(error)),
            Param::Int(i64::from(pause_after)),
            Param::text(Some(&reason)),
            Param::text(Some(cause.as_str())),
            Param::Int(now_ms),
            Param::Int(area_id),
        ],
    )?;
    Ok(())
}
