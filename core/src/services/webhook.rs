//! `webhook`: an HTTP request is received by the daemon.
//!
//! A pushed action: the daemon's listener (not this module) receives the request and calls
//! [`event_from_body`] to turn its body into ingredients; the engine records the event. Bodies
//! are JSON objects or HTML-form encoded; the body's top-level fields become the ingredients,
//! so the manifest declares `dynamic_ingredients`.
//!
//! Decisions:
//! - JSON: `application/json` and any `application/<x>+json` are accepted; the body must be an
//!   object (a bare array or string has no field names to template with). Values keep their JSON
//!   type so conditions can compare numbers.
//! - Forms: `application/x-www-form-urlencoded`; a key given once is a string, a key repeated
//!   (`tag=a&tag=b`) becomes an array of strings, in order.
//! - The size cap is checked before anything is parsed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "webhook";

/// The `webhook` service: manifest plus its pushed `received` action.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("received", ActionKind::Pushed(Arc::new(Received) as Arc<dyn PushedAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Webhook",
        description: "Trigger an area from anything that can send an HTTP request: scripts, home automation, other apps.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "received",
            name: "Webhook received",
            description: "Fires when a JSON object or HTML form is POSTed to the area's webhook address. \
                          Every top-level field of the body becomes an ingredient: POST {\"temp\": 21} and use {{ temp }}.",
            params: vec![],
            ingredients: vec![],
            dynamic_ingredients: true,
            min_interval_secs: None,
        }],
        reactions: vec![],
    }
}

/// Why a webhook body was refused; [`WebhookBodyError::http_status`] gives the listener its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookBodyError {
    /// Missing or unsupported `Content-Type` (→ 415).
    #[error("unsupported content type {0}: send application/json or application/x-www-form-urlencoded")]
    UnsupportedContentType(String),
    /// The body is larger than the listener's limit (→ 413).
    #[error("body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// The body does not parse as its content type says (→ 400).
    #[error("malformed body: {0}")]
    Malformed(String),
    /// Valid JSON, but not an object, so it has no fields to use as ingredients (→ 400).
    #[error("the JSON body must be an object with named fields, not {0}")]
    NotAnObject(&'static str),
}

impl WebhookBodyError {
    /// The HTTP status the listener should answer with: 415, 413 or 400.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookBodyError::UnsupportedContentType(_) => 415,
            WebhookBodyError::TooLarge { .. } => 413,
            WebhookBodyError::Malformed(_) | WebhookBodyError::NotAnObject(_) => 400,
        }
    }
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(content_type: Option<&str>) -> Result<BodyKind, WebhookBodyError> {
    let raw = content_type
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WebhookBodyError::UnsupportedContentType("(none)".into()))?;
    let essence = raw.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(BodyKind::Json),
        _ => Err(WebhookBodyError::UnsupportedContentType(format!("{raw:?}"))),
    }
}

/// `received`: the body's top-level fields ([`event_from_body`]).
struct Received;

impl PushedAction for Received {
    fn event_from_body(
        &self,
        content_type: Option<&str>,
        body: &[u8],
        max_bytes: usize,
    ) -> Result<Ingredients, PushRejected> {
        event_from_body(content_type, body, max_bytes)
            .map_err(|e| PushRejected { status: e.http_status(), message: e.to_string() })
    }
}

/// Turns a received webhook body into ingredients (its top-level fields). Pure, so the daemon's
/// listener and tests share it; the error says which HTTP status to answer.
pub fn event_from_body(
    content_type: Option<&str>,
    body: &[u8],
    max_bytes: usize,
) -> Result<Ingredients, WebhookBodyError> {
    if body.len() > max_bytes {
        return Err(WebhookBodyError::TooLarge { size: body.len(), limit: max_bytes });
    }
    match body_kind(content_type)? {
        BodyKind::Json => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| WebhookBodyError::Malformed(format!("invalid JSON: {e}")))?;
            match value {
                Value::Object(map) => Ok(map.into_iter().collect()),
                Value::Array(_) => Err(WebhookBodyError::NotAnObject("an array")),
                Value::String(_) => Err(WebhookBodyError::NotAnObject("a string")),
                Value::Number(_) => Err(WebhookBodyError::NotAnObject("a number")),
                Value::Bool(_) => Err(WebhookBodyError::NotAnObject("a boolean")),
                Value::Null => Err(WebhookBodyError::NotAnObject("null")),
            }
        }
        BodyKind::Form => {
            if std::str::from_utf8(body).is_err() {
                return Err(WebhookBodyError::Malformed("form body is not UTF-8".into()));
            }
            let mut out = Ingredients::new();
            for (key, value) in url::form_urlencoded::parse(body) {
                let value = Value::String(value.into_owned());
                match out.get_mut(key.as_ref()) {
                    None => {
                        out.insert(key.into_owned(), value);
                    }
                    Some(Value::Array(items)) => items.push(value),
                    Some(existing) => {
                        let first = existing.take();
                        *existing = Value::Array(vec![first, value]);
                    }
                }
            }
            Ok(out)
        }
    }
}

/// A dedupe key the engine may use for a pushed event: the body's top-level `id` field (string
/// or number), so a sender retrying the same delivery does not fire the area twice. `None` when
/// there is no usable `id`; the engine then picks its own key (e.g. a delivery id or a hash).
pub fn suggested_key(ingredients: &Ingredients) -> Option<String> {
    match ingredients.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
