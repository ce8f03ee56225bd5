//! The `computer` service's `copy` reaction on a real X server (Xvfb): the rendered text is on
//! the clipboard, as another program pasting gets it; without a display the run fails and says
//! there is no desktop session. Its own test binary: it sets the process's DISPLAY.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use area_core::engine::Engine;
use serde_json::json;
use support::*;

/// An X server on a free display, stopped when dropped.
struct Xvfb(Child);

impl Xvfb {
    fn start() -> (Xvfb, String) {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "640x480x24"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (Debian package xvfb; scripts/setup.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        (Xvfb(child), format!(":{}", line.trim()))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_puts_the_rendered_text_on_the_clipboard() {
    let env = Env::new().await;
    let watched = tempfile::tempdir().unwrap();
    let area = env
        .add(spec(json!({
            "name": "copy new file names",
            "action": {"service": "files", "id": "changed", "params": {"folder": watched.path(), "settle_secs": 0}},
            "reactions": [{"service": "computer", "id": "copy", "params": {"text": "Invoice: {{ name }}"}}]
        })))
        .await;
    let run = || Engine::run_once(&env.store, config(false), RecordingNotifier::new());
    // SAFETY: this test binary has this one test; nothing else reads the environment meanwhile.
    unsafe { std::env::remove_var("DISPLAY") };
    run().await.unwrap();
    std::fs::write(watched.path().join("first.pdf"), "%PDF").unwrap();
    backdate(&watched.path().join("first.pdf"));
    run().await.unwrap();
    env.assert_last_run_failed(area, "no desktop session").await;

    let (_x, display) = Xvfb::start();
    // SAFETY: as above.
    unsafe { std::env::set_var("DISPLAY", &display) };
    std::fs::write(watched.path().join("report.pdf"), "%PDF").unwrap();
    backdate(&watched.path().join("report.pdf"));
    run().await.unwrap();
    let runs = env.runs(area).await;
    assert_eq!(runs.first().map(|r| r.status.as_str()), Some("succeeded"), "{runs:?}");
    assert_eq!(area_core::services::computer::clipboard::clipboard_text().unwrap(), "Invoice: report.pdf");
}

/// Moves a file's modification time a minute back (past the trigger's settle time).
fn backdate(path: &std::path::Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options().write(true).open(path).unwrap().set_modified(past).unwrap();
}
