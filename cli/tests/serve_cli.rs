//! `area serve` as a person starts it: the real binary on a temporary data directory answers
//! `about.json`, the API and its sign-up policy on one port, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// One HTTP/1.1 exchange (`Connection: close`): the status line's code, the headers, the body.
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn serve_answers_the_api_and_about_json_on_one_port_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("area"))
        .env_remove("AREA_DATA_DIR")
        .args(["--data-dir"])
        .arg(tmp.path().join("data"))
        .args(["--json", "serve", "--listen", "127.0.0.1:0", "--sign-up", "closed"])
        .args(["--public-url", "https://area.example.com"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first thing printed is where it listens (pretty JSON: read until it parses).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    let started: serde_json::Value = loop {
        text.push_str(&lines.next().expect("area serve printed where it listens").unwrap());
        if let Ok(value) = serde_json::from_str(&text) {
            break value;
        }
    };
    let addr = started["listening"].as_str().unwrap().to_owned();
    assert_eq!(started["url"], "https://area.example.com/");

    let (status, _, about) = http(&addr, "GET", "/about.json", None);
    assert_eq!(status, 200);
    let about: serde_json::Value = serde_json::from_str(&about).unwrap();
    assert_eq!(about["client"]["host"], "127.0.0.1");

    let first = r#"{"email": "admin@example.com", "password": "correct horse battery"}"#;
    let (status, head, _) = http(&addr, "POST", "/api/signup", Some(first));
    assert_eq!(status, 201, "the first account can always be created");
    let cookie = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("; Secure"), "{cookie}");
    let second = r#"{"email": "bob@example.com", "password": "correct horse battery"}"#;
    assert_eq!(http(&addr, "POST", "/api/signup", Some(second)).0, 403, "--sign-up closed");

    // SIGTERM: finishes in-flight work and exits 0.
    let pid = child.id() as libc::pid_t;
    // SAFETY: `pid` is our own child process, still running.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_administrator_invites_from_the_command_line_and_nobody_else_can() {
    let tmp = tempfile::tempdir().unwrap();
    let area = |args: &[&str], stdin: &str| {
        assert_cmd::Command::cargo_bin("area")
            .unwrap()
            .env_remove("AREA_DATA_DIR")
            .arg("--data-dir")
            .arg(tmp.path().join("data"))
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap()
    };
    for email in ["admin@example.com", "bob@example.com"] {
        assert!(area(&["user", "add", email, "--password-stdin"], "correct horse battery\n").status.success());
    }
    assert!(area(&["login", "bob@example.com", "--password-stdin"], "correct horse battery\n").status.success());
    let refused = area(&["user", "invite"], "");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only the administrator"));

    assert!(area(&["login", "admin@example.com", "--password-stdin"], "correct horse battery\n").status.success());
    let out = area(&["--json", "user", "invite", "--public-url", "https://area.example.com/"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let invite: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = invite["code"].as_str().unwrap();
    assert_eq!(code.len(), 64);
    assert_eq!(invite["link"], format!("https://area.example.com/?invite={code}"));
}
