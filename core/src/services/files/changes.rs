//! Waiting for a folder to change without listing it over and over: the operating system tells
//! (inotify on Linux, through `notify`; FSEvents and ReadDirectoryChangesW elsewhere), and the
//! folder is listed only then. An idle folder area costs no work at all between checks.
//!
//! A change is looked at once per [`WATCH_EVERY`] however many events a copy sends, and again
//! each [`WATCH_EVERY`] until `quiet_after` has passed since the last one, so a file still
//! settling (see the `settle_secs` parameter) is looked at again once it has settled. Where the
//! folder cannot be watched (no inotify watches left, a filesystem without events), the folder
//! is listed every [`WATCH_EVERY`] instead.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::WATCH_EVERY;

/// A folder being watched: dropping it stops the watch.
pub(super) struct FolderEvents {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::Receiver<()>,
}

/// Starts watching `folder` (and the folders inside it when `recursive`, never through a
/// link); `None` when this folder cannot be watched, with why in the log. Blocking (a recursive
/// watch walks the tree): call it off the async runtime.
pub(super) fn watch(folder: &Path, recursive: bool) -> Option<FolderEvents> {
    // One pending signal is enough: whatever happened is found by the next listing.
    let (tx, changes) = mpsc::channel(1);
    let handler = move |_event: notify::Result<notify::Event>| {
        let _ = tx.try_send(());
    };
    let config = notify::Config::default().with_follow_symlinks(false);
    let started = notify::RecommendedWatcher::new(handler, config).and_then(|mut watcher| {
        let mode = if recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
        watcher.watch(folder, mode).map(|()| watcher)
    });
    match started {
        Ok(watcher) => Some(FolderEvents { _watcher: watcher, changes }),
        Err(e) => {
            tracing::info!(folder = %folder.display(), error = %e, "cannot watch the folder for changes; listing it every second");
            None
        }
    }
}

/// [`watch`] on a blocking thread.
pub(super) async fn watch_off_thread(folder: PathBuf, recursive: bool) -> Option<FolderEvents> {
    tokio::task::spawn_blocking(move || watch(&folder, recursive)).await.ok().flatten()
}

/// Waits at most `max_wait` for `look` to find news (true). `look` runs once at the start
/// (what changed before the watch began), then only as the module doc says: after `events`
/// report a change, or every [`WATCH_EVERY`] without `events`.
pub(super) async fn wait_for_news<F, Fut, E>(
    mut events: Option<FolderEvents>,
    max_wait: Duration,
    quiet_after: Duration,
    mut look: F,
) -> Result<bool, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, E>>,
{
    let until = Instant::now() + max_wait;
    let mut next_look = Some(Instant::now());
    let mut looking_until: Option<Instant> = None;
    loop {
        let wake = next_look.map_or(until, |at| at.min(until));
        let changed = match events.as_mut() {
            Some(folder) => tokio::select! {
                changed = folder.changes.recv() => Some(changed.is_some()),
                _ = tokio::time::sleep_until(wake) => None,
            },
            None => {
                tokio::time::sleep_until(wake).await;
                None
            }
        };
        let now = Instant::now();
        match changed {
            Some(true) => {
                looking_until = Some(now + quiet_after);
                next_look.get_or_insert(now + WATCH_EVERY);
                continue;
            }
            // The watch ended on its own: list the folder every second from now on.
            Some(false) => {
                events = None;
                next_look.get_or_insert(now);
                continue;
            }
            None => {}
        }
        if now >= until {
            return Ok(false);
        }
        if next_look.is_some_and(|at| at <= now) {
            if look().await? {
                return Ok(true);
            }
            let still_settling = looking_until.is_some_and(|t| now < t);
            next_look = (events.is_none() || still_settling).then(|| Instant::now() + WATCH_EVERY);
            if !still_settling {
                looking_until = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Counts the looks; finds news from the `news_from`-th look on (never when 0).
    fn counting(news_from: usize) -> (Arc<AtomicUsize>, impl FnMut() -> std::future::Ready<Result<bool, ()>>) {
        let looks = Arc::new(AtomicUsize::new(0));
        let seen = looks.clone();
        (looks, move || {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(Ok(news_from != 0 && n >= news_from))
        })
    }

    /// Writes `bytes` to `path` `after_ms` from now, as another program would while the trigger waits.
    fn write_later(path: std::path::PathBuf, after_ms: u64, bytes: &'static [u8]) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            std::fs::write(path, bytes).expect("write");
        });
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_watched_folder_is_listed_once_in_a_whole_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = watch(dir.path(), false).expect("a watch on a temporary folder");
        let (looks, look) = counting(0);
        let found = wait_for_news(Some(events), Duration::from_secs(600), Duration::from_secs(4), look).await;
        assert_eq!(found, Ok(false));
        assert_eq!(looks.load(Ordering::SeqCst), 1, "only the look at the start");
    }

    #[tokio::test]
    async fn a_file_dropped_in_a_watched_folder_is_looked_at_within_a_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = watch(dir.path(), false).expect("a watch on a temporary folder");
        let (looks, look) = counting(2);
        let path = dir.path().join("invoice.pdf");
        write_later(path, 300, b"%PDF");
        let started = std::time::Instant::now();
        let found = wait_for_news(Some(events), Duration::from_secs(30), Duration::from_secs(4), look).await;
        assert_eq!(found, Ok(true));
        assert_eq!(looks.load(Ordering::SeqCst), 2, "the look at the start, then one after the file came");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_change_not_yet_settled_is_looked_at_again_until_it_has() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = watch(dir.path(), true).expect("a recursive watch on a temporary folder");
        // News only at the fourth look: the start, then three looks a second apart after the
        // one change, as a download settles.
        let (looks, look) = counting(4);
        let path = dir.path().join("download.iso");
        write_later(path, 200, b"partial");
        let found = wait_for_news(Some(events), Duration::from_secs(30), Duration::from_secs(5), look).await;
        assert_eq!(found, Ok(true));
        assert_eq!(looks.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_watch_the_folder_is_listed_every_second() {
        let (looks, look) = counting(0);
        let found = wait_for_news(None, Duration::from_millis(10_500), Duration::from_secs(4), look).await;
        assert_eq!(found, Ok(false));
        assert_eq!(looks.load(Ordering::SeqCst), 11, "at the start, then once a second");
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_change_looks_stop_once_it_is_quiet() {
        let (tx, changes) = mpsc::channel(1);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut events = watch(dir.path(), false).expect("a watch");
        events.changes = changes;
        let (looks, look) = counting(0);
        tx.try_send(()).expect("a change");
        let found = wait_for_news(Some(events), Duration::from_secs(60), Duration::from_secs(3), look).await;
        assert_eq!(found, Ok(false));
        // The start, then one look a second while the change settles (3 s), then none.
        let n = looks.load(Ordering::SeqCst);
        assert!((3..=5).contains(&n), "{n} looks");
        drop(tx);
    }
}
