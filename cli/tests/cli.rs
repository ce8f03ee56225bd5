//! End-to-end: the real `area` binary on a temporary data directory.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

struct Area {
    dir: tempfile::TempDir,
}

impl Area {
    fn new() -> Self {
        Area { dir: tempfile::tempdir().unwrap() }
    }
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("area").unwrap();
        cmd.env_remove("AREA_DATA_DIR").arg("--data-dir").arg(self.dir.path().join("data"));
        cmd
    }
    fn run(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        self.cmd().args(args).write_stdin(stdin).assert()
    }
    fn json(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.cmd().arg("--json").args(args).write_stdin(stdin).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
    fn add_user(&self, email: &str, password: &str) {
        self.run(&["user", "add", email, "--password-stdin"], &format!("{password}\n")).success();
    }
    fn login(&self, email: &str, password: &str) {
        self.run(&["login", email, "--password-stdin"], &format!("{password}\n")).success();
    }
}

fn one_line_error(assert: assert_cmd::assert::Assert, contains: &str) {
    let out = assert.failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one-line error expected, got {stderr:?}");
    assert!(stderr.contains(contains), "{stderr:?} lacks {contains:?}");
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn every_command_has_help() {
    let area = Area::new();
    for args in [
        vec!["--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "delete", "--help"],
        vec!["login", "--help"],
        vec!["logout", "--help"],
        vec!["whoami", "--help"],
        vec!["passwd", "--help"],
    ] {
        area.cmd().args(&args).assert().success().stdout(predicate::str::contains("Usage:"));
    }
}

#[test]
fn user_add_list_and_errors() {
    let area = Area::new();
    let created = area.json(&["user", "add", " Ada@Example.com", "--password-stdin"], "correct horse\n");
    assert_eq!(created["email"], "ada@example.com");
    area.run(&["user", "add", "bob@example.com", "--password-stdin"], "battery staple\r\n")
        .success()
        .stdout(predicate::str::contains("created account bob@example.com"));
    let users = area.json(&["user", "list"], "");
    let emails: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ada@example.com", "bob@example.com"]);
    area.run(&["user", "list"], "").success().stdout(predicate::str::contains("bob@example.com"));

    one_line_error(
        area.run(&["user", "add", "ada@example.com", "--password-stdin"], "another pass\n"),
        "already exists",
    );
    one_line_error(area.run(&["user", "add", "nope", "--password-stdin"], "correct horse\n"), "invalid email");
    one_line_error(area.run(&["user", "add", "c@example.com", "--password-stdin"], "short\n"), "at least 8");
    one_line_error(area.run(&["user", "add", "c@example.com", "--password-stdin"], ""), "standard input");
}

#[test]
fn password_is_never_an_argument() {
    let area = Area::new();
    // There is no flag to pass a password: clap refuses the extra argument.
    area.run(&["user", "add", "ada@example.com", "correct horse"], "").failure().code(2);
    area.run(&["login", "ada@example.com", "--password", "x"], "").failure().code(2);
}

#[test]
fn login_whoami_logout() {
    let area = Area::new();
    one_line_error(area.run(&["whoami"], ""), "not logged in");
    area.add_user("ada@example.com", "correct horse");
    one_line_error(
        area.run(&["login", "ada@example.com", "--password-stdin"], "wrong horse\n"),
        "wrong email or password",
    );
    one_line_error(
        area.run(&["login", "ghost@example.com", "--password-stdin"], "wrong horse\n"),
        "wrong email or password",
    );
    area.login("ada@example.com", "correct horse");
    let session = area.dir.path().join("data").join("session");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&session).unwrap().permissions().mode() & 0o777, 0o600);
    area.run(&["whoami"], "").success().stdout("ada@example.com\n");
    assert_eq!(area.json(&["whoami"], "")["email"], "ada@example.com");
    area.run(&["logout"], "").success().stdout(predicate::str::contains("logged out"));
    one_line_error(area.run(&["whoami"], ""), "not logged in");
    area.run(&["logout"], "").success().stdout(predicate::str::contains("was not logged in"));
}

#[test]
fn throttling_is_reported_with_when_to_retry() {
    let area = Area::new();
    area.add_user("ada@example.com", "correct horse");
    for attempt in 0..5 {
        if attempt == 4 {
            // The 5th failure locks for 1 s counted in whole seconds: start it just after a
            // second begins so the next login falls inside the lock however busy the machine.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1_020 - u64::from(now.subsec_millis())));
        }
        area.run(&["login", "ada@example.com", "--password-stdin"], "wrong horse\n").failure();
    }
    one_line_error(area.run(&["login", "ada@example.com", "--password-stdin"], "correct horse\n"), "try again in");
}

#[test]
fn passwd_changes_password_and_signs_out_other_sessions() {
    let area = Area::new();
    area.add_user("ada@example.com", "correct horse");
    area.login("ada@example.com", "correct horse");
    one_line_error(
        area.run(&["passwd", "--password-stdin"], "wrong horse\nbattery staple\n"),
        "wrong email or password",
    );
    one_line_error(area.run(&["passwd", "--password-stdin"], "correct horse\nshort\n"), "at least 8");
    area.run(&["passwd", "--password-stdin"], "correct horse\nbattery staple\n")
        .success()
        .stdout(predicate::str::contains("password changed"));
    area.run(&["whoami"], "").success();
    one_line_error(area.run(&["login", "ada@example.com", "--password-stdin"], "correct horse\n"), "wrong email");
    area.login("ada@example.com", "battery staple");
}

#[test]
fn passwd_requires_login() {
    let area = Area::new();
    one_line_error(area.run(&["passwd", "--password-stdin"], "a\nb\n"), "not logged in");
}

#[test]
fn user_delete_removes_account_and_its_session() {
    let area = Area::new();
    area.add_user("ada@example.com", "correct horse");
    area.login("ada@example.com", "correct horse");
    assert_eq!(area.json(&["user", "delete", "ada@example.com"], "")["deleted"], "ada@example.com");
    one_line_error(area.run(&["whoami"], ""), "not logged in");
    one_line_error(area.run(&["user", "delete", "ada@example.com"], ""), "no account");
    assert_eq!(area.json(&["user", "list"], ""), serde_json::json!([]));
}

#[test]
fn data_dir_from_environment_and_read_only_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("env-data");
    Command::cargo_bin("area")
        .unwrap()
        .env("AREA_DATA_DIR", &dir)
        .args(["user", "add", "ada@example.com", "--password-stdin"])
        .write_stdin("correct horse\n")
        .assert()
        .success();
    assert!(dir.join("area.db").exists());

    use std::os::unix::fs::PermissionsExt;
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let assert = Command::cargo_bin("area").unwrap().arg("--data-dir").arg(&ro).args(["user", "list"]).assert();
    one_line_error(assert, "read-only");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn corrupt_database_is_a_one_line_error() {
    let area = Area::new();
    let data = area.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("area.db"), b"garbage garbage garbage garbage".repeat(200)).unwrap();
    one_line_error(area.run(&["user", "list"], ""), "not a valid Area database");
}

#[test]
fn recipes_are_listed_and_one_becomes_an_area_with_the_values_it_asks_for() {
    let area = Area::new();
    let listed = area.json(&["recipes"], "");
    let ids: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(ids.len() >= 20 && ids.contains(&"rss-to-notification"), "{ids:?}");
    area.run(&["recipes"], "").success().stdout(predicate::str::contains("area recipes --use ID"));
    area.add_user("ada@example.com", "correct horse");
    area.login("ada@example.com", "correct horse");
    one_line_error(area.run(&["recipes", "--use", "rss-to-notification"], ""), "action.params.url");
    let created = area.json(&["recipes", "--use", "rss-to-notification", "https://blog.rust-lang.org/feed.xml"], "");
    assert_eq!(created["name"], "New blog post → notification");
    let shown = area.json(&["areas", "show", &created["id"].to_string()], "");
    assert_eq!(shown["spec"]["action"]["params"]["url"], "https://blog.rust-lang.org/feed.xml");
    assert_eq!(shown["enabled"], true);
}

/// `area autostart on|off`: the XDG autostart entry starts this very `area` on this data
/// directory at login as the tray process (the engine with its icon, as the desktop app's switch
/// does; its Exec line, read back as a desktop session splits it, is exactly that command, even
/// for a directory with spaces and `$`), and `off` removes it. Off by default.
#[test]
fn autostart_writes_an_entry_that_starts_this_tray_at_login() {
    let area = Area::new();
    let config = tempfile::tempdir().unwrap();
    let data = area.dir.path().join("my $data dir");
    let cmd = || {
        let mut cmd = Command::cargo_bin("area").unwrap();
        cmd.env_remove("AREA_DATA_DIR").env("XDG_CONFIG_HOME", config.path()).arg("--data-dir").arg(&data);
        cmd
    };
    let status = |cmd: &mut Command| -> Value {
        serde_json::from_slice(&cmd.args(["--json", "autostart"]).output().unwrap().stdout).unwrap()
    };
    assert_eq!(status(&mut cmd())["autostart"], false, "off until the user turns it on");

    cmd().args(["autostart", "on"]).assert().success().stdout(predicate::str::contains("starts when you log in"));
    let entry_path = config.path().join("autostart").join("area.desktop");
    let entry = std::fs::read_to_string(&entry_path).unwrap();
    assert!(entry.starts_with("[Desktop Entry]\n") && entry.contains("\nType=Application\n"), "{entry}");
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line");
    let program = assert_cmd::cargo::cargo_bin("area").to_string_lossy().into_owned();
    assert_eq!(
        area_core::autostart::parse_exec(exec),
        [program.as_str(), "--data-dir", &data.to_string_lossy(), "tray"],
        "{exec}"
    );
    assert!(exec.contains(r"\\$data"), "the $ is escaped, not expanded: {exec}");
    assert_eq!(status(&mut cmd())["command"][3], "tray");

    cmd().args(["autostart", "off"]).assert().success().stdout(predicate::str::contains("no longer starts"));
    assert!(!entry_path.exists());
    assert_eq!(status(&mut cmd())["autostart"], false);
}
