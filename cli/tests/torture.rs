//! Kill -9 torture: the real `area daemon` is SIGKILLed at random moments (≥ 20 times) while 500
//! webhook events flow to an `http` reaction against a local sink. Afterwards every event was
//! delivered, none was lost, none applied twice: the sink dedupes on the Idempotency-Key that
//! the engine derives from (area, event, reaction) and counts raw deliveries separately.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const EVENTS: usize = 500;
const MIN_KILLS: usize = 20;

/// What the sink saw: raw deliveries, and the body of each idempotency key.
#[derive(Default)]
struct SinkLog {
    raw: usize,
    by_key: HashMap<String, String>,
    conflicting: usize,
}

fn start_sink() -> (u16, Arc<Mutex<SinkLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(SinkLog::default()));
    let shared = log.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = shared.clone();
            thread::spawn(move || serve_sink(stream, &log));
        }
    });
    (port, log)
}

fn serve_sink(stream: TcpStream, log: &Mutex<SinkLog>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut key = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "idempotency-key" => key = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let mut log = log.lock().unwrap();
            log.raw += 1;
            let body = String::from_utf8_lossy(&body).into_owned();
            let key = key.unwrap_or_else(|| format!("missing-key-{}", log.raw));
            match log.by_key.get(&key) {
                Some(previous) if *previous != body => log.conflicting += 1,
                Some(_) => {}
                None => {
                    log.by_key.insert(key, body);
                }
            }
        }
        if stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
            return;
        }
    }
}

/// POSTs one webhook event; true on a 2xx answer.
fn post_event(port: u16, token: &str, n: usize) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let body = format!("{{\"n\":{n},\"title\":\"evt-{n}\"}}");
    let request = format!(
        "POST /hooks/{token} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         idempotency-key: evt-{n}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 20")
}

fn area(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_area"));
    cmd.env_remove("AREA_DATA_DIR").env("RUST_LOG", "error").arg("--data-dir").arg(dir);
    cmd
}

fn run_ok(cmd: &mut Command, stdin: &str) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_daemon(dir: &Path, port: u16) -> Child {
    area(dir)
        .args(["daemon", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A tiny deterministic generator so a failing run can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
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
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(area(&dir).args(["--json", "areas", "list"]), "")).unwrap();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let show: serde_json::Value =
        serde_json::from_str(&run_ok(area(&dir).args(["--json", "areas", "show", &id]), "")).unwrap();
    let token = show["webhook_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();

    let port = free_port();
    let daemon = Arc::new(Mutex::new(spawn_daemon(&dir, port)));
    let sent = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sent, done, token) = (sent.clone(), done.clone(), token.clone());
        thread::spawn(move || {
            for n in 0..EVENTS {
                // At-least-once sender: retry until the daemon acknowledges the event.
                let deadline = Instant::now() + Duration::from_secs(60);
                while !post_event(port, &token, n) {
                    assert!(Instant::now() < deadline, "event {n} never acknowledged");
                    thread::sleep(Duration::from_millis(5));
                }
                sent.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(8));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("torture seed: {seed}");
    let mut rng = Lcg(seed);
    let mut kills = 0;
    while !done.load(Ordering::SeqCst) || kills < MIN_KILLS {
        thread::sleep(Duration::from_millis(40 + rng.next(200)));
        let mut child = daemon.lock().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        *child = spawn_daemon(&dir, port);
    }
    sender.join().unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), EVENTS);

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
