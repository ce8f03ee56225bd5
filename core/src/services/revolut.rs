//! `revolut`: new transactions on a Revolut **Business** account (Business API, read-only).
//!
//! Personal Revolut accounts have no API (only licensed PSD2 providers reach them), so the
//! service is [`Availability::Limited`] to Business accounts.
//!
//! Auth — the Business API's own authorization, unattended ([`AuthKind::ClientKey`]): Area
//! generates the RSA key and a self-signed certificate, the user uploads the certificate in
//! Revolut Business (Settings → APIs → Business API) with an https redirect URI on a domain they
//! control and gets a client id, consents on `…/app-confirm?client_id=…&redirect_uri=…
//! &response_type=code&scope=READ#authorise`, and pastes the address Revolut redirected to. Area
//! exchanges the code at `POST {base}/auth/token` with an RS256 client assertion (`iss` = the
//! redirect URI's domain, `sub` = the client id, `aud` = `https://revolut.com`), and renews the
//! 40-minute access token with the refresh token and a fresh assertion 10 minutes before it
//! expires (a 401 renews at once). The generic code lives in `connections::client_key`; this
//! file only declares the grant ([`grant`]). The access token is sent as
//! `Authorization: Bearer <token>`.
//!
//! Decisions:
//! - Request: `GET {base}/transactions?count=100[&from=…][&account=…]`, base
//!   `https://b2b.revolut.com/api/1.0` (sandbox `https://sandbox-b2b.revolut.com/api/1.0`),
//!   overridden by `AREA_REVOLUT_BASE_URL`. `from` is the newest `created_at` seen so far
//!   (kept in the cursor) minus [`FROM_MARGIN_HOURS`], so late-listed items are still seen;
//!   the first poll has no `from` and reads the latest 100.
//! - Answer: a JSON array of `{id, type, state, created_at, completed_at, reference,
//!   merchant?{name,city,category_code}, legs[{leg_id, account_id, counterparty?, amount,
//!   fee?, currency, description, balance?}]}`. Key = transaction `id`: one event per
//!   transaction, when it first appears (state changes do not fire again). Ingredients come from
//!   the first leg; `amount` stays a JSON number (negative for money out) so conditions can
//!   compare it.
//! - **No reaction.** The API can move money (`POST /transfer`, `POST /pay`), but an automation
//!   that pays on a trigger is a risk we do not take: there is no money-moving reaction at all.
//! - Errors: 401 → [`ConnectorError::AuthExpired`]; 403 → permanent (token lacks the `READ`
//!   scope or the account is not allowed); 404 → permanent naming the account; 429 → retryable
//!   with `Retry-After`; an error object (`{"code", "message"}`) in a 2xx → BadResponse.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "revolut";
/// The real Business API, used unless `AREA_REVOLUT_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://b2b.revolut.com/api/1.0";
/// Revolut's sandbox, for users testing with a sandbox certificate.
pub const SANDBOX_BASE_URL: &str = "https://sandbox-b2b.revolut.com/api/1.0";
/// Transactions asked for per poll.
pub const COUNT: u32 = 100;
/// How far before the newest seen `created_at` the next `from` starts.
pub const FROM_MARGIN_HOURS: i64 = 24;

/// The `revolut` service: one polled action, deliberately no reactions.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_transaction",
        ActionKind::Polled(Arc::new(NewTransaction { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    Service::new(manifest(), actions, BTreeMap::new()).with_client_key_grant(grant(&base))
}

/// How Revolut Business authorizes Area, for an API `base`: the consent page of the matching
/// Business web app (production, sandbox, or the origin of any other base: a test fake), the
/// token endpoint under the API base, Revolut's audience and the read-only scope.
pub fn grant(base: &str) -> ClientKeyGrant {
    let origin = url::Url::parse(base).ok().map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let consent_origin = match origin.as_str() {
        "https://b2b.revolut.com" => "https://business.revolut.com".to_owned(),
        "https://sandbox-b2b.revolut.com" => "https://sandbox-business.revolut.com".to_owned(),
        _ => origin,
    };
    ClientKeyGrant {
        consent_url: format!("{consent_origin}/app-confirm"),
        consent_fragment: Some("authorise"),
        token_url: format!("{base}/auth/token"),
        audience: "https://revolut.com",
        scope: "READ",
        renew_within: std::time::Duration::from_secs(10 * 60),
    }
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Revolut Business",
        description: "Watch a Revolut Business account for new transactions (read-only: Area never moves money). \
                      To connect, give an https address on a domain you control as the redirect URI: Area \
                      creates a certificate to upload in Revolut Business (Settings → APIs → Business API), \
                      you consent with the client id Revolut shows, and paste the address Revolut sent you \
                      to. Area then renews its access by itself.",
        auth: AuthKind::ClientKey,
        credential_hosts: vec!["b2b.revolut.com", "sandbox-b2b.revolut.com"],
        oauth: None,
        availability: Availability::Limited(
            "Revolut Business accounts only; personal accounts have no API. Connecting needs an https redirect \
             address on a domain you control (Revolut requires one; nothing needs to be served there)"
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_transaction",
            name: "New transaction",
            description: "Fires once for each new transaction (card payment, transfer, top-up…) on the business.",
            params: vec![ParamSpec::new(
                "account",
                "Account id",
                "Only transactions of this account (its id from GET /accounts, a UUID). Empty: every account.",
                ParamType::String,
            )
            .optional(None)],
            ingredients: vec![
                ingredient("amount", "The amount of the first leg, negative for money going out.", "-12.5"),
                ingredient("currency", "The amount's currency (ISO 4217).", "EUR"),
                ingredient("description", "What Revolut shows for it.", "Payment to Amazon"),
                ingredient(
                    "counterparty",
                    "The merchant's name, or Revolut's description of the other side.",
                    "Amazon",
                ),
                ingredient("state", "pending, completed, declined, failed, reverted…", "completed"),
                ingredient("created_at", "When it was created (RFC 3339).", "2026-11-28T10:54:02.557373Z"),
                ingredient("type", "card_payment, transfer, topup, exchange, fee…", "card_payment"),
                ingredient("reference", "The payment reference (may be empty).", "Invoice 2026-117"),
                ingredient("id", "The transaction id.", "62b2f29a-c0a5-a1b2-9ad4-aa3f5e1d2c3b"),
                ingredient("account_id", "The account of the first leg.", "8f3c2d1e-0000-4a5b-9c8d-7e6f5a4b3c2d"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(60),
        }],
        reactions: vec![],
    }
}

/// Account ids are UUIDs; anything else is refused so it never needs escaping.
fn account(params: &Params) -> Result<Option<&str>, ConnectorError> {
    match opt_str(params, "account") {
        None => Ok(None),
        Some(a) if a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => Ok(Some(a)),
        Some(a) => Err(bad_param("account", format!("expected an account id (a UUID), got {a:?}"))),
    }
}

/// The newest `created_at` the cursor remembers.
fn cursor_latest(cursor: Option<&Value>) -> Option<DateTime<Utc>> {
    let raw = cursor?.get("latest_created_at")?.as_str()?;
    DateTime::parse_from_rfc3339(raw).ok().map(|d| d.with_timezone(&Utc))
}

/// The transactions request for these parameters and cursor (pure, for tests).
pub fn transactions_request(
    base: &str,
    params: &Params,
    cursor: Option<&Value>,
    token: &str,
) -> Result<HttpRequestSpec, ConnectorError> {
    let mut url = format!("{base}/transactions?count={COUNT}");
    if let Some(latest) = cursor_latest(cursor) {
        let from = (latest - Duration::hours(FROM_MARGIN_HOURS)).to_rfc3339_opts(SecondsFormat::Secs, true);
        url.push_str("&from=");
        url.push_str(&from);
    }
    if let Some(account) = account(params)? {
        url.push_str("&account=");
        url.push_str(account);
    }
    let mut req = HttpRequestSpec::get(url);
    req.headers.push(("Authorization".into(), format!("Bearer {token}")));
    req.headers.push(("Accept".into(), "application/json".into()));
    Ok(req)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Reads a transaction list (pure, for tests on saved responses): the events, and the cursor
/// (newest `created_at` seen, never going back from `previous`).
pub fn read_transactions(body: &[u8], previous: Option<&Value>) -> Result<PollOutput, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    let items = match root {
        Value::Array(items) => items,
        Value::Object(map) => {
            let message = map.get("message").and_then(Value::as_str).unwrap_or("expected a JSON array");
            return Err(bad_response(ID, format!("Revolut returned an error: {}", truncate_chars(message, 200))));
        }
        _ => return Err(bad_response(ID, "expected a JSON array of transactions")),
    };
    let mut latest = cursor_latest(previous);
    let mut events = Vec::new();
    for item in &items {
        let Some(id) = item.get("id").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()) else {
            continue;
        };
        let created_at = str_at(item, "/created_at");
        if let Ok(created) = DateTime::parse_from_rfc3339(created_at) {
            let created = created.with_timezone(&Utc);
            latest = Some(latest.map_or(created, |l| l.max(created)));
        }
        let leg = item.pointer("/legs/0").cloned().unwrap_or(Value::Null);
        let leg_description = str_at(&leg, "/description");
        let reference = str_at(item, "/reference");
        let description = if leg_description.is_empty() { reference } else { leg_description };
        let merchant = str_at(item, "/merchant/name");
        let counterparty = if merchant.is_empty() { leg_description } else { merchant };
        let mut ing = Ingredients::new();
        ing.insert("amount".into(), leg.get("amount").filter(|a| a.is_number()).cloned().unwrap_or(Value::Null));
        ing.insert("currency".into(), json!(str_at(&leg, "/currency")));
        ing.insert("description".into(), json!(description));
        ing.insert("counterparty".into(), json!(counterparty));
        ing.insert("state".into(), json!(str_at(item, "/state")));
        ing.insert("created_at".into(), json!(created_at));
        ing.insert("type".into(), json!(str_at(item, "/type")));
        ing.insert("reference".into(), json!(reference));
        ing.insert("id".into(), json!(id));
        ing.insert("account_id".into(), json!(str_at(&leg, "/account_id")));
        events.push(Event { key: id.to_string(), ingredients: ing });
    }
    let cursor = latest.map(|l| json!({"latest_created_at": l.to_rfc3339_opts(SecondsFormat::Micros, true)}));
    Ok(PollOutput { events, cursor: cursor.or_else(|| previous.cloned()) })
}

/// Revolut's error message (`{"code": …, "message": …}`), if any.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("message").and_then(Value::as_str).map(|m| truncate_chars(m, 200))
}

/// Classifies a non-2xx answer per the module rules.
pub fn error_for(params: &Params, response: &HttpResponseData) -> ConnectorError {
    let detail = error_message(&response.body).map(|m| format!(" (Revolut says: {m})")).unwrap_or_default();
    let status = |message: String| ConnectorError::Status {
        service: ID.into(),
        status: response.status,
        message,
        retry_after: None,
    };
    match response.status {
        401 => ConnectorError::AuthExpired { service: ID.into() },
        403 => status(format!(
            "access to the business's transactions forbidden: the token lacks the READ scope or this API \
             certificate is not allowed{detail}"
        )),
        404 => match account(params).ok().flatten() {
            Some(account) => status(format!("account {account} not found on this business{detail}")),
            None => status(format!("the transactions endpoint was not found (check AREA_REVOLUT_BASE_URL){detail}")),
        },
        _ => status_error(ID, response),
    }
}

/// `new_transaction`: GET /transactions, one event per transaction.
struct NewTransaction {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewTransaction {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let credential = ctx.require_credential(ID)?;
        transactions_request(&self.base, ctx.params, ctx.cursor, credential.secret())
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        read_transactions(&response.body, ctx.cursor)
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        error_for(ctx.params, response)
    }
}
