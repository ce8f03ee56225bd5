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
    area.run(&["areas", "add", "--enable", "--file", &file], "")
        .success()
        .stdout(predicate::str::starts_with("added area 1: Rust blog (on)\n"));
    // A list, from standard input.
    let added = area.json(
        &["areas", "add", "--enable", "--allow-private-network", "--file", "-"],
        &json!([webhook_area(), timer_area()]).to_string(),
    );
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
    area.run(&["areas", "add", "--enable", "--file", &file], "").success();
    let exported = area.stdout(&["areas", "export", "1"], "");
    assert_eq!(serde_json::from_str::<Value>(&exported).unwrap(), rss_area());
    area.run(&["areas", "add", "--enable", "--file", "-"], &exported)
        .success()
        .stdout(predicate::str::starts_with("added area 2: Rust blog (on)\n"));
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
    area.run(&["areas", "add", "--enable", "--file", "-"], &rss_area().to_string()).success();
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

/// Issue 10 item 2: an area file is untrusted. `areas add --file` creates it switched off and
/// says in plain words where it reads from, which hosts it sends to and which connections it
/// uses; `areas enable` says it again as it switches the area on.
#[test]
fn imported_areas_start_off_and_say_where_they_go() {
    let area = Area::logged_in("ada@example.com");
    let file = area.file("rss.json", &rss_area());
    let out = area.stdout(&["areas", "add", "--file", &file], "");
    assert!(out.starts_with("added area 1: Rust blog (off"), "{out}");
    assert!(
        out.contains("reads “New feed item” from RSS & Atom feeds at https://blog.rust-lang.org/feed.xml"),
        "{out}"
    );
    assert!(out.contains("uses none of your connections"), "{out}");
    assert_eq!(area.json(&["areas", "show", "1"], "")["status"], "off");

    let to_hook = json!({
        "name": "Issues to a hook",
        "action": {"service": "github", "id": "new_issue", "params": {"repo": "octo/hello"}},
        "reactions": [{"service": "http", "id": "request",
                       "params": {"url": "https://hooks.example.com/in/{{ number }}", "body": "{\"t\": \"{{ title }}\"}"}}]
    });
    let added = area.json(&["areas", "add", "--file", "-"], &to_hook.to_string());
    assert_eq!(added[0]["enabled"], false);
    assert_eq!(added[0]["review"]["hosts"], json!(["hooks.example.com"]));
    assert_eq!(added[0]["review"]["connections"], json!(["github"]));
    let out = area.stdout(&["areas", "show", "2"], "");
    assert!(out.contains("at hooks.example.com") && out.contains("uses your GitHub connection"), "{out}");

    // Enabling an area that is off shows what it will do, then switches it on.
    let out = area.stdout(&["areas", "enable", "2"], "");
    assert!(out.contains("hooks.example.com") && out.contains("uses your GitHub connection"), "{out}");
    assert!(out.trim_end().ends_with("area 2 (Issues to a hook) is on"), "{out}");
    assert_eq!(area.json(&["areas", "show", "2"], "")["status"], "on");
}

#[test]
fn enable_flag_switches_imported_areas_on() {
    let area = Area::logged_in("ada@example.com");
    let out = area.stdout(&["areas", "add", "--enable", "--file", "-"], &json!([rss_area(), timer_area()]).to_string());
    assert!(out.contains("added area 1: Rust blog (on)") && out.contains("added area 2: Tick (on)"), "{out}");
    let list = area.json(&["areas", "list"], "");
    assert_eq!((list[0]["status"].as_str(), list[1]["status"].as_str()), (Some("on"), Some("on")));
    // A file can switch its area off, never on.
    let mut off = timer_area();
    off["enabled"] = json!(false);
    assert_eq!(area.json(&["areas", "add", "--enable", "--file", "-"], &off.to_string())[0]["status"], "off");
}

/// An edit from a file is as untrusted as an import: it cannot add private-network access the
/// area did not have without the flag; an area that already had it keeps it.
#[test]
fn an_edit_file_cannot_add_private_network_access_without_the_flag() {
    let area = Area::logged_in("ada@example.com");
    let mut public = webhook_area();
    public.as_object_mut().unwrap().remove("allow_private_network");
    public["reactions"][0]["params"]["url"] = json!("https://example.com/sink");
    area.run(&["areas", "add", "--file", "-"], &public.to_string()).success();
    let file = area.file("edit.json", &webhook_area());
    one_line_error(
        area.run(&["areas", "edit", "1", "--file", &file], ""),
        "allow_private_network: this file asks to reach your own machine",
    );
    assert_ne!(area.json(&["areas", "export", "1"], "")["allow_private_network"], true);
    area.run(&["areas", "edit", "1", "--allow-private-network", "--file", &file], "").success();
    assert_eq!(area.json(&["areas", "export", "1"], "")["allow_private_network"], true);
    // Already granted: editing it again needs no flag.
    area.run(&["areas", "edit", "1", "--file", &file], "").success();
}

#[test]
fn private_network_in_a_file_needs_the_flag() {
    let area = Area::logged_in("ada@example.com");
    // The area's own flag.
    one_line_error(
        area.run(&["areas", "add", "--file", "-"], &webhook_area().to_string()),
        "allow_private_network: this file asks to reach your own machine",
    );
    // An HTTP step's parameter, in a list.
    let mut by_param = webhook_area();
    by_param.as_object_mut().unwrap().remove("allow_private_network");
    by_param["reactions"][0]["params"]["allow_private_network"] = json!(true);
    one_line_error(
        area.run(&["areas", "add", "--file", "-"], &json!([timer_area(), by_param]).to_string()),
        "[1].reactions[0].params.allow_private_network",
    );
    assert_eq!(area.json(&["areas", "list"], ""), json!([]), "nothing added");

    let added = area.json(&["areas", "add", "--allow-private-network", "--file", "-"], &webhook_area().to_string());
    assert_eq!(added[0]["review"]["private_network"], true);
    assert_eq!(added[0]["enabled"], false);
    assert_eq!(area.json(&["areas", "export", "1"], "")["allow_private_network"], true);
    let out = area.stdout(&["areas", "add", "--allow-private-network", "--file", "-"], &by_param.to_string());
    assert!(out.contains("asks to reach your own machine and local network"), "{out}");
}

/// Secret parameters never leave sealed: `export` and `show` print placeholders, importing an
/// export asks for each secret (here on standard input, one per line), and the database holds
/// none of them in clear.
#[test]
fn secret_parameters_are_asked_for_on_import_and_never_printed() {
    let area = Area::logged_in("ada@example.com");
    let hook = json!({
        "name": "Hook to Discord",
        "action": {"service": "webhook", "id": "received"},
        "reactions": [{"service": "discord", "id": "send_webhook",
                       "params": {"webhook_url": "https://discord.com/api/webhooks/1/CANARYTOKEN1", "content": "hi"}},
                      {"service": "http", "id": "request",
                       "params": {"url": "https://example.com/in", "headers": {"X-Key": "CANARYHEADER1"}}}]
    });
    let file = area.file("hook.json", &hook);
    area.run(&["areas", "add", "--file", &file], "").success();
    let exported = area.stdout(&["areas", "export", "1"], "");
    let shown = area.stdout(&["areas", "show", "1"], "");
    for text in [&exported, &shown] {
        assert!(text.contains("<secret: webhook_url>") && text.contains("<secret: headers.X-Key>"), "{text}");
        assert!(!text.contains("CANARY"), "{text}");
    }

    // Without a terminal and without --secrets-stdin, the import says what it needs.
    let again = area.file("exported.json", &serde_json::from_str::<Value>(&exported).unwrap());
    one_line_error(area.run(&["areas", "add", "--file", &again], ""), "--secrets-stdin");
    one_line_error(
        area.run(&["areas", "add", "--file", "-", "--secrets-stdin"], &exported),
        "--secrets-stdin cannot be used with --file -",
    );
    one_line_error(
        area.run(
            &["areas", "add", "--file", &again, "--secrets-stdin"],
            "https://discord.com/api/webhooks/2/CANARYTOKEN2\n",
        ),
        "reactions[1].params.headers.X-Key",
    );
    let out = area.stdout(
        &["areas", "add", "--file", &again, "--secrets-stdin"],
        "https://discord.com/api/webhooks/2/CANARYTOKEN2\nCANARYHEADER2\n",
    );
    assert!(out.starts_with("added area 2: Hook to Discord (off"), "{out}");
    assert!(!out.contains("CANARY"), "{out}");
    assert_eq!(area.stdout(&["areas", "export", "2"], ""), exported);
    // An edit from the export keeps the stored secrets.
    area.run(&["areas", "edit", "2", "--file", &again], "").success();

    for name in ["area.db", "area.db-wal"] {
        let bytes = std::fs::read(area.data().join(name)).unwrap_or_default();
        assert!(!bytes.windows(6).any(|w| w == b"CANARY"), "a secret in clear in {name}");
    }
}
