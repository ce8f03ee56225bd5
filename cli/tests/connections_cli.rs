//! `area connect|connections|disconnect` end to end, with a canary token that must never
//! appear in plaintext in the database, its WAL, or the logs.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{github_user, json_ok, serve_with};

const CANARY: &str = "ghp_CANARYtoken0123456789abcdefXYZ";

fn area(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    area_env(dir, &[], args, stdin)
}

/// [`area`] with extra environment variables (a service's base URL).
fn area_env(dir: &std::path::Path, envs: &[(&str, String)], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_area"))
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AREA_DATA_DIR")
        .env_remove("AREA_MASTER_KEY")
        .env("RUST_LOG", "trace")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(dir: &std::path::Path, args: &[&str], stdin: &str, logs: &mut Vec<u8>) -> String {
    ok_env(dir, &[], args, stdin, logs)
}

fn ok_env(dir: &std::path::Path, envs: &[(&str, String)], args: &[&str], stdin: &str, logs: &mut Vec<u8>) -> String {
    let out = area_env(dir, envs, args, stdin);
    logs.extend_from_slice(&out.stderr);
    logs.extend_from_slice(&out.stdout);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A data directory with a signed-in account, and the logs collected so far.
fn signed_in() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut logs = Vec::new();
    ok(&dir, &["user", "add", "ada@example.com", "--password-stdin"], "correct horse\n", &mut logs);
    ok(&dir, &["login", "ada@example.com", "--password-stdin"], "correct horse\n", &mut logs);
    (tmp, dir, logs)
}

#[test]
fn token_connection_round_trip_never_leaks_the_token() {
    let (tmp, dir, mut logs) = signed_in();
    // The token is checked with GitHub (`GET /user`, here a local fake) before it is saved.
    let (github, github_seen) = serve_with(|head| github_user(head, "octocat").unwrap_or_default());
    let gh = [("AREA_GITHUB_BASE_URL", format!("http://127.0.0.1:{github}"))];
    ok_env(&dir, &gh, &["connect", "github", "--token-stdin", "--label", "ada-gh"], &format!("{CANARY}\n"), &mut logs);
    assert!(github_seen.lock().unwrap().iter().any(|r| r.contains(&format!("Bearer {CANARY}"))));
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list[0]["connection_id"], "github");
    assert_eq!(list[0]["status"], "ok");
    assert_eq!(list[0]["account_label"], "ada-gh");
    // A GitHub area polling a repository: the engine decrypts the token and uses it (the request
    // fails — nothing listens — and the error must not contain the token either).
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
    ok(&dir, &["areas", "add", "--enable", "--file", file.to_str().unwrap()], "", &mut logs);
    let out = Command::new(env!("CARGO_BIN_EXE_area"))
        .env("RUST_LOG", "trace")
        .env("AREA_GITHUB_BASE_URL", "http://127.0.0.1:9")
        .env("AREA_ALLOW_PRIVATE_NETWORK", "1")
        .arg("--data-dir")
        .arg(&dir)
        .args(["run", "--once"])
        .output()
        .unwrap();
    logs.extend_from_slice(&out.stderr);
    logs.extend_from_slice(&out.stdout);
    assert!(out.status.success());
    // Reconnecting without a label names the account the check found.
    ok_env(&dir, &gh, &["connect", "github", "--token-stdin"], &format!("{CANARY}-v2\n"), &mut logs);
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list[0]["account_label"], "octocat");

    for name in ["area.db", "area.db-wal", "area.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            assert!(!contains(&bytes, CANARY), "token in plaintext in {name}");
        }
    }
    assert!(!contains(&logs, CANARY), "token in the logs");
    assert!(!logs.is_empty());

    // Disconnect pauses the area; connecting a service that needs nothing is refused.
    ok(&dir, &["disconnect", "github"], "", &mut logs);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&dir, &["--json", "areas", "show", "1"], "", &mut logs)).unwrap();
    assert!(show["paused_reason"].as_str().unwrap_or_default().contains("area connect github"), "{show}");
    let refused = area(&dir, &["connect", "timer", "--token-stdin"], "x\n");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs no connection"));
    let unknown = area(&dir, &["connect", "nope", "--token-stdin"], "x\n");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown service"));
}

#[test]
fn a_token_the_service_refuses_is_not_saved() {
    let (_tmp, dir, mut logs) = signed_in();
    // GitHub answers 401 Bad credentials to a junk token.
    let body = r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;
    let refusal = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (github, seen) = serve_with(move |_| refusal.clone());
    let gh = [("AREA_GITHUB_BASE_URL", format!("http://127.0.0.1:{github}"))];
    let out = area_env(&dir, &gh, &["connect", "github", "--token-stdin"], "x\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GitHub refused this token (HTTP 401)"), "{err}");
    assert!(seen.lock().unwrap().iter().any(|r| r.starts_with("GET /user ") && r.contains("Bearer x")));
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list, serde_json::json!([]), "nothing saved");
    // GitHub unreachable: not saved either, and the message says why.
    let gone = [("AREA_GITHUB_BASE_URL", "http://127.0.0.1:9".to_string())];
    let out = area_env(&dir, &gone, &["connect", "github", "--token-stdin"], "ghp_real\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Could not check the token with GitHub") && err.contains("Nothing was saved"), "{err}");
}

#[test]
fn oauth_connect_reads_app_from_area_conf_prints_url_and_checks_state() {
    use std::io::{BufRead, BufReader, Read};
    let (_tmp, dir, mut logs) = signed_in();

    // Without an app configured: a one-line error naming the variable to set.
    let out = Command::new(env!("CARGO_BIN_EXE_area"))
        .env_remove("AREA_SPOTIFY_CLIENT_ID")
        .arg("--data-dir")
        .arg(&dir)
        .args(["connect", "spotify"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AREA_SPOTIFY_CLIENT_ID"));

    // With the app in area.conf (owner-only, as required): the authorization URL is printed and
    // the loopback listener waits; a callback with a forged state is refused, does not end the
    // wait, and nothing is stored.
    std::fs::write(dir.join("area.conf"), "AREA_SPOTIFY_CLIENT_ID=app-from-conf\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        // Readable by others (0644): refused, in one line naming the file and the fix.
        std::fs::set_permissions(dir.join("area.conf"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let out =
            Command::new(env!("CARGO_BIN_EXE_area")).arg("--data-dir").arg(&dir).arg("connections").output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("area.conf") && err.contains("chmod 600") && err.trim().lines().count() == 1, "{err}");
        std::fs::set_permissions(dir.join("area.conf"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A fixed port, for providers that compare the redirect URI exactly (X).
    let fixed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_area"))
        .env_remove("AREA_SPOTIFY_CLIENT_ID")
        .env("BROWSER", "true")
        .env("PATH", "/nonexistent") // no xdg-open: headless
        .arg("--data-dir")
        .arg(&dir)
        .args(["connect", "spotify", "--port", &fixed_port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        if line.starts_with("https://") {
            url = line.trim().to_string();
            break;
        }
    }
    assert!(url.starts_with("https://accounts.spotify.com/authorize?"), "{url}");
    let query: std::collections::HashMap<String, String> =
        url::Url::parse(&url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(query["client_id"], "app-from-conf");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("http://127.0.0.1:{fixed_port}/callback"));
    let callback = url::Url::parse(&format!("{}?code=stolen&state=forged", query["redirect_uri"])).unwrap();
    let mut stream = std::net::TcpStream::connect((callback.host_str().unwrap(), callback.port().unwrap())).unwrap();
    write!(
        stream,
        "GET {}?{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        callback.path(),
        callback.query().unwrap()
    )
    .unwrap();
    let mut page = String::new();
    let _ = stream.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    assert!(page.contains("does not belong"), "{page}");
    // The forged callback did not use up the listener: the command is still waiting.
    assert!(child.try_wait().unwrap().is_none(), "the forged callback ended the sign-in");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("stolen"), "the code is never echoed");
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list, serde_json::json!([]));
}

#[test]
fn an_oauth2_access_token_can_be_pasted_when_no_loopback_redirect_is_possible() {
    let (_tmp, dir, mut logs) = signed_in();
    ok(&dir, &["connect", "pinterest", "--token-stdin"], "IGQVJcanarytoken\n", &mut logs);
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list[0]["connection_id"], "pinterest");
    assert_eq!(list[0]["kind"], "oauth2");
    assert_eq!(list[0]["status"], "ok");
    assert!(!contains(&logs, "IGQVJcanarytoken"));
    let db = std::fs::read(dir.join("area.db")).unwrap();
    assert!(!contains(&db, "IGQVJcanarytoken"));
}

#[test]
fn mail_servers_belong_to_the_connection_and_area_files_cannot_name_them() {
    const MAIL_CANARY: &str = "mail-CANARY-app-password-42";
    let (tmp, dir, mut logs) = signed_in();

    // The servers are required, and only mail accounts take them.
    let missing = area(&dir, &["connect", "mail", "--username", "ada@example.com", "--password-stdin"], "pw\n");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("imap_host"), "{missing:?}");
    let wrong = area(&dir, &["connect", "github", "--imap-host", "imap.example.com", "--token-stdin"], "t\n");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("mail accounts"), "{wrong:?}");

    let out = ok(
        &dir,
        &[
            "connect",
            "mail",
            "--username",
            "ada@example.com",
            "--imap-host",
            "imap.example.com",
            "--smtp-host",
            "smtp.example.com",
            "--smtp-security",
            "starttls",
            "--password-stdin",
        ],
        &format!("{MAIL_CANARY}\n"),
        &mut logs,
    );
    assert!(out.contains("imap.example.com:993") && out.contains("smtp.example.com:587"), "{out}");
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!(list[0]["connection_id"], "mail");
    assert_eq!(list[0]["kind"], "mail");

    // A shared area file naming a server is refused, saying which parameter.
    let file = tmp.path().join("shared.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "name": "shared",
            "action": {"service": "mail", "id": "new_message",
                       "params": {"imap_host": "imap.evil.example", "username": "ada@example.com", "folder": "INBOX"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ subject }}"}}]
        })
        .to_string(),
    )
    .unwrap();
    let refused = area(&dir, &["areas", "add", "--file", file.to_str().unwrap()], "");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("imap_host") && err.contains("unknown parameter"), "{err}");
    let listed = ok(&dir, &["--json", "areas", "list"], "", &mut logs);
    assert!(!listed.contains("shared"), "{listed}");

    // The password is sealed: never in clear in the database, its WAL or the output.
    for name in ["area.db", "area.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            assert!(!contains(&bytes, MAIL_CANARY), "{name} holds the password in clear");
        }
    }
    assert!(!contains(&logs, MAIL_CANARY));
}

/// Instagram's long-lived token is pasted (Meta's sign-in needs an https redirect): it is checked
/// with `GET /me?fields=user_id,username`, labelled with the account, and its first renewal is due
/// a little over a day later (Instagram renews no token younger than 24 hours).
#[test]
fn a_pasted_instagram_token_is_checked_and_planned_for_renewal() {
    let (_tmp, dir, mut logs) = signed_in();
    let (instagram, seen) = serve_with(|head| {
        if head.starts_with("GET /me?fields=user_id,username ") && head.contains("Bearer IGAAT-pasted") {
            json_ok(r#"{"user_id":"17841405309211844","username":"jane.doe"}"#)
        } else {
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
        }
    });
    let env = [("AREA_INSTAGRAM_BASE_URL", format!("http://127.0.0.1:{instagram}"))];
    ok_env(&dir, &env, &["connect", "instagram", "--token-stdin"], "IGAAT-pasted\n", &mut logs);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!((list[0]["connection_id"].as_str(), list[0]["kind"].as_str()), (Some("instagram"), Some("api_key")));
    assert_eq!(list[0]["account_label"], "jane.doe");
    let due = list[0]["expires_at"].as_i64().expect("a renewal date") - chrono::Utc::now().timestamp();
    assert!((due - (50 * 86_400 + 25 * 3600)).abs() < 120, "{due}");
}

/// `area connections` shows what the enabled areas plan to spend of a service's documented quota,
/// and an area that would go over it is refused with the figures.
#[test]
fn connections_show_the_planned_quota_and_an_area_over_it_is_refused() {
    let (tmp, dir, mut logs) = signed_in();
    ok(&dir, &["connect", "ratp", "--token-stdin"], "prim-token\n", &mut logs);
    let area_file = |line: &str| {
        let file = tmp.path().join(format!("{line}.json"));
        std::fs::write(
            &file,
            serde_json::json!({
                "name": format!("line {line}"),
                "interval_secs": 120,
                "action": {"service": "ratp", "id": "disruption", "params": {"line": line}},
                "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}"}}]
            })
            .to_string(),
        )
        .unwrap();
        file
    };
    let first = area_file("C01742");
    ok(&dir, &["areas", "add", "--enable", "--file", first.to_str().unwrap()], "", &mut logs);
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    let planned = &list[0]["planned"];
    assert_eq!((planned["planned"].as_u64(), planned["limit"].as_u64()), (Some(720), Some(1_000)), "{list}");
    assert_eq!(planned["window"], "day");
    let text = ok(&dir, &["connections"], "", &mut logs);
    assert!(text.contains("planned: 720 of 1000 calls a day per PRIM token"), "{text}");

    let second = area_file("C01743");
    let refused = area(&dir, &["areas", "add", "--enable", "--file", second.to_str().unwrap()], "");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("1440 calls a day, over the 1000 allowed a day per PRIM token"), "{stderr}");
}

/// The fake Revolut Business of `tests/revolut-server` (Node), stopped when dropped.
struct FakeRevolut {
    child: std::process::Child,
    port: u16,
}

impl Drop for FakeRevolut {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeRevolut {
    fn start() -> FakeRevolut {
        use std::io::BufRead;
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/revolut-server");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node (scripts/setup.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("READY http://127.0.0.1:PORT");
        FakeRevolut { child, port }
    }

    /// One HTTP/1.1 exchange: the status line and headers, and the body.
    fn call(&self, method: &str, path: &str, body: &str) -> (String, String) {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        (head.to_string(), body.to_string())
    }
}

#[test]
fn revolut_is_connected_with_a_certificate_area_creates_and_its_key_stays_sealed() {
    let fake = FakeRevolut::start();
    let (_tmp, dir, mut logs) = signed_in();
    let env = [("AREA_REVOLUT_BASE_URL", format!("http://127.0.0.1:{}/api/1.0", fake.port))];
    let redirect = "https://area.example.com/revolut";

    // A pasted token is refused with the way to connect instead.
    let out = area_env(&dir, &env, &["connect", "revolut", "--token-stdin"], "oa_prod_x\n");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--redirect-uri"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = ok_env(&dir, &env, &["connect", "revolut", "--redirect-uri", redirect], "", &mut logs);
    assert!(text.contains("-----BEGIN CERTIFICATE-----") && text.contains("--client-id"), "{text}");
    let setup: serde_json::Value =
        serde_json::from_str(&ok_env(&dir, &env, &["--json", "connect", "revolut"], "", &mut logs)).unwrap();
    assert_eq!((setup["authorized"].as_bool(), setup["issuer"].as_str()), (Some(false), Some("area.example.com")));
    let waiting = ok(&dir, &["connections"], "", &mut logs);
    assert!(waiting.contains("needs reconnect — waiting for the authorization"), "{waiting}");

    // The user uploads the certificate and consents; Revolut sends the browser to the redirect URI.
    let upload = serde_json::json!({"certificate": setup["certificate_pem"], "redirect_uri": redirect}).to_string();
    let (head, body) = fake.call("POST", "/test/certificates", &upload);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    let client_id =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["client_id"].as_str().unwrap().to_string();
    let consent = format!(
        "/app-confirm?client_id={client_id}&redirect_uri={}&response_type=code&scope=READ",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let (head, _) = fake.call("GET", &consent, "");
    let landed = head.lines().find_map(|l| l.strip_prefix("location: ")).expect("redirected").to_string();

    let done = ok_env(&dir, &env, &["connect", "revolut", "--client-id", &client_id, "--code", &landed], "", &mut logs);
    assert!(done.contains("connected Revolut Business (ok)"), "{done}");
    let list: serde_json::Value = serde_json::from_str(&ok(&dir, &["--json", "connections"], "", &mut logs)).unwrap();
    assert_eq!((list[0]["kind"].as_str(), list[0]["status"].as_str()), (Some("client_key"), Some("ok")));

    // The private key is sealed: neither the database files nor the logs hold it.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(!contains(&std::fs::read(&path).unwrap(), "PRIVATE KEY"), "{} holds the key", path.display());
        }
    }
    assert!(!contains(&logs, "PRIVATE KEY"));
}
