//! Security lint of the shipped Tauri config and capabilities (README.md "The desktop app",
//! **Security**): a strict CSP, no global Tauri object, no remote IPC, least-privilege permissions
//! on the `main` window only, the `area://` scheme only, and deb/rpm bundles. The lint functions
//! are tested on bad inputs below, so the lint itself is proven able to fail.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Every permission a capability may grant. Adding one is a deliberate, reviewed edit here:
/// the UI only calls our own commands (allowed without a permission) and listens to events.
const ALLOWED_PERMISSIONS: &[&str] = &["core:event:allow-listen", "core:event:allow-unlisten"];

/// The only window (label) a capability may target.
const MAIN_WINDOW: &str = "main";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The CSP as directive → sources. Tauri accepts a string or an object of directive →
/// string | [string].
fn csp_directives(csp: &Value) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    match csp {
        Value::String(s) => {
            for directive in s.split(';') {
                let mut words = directive.split_whitespace();
                if let Some(name) = words.next() {
                    out.push((name.to_ascii_lowercase(), words.map(str::to_string).collect()));
                }
            }
        }
        Value::Object(map) => {
            for (name, sources) in map {
                let sources = match sources {
                    Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                    Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    other => return Err(format!("CSP directive {name} has an unexpected value {other}")),
                };
                out.push((name.to_ascii_lowercase(), sources));
            }
        }
        Value::Null => return Err("app.security.csp is missing (null): the webview would run without a CSP".into()),
        other => return Err(format!("app.security.csp has an unexpected value {other}")),
    }
    Ok(out)
}

/// Errors in a CSP: none means it is strict enough.
fn lint_csp(csp: &Value) -> Vec<String> {
    let directives = match csp_directives(csp) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    let get = |name: &str| directives.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    for (name, sources) in &directives {
        if sources.iter().any(|s| s.eq_ignore_ascii_case("'unsafe-eval'")) {
            errors.push(format!("CSP {name} allows 'unsafe-eval'"));
        }
    }
    if get("default-src").is_none() {
        errors.push("CSP has no default-src: everything not listed would be allowed".into());
    }
    // Scripts: script-src, or default-src when script-src is absent.
    let (which, scripts) = match (get("script-src"), get("default-src")) {
        (Some(s), _) => ("script-src", s),
        (None, Some(d)) => ("default-src", d),
        (None, None) => {
            errors.push("CSP restricts no scripts (no script-src nor default-src)".into());
            return errors;
        }
    };
    for source in scripts {
        let s = source.to_ascii_lowercase();
        let ok = s == "'self'"
            || s.starts_with("'sha256-")
            || s.starts_with("'sha384-")
            || s.starts_with("'sha512-")
            || s.starts_with("'nonce-");
        if !ok {
            // data:, blob:, *, http(s):, remote hosts, 'unsafe-inline', 'wasm-unsafe-eval', …
            errors.push(format!("CSP {which} allows {source}: only 'self' (and hashes/nonces) may run scripts"));
        }
    }
    if get("object-src").is_none_or(|s| s.as_slice() != ["'none'"]) {
        errors.push("CSP must set object-src 'none'".into());
    }
    errors
}

/// Errors in one capability (from `capabilities/*.json` or inline in tauri.conf.json).
fn lint_capability(name: &str, cap: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if cap.get("remote").is_some() {
        errors.push(format!("{name}: has a `remote` section: remote pages must never reach IPC"));
    }
    match cap.get("windows").and_then(Value::as_array) {
        Some(windows) if !windows.is_empty() => {
            for w in windows {
                if w.as_str() != Some(MAIN_WINDOW) {
                    errors.push(format!("{name}: targets window {w}; only \"{MAIN_WINDOW}\" is allowed"));
                }
            }
        }
        _ => errors.push(format!("{name}: must list its windows (only \"{MAIN_WINDOW}\")")),
    }
    if let Some(webviews) = cap.get("webviews").and_then(Value::as_array) {
        for w in webviews {
            if w.as_str() != Some(MAIN_WINDOW) {
                errors.push(format!("{name}: targets webview {w}; only \"{MAIN_WINDOW}\" is allowed"));
            }
        }
    }
    for permission in cap.get("permissions").and_then(Value::as_array).into_iter().flatten() {
        // A permission is an identifier string or an object with `identifier` (+ scopes).
        let id = permission.as_str().or_else(|| permission.get("identifier").and_then(Value::as_str));
        match id {
            Some(id) if ALLOWED_PERMISSIONS.contains(&id) => {
                if permission.is_object() {
                    errors.push(format!("{name}: {id} must not carry scopes"));
                }
            }
            Some(id) => errors.push(format!("{name}: permission {id} is not in the allowlist {ALLOWED_PERMISSIONS:?}")),
            None => errors.push(format!("{name}: unreadable permission {permission}")),
        }
    }
    errors
}

/// Errors in tauri.conf.json itself (inline capabilities included).
fn lint_config(conf: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let security = &conf["app"]["security"];
    errors.extend(lint_csp(&security["csp"]));
    if conf["app"]["withGlobalTauri"] == json!(true) {
        errors.push("app.withGlobalTauri is true: any script could reach window.__TAURI__".into());
    }
    if security["freezePrototype"] != json!(true) {
        errors.push("app.security.freezePrototype must be true".into());
    }
    if security["dangerousDisableAssetCspModification"] != Value::Null
        && security["dangerousDisableAssetCspModification"] != json!(false)
    {
        errors.push("app.security.dangerousDisableAssetCspModification must stay off".into());
    }
    for (i, cap) in security["capabilities"].as_array().into_iter().flatten().enumerate() {
        if cap.is_object() {
            errors.extend(lint_capability(&format!("inline capability #{i}"), cap));
        }
    }
    for window in conf["app"]["windows"].as_array().into_iter().flatten() {
        if window["label"] != json!(MAIN_WINDOW) {
            errors.push(format!("window {} is not \"{MAIN_WINDOW}\"", window["label"]));
        }
        if let Some(url) = window["url"].as_str() {
            if url.contains("://") {
                errors.push(format!("window loads a remote url {url}"));
            }
        }
    }
    if conf["plugins"]["deep-link"]["desktop"]["schemes"] != json!(["area"]) {
        errors.push(format!(
            "plugins.deep-link.desktop.schemes must be exactly [\"area\"], is {}",
            conf["plugins"]["deep-link"]["desktop"]["schemes"]
        ));
    }
    let targets = conf["bundle"]["targets"].as_array().cloned().unwrap_or_default();
    for wanted in ["deb", "rpm"] {
        if !targets.contains(&json!(wanted)) {
            errors.push(format!("bundle.targets lacks {wanted} (is {})", conf["bundle"]["targets"]));
        }
    }
    errors
}

fn assert_clean(errors: Vec<String>) {
    assert!(errors.is_empty(), "security lint failed:\n  {}", errors.join("\n  "));
}

#[test]
fn shipped_config_is_strict() {
    assert_clean(lint_config(&read_json(&crate_dir().join("tauri.conf.json"))));
}

/// The packaged desktop entry must hand the link to the binary (`%u`) and claim `area://`:
/// tauri-cli's built-in entry has no `%u`, so a link opened from a browser would be lost.
#[test]
fn packaged_desktop_entry_takes_area_links() {
    let conf = read_json(&crate_dir().join("tauri.conf.json"));
    for package in ["deb", "rpm"] {
        let template = conf["bundle"]["linux"][package]["desktopTemplate"].as_str();
        assert_eq!(template, Some("linux/area.desktop"), "{package} must use linux/area.desktop");
    }
    let entry = std::fs::read_to_string(crate_dir().join("linux/area.desktop")).expect("read linux/area.desktop");
    let has = |line: &str| entry.lines().any(|l| l.trim_end() == line);
    assert!(has("Exec={{exec}} %u"), "Exec must pass the link (%u):\n{entry}");
    assert!(has("MimeType=x-scheme-handler/area;"), "the entry must claim area://:\n{entry}");
}

#[test]
fn shipped_capabilities_are_least_privilege() {
    let dir = crate_dir().join("capabilities");
    let mut seen = 0;
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read capabilities/") {
        let path = entry.expect("dir entry").path();
        let name = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                errors.extend(lint_capability(&name, &read_json(&path)));
                seen += 1;
            }
            // Tauri also loads .toml / .json5 capabilities: this lint reads JSON only.
            _ => errors.push(format!("{name}: only .json capabilities are allowed (this lint reads them)")),
        }
    }
    assert!(seen > 0, "no capability file in {}", dir.display());
    assert_clean(errors);
}

// ---- the lint is able to fail ----

const GOOD_CSP: &str = "default-src 'self'; script-src 'self'; object-src 'none'";

#[test]
fn csp_good_passes() {
    assert_clean(lint_csp(&json!(GOOD_CSP)));
    assert_clean(lint_csp(&json!({"default-src": "'self'", "script-src": ["'self'"], "object-src": "'none'"})));
}

#[test]
fn csp_bad_inputs_are_rejected() {
    let bad = [
        json!(null),
        json!("default-src 'self'; script-src 'self' 'unsafe-eval'; object-src 'none'"),
        json!("default-src 'self' 'unsafe-eval'; script-src 'self'; object-src 'none'"),
        json!("default-src 'self'; script-src 'self' data:; object-src 'none'"),
        json!("default-src 'self'; script-src 'self' blob:; object-src 'none'"),
        json!("default-src 'self'; script-src *; object-src 'none'"),
        json!("default-src 'self'; script-src 'self' https://cdn.example.com; object-src 'none'"),
        json!("default-src 'self'; script-src 'self' https:; object-src 'none'"),
        json!("default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'"),
        json!("default-src 'self' data:; object-src 'none'"), // scripts fall back to default-src
        json!("script-src 'self'; object-src 'none'"),        // no default-src
        json!("default-src 'self'; script-src 'self'"),       // no object-src 'none'
        json!({"default-src": "'self'", "script-src": ["'self'", "blob:"], "object-src": "'none'"}),
    ];
    for csp in bad {
        assert!(!lint_csp(&csp).is_empty(), "accepted a bad CSP: {csp}");
    }
}

fn good_config() -> Value {
    json!({
        "app": {"withGlobalTauri": false, "windows": [{"label": "main"}],
                "security": {"csp": GOOD_CSP, "freezePrototype": true}},
        "plugins": {"deep-link": {"desktop": {"schemes": ["area"]}}},
        "bundle": {"targets": ["deb", "rpm"]}
    })
}

/// One way to break a good config: what it breaks, and the edit.
type ConfigEdit = (&'static str, Box<dyn Fn(&mut Value)>);

#[test]
fn config_bad_inputs_are_rejected() {
    assert_clean(lint_config(&good_config()));
    let edits: Vec<ConfigEdit> = vec![
        ("global tauri", Box::new(|c| c["app"]["withGlobalTauri"] = json!(true))),
        ("no freeze", Box::new(|c| c["app"]["security"]["freezePrototype"] = json!(false))),
        ("no csp", Box::new(|c| c["app"]["security"]["csp"] = Value::Null)),
        (
            "csp eval",
            Box::new(|c| c["app"]["security"]["csp"] = json!("default-src 'self' 'unsafe-eval'; object-src 'none'")),
        ),
        ("extra scheme", Box::new(|c| c["plugins"]["deep-link"]["desktop"]["schemes"] = json!(["area", "http"]))),
        ("other scheme", Box::new(|c| c["plugins"]["deep-link"]["desktop"]["schemes"] = json!(["areax"]))),
        ("no rpm", Box::new(|c| c["bundle"]["targets"] = json!(["deb"]))),
        ("all targets", Box::new(|c| c["bundle"]["targets"] = json!("all"))),
        ("second window", Box::new(|c| c["app"]["windows"] = json!([{"label": "main"}, {"label": "popup"}]))),
        (
            "remote window",
            Box::new(|c| c["app"]["windows"] = json!([{"label": "main", "url": "https://evil.example"}])),
        ),
        ("asset csp off", Box::new(|c| c["app"]["security"]["dangerousDisableAssetCspModification"] = json!(true))),
        (
            "inline remote capability",
            Box::new(|c| {
                c["app"]["security"]["capabilities"] =
                    json!([{"identifier": "x", "windows": ["main"], "remote": {"urls": ["https://*"]}}])
            }),
        ),
    ];
    for (what, edit) in edits {
        let mut conf = good_config();
        edit(&mut conf);
        assert!(!lint_config(&conf).is_empty(), "accepted a bad config ({what}): {conf}");
    }
}

#[test]
fn capability_bad_inputs_are_rejected() {
    let good = json!({"identifier": "default", "windows": ["main"], "permissions": ["core:event:allow-listen"]});
    assert_clean(lint_capability("good", &good));
    let bad = [
        json!({"identifier": "r", "windows": ["main"], "remote": {"urls": ["https://example.com"]}, "permissions": []}),
        json!({"identifier": "w", "windows": ["*"], "permissions": []}),
        json!({"identifier": "w2", "windows": ["main", "settings"], "permissions": []}),
        json!({"identifier": "w3", "permissions": []}),
        json!({"identifier": "v", "windows": ["main"], "webviews": ["other"], "permissions": []}),
        json!({"identifier": "fs", "windows": ["main"], "permissions": ["fs:default"]}),
        json!({"identifier": "sh", "windows": ["main"], "permissions": ["shell:allow-execute"]}),
        json!({"identifier": "core", "windows": ["main"], "permissions": ["core:default"]}),
        json!({"identifier": "obj", "windows": ["main"], "permissions": [{"identifier": "fs:allow-read", "allow": [{"path": "$HOME/**"}]}]}),
        json!({"identifier": "scoped", "windows": ["main"], "permissions": [{"identifier": "core:event:allow-listen", "allow": []}]}),
    ];
    for cap in bad {
        assert!(!lint_capability("bad", &cap).is_empty(), "accepted a bad capability: {cap}");
    }
}
