//! Run history: what `area runs` shows, the user's re-run of a failed run ([`requeue`]), and the
//! pruning that keeps it bounded (ARCHITECTURE.md, engine contract point 6): every 10 minutes,
//! finished runs beyond a count per area or older than an age are deleted, and so are the oldest
//! seen keys beyond a count per area.

use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyPool, Row};
use tokio::sync::watch;

/// Finished runs kept per area.
pub const KEEP_RUNS_PER_AREA: i64 = 1000;
/// Finished runs older than this are deleted.
pub const KEEP_RUNS_DAYS: i64 = 30;
/// Seen keys kept per area (far more than any feed shows at once).
pub const KEEP_SEEN_PER_AREA: i64 = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// One run as shown to its owner.
#[derive(Debug, Clone, Serialize, specta::Type, schemars::JsonSchema)]
pub struct RunRecord {
    pub id: i64,
    pub area_id: i64,
    pub area_name: String,
    pub event_key: String,
    /// queued | running | succeeded | failed | skipped | unknown_outcome
    pub status: String,
    pub attempts: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// From the event being recorded to the run finishing.
    pub duration_ms: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub error: Option<String>,
    pub summary: Option<String>,
    /// The event's ingredients (truncated once the run is finished).
    #[specta(type = String)]
    pub ingredients: serde_json::Value,
}

/// The newest runs of a user's areas (one area's when `area_id` is given), newest first.
pub async fn list_runs(
    pool: &AnyPool,
    user_id: i64,
    area_id: Option<i64>,
    limit: i64,
) -> Result<Vec<RunRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.id, r.area_id, a.name, r.event_key, r.status, r.attempts, r.created_at, r.started_at,
                r.finished_at, r.duration_ms, r.next_attempt_at, r.error, r.summary, r.ingredients
         FROM runs r JOIN areas a ON a.id = r.area_id
         WHERE a.user_id = $1 AND ($2 IS NULL OR r.area_id = $3)
         ORDER BY r.id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(area_id)
    .bind(area_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let status: String = r.get(4);
            RunRecord {
                id: r.get(0),
                area_id: r.get(1),
                area_name: r.get(2),
                event_key: r.get(3),
                attempts: r.get(5),
                created_at: r.get(6),
                started_at: r.get(7),
                finished_at: r.get(8),
                duration_ms: r.get(9),
                next_attempt_at: (status == "queued").then(|| r.get(10)),
                status,
                error: r.get(11),
                summary: r.get(12),
                ingredients: serde_json::from_str(r.get::<&str, _>(13)).unwrap_or(serde_json::Value::Null),
            }
        })
        .collect())
}

/// Deletes history beyond the bounds; returns (runs, seen keys) deleted.
pub async fn prune(pool: &AnyPool, now_ms: i64) -> Result<(u64, u64), sqlx::Error> {
    let finished = "status IN ('succeeded', 'failed', 'skipped', 'unknown_outcome')";
    let old = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM runs WHERE {finished} AND created_at < $1")))
        .bind(now_ms - KEEP_RUNS_DAYS * 24 * 3600 * 1000)
        .execute(pool)
        .await?
        .rows_affected();
    let extra = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM runs WHERE {finished} AND id IN (
            SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY area_id ORDER BY id DESC) AS n FROM runs) AS ranked
            WHERE n > $1)"
    )))
    .bind(KEEP_RUNS_PER_AREA)
    .execute(pool)
    .await?
    .rows_affected();
    let seen = sqlx::query(
        "DELETE FROM seen_events WHERE (area_id, event_key) IN (
            SELECT area_id, event_key FROM (
                SELECT area_id, event_key, ROW_NUMBER() OVER (PARTITION BY area_id ORDER BY seen_at DESC) AS n
                FROM seen_events) AS ranked
            WHERE n > $1)",
    )
    .bind(KEEP_SEEN_PER_AREA)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((old + extra, seen))
}

/// Prunes now and then until `stop`.
pub async fn prune_forever(pool: AnyPool, mut stop: watch::Receiver<bool>) {
    loop {
        match prune(&pool, chrono::Utc::now().timestamp_millis()).await {
            Ok((runs, seen)) if runs + seen > 0 => tracing::info!(runs, seen, "pruned history"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning history failed"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Why a run cannot be queued again.
#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("no run {0} among your areas")]
    NotFound(i64),
    #[error("run {id} is {status}: only failed runs and runs of unknown outcome can be re-run")]
    NotFinishedBadly { id: i64, status: String },
    #[error("run {0}'s event was too large to keep in the history, so it cannot be re-run")]
    Truncated(i64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a test run cannot be queued.
#[derive(Debug, thiserror::Error)]
pub enum TestRunError {
    #[error("no area {0} among your areas")]
    NotFound(i64),
    #[error("the area is off or paused: turn it on to send a test, since only a running area delivers")]
    NotRunning,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Queues one run of an area's reactions with `ingredients`, outside its action: the user's
/// "Send a test". Its event key (`test:…`) is never an upstream item's, so the item it was
/// sampled from still fires when it is new. The engine delivers it within a second, like a
/// due retry. Returns the run's id.
pub async fn queue_test(
    pool: &AnyPool,
    user_id: i64,
    area_id: i64,
    ingredients: &crate::connector::Ingredients,
    now_ms: i64,
) -> Result<i64, TestRunError> {
    let row = sqlx::query("SELECT CAST(enabled AS INTEGER), paused_reason FROM areas WHERE id = $1 AND user_id = $2")
        .bind(area_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await?
        .ok_or(TestRunError::NotFound(area_id))?;
    let (enabled, paused): (bool, Option<String>) = (row.get::<i64, _>(0) != 0, row.get(1));
    if !enabled || paused.is_some() {
        return Err(TestRunError::NotRunning);
    }
    let json = serde_json::to_string(ingredients).unwrap_or_else(|_| "{}".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING id",
    )
    .bind(area_id)
    .bind(format!("test:{now_ms}.{nanos:09}"))
    .bind(json)
    .bind(now_ms)
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Queues a failed or unknown-outcome run again, for the user's explicit "re-run": it is
/// delivered like a due retry, resuming after the reactions that already succeeded. Attempts
/// start over so the retry budget applies afresh.
pub async fn requeue(pool: &AnyPool, user_id: i64, run_id: i64, now_ms: i64) -> Result<(), RequeueError> {
    let row = sqlx::query(
        "SELECT r.status, r.ingredients FROM runs r JOIN areas a ON a.id = r.area_id WHERE r.id = $1 AND a.user_id = $2",
    )
    .bind(run_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or(RequeueError::NotFound(run_id))?;
    let status: String = row.get(0);
    if status != "failed" && status != "unknown_outcome" {
        return Err(RequeueError::NotFinishedBadly { id: run_id, status });
    }
    let ingredients: serde_json::Value = serde_json::from_str(row.get::<&str, _>(1)).unwrap_or_default();
    if ingredients.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("truncated")) {
        return Err(RequeueError::Truncated(run_id));
    }
    let updated = sqlx::query(
        "UPDATE runs SET status = 'queued', attempts = 0, in_flight = NULL, next_attempt_at = $1, started_at = NULL,
                finished_at = NULL, duration_ms = NULL, error = NULL
         WHERE id = $2 AND status IN ('failed', 'unknown_outcome')",
    )
    .bind(now_ms)
    .bind(run_id)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(RequeueError::NotFound(run_id));
    }
    Ok(())
}
