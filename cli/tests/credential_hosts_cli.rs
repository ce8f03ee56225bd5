//! Through the engine (`area run --once`): a connection's token is sent to the service's host
//! (here `AREA_GITHUB_BASE_URL`, a local "good" server) and never to another one, even when that
//! server redirects to an "evil" one with the token in the new URL.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use support::{github_user, serve, serve_with};

const CANARY: &str = "ghp_CANARYhostbound0123456789";

fn area(dir: &std::path::Path, good: u16, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_area"))
        .env_remove("AREA_DATA_DIR")
        .env_remove("AREA_MASTER_KEY")
        .env("AREA_GITHUB_BASE_URL", format!("http://127.0.0.1:{good}"))
        .env("AREA_ALLOW_PRIVATE_NETWORK", "1")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn a_redirect_cannot_take_a_connection_token_to_another_host() {
    let empty = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]";
    let (evil, evil_seen) = serve(empty.to_string());
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{evil}/stolen?access_token={CANARY}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (good, good_seen) = serve_with(move |head| github_user(head, "ada").unwrap_or_else(|| redirect.clone()));

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    area(&dir, good, &["user", "add", "ada@example.com", "--password-stdin"], "correct horse\n");
    area(&dir, good, &["login", "ada@example.com", "--password-stdin"], "correct horse\n");
    area(&dir, good, &["connect", "github", "--token-stdin"], &format!("{CANARY}\n"));
    let file = tmp.path().join("area.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "name": "issues",
            "action": {"service": "github", "id": "new_issue", "params": {"repo": "octo/hello"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}"}}]
        })
        .to_string(),
    )
    .unwrap();
    area(&dir, good, &["areas", "add", "--enable", "--allow-private-network", "--file", file.to_str().unwrap()], "");
    area(&dir, good, &["run", "--once"], "");

    let good_seen = good_seen.lock().unwrap().clone();
    assert!(
        good_seen.iter().any(|r| r.contains(&format!("Bearer {CANARY}"))),
        "the service's own host gets the token: {good_seen:?}"
    );
    let evil_seen = evil_seen.lock().unwrap().clone();
    assert!(evil_seen.iter().all(|r| !r.contains(CANARY)), "the evil host got the token: {evil_seen:?}");
    let shown = String::from_utf8(area(&dir, good, &["--json", "areas", "show", "1"], "").stdout).unwrap();
    assert!(shown.contains("refused to send the github credential"), "{shown}");
    assert!(!shown.contains(CANARY), "{shown}");
}

fn rss(items: &[&str]) -> String {
    let items: String = items
        .iter()
        .map(|t| format!("<item><title>{t}</title><link>https://example.com/{t}</link><guid>{t}</guid></item>"))
        .collect();
    let body = format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>f</title>{items}</channel></rss>");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_reaction_cannot_send_a_connection_token_to_another_host() {
    let empty = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    let (evil, evil_seen) = serve(empty.to_string());
    let feed_polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let polls = feed_polls.clone();
    let (good, good_seen) = serve_with(move |head| {
        if let Some(user) = github_user(head, "ada") {
            return user;
        }
        if head.starts_with("GET /feed.xml") {
            let n = polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return if n == 0 { rss(&["one"]) } else { rss(&["one", "two"]) };
        }
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{evil}/stolen?access_token={CANARY}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    });

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    area(&dir, good, &["user", "add", "ada@example.com", "--password-stdin"], "correct horse\n");
    area(&dir, good, &["login", "ada@example.com", "--password-stdin"], "correct horse\n");
    area(&dir, good, &["connect", "github", "--token-stdin"], &format!("{CANARY}\n"));
    let file = tmp.path().join("area.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "name": "feed to issues",
            "allow_private_network": true,
            "action": {"service": "rss", "id": "new_item", "params": {"url": format!("http://127.0.0.1:{good}/feed.xml")}},
            "reactions": [{"service": "github", "id": "create_issue",
                           "params": {"repo": "octo/hello", "title": "{{ title }}"}}]
        })
        .to_string(),
    )
    .unwrap();
    area(&dir, good, &["areas", "add", "--enable", "--allow-private-network", "--file", file.to_str().unwrap()], "");
    area(&dir, good, &["run", "--once"], ""); // baseline
    area(&dir, good, &["run", "--once"], ""); // "two" is new: the reaction runs

    let good_seen = good_seen.lock().unwrap().clone();
    assert!(
        good_seen
            .iter()
            .any(|r| r.starts_with("POST /repos/octo/hello/issues") && r.contains(&format!("Bearer {CANARY}"))),
        "the reaction reached the service's own host with the token: {good_seen:?}"
    );
    let evil_seen = evil_seen.lock().unwrap().clone();
    assert!(evil_seen.iter().all(|r| !r.contains(CANARY)), "the evil host got the token: {evil_seen:?}");
    let runs = String::from_utf8(area(&dir, good, &["--json", "runs"], "").stdout).unwrap();
    assert!(runs.contains("refused to send the github credential"), "{runs}");
    assert!(!runs.contains(CANARY), "{runs}");
}
