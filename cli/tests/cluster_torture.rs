//! Cluster torture: three real `area daemon` processes share one PostgreSQL database (a
//! throwaway cluster this test starts), with 1,000 polling areas over 10 local feeds and one
//! webhook area receiving 1,000 events. Every 2 s one process, chosen at random, is SIGKILLed and
//! started again, 20 times. Afterwards: every event and every new feed item fired once per area
//! (the sink dedupes on the Idempotency-Key the engine derives from area, event and reaction, and
//! counts raw deliveries apart), and no feed was read twice within one poll interval.
//!
//! Beside it, fencing with real processes: a worker paused (SIGSTOP) past its lease loses its
//! run to another, and its late write is refused when it resumes.

#[path = "../../core/tests/backend/cluster.rs"]
mod cluster;
mod kill;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kill::{free_port, post_event, run_ok, serve, start_sink, webhook_token, Lcg, Sender};

const PROCESSES: usize = 3;
const FEEDS: usize = 10;
const AREAS_PER_FEED: usize = 100;
const EVENTS: usize = 1000;
const KILLS: usize = 20;
const INTERVAL_SECS: u64 = 2;

/// What the feeds served: when each was read, and the items each serves now.
#[derive(Default)]
struct Feeds {
    reads: HashMap<usize, Vec<Instant>>,
    items: HashMap<usize, usize>,
}

/// `GET /feed/K`: items 1..=n of feed K, with an ETag naming n (a matching If-None-Match is a 304).
fn start_feeds() -> (u16, Arc<Mutex<Feeds>>) {
    let feeds = Arc::new(Mutex::new(Feeds::default()));
    let shared = feeds.clone();
    let port = serve(move |_, path, headers, _| {
        let k: usize = path.trim_start_matches("/feed/").parse().unwrap_or(usize::MAX);
        let mut feeds = shared.lock().unwrap();
        feeds.reads.entry(k).or_default().push(Instant::now());
        let n = *feeds.items.get(&k).unwrap_or(&3);
        let etag = format!("\"{k}-{n}\"");
        if headers.get("if-none-match") == Some(&etag) {
            return format!("HTTP/1.1 304 Not Modified\r\netag: {etag}\r\ncontent-length: 0\r\n\r\n");
        }
        let items: Vec<_> =
            (1..=n).map(|i| serde_json::json!({"id": format!("{k}-{i}"), "title": format!("item {i}")})).collect();
        let body = serde_json::json!({ "items": items }).to_string();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\netag: {etag}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    (port, feeds)
}

/// The shared settings every process of the cluster runs with.
struct ClusterEnv {
    database: String,
    master_key: String,
}

fn area(dir: &Path, cluster: &ClusterEnv) -> Command {
    let mut cmd = kill::area(dir);
    cmd.env("AREA_DATABASE_URL", &cluster.database)
        .env("AREA_MASTER_KEY", &cluster.master_key)
        .env("AREA_IGNORE_MIN_INTERVAL", "1");
    cmd
}

fn spawn_daemon(dir: &Path, cluster: &ClusterEnv, port: u16) -> Child {
    kill::spawn_daemon(area(dir, cluster), port)
}

#[test]
fn three_workers_killed_twenty_times_lose_nothing_and_read_each_feed_once_per_interval() {
    let pg = cluster::Cluster::start();
    let env = ClusterEnv { database: pg.url.clone(), master_key: "ab".repeat(32) };
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..PROCESSES).map(|i| tmp.path().join(format!("worker-{i}"))).collect();
    let (sink_port, sink) = start_sink();
    let (feed_port, feeds) = start_feeds();

    let admin = &dirs[0];
    run_ok(area(admin, &env).args(["user", "add", "ada@example.com", "--password-stdin"]), "correct horse\n");
    run_ok(area(admin, &env).args(["login", "ada@example.com", "--password-stdin"]), "correct horse\n");
    let sink_reaction = |body: &str| {
        serde_json::json!({ "service": "http", "id": "request", "params": {
            "method": "POST", "url": format!("http://127.0.0.1:{sink_port}/sink"), "body": body }})
    };
    let mut specs = vec![serde_json::json!({
        "name": "webhook",
        "action": { "service": "webhook", "id": "received", "params": {} },
        "reactions": [sink_reaction("{\"n\": \"{{ n }}\"}")],
        "allow_private_network": true
    })];
    for k in 0..FEEDS {
        for a in 0..AREAS_PER_FEED {
            specs.push(serde_json::json!({
                "name": format!("feed {k} area {a}"),
                "action": { "service": "http", "id": "new_json_items", "params": {
                    "url": format!("http://127.0.0.1:{feed_port}/feed/{k}"), "items_path": "items", "id_field": "id" }},
                "interval_secs": INTERVAL_SECS,
                "reactions": [sink_reaction(&format!("{{\"area\": \"{k}/{a}\", \"item\": \"{{{{ id }}}}\"}}"))],
                "allow_private_network": true
            }));
        }
    }
    let file = tmp.path().join("areas.json");
    std::fs::write(&file, serde_json::Value::Array(specs).to_string()).unwrap();
    run_ok(area(admin, &env).args(["areas", "add", "--enable", "--allow-private-network", "--file"]).arg(&file), "");
    let token = webhook_token(|| area(admin, &env), Some("webhook"));

    let ports: Vec<u16> = (0..PROCESSES).map(|_| free_port()).collect();
    let workers: Vec<Arc<Mutex<Child>>> =
        (0..PROCESSES).map(|i| Arc::new(Mutex::new(spawn_daemon(&dirs[i], &env, ports[i])))).collect();
    // At-least-once sender: whichever process is up acknowledges the event.
    let sender = Sender::start(ports.clone(), token.clone(), EVENTS, Duration::from_millis(30));
    let mut rng = Lcg::from_clock("cluster torture");
    for kill in 1..=KILLS {
        thread::sleep(Duration::from_secs(2));
        let i = rng.next(PROCESSES as u64) as usize;
        let mut child = workers[i].lock().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        *child = spawn_daemon(&dirs[i], &env, ports[i]);
        // New items appear twice along the way, in every feed.
        if kill == 5 || kill == 12 {
            let mut feeds = feeds.lock().unwrap();
            for k in 0..FEEDS {
                *feeds.items.entry(k).or_insert(3) += 1;
            }
        }
    }
    assert_eq!(sender.finish(), EVENTS);

    // Runs a killed process held are claimed by another once their lease (30 s) runs out.
    let expected = EVENTS + FEEDS * AREAS_PER_FEED * 2;
    let deadline = Instant::now() + Duration::from_secs(90);
    while sink.lock().unwrap().by_key.len() < expected && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    for worker in &workers {
        let mut child = worker.lock().unwrap();
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
    }

    let log = sink.lock().unwrap();
    eprintln!(
        "kills: {KILLS}, raw deliveries: {}, applied (distinct keys): {} of {expected}",
        log.raw,
        log.by_key.len()
    );
    assert_eq!(log.conflicting, 0, "one idempotency key carried two different events");
    let bodies: HashSet<&String> = log.by_key.values().collect();
    for n in 0..EVENTS {
        assert!(bodies.contains(&format!("{{\"n\": \"{n}\"}}")), "webhook event {n} lost");
    }
    for k in 0..FEEDS {
        for a in 0..AREAS_PER_FEED {
            for item in [4, 5] {
                let body = format!("{{\"area\": \"{k}/{a}\", \"item\": \"{k}-{item}\"}}");
                assert!(bodies.contains(&body), "item {k}-{item} never fired for area {k}/{a}");
            }
        }
    }
    assert_eq!(log.by_key.len(), expected, "nothing else fired (old items, doubles)");

    let feeds = feeds.lock().unwrap();
    let mut total_reads = 0;
    for k in 0..FEEDS {
        let reads = &feeds.reads[&k];
        total_reads += reads.len();
        // A claim lasts 95 % of the interval (timers drift a little); two reads of one feed
        // closer than that would be two processes reading it in one interval.
        for pair in reads.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_millis(INTERVAL_SECS * 1000 * 9 / 10),
                "feed {k} read twice within {gap:?} (interval {INTERVAL_SECS} s)"
            );
        }
    }
    eprintln!("feed reads: {total_reads} over {FEEDS} feeds");
    drop(pg);
}

/// The one webhook area of a test, added by a signed-in user on `dir`, its reaction posting to
/// `sink_port`; returns its webhook token.
fn add_webhook_area(dir: &Path, env: &ClusterEnv, sink_port: u16) -> String {
    run_ok(area(dir, env).args(["user", "add", "ada@example.com", "--password-stdin"]), "correct horse\n");
    run_ok(area(dir, env).args(["login", "ada@example.com", "--password-stdin"]), "correct horse\n");
    let spec = serde_json::json!([{
        "name": "webhook",
        "action": { "service": "webhook", "id": "received", "params": {} },
        "reactions": [{ "service": "http", "id": "request", "params": {
            "method": "POST", "url": format!("http://127.0.0.1:{sink_port}/sink"), "body": "{{ n }}" }}],
        "allow_private_network": true
    }]);
    let file = dir.with_extension("areas.json");
    std::fs::write(&file, spec.to_string()).unwrap();
    run_ok(area(dir, env).args(["areas", "add", "--enable", "--allow-private-network", "--file"]).arg(&file), "");
    webhook_token(|| area(dir, env), None)
}

/// Waits (up to 60 s) until `done` holds; false if it never did.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`) to a process.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// Lease expiry and fencing with real processes: worker A takes a webhook event and is paused
/// (SIGSTOP) while its reaction is being sent; once A's lease (2 s here) has run out, worker B
/// claims the run and delivers it. When A is resumed, the answer it was waiting for (a failure)
/// would queue the run again: that late write is refused, so the run stays B's success and is
/// not sent a third time.
#[test]
fn a_paused_workers_late_commit_is_refused_after_another_took_its_run() {
    let pg = cluster::Cluster::start();
    let env = ClusterEnv { database: pg.url.clone(), master_key: "cd".repeat(32) };
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("worker-a"), tmp.path().join("worker-b"));

    // The receiver: the first request (A's) is held until released and then fails; later ones
    // succeed at once. Each request's Idempotency-Key is kept.
    let keys = Arc::new(Mutex::new(Vec::<String>::new()));
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    let sink_port = {
        let keys = keys.clone();
        serve(move |_, _, headers, _| {
            let first = {
                let mut keys = keys.lock().unwrap();
                keys.push(headers.get("idempotency-key").cloned().unwrap_or_default());
                keys.len() == 1
            };
            if first {
                let _ = held.lock().unwrap().recv_timeout(Duration::from_secs(60));
                return "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\nboom".to_string();
            }
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_string()
        })
    };
    let token = add_webhook_area(&dir_a, &env, sink_port);

    let spawn = |dir: &Path, port: u16, log: &Path| {
        let mut cmd = area(dir, &env);
        cmd.env("AREA_RUN_LEASE_SECS", "2")
            .env("RUST_LOG", "warn")
            .args(["daemon", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        cmd.spawn().unwrap()
    };
    let (port_a, port_b) = (free_port(), free_port());
    let (log_a, log_b) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
    let mut worker_a = spawn(&dir_a, port_a, &log_a);
    let mut worker_b = spawn(&dir_b, port_b, &log_b);

    assert!(wait_until(|| post_event(port_a, &token, 1)), "worker A never acknowledged the event");
    assert!(wait_until(|| keys.lock().unwrap().len() == 1), "worker A never sent the reaction");
    signal(&worker_a, "STOP");
    // A's answer is written now and waits in its socket until A runs again.
    release.send(()).unwrap();

    assert!(
        wait_until(|| keys.lock().unwrap().len() == 2),
        "worker B never took over the run after A's lease ran out: {}",
        std::fs::read_to_string(&log_b).unwrap_or_default()
    );
    let run_status = || {
        let runs: serde_json::Value =
            serde_json::from_str(&run_ok(area(&dir_a, &env).args(["--json", "runs"]), "")).unwrap();
        let runs = runs.as_array().cloned().unwrap_or_default();
        assert_eq!(runs.len(), 1, "one event, one run: {runs:?}");
        (runs[0]["status"].as_str().unwrap_or("").to_string(), runs[0]["attempts"].as_i64().unwrap_or(-1))
    };
    assert!(wait_until(|| run_status().0 == "succeeded"), "B's delivery was not recorded: {:?}", run_status());

    signal(&worker_a, "CONT");
    let refused = "was claimed by another Area process";
    assert!(
        wait_until(|| std::fs::read_to_string(&log_a).unwrap_or_default().contains(refused)),
        "worker A's late write was not refused: {}",
        std::fs::read_to_string(&log_a).unwrap_or_default()
    );
    assert_eq!(run_status(), ("succeeded".to_string(), 1), "A's late failure changed B's record");
    {
        let keys = keys.lock().unwrap();
        assert_eq!(keys.len(), 2, "the run was sent again after A's late write: {keys:?}");
        assert!(!keys[0].is_empty() && keys[0] == keys[1], "both sends carry the run's idempotency key: {keys:?}");
    }
    for worker in [&mut worker_a, &mut worker_b] {
        signal(worker, "TERM");
        let _ = worker.wait();
    }
    drop(pg);
}
