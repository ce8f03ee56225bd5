//! Kill -9 torture: the real `area daemon` is SIGKILLed at random moments (≥ 20 times) while 500
//! webhook events flow to an `http` reaction against a local sink. Afterwards every event was
//! delivered, none was lost, none applied twice: the sink dedupes on the Idempotency-Key that
//! the engine derives from (area, event, reaction) and counts raw deliveries separately.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kill::{area, free_port, run_ok, start_sink, webhook_token, Lcg, Sender};

mod kill;

const EVENTS: usize = 500;
const MIN_KILLS: usize = 20;

fn spawn_daemon(dir: &Path, port: u16) -> Child {
    kill::spawn_daemon(area(dir), port)
}

#[test]
fn kill_9_torture_loses_nothing_and_applies_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (sink_port, sink) = start_sink();
    run_ok(area(&dir).args(["user", "add", "ada@example.com", "--password-stdin"]), "correct horse\n");
    run_ok(area(&dir).args(["login", "ada@example.com", "--password-stdin"]), "correct horse\n");
    let file = tmp.path().join("area.json");
    let spec = serde_json::json!({
        "name": "torture",
        "action": { "service": "webhook", "id": "received", "params": {} },
        "reactions": [{ "service": "http", "id": "request", "params": {
            "method": "POST", "url": format!("http://127.0.0.1:{sink_port}/sink"), "body": "{\"n\": \"{{ n }}\"}"
        }}],
        "allow_private_network": true
    });
    std::fs::write(&file, spec.to_string()).unwrap();
    run_ok(area(&dir).args(["areas", "add", "--enable", "--allow-private-network", "--file"]).arg(&file), "");
    let token = webhook_token(|| area(&dir), None);

    let port = free_port();
    let daemon = Arc::new(Mutex::new(spawn_daemon(&dir, port)));
    // At-least-once sender: retry until the daemon acknowledges the event.
    let sender = Sender::start(vec![port], token.clone(), EVENTS, Duration::from_millis(8));
    let mut rng = Lcg::from_clock("torture");
    let mut kills = 0;
    while !sender.done.load(Ordering::SeqCst) || kills < MIN_KILLS {
        thread::sleep(Duration::from_millis(40 + rng.next(200)));
        let mut child = daemon.lock().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        *child = spawn_daemon(&dir, port);
    }
    assert_eq!(sender.finish(), EVENTS);

    // Let the last daemon deliver what is queued (runs left by a killed daemon resume at start).
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.lock().unwrap().by_key.len() < EVENTS && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let mut child = daemon.lock().unwrap();
    thread::sleep(Duration::from_millis(200));
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "daemon did not stop cleanly on SIGTERM: {status:?}");

    let log = sink.lock().unwrap();
    let bodies: HashSet<&String> = log.by_key.values().collect();
    eprintln!("kills: {kills}, raw deliveries: {}, distinct keys: {}", log.raw, log.by_key.len());
    assert!(kills >= MIN_KILLS);
    assert_eq!(log.conflicting, 0, "one idempotency key carried two different events");
    assert_eq!(log.by_key.len(), EVENTS, "every event delivered exactly once after dedupe");
    for n in 0..EVENTS {
        assert!(bodies.contains(&format!("{{\"n\": \"{n}\"}}")), "event {n} lost");
    }
    let runs: serde_json::Value =
        serde_json::from_str(&run_ok(area(&dir).args(["--json", "runs", "--limit", "10000"]), "")).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), EVENTS, "one run per event");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "every run succeeded");
}

fn sigterm(child: &Child) {
    // std has no SIGTERM; the `kill` command sends it.
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
}
