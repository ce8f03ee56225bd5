//! Delivering queued runs: render each reaction's parameters for the event, send it with the
//! run's idempotency key, and record the outcome — retry with backoff, fail, or succeed.
//!
//! A run resumes after the reactions that already succeeded. A host that asked Area to wait
//! (429) delays the run without spending an attempt. A reaction that is not idempotent is first
//! marked in flight in the store; if the process dies before its outcome is recorded,
//! [`recover`] turns the run into `unknown_outcome` at the next start instead of sending it
//! again. A run whose area was disabled or removed meanwhile is skipped; one whose area is only
//! paused waits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::registry::CompiledArea;
use super::writer::{QueuedRun, RunEnd, RunStatus, WriteOp};
use super::Shared;
use crate::connector::{ConnectorError, ErrorClass, ReactionContext};
use crate::net::backoff_delay;

/// Attempts before a retryable failure becomes final.
pub const MAX_ATTEMPTS: u32 = 8;
const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);
/// Longest a single reaction may take, whatever the reaction does.
const REACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// The deterministic idempotency key of reaction `index` of an area's run for `event_key`:
/// the same event always yields the same key, so a re-send after a crash can be deduped.
pub fn idempotency_key(area_id: i64, event_key: &str, index: u32) -> String {
    let digest = Sha256::digest(event_key.as_bytes());
    format!("area-{area_id}-{}-{index}", hex::encode(&digest[..12]))
}

/// Starts delivering a run in the background unless it is already being delivered.
pub fn dispatch(shared: &Arc<Shared>, run: QueuedRun) {
    dispatch_holding(shared, run, ());
}

/// Like [`dispatch`], keeping `guard` alive until this delivery attempt ends: the webhook
/// listener's queue slot, so an accepted event counts against the queue until it is delivered
/// or handed over to the store's retry schedule.
pub fn dispatch_holding<G: Send + 'static>(shared: &Arc<Shared>, run: QueuedRun, guard: G) {
    {
        let mut in_flight = shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if !in_flight.insert(run.run_id) {
            return;
        }
    }
    let shared = shared.clone();
    shared.tasks.clone().spawn(async move {
        deliver_guarded(shared, run).await;
        drop(guard);
    });
}

async fn deliver_guarded(shared: Arc<Shared>, run: QueuedRun) {
    let run_id = run.run_id;
    if let Ok(_permit) = shared.delivery_slots.clone().acquire_owned().await {
        deliver(&shared, run).await;
    }
    shared.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id);
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn deliver(shared: &Arc<Shared>, run: QueuedRun) {
    let Some(area) = shared.area(run.area_id) else {
        settle_orphan(shared, &run).await;
        return;
    };
    let total = area.reactions.len() as u32;
    let mut summary = None;
    for index in run.reactions_done..total {
        let reaction = &area.reactions[index as usize];
        let params = match reaction.render(&run.ingredients) {
            Ok(p) => p,
            Err(e) => {
                let message = area.scrub(&format!("reaction {index}: {e}"));
                finish(shared, &run, RunStatus::Failed, index, Some(message), None);
                return;
            }
        };
        // A host that told us to slow down (429) delays this run without spending an attempt.
        // Which host a reaction goes to is only worked out while some host is held back, and
        // for a failure below (it may be the 429 that holds it back).
        let host = if shared.limiter.is_idle() { None } else { reaction.reaction.rate_limit_key(&params) };
        if let Some(ready) = host.as_deref().and_then(|h| shared.limiter.ready_at(h)) {
            let wait = ready.saturating_duration_since(Instant::now());
            retry(shared, &run, index, wait, "waiting for the rate limit of this host".into(), false);
            return;
        }
        if !reaction.reaction.idempotent() {
            if let Err(e) = shared.writer.in_flight(run.run_id, index, now_ms()).await {
                tracing::warn!(run = run.run_id, error = %e, "could not mark the reaction in flight; retrying later");
                retry(shared, &run, index, Duration::from_secs(5), e, false);
                return;
            }
        }
        let key = idempotency_key(run.area_id, &run.event_key, index);
        let http = match &reaction.binding {
            Some(binding) => shared.http.with_credential(binding.clone()),
            None => shared.http.clone(),
        };
        let ctx = ReactionContext {
            http: &http,
            idempotency_key: &key,
            notifier: shared.notifier.as_ref(),
            allow_private_network: area.allow_private_network,
            credential: reaction.credential.as_deref(),
        };
        let outcome = match tokio::time::timeout(REACTION_TIMEOUT, reaction.reaction.run(&ctx, &params)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectorError::Net(crate::net::NetError::Timeout { after: REACTION_TIMEOUT })),
        };
        match outcome {
            Ok(output) => summary = Some(output.summary),
            Err(e) => {
                // Errors keep origins only (the net layer's rule); an upstream echoing a secret
                // path or header in its answer is cut here, before history and logs see it.
                let message = area.scrub(&format!("{}.{} (reaction {index}): {e}", reaction.service, reaction.id));
                if e.class() == ErrorClass::NeedsReconnect {
                    shared.credentials_refused(area.user_id, &reaction.service);
                }
                let host = host.or_else(|| reaction.reaction.rate_limit_key(&params));
                handle_failure(shared, &area, &run, index, &e, host.as_deref(), message);
                return;
            }
        }
    }
    finish(shared, &run, RunStatus::Succeeded, total, None, summary);
}

fn handle_failure(
    shared: &Arc<Shared>,
    _area: &CompiledArea,
    run: &QueuedRun,
    index: u32,
    error: &ConnectorError,
    host: Option<&str>,
    message: String,
) {
    match error.class() {
        ErrorClass::Retryable { retry_after } => {
            if let (Some(host), Some(wait), ConnectorError::Status { status: 429, .. }) = (host, retry_after, error) {
                shared.limiter.block_for(host, wait);
            }
            let attempts = run.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                let message = format!("{message} — gave up after {attempts} attempts");
                finish(shared, run, RunStatus::Failed, index, Some(message), None);
            } else {
                let delay = backoff_delay(attempts, BACKOFF_BASE, BACKOFF_CAP, retry_after, &mut rand::rng());
                retry(shared, run, index, delay, message, true);
            }
        }
        ErrorClass::Permanent | ErrorClass::NeedsReconnect => {
            finish(shared, run, RunStatus::Failed, index, Some(message), None);
        }
    }
}

fn finish(
    shared: &Shared,
    run: &QueuedRun,
    status: RunStatus,
    reactions_done: u32,
    error: Option<String>,
    summary: Option<String>,
) {
    match status {
        RunStatus::Succeeded => {
            shared.delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        RunStatus::Failed => {
            shared.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        _ => {}
    }
    if let Some(e) = &error {
        tracing::warn!(area = run.area_id, run = run.run_id, error = %e, "run failed");
    }
    let end =
        RunEnd { run_id: run.run_id, area_id: run.area_id, status, reactions_done, error, summary, now_ms: now_ms() };
    shared.writer.send(WriteOp::Finish { end, pause_after: shared.config.pause_after });
}

fn retry(shared: &Shared, run: &QueuedRun, reactions_done: u32, delay: Duration, error: String, count_attempt: bool) {
    let next = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
    shared.writer.send(WriteOp::Retry {
        run_id: run.run_id,
        reactions_done,
        next_attempt_ms: next,
        error,
        count_attempt,
    });
}

/// The run's area is no longer runnable: skip the run if the area was disabled or removed
/// (the user asked for it to stop), keep it queued if it is only paused.
async fn settle_orphan(shared: &Shared, run: &QueuedRun) {
    let state = sqlx::query("SELECT CAST(enabled AS INTEGER), paused_reason FROM areas WHERE id = $1")
        .bind(run.area_id)
        .fetch_optional(&shared.pool)
        .await;
    match state {
        Ok(Some(row)) if row.get::<i64, _>(0) != 0 => {
            retry(shared, run, run.reactions_done, Duration::from_secs(60), "area paused".into(), false);
        }
        Ok(_) => finish(
            shared,
            run,
            RunStatus::Skipped,
            run.reactions_done,
            Some("the area was disabled before this run was delivered".into()),
            None,
        ),
        Err(e) => retry(shared, run, run.reactions_done, Duration::from_secs(5), e.to_string(), false),
    }
}

/// Claims the queued runs whose time has come (retries, runs left by a process that stopped):
/// each becomes this process's for its run lease ([`super::writer::Leases`]), and a write to it
/// by the process that held it before is refused. On a shared store, runs another process is
/// claiming at the same moment are skipped (`SKIP LOCKED`), so each goes to one process.
pub async fn due_runs(shared: &Shared, limit: i64) -> Result<Vec<QueuedRun>, sqlx::Error> {
    let sql = if shared.shared_store {
        "UPDATE runs SET lease_owner = $1, next_attempt_at = $2 + $4 WHERE id IN (
            SELECT id FROM runs WHERE status = 'queued' AND next_attempt_at <= $2
            ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, area_id, event_key, ingredients, reactions_done, attempts"
    } else {
        "UPDATE runs SET lease_owner = $1, next_attempt_at = $2 + $4 WHERE id IN (
            SELECT id FROM runs WHERE status = 'queued' AND next_attempt_at <= $2
            ORDER BY next_attempt_at LIMIT $3)
         RETURNING id, area_id, event_key, ingredients, reactions_done, attempts"
    };
    if shared.shared_store {
        expire_in_flight(&shared.pool).await?;
    }
    let rows = sqlx::query(sql)
        .bind(&shared.owner)
        .bind(now_ms())
        .bind(limit)
        .bind(shared.config.leases.run_ms)
        .fetch_all(&shared.pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| QueuedRun {
            run_id: r.get(0),
            area_id: r.get(1),
            event_key: r.get(2),
            ingredients: serde_json::from_str(r.get::<&str, _>(3)).unwrap_or_default(),
            reactions_done: r.get::<i64, _>(4).max(0) as u32,
            attempts: r.get::<i64, _>(5).max(0) as u32,
        })
        .collect())
}

/// The reactions marked in flight by a process that has since stopped (or stalled) past their
/// lease: they may or may not have happened, and their API offers no idempotency, so the runs
/// become `unknown outcome` rather than being sent again.
async fn expire_in_flight(pool: &sqlx::AnyPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE runs SET status = 'unknown_outcome', finished_at = $1, lease_owner = NULL, error = 'the Area process \
         sending this reaction stopped; it may or may not have happened, and this service offers no way to send it \
         safely twice, so it was not re-sent' WHERE status = 'running' AND next_attempt_at <= $1",
    )
    .bind(now_ms())
    .execute(pool)
    .await?
    .rows_affected())
}

/// After a crash: a reaction marked in flight may or may not have happened, and its API offers
/// no idempotency, so it becomes `unknown outcome` rather than being sent again. Runs queued by
/// the previous process are due at once. On a shared store other processes are still at work:
/// only what a stopped process held past its lease is recovered (the scanner then claims it).
pub async fn recover(pool: &sqlx::AnyPool, shared_store: bool) -> Result<(u64, u64), sqlx::Error> {
    if shared_store {
        return Ok((expire_in_flight(pool).await?, 0));
    }
    let now = now_ms();
    let unknown = sqlx::query(
        "UPDATE runs SET status = 'unknown_outcome', finished_at = $1, error = 'Area stopped while this reaction was \
         being sent; it may or may not have happened, and this service offers no way to send it safely twice, \
         so it was not re-sent' WHERE status = 'running'",
    )
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    let requeued = sqlx::query("UPDATE runs SET next_attempt_at = $1 WHERE status = 'queued' AND next_attempt_at > $2")
        .bind(now)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
    Ok((unknown, requeued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_deterministic_and_distinct() {
        assert_eq!(idempotency_key(1, "evt", 0), idempotency_key(1, "evt", 0));
        assert_ne!(idempotency_key(1, "evt", 0), idempotency_key(1, "evt", 1));
        assert_ne!(idempotency_key(1, "evt", 0), idempotency_key(2, "evt", 0));
        assert_ne!(idempotency_key(1, "evt", 0), idempotency_key(1, "evu", 0));
        assert!(idempotency_key(7, "https://x/?a=b c", 0).chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
