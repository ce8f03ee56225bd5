//! Notices changes the app did not make itself — the engine's runs and pauses, edits from the
//! `area` command — and tells the UI, so screens stay live without polling the whole state.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{broadcast, watch};

use super::{AppEvent, ChangeKind};

/// How often the cheap fingerprints are compared.
const EVERY: Duration = Duration::from_millis(750);

/// Runs until `stop` turns true.
pub(super) async fn watch_changes(
    pool: SqlitePool,
    events: broadcast::Sender<AppEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last: Option<(String, String)> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let Ok(now) = fingerprints(&pool).await else { continue };
        if let Some((runs, areas)) = &last {
            if *runs != now.0 {
                let _ = events.send(AppEvent { kind: ChangeKind::Runs });
            }
            if *areas != now.1 {
                let _ = events.send(AppEvent { kind: ChangeKind::Areas });
            }
        }
        last = Some(now);
    }
}

async fn fingerprints(pool: &SqlitePool) -> Result<(String, String), sqlx::Error> {
    let runs: (Option<i64>, i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MAX(id), COUNT(*), SUM(attempts), MAX(COALESCE(finished_at, started_at, created_at)) FROM runs",
    )
    .fetch_one(pool)
    .await?;
    let areas: (i64, Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(updated_at), SUM(consecutive_failures), SUM(paused_reason IS NOT NULL) FROM areas",
    )
    .fetch_one(pool)
    .await?;
    Ok((format!("{runs:?}"), format!("{areas:?}")))
}
