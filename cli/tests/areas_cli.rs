//! End-to-end: `area services`, `area about` and `area areas …` with the real binary on a
//! temporary data directory.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};

struct Area {
    dir: tempfile::TempDir,
}

impl Area {
    fn new() -> Self {
        Area { dir: tempfile::tempdir().unwrap() }
    }
    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("area").unwrap();
        cmd.env_remove("AREA_DATA_DIR").arg("--data-dir").arg(self.data());
        cmd
    }
    fn run(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        self.cmd().args(args).write_stdin(stdin).assert()
    }
    fn stdout(&self, args: &[&str], stdin: &str) -> String {
        let out = self.cmd().args(args).write_stdin(stdin).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    fn json(&self, args: &[&str], stdin: &str) -> Value {
        let text = self.stdout(&[&["--json"], args].concat(), stdin);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }
    /// A logged-in user, as every `areas` command needs.
    fn logged_in(email: &str) -> Self {
        let area = Area::new();
        area.run(&["user", "add", email, "--password-stdin"], "correct horse\n").success();
        area.run(&["login", email, "--password-stdin"], "correct horse\n").success();
        area
    }
    fn file(&self, name: &str, value: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    }
}

fn one_line_error(assert: assert_cmd::assert::Assert, contains: &str) {
    let out = assert.failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one-line error expected, got {stderr:?}");
    assert!(stderr.contains(contains), "{stderr:?} lacks {contains:?}");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
}

fn rss_area() -> Value {
    json!({
        "name": "Rust blog",
        "action": {"service": "rss", "id": "new_item", "params": {"url": "https://blog.rust-lang.org/feed.xml"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "New: {{ title }}"}}],
        "condition": {"ingredient": "title", "op": "contains", "value": "Rust"}
    })
}

fn webhook_area() -> Value {
    json!({
        "name": "Hook to sink",
        "action": {"service": "webhook", "id": "received"},
        "reactions": [{"service": "http", "id": "request", "params": {"url": "http://127.0.0.1:9/sink", "body": "{{ temp }}"}}],
        "allow_private_network": true
    })
}

fn timer_area() -> Value {
    json!({
        "name": "Tick",
        "action": {"service": "timer", "id": "every", "params": {"minutes": 15}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "tick {{ scheduled_for }}"}}]
    })
}

#[test]
fn every_new_command_has_help() {
    let area = Area::new();
    for args in [
        vec!["services", "--help"],
        vec!["about", "--help"],
        vec!["areas", "--help"],
        vec!["areas", "add", "--help"],
        vec!["areas", "list", "--help"],
        vec!["areas", "show", "--help"],
        vec!["areas", "enable", "--help"],
        vec!["areas", "disable", "--help"],
        vec!["areas", "rm", "--help"],
        vec!["areas", "export", "--help"],
        vec!["areas", "edit", "--help"],
    ] {
        area.cmd().args(&args).assert().success().stdout(predicate::str::contains("Usage:"));
    }
}

#[test]
fn services_list_and_detail() {
    let area = Area::new();
    let table = area.stdout(&["services"], "");
    let header = table.lines().next().unwrap();
    for column in ["ID", "NAME", "AUTH", "STATUS"] {
        assert!(header.contains(column), "{header}");
    }
    for id in ["timer", "rss", "webhook", "http", "notify"] {
        assert!(table.lines().any(|l| l.starts_with(id) && l.contains("available")), "{id} missing:\n{table}");
    }
    let all = area.json(&["services"], "");
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids[..5], ["timer", "rss", "webhook", "http", "notify"], "built-ins first, in catalog order");

    let rss = area.stdout(&["services", "rss"], "");
    for needle in ["new_item", "url (URL, required)", "ingredients: title, link, id, published, summary", "60 s"] {
        assert!(rss.contains(needle), "{needle:?} missing:\n{rss}");
    }
    let http = area.stdout(&["services", "http"], "");
    assert!(http.contains("method (one of GET|POST|PUT|PATCH|DELETE, optional, default \"POST\")"), "{http}");
    assert!(http.contains("may use {{ ingredients }}"), "{http}");
    let timer = area.json(&["services", "timer"], "");
    assert_eq!(timer["actions"][0]["id"], "every");
    assert_eq!(timer["actions"][0]["params"][0]["id"], "minutes");
    assert_eq!(timer["actions"][0]["params"][0]["type"], "integer");

    one_line_error(area.run(&["services", "myspace"], ""), "unknown service \"myspace\"");
}

#[test]
fn about_json_needs_no_login() {
    let area = Area::new();
    let before = chrono_now();
    let about: Value = serde_json::from_str(&area.stdout(&["about"], "")).unwrap();
    assert_eq!(about["client"]["host"], "127.0.0.1");
    let now = about["server"]["current_time"].as_i64().unwrap();
    assert!((before - 5..=before + 60).contains(&now), "{now} vs {before}");
    let services = about["server"]["services"].as_array().unwrap();
    let http = services.iter().find(|s| s["name"] == "http").unwrap();
    assert_eq!(http["actions"][0]["name"], "new_json_items");
    assert_eq!(http["reactions"][0]["name"], "request");
    assert!(http["reactions"][0]["description"].as_str().unwrap().len() > 10);
    // --json changes nothing: about.json is JSON already.
    assert_eq!(area.json(&["about"], "")["client"], about["client"]);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn areas_need_a_login() {
    let area = Area::new();
    for args in [
        vec!["areas", "list"],
        vec!["areas", "show", "1"],
        vec!["areas", "enable", "1"],
        vec!["areas", "rm", "1"],
        vec!["areas", "export", "1"],
    ] {
        one_line_error(area.run(&args, ""), "not logged in");
    }
    one_line_error(area.run(&["areas", "add", "--file", "-"], &rss_area().to_string()), "not logged in");
}

#[test]
fn add_list_show_enable_disable_rm() {
    let area = Area::logged_in("ada@example.com");
    area.run(&["areas", "list"], "").success().stdout(predicate::str::contains("no areas yet"));

    let file = area.file("rss.json", &rss_area());
    area.run(&["areas", "add", "--file", &file], "").success().stdout("added area 1: Rust blog\n");
    // A list, from standard input.
    let added = area.json(&["areas", "add", "--file", "-"], &json!([webhook_area(), timer_area()]).to_string());
    let ids: Vec<i64> = added.as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [2, 3]);

    let list = area.stdout(&["areas", "list"], "");
    let line = list.lines().find(|l| l.starts_with("1 ")).unwrap();
    assert!(line.contains("on") && line.contains("Rust blog"), "{line}");
    assert!(line.contains("when New feed item (rss)") && line.contains("then Show a notification (notify)"), "{line}");
    let json_list = area.json(&["areas", "list"], "");
    assert_eq!(json_list.as_array().unwrap().len(), 3);
    assert_eq!(json_list[2]["status"], "on");

    // show: text and JSON; webhook areas have a URL.
    let shown = area.stdout(&["areas", "show", "2"], "");
    assert!(shown.contains("webhook URL: http://127.0.0.1:8787/hooks/"), "{shown}");
    let detail = area.json(&["areas", "show", "2"], "");
    let url = detail["webhook_url"].as_str().unwrap();
    let token = detail["webhook_token"].as_str().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:8787/hooks/{token}"));
    assert_eq!(token.len(), 64);
    assert_eq!(detail["runs"]["total"], 0);
    assert_eq!(detail["spec"]["name"], "Hook to sink");
    // The daemon's actual address, when it wrote one.
    std::fs::write(area.data().join("webhook.addr"), "127.0.0.1:45678\n").unwrap();
    assert_eq!(area.json(&["areas", "show", "2"], "")["webhook_url"], format!("http://127.0.0.1:45678/hooks/{token}"));
    assert_eq!(area.json(&["areas", "show", "1"], "")["webhook_url"], Value::Null);

    area.run(&["areas", "disable", "1"], "").success().stdout("area 1 (Rust blog) is off\n");
    assert_eq!(area.json(&["areas", "show", "1"], "")["status"], "off");
    assert!(area.stdout(&["areas", "list"], "").lines().any(|l| l.starts_with("1 ") && l.contains(" off ")));
    assert_eq!(area.json(&["areas", "enable", "1"], "")["status"], "on");

    area.run(&["areas", "rm", "3"], "").success().stdout(predicate::str::contains("removed area 3"));
    assert_eq!(area.json(&["areas", "list"], "").as_array().unwrap().len(), 2);
    one_line_error(area.run(&["areas", "show", "3"], ""), "no area with id 3");
    one_line_error(area.run(&["areas", "rm", "3"], ""), "no area with id 3");
}

#[test]
fn export_reimports_unchanged_and_edit_updates() {
    let area = Area::logged_in("ada@example.com");
    let file = area.file("rss.json", &rss_area());
    area.run(&["areas", "add", "--file", &file], "").success();
    let exported = area.stdout(&["areas", "export", "1"], "");
    assert_eq!(serde_json::from_str::<Value>(&exported).unwrap(), rss_area());
    area.run(&["areas", "add", "--file", "-"], &exported).success().stdout("added area 2: Rust blog\n");
    assert_eq!(area.stdout(&["areas", "export", "2"], ""), exported);

    let mut edited = rss_area();
    edited["name"] = json!("Rust blog, renamed");
    edited["interval_secs"] = json!(600);
    let file = area.file("edited.json", &edited);
    area.run(&["areas", "edit", "1", "--file", &file], "").success().stdout(predicate::str::contains("updated area 1"));
    assert_eq!(serde_json::from_str::<Value>(&area.stdout(&["areas", "export", "1"], "")).unwrap(), edited);
    assert_eq!(area.json(&["areas", "show", "1"], "")["interval_secs"], 600);

    // Invalid edits change nothing.
    edited["interval_secs"] = json!(5);
    let bad = area.file("bad.json", &edited);
    one_line_error(
        area.run(&["areas", "edit", "1", "--file", &bad], ""),
        "interval_secs: rss.new_item may poll at most every",
    );
    assert_eq!(area.json(&["areas", "show", "1"], "")["interval_secs"], 600);
    let two = area.file("two.json", &json!([rss_area(), timer_area()]));
    one_line_error(area.run(&["areas", "edit", "1", "--file", &two], ""), "one area");
    one_line_error(area.run(&["areas", "edit", "9", "--file", &file], ""), "no area with id 9");
}

#[test]
fn invalid_area_files_are_refused_with_the_field() {
    let area = Area::logged_in("ada@example.com");
    let mut bad_minutes = timer_area();
    bad_minutes["action"]["params"]["minutes"] = json!("five");
    one_line_error(
        area.run(&["areas", "add", "--file", "-"], &bad_minutes.to_string()),
        "action.params.minutes: expected an integer ≥ 1",
    );
    let mut bad_url = webhook_area();
    bad_url["reactions"][0]["params"]["url"] = json!("not a url");
    one_line_error(
        area.run(&["areas", "add", "--file", "-"], &bad_url.to_string()),
        "reactions[0].params.url: not a valid URL",
    );
    let mut bad_template = rss_area();
    bad_template["reactions"][0]["params"]["title"] = json!("{{ author }}");
    one_line_error(area.run(&["areas", "add", "--file", "-"], &bad_template.to_string()), "`author`");
    let mut unknown = rss_area();
    unknown["action"]["service"] = json!("myspace");
    one_line_error(area.run(&["areas", "add", "--file", "-"], &unknown.to_string()), "action.service: unknown service");
    one_line_error(area.run(&["areas", "add", "--file", "-"], "{ nope"), "not valid JSON");
    one_line_error(area.run(&["areas", "add", "--file", "-"], ""), "is empty");
    one_line_error(area.run(&["areas", "add", "--file", "/nonexistent/area.json"], ""), "cannot read the area file");
    // A list is all-or-nothing, and errors name the area's index.
    one_line_error(
        area.run(&["areas", "add", "--file", "-"], &json!([rss_area(), bad_minutes]).to_string()),
        "[1].action.params.minutes",
    );
    assert_eq!(area.json(&["areas", "list"], ""), json!([]));
}

#[test]
fn other_users_areas_are_invisible() {
    let area = Area::logged_in("ada@example.com");
    area.run(&["areas", "add", "--file", "-"], &rss_area().to_string()).success();
    area.run(&["user", "add", "bob@example.com", "--password-stdin"], "battery staple\n").success();
    area.run(&["login", "bob@example.com", "--password-stdin"], "battery staple\n").success();
    assert_eq!(area.json(&["areas", "list"], ""), json!([]));
    one_line_error(area.run(&["areas", "show", "1"], ""), "no area with id 1");
    one_line_error(area.run(&["areas", "export", "1"], ""), "no area with id 1");
    one_line_error(area.run(&["areas", "disable", "1"], ""), "no area with id 1");
    one_line_error(area.run(&["areas", "rm", "1"], ""), "no area with id 1");
    area.run(&["login", "ada@example.com", "--password-stdin"], "correct horse\n").success();
    assert_eq!(area.json(&["areas", "show", "1"], "")["status"], "on");
}

#[test]
fn rerun_refuses_a_run_that_is_not_yours_or_does_not_exist() {
    let t = Area::logged_in("rerun@example.com");
    one_line_error(t.run(&["rerun", "4242"], ""), "no run 4242 among your areas");
}
