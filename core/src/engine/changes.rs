//! Edits made by other processes sharing a PostgreSQL store reach this engine at once: the
//! database notifies `area_changes` when an area or a connection is added, edited or removed
//! (triggers in its migrations), and the engine reloads its areas. Its look at the areas'
//! fingerprint every [`super::EngineConfig::reload_every`] stays as the fallback while the
//! listening connection is down.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::Shared;

/// The channel the migrations' triggers notify.
const CHANNEL: &str = "area_changes";

/// Listens until `stop`, asking the scheduler for a reload on each notification.
pub async fn listen(shared: Arc<Shared>, url: String, mut stop: watch::Receiver<bool>) {
    loop {
        let mut listener = tokio::select! {
            connected = connect(&url) => match connected {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for area edits; looking for them every reload interval");
                    if pause_or_stop(&mut stop).await {
                        return;
                    }
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => {
                        // Whatever changed happened before the notification was sent (the
                        // triggers run in the committing transaction): reload now.
                        shared.reload_requested.fetch_add(1, Ordering::AcqRel);
                        shared.reload_wake.notify_one();
                    }
                    // The connection dropped: notifications sent meanwhile are lost, so reload
                    // once connected again.
                    Ok(None) => {
                        shared.reload_requested.fetch_add(1, Ordering::AcqRel);
                        shared.reload_wake.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for area edits failed; reconnecting");
                        break;
                    }
                },
                _ = stop.changed() => return,
            }
        }
        if pause_or_stop(&mut stop).await {
            return;
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Waits a second before trying again; true when asked to stop meanwhile.
async fn pause_or_stop(stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(1)) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
