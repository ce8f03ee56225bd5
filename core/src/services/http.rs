//! `http`: generic HTTP — poll any JSON API for new items, or send any request.
//!
//! Decisions:
//! - `new_json_items` is a polled action. `items_path` is a dot path (`data.items`, numeric
//!   segments index arrays: `results.0.hits`); empty means the body itself is the array.
//!   `id_field` is a dot path inside each item. Each item's top-level scalar fields become
//!   ingredients with their JSON type kept (numbers stay numbers for conditions, `null` stays
//!   null), nested objects and arrays become compact JSON strings, and `id` is always the item's
//!   key as a string. An item without a usable id (missing, null, empty, object or array) is
//!   skipped with a warning; if no item has one, the read fails naming the first index, because
//!   the area is surely misconfigured. Duplicate ids within one response keep the first item.
//! - The polled request carries the user's `headers`; an `Accept: application/json` is added
//!   unless one is given. The request spec cannot say "this area allows private targets", so
//!   the engine reads the `allow_private_network` parameter with [`wants_private_network`].
//! - The `request` reaction sends `Idempotency-Key: <run key>` (unless the user set one) and is
//!   therefore declared idempotent; a body that parses as JSON gets
//!   `Content-Type: application/json`, any other body `text/plain; charset=utf-8`, unless the
//!   user gave a content type. Non-2xx answers become [`ConnectorError::Status`] (see
//!   [`super::status_error`]).
//! - Header names must be HTTP tokens and values must not contain line breaks (no header
//!   injection through templated values); templated header values have their line breaks
//!   turned into spaces when rendered (see [`crate::template`], "Contexts").
//! - The reaction's `url` is rendered as a URL (values percent-encoded under a literal
//!   address) and its `body` as a JSON body when its literal text is JSON (values escaped as
//!   string content, the result checked to parse): ingredients are data, never syntax.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "http";

/// Methods the `request` reaction offers.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The `http` service: manifest, the polled `new_json_items` action and the `request` reaction.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("new_json_items", ActionKind::Polled(Arc::new(NewJsonItems) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("request", Arc::new(Request) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn allow_private_param() -> ParamSpec {
    ParamSpec::new(
        "allow_private_network",
        "Allow private network",
        "Allow this URL to point at your own machine or local network (127.0.0.1, 192.168.x.x, home-lab \
         servers). Off by default so a URL cannot be used to probe your network.",
        ParamType::Boolean,
    )
    .optional(Some(json!(false)))
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "HTTP",
        description: "Talk to any web API: watch a JSON endpoint for new items, or send a request when something happens.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_json_items",
            name: "New item in a JSON list",
            description: "Polls a URL returning JSON and fires for each new element of a list in it, identified by an id field.",
            params: vec![
                ParamSpec::new("url", "URL", "The JSON endpoint to poll with GET.", ParamType::Url),
                ParamSpec::new(
                    "items_path",
                    "Path to the list",
                    "Where the list is in the response, as a dot path such as `data.items`; leave empty when the \
                     response itself is the list.",
                    ParamType::String,
                )
                .optional(Some(json!(""))),
                ParamSpec::new(
                    "id_field",
                    "Id field",
                    "The field that identifies an item, as a dot path inside it (`id`, `meta.uuid`). An item fires once per id.",
                    ParamType::String,
                ),
                ParamSpec::new(
                    "headers",
                    "Headers",
                    "Extra request headers, e.g. {\"Authorization\": \"Bearer …\"}. Kept sealed like a password.",
                    ParamType::StringMap,
                )
                .optional(None)
                .secret(),
                allow_private_param(),
            ],
            ingredients: vec![IngredientSpec {
                id: "id",
                description: "The item's id field, as text. Every other top-level field of the item is an ingredient too \
                              (nested values as JSON text).",
                example: "42",
            }],
            dynamic_ingredients: true,
            // The user's own API: shared polling and per-host 429 handling protect it, so the
            // floor is only "not a busy loop".
            min_interval_secs: Some(1),
        }],
        reactions: vec![ReactionManifest {
            id: "request",
            name: "Send an HTTP request",
            description: "Sends a request to any URL, with an Idempotency-Key header so the receiver can ignore repeats.",
            params: vec![
                ParamSpec::new(
                    "method",
                    "Method",
                    "HTTP method.",
                    ParamType::Enum { choices: METHODS.iter().map(|m| m.to_string()).collect() },
                )
                .optional(Some(json!("POST"))),
                ParamSpec::new(
                    "url",
                    "URL",
                    "Where to send the request. Ingredients may follow a written-out address, e.g. \
                     https://api.example.com/items/{{ id }}: each value becomes one path segment or query value.",
                    ParamType::Url,
                )
                .templated(),
                ParamSpec::new(
                    "headers",
                    "Headers",
                    "Extra request headers; values may use ingredients. Content-Type defaults to application/json \
                     when the body is JSON. Kept sealed like a password (exported as placeholders).",
                    ParamType::StringMap,
                )
                .optional(None)
                .templated()
                .secret(),
                ParamSpec::new(
                    "body",
                    "Body",
                    "Request body; may use ingredients. In a JSON body, put each placeholder inside a string, \
                     e.g. {\"text\": \"{{ title }}\"}: values are escaped as JSON text, never read as JSON. \
                     Leave empty for none.",
                    ParamType::String,
                )
                .optional(None)
                .templated_json_body(),
                allow_private_param(),
            ],
        }],
    }
}

/// Whether the area's `allow_private_network` parameter lets this request reach loopback or
/// private addresses (the engine needs it for polled requests; a malformed value means no).
pub fn wants_private_network(params: &Params) -> bool {
    opt_bool(params, "allow_private_network").ok().flatten().unwrap_or(false)
}

/// Reads the optional `headers` parameter (an object of strings, or a JSON text of one) and
/// checks names and values.
fn headers_param(params: &Params) -> Result<Vec<(String, String)>, ConnectorError> {
    let parsed;
    let map = match params.get("headers") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<serde_json::Map<String, Value>>(s)
                .map_err(|e| bad_param("headers", format!("must be a JSON object of strings ({e})")))?;
            &parsed
        }
        Some(other) => return Err(bad_param("headers", format!("must be an object of strings, got {other}"))),
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => return Err(bad_param("headers", format!("header {name:?} must have a text value"))),
        };
        let name = name.trim();
        let token_ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token_ok {
            return Err(bad_param("headers", format!("{name:?} is not a valid header name")));
        }
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(bad_param("headers", format!("the value of {name:?} contains a line break")));
        }
        out.push((name.to_string(), value));
    }
    Ok(out)
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// `new_json_items`: GET a JSON document, one event per element of the list at `items_path`.
struct NewJsonItems;

impl PolledAction for NewJsonItems {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let url = http_url_param(ctx.params, "url")?;
        let mut req = HttpRequestSpec::get(url.as_str());
        req.headers = headers_param(ctx.params)?;
        if !has_header(&req.headers, "accept") {
            req.headers.push(("Accept".into(), "application/json".into()));
        }
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let items_path = opt_str(ctx.params, "items_path").unwrap_or("");
        let id_field = opt_str(ctx.params, "id_field").ok_or_else(|| bad_param("id_field", "is required"))?;
        let events = read_json_items(&response.body, items_path, id_field)?;
        Ok(PollOutput { events, cursor: None })
    }

    fn wants_private_network(&self, params: &Params) -> bool {
        wants_private_network(params)
    }
}

/// Follows a dot path (`a.b.0.c`) in a JSON value. Segments index objects by key and arrays by
/// number; empty path = the value itself. The error names where the path broke.
pub fn lookup_path<'a>(root: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut current = root;
    let mut walked = String::new();
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let here = if walked.is_empty() { "the response".to_string() } else { format!("`{walked}`") };
        current = match current {
            Value::Object(map) => map.get(segment).ok_or_else(|| format!("{here} has no field `{segment}`"))?,
            Value::Array(items) => {
                let idx: usize =
                    segment.parse().map_err(|_| format!("{here} is an array, so `{segment}` should be an index"))?;
                items.get(idx).ok_or_else(|| format!("{here} has only {} elements, no index {idx}", items.len()))?
            }
            other => return Err(format!("{here} is {}, not an object", json_kind(other))),
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
    }
    Ok(current)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An id value as a key: strings (non-blank), numbers and booleans; anything else is unusable.
fn id_to_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a JSON body into one event per list item (pure: used by `read` and by tests on saved
/// responses). See the module doc for the rules.
pub fn read_json_items(body: &[u8], items_path: &str, id_field: &str) -> Result<Vec<Event>, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    let shown_path = if items_path.trim().is_empty() { "the response" } else { items_path.trim() };
    let list = lookup_path(&root, items_path.trim())
        .map_err(|m| bad_response(ID, format!("items_path `{shown_path}`: {m}")))?;
    let items = match list {
        Value::Array(items) => items,
        other => {
            return Err(bad_response(
                ID,
                format!("items_path `{shown_path}` is {}, expected an array", json_kind(other)),
            ))
        }
    };

    let mut events = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let mut first_missing = None;
    for (index, item) in items.iter().enumerate() {
        let key = lookup_path(item, id_field).ok().and_then(id_to_key);
        let Some(key) = key else {
            tracing::warn!(service = ID, index, id_field, "skipping a JSON item without a usable id");
            first_missing.get_or_insert(index);
            continue;
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        let mut ingredients = Ingredients::new();
        if let Value::Object(map) = item {
            for (k, v) in map {
                let v = match v {
                    Value::Object(_) | Value::Array(_) => Value::String(v.to_string()),
                    scalar => scalar.clone(),
                };
                ingredients.insert(k.clone(), v);
            }
        }
        ingredients.insert("id".into(), Value::String(key.clone()));
        events.push(Event { key, ingredients });
    }
    if events.is_empty() {
        if let Some(index) = first_missing {
            return Err(bad_response(
                ID,
                format!("no item has a usable id field `{id_field}` (item {index} has none); check id_field"),
            ));
        }
    }
    Ok(events)
}

/// `request`: one outbound HTTP call.
struct Request;

/// Builds the `request` reaction's HTTP request from rendered parameters (pure, for tests):
/// validated method, URL and headers, the `Idempotency-Key` and a default content type.
pub fn build_request(params: &Params, idempotency_key: &str) -> Result<HttpRequestSpec, ConnectorError> {
    let method = opt_str(params, "method").unwrap_or("POST").to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(bad_param("method", format!("{method:?} is not one of {}", METHODS.join(", "))));
    }
    let url = http_url_param(params, "url")?;
    let mut headers = headers_param(params)?;
    let body = params.get("body").and_then(Value::as_str).filter(|b| !b.is_empty()).map(str::to_string);
    if let Some(body) = &body {
        if !has_header(&headers, "content-type") {
            // Checked, not built: a body is JSON if it parses, and nothing needs its value.
            let ct = if serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            headers.push(("Content-Type".into(), ct.into()));
        }
    }
    if !has_header(&headers, "idempotency-key") && !idempotency_key.is_empty() {
        headers.push(("Idempotency-Key".into(), idempotency_key.into()));
    }
    Ok(HttpRequestSpec { method, url: url.to_string(), headers, body: body.map(String::into_bytes) })
}

#[async_trait]
impl Reaction for Request {
    /// Repeats carry the same `Idempotency-Key`, so receivers can drop them.
    fn idempotent(&self) -> bool {
        true
    }

    /// Deliveries to a host that answered 429 wait for it.
    fn rate_limit_key(&self, params: &Params) -> Option<String> {
        params.get("url").and_then(Value::as_str).and_then(crate::net::host_key)
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let spec = build_request(params, ctx.idempotency_key)?;
        let allow = ctx.allow_private_network || opt_bool(params, "allow_private_network")?.unwrap_or(false);
        let opts = RequestOptions { allow_private_network: allow, ..Default::default() };
        let response = ctx.http.send(&spec, &opts).await?;
        if (200..300).contains(&response.status) {
            Ok(ReactionOutput { summary: format!("HTTP {}", response.status) })
        } else {
            Err(status_error(ID, &response))
        }
    }
}
