//! What the kill -9 torture tests share: the real `area` binary, a sink that applies each
//! idempotency key once (and counts raw deliveries apart), an at-least-once webhook sender and a
//! replayable random generator.

#![allow(dead_code)] // each torture test uses its own part

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the sink applied: the body of each idempotency key, and how many requests came in all.
#[derive(Default)]
pub struct SinkLog {
    pub raw: usize,
    pub by_key: HashMap<String, String>,
    pub conflicting: usize,
}

/// A minimal HTTP/1.1 server on a thread per connection: `handle(method, path, headers, body)`
/// answers with a whole response.
pub fn serve(handle: impl Fn(&str, &str, &HashMap<String, String>, &[u8]) -> String + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) =
                        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                    let mut headers = HashMap::new();
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
                            headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
                        }
                    }
                    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if stream.write_all(handle(&method, &path, &headers, &body).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The sink: every request is applied once per Idempotency-Key.
pub fn start_sink() -> (u16, Arc<Mutex<SinkLog>>) {
    let log = Arc::new(Mutex::new(SinkLog::default()));
    let shared = log.clone();
    let port = serve(move |_, _, headers, body| {
        let mut log = shared.lock().unwrap();
        log.raw += 1;
        let body = String::from_utf8_lossy(body).into_owned();
        let key = headers.get("idempotency-key").cloned().unwrap_or_else(|| format!("missing-key-{}", log.raw));
        match log.by_key.get(&key) {
            Some(previous) if *previous != body => log.conflicting += 1,
            Some(_) => {}
            None => {
                log.by_key.insert(key, body);
            }
        }
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_string()
    });
    (port, log)
}

/// The `area` command on data directory `dir`, quiet but for errors.
pub fn area(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_area"));
    cmd.env_remove("AREA_DATA_DIR").env("RUST_LOG", "error").arg("--data-dir").arg(dir);
    cmd
}

/// Runs `cmd` with `stdin`; its standard output, once it succeeded.
pub fn run_ok(cmd: &mut Command, stdin: &str) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `area daemon` from `cmd` (an [`area`] command), its webhooks on `port`.
pub fn spawn_daemon(mut cmd: Command, port: u16) -> Child {
    cmd.args(["daemon", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// POSTs one webhook event; true on a 2xx answer.
pub fn post_event(port: u16, token: &str, n: usize) -> bool {
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

/// A tiny deterministic generator so a failing run can be replayed from its seed.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

impl Lcg {
    /// A generator seeded from the clock, the seed printed under `label` so a failure can be
    /// replayed.
    pub fn from_clock(label: &str) -> Lcg {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        eprintln!("{label} seed: {seed}");
        Lcg(seed)
    }
}

/// The webhook token of the area named `name` (the first area when `None`), through the
/// `area` commands `area_cmd` makes (`areas list`, then `areas show`).
pub fn webhook_token(area_cmd: impl Fn() -> Command, name: Option<&str>) -> String {
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(area_cmd().args(["--json", "areas", "list"]), "")).unwrap();
    let areas = list.as_array().unwrap();
    let found = match name {
        Some(name) => areas.iter().find(|a| a["name"] == name).unwrap(),
        None => &areas[0],
    };
    let id = found["id"].to_string();
    let show: serde_json::Value =
        serde_json::from_str(&run_ok(area_cmd().args(["--json", "areas", "show", &id]), "")).unwrap();
    show["webhook_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// An at-least-once webhook sender on its own thread: events 0..`events` in order, each
/// retried (moving on to the next of `ports`, whichever process is up) until acknowledged, with
/// `pause` between events.
pub struct Sender {
    /// Set once every event was acknowledged.
    pub done: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: thread::JoinHandle<()>,
}

impl Sender {
    pub fn start(ports: Vec<u16>, token: String, events: usize, pause: Duration) -> Sender {
        let (sent, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (sent, done) = (sent.clone(), done.clone());
            thread::spawn(move || {
                for n in 0..events {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let mut attempt = n;
                    while !post_event(ports[attempt % ports.len()], &token, n) {
                        assert!(Instant::now() < deadline, "event {n} never acknowledged");
                        attempt += 1;
                        thread::sleep(Duration::from_millis(5));
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(pause);
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        Sender { done, sent, thread }
    }

    /// Waits for the sender to finish; how many events were acknowledged.
    pub fn finish(self) -> usize {
        self.thread.join().unwrap();
        self.sent.load(Ordering::SeqCst)
    }
}
