//! The webhook listener under abuse (ARCHITECTURE.md "Trust rules": "Listeners are bounded"):
//! half-open connections are closed after the header timeout and do not slow a legitimate
//! sender, connections over the cap are closed at once, an unknown token is refused before its
//! body is read, a slow body is cut off, a full queue answers `503` + `Retry-After`, and every
//! `202` stays recorded, once.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use area_core::engine::{Engine, EngineConfig};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A notify reaction: no network, so the listener is all a request waits for.
fn notify() -> Value {
    json!({"service": "notify", "id": "send", "params": {"title": "{{ n }}"}})
}

fn listening(mut cfg: EngineConfig) -> EngineConfig {
    cfg.webhook_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg
}

async fn token_of(env: &Env, area: i64) -> String {
    env.areas.get(env.user_id, area).await.unwrap().webhook_token.expect("webhook token")
}

/// Opens a connection that sends half a request line and then stalls (a slowloris sender).
async fn half_open(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"POST /hooks/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty").await.unwrap();
    stream
}

/// Reads until the server closes the connection (or resets it); the bytes it sent first.
/// `None` when it is still open after `bound`.
async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read_all).await.ok().map(|_| got)
}

/// The status line's code of a raw HTTP response.
fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Reads a raw response's head (up to the blank line), bounded in time.
async fn read_head(stream: &mut TcpStream, bound: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// One webhook on a fresh connection; its status and how long it took.
async fn timed_post(url: &str, n: u32) -> (u16, Duration) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let started = Instant::now();
    let response = client.post(url).json(&json!({"n": n})).send().await.unwrap();
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    (status, started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_neither_delay_a_webhook_nor_stay_open() {
    let env = Env::new().await;
    let area = env.add(webhook_area("hook", notify())).await;
    let token = token_of(&env, area).await;
    let timeout = Duration::from_secs(2);
    let mut cfg = listening(config(true));
    cfg.webhook_header_timeout = timeout;
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let url = format!("http://{addr}/hooks/{token}");

    let mut quiet = Vec::new();
    for n in 0..7 {
        let (status, took) = timed_post(&url, n).await;
        assert_eq!(status, 202);
        quiet.push(took);
    }
    let slow: Vec<(TcpStream, Instant)> = {
        let mut slow = Vec::with_capacity(200);
        for _ in 0..200 {
            slow.push((half_open(addr).await, Instant::now()));
        }
        slow
    };
    let mut loaded = Vec::new();
    for n in 100..107 {
        let (status, took) = timed_post(&url, n).await;
        assert_eq!(status, 202);
        loaded.push(took);
    }
    let (quiet, loaded) = (median(quiet), median(loaded));
    println!("legitimate webhook: {quiet:?} alone, {loaded:?} beside 200 half-open connections");
    assert!(
        loaded <= quiet + Duration::from_millis(50),
        "200 slow connections delayed a webhook: {loaded:?} against {quiet:?} without them"
    );

    // Each half-open connection is closed once the header timeout has passed.
    let closing = slow.into_iter().map(|(mut stream, opened)| async move {
        let closed = read_until_closed(&mut stream, timeout + Duration::from_secs(10)).await;
        (closed.is_some(), opened.elapsed())
    });
    let results = futures_util::future::join_all(closing).await;
    let open = results.iter().filter(|(closed, _)| !closed).count();
    assert_eq!(open, 0, "{open} of 200 half-open connections were still open after {:?}", timeout * 6);
    let slowest = results.iter().map(|(_, took)| *took).max().unwrap();
    println!("the last half-open connection was closed {slowest:?} after it opened");
    assert!(slowest <= timeout + Duration::from_millis(1500), "closed only after {slowest:?}");
    assert_eq!(env.runs(area).await.len(), 14, "the legitimate webhooks were all recorded");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let env = Env::new().await;
    let area = env.add(webhook_area("hook", notify())).await;
    let token = token_of(&env, area).await;
    let mut cfg = listening(config(true));
    cfg.webhook_max_connections = 4;
    cfg.webhook_header_timeout = Duration::from_secs(60);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_open(addr).await);
    }
    // The fifth is closed without an answer, long before any timeout would close it.
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let request = format!("POST /hooks/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{{\"n\": 5}}");
    let _ = fifth.write_all(request.as_bytes()).await;
    let answer = read_until_closed(&mut fifth, Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref().map(status_of), Some(0), "over the cap: closed, not queued nor served");
    assert!(env.runs(area).await.is_empty());

    // A slot freed by a sender going away serves the next one.
    drop(held.pop());
    let url = format!("http://{addr}/hooks/{token}");
    let mut status = 0;
    for n in 0..100 {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        if let Ok(response) = client.post(&url).json(&json!({"n": n})).send().await {
            status = response.status().as_u16();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 202);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_token_is_refused_before_its_body_and_slow_bodies_are_cut_off() {
    let env = Env::new().await;
    let area = env.add(webhook_area("hook", notify())).await;
    let token = token_of(&env, area).await;
    let mut cfg = listening(config(true));
    cfg.webhook_body_timeout = Duration::from_secs(1);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let unknown = "0".repeat(64);

    // A huge body announced (10 GB) and a never-ending chunked one: 404 without waiting for either.
    let heads = [
        format!("POST /hooks/{unknown} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"),
        format!("POST /hooks/{unknown} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ];
    for head in heads {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(format!("400\r\n{{\"x\": \"{}\"", "a".repeat(1000)).as_bytes()).await.unwrap();
        let answer = read_head(&mut stream, Duration::from_secs(5)).await;
        let answer = answer.expect("answered while the body is still coming");
        assert_eq!(status_of(answer.as_bytes()), 404, "{answer}");
    }

    // A known token whose body never finishes: cut off after the body timeout (408), nothing recorded.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /hooks/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"n\": "
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_head(&mut stream, Duration::from_secs(10)).await.expect("answered within the body timeout");
    assert_eq!(status_of(answer.as_bytes()), 408, "{answer}");
    assert!(env.runs(area).await.is_empty());
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let env = Env::new().await;
    // Reactions to a server that never answers: accepted events stay in the queue.
    let (stalled, _) = stalled_server().await;
    let reaction = json!({"service": "http", "id": "request",
                          "params": {"url": format!("http://{stalled}/sink"), "body": "{\"n\": \"{{ n }}\"}"}});
    let area = env.add(webhook_area("hook", reaction)).await;
    let token = token_of(&env, area).await;
    let mut cfg = listening(config(true));
    cfg.webhook_queue = 2;
    cfg.webhook_queue_wait = Duration::from_millis(200);
    cfg.grace = Duration::from_millis(200);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let url = format!("http://{}/hooks/{token}", engine.webhook_addr().unwrap());
    let client = reqwest::Client::new();

    for n in 0..2 {
        let response = client.post(&url).json(&json!({"n": n})).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 202);
    }
    let full = client.post(&url).json(&json!({"n": 2})).send().await.unwrap();
    assert_eq!(full.status().as_u16(), 503);
    let retry_after = full.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let seconds: u64 = retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!(seconds >= 1, "{retry_after:?}");
    assert_eq!(env.runs(area).await.len(), 2, "a refused event is not recorded");
    engine.shutdown().await;
}

// A burst larger than the queue is absorbed by a short wait, not refused: the sender that
// finds the queue full is answered once a delivery makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_finding_the_queue_full_waits_for_room() {
    let env = Env::new().await;
    let (sink_server, reaction) = slow_sink(Duration::from_millis(300)).await;
    let area = env.add(webhook_area("hook", reaction)).await;
    let token = token_of(&env, area).await;
    let mut cfg = listening(config(true));
    cfg.webhook_queue = 1;
    cfg.webhook_queue_wait = Duration::from_secs(10);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let url = format!("http://{}/hooks/{token}", engine.webhook_addr().unwrap());
    let client = reqwest::Client::new();
    let first = client.post(&url).json(&json!({"n": 1})).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    // The first event holds the only slot while its delivery waits on the slow sink.
    let second = client.post(&url).json(&json!({"n": 2})).send().await.unwrap();
    assert_eq!(second.status().as_u16(), 202, "the second sender was refused instead of waiting for room");
    wait_for("both events delivered", Duration::from_secs(10), || async {
        sink_server.received_requests().await.unwrap_or_default().len() == 2
    })
    .await;
    assert_eq!(env.runs(area).await.len(), 2);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_202_under_abuse_is_recorded_once() {
    let env = Env::new().await;
    let (_sink_server, reaction) = slow_sink(Duration::from_millis(100)).await;
    let area = env.add(webhook_area("hook", reaction)).await;
    let token = token_of(&env, area).await;
    let mut cfg = listening(config(true));
    cfg.webhook_queue = 8;
    // No wait for room: the bound itself is what this test abuses.
    cfg.webhook_queue_wait = Duration::ZERO;
    cfg.webhook_header_timeout = Duration::from_secs(2);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let url = Arc::new(format!("http://{addr}/hooks/{token}"));
    let mut slow = Vec::new();
    for _ in 0..100 {
        slow.push(half_open(addr).await);
    }

    // 60 events, each sent twice at once (a sender retrying), all together.
    let client = reqwest::Client::new();
    let sends = (0..120).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let key = format!("evt-{}", i % 60);
            let status = match client
                .post(url.as_str())
                .header("Idempotency-Key", &key)
                .json(&json!({"n": i % 60}))
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            (key, status)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let count = |code: u16| answers.iter().filter(|(_, s)| *s == code).count();
    println!("under abuse: {} × 202, {} × 200 (duplicate), {} × 503", count(202), count(200), count(503));
    assert!(count(503) > 0, "the queue never filled: the abuse did not exercise the bound");
    assert!(count(202) > 0);
    assert!(answers.iter().all(|(_, s)| [200, 202, 503].contains(s)), "{answers:?}");

    // Every acknowledged event is recorded by the time it is acknowledged.
    let recorded = |runs: &[area_core::engine::history::RunRecord]| {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for run in runs {
            *by_key.entry(run.event_key.clone()).or_default() += 1;
        }
        by_key
    };
    let now = recorded(&env.runs(area).await);
    for (key, status) in &answers {
        if *status == 202 {
            assert_eq!(now.get(&format!("key:{key}")), Some(&1), "{key} was acknowledged but not recorded");
        }
    }

    // The senders retry what was refused until it is accepted.
    let mut accepted: HashSet<String> =
        answers.iter().filter(|(_, s)| *s == 200 || *s == 202).map(|(k, _)| k.clone()).collect();
    for i in 0..60 {
        let key = format!("evt-{i}");
        for _ in 0..200 {
            if accepted.contains(&key) {
                break;
            }
            let response =
                client.post(url.as_str()).header("Idempotency-Key", &key).json(&json!({"n": i})).send().await.unwrap();
            if response.status().is_success() {
                accepted.insert(key.clone());
            } else {
                assert_eq!(response.status().as_u16(), 503);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(accepted.len(), 60);
    drop(slow);
    engine.shutdown().await;

    // After a restart: each event once, none lost.
    let mut env = env;
    env.reopen().await;
    let after = recorded(&env.runs(area).await);
    assert_eq!(after.len(), 60, "{after:?}");
    assert!(after.values().all(|n| *n == 1), "{after:?}");
    for i in 0..60 {
        assert!(after.contains_key(&format!("key:evt-{i}")), "evt-{i} lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_do_not_hold_up_shutdown() {
    let env = Env::new().await;
    env.add(webhook_area("hook", notify())).await;
    let mut cfg = listening(config(true));
    cfg.webhook_header_timeout = Duration::from_secs(60);
    cfg.grace = Duration::from_secs(30);
    let engine = Engine::start(&env.store, cfg, RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(half_open(addr).await);
    }
    // Make sure the listener has taken them all in before stopping.
    let mut probe = half_open(addr).await;
    probe.write_all(b"ntent-Type: application/json\r\n\r\n").await.unwrap();
    let answer = read_head(&mut probe, Duration::from_secs(10)).await.expect("the listener answers");
    assert_eq!(status_of(answer.as_bytes()), 404, "{answer}");
    // Neither the 60 s header timeout nor the 30 s grace period: stopping closes them.
    let stopped = tokio::time::timeout(Duration::from_secs(10), engine.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown waited for half-open webhook connections");
    for mut stream in slow {
        assert!(read_until_closed(&mut stream, Duration::from_secs(5)).await.is_some());
    }
}

/// `GET /about.json` on the listener: the AREA format, with the caller's address and the time.
#[tokio::test]
async fn about_json_names_the_caller_the_time_and_every_service() {
    let env = Env::new().await;
    let engine = Engine::start(&env.store, listening(config(true)), RecordingNotifier::new()).await.unwrap();
    let addr = engine.webhook_addr().unwrap();
    let response = reqwest::get(format!("http://{addr}/about.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let about: Value = response.json().await.unwrap();
    assert_eq!(about["client"]["host"], "127.0.0.1");
    let now = chrono::Utc::now().timestamp();
    let time = about["server"]["current_time"].as_i64().expect("current_time");
    assert!((now - time).abs() <= 5, "{time} vs {now}");
    let services = about["server"]["services"].as_array().expect("services");
    let webhook = services.iter().find(|s| s["name"] == "webhook").expect("webhook listed");
    assert_eq!(webhook["actions"][0]["name"], "received");
    assert!(services.iter().any(|s| s["name"] == "http" && s["reactions"][0]["name"] == "request"));
    // Only GET: it is not a webhook.
    let post = reqwest::Client::new().post(format!("http://{addr}/about.json")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    engine.shutdown().await;
}
