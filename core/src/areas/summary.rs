//! What an area will do with the user's accounts and network, in plain words.
//!
//! Area files are untrusted (ARCHITECTURE.md "Trust rules"): before an imported area runs, both
//! shells show where it reads from, which hosts it sends to, which of the user's connections it
//! uses and whether it asks for private-network access. [`summarize`] computes that once, from the
//! catalog and the area as written, so the CLI and the app say exactly the same thing.
//!
//! Decisions:
//! - Hosts are the *literal* ones: the host of each URL parameter (up to its first placeholder)
//!   and of each `*_host` parameter. A URL whose host is chosen by an ingredient is called out
//!   as such rather than guessed.
//! - A secret parameter (a webhook URL carrying a token, a header) shows its host only, never its
//!   value.
//! - The summary works on an area that has not been validated yet (unknown ids are named as
//!   written), so it can never be the reason an import fails.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::spec::{AreaSpec, StepSpec};
use crate::catalog::{Catalog, ParamSpec, ParamType};

/// Parameter that lets an HTTP step reach loopback and private addresses.
pub const PRIVATE_NETWORK_PARAM: &str = "allow_private_network";

/// One area's reach, in plain words, shown before an imported area is switched on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct TrustSummary {
    /// The area's name, as the file gives it.
    pub name: String,
    /// Where its events come from: "reads “New feed item” from RSS at https://example.com/feed.xml".
    pub reads_from: String,
    /// One line per reaction: "sends “Send an HTTP request” to HTTP at hooks.example.com".
    pub sends_to: Vec<String>,
    /// Every literal host the area contacts (action and reactions), sorted, without repeats.
    pub hosts: Vec<String>,
    /// The user's connections it uses (`github`, `google`), sorted, without repeats.
    pub connections: Vec<String>,
    /// Whether it asks to reach the user's own machine or local network.
    pub private_network: bool,
    /// Everything above as sentences, in order, for a shell to print or show as a list.
    pub lines: Vec<String>,
}

/// The plain-words summary of `spec` against `catalog`; see the module doc.
pub fn summarize(catalog: &Catalog, spec: &AreaSpec) -> TrustSummary {
    let mut hosts = Vec::new();
    let mut connections = Vec::new();

    let action = &spec.action;
    let action_manifest = catalog.action(&action.service, &action.id);
    let (service_name, step_name, params): (&str, &str, &[ParamSpec]) = match action_manifest {
        Some((service, manifest, _)) => (service.name, manifest.name, &manifest.params),
        None => (&action.service, &action.id, &[]),
    };
    let resources = resources(action, params, &mut hosts);
    let mut reads_from = format!("reads “{step_name}” from {service_name}");
    if !resources.is_empty() {
        reads_from.push(' ');
        reads_from.push_str(&resources.join(", "));
    }
    add_connection(catalog, &action.service, &mut connections);

    let mut sends_to = Vec::with_capacity(spec.reactions.len());
    for step in &spec.reactions {
        let (service_name, step_name, params): (&str, &str, &[ParamSpec]) =
            match catalog.reaction(&step.service, &step.id) {
                Some((service, manifest, _)) => (service.name, manifest.name, &manifest.params),
                None => (&step.service, &step.id, &[]),
            };
        let targets = targets(step, params, &mut hosts);
        let mut line = format!("sends “{step_name}” to {service_name}");
        if !targets.is_empty() {
            line.push(' ');
            line.push_str(&targets.join(", "));
        }
        sends_to.push(line);
        add_connection(catalog, &step.service, &mut connections);
    }
    hosts.sort();
    hosts.dedup();
    connections.sort();
    connections.dedup();

    let private_network = !private_network_fields(spec).is_empty();
    let mut lines = vec![reads_from.clone()];
    lines.extend(sends_to.iter().cloned());
    if !hosts.is_empty() {
        lines.push(format!("contacts these hosts: {}", hosts.join(", ")));
    }
    for id in &connections {
        lines.push(format!("uses your {} connection", connection_name(catalog, id)));
    }
    if connections.is_empty() {
        lines.push("uses none of your connections".to_string());
    }
    if private_network {
        lines.push(
            "asks to reach your own machine and local network (allow_private_network): only allow this for \
             a file you trust"
                .to_string(),
        );
    }
    for field in consent_fields(catalog, spec) {
        lines.push(format!(
            "acts on this computer with your rights ({field}: true): only allow this for a file you trust, after \
             reading exactly what it runs"
        ));
    }
    TrustSummary { name: spec.name.clone(), reads_from, sends_to, hosts, connections, private_network, lines }
}

/// The JSON paths where `spec` gives a consent ([`ParamSpec::consent`]: running a program on
/// this computer), which a shared file may not give on the user's behalf.
pub fn consent_fields(catalog: &Catalog, spec: &AreaSpec) -> Vec<String> {
    let given = |step: &StepSpec, params: &[ParamSpec], path: String| -> Vec<String> {
        params
            .iter()
            .filter(|p| p.consent && step.params.get(p.id).is_some_and(|v| v == &Value::Bool(true)))
            .map(|p| format!("{path}.params.{}", p.id))
            .collect()
    };
    let mut fields = match catalog.action(&spec.action.service, &spec.action.id) {
        Some((_, manifest, _)) => given(&spec.action, &manifest.params, "action".into()),
        None => Vec::new(),
    };
    for (i, step) in spec.reactions.iter().enumerate() {
        if let Some((_, manifest, _)) = catalog.reaction(&step.service, &step.id) {
            fields.extend(given(step, &manifest.params, format!("reactions[{i}]")));
        }
    }
    fields
}

/// The JSON paths where `spec` asks for private-network access: the area's own
/// `allow_private_network` and that parameter of any step set to `true`.
pub fn private_network_fields(spec: &AreaSpec) -> Vec<String> {
    let mut fields = Vec::new();
    if spec.allow_private_network {
        fields.push(PRIVATE_NETWORK_PARAM.to_string());
    }
    let asks = |step: &StepSpec| step.params.get(PRIVATE_NETWORK_PARAM).is_some_and(|v| v == &Value::Bool(true));
    if asks(&spec.action) {
        fields.push(format!("action.params.{PRIVATE_NETWORK_PARAM}"));
    }
    for (i, step) in spec.reactions.iter().enumerate() {
        if asks(step) {
            fields.push(format!("reactions[{i}].params.{PRIVATE_NETWORK_PARAM}"));
        }
    }
    fields
}

/// What the action's parameters name: "at <url>" for URLs, "(Label: value)" for other text.
fn resources(step: &StepSpec, specs: &[ParamSpec], hosts: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in &step.params {
        let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let spec = specs.iter().find(|s| s.id == key);
        let label = spec.map(|s| s.label).unwrap_or(key.as_str());
        let secret = spec.is_some_and(|s| s.secret);
        if is_url_param(key, spec) {
            match literal_host(text) {
                Some(host) => {
                    hosts.push(host.clone());
                    out.push(if secret {
                        format!("at {host} (the rest of the URL is secret)")
                    } else {
                        format!("at {text}")
                    });
                }
                None => out.push(format!("at {}", quoted(text))),
            }
        } else if is_host_param(key) {
            hosts.push(text.to_ascii_lowercase());
            out.push(format!("on the server {text}"));
        } else if !secret && matches!(spec.map(|s| &s.kind), Some(ParamType::String) | None) {
            out.push(format!("({label}: {})", quoted(text)));
        }
    }
    out
}

/// Where a reaction's parameters send things: the literal host of each URL and `*_host`.
fn targets(step: &StepSpec, specs: &[ParamSpec], hosts: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in &step.params {
        let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let spec = specs.iter().find(|s| s.id == key);
        if is_url_param(key, spec) {
            match literal_host(text) {
                Some(host) => {
                    out.push(format!("at {host}"));
                    hosts.push(host);
                }
                None => out.push("at a host chosen by the event's data".to_string()),
            }
        } else if is_host_param(key) {
            hosts.push(text.to_ascii_lowercase());
            out.push(format!("through the server {text}"));
        }
    }
    out
}

fn is_url_param(key: &str, spec: Option<&ParamSpec>) -> bool {
    match spec {
        Some(spec) => spec.kind == ParamType::Url,
        None => key == "url" || key.ends_with("_url"),
    }
}

fn is_host_param(key: &str) -> bool {
    key == "host" || key.ends_with("_host")
}

/// The host of a URL's literal start (before any placeholder), or `None` when a placeholder
/// comes first or the text is not an http(s) URL.
fn literal_host(text: &str) -> Option<String> {
    let cut = [text.find("{{"), text.find("{%")].into_iter().flatten().min().unwrap_or(text.len());
    let literal = &text[..cut];
    let rest = literal.strip_prefix("https://").or_else(|| literal.strip_prefix("http://"))?;
    // The authority must end inside the literal part, or an ingredient could extend the host.
    let end = match rest.find(['/', '?', '#']) {
        Some(end) => end,
        None if cut == text.len() => rest.len(),
        None => return None,
    };
    let url = url::Url::parse(&literal[..literal.len() - rest.len() + end]).ok()?;
    let host = url.host_str()?.to_string();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

fn add_connection(catalog: &Catalog, service: &str, out: &mut Vec<String>) {
    if let Some(id) = catalog.service(service).and_then(|s| s.manifest.connection_id()) {
        out.push(id.to_string());
    }
}

/// A connection's name as the user knows it: the service of that id (`GitHub`), or the id
/// capitalised for a provider shared by several services (`Google`).
fn connection_name(catalog: &Catalog, id: &str) -> String {
    if let Some(service) = catalog.service(id) {
        return service.manifest.name.to_string();
    }
    let mut chars = id.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => id.to_string(),
    }
}

/// Text for a sentence, cut to a readable length.
fn quoted(text: &str) -> String {
    let cut = match text.char_indices().nth(80) {
        None => text.to_string(),
        Some((idx, _)) => format!("{}…", &text[..idx]),
    };
    format!("“{cut}”")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts() {
        assert_eq!(literal_host("https://Example.com/feed.xml").as_deref(), Some("example.com"));
        assert_eq!(literal_host("http://127.0.0.1:8080/x/{{ id }}").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(literal_host("https://x.example/?q={{ q }}").as_deref(), Some("x.example"));
        assert_eq!(literal_host("http://127.0.0.1:9{{ path }}"), None);
        assert_eq!(literal_host("{{ url }}"), None);
        assert_eq!(literal_host("https://example.com").as_deref(), Some("example.com"));
        assert_eq!(literal_host("https://evil.example{{ x }}"), None);
    }
}
