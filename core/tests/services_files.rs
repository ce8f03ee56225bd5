//! The `files` service against real temporary folders: the engine's baseline, exactly one event
//! per new or changed file, the debounce, the ingredients, the watcher's early wake-up, and the
//! write reaction that never leaves its folder.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use area_core::catalog::ActionKind;
use area_core::connector::{FetchContext, Params, SourceWait};
use area_core::engine::Engine;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;

/// Writes `text` to `dir/name` and sets its modification time `age` in the past.
fn put(dir: &Path, name: &str, text: &str, age: Duration) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

const OLD: Duration = Duration::from_secs(600);

fn watch_area(dir: &Path, extra: Value) -> Value {
    let mut params = json!({"folder": dir.to_str().unwrap(), "pattern": "*.pdf", "settle_secs": 5});
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    json!({
        "name": "new PDFs",
        "action": {"service": "files", "id": "changed", "params": params},
        "reactions": [{"service": "notify", "id": "send",
                       "params": {"title": "{{ change }} {{ name }}",
                                  "body": "{{ relative_path }} {{ size }} {{ path }} {{ modified_at }}"}}]
    })
}

fn titles(recorder: &RecordingNotifier) -> Vec<String> {
    recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect()
}

#[tokio::test]
async fn a_new_file_fires_once_after_the_baseline_with_its_ingredients() {
    let env = Env::new().await;
    let folder = tempfile::tempdir().unwrap();
    put(folder.path(), "already.pdf", "old", OLD);
    let area = env.add(spec(watch_area(folder.path(), json!({})))).await;
    let recorder = RecordingNotifier::new();

    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert!(env.state(area).await.baselined);
    assert_eq!(recorder.count(), 0, "files already there when the area starts do not fire");

    put(folder.path(), "invoice.pdf", "12345", OLD);
    put(folder.path(), "notes.txt", "not a pdf", OLD);
    put(folder.path(), ".invoice.pdf.part", "partial", OLD);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].0, "new invoice.pdf");
    let path = folder.path().join("invoice.pdf");
    let (rel, size, full, modified) = {
        let parts: Vec<&str> = shown[0].1.splitn(4, ' ').collect();
        (parts[0].to_string(), parts[1].to_string(), parts[2].to_string(), parts[3].to_string())
    };
    assert_eq!((rel.as_str(), size.as_str(), full.as_str()), ("invoice.pdf", "5", path.to_str().unwrap()));
    assert!(chrono::DateTime::parse_from_rfc3339(&modified).is_ok(), "{modified}");

    // "new" only: editing a known file fires nothing.
    put(folder.path(), "already.pdf", "old, edited", OLD / 2);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert_eq!(recorder.count(), 1);
    assert_eq!(env.state(area).await.last_error, None);
}

#[tokio::test]
async fn with_changes_each_modification_fires_once_and_a_recreated_file_is_new() {
    let env = Env::new().await;
    let folder = tempfile::tempdir().unwrap();
    put(folder.path(), "report.pdf", "v1", OLD);
    env.add(spec(watch_area(folder.path(), json!({"fire_on": "new_or_changed", "recursive": true})))).await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();

    put(folder.path(), "report.pdf", "v2, longer", OLD / 2);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    put(folder.path(), "sub/deeper/scan.pdf", "x", OLD);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    put(folder.path(), "report.pdf", "v3", OLD / 3);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert_eq!(titles(&recorder), ["changed report.pdf", "new scan.pdf", "changed report.pdf"]);
    let body = recorder.shown.lock().unwrap()[1].1.clone();
    assert!(body.starts_with("sub/deeper/scan.pdf 1 "), "{body}");
}

#[tokio::test]
async fn a_file_still_being_written_waits_until_it_settles_then_fires_once() {
    let env = Env::new().await;
    let folder = tempfile::tempdir().unwrap();
    env.add(spec(watch_area(folder.path(), json!({"settle_secs": 60})))).await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();

    put(folder.path(), "download.pdf", "half", Duration::from_secs(1));
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    put(folder.path(), "download.pdf", "half and more", Duration::from_secs(2));
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert_eq!(recorder.count(), 0, "modified less than settle_secs ago: not yet");

    put(folder.path(), "download.pdf", "complete file", Duration::from_secs(61));
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert_eq!(titles(&recorder), ["new download.pdf"]);
}

fn changed_action() -> std::sync::Arc<dyn area_core::connector::FetchedAction> {
    let catalog = area_core::services::catalog(&Settings::empty());
    match catalog.action("files", "changed") {
        Some((_, _, ActionKind::Fetched(action))) => action.clone(),
        _ => panic!("files.changed is a fetched action"),
    }
}

#[tokio::test]
async fn the_watcher_asks_for_a_check_as_soon_as_a_settled_file_appears() {
    let folder = tempfile::tempdir().unwrap();
    put(folder.path(), "a.pdf", "a", OLD);
    let params: Params =
        serde_json::from_value(json!({"folder": folder.path(), "pattern": "*.pdf", "settle_secs": 0})).unwrap();
    let action = changed_action();
    let ctx = FetchContext { params: &params, cursor: None, credential: None, allow_private_network: false };
    // Before the first check: quiet at once, so the watcher asks again with the first cursor
    // (waiting out `max_wait` on no cursor would leave new files to the interval).
    let asked = std::time::Instant::now();
    assert_eq!(action.wait_for_change(&ctx, Duration::from_secs(20)).await.unwrap(), SourceWait::Quiet);
    assert!(asked.elapsed() < Duration::from_secs(5), "{:?}", asked.elapsed());
    let cursor = action.fetch(&ctx).await.unwrap().cursor;
    let ctx = FetchContext { cursor: cursor.as_ref(), ..ctx };

    assert_eq!(action.wait_for_change(&ctx, Duration::from_millis(1500)).await.unwrap(), SourceWait::Quiet);
    let dropper = {
        let dir = folder.path().to_path_buf();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            put(&dir, "b.pdf", "b", OLD);
        })
    };
    let started = std::time::Instant::now();
    assert_eq!(action.wait_for_change(&ctx, Duration::from_secs(20)).await.unwrap(), SourceWait::Changed);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    dropper.await.unwrap();
}

#[tokio::test]
async fn the_write_reaction_appends_lines_and_never_leaves_its_folder() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let log = tempfile::tempdir().unwrap();
    let area = env
        .add(spec(json!({
            "name": "log new files",
            "action": {"service": "files", "id": "changed",
                       "params": {"folder": watched.path(), "pattern": "**/*", "settle_secs": 0}},
            "reactions": [{"service": "files", "id": "write",
                           "params": {"folder": log.path(), "file_name": "logs/{{ relative_path }}.log",
                                      "text": "{{ change }}: {{ relative_path }}"}}]
        })))
        .await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    put(watched.path(), "a.txt", "a", OLD);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    put(watched.path(), "a.txt", "a, again", OLD / 2);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    let written = std::fs::read_to_string(log.path().join("logs/a.txt.log")).unwrap();
    assert_eq!(written, "new: a.txt\n", "the default fires on new files only, one line per event");
    assert_eq!(env.statuses(area).await, ["succeeded"]);

    // A planted link, as the file or as a folder on the way, is not followed.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("target.log"), log.path().join("logs/b.txt.log")).unwrap();
    put(watched.path(), "b.txt", "b", OLD);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert!(!outside.path().join("target.log").exists());
    env.assert_last_run_failed(area, "cannot open").await;

    // An ingredient holding a folder (a file in a subfolder) cannot choose where to write.
    put(watched.path(), "sub/c.txt", "c", OLD);
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    env.assert_last_run_failed(area, "not a path").await;
    assert!(!log.path().join("logs/sub").exists());
}

#[tokio::test]
async fn on_a_shared_server_folders_are_unavailable() {
    let env = Env::new().await;
    let folder = tempfile::tempdir().unwrap();
    let shared = Settings::from_pairs([(area_core::settings::SHARED_SERVER, "1")]);
    let areas = area_core::areas::Areas::new(env.store.clone(), area_core::services::catalog(&shared));
    let err = areas.add(env.user_id, spec(watch_area(folder.path(), json!({})))).await.unwrap_err();
    assert!(err.to_string().contains("serves several users"), "{err}");

    // An area saved before the data moved to a server does not touch the server's machine.
    let params: Params = serde_json::from_value(json!({"folder": folder.path()})).unwrap();
    let catalog = area_core::services::catalog(&shared);
    let Some((_, _, ActionKind::Fetched(action))) = catalog.action("files", "changed") else { panic!() };
    let ctx = FetchContext { params: &params, cursor: None, credential: None, allow_private_network: false };
    assert!(action.fetch(&ctx).await.unwrap_err().to_string().contains("unavailable here"));
}
