//! The `computer` service through the engine: a program runs only with the area's consent,
//! never a shell, with ingredients filling arguments but never adding one; a file that grants
//! itself the consent is refused on import; opening hands documents, never launchers, to the
//! opener.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use area_core::areas::{Areas, ImportOptions};
use area_core::engine::Engine;
use area_core::settings::Settings;
use serde_json::{json, Value};
use support::*;

/// A program (a script with its own interpreter line, as users write them) that records its
/// arguments, one per line, then its input, into `record`.
fn recorder_program(dir: &Path, record: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let program = dir.join("record-args");
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > '{0}'\nprintf 'input:' >> '{0}'\ncat >> '{0}'\necho recorded $#\n",
        record.display()
    );
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

fn drop_file(dir: &Path, name: &str) {
    let path = dir.join(name);
    std::fs::write(&path, "x").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(60)).unwrap();
}

fn run_area(watched: &Path, program: &Path, allow: Value) -> Value {
    json!({
        "name": "run on new file",
        "action": {"service": "files", "id": "changed", "params": {"folder": watched, "settle_secs": 0}},
        "reactions": [{"service": "computer", "id": "run_program",
                       "params": {"program": program, "arguments": "--name\n{{ name }}\n{{ size }}",
                                  "input": "{{ path }}", "allow": allow}}]
    })
}

#[tokio::test]
async fn a_program_gets_each_ingredient_as_one_argument_and_none_can_add_one() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let record = tools.path().join("record.txt");
    let program = recorder_program(tools.path(), &record);
    let area = env.add(spec(run_area(watched.path(), &program, json!(true)))).await;
    let notifier = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), notifier.clone()).await.unwrap();

    drop_file(watched.path(), "a b; rm -rf ~ $(id).txt");
    Engine::run_once(&env.store, config(false), notifier.clone()).await.unwrap();
    let recorded = std::fs::read_to_string(&record).unwrap();
    let path = watched.path().join("a b; rm -rf ~ $(id).txt");
    assert_eq!(recorded, format!("[--name]\n[a b; rm -rf ~ $(id).txt]\n[1]\ninput:{}", path.display()));
    let runs = env.runs(area).await;
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(runs[0].summary.as_deref(), Some("record-args exited 0: recorded 3"));

    // A file name holding a line break would be two arguments: the run fails instead.
    std::fs::remove_file(&record).unwrap();
    drop_file(watched.path(), "x\n--delete-everything");
    Engine::run_once(&env.store, config(false), notifier.clone()).await.unwrap();
    env.assert_last_run_failed(area, "never add one").await;
    assert!(!record.exists(), "the program did not run");
}

#[tokio::test]
async fn running_a_program_needs_the_consent_and_never_a_shell() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let program = recorder_program(tools.path(), &tools.path().join("r"));
    for allow in [json!(false), Value::Null] {
        let mut file = run_area(watched.path(), &program, allow);
        if file["reactions"][0]["params"]["allow"].is_null() {
            file["reactions"][0]["params"].as_object_mut().unwrap().remove("allow");
        }
        let err = env.areas.add(env.user_id, spec(file)).await.unwrap_err();
        assert!(err.to_string().contains("needs your permission"), "{err}");
    }

    let area = env.add(spec(run_area(watched.path(), Path::new("/bin/sh"), json!(true)))).await;
    let notifier = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), notifier.clone()).await.unwrap();
    drop_file(watched.path(), "a.txt");
    Engine::run_once(&env.store, config(false), notifier.clone()).await.unwrap();
    env.assert_last_run_failed(area, "is a shell").await;
}

#[tokio::test]
async fn a_shared_file_cannot_grant_itself_a_program() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let program = recorder_program(tools.path(), &tools.path().join("r"));
    let file = spec(run_area(watched.path(), &program, json!(true)));
    let err = env.areas.import(env.user_id, vec![file.clone()], false, ImportOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("--allow-programs"), "{err}");
    assert!(err.to_string().contains("reactions[0].params.allow"), "{err}");
    let granted = ImportOptions { allow_programs: true, ..ImportOptions::default() };
    let added = env.areas.import(env.user_id, vec![file], false, granted).await.unwrap();
    assert!(added[0].review.lines.iter().any(|l| l.contains("acts on this computer")), "{:?}", added[0].review.lines);
}

#[tokio::test]
async fn open_hands_documents_to_the_opener_and_refuses_launchers() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let record = tools.path().join("opened.txt");
    let opener = recorder_program(tools.path(), &record);
    let settings = Settings::from_env().with("AREA_COMPUTER_OPENER", opener.to_str().unwrap());
    let areas = Areas::new(env.store.clone(), area_core::services::catalog(&settings));
    let area = areas
        .add(
            env.user_id,
            spec(json!({
                "name": "open new documents",
                "action": {"service": "files", "id": "changed", "params": {"folder": watched.path(), "settle_secs": 0}},
                "reactions": [{"service": "computer", "id": "open", "params": {"target": "{{ path }}"}}]
            })),
        )
        .await
        .unwrap()
        .id;
    let notifier = RecordingNotifier::new();
    Engine::run_once(&env.store, config_with(false, &settings), notifier.clone()).await.unwrap();
    drop_file(watched.path(), "report.pdf");
    Engine::run_once(&env.store, config_with(false, &settings), notifier.clone()).await.unwrap();
    let opened = std::fs::read_to_string(&record).unwrap();
    assert_eq!(opened, format!("[{}]\ninput:", watched.path().join("report.pdf").display()));

    std::fs::remove_file(&record).unwrap();
    drop_file(watched.path(), "evil.desktop");
    Engine::run_once(&env.store, config_with(false, &settings), notifier.clone()).await.unwrap();
    env.assert_last_run_failed(area, "launcher").await;
    assert!(!record.exists());
}
