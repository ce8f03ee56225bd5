//! The single writer: every engine change to the database goes through one task that commits
//! whatever has queued up in one transaction (group commit).
//!
//! With ~4 ms per fsync, one commit per event would cap Area near 250 events/s; batching keeps
//! each event durable *before* it is acknowledged while paying one fsync for many events.
//! Callers that wait (ingest, the in-flight mark) are answered only once the transaction has
//! committed.
//! The dedupe contract lives here too: a new event's key is recorded as seen in the same
//! transaction that queues its run (the outbox), so an event can never be queued twice, and a
//! key is recorded without a run only on purpose — a baseline, or events beyond the area's
//! fan-out budget (see [`PollUpdate::max_new_events`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::Digest;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::areas::PauseCause;
use crate::connector::Ingredients;

/// Rows per multi-row INSERT, well under SQLite's bound-parameter limit.
const CHUNK: usize = 500;
/// Most operations folded into one transaction.
const MAX_BATCH: usize = 4096;
/// A run queued by ingest is delivered from memory at once; the store only hands it out again
/// (to the retry scanner) after this lease, i.e. if this process died before finishing it.
pub const LEASE_MS: i64 = 30_000;

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

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriteOp>,
}

impl Writer {
    /// Starts the writer task on `pool`; it ends when every handle is dropped.
    pub fn spawn(pool: SqlitePool) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(pool, rx));
        (Writer { tx }, task)
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

async fn run(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<WriteOp>) {
    let mut batch = Vec::with_capacity(64);
    let mut clean = CleanAreas::default();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Let the tasks that are ready to run (other webhook requests, finished deliveries)
        // reach the queue first: one commit then carries them all (group commit), at the cost
        // of one turn of the scheduler, not of a timer.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        apply(&pool, &mut batch, &mut clean).await;
        batch.clear();
    }
}

/// Replies to send once the transaction's fate is known.
enum Reply {
    Ingest(oneshot::Sender<Result<Vec<QueuedRun>, String>>, Vec<QueuedRun>),
    Unit(oneshot::Sender<Result<(), String>>),
    Flush(oneshot::Sender<()>),
}

async fn apply(pool: &SqlitePool, batch: &mut Vec<WriteOp>, clean: &mut CleanAreas) {
    let result = apply_batch(pool, batch, clean).await;
    match result {
        Ok(replies) => {
            for reply in replies {
                match reply {
                    Reply::Ingest(tx, runs) => {
                        let _ = tx.send(Ok(runs));
                    }
                    Reply::Unit(tx) => {
                        let _ = tx.send(Ok(()));
                    }
                    Reply::Flush(tx) => {
                        let _ = tx.send(());
                    }
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

async fn apply_batch(
    pool: &SqlitePool,
    batch: &mut Vec<WriteOp>,
    clean: &mut CleanAreas,
) -> Result<Vec<Reply>, sqlx::Error> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut tx = pool.begin().await?;

    // 1. Seen keys for every ingested event, in multi-row statements; RETURNING tells which
    //    (area, key) pairs are new.
    let mut seen_rows: Vec<(i64, &str)> = Vec::new();
    for op in batch.iter() {
        if let WriteOp::Ingest { area_id, events, .. } = op {
            seen_rows.extend(events.iter().map(|e| (*area_id, e.key.as_str())));
        }
    }
    let mut fresh: HashSet<(i64, String)> = HashSet::with_capacity(seen_rows.len());
    for chunk in seen_rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO seen_events (area_id, event_key, seen_at) ");
        q.push_values(chunk, |mut b, (area, key)| {
            b.push_bind(*area).push_bind(*key).push_bind(now_ms / 1000);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING area_id, event_key");
        for row in q.build().fetch_all(&mut *tx).await? {
            fresh.insert((row.get(0), row.get(1)));
        }
    }

    // 2. Runs for the fresh, non-baseline events (queued, or skipped by the condition).
    struct Pending<'a> {
        op: usize,
        area_id: i64,
        event: &'a NewEvent,
        json: String,
    }
    let mut pending: Vec<Pending> = Vec::new();
    // Per op over its fan-out budget: (events only marked seen, the budget, the first of them).
    let mut over_budget: HashMap<usize, (u32, u32, String)> = HashMap::new();
    for (i, op) in batch.iter().enumerate() {
        if let WriteOp::Ingest { area_id, events, baseline: false, update, .. } = op {
            let budget = update.as_ref().and_then(|u| u.max_new_events);
            let mut firing = 0u32;
            for event in events {
                if fresh.remove(&(*area_id, event.key.clone())) {
                    if event.skip_reason.is_none() {
                        if budget.is_some_and(|limit| firing >= limit) {
                            let entry =
                                over_budget.entry(i).or_insert_with(|| (0, budget.unwrap_or(0), event.key.clone()));
                            entry.0 += 1;
                            continue;
                        }
                        firing += 1;
                    }
                    let json = serde_json::to_string(&event.ingredients).unwrap_or_else(|_| "{}".into());
                    pending.push(Pending { op: i, area_id: *area_id, event, json });
                }
            }
        }
    }
    let mut queued: HashMap<usize, Vec<QueuedRun>> = HashMap::new();
    for chunk in pending.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at, finished_at, summary) ",
        );
        q.push_values(chunk, |mut b, p| {
            let skipped = p.event.skip_reason.as_deref();
            let status = if skipped.is_none() { RunStatus::Queued } else { RunStatus::Skipped };
            let finished = skipped.is_some().then_some(now_ms);
            b.push_bind(p.area_id)
                .push_bind(p.event.key.as_str())
                .push_bind(p.json.as_str())
                .push_bind(status.as_str())
                .push_bind(now_ms + LEASE_MS)
                .push_bind(now_ms)
                .push_bind(finished)
                .push_bind(skipped.map(|why| format!("skipped: {why}")));
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING id, area_id, event_key");
        let rows = q.build().fetch_all(&mut *tx).await?;
        let mut ids: HashMap<(i64, String), i64> = HashMap::with_capacity(rows.len());
        for row in rows {
            ids.insert((row.get(1), row.get(2)), row.get(0));
        }
        for p in chunk {
            if p.event.skip_reason.is_some() {
                continue;
            }
            if let Some(id) = ids.get(&(p.area_id, p.event.key.clone())) {
                queued.entry(p.op).or_default().push(QueuedRun {
                    run_id: *id,
                    area_id: p.area_id,
                    event_key: p.event.key.clone(),
                    ingredients: p.event.ingredients.clone(),
                    reactions_done: 0,
                    attempts: 0,
                });
            }
        }
    }

    // 3. Everything else in order. Finished runs (one per event on the hot path) are gathered
    //    into one statement, recorded before any other op and before an area failure, so
    //    changes keep the order they were sent in; the rest are one statement per op (rare).
    let mut replies = Vec::with_capacity(batch.len());
    let mut finished = FinishedRuns { clean_now: BTreeSet::new(), ..FinishedRuns::default() };
    for (i, op) in batch.drain(..).enumerate() {
        if !matches!(op, WriteOp::Finish { .. }) {
            finished.record(&mut tx, clean).await?;
        }
        match op {
            WriteOp::Ingest { area_id, update, reply, .. } => {
                if let Some((skipped, limit, first)) = over_budget.remove(&i) {
                    record_over_budget(&mut tx, area_id, skipped, limit, &first, now_ms).await?;
                }
                if let Some(update) = update {
                    let cursor = update.cursor.as_ref().map(|c| c.to_string());
                    sqlx::query(
                        "UPDATE areas SET cursor = COALESCE(?, cursor), baselined = (baselined OR ?),
                         consecutive_failures = 0, last_error = NULL, last_polled_at = ? WHERE id = ?",
                    )
                    .bind(cursor)
                    .bind(update.baselined)
                    .bind(now_ms)
                    .bind(area_id)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(reply) = reply {
                    replies.push(Reply::Ingest(reply, queued.remove(&i).unwrap_or_default()));
                }
            }
            WriteOp::AreaFailed { area_ids, error, pause_after, cause, now_ms } => {
                for area_id in area_ids {
                    clean.forget(area_id);
                    finished.clean_now.remove(&area_id);
                    record_area_failure(&mut tx, area_id, &error, pause_after, cause, now_ms).await?;
                }
            }
            WriteOp::InFlight { run_id, index, now_ms, reply } => {
                sqlx::query(
                    "UPDATE runs SET status = 'running', in_flight = ?, started_at = COALESCE(started_at, ?) WHERE id = ?",
                )
                .bind(index)
                .bind(now_ms)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
                replies.push(Reply::Unit(reply));
            }
            WriteOp::Finish { end, pause_after } => {
                if finished.holds(end.run_id) {
                    finished.record(&mut tx, clean).await?;
                }
                let failure =
                    fails_area(&end).then(|| (end.area_id, end.error.clone().unwrap_or_default(), end.now_ms));
                finished.push(end);
                if let Some((area_id, error, now_ms)) = failure {
                    finished.record(&mut tx, clean).await?;
                    clean.forget(area_id);
                    finished.clean_now.remove(&area_id);
                    record_area_failure(&mut tx, area_id, &error, pause_after, PauseCause::Failures, now_ms).await?;
                }
            }
            WriteOp::Retry { run_id, reactions_done, next_attempt_ms, error, count_attempt } => {
                sqlx::query(
                    "UPDATE runs SET status = 'queued', in_flight = NULL, reactions_done = ?, next_attempt_at = ?,
                     error = ?, attempts = attempts + ? WHERE id = ?",
                )
                .bind(reactions_done)
                .bind(next_attempt_ms)
                .bind(error)
                .bind(i64::from(count_attempt))
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
            }
            WriteOp::Flush { reply } => replies.push(Reply::Flush(reply)),
        }
    }
    finished.record(&mut tx, clean).await?;
    tx.commit().await?;
    // Only a committed reset makes an area known clean.
    clean.known.extend(std::mem::take(&mut finished.clean_now));
    Ok(replies)
}

/// Whether a run's end counts against its area (a failure with an error): the area's failure
/// count goes up, and may pause it, right after the run is recorded.
fn fails_area(end: &RunEnd) -> bool {
    end.status == RunStatus::Failed && end.error.is_some()
}

/// Runs that reached a final state, recorded together: one multi-row `UPDATE … FROM` per
/// [`CHUNK`] runs rather than two statements per run (this is the second write of every webhook
/// event; bench/README.md has the figures). A run that fails its area is recorded before the
/// area's failure, so changes keep the order they were sent in.
#[derive(Default)]
struct FinishedRuns {
    runs: Vec<RunEnd>,
    ids: HashSet<i64>,
    /// Areas whose failure count this transaction set to zero (known clean once it commits).
    clean_now: BTreeSet<i64>,
}

/// Areas whose failure count the writer knows to be zero, so that a succeeded run does not
/// reset it again: that `UPDATE` was a round trip to the database on every batch of the webhook
/// hot path. The writer is the only place that raises the count (`record_area_failure`), and
/// it forgets the area there; everything else only ever sets it to zero. Empty at start.
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

impl FinishedRuns {
    /// Whether `run_id` is already waiting: the caller then records it first, so two ends of
    /// one run keep their order.
    fn holds(&self, run_id: i64) -> bool {
        self.ids.contains(&run_id)
    }

    /// Adds a run to record with the others.
    fn push(&mut self, run: RunEnd) {
        self.ids.insert(run.run_id);
        self.runs.push(run);
    }

    /// Writes the waiting runs and resets the failure count of the areas whose runs succeeded
    /// (unless known to be zero already).
    async fn record(&mut self, tx: &mut sqlx::Transaction<'_, Sqlite>, clean: &CleanAreas) -> Result<(), sqlx::Error> {
        if self.runs.is_empty() {
            return Ok(());
        }
        for chunk in self.runs.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("WITH f(id, status, done, error, summary, at) AS (");
            q.push_values(chunk, |mut b, run| {
                b.push_bind(run.run_id)
                    .push_bind(run.status.as_str())
                    .push_bind(run.reactions_done)
                    .push_bind(run.error.as_deref())
                    .push_bind(run.summary.as_deref())
                    .push_bind(run.now_ms);
            });
            q.push(
                ") UPDATE runs SET status = f.status, reactions_done = f.done, in_flight = NULL, error = f.error,
                 summary = f.summary, attempts = attempts + 1, started_at = COALESCE(started_at, created_at),
                 finished_at = f.at, duration_ms = f.at - created_at,
                 ingredients = CASE WHEN length(ingredients) > 4096
                    THEN json_object('truncated', substr(ingredients, 1, 4000)) ELSE ingredients END
                 FROM f WHERE runs.id = f.id",
            );
            q.build().execute(&mut **tx).await?;
        }
        let succeeded: BTreeSet<i64> = self
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .map(|r| r.area_id)
            .filter(|id| !clean.known.contains(id) && !self.clean_now.contains(id))
            .collect();
        self.clean_now.extend(succeeded.iter().copied());
        if !succeeded.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE areas SET consecutive_failures = 0 WHERE consecutive_failures > 0 AND id IN (",
            );
            let mut ids = q.separated(", ");
            for id in succeeded {
                ids.push_bind(id);
            }
            ids.push_unseparated(")");
            q.build().execute(&mut **tx).await?;
        }
        self.runs.clear();
        self.ids.clear();
        Ok(())
    }
}

/// The one history entry for the new events a poll did not fire because of the area's
/// fan-out budget: a `skipped` run saying how many and why, so the user is told.
async fn record_over_budget(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    area_id: i64,
    skipped: u32,
    limit: u32,
    first_key: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
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
    sqlx::query(
        "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at, finished_at, error)
         VALUES (?, ?, ?, 'skipped', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(area_id)
    .bind(key)
    .bind(ingredients)
    .bind(now_ms)
    .bind(now_ms)
    .bind(now_ms)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    tracing::warn!(area = area_id, skipped, limit, "new events over the area's fan-out budget were skipped");
    Ok(())
}

async fn record_area_failure(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    area_id: i64,
    error: &str,
    pause_after: u32,
    cause: PauseCause,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let reason = if pause_after <= 1 {
        error.to_string()
    } else {
        format!("paused after {pause_after} consecutive failures; last error: {error}")
    };
    sqlx::query(
        "UPDATE areas SET consecutive_failures = consecutive_failures + 1, last_error = ?,
         paused_reason = CASE WHEN consecutive_failures + 1 >= ? AND paused_reason IS NULL THEN ? ELSE paused_reason END,
         paused_cause = CASE WHEN consecutive_failures + 1 >= ? AND paused_reason IS NULL THEN ? ELSE paused_cause END,
         updated_at = CASE WHEN consecutive_failures + 1 >= ? AND paused_reason IS NULL THEN ? ELSE updated_at END
         WHERE id = ?",
    )
    .bind(error)
    .bind(pause_after)
    .bind(reason)
    .bind(pause_after)
    .bind(cause.as_str())
    .bind(pause_after)
    .bind(now_ms)
    .bind(area_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
