//! `postman`: watch a Postman monitor for failed runs; start a monitor run.
//!
//! Endpoints (Postman API, learning.postman.com/api-docs → Monitors):
//! - `monitor_run_failed` polls `GET /monitors/{monitorId}` →
//!   `{"monitor": {"id", "uid", "name", …, "lastRun": {"status", "startedAt", "finishedAt",
//!   "stats": {"assertions": {"total", "failed"}, "requests": {"total", "failed"}}}}}`.
//! - `run_monitor` sends `POST /monitors/{monitorId}/run?async=true` → `{"run": {"info":
//!   {"jobId", "monitorId", "name", "status", "startedAt", "finishedAt"}, …}}`.
//!
//! Decisions:
//! - Auth: a personal Postman API key (`PMAK-…`), sent as `X-Api-Key`; no OAuth exists for
//!   third parties. Base URL `https://api.getpostman.com` (EU data residency teams use
//!   `https://api.eu.postman.com` through `AREA_POSTMAN_BASE_URL`), read at call time.
//! - The Monitors API is current (not deprecated), so the service is `Available`. Postman's
//!   monthly Postman API calls depend on the plan: connecting reads the plan's figure from the
//!   `X-RateLimit-Limit-Month` header of `GET /me`, and the quota planner holds the areas to it
//!   (a conservative [`DEFAULT_MONTHLY_CALLS`] when the header is missing), so a 5-minute monitor
//!   area (8,640 calls a month) is refused on a plan that cannot pay for it.
//! - `monitor_run_failed` fires when the monitor's `lastRun.status` is `failed` or `error`. Key =
//!   `<monitor id>@<finishedAt>` (`startedAt` when `finishedAt` is missing): a run is one event,
//!   and the next failed run (a new finish time) fires again. A monitor whose last run succeeded
//!   yields no event; the engine's baseline keeps an already-failed last run from firing when
//!   the area is created. `failed_count` = failed assertions + failed requests.
//! - `url` links to the monitor in the Postman web app (`https://go.postman.co/monitors/<uid>`).
//! - `run_monitor` uses `async=true`: Postman's synchronous run can take up to 300 s (then
//!   answers 202), longer than the shared client's timeout. It is not idempotent (no
//!   idempotency key; a repeat starts a second run), so an interrupted run is `unknown outcome`.
//! - Errors: 401 → [`ConnectorError::AuthExpired`]; 403/404 → a permanent status naming the
//!   monitor; 429 → retryable, waiting for `Retry-After` or Postman's `RetryAfter` header
//!   (seconds, or a Unix time); Postman's `{"error": …}` body inside a 2xx → an error, never an
//!   event (an `AuthenticationError` in it → reconnect).
//! - Connecting checks the API key with `GET /me` (a 401 refuses it; `user.username` names the
//!   connection).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "postman";
/// The real API, used unless `AREA_POSTMAN_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.getpostman.com";
/// Where a monitor is shown in the Postman web app (followed by its uid).
pub const MONITOR_WEB_URL: &str = "https://go.postman.co/monitors/";

/// The `postman` service: one polled action and one reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "monitor_run_failed",
        ActionKind::Polled(Arc::new(MonitorRunFailed { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert("run_monitor", Arc::new(RunMonitor { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
        .with_account_check(
            WhoAmI::new(ID, format!("{base}/me"), headers, "/user/username")
                .with_plan_limit_headers(PLAN_LIMIT_HEADERS),
        )
        .with_quota(Quota {
            // Until connecting reads the account's own plan, the most restrictive allowance.
            limit: DEFAULT_MONTHLY_CALLS,
            window: QuotaWindow::Month,
            counted_per: "for this Postman account's plan",
            costs: vec![("monitor_run_failed", 1)],
        })
}

/// Postman API calls a month assumed when the account's plan is not known (a conservative
/// figure: paid plans allow far more, and connecting reads the real one).
pub const DEFAULT_MONTHLY_CALLS: u64 = 1_000;

/// Where every Postman API answer states the plan's monthly Postman API calls
/// (learning.postman.com, "Track Postman API call limits").
const PLAN_LIMIT_HEADERS: &[&str] = &["x-ratelimit-limit-month", "ratelimit-limit-month"];

fn monitor_param(templated: bool) -> ParamSpec {
    let spec = ParamSpec::new(
        "monitor_id",
        "Monitor ID",
        "The monitor's ID, e.g. 1e6b6cc1-c760-48e0-968f-4bfaeeae9af1: open the monitor in Postman and copy the ID \
         from its Info tab (ⓘ), or list your monitors with GET https://api.getpostman.com/monitors.",
        ParamType::String,
    );
    if templated {
        spec.templated()
    } else {
        spec
    }
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Postman",
        description: "Know when a Postman monitor's run fails, and start monitor runs. Connect with a Postman API key \
                      (postman.com → your avatar → Settings → API keys).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["api.getpostman.com"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "monitor_run_failed",
            name: "Monitor run failed",
            description: "Fires when a monitor's latest run ends failed (a test or request failed) or with an error.",
            params: vec![monitor_param(false)],
            ingredients: vec![
                ingredient("monitor", "The monitor's name.", "Checkout API health"),
                ingredient("status", "How the run ended: failed or error.", "failed"),
                ingredient("finished_at", "When the run finished (ISO 8601).", "2026-11-28T10:30:12.000Z"),
                ingredient("failed_count", "Failed tests plus failed requests in that run.", "3"),
                ingredient(
                    "url",
                    "Link to the monitor in Postman.",
                    "https://go.postman.co/monitors/12345678-1e6b6cc1-c760-48e0-968f-4bfaeeae9af1",
                ),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(300),
        }],
        reactions: vec![ReactionManifest {
            id: "run_monitor",
            name: "Run a monitor",
            description: "Starts a run of a monitor now (its results arrive in Postman as usual).",
            params: vec![monitor_param(true)],
        }],
    }
}

/// Checks a monitor id (letters, digits and `-`: Postman ids and uids), so it never needs
/// escaping in a path.
pub fn monitor_id(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "monitor_id")?;
    let ok = raw.len() <= 100 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(bad_param(
            "monitor_id",
            format!("expected a monitor ID such as 1e6b6cc1-c760-48e0-968f-4bfaeeae9af1, got {raw:?}"),
        ))
    }
}

fn headers(credential: &Credential) -> Vec<(String, String)> {
    vec![("X-Api-Key".into(), credential.secret().trim().to_string()), ("Accept".into(), "application/json".into())]
}

/// Postman's error body: `{"error": {"name", "message"}}` or `{"error": "rateLimited",
/// "message": …}`. Returns (name, message).
fn error_body(root: &Value) -> Option<(String, String)> {
    let error = root.get("error").filter(|e| !e.is_null())?;
    let (name, message) = match error {
        Value::Object(m) => (
            m.get("name").and_then(Value::as_str).unwrap_or(""),
            m.get("message").and_then(Value::as_str).or_else(|| root.get("message").and_then(Value::as_str)),
        ),
        Value::String(s) => (s.as_str(), root.get("message").and_then(Value::as_str)),
        _ => ("", None),
    };
    Some((name.to_string(), truncate_chars(message.unwrap_or(name), 200)))
}

/// The wait Postman asks for on a 429: `Retry-After`, else its own `RetryAfter` header, in
/// seconds or as a Unix time; capped at [`MAX_RETRY_AFTER`].
fn postman_retry_after(response: &HttpResponseData, now: SystemTime) -> Option<Duration> {
    if let Some(d) = crate::net::retry_after(response, now) {
        return Some(d);
    }
    let raw: u64 = response.header("retryafter")?.trim().parse().ok()?;
    let now_secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let secs = if raw > 1_000_000_000 { raw.saturating_sub(now_secs) } else { raw };
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// Classifies a non-2xx Postman answer about `resource` (e.g. "monitor abc"): 401 → reconnect,
/// 429 → retryable with the announced wait, 403/404 → permanent naming the resource.
pub fn error_for(response: &HttpResponseData, resource: &str) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What Postman's error statuses mean.
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: error_message,
    detail: Detail::Says("Postman"),
    rules: &[
        (401, Outcome::Reconnect, Retry::No),
        (429, Outcome::Status(429, "rate limited or monthly API quota used up{detail}"), Retry::With(retry_now)),
        (404, Outcome::Status(404, "{resource} not found or not visible to this API key{detail}"), Retry::No),
        (403, Outcome::Status(403, "access to {resource} forbidden for this API key{detail}"), Retry::No),
    ],
    otherwise: None,
};

/// The error body's message, if it is Postman's error object.
fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| error_body(&v)).map(|(_, m)| m)
}

/// [`postman_retry_after`] as of now.
fn retry_now(response: &HttpResponseData) -> Option<Duration> {
    postman_retry_after(response, SystemTime::now())
}

/// Parses a 2xx body, turning Postman's error object into an error.
fn parse_ok(body: &[u8]) -> Result<Value, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    if let Some((name, message)) = error_body(&root) {
        if name == "AuthenticationError" {
            return Err(ConnectorError::AuthExpired { service: ID.into() });
        }
        return Err(bad_response(ID, format!("Postman returned an error: {message}")));
    }
    Ok(root)
}

fn text_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).map(str::trim).unwrap_or("")
}

fn count_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))).unwrap_or(0)
}

/// Reads a `GET /monitors/{id}` answer (pure, for tests): one event when the last run failed.
pub fn read_monitor(body: &[u8]) -> Result<Vec<Event>, ConnectorError> {
    let root = parse_ok(body)?;
    let monitor =
        root.get("monitor").filter(|m| m.is_object()).ok_or_else(|| bad_response(ID, "no `monitor` object"))?;
    let Some(run) = monitor.get("lastRun").filter(|r| r.is_object()) else {
        return Ok(Vec::new()); // never run yet
    };
    let status = text_at(run, "/status").to_ascii_lowercase();
    if status != "failed" && status != "error" {
        return Ok(Vec::new());
    }
    let finished = text_at(run, "/finishedAt");
    let when = if finished.is_empty() { text_at(run, "/startedAt") } else { finished };
    if when.is_empty() {
        tracing::warn!(service = ID, "a failed run without start or finish time is skipped");
        return Ok(Vec::new());
    }
    let id = text_at(monitor, "/id");
    let uid = text_at(monitor, "/uid");
    let link_id = if uid.is_empty() { id } else { uid };
    let failed = count_at(run, "/stats/assertions/failed") + count_at(run, "/stats/requests/failed");
    let mut ing = Ingredients::new();
    ing.insert("monitor".into(), json!(text_at(monitor, "/name")));
    ing.insert("status".into(), json!(status));
    ing.insert("finished_at".into(), json!(finished));
    ing.insert("failed_count".into(), json!(failed));
    ing.insert(
        "url".into(),
        json!(if link_id.is_empty() { String::new() } else { format!("{MONITOR_WEB_URL}{link_id}") }),
    );
    Ok(vec![Event { key: format!("{id}@{when}"), ingredients: ing }])
}

/// `monitor_run_failed`: the monitor with its last run.
struct MonitorRunFailed {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for MonitorRunFailed {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let id = monitor_id(ctx.params)?;
        let credential = ctx.require_credential(ID)?;
        let mut req = HttpRequestSpec::get(format!("{}/monitors/{id}", self.base));
        req.headers = headers(credential);
        Ok(req)
    }

    fn read(&self, _ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_monitor(&response.body)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        let id = req_str(ctx.params, "monitor_id").unwrap_or("?");
        error_for(response, &format!("monitor {id}"))
    }
}

/// `run_monitor`: POST /monitors/{id}/run?async=true.
struct RunMonitor {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for RunMonitor {
    /// Postman has no idempotency key: a repeat starts a second run.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let id = monitor_id(params)?;
        let credential = ctx.credential.ok_or_else(|| ConnectorError::AuthExpired { service: ID.into() })?;
        let spec = HttpRequestSpec {
            method: "POST".into(),
            url: format!("{}/monitors/{id}/run?async=true", self.base),
            headers: headers(credential),
            body: None,
        };
        let opts = RequestOptions { allow_private_network: ctx.allow_private_network, ..Default::default() };
        let response = ctx.http.send(&spec, &opts).await?;
        if !(200..300).contains(&response.status) {
            return Err(error_for(&response, &format!("monitor {id}")));
        }
        let root = parse_ok(&response.body)?;
        let info = root.pointer("/run/info").ok_or_else(|| bad_response(ID, "no `run.info` in the answer"))?;
        let name = text_at(info, "/name");
        let status = text_at(info, "/status");
        let shown = if name.is_empty() { id.as_str() } else { name };
        Ok(ReactionOutput {
            summary: if status.is_empty() {
                format!("started monitor {shown}")
            } else {
                format!("started monitor {shown} ({status})")
            },
        })
    }
}
