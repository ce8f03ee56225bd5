//! `ratp`: Paris-region public transport through Île-de-France Mobilités' PRIM platform — RATP's
//! own open API is gone; PRIM is the official real-time source for RATP, SNCF Transilien and
//! the other operators.
//!
//! Endpoints (SIRI Lite, JSON), under `https://prim.iledefrance-mobilites.fr/marketplace`:
//! - `disruption` polls `GET /general-message?LineRef=STIF:Line::C01742:` ("Info trafic") →
//!   `Siri.ServiceDelivery.GeneralMessageDelivery[0].InfoMessage[]`, each with
//!   `InfoMessageIdentifier.value`, `InfoChannelRef.value` (`Perturbation` / `Information` /
//!   `Commercial`), `RecordedAtTime`, `ValidUntilTime` and `Content.{LineRef[], Message[]}`
//!   (`MessageType` `SHORT_MESSAGE` / `LONG_MESSAGE` / `TEXT_ONLY`, `MessageText.value`).
//! - `next_departure` polls `GET /stop-monitoring?MonitoringRef=STIF:StopPoint:Q:473921:`
//!   (optional `&LineRef=…`, "requête unitaire") →
//!   `Siri.ServiceDelivery.StopMonitoringDelivery[0].MonitoredStopVisit[].MonitoredVehicleJourney`
//!   with `LineRef`, `DestinationName[]`, `FramedVehicleJourneyRef.DatedVehicleJourneyRef` and
//!   `MonitoredCall.{AimedDepartureTime, ExpectedDepartureTime, DepartureStatus}`. SIRI Lite wraps
//!   most strings as `{"value": …}` (lists of them for names); both forms are read.
//!
//! Decisions:
//! - Auth: the PRIM token ("Mes jetons d'authentification"), sent in the `apikey` header. Base
//!   URL overridden by `AREA_RATP_BASE_URL` (read at call time).
//! - Lines and stops are the IDFM referential ids; short forms are accepted and normalised:
//!   `C01742`, `line:IDFM:C01742` → `STIF:Line::C01742:`; `473921` → `STIF:StopPoint:Q:473921:`
//!   (a platform), `IDFM:monomodalStopPlace:58879` → `STIF:StopArea:SP:58879:` (a whole stop).
//! - `disruption`: key = `InfoMessageIdentifier` (the disruption's id), so an updated version of
//!   the same message does not fire again. Only `Perturbation` messages fire unless
//!   `include_information` is on. `title` = the short message (else the first line of the long
//!   one), `message` = the long one (else the short one), `severity` = the channel.
//! - `next_departure`: "now" is the delivery's `ResponseTimestamp` (the server's clock; the
//!   local clock when absent), so the read stays a pure function of the response. A departure
//!   fires when it leaves within `minutes` (0 ≤ wait ≤ N min) and is not cancelled. Key =
//!   `DatedVehicleJourneyRef` + the *aimed* departure time (expected when no aimed time): a
//!   departure fires once even when its expected time moves, which it does every poll or so.
//! - Errors: 401 → [`ConnectorError::AuthExpired`]; 403/404 → permanent, naming the line or stop;
//!   429 (PRIM's daily quota: 1,000 Info trafic calls a day for recent tokens) → retryable with
//!   `Retry-After`; a SIRI delivery with `Status: "false"` / `ErrorCondition` inside a 200 → an
//!   error, never an event.
//! - Minimum interval: 120 s for `disruption` (1,000 calls a day is one every 86 s), 60 s for
//!   `next_departure` (real-time data refreshes every 30–60 s; its quota is much larger).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "ratp";
/// The real API, used unless `AREA_RATP_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://prim.iledefrance-mobilites.fr/marketplace";
/// Longest `message` ingredient, in characters.
pub const MESSAGE_MAX_CHARS: usize = 2000;
/// Default look-ahead of `next_departure`, in minutes.
pub const DEFAULT_MINUTES: u64 = 10;

/// The `ratp` service: two polled actions; no reactions (PRIM is read-only).
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions
        .insert("disruption", ActionKind::Polled(Arc::new(Disruption { base: base.clone() }) as Arc<dyn PolledAction>));
    actions.insert(
        "next_departure",
        ActionKind::Polled(Arc::new(NextDeparture { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    Service::new(manifest(), actions, BTreeMap::new()).with_quota(Quota {
        // PRIM's "Messages Info Trafic" (general-message) subscription: 1,000 calls a day per token.
        limit: 1_000,
        window: QuotaWindow::Day,
        counted_per: "per PRIM token",
        costs: vec![("disruption", 1)],
    })
}

const LINE_HELP: &str = "The line's IDFM id, e.g. C01742 (RER A), C01371 (metro 1) or STIF:Line::C01742:. Find it in \
                         the \"Référentiel des lignes\" dataset on data.iledefrance-mobilites.fr (column ID_Line).";

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "RATP (Île-de-France Mobilités)",
        description: "Real-time traffic information and departures for the Paris region (RATP, SNCF Transilien, \
                      buses…) from Île-de-France Mobilités' PRIM platform. Connect with a free PRIM API token \
                      (prim.iledefrance-mobilites.fr → Mon compte → Mes jetons d'authentification).",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["prim.iledefrance-mobilites.fr"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![
            ActionManifest {
                id: "disruption",
                name: "Disruption announced on a line",
                description: "Fires when a new traffic disruption message is published for a line.",
                params: vec![
                    ParamSpec::new("line", "Line", LINE_HELP, ParamType::String),
                    ParamSpec::new(
                        "include_information",
                        "Include information messages",
                        "Also fire for planned-works and information messages, not only disruptions.",
                        ParamType::Boolean,
                    )
                    .optional(Some(json!(false))),
                ],
                ingredients: vec![
                    ingredient("line", "The line's IDFM reference.", "STIF:Line::C01742:"),
                    ingredient("title", "The short message.", "RER A : trafic perturbé"),
                    ingredient(
                        "message",
                        "The full message (cut to 2000 characters).",
                        "En raison d'un incident technique à Nanterre, le trafic est perturbé entre La Défense et \
                         Saint-Germain-en-Laye.",
                    ),
                    ingredient(
                        "severity",
                        "The message channel: Perturbation, Information or Commercial.",
                        "Perturbation",
                    ),
                    ingredient("start", "When the message was published (ISO 8601).", "2026-11-28T07:42:00.000Z"),
                    ingredient("end", "Until when it is valid (ISO 8601; may be empty).", "2026-11-28T11:00:00.000Z"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(120),
            },
            ActionManifest {
                id: "next_departure",
                name: "Next departure at a stop within N minutes",
                description: "Fires once for each departure from a stop that leaves within the chosen number of \
                              minutes (cancelled departures are ignored).",
                params: vec![
                    ParamSpec::new(
                        "stop",
                        "Stop",
                        "The stop's IDFM id: a platform such as 473921 or STIF:StopPoint:Q:473921:, or a whole stop \
                         such as STIF:StopArea:SP:71517:. Find it in the \"Arrêts\" / \"Référentiel des arrêts\" \
                         datasets on data.iledefrance-mobilites.fr.",
                        ParamType::String,
                    ),
                    ParamSpec::new(
                        "line",
                        "Line (optional)",
                        "Only departures of this line, e.g. C01742 (RER A). Leave empty for every line.",
                        ParamType::String,
                    )
                    .optional(None),
                    ParamSpec::new(
                        "minutes",
                        "Within minutes",
                        "Fire when a departure is this many minutes away or less.",
                        ParamType::Integer { min: Some(1), max: Some(120) },
                    )
                    .optional(Some(json!(DEFAULT_MINUTES))),
                ],
                ingredients: vec![
                    ingredient("line", "The line (its published name, else its IDFM reference).", "A"),
                    ingredient("destination", "Where the vehicle is heading.", "Marne-la-Vallée Chessy"),
                    ingredient("expected_at", "Expected departure time (ISO 8601).", "2026-11-28T08:12:00.000Z"),
                    ingredient("minutes", "Minutes left before it leaves.", "4"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(60),
            },
        ],
        reactions: Vec::new(),
    }
}

fn id_code_ok(code: &str) -> bool {
    !code.is_empty() && code.len() <= 40 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// Normalises a line id to its SIRI `LineRef` (`STIF:Line::C01742:`).
pub fn line_ref(raw: &str, param: &str) -> Result<String, ConnectorError> {
    let s = raw.trim();
    let code = if let Some(rest) = s.strip_prefix("STIF:Line::") {
        rest.trim_end_matches(':')
    } else if let Some(rest) = s.strip_prefix("line:IDFM:").or_else(|| s.strip_prefix("IDFM:")) {
        rest
    } else {
        s
    };
    if id_code_ok(code) {
        Ok(format!("STIF:Line::{code}:"))
    } else {
        Err(bad_param(param, format!("expected a line id such as C01742 or STIF:Line::C01742:, got {raw:?}")))
    }
}

/// Normalises a stop id to its SIRI `MonitoringRef`.
pub fn monitoring_ref(raw: &str) -> Result<String, ConnectorError> {
    let s = raw.trim();
    let (kind, code) = if let Some(rest) = s.strip_prefix("STIF:StopPoint:Q:") {
        ("StopPoint:Q", rest.trim_end_matches(':'))
    } else if let Some(rest) = s.strip_prefix("STIF:StopArea:SP:") {
        ("StopArea:SP", rest.trim_end_matches(':'))
    } else if let Some(rest) = s.strip_prefix("IDFM:monomodalStopPlace:") {
        ("StopArea:SP", rest)
    } else if let Some(rest) = s.strip_prefix("stop_point:IDFM:").or_else(|| s.strip_prefix("IDFM:")) {
        ("StopPoint:Q", rest)
    } else {
        ("StopPoint:Q", s)
    };
    if id_code_ok(code) {
        Ok(format!("STIF:{kind}:{code}:"))
    } else {
        Err(bad_param("stop", format!("expected a stop id such as 473921 or STIF:StopPoint:Q:473921:, got {raw:?}")))
    }
}

fn get(
    base: &str,
    ctx: &PollContext<'_>,
    path: &str,
    query: &[(&str, String)],
) -> Result<HttpRequestSpec, ConnectorError> {
    let key = ctx.require_credential(ID)?.secret().trim();
    if key.is_empty() {
        return Err(ConnectorError::AuthExpired { service: ID.into() });
    }
    let mut url = url::Url::parse(&format!("{base}{path}"))
        .map_err(|e| bad_response(ID, format!("the base URL is not valid ({e})")))?;
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![("apikey".into(), key.to_string()), ("Accept".into(), "application/json".into())];
    Ok(req)
}

/// A SIRI Lite string: `"x"`, `{"value": "x"}` or `[{"value": "x"}, …]` (the first).
fn siri_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Object(m)) => siri_text(m.get("value")),
        Some(Value::Array(items)) => {
            items.iter().map(|i| siri_text(Some(i))).find(|s| !s.is_empty()).unwrap_or_default()
        }
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The first delivery of `kind` (`GeneralMessageDelivery`, `StopMonitoringDelivery`) and the
/// service delivery's response time, or the error the body carries.
fn delivery<'a>(root: &'a Value, kind: &str) -> Result<(&'a Value, Option<DateTime<Utc>>), ConnectorError> {
    if let Some(message) = root.get("message").and_then(Value::as_str).filter(|_| root.get("Siri").is_none()) {
        return Err(bad_response(ID, format!("PRIM returned an error: {}", truncate_chars(message, 200))));
    }
    let service = root
        .pointer("/Siri/ServiceDelivery")
        .filter(|v| v.is_object())
        .ok_or_else(|| bad_response(ID, "expected a SIRI answer (`Siri.ServiceDelivery`)"))?;
    let now = service
        .get("ResponseTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let first = match service.get(kind) {
        Some(Value::Array(items)) => items.first(),
        Some(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
    .ok_or_else(|| bad_response(ID, format!("no `{kind}` in the SIRI answer")))?;
    let failed = match first.get("Status") {
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        Some(Value::Bool(b)) => !b,
        _ => false,
    };
    if failed || first.get("ErrorCondition").is_some_and(|e| !e.is_null()) {
        let cond = first.get("ErrorCondition");
        let text = ["/ErrorInformation/ErrorText", "/ErrorInformation/ErrorDescription", "/Description", "/ErrorText"]
            .iter()
            .map(|p| siri_text(cond.and_then(|c| c.pointer(p))))
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "the request was refused".into());
        return Err(bad_response(ID, format!("PRIM refused the request: {}", truncate_chars(&text, 200))));
    }
    Ok((first, now))
}

fn parse_json(body: &[u8]) -> Result<Value, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))
}

/// Classifies a non-2xx PRIM answer about `resource` (e.g. "line STIF:Line::C01742:").
pub fn error_for(response: &HttpResponseData, resource: &str) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What PRIM's error statuses mean.
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: |body| {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(|m| truncate_chars(m, 200)))
    },
    detail: Detail::Says("PRIM"),
    rules: &[
        (401, Outcome::Reconnect, Retry::No),
        (404, Outcome::Status(404, "{resource} not found{detail}"), Retry::No),
        (
            403,
            Outcome::Status(
                403,
                "access to {resource} forbidden: subscribe this token to the API on PRIM or check its rights{detail}",
            ),
            Retry::No,
        ),
        (429, Outcome::Status(429, "PRIM quota reached for {resource}{detail}"), Retry::Header),
    ],
    otherwise: None,
};

/// Reads a general-message answer (pure): disruption events, information messages too when
/// `include_information`.
pub fn read_general_messages(body: &[u8], include_information: bool) -> Result<Vec<Event>, ConnectorError> {
    let root = parse_json(body)?;
    let (delivery, _) = delivery(&root, "GeneralMessageDelivery")?;
    let messages = match delivery.get("InfoMessage") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(bad_response(ID, "`InfoMessage` is not a list")),
    };
    let mut events = Vec::new();
    for m in messages {
        let id = Some(siri_text(m.get("InfoMessageIdentifier")))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| siri_text(m.get("ItemIdentifier")));
        if id.is_empty() {
            continue;
        }
        let channel = siri_text(m.get("InfoChannelRef"));
        if !include_information && !channel.eq_ignore_ascii_case("Perturbation") {
            continue;
        }
        let content = m.get("Content");
        let texts: Vec<(String, String)> = match content.and_then(|c| c.get("Message")) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| (siri_text(t.get("MessageType")), siri_text(t.get("MessageText"))))
                .filter(|(_, text)| !text.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        let of_type = |kind: &str| texts.iter().find(|(k, _)| k.eq_ignore_ascii_case(kind)).map(|(_, t)| t.clone());
        let long = of_type("LONG_MESSAGE").or_else(|| of_type("TEXT_ONLY"));
        let short = of_type("SHORT_MESSAGE");
        let any = texts.first().map(|(_, t)| t.clone()).unwrap_or_default();
        let title = short.clone().unwrap_or_else(|| {
            let first_line = long.as_deref().unwrap_or(&any).lines().next().unwrap_or("").to_string();
            truncate_chars(&first_line, 120)
        });
        let message = long.or(short).unwrap_or(any);
        let mut ing = Ingredients::new();
        ing.insert("line".into(), json!(siri_text(content.and_then(|c| c.get("LineRef")))));
        ing.insert("title".into(), json!(title));
        ing.insert("message".into(), json!(truncate_chars(&message, MESSAGE_MAX_CHARS)));
        ing.insert("severity".into(), json!(channel));
        ing.insert("start".into(), json!(siri_text(m.get("RecordedAtTime"))));
        ing.insert("end".into(), json!(siri_text(m.get("ValidUntilTime"))));
        events.push(Event { key: id, ingredients: ing });
    }
    Ok(events)
}

/// Reads a stop-monitoring answer (pure): one event per departure leaving within `minutes` of
/// the answer's `ResponseTimestamp` (or `fallback_now`).
pub fn read_departures(body: &[u8], minutes: u64, fallback_now: DateTime<Utc>) -> Result<Vec<Event>, ConnectorError> {
    let root = parse_json(body)?;
    let (delivery, now) = delivery(&root, "StopMonitoringDelivery")?;
    let now = now.unwrap_or(fallback_now);
    let visits = match delivery.get("MonitoredStopVisit") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(bad_response(ID, "`MonitoredStopVisit` is not a list")),
    };
    let time = |v: Option<&Value>| {
        let s = siri_text(v);
        DateTime::parse_from_rfc3339(&s).ok().map(|d| (s, d.with_timezone(&Utc)))
    };
    let mut events = Vec::new();
    for visit in visits {
        let Some(journey) = visit.get("MonitoredVehicleJourney") else { continue };
        let call = journey.get("MonitoredCall");
        let at = |field: &str| call.and_then(|c| c.get(field));
        if siri_text(at("DepartureStatus")).eq_ignore_ascii_case("cancelled") {
            continue;
        }
        let Some((expected_text, expected)) = time(at("ExpectedDepartureTime"))
            .or_else(|| time(at("ExpectedArrivalTime")))
            .or_else(|| time(at("AimedDepartureTime")))
        else {
            continue;
        };
        let wait = (expected - now).num_seconds();
        if wait < 0 || wait > (minutes as i64) * 60 {
            continue;
        }
        let journey_ref = Some(siri_text(journey.pointer("/FramedVehicleJourneyRef/DatedVehicleJourneyRef")))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| siri_text(visit.get("ItemIdentifier")));
        if journey_ref.is_empty() {
            continue;
        }
        let planned = time(at("AimedDepartureTime")).map(|(s, _)| s).unwrap_or_else(|| expected_text.clone());
        let published = siri_text(journey.get("PublishedLineName"));
        let line = if published.is_empty() { siri_text(journey.get("LineRef")) } else { published };
        let destination = Some(siri_text(journey.get("DestinationName")))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| siri_text(at("DestinationDisplay")));
        let mut ing = Ingredients::new();
        ing.insert("line".into(), json!(line));
        ing.insert("destination".into(), json!(destination));
        ing.insert("expected_at".into(), json!(expected_text));
        ing.insert("minutes".into(), json!(wait / 60));
        events.push(Event { key: format!("{journey_ref}@{planned}"), ingredients: ing });
    }
    Ok(events)
}

/// `minutes`: an integer (or its text), 1 to 120; [`DEFAULT_MINUTES`] when absent.
fn minutes(params: &Params) -> Result<u64, ConnectorError> {
    let n = match params.get("minutes") {
        None | Some(Value::Null) => return Ok(DEFAULT_MINUTES),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    n.filter(|n| (1..=120).contains(n)).ok_or_else(|| bad_param("minutes", "expected a whole number from 1 to 120"))
}

/// `disruption`: Info trafic messages for one line.
struct Disruption {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for Disruption {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let line = line_ref(req_str(ctx.params, "line")?, "line")?;
        get(&self.base, ctx, "/general-message", &[("LineRef", line)])
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let include = opt_bool(ctx.params, "include_information")?.unwrap_or(false);
        Ok(PollOutput { events: read_general_messages(&response.body, include)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        let line = req_str(ctx.params, "line").unwrap_or("?");
        error_for(response, &format!("traffic info for line {line}"))
    }
}

/// `next_departure`: real-time departures at one stop.
struct NextDeparture {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NextDeparture {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let stop = monitoring_ref(req_str(ctx.params, "stop")?)?;
        minutes(ctx.params)?;
        let mut query = vec![("MonitoringRef", stop)];
        if let Some(line) = opt_str(ctx.params, "line") {
            query.push(("LineRef", line_ref(line, "line")?));
        }
        get(&self.base, ctx, "/stop-monitoring", &query)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let events = read_departures(&response.body, minutes(ctx.params)?, Utc::now())?;
        Ok(PollOutput { events, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        let stop = req_str(ctx.params, "stop").unwrap_or("?");
        error_for(response, &format!("departures at stop {stop}"))
    }
}
