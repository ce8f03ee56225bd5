//! Which process runs the engine, as seen from the data directory.
//!
//! On the desktop the engine lives in the tray process (`area tray`), which loads no web view,
//! and the window is a process of its own, started on demand and ended when it closes: that is
//! how Area costs next to nothing while its window is closed. Both processes share the data
//! directory, and this module is what they say to each other through it:
//! - the engine's owner publishes its [`EngineStatus`] in [`STATUS_FILE`], with its process id
//!   so a status left by a killed process reads as "not running";
//! - "Pause all" is the [`super::PAUSED_FILE`] marker whoever writes it; the owner follows it
//!   within [`FOLLOW_EVERY`] ([`follow_pause_marker`]);
//! - after an area edit the window asks the owner, over the [`RELOAD_SOCKET`] in the data
//!   directory, to apply it before the edit returns, as an engine in the same process does: an
//!   area switched off in the window fires no more, one created there takes events at once.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{App, ChangeKind, EngineStatus, PAUSED_FILE};

/// The engine owner's status, in the data directory.
pub const STATUS_FILE: &str = "engine.status";

/// The owner's socket for "apply the area edits now" (Unix only; the data directory is the
/// user's own, 0700).
pub const RELOAD_SOCKET: &str = "engine.sock";

/// How long a window waits for the owner to apply an edit (the owner's own wait is 2 s).
const RELOAD_WITHIN: Duration = Duration::from_secs(3);

/// How often the owner looks at the pause marker, and a window at the owner's status.
pub(super) const FOLLOW_EVERY: Duration = Duration::from_millis(400);

/// How long a window just opened shows "starting" rather than "not running": the shell starts
/// the tray process with it.
pub(super) const STARTING_GRACE: Duration = Duration::from_secs(5);

/// How long a window waits for the owner to follow a pause or resume before answering.
const OWNER_FOLLOWS_WITHIN: Duration = Duration::from_secs(3);

/// Said by a window whose engine process is gone (quit from the tray, or killed).
pub const NOT_RUNNING: &str =
    "Area's engine is not running: it runs in the tray, which was quit. Open Area again to start it.";

#[derive(Serialize, Deserialize)]
struct Published {
    pid: u32,
    status: EngineStatus,
}

/// Records `status` as this process's engine status (written aside and renamed in, so a reader
/// never sees half a file).
pub(super) fn publish(dir: &Path, status: &EngineStatus) {
    let published = Published { pid: std::process::id(), status: status.clone() };
    let Ok(text) = serde_json::to_vec(&published) else { return };
    let aside = dir.join(format!("{STATUS_FILE}.{}", std::process::id()));
    let written =
        crate::paths::write_private_file(&aside, &text).and_then(|()| std::fs::rename(&aside, dir.join(STATUS_FILE)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&aside);
        tracing::warn!(error = %e, "cannot publish the engine status for the window");
    }
}

/// Removes the published status if this process wrote it (never another owner's).
pub(super) fn withdraw(dir: &Path) {
    if read_published(dir).is_some_and(|p| p.pid == std::process::id()) {
        let _ = std::fs::remove_file(dir.join(STATUS_FILE));
    }
}

fn read_published(dir: &Path) -> Option<Published> {
    let text = std::fs::read(dir.join(STATUS_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The status an engine process published, or `None` when none runs (no file, or its process
/// is gone). Shells use it to decide whether to start the tray process.
pub fn running_elsewhere(dir: &Path) -> Option<EngineStatus> {
    let published = read_published(dir)?;
    process_alive(published.pid).then_some(published.status)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // Signal 0 checks existence only; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing and touches no memory.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// What a window beside the engine shows: the marker decides "paused" at once, the owner's
/// file the rest.
pub(super) fn status_beside(dir: &Path) -> EngineStatus {
    let marked = dir.join(PAUSED_FILE).exists();
    match running_elsewhere(dir) {
        Some(status) if marked => EngineStatus { running: false, paused: true, ..status },
        Some(status) => EngineStatus { paused: false, running: status.running || status.paused, ..status },
        None if marked => EngineStatus { paused: true, ..EngineStatus::default() },
        None => EngineStatus { error: Some(NOT_RUNNING.into()), ..EngineStatus::default() },
    }
}

/// Waits (briefly) until the owner's published status says `paused`, so the window's answer to
/// "Pause all" is what the engine really does. False when the owner still runs otherwise: it
/// does not follow the marker (`area daemon` runs its engine as told).
pub(super) async fn await_owner(dir: &Path, paused: bool) -> bool {
    let deadline = Instant::now() + OWNER_FOLLOWS_WITHIN;
    while Instant::now() < deadline {
        match running_elsewhere(dir) {
            Some(status) if status.paused == paused => return true,
            None => return true,
            Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

/// Said by a window whose "Pause all" the engine's owner did not follow.
pub const OWNER_DID_NOT_PAUSE: &str = "Pause all did not take: Area's engine runs in a process that does not \
     follow it from here (`area daemon`). Stop that process (Ctrl-C, or SIGTERM) to stop its areas, or run Area \
     from the tray instead (`area tray`).";

/// Waits [`FOLLOW_EVERY`]; false once `stop` has turned true (the app is shutting down).
async fn next_look(stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        changed = stop.changed() => if changed.is_err() { return false },
    }
    !*stop.borrow()
}

/// The owner's side: starts or stops its engine when another process (a window) sets or clears
/// the pause marker. Runs until `stop` turns true.
pub(super) async fn follow_pause_marker(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let dir = app.data_dir();
    while next_look(&mut stop).await {
        let marked = dir.join(PAUSED_FILE).exists();
        let paused = app.engine_status().paused;
        if marked && !paused {
            tracing::info!("pause all set by another Area process: stopping the engine");
            app.stop_engine_paused().await;
        } else if !marked && paused {
            tracing::info!("pause all cleared by another Area process: starting the engine");
            app.start_engine().await;
        }
    }
}

/// The window's side: tells its UI when the owner's status changes. Runs until `stop`.
pub(super) async fn watch_owner(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last = app.engine_status();
    while next_look(&mut stop).await {
        let now = app.engine_status();
        if now != last {
            last = now;
            app.changed(ChangeKind::Engine);
        }
    }
}

/// The owner's side: answers each line on [`RELOAD_SOCKET`] once its engine has applied the
/// area edits made so far. Ends with the app ([`App::shutdown`] removes the socket).
#[cfg(unix)]
pub(super) fn serve_reloads(app: &App) {
    let path = app.data_dir().join(RELOAD_SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for area edits from the window; it will see them within a second");
            return;
        }
    };
    let app = app.clone();
    let mut stop = app.inner.stop_watch.subscribe();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "reload socket");
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            tokio::spawn(answer_reloads(app.clone(), stream));
        }
        let _ = std::fs::remove_file(&path);
    });
}

#[cfg(not(unix))]
pub(super) fn serve_reloads(_app: &App) {}

#[cfg(unix)]
async fn answer_reloads(app: App, stream: tokio::net::UnixStream) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(_)) = lines.next_line().await {
        app.reload_own_engine().await;
        if write.write_all(b"done\n").await.is_err() {
            break;
        }
    }
}

/// The window's side: asks the owner to apply the edits just made, and returns once it has (or
/// after [`RELOAD_WITHIN`], or at once when no owner listens: its periodic look finds them).
#[cfg(unix)]
pub(super) async fn ask_owner_to_reload(dir: &Path) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let ask = async {
        let mut stream = tokio::net::UnixStream::connect(dir.join(RELOAD_SOCKET)).await?;
        stream.write_all(b"reload\n").await?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(RELOAD_WITHIN, ask).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "no engine to apply the edit now"),
        Err(_) => tracing::warn!("the engine did not apply the edit within 3 s; it will on its next look"),
    }
}

#[cfg(not(unix))]
pub(super) async fn ask_owner_to_reload(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_left_by_a_gone_process_reads_as_not_running() {
        let dir = tempfile::tempdir().expect("temp dir");
        let running = EngineStatus { running: true, ..EngineStatus::default() };
        publish(dir.path(), &running);
        assert_eq!(running_elsewhere(dir.path()), Some(running.clone()));
        assert_eq!(status_beside(dir.path()), running);

        // The same file naming a process that no longer exists.
        let gone = Published { pid: i32::MAX as u32, status: running };
        std::fs::write(dir.path().join(STATUS_FILE), serde_json::to_vec(&gone).expect("json")).expect("write");
        assert_eq!(running_elsewhere(dir.path()), None);
        assert_eq!(status_beside(dir.path()).error.as_deref(), Some(NOT_RUNNING));
    }

    #[test]
    fn the_marker_reads_as_paused_at_once_and_withdraw_spares_other_owners() {
        let dir = tempfile::tempdir().expect("temp dir");
        publish(dir.path(), &EngineStatus { running: true, ..EngineStatus::default() });
        std::fs::write(dir.path().join(PAUSED_FILE), b"x").expect("marker");
        let status = status_beside(dir.path());
        assert!(status.paused && !status.running, "{status:?}");

        let other = Published { pid: 1, status: EngineStatus::default() };
        std::fs::write(dir.path().join(STATUS_FILE), serde_json::to_vec(&other).expect("json")).expect("write");
        withdraw(dir.path());
        assert!(dir.path().join(STATUS_FILE).exists(), "another process's status must stay");
    }
}
