//! `area connect|connections|disconnect` end to end, with a canary token that must never
//! appear in plaintext in the database, its WAL, or the logs.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const CANARY: &str = "ghp_CANARYtoken0123456789abcdefXYZ";

fn area(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_area"))
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
    let out = area(dir, args, stdin);
    logs.extend_from_slice(&out.stderr);
    logs.extend_from_slice(&out.stdout);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn token_connection_round_trip_never_leaks_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut logs = Vec::new();
    ok(&dir, &["user", "add", "ada@example.com", "--password-stdin"], "correct horse\n", &mut logs);
    ok(&dir, &["login", "ada@example.com", "--password-stdin"], "correct horse\n", &mut logs);
    ok(&dir, &["connect", "github", "--token-stdin", "--label", "ada-gh"], &format!("{CANARY}\n"), &mut logs);
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
    ok(&dir, &["areas", "add", "--file", file.to_str().unwrap()], "", &mut logs);
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
    ok(&dir, &["connect", "github", "--token-stdin"], &format!("{CANARY}-v2\n"), &mut logs);

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
