//! No service module imports another service module: what services share lives in
//! `services::kit` or in their provider family's helper module (`services::google`, …), so each
//! service can be read, changed and removed on its own.
//!
//! A service module is a file under `core/src/services` that defines `pub fn service(`; the
//! check reads every such file's `use` lines and inline paths that start at `super` or
//! `crate::services` and fails when one of them names another service module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read services dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module name of a file (`gmail.rs` → `gmail`, `google/mod.rs` → `google`).
fn module_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).expect("file name");
    if stem == "mod" {
        path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).expect("folder").to_string()
    } else {
        stem.to_string()
    }
}

/// The code without `//` comments (doc links may name other services).
fn code(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every other service module that `file` (the service `own`) names through `super` or
/// `crate::services`.
fn named_services(text: &str, own: &str, services: &BTreeSet<String>) -> BTreeSet<String> {
    let uses = Regex::new(r"\buse\s+((?:crate::services|super)(?:::super)*::[^;]*);").expect("regex");
    let paths = Regex::new(r"\b(?:crate::services|super)((?:::[a-z_][a-z0-9_]*)+)::").expect("regex");
    let ident = Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("regex");
    let code = code(text);
    let mut named = BTreeSet::new();
    for cap in uses.captures_iter(&code) {
        named.extend(ident.find_iter(&cap[1]).map(|m| m.as_str().to_string()));
    }
    for cap in paths.captures_iter(&code) {
        named.extend(cap[1].split("::").filter(|s| !s.is_empty()).map(str::to_string));
    }
    named.into_iter().filter(|n| n != own && services.contains(n)).collect()
}

#[test]
fn no_service_imports_another_service() {
    // `SERVICE_BOUNDARIES_DIR` checks another tree (e.g. an older commit's, to see the check fail).
    let root = std::env::var_os("SERVICE_BOUNDARIES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services"));
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let service_files: Vec<(PathBuf, String, String)> = files
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).expect("read service file");
            code(&text).contains("pub fn service(").then(|| (path.clone(), module_name(path), text))
        })
        .collect();
    let services: BTreeSet<String> = service_files.iter().map(|(_, name, _)| name.clone()).collect();
    assert!(services.len() >= 20, "found only {services:?}");
    let mut offences = Vec::new();
    for (path, own, text) in &service_files {
        for other in named_services(text, own, &services) {
            offences.push(format!("{} uses the `{other}` service", path.strip_prefix(&root).unwrap_or(path).display()));
        }
    }
    assert!(
        offences.is_empty(),
        "services importing other services (move what they share to services::kit):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_of_another_service() {
    let services: BTreeSet<String> = ["gmail", "spotify"].iter().map(|s| s.to_string()).collect();
    let found = named_services("use super::gmail::{bearer, send};\nuse super::kit::req_str;", "spotify", &services);
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["gmail"]);
    let found = named_services("let x = crate::services::gmail::ID;", "spotify", &services);
    assert_eq!(found.len(), 1);
    assert!(named_services("// see [`super::gmail::google_error`]\nuse super::*;", "spotify", &services).is_empty());
}
