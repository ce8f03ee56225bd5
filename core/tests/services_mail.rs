//! `mail` against real IMAP and SMTP servers on loopback (`tests/mail-server`: hoodiecrow-imap
//! and nodemailer's smtp-server, started per test): new-message checks with cursors, filters and
//! UIDVALIDITY changes, credential and SSRF errors, the send/flag/move reactions (checked through
//! a second IMAP session or the SMTP server's record), and one end-to-end run through the engine.
//!
//! Needs Node.js and `npm ci --prefix tests/mail-server` (scripts/test.sh does it).

mod kit;

#[path = "../../tests/mail-server/harness.rs"]
mod mail_server;
mod support;

use kit::NoNotifier;
use std::sync::Arc;

use area_core::catalog::ActionKind;
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, FetchContext, FetchedAction, Params, PollOutput, Reaction, ReactionContext,
    ReactionOutput, SourceWait,
};
use area_core::engine::Engine;
use area_core::net::{HttpClient, NetConfig, NetError};
use mail_server::{message, MailServer, PASS, USER};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

fn params(v: Value) -> Params {
    v.as_object().expect("object").clone()
}

fn with(mut base: Value, extra: Value) -> Params {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    params(base)
}

fn new_message() -> Arc<dyn FetchedAction> {
    match area_core::services::catalog(&area_core::settings::Settings::from_env())
        .action("mail", "new_message")
        .expect("mail.new_message")
        .2
    {
        ActionKind::Fetched(a) => a.clone(),
        _ => panic!("mail.new_message is not a fetched action"),
    }
}

fn reaction(id: &str) -> Arc<dyn Reaction> {
    area_core::services::catalog(&area_core::settings::Settings::from_env())
        .reaction("mail", id)
        .expect("mail reaction")
        .2
        .clone()
}

async fn fetch_with(
    p: &Params,
    cursor: Option<&Value>,
    password: &str,
    allow_private: bool,
) -> Result<PollOutput, ConnectorError> {
    let (p, credential) = mail_server::split_connection(p, password);
    let ctx = FetchContext { params: &p, cursor, credential: Some(&credential), allow_private_network: allow_private };
    new_message().fetch(&ctx).await
}

async fn fetch(p: &Params, cursor: Option<&Value>) -> PollOutput {
    fetch_with(p, cursor, PASS, true).await.expect("fetch")
}

async fn run_reaction(
    id: &str,
    p: &Params,
    password: &str,
    allow_private: bool,
) -> Result<ReactionOutput, ConnectorError> {
    let client = HttpClient::new(NetConfig::default()).unwrap();
    let (p, credential) = mail_server::split_connection(p, password);
    let p = &p;
    let ctx = ReactionContext {
        http: &client,
        idempotency_key: "area-1:evt-1:0",
        notifier: &NoNotifier,
        allow_private_network: allow_private,
        credential: Some(&credential),
    };
    reaction(id).run(&ctx, p).await
}

fn subjects(output: &PollOutput) -> Vec<String> {
    output.events.iter().map(|e| e.ingredients["subject"].as_str().unwrap().to_string()).collect()
}

async fn server_with_three() -> MailServer {
    let server = MailServer::start().await;
    for i in 1..=3 {
        let raw = message("Bob <bob@example.org>", &format!("old {i}"), "old body", &format!("old{i}@example.org"));
        server.append("INBOX", &raw, Some(&format!("2026-11-0{i}T10:00:00Z"))).await;
    }
    server
}

#[tokio::test]
async fn new_messages_after_the_cursor_with_decoded_ingredients() {
    let server = server_with_three().await;
    let p = params(server.imap_params("INBOX"));
    let first = fetch(&p, None).await;
    assert_eq!(subjects(&first), ["old 1", "old 2", "old 3"]);
    assert_eq!(first.events[0].key, "1000:1");
    let cursor = first.cursor.clone().expect("cursor");
    assert_eq!(cursor["uidvalidity"], 1000);
    assert_eq!(cursor["last_uid"], 3);

    // Nothing new: nothing returned, cursor unchanged.
    let again = fetch(&p, Some(&cursor)).await;
    assert!(again.events.is_empty());
    assert_eq!(again.cursor.as_ref().unwrap()["last_uid"], 3);

    // Two deliveries: a multipart one with an encoded-word subject and sender, and a plain one.
    let multipart = "From: =?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.fr>\r\nTo: ada@example.com\r\n\
Subject: =?UTF-8?B?RMOpamV1bmVyIHZlbmRyZWRpID8g4piV?=\r\nMessage-ID: <lunch-1@example.fr>\r\n\
Date: Sat, 28 Nov 2026 11:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n\
--zz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Salut Ada,\r\non d=C3=A9jeune   vendredi ?\r\n--zz\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Salut</p>\r\n--zz--\r\n";
    server.append("INBOX", multipart, None).await;
    server
        .append("INBOX", &message("carol@example.net", "Invoice 42", "Amount due: 10 €", "inv42@example.net"), None)
        .await;
    let second = fetch(&p, Some(&cursor)).await;
    assert_eq!(second.events.len(), 2, "{:?}", second.events);
    let lunch = &second.events[0];
    assert_eq!(lunch.key, "1000:4");
    assert_eq!(lunch.ingredients["subject"], "Déjeuner vendredi ? ☕");
    assert_eq!(lunch.ingredients["from"], "Renée Dupré <renee@example.fr>");
    assert_eq!(lunch.ingredients["from_address"], "renee@example.fr");
    assert_eq!(lunch.ingredients["message_id"], "lunch-1@example.fr");
    assert_eq!(lunch.ingredients["date"], "2026-11-28T11:00:00+01:00");
    assert_eq!(lunch.ingredients["snippet"], "Salut Ada, on déjeune vendredi ?");
    assert_eq!(lunch.ingredients["uid"], 4);
    assert_eq!(lunch.ingredients["folder"], "INBOX");
    let invoice = &second.events[1];
    assert_eq!(invoice.key, "1000:5");
    assert_eq!(invoice.ingredients["from"], "carol@example.net");
    assert_eq!(invoice.ingredients["snippet"], "Amount due: 10 €");
    let cursor = second.cursor.unwrap();
    assert_eq!(cursor["last_uid"], 5);
    assert!(fetch(&p, Some(&cursor)).await.events.is_empty());
}

#[tokio::test]
async fn from_and_subject_filters() {
    let server = server_with_three().await;
    server.append("INBOX", &message("Alerts <alerts@bank.example>", "Card payment", "x", "a1@bank"), None).await;
    server.append("INBOX", &message("alerts@bank.example", "Newsletter", "x", "a2@bank"), None).await;
    server.append("INBOX", &message("eve@example.org", "Card payment?", "x", "a3@eve"), None).await;
    let only_from = with(server.imap_params("INBOX"), json!({"from_contains": "BANK.example"}));
    assert_eq!(subjects(&fetch(&only_from, None).await), ["Card payment", "Newsletter"]);
    let both = with(server.imap_params("INBOX"), json!({"from_contains": "bank", "subject_contains": "card"}));
    assert_eq!(subjects(&fetch(&both, None).await), ["Card payment"]);
    let only_subject = with(server.imap_params("INBOX"), json!({"subject_contains": "payment"}));
    assert_eq!(subjects(&fetch(&only_subject, None).await), ["Card payment", "Card payment?"]);
}

#[tokio::test]
async fn large_messages_are_read_truncated() {
    let server = MailServer::start().await;
    let big = "lorem ipsum ".repeat(20_000); // 240 KB, over the 64 KiB fetch cap
    server.append("INBOX", &message("a@example.org", "small 1", "one", "s1@x"), None).await;
    server.append("INBOX", &message("b@example.org", "big", &big, "big@x"), None).await;
    server.append("INBOX", &message("c@example.org", "small 2", "two", "s2@x"), None).await;
    let out = fetch(&params(server.imap_params("INBOX")), None).await;
    assert_eq!(subjects(&out), ["small 1", "big", "small 2"]);
    let snippet = out.events[1].ingredients["snippet"].as_str().unwrap();
    assert!(snippet.starts_with("lorem ipsum lorem") && snippet.ends_with('…'), "{snippet}");
    assert!(snippet.chars().count() <= 501);
    assert_eq!(out.events[2].ingredients["snippet"], "two");
}

#[tokio::test]
async fn a_uidvalidity_change_returns_only_newer_messages() {
    let server = server_with_three().await;
    let p = params(server.imap_params("INBOX"));
    let cursor = fetch(&p, None).await.cursor.unwrap();
    // The server renumbers the folder (e.g. restored from backup), then one new message arrives.
    server.set_uidvalidity("INBOX", 5000).await;
    server.append("INBOX", &message("dan@example.org", "after the change", "new", "new@example.org"), None).await;
    let out = fetch(&p, Some(&cursor)).await;
    let keys: Vec<&str> = out.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["5000:4"], "only the message newer than everything seen before");
    let cursor = out.cursor.unwrap();
    assert_eq!(cursor["uidvalidity"], 5000);
    assert_eq!(cursor["last_uid"], 4);
    assert!(fetch(&p, Some(&cursor)).await.events.is_empty());
}

#[tokio::test]
async fn a_wrong_password_needs_reconnect() {
    let server = MailServer::start().await;
    let p = params(server.imap_params("INBOX"));
    let err = fetch_with(&p, None, "wrong", true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::AuthExpired { service } if service == "mail"), "{err:?}");
    assert_eq!(err.class(), ErrorClass::NeedsReconnect);
}

#[tokio::test]
async fn private_targets_plaintext_missing_folders_and_dead_servers() {
    let server = MailServer::start().await;
    // Without allow_private_network, plaintext is refused outright...
    let p = params(server.imap_params("INBOX"));
    let err = fetch_with(&p, None, PASS, false).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "security"), "{err:?}");
    // ...and a TLS connection to loopback (literal or by name) never leaves the guard.
    for host in ["127.0.0.1", "localhost"] {
        let tls = with(server.imap_params("INBOX"), json!({"security": "tls", "imap_host": host}));
        let err = fetch_with(&tls, None, PASS, false).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Net(NetError::Refused { .. })), "{host}: {err:?}");
        assert_eq!(err.class(), ErrorClass::Permanent);
    }
    let send = params(json!({"smtp_host": "127.0.0.1", "smtp_port": server.smtp_port, "username": USER,
                             "from": USER, "to": "x@example.org", "subject": "s", "body": "b"}));
    let err = run_reaction("send", &send, PASS, false).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Net(NetError::Refused { .. })), "{err:?}");

    // TLS against a plaintext server fails the handshake: a network error, not a hang.
    let tls = with(server.imap_params("INBOX"), json!({"security": "tls"}));
    let err = fetch_with(&tls, None, PASS, true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Net(NetError::Connect(m)) if m.contains("TLS")), "{err:?}");
    let err =
        run_reaction("send", &with(json!(send.clone()), json!({"security": "tls"})), PASS, true).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Net(_)), "{err:?}");

    // A folder the server does not have is a parameter error.
    let missing = params(server.imap_params("Nope"));
    let err = fetch_with(&missing, None, PASS, true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "folder"), "{err:?}");

    // Nobody listening: a retryable network error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dead = with(server.imap_params("INBOX"), json!({"imap_port": port}));
    let err = fetch_with(&dead, None, PASS, true).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Net(NetError::Connect(_))), "{err:?}");
    assert!(matches!(err.class(), ErrorClass::Retryable { .. }));
}

fn smtp_params(server: &MailServer, extra: Value) -> Params {
    with(
        json!({"smtp_host": "127.0.0.1", "smtp_port": server.smtp_port, "security": "plain", "username": USER,
               "from": "Ada <ada@example.com>", "to": "bob@example.org, Carol <carol@example.net>",
               "subject": "Rappel : réunion ☕", "body": "Bonjour,\nla réunion est à 10 h."}),
        extra,
    )
}

#[tokio::test]
async fn send_delivers_to_the_smtp_server() {
    let server = MailServer::start().await;
    let out = run_reaction("send", &smtp_params(&server, json!({})), PASS, true).await.expect("send");
    assert!(out.summary.contains("2 recipient"), "{}", out.summary);
    let received = server.smtp_received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["from"], "ada@example.com");
    assert_eq!(received[0]["to"], json!(["bob@example.org", "carol@example.net"]));
    let raw = received[0]["raw"].as_str().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a message");
    assert_eq!(parsed.subject(), Some("Rappel : réunion ☕"));
    assert_eq!(parsed.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("ada@example.com"));
    assert_eq!(parsed.to().map(|a| a.iter().count()), Some(2));
    assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n").trim_end(), "Bonjour,\nla réunion est à 10 h.");
    // The Message-ID is derived from the run's idempotency key.
    let id = parsed.message_id().unwrap().to_string();
    assert!(id.starts_with("area.") && id.ends_with("@example.com"), "{id}");
    run_reaction("send", &smtp_params(&server, json!({})), PASS, true).await.unwrap();
    let again = server.smtp_received().await;
    let again = mail_parser::MessageParser::default().parse(again[1]["raw"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(again.message_id(), Some(id.as_str()));

    // Header injection is refused before anything is sent.
    let err =
        run_reaction("send", &smtp_params(&server, json!({"subject": "hi\r\nBcc: evil@example.org"})), PASS, true)
            .await
            .unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "subject"), "{err:?}");
    let err =
        run_reaction("send", &smtp_params(&server, json!({"to": "a@example.org\nBcc: b@example.org"})), PASS, true)
            .await
            .unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "to"), "{err:?}");
    // A refused password needs reconnecting.
    let err = run_reaction("send", &smtp_params(&server, json!({})), "wrong", true).await.unwrap_err();
    assert!(matches!(err, ConnectorError::AuthExpired { .. }), "{err:?}");
    assert_eq!(server.smtp_received().await.len(), 2);
    assert!(!reaction("send").idempotent());
}

/// A second, independent IMAP session: the flags of every message in `folder`, by UID.
async fn flags_seen_by_imap(server: &MailServer, folder: &str) -> Vec<(u32, Vec<String>)> {
    use futures_util::StreamExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.imap_port)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().expect("greeting");
    let mut session = client.login(USER, PASS).await.map_err(|(e, _)| e).unwrap();
    session.select(folder).await.unwrap();
    let mut out = Vec::new();
    {
        let mut fetches = session.uid_fetch("1:*", "(UID FLAGS)").await.unwrap();
        while let Some(f) = fetches.next().await {
            let f = f.unwrap();
            let flags = f.flags().map(|fl| format!("{fl:?}")).collect();
            out.push((f.uid.unwrap(), flags));
        }
    }
    session.logout().await.unwrap();
    out.sort();
    out
}

#[tokio::test]
async fn flag_and_move_reactions() {
    let server = server_with_three().await;
    let imap = server.imap_params("INBOX");
    run_reaction("flag", &with(imap.clone(), json!({"uid": "2"})), PASS, true).await.expect("flag");
    run_reaction("flag", &with(imap.clone(), json!({"uid": 3, "flag": "seen"})), PASS, true).await.expect("seen");
    let flags = flags_seen_by_imap(&server, "INBOX").await;
    assert_eq!(flags[0], (1, vec![]));
    assert_eq!(flags[1], (2, vec!["Flagged".to_string()]));
    assert_eq!(flags[2], (3, vec!["Seen".to_string()]));
    assert!(reaction("flag").idempotent());

    let out = run_reaction("move", &with(imap.clone(), json!({"uid": "1", "target": "Archive"})), PASS, true)
        .await
        .expect("move");
    assert!(out.summary.contains("Archive"), "{}", out.summary);
    let inbox: Vec<u32> = flags_seen_by_imap(&server, "INBOX").await.into_iter().map(|(u, _)| u).collect();
    assert_eq!(inbox, [2, 3]);
    let archive = server.mailbox("Archive").await;
    assert_eq!(archive["messages"].as_array().unwrap().len(), 1);
    assert!(archive["messages"][0]["raw"].as_str().unwrap().contains("Subject: old 1"));
    assert_eq!(flags_seen_by_imap(&server, "Archive").await.len(), 1);

    // A UID that is not (or no longer) there, a bad UID, a folder that does not exist.
    let err = run_reaction("move", &with(imap.clone(), json!({"uid": "1", "target": "Archive"})), PASS, true)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "uid"), "{err:?}");
    let err = run_reaction("flag", &with(imap.clone(), json!({"uid": "abc"})), PASS, true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "uid"), "{err:?}");
    let err = run_reaction("move", &with(imap.clone(), json!({"uid": "2", "target": "Nowhere"})), PASS, true)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::BadParams { param, .. } if param == "target"), "{err:?}");
}

#[tokio::test]
async fn move_falls_back_to_copy_and_expunge_without_the_move_extension() {
    let server = MailServer::start_with(true).await;
    for i in 1..=2 {
        server.append("INBOX", &message("bob@example.org", &format!("m{i}"), "x", &format!("m{i}@x")), None).await;
    }
    let imap = server.imap_params("INBOX");
    run_reaction("move", &with(imap, json!({"uid": "2", "target": "Archive"})), PASS, true).await.expect("move");
    let inbox: Vec<u32> = flags_seen_by_imap(&server, "INBOX").await.into_iter().map(|(u, _)| u).collect();
    assert_eq!(inbox, [1]);
    let archive = server.mailbox("Archive").await;
    assert_eq!(archive["messages"].as_array().unwrap().len(), 1);
    assert!(archive["messages"][0]["raw"].as_str().unwrap().contains("Subject: m2"));
}

#[tokio::test]
async fn engine_baselines_then_fires_once_per_new_mail() {
    let env = Env::new().await;
    let server = server_with_three().await;
    let conns = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    );
    conns.save(env.user_id, "mail", &server.connection(PASS), None, None).await.unwrap();
    let mut action_params = server.area_params("INBOX");
    action_params["subject_contains"] = json!("urgent");
    let area = env
        .add(spec(json!({
            "name": "urgent mail",
            "allow_private_network": true,
            "action": {"service": "mail", "id": "new_message", "params": action_params},
            "reactions": [{"service": "notify", "id": "send",
                           "params": {"title": "{{ subject }}", "body": "from {{ from_address }} (uid {{ uid }})"}}]
        })))
        .await;
    let recorder = RecordingNotifier::new();
    server.append("INBOX", &message("boss@example.org", "URGENT: old", "x", "u0@example.org"), None).await;
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    assert!(env.state(area).await.baselined);
    server.append("INBOX", &message("boss@example.org", "Urgent: call me ☎", "x", "u1@example.org"), None).await;
    server.append("INBOX", &message("boss@example.org", "lunch", "x", "u2@example.org"), None).await;
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(shown, [("Urgent: call me ☎".to_string(), "from boss@example.org (uid 5)".to_string())]);
    let state = env.state(area).await;
    assert_eq!(state.last_error, None);
    let cursor: Value = serde_json::from_str(&state.cursor.expect("cursor")).unwrap();
    assert_eq!(cursor["last_uid"], 6);
}

/// A fake IMAP server standing for `imap.evil.example`: greets, records every byte it receives
/// and refuses every command.
struct EvilImap {
    port: u16,
    received: Arc<std::sync::Mutex<Vec<u8>>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl EvilImap {
    async fn start() -> EvilImap {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (rec, conns) = (received.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let rec = rec.clone();
                tokio::spawn(async move {
                    let _ = stream.write_all(b"* OK [CAPABILITY IMAP4rev1] evil ready\r\n").await;
                    let mut buf = [0u8; 1024];
                    for _ in 0..100 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                rec.lock().unwrap().extend_from_slice(&buf[..n]);
                                let tag = buf[..n].split(|b| *b == b' ').next().unwrap_or(b"*").to_vec();
                                let _ = stream.write_all(&[&tag[..], b" NO go away\r\n"].concat()).await;
                            }
                        }
                    }
                });
            }
        });
        EvilImap { port, received, connections }
    }

    fn saw_login(&self) -> bool {
        let data = self.received.lock().unwrap();
        String::from_utf8_lossy(&data).to_ascii_uppercase().contains("LOGIN")
            || data.windows(PASS.len()).any(|w| w == PASS.as_bytes())
    }

    fn connection_count(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Issue 10 item 2: a shared area file naming `imap_host: imap.evil.example` made the first poll
/// send the user's mail password there. Servers now belong to the connection: such a file is
/// refused, and nothing in an area's parameters reaches the IMAP/SMTP code's choice of server.
#[tokio::test]
async fn an_area_naming_another_server_never_gets_the_password() {
    let env = Env::new().await;
    let good = server_with_three().await;
    let evil = EvilImap::start().await;
    let conns = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    );
    conns.save(env.user_id, "mail", &good.connection(PASS), None, None).await.unwrap();

    // The shared file names the evil server: refused at validation, naming the field.
    let hostile = json!({"imap_host": "127.0.0.1", "imap_port": evil.port, "security": "plain",
                         "username": USER, "folder": "INBOX"});
    let file = spec(json!({
        "name": "shared", "allow_private_network": true,
        "action": {"service": "mail", "id": "new_message", "params": hostile},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ subject }}", "body": "b"}}]
    }));
    let err = env.areas.add(env.user_id, file).await.unwrap_err().to_string();
    assert!(err.contains("imap_host") && err.contains("unknown parameter"), "{err}");

    // Whatever parameters reach the connector, it uses the connection's server only.
    let credential = match good.connection(PASS) {
        Secret::Mail { password, account } => Credential::Mail { password, account },
        _ => unreachable!(),
    };
    let p = params(hostile.clone());
    let ctx = FetchContext { params: &p, cursor: None, credential: Some(&credential), allow_private_network: true };
    let out = new_message().fetch(&ctx).await.expect("reads the connection's server");
    assert_eq!(subjects(&out), ["old 1", "old 2", "old 3"]);
    let client = kit::client();
    for (id, extra) in [
        ("flag", json!({"uid": "1"})),
        ("move", json!({"uid": "1", "target": "Archive"})),
        (
            "send",
            json!({"smtp_host": "127.0.0.1", "smtp_port": evil.port, "from": USER, "to": "x@example.org",
                        "subject": "s", "body": "b"}),
        ),
    ] {
        let p = with(hostile.clone(), extra);
        let ctx = ReactionContext {
            http: &client,
            idempotency_key: "area-1:evt-1:0",
            notifier: &NoNotifier,
            allow_private_network: true,
            credential: Some(&credential),
        };
        let _ = reaction(id).run(&ctx, &p).await;
    }

    // Through the engine: the area names only the folder, and fires from the connection's server.
    let area = env
        .add(spec(json!({
            "name": "mine", "allow_private_network": true,
            "action": {"service": "mail", "id": "new_message", "params": good.area_params("INBOX")},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ subject }}", "body": "b"}}]
        })))
        .await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    good.append("INBOX", &message("bob@example.org", "new one", "x", "n1@example.org"), None).await;
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    assert_eq!(recorder.count(), 1);
    assert_eq!(env.state(area).await.last_error, None);

    assert_eq!(evil.connection_count(), 0, "the evil server was contacted");
    assert!(!evil.saw_login());
}

// ---- IMAP IDLE -------------------------------------------------------------------------------------

async fn wait_for_change(server: &MailServer, cursor: Option<&Value>) -> Result<SourceWait, ConnectorError> {
    let (p, cred) = mail_server::split_connection(&params(server.imap_params("INBOX")), PASS);
    let ctx = FetchContext { params: &p, cursor, credential: Some(&cred), allow_private_network: true };
    new_message().wait_for_change(&ctx, Duration::from_secs(20)).await
}

/// IDLE reports a message arriving while it waits; a folder already past the cursor is a change
/// at once; a server without IDLE says so, and the interval polls it.
#[tokio::test]
async fn idle_waits_for_a_new_message_and_servers_without_it_are_polled() {
    let server = server_with_three().await;
    let (p, cred) = mail_server::split_connection(&params(server.imap_params("INBOX")), PASS);
    let ctx = FetchContext { params: &p, cursor: None, credential: Some(&cred), allow_private_network: true };
    let cursor = new_message().fetch(&ctx).await.unwrap().cursor.unwrap();

    let waiting = {
        let cursor = cursor.clone();
        let server = &server;
        async move { wait_for_change(server, Some(&cursor)).await }
    };
    let arrive = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.append("INBOX", &message("bob@example.org", "now", "x", "idle1@example.org"), None).await;
    };
    let (outcome, ()) = tokio::join!(waiting, arrive);
    assert_eq!(outcome.unwrap(), SourceWait::Changed);
    // The message is now past the cursor: the next wait says so without idling.
    assert_eq!(wait_for_change(&server, Some(&cursor)).await.unwrap(), SourceWait::Changed);

    let plain = MailServer::start_without_idle().await;
    assert_eq!(wait_for_change(&plain, None).await.unwrap(), SourceWait::Unsupported);
}

/// Through the engine: an area checked once an hour fires a new message within seconds of its
/// arrival, because the watcher's IDLE brings the check forward.
#[tokio::test]
async fn with_idle_a_new_message_fires_within_seconds_not_at_the_next_interval() {
    let env = Env::new().await;
    let server = server_with_three().await;
    let conns = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    );
    conns.save(env.user_id, "mail", &server.connection(PASS), None, None).await.unwrap();
    let area = env
        .add(spec(json!({
            "name": "instant mail",
            "allow_private_network": true,
            "interval_secs": 3600,
            "action": {"service": "mail", "id": "new_message", "params": server.area_params("INBOX")},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ subject }}"}}]
        })))
        .await;
    let recorder = RecordingNotifier::new();
    let engine = Engine::start(&env.store, config(false), recorder.clone()).await.unwrap();
    {
        let env = &env;
        wait_for("the baseline", Duration::from_secs(10), || async move { env.state(area).await.baselined }).await;
    }
    let arrived = std::time::Instant::now();
    server.append("INBOX", &message("bob@example.org", "Ping ⚡", "x", "idle2@example.org"), None).await;
    {
        let recorder = &recorder;
        wait_for("the new message to fire", Duration::from_secs(15), || async move { recorder.count() == 1 }).await;
    }
    let latency = arrived.elapsed();
    engine.shutdown().await;
    eprintln!("IMAP IDLE: message on the server → reaction fired in {latency:?} (polling: up to the 3600 s interval)");
    assert_eq!(recorder.shown.lock().unwrap()[0].0, "Ping ⚡");
    assert!(latency < Duration::from_secs(10), "{latency:?}");
}
