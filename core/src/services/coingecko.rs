//! `coingecko`: crypto prices from CoinGecko's public API (keyless, or with an optional Demo key).
//!
//! One endpoint serves all three actions: `GET /simple/price?ids=<coin>&vs_currencies=<cur>
//! &include_24hr_change=true&include_last_updated_at=true`, answering
//! `{"<coin>": {"<cur>": 67187.3, "<cur>_24h_change": -1.2, "last_updated_at": 1711356300}}`.
//!
//! Decisions:
//! - State triggers fire on the **crossing** only (see [`crossing_step`]): the cursor remembers
//!   whether the condition held at the last read and how many crossings happened. The first read
//!   (no cursor) only records the state, so an area created while bitcoin is already above the
//!   threshold fires the next time it goes above again, not immediately. Staying above fires
//!   nothing; going back below and above again fires once more. The cursor also records what was
//!   watched, so after the area's coin, currency or threshold change the next read is a new
//!   baseline rather than a "crossing" measured against the old threshold.
//! - Event key: `<direction>-<crossing number>@<last_updated_at>` (e.g. `above-3@1711356300`):
//!   a new crossing always has a new key, and the upstream timestamp keeps keys unique even if the
//!   cursor is ever reset and the count starts again.
//! - `price_above` is strictly `price > threshold`, `price_below` strictly `price < threshold`,
//!   `change_24h` is `|change| ≥ percent`.
//! - Unknown coin ids are silently absent from CoinGecko's answer (`{}` with HTTP 200): that is a
//!   [`ConnectorError::BadParams`] on `coin`. An unknown currency gives `{"bitcoin": {}}`:
//!   `BadParams` on `currency`. A `null` price or change (stale coins) keeps the previous state.
//! - Error bodies (`{"status": {"error_code": 429, "error_message": …}}`, `{"error": "…"}`) are
//!   errors even with HTTP 200; non-2xx answers map per issue 4 (401 → reconnect, 403/404 →
//!   permanent naming the coin, 429 → retry with `Retry-After`).
//! - Minimum interval 60 s: CoinGecko refreshes simple prices every 60 s on the public plan.
//! - Auth is optional, like ntfy's: the public API answers without a key, but a free Demo API
//!   key (coingecko.com → Developer Dashboard) gets a steadier rate limit. When the user saved
//!   one as the `coingecko` connection it is sent in the `x-cg-demo-api-key` header, the method
//!   CoinGecko recommends (docs.coingecko.com/v3.0.1/reference/authentication) — never as the
//!   `x_cg_demo_api_key` query parameter, which would put it in URLs and logs.
//!   [`PolledAction::needs_credential`] is `false`, so the engine polls without a connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "coingecko";

/// The real API (overridable with `AREA_COINGECKO_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.coingecko.com/api/v3";

/// The header CoinGecko's Demo plan reads its API key from.
pub const DEMO_KEY_HEADER: &str = "x-cg-demo-api-key";

/// Lowest poll interval: CoinGecko's public data refreshes every 60 s.
pub const MIN_INTERVAL_SECS: u32 = 60;

/// The `coingecko` service: three polled actions, no reactions (the API is read-only).
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    for (id, kind) in [("price_above", Kind::Above), ("price_below", Kind::Below), ("change_24h", Kind::Change)] {
        actions.insert(
            id,
            ActionKind::Polled(Arc::new(PriceAction { kind, base: base.clone() }) as Arc<dyn PolledAction>),
        );
    }
    Service::new(manifest(), actions, BTreeMap::new())
}

fn coin_param() -> ParamSpec {
    ParamSpec::new(
        "coin",
        "Coin",
        "The CoinGecko API id of the coin (shown as \"API id\" on its coingecko.com page), e.g. bitcoin, ethereum, \
         solana — not the ticker symbol.",
        ParamType::String,
    )
}

fn currency_param() -> ParamSpec {
    ParamSpec::new("currency", "Currency", "The currency to price in, e.g. usd, eur, gbp, btc.", ParamType::String)
        .optional(Some(json!("usd")))
}

fn common_ingredients() -> Vec<IngredientSpec> {
    vec![
        ingredient("coin", "The coin's CoinGecko id.", "bitcoin"),
        ingredient("currency", "The currency of the price.", "usd"),
        ingredient("price", "The current price (a number).", "67187.33"),
        ingredient("change_24h", "The price change over the last 24 hours, in percent (empty when unknown).", "-1.42"),
        ingredient("last_updated_at", "When CoinGecko last updated the price, in Unix seconds.", "1711356300"),
    ]
}

fn threshold_action(id: &'static str, name: &'static str, description: &'static str) -> ActionManifest {
    let mut ingredients = common_ingredients();
    ingredients.push(ingredient("threshold", "The threshold the price crossed.", "70000"));
    ActionManifest {
        id,
        name,
        description,
        params: vec![
            coin_param(),
            currency_param(),
            ParamSpec::new("threshold", "Threshold", "The price to watch, in the chosen currency.", ParamType::Number),
        ],
        ingredients,
        dynamic_ingredients: false,
        min_interval_secs: Some(MIN_INTERVAL_SECS),
    }
}

fn manifest() -> ServiceManifest {
    let mut change_ingredients = common_ingredients();
    change_ingredients.push(ingredient("percent", "The percentage the 24 h change reached.", "5"));
    change_ingredients.push(ingredient("direction", "`up` or `down`.", "down"));
    ServiceManifest {
        id: ID,
        name: "CoinGecko",
        description: "Cryptocurrency prices from CoinGecko's public API: react when a coin crosses a price or moves a lot in a day. \
                      No key needed; a free Demo API key from coingecko.com may be connected for steadier rate limits.",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["api.coingecko.com"],
        oauth: None,
        availability: Availability::Available,
        actions: vec![
            threshold_action(
                "price_above",
                "Price rises above",
                "Fires when a coin's price goes from at or below the threshold to above it. Fires again only after \
                 the price has fallen back.",
            ),
            threshold_action(
                "price_below",
                "Price falls below",
                "Fires when a coin's price goes from at or above the threshold to below it. Fires again only after \
                 the price has risen back.",
            ),
            ActionManifest {
                id: "change_24h",
                name: "Big 24-hour move",
                description: "Fires when a coin's 24-hour price change (up or down) reaches the given percentage. Fires \
                              again only after the move has fallen back under it.",
                params: vec![
                    coin_param(),
                    currency_param(),
                    ParamSpec::new(
                        "percent",
                        "Percent",
                        "The size of the move, in percent, in either direction (5 means +5 % or −5 %).",
                        ParamType::Number,
                    ),
                ],
                ingredients: change_ingredients,
                dynamic_ingredients: false,
                min_interval_secs: Some(MIN_INTERVAL_SECS),
            },
        ],
        reactions: Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Above,
    Below,
    Change,
}

impl Kind {
    /// Prefix of event keys.
    fn direction(self) -> &'static str {
        match self {
            Kind::Above => "above",
            Kind::Below => "below",
            Kind::Change => "move",
        }
    }
}

struct PriceAction {
    /// The API base URL (the settings' override or the real API).
    base: String,
    kind: Kind,
}

/// The coin id parameter, checked: one id (no commas), lower-cased as CoinGecko ids are.
fn coin(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "coin")?;
    let id = raw.to_ascii_lowercase();
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(bad_param(
            "coin",
            format!("{:?} is not a CoinGecko coin id (one id such as \"bitcoin\", no spaces or commas)", raw),
        ));
    }
    Ok(id)
}

/// The currency parameter (default `usd`), lower-cased.
fn currency(params: &Params) -> Result<String, ConnectorError> {
    let raw = opt_str(params, "currency").unwrap_or("usd");
    let cur = raw.to_ascii_lowercase();
    if !cur.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad_param("currency", format!("{raw:?} is not a currency code such as usd or eur")));
    }
    Ok(cur)
}

/// Maps a non-2xx answer per issue 4.
fn error_for_status(response: &HttpResponseData, coin: &str) -> ConnectorError {
    match response.status {
        401 => ConnectorError::AuthExpired { service: ID.into() },
        403 | 404 => {
            let ConnectorError::Status { message, retry_after, .. } = status_error(ID, response) else {
                unreachable!("status_error always builds a Status")
            };
            ConnectorError::Status {
                service: ID.into(),
                status: response.status,
                message: format!("cannot read the price of coin {coin:?}: {message}"),
                retry_after,
            }
        }
        _ => status_error(ID, response),
    }
}

/// CoinGecko's documented error bodies: `{"status": {"error_code", "error_message"}}` (rate
/// limits, key problems) and `{"error": "…"}`.
fn error_in_body(root: &Value, response: &HttpResponseData) -> Option<ConnectorError> {
    if let Some(status) = root.get("status").filter(|s| s.is_object()) {
        let code = status.get("error_code").and_then(Value::as_u64);
        let message = status
            .get("error_message")
            .and_then(Value::as_str)
            .map(|m| truncate_chars(m, 199))
            .unwrap_or_else(|| "(no message)".into());
        return Some(match code {
            Some(code @ 400..=599) => ConnectorError::Status {
                service: ID.into(),
                status: code as u16,
                message,
                retry_after: crate::net::retry_after(response, std::time::SystemTime::now()),
            },
            Some(code) => bad_response(ID, format!("CoinGecko error {code}: {message}")),
            None => bad_response(ID, format!("CoinGecko error: {message}")),
        });
    }
    match root.get("error") {
        Some(Value::String(e)) => Some(bad_response(ID, format!("CoinGecko error: {}", truncate_chars(e, 199)))),
        Some(Value::Null) | None => None,
        Some(other) => Some(bad_response(ID, format!("CoinGecko error: {}", truncate_chars(&other.to_string(), 199)))),
    }
}

/// The connected Demo API key as its documented header, if a non-blank key is connected.
fn demo_key_header(credential: Option<&Credential>) -> Option<(String, String)> {
    let key = credential.map(|c| c.secret().trim()).filter(|k| !k.is_empty())?;
    Some((DEMO_KEY_HEADER.into(), key.to_string()))
}

fn finite(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|n| n.is_finite())
}

impl PolledAction for PriceAction {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let coin = coin(ctx.params)?;
        let currency = currency(ctx.params)?;
        // Validate the threshold now so a broken area fails before any request.
        match self.kind {
            Kind::Above | Kind::Below => number_param(ctx.params, "threshold")?,
            Kind::Change => number_param(ctx.params, "percent")?,
        };
        let base = self.base.clone();
        let mut url = url::Url::parse(&format!("{base}/simple/price"))
            .map_err(|e| bad_response(ID, format!("the base URL is not valid ({e})")))?;
        url.query_pairs_mut()
            .append_pair("ids", &coin)
            .append_pair("vs_currencies", &currency)
            .append_pair("include_24hr_change", "true")
            .append_pair("include_last_updated_at", "true");
        let mut req = HttpRequestSpec::get(url.as_str());
        req.headers.push(accept_json());
        if let Some(header) = demo_key_header(ctx.credential) {
            req.headers.push(header);
        }
        Ok(req)
    }

    /// The Demo key is optional: the public API answers without one.
    fn needs_credential(&self) -> bool {
        false
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let coin = coin(ctx.params)?;
        let currency = currency(ctx.params)?;
        if !(200..300).contains(&response.status) {
            return Err(error_for_status(response, &coin));
        }
        let root: Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
        // Coin ids such as `status` (Status Network) collide with error-body keys: an entry for
        // the requested coin that is not itself an error wins.
        let is_price_entry = root.get(&coin).is_some_and(|e| e.is_object() && e.get("error_code").is_none());
        if !is_price_entry {
            if let Some(e) = error_in_body(&root, response) {
                return Err(e);
            }
        }
        let Value::Object(map) = &root else {
            return Err(bad_response(ID, "expected a JSON object of coins"));
        };
        let Some(entry) = map.get(&coin) else {
            return Err(bad_param(
                "coin",
                format!("unknown coin id {coin:?}: use the coin's API id from coingecko.com (e.g. \"bitcoin\"), not its symbol"),
            ));
        };
        let Value::Object(entry) = entry else {
            return Err(bad_response(ID, format!("the entry for {coin:?} is not an object")));
        };
        if !entry.contains_key(&currency) {
            return Err(bad_param("currency", format!("CoinGecko has no {currency:?} price (unknown currency?)")));
        }
        let price = finite(entry.get(&currency));
        let change = finite(entry.get(&format!("{currency}_24h_change")));
        let updated = entry.get("last_updated_at").and_then(Value::as_i64);

        let (holds, limit) = match self.kind {
            Kind::Above => {
                let t = number_param(ctx.params, "threshold")?;
                (price.map(|p| p > t), t)
            }
            Kind::Below => {
                let t = number_param(ctx.params, "threshold")?;
                (price.map(|p| p < t), t)
            }
            Kind::Change => {
                let pct = number_param(ctx.params, "percent")?.abs();
                (change.map(|c| c.abs() >= pct), pct)
            }
        };
        if holds.is_none() {
            tracing::warn!(service = ID, coin = %coin, currency = %currency, "no current value; state kept");
        }
        let op = match self.kind {
            Kind::Above => ">",
            Kind::Below => "<",
            Kind::Change => "|24h %| >=",
        };
        let (fired, cursor) = crossing_step(ctx.cursor, &format!("{coin}/{currency} {op} {limit}"), holds);
        let mut events = Vec::new();
        if let Some(n) = fired {
            let mut key = format!("{}-{n}", self.kind.direction());
            if let Some(ts) = updated {
                key.push_str(&format!("@{ts}"));
            }
            let mut ingredients = Ingredients::new();
            ingredients.insert("coin".into(), json!(coin));
            ingredients.insert("currency".into(), json!(currency));
            ingredients.insert("price".into(), price.map_or(json!(""), |p| json!(p)));
            ingredients.insert("change_24h".into(), change.map_or(json!(""), |c| json!(c)));
            ingredients.insert("last_updated_at".into(), updated.map_or(json!(""), |t| json!(t)));
            match self.kind {
                Kind::Above | Kind::Below => {
                    ingredients.insert("threshold".into(), json!(limit));
                }
                Kind::Change => {
                    ingredients.insert("percent".into(), json!(limit));
                    let up = change.is_some_and(|c| c >= 0.0);
                    ingredients.insert("direction".into(), json!(if up { "up" } else { "down" }));
                }
            }
            events.push(Event { key, ingredients });
        }
        Ok(PollOutput { events, cursor })
    }
}
