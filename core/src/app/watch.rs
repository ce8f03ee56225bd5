//! Notices changes the app did not make itself — the engine's runs and pauses, edits from the
//! `area` command — and tells the UI, so screens stay live without polling the whole state.
//!
//! It watches through its own connection: SQLite's `PRAGMA data_version` on it changes only when
//! another connection commits, so an idle database costs one pragma per tick, and the
//! fingerprint queries (which scan the run history) run only after a write.

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection};
use tokio::sync::{broadcast, watch};

use super::{AppEvent, ChangeKind};

/// How often the cheap fingerprints are compared.
const EVERY: Duration = Duration::from_millis(750);

/// Runs until `stop` turns true.
pub(super) async fn watch_changes(pool: AnyPool, events: broadcast::Sender<AppEvent>, mut stop: watch::Receiver<bool>) {
    let mut conn = match pool.connect_options().connect().await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the database for changes; screens refresh on their own timers");
            return;
        }
    };
    // The baseline is taken at once, so changes made right after the app opened are noticed.
    let mut last_version = data_version(&mut conn).await;
    let mut last: Option<(String, String)> = fingerprints(&mut conn).await.ok();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let version = data_version(&mut conn).await;
        if version.is_some() && last_version == version {
            continue;
        }
        last_version = version;
        let Ok(now) = fingerprints(&mut conn).await else { continue };
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
    let _ = conn.close().await;
}

/// Changes whenever another connection has committed since the last call.
async fn data_version(conn: &mut AnyConnection) -> Option<i64> {
    sqlx::query_scalar::<_, i64>("PRAGMA data_version").fetch_one(conn).await.ok()
}

async fn fingerprints(conn: &mut AnyConnection) -> Result<(String, String), sqlx::Error> {
    let runs: (Option<i64>, i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MAX(id), COUNT(*), CAST(SUM(attempts) AS BIGINT), MAX(COALESCE(finished_at, started_at, created_at))
         FROM runs",
    )
    .fetch_one(&mut *conn)
    .await?;
    let areas: (i64, Option<i64>, Option<i64>, i64) = sqlx::query_as(
        "SELECT COUNT(*), MAX(updated_at), CAST(SUM(consecutive_failures) AS BIGINT), COUNT(paused_reason) FROM areas",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((format!("{runs:?}"), format!("{areas:?}")))
}
