//! Starts `tests/mail-server/server.mjs` (real IMAP + SMTP servers on 127.0.0.1) for the Rust
//! tests, which include this file with `#[path]`. Needs Node.js and
//! `npm ci --prefix tests/mail-server` (scripts/test.sh does it); without them the tests fail with
//! that instruction, they never skip silently.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// The one account of the test servers.
pub const USER: &str = "ada@example.com";
pub const PASS: &str = "app-password";
/// The OAuth2 access token the servers accept for [`USER`] over SASL XOAUTH2.
#[allow(dead_code)] // not every test binary that includes the harness signs in with OAuth2
pub const TOKEN: &str = "oauth-access-token";

/// A running mail server process; killed when dropped.
pub struct MailServer {
    child: Child,
    pub imap_port: u16,
    pub smtp_port: u16,
    control: String,
    http: reqwest::Client,
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/mail-server")
}

impl MailServer {
    pub async fn start() -> MailServer {
        MailServer::start_with(false).await
    }

    /// Starts the servers; with `no_move` the IMAP server offers neither MOVE nor UIDPLUS.
    pub async fn start_with(no_move: bool) -> MailServer {
        MailServer::start_with_options(no_move, false).await
    }

    /// Starts the servers without IMAP IDLE: clients must poll.
    #[allow(dead_code)] // used by the mail tests only
    pub async fn start_without_idle() -> MailServer {
        MailServer::start_with_options(false, true).await
    }

    async fn start_with_options(no_move: bool, no_idle: bool) -> MailServer {
        let dir = server_dir();
        assert!(
            dir.join("node_modules/hoodiecrow-imap/package.json").is_file()
                && dir.join("node_modules/smtp-server/package.json").is_file(),
            "the mail test servers are not installed: run `npm ci --prefix tests/mail-server` from the \
             repository root (scripts/test.sh does it; Node.js comes from scripts/setup.sh)"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("MAIL_USER", USER)
            .env("MAIL_PASS", PASS)
            .env("MAIL_TOKEN", "oauth-access-token")
            .env("MAIL_NO_MOVE", if no_move { "1" } else { "0" })
            .env("MAIL_NO_IDLE", if no_idle { "1" } else { "0" })
            .stdin(Stdio::piped()) // the server exits when this closes, even if the test is killed
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js 20+ (scripts/setup.sh does)"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ports) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(ports.trim().to_string());
                }
            }
        });
        let ready = tokio::task::spawn_blocking(move || ready_rx.recv_timeout(Duration::from_secs(30))).await.unwrap();
        let ports: Vec<u16> = match ready {
            Ok(line) => line.split_whitespace().map(|p| p.parse().expect("port")).collect(),
            Err(_) => panic!("the mail test server did not start; its stderr:\n{}", stderr.lock().unwrap()),
        };
        MailServer {
            child,
            imap_port: ports[0],
            smtp_port: ports[1],
            control: format!("http://127.0.0.1:{}", ports[2]),
            http: reqwest::Client::new(),
        }
    }

    /// Delivers a raw message into `mailbox` (INTERNALDATE `date`, RFC 3339, or now); its UID.
    pub async fn append(&self, mailbox: &str, raw: &str, date: Option<&str>) -> u32 {
        let mut url = format!("{}/append?mailbox={mailbox}", self.control);
        if let Some(date) = date {
            url.push_str(&format!("&date={date}"));
        }
        let answer: Value = self.http.post(url).body(raw.to_string()).send().await.unwrap().json().await.unwrap();
        answer["uid"].as_u64().unwrap_or_else(|| panic!("append failed: {answer}")) as u32
    }

    /// Gives `mailbox` a new UIDVALIDITY and renumbers its messages from UID 1.
    pub async fn set_uidvalidity(&self, mailbox: &str, value: u32) {
        let url = format!("{}/uidvalidity?mailbox={mailbox}&value={value}", self.control);
        let status = self.http.post(url).send().await.unwrap().status();
        assert!(status.is_success());
    }

    /// `{"uidvalidity", "messages": [{"uid", "flags", "raw"}]}` of a mailbox, read server-side.
    pub async fn mailbox(&self, mailbox: &str) -> Value {
        let url = format!("{}/mailbox?mailbox={mailbox}", self.control);
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// Messages the SMTP server accepted: `[{"from", "to": [...], "raw"}]`.
    pub async fn smtp_received(&self) -> Vec<Value> {
        let url = format!("{}/smtp", self.control);
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// This server's connection settings plus a folder, as one object (plaintext on loopback):
    /// tests vary either half, then [`split_connection`] separates them.
    pub fn imap_params(&self, folder: &str) -> Value {
        json!({"imap_host": "127.0.0.1", "imap_port": self.imap_port, "security": "plain",
               "username": USER, "folder": folder})
    }

    /// The parameters of an area reading `folder`: the server belongs to the connection.
    pub fn area_params(&self, folder: &str) -> Value {
        json!({"folder": folder})
    }

    /// The sealed payload of a mail connection to this server's IMAP and SMTP (plaintext).
    pub fn connection(&self, password: &str) -> area_core::connections::Secret {
        let input = area_core::services::mail::MailAccountInput {
            username: USER.into(),
            imap_host: "127.0.0.1".into(),
            imap_port: Some(self.imap_port),
            imap_security: Some("plain".into()),
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(self.smtp_port),
            smtp_security: Some("plain".into()),
        };
        area_core::connections::Secret::Mail { password: password.into(), account: input.account().expect("account") }
    }
}

/// Splits test parameters that name servers the old way (`imap_host`, `imap_port`, `smtp_host`,
/// `smtp_port`, `security`, `username`) into the area's own parameters and the mail connection
/// they describe, since servers now belong to the connection.
pub fn split_connection(
    params: &serde_json::Map<String, Value>,
    password: &str,
) -> (serde_json::Map<String, Value>, area_core::connector::Credential) {
    let mut area = params.clone();
    let mut take = |k: &str| area.remove(k);
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let port = |v: Option<Value>| v.and_then(|v| v.as_u64()).and_then(|p| u16::try_from(p).ok());
    let (imap_host, imap_port) = (text(take("imap_host")), port(take("imap_port")));
    let (smtp_host, smtp_port) = (text(take("smtp_host")), port(take("smtp_port")));
    let security = text(take("security"));
    let username = text(take("username")).unwrap_or_else(|| USER.into());
    let input = area_core::services::mail::MailAccountInput {
        username,
        imap_host: imap_host.clone().or(smtp_host.clone()).unwrap_or_else(|| "127.0.0.1".into()),
        imap_port: imap_port.or(smtp_port),
        imap_security: security.clone(),
        smtp_host: smtp_host.or(imap_host),
        smtp_port: smtp_port.or(imap_port),
        smtp_security: security,
    };
    let account = input.account().expect("test connection settings");
    (area, area_core::connector::Credential::Mail { password: password.into(), account })
}

/// A simple RFC 5322 message. Non-ASCII subjects become RFC 2047 encoded words and non-ASCII
/// bodies base64, as mail clients send them (hoodiecrow is not 8-bit clean).
pub fn message(from: &str, subject: &str, body: &str, message_id: &str) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let subject = if subject.is_ascii() { subject.to_string() } else { format!("=?UTF-8?B?{}?=", b64(subject)) };
    let (encoding, body) = if body.is_ascii() { ("7bit", body.to_string()) } else { ("base64", b64(body)) };
    format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Sat, 28 Nov 2026 10:30:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\r\n{body}\r\n"
    )
}
