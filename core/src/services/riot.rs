//! `riot`: League of Legends activity of a Riot ID through the Riot Games API — new matches and
//! rank changes.
//!
//! Endpoints (developer.riotgames.com/apis):
//! - account-v1 `GET /riot/account/v1/accounts/by-riot-id/{gameName}/{tagLine}` (regional host)
//!   → `{"puuid", "gameName", "tagLine"}`;
//! - match-v5 `GET /lol/match/v5/matches/by-puuid/{puuid}/ids?startTime=…&start=0&count=20`
//!   (regional host) → a JSON array of match ids, newest first;
//! - league-v4 `GET /lol/league/v4/entries/by-puuid/{puuid}` (platform host) →
//!   `[{"queueType", "tier", "rank", "leaguePoints", "wins", "losses", …}]` (`[]` when unranked).
//!
//! Decisions:
//! - Auth: the user's Riot API key, sent as `X-Riot-Token`. Development keys expire every 24 hours;
//!   the catalog says so ([`Availability::Limited`]). Riot answers an expired or invalid key with
//!   **403** (401 only when the key is missing), so here 401 *and* 403 →
//!   [`ConnectorError::AuthExpired`] ("run `area connect riot`" is what fixes both); 404 → a
//!   permanent error naming the Riot ID; 429 → retryable with `Retry-After`. An error body
//!   (`{"status": {"message", "status_code"}}`) inside a 2xx is an error, never an event.
//! - Hosts: `https://<routing>.api.riotgames.com`, where routing is a region (`europe`,
//!   `americas`, `asia`, `sea`) for account-v1 and match-v5 and a platform (`euw1`, `na1`, `kr`…)
//!   for league-v4. `AREA_RIOT_BASE_URL` replaces the whole host for every routing value.
//! - A Riot ID (`name#tag`) must first become a PUUID, but a polled action makes one request
//!   per poll. Both actions therefore take an optional `puuid` parameter (no lookup at all), and
//!   otherwise resolve the Riot ID through the cursor: the first poll asks account-v1, and its
//!   read stores `{"riot_id", "puuid", "key", "since"}` in the cursor; later polls ask for the
//!   matches or league entries. `key` is a short SHA-256 fingerprint of the API key (PUUIDs are
//!   encrypted per Riot project, so a key from another project redoes the lookup), and a changed
//!   `riot_id` redoes it too.
//!   **Engine caveat** (measured): the daemon computes a poll's request when it (re)loads areas
//!   (an area or connection changed), not after a cursor change, so until its next reload the
//!   daemon repeats the lookup and sees no match; the repeated lookups keep the first cursor,
//!   so after the reload matches since the first lookup still fire. `area run --once` reloads
//!   every time. Giving `puuid` avoids the issue (tested under the daemon).
//! - `new_match`: key = the match id. After a lookup, the match list is asked with
//!   `startTime` = the lookup time, so matches played before the area existed never fire (the
//!   engine's own baseline was the lookup poll). With a `puuid` parameter the engine's baseline
//!   applies as usual.
//! - `startTime` is not trusted (defence in depth): the first match list read after a lookup is a
//!   priming read — it fires nothing and records the ids it saw in the cursor (`primed`, at most
//!   [`MATCH_COUNT`]); later reads skip those ids (the engine dedupes the ids it has seen as events
//!   itself). A server or proxy that ignores `startTime` and answers the whole recent history
//!   therefore fires only matches that are genuinely new. Match ids carry no time to compare, so
//!   the price is the engine's usual one: a match finished between the lookup and the priming
//!   read (one poll interval after the area is created) does not fire. `url` links to the match on League of Graphs (a third-party site: Riot
//!   has no public match page).
//! - `rank_changed`: a state trigger through the cursor (`ranks`: per queue tier, rank, LP,
//!   wins, losses). The first entries read records them and fires nothing; afterwards a queue
//!   whose tier, division or LP differs fires once, key =
//!   `queue:tier:rank:lp:wins-losses` (wins + losses grow with every game, so returning to an
//!   earlier LP still fires). A first placement in a queue fires with previous tier `UNRANKED`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "riot";
/// Why the service is limited, shown to users.
pub const LIMITATION: &str =
    "Riot development API keys expire every 24 hours; a personal or production key is needed for lasting use";
/// Regional routing values (account-v1, match-v5).
pub const REGIONS: [&str; 4] = ["europe", "americas", "asia", "sea"];
/// Platform routing values (league-v4).
pub const PLATFORMS: [&str; 17] = [
    "euw1", "eun1", "tr1", "ru", "me1", "na1", "br1", "la1", "la2", "kr", "jp1", "oc1", "ph2", "sg2", "th2", "tw2",
    "vn2",
];
/// Match ids asked per poll.
pub const MATCH_COUNT: u32 = 20;

/// The `riot` service: two polled actions; no reactions (the API is read-only).
pub fn service(settings: &Settings) -> Service {
    let overridden_base = settings.service(ID, "BASE_URL").map(str::to_string);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_match",
        ActionKind::Polled(Arc::new(NewMatch { overridden_base: overridden_base.clone() }) as Arc<dyn PolledAction>),
    );
    actions.insert(
        "rank_changed",
        ActionKind::Polled(Arc::new(RankChanged { overridden_base: overridden_base.clone() }) as Arc<dyn PolledAction>),
    );
    Service::new(manifest(), actions, BTreeMap::new()).with_quota(Quota {
        // A development key: 100 requests every 2 minutes (and 20 a second).
        limit: 3_000,
        window: QuotaWindow::Hour,
        counted_per: "per Riot development key",
        costs: vec![("new_match", 1), ("rank_changed", 1)],
    })
}

fn riot_id_param() -> ParamSpec {
    ParamSpec::new(
        "riot_id",
        "Riot ID",
        "The player's Riot ID as name#tag, e.g. Faker#KR1 (shown in the Riot client under the player's name).",
        ParamType::String,
    )
}

fn puuid_param() -> ParamSpec {
    ParamSpec::new(
        "puuid",
        "PUUID (optional)",
        "Advanced: the player's PUUID for your API key, if you already know it. Leave empty to look the Riot ID \
         up on the first check.",
        ParamType::String,
    )
    .optional(None)
}

fn manifest() -> ServiceManifest {
    let choices = |list: &[&str]| ParamType::Enum { choices: list.iter().map(|s| s.to_string()).collect() };
    ServiceManifest {
        id: ID,
        name: "Riot Games (League of Legends)",
        description: "Follow a player's League of Legends games and ranked standing. Connect with your Riot API key \
                      from developer.riotgames.com. Development keys expire every 24 hours: register a personal \
                      product there for a lasting key.",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["*.api.riotgames.com"],
        oauth: None,
        availability: Availability::Limited(LIMITATION.to_string()),
        actions: vec![
            ActionManifest {
                id: "new_match",
                name: "New match played",
                description: "Fires when a new League of Legends match of a Riot ID appears in its match history.",
                params: vec![
                    riot_id_param(),
                    ParamSpec::new(
                        "region",
                        "Region",
                        "The player's region: europe (EUW, EUNE, TR, RU, ME), americas (NA, BR, LAN, LAS), asia \
                         (KR, JP) or sea (OCE, PH, SG, TH, TW, VN).",
                        choices(&REGIONS),
                    )
                    .optional(Some(json!("europe"))),
                    puuid_param(),
                ],
                ingredients: vec![
                    ingredient("match_id", "The match id.", "EUW1_7123456789"),
                    ingredient("riot_id", "The player's Riot ID.", "Caps#EUW"),
                    ingredient(
                        "url",
                        "The match on League of Graphs (a third-party site).",
                        "https://www.leagueofgraphs.com/match/euw/7123456789",
                    ),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(120),
            },
            ActionManifest {
                id: "rank_changed",
                name: "Rank changed",
                description: "Fires when a Riot ID's ranked tier, division or LP changes in a ranked queue.",
                params: vec![
                    riot_id_param(),
                    ParamSpec::new(
                        "platform",
                        "Server",
                        "The player's server: euw1, eun1, na1, kr, br1, jp1, la1, la2, oc1, tr1, ru, me1, ph2, sg2, \
                         th2, tw2 or vn2.",
                        choices(&PLATFORMS),
                    )
                    .optional(Some(json!("euw1"))),
                    ParamSpec::new(
                        "queue",
                        "Queue (optional)",
                        "Only this queue: RANKED_SOLO_5x5 (solo/duo) or RANKED_FLEX_SR (flex). Empty for both.",
                        ParamType::String,
                    )
                    .optional(None),
                    puuid_param(),
                ],
                ingredients: vec![
                    ingredient("riot_id", "The player's Riot ID.", "Caps#EUW"),
                    ingredient("queue", "The ranked queue.", "RANKED_SOLO_5x5"),
                    ingredient("tier", "The new tier.", "GOLD"),
                    ingredient("rank", "The new division (I to IV).", "II"),
                    ingredient("lp", "League points now.", "42"),
                    ingredient("previous_tier", "The tier before (UNRANKED after placements).", "SILVER"),
                    ingredient("previous_rank", "The division before.", "I"),
                    ingredient("previous_lp", "League points before.", "88"),
                    ingredient("wins", "Ranked wins this season.", "57"),
                    ingredient("losses", "Ranked losses this season.", "49"),
                ],
                dynamic_ingredients: false,
                min_interval_secs: Some(300),
            },
        ],
        reactions: Vec::new(),
    }
}

/// The real host for a routing value: `https://<routing>.api.riotgames.com`.
pub fn routing_host(routing: &str) -> String {
    format!("https://{routing}.api.riotgames.com")
}

/// The host to use for a routing value: `overridden_base` (the settings' `AREA_RIOT_BASE_URL`,
/// for every routing) or the real one.
pub fn host(overridden_base: Option<&str>, routing: &str) -> String {
    overridden_base
        .map(|v| v.trim().trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| routing_host(routing))
}

/// The regional routing value of a platform (match-v5).
pub fn region_of_platform(platform: &str) -> &'static str {
    match platform {
        "na1" | "br1" | "la1" | "la2" => "americas",
        "kr" | "jp1" => "asia",
        "oc1" | "ph2" | "sg2" | "th2" | "tw2" | "vn2" => "sea",
        _ => "europe",
    }
}

/// account-v1 is served by `americas`, `asia` and `europe` only (any of them finds any account).
fn account_region(region: &str) -> &'static str {
    match region {
        "americas" => "americas",
        "asia" | "sea" => "asia",
        _ => "europe",
    }
}

/// A parsed Riot ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiotId {
    pub game_name: String,
    pub tag_line: String,
}

impl std::fmt::Display for RiotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.game_name, self.tag_line)
    }
}

/// Parses `name#tag` (game name up to 16 characters, tag up to 5 letters or digits).
pub fn parse_riot_id(raw: &str) -> Result<RiotId, ConnectorError> {
    let bad = || bad_param("riot_id", format!("expected name#tag, e.g. Faker#KR1, got {raw:?}"));
    let (name, tag) = raw.trim().rsplit_once('#').ok_or_else(bad)?;
    let (name, tag) = (name.trim(), tag.trim());
    let name_ok = !name.is_empty() && name.chars().count() <= 16 && !name.chars().any(|c| c.is_control() || c == '#');
    let tag_ok = !tag.is_empty() && tag.chars().count() <= 5 && tag.chars().all(char::is_alphanumeric);
    if name_ok && tag_ok {
        Ok(RiotId { game_name: name.to_string(), tag_line: tag.to_string() })
    } else {
        Err(bad())
    }
}

fn enum_param(params: &Params, id: &str, allowed: &[&str], default: &'static str) -> Result<String, ConnectorError> {
    match opt_str(params, id) {
        None => Ok(default.to_string()),
        Some(v) => {
            let v = v.to_ascii_lowercase();
            if allowed.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(bad_param(id, format!("expected one of {}, got {v:?}", allowed.join(", "))))
            }
        }
    }
}

fn puuid_ok(p: &str) -> bool {
    !p.is_empty() && p.len() <= 100 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A short fingerprint of the API key (never the key): PUUIDs are encrypted per Riot project.
fn key_fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.trim().as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// What the next poll asks: the account lookup, or the player's data.
enum Stage {
    Lookup,
    /// The PUUID and, when it came from a lookup, the Unix time of that lookup.
    Resolved {
        puuid: String,
        since: Option<i64>,
    },
}

fn stage(ctx: &PollContext<'_>, riot_id: &RiotId) -> Result<Stage, ConnectorError> {
    if let Some(p) = opt_str(ctx.params, "puuid") {
        if !puuid_ok(p) {
            return Err(bad_param("puuid", "expected a PUUID (letters, digits, - and _)"));
        }
        return Ok(Stage::Resolved { puuid: p.to_string(), since: None });
    }
    let key = ctx.credential.map(|c| key_fingerprint(c.secret()));
    let Some(cursor) = ctx.cursor.and_then(Value::as_object) else { return Ok(Stage::Lookup) };
    let same_id =
        cursor.get("riot_id").and_then(Value::as_str).is_some_and(|id| id.eq_ignore_ascii_case(&riot_id.to_string()));
    let same_key = key.is_none() || cursor.get("key").and_then(Value::as_str) == key.as_deref();
    match cursor.get("puuid").and_then(Value::as_str) {
        Some(p) if same_id && same_key && puuid_ok(p) => {
            Ok(Stage::Resolved { puuid: p.to_string(), since: cursor.get("since").and_then(Value::as_i64) })
        }
        _ => Ok(Stage::Lookup),
    }
}

fn get(ctx: &PollContext<'_>, url: url::Url) -> Result<HttpRequestSpec, ConnectorError> {
    let key = ctx.require_credential(ID)?.secret().trim();
    if key.is_empty() {
        return Err(ConnectorError::AuthExpired { service: ID.into() });
    }
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![("X-Riot-Token".into(), key.to_string()), ("Accept".into(), "application/json".into())];
    Ok(req)
}

/// `base` + path segments, each percent-encoded (game names hold spaces and any script).
fn url_with(base: &str, segments: &[&str]) -> Result<url::Url, ConnectorError> {
    let mut url = url::Url::parse(base).map_err(|e| bad_response(ID, format!("the base URL is not valid ({e})")))?;
    url.path_segments_mut()
        .map_err(|_| bad_response(ID, "the base URL cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn lookup_request(
    overridden_base: Option<&str>,
    ctx: &PollContext<'_>,
    riot_id: &RiotId,
    region: &str,
) -> Result<HttpRequestSpec, ConnectorError> {
    let url = url_with(
        &host(overridden_base, account_region(region)),
        &["riot", "account", "v1", "accounts", "by-riot-id", &riot_id.game_name, &riot_id.tag_line],
    )?;
    get(ctx, url)
}

/// Parses a 2xx body, turning Riot's `{"status": {"message", "status_code"}}` into an error.
fn parse_ok(body: &[u8]) -> Result<Value, ConnectorError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(ID, format!("the body is not valid JSON: {e}")))?;
    if let Some(status) = root.get("status").filter(|s| s.is_object()) {
        let code = status.get("status_code").and_then(Value::as_u64).unwrap_or(0);
        let message = status.get("message").and_then(Value::as_str).unwrap_or("");
        if code == 401 || code == 403 {
            return Err(ConnectorError::AuthExpired { service: ID.into() });
        }
        return Err(bad_response(ID, format!("Riot returned an error {code}: {}", truncate_chars(message, 200))));
    }
    Ok(root)
}

/// If this 2xx answer is the account lookup, the cursor that remembers its PUUID.
fn lookup_cursor(
    ctx: &PollContext<'_>,
    riot_id: &RiotId,
    root: &Value,
    now: i64,
) -> Option<Result<Value, ConnectorError>> {
    let account = root.as_object()?;
    let puuid = account.get("puuid").and_then(Value::as_str).map(str::trim);
    Some(match puuid {
        // Asked again for the same account (the daemon repeats a lookup until it reloads the
        // area): keep the first lookup's cursor, so `since` does not move.
        Some(p) if matches!(stage(ctx, riot_id), Ok(Stage::Resolved { ref puuid, .. }) if puuid == p) => {
            Ok(ctx.cursor.cloned().unwrap_or(Value::Null))
        }
        Some(p) if puuid_ok(p) => {
            let mut cursor = Map::new();
            cursor.insert("riot_id".into(), json!(riot_id.to_string()));
            cursor.insert("puuid".into(), json!(p));
            if let Some(c) = ctx.credential {
                cursor.insert("key".into(), json!(key_fingerprint(c.secret())));
            }
            cursor.insert("since".into(), json!(now));
            Ok(Value::Object(cursor))
        }
        _ => Err(bad_response(ID, "the account answer has no `puuid`")),
    })
}

/// Classifies a non-2xx Riot answer about `resource` (e.g. "Riot ID Caps#EUW").
pub fn error_for(response: &HttpResponseData, resource: &str) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What Riot's error statuses mean (a refused or expired key answers 401 or 403).
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: |body| {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.pointer("/status/message").and_then(Value::as_str).map(|m| truncate_chars(m, 200)))
    },
    detail: Detail::Says("Riot"),
    rules: &[
        (401, Outcome::Reconnect, Retry::No),
        (403, Outcome::Reconnect, Retry::No),
        (404, Outcome::Status(404, "{resource} not found{detail}"), Retry::No),
        (429, Outcome::Status(429, "rate limited{detail}"), Retry::Header),
    ],
    otherwise: None,
};

fn poll_error(ctx: &PollContext<'_>, response: &HttpResponseData, what: &str) -> ConnectorError {
    let riot_id = req_str(ctx.params, "riot_id").unwrap_or("?");
    let resource = match parse_riot_id(riot_id).ok().and_then(|id| stage(ctx, &id).ok()) {
        Some(Stage::Resolved { .. }) => format!("{what} of Riot ID {riot_id}"),
        _ => format!("Riot ID {riot_id}"),
    };
    error_for(response, &resource)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The League of Graphs page of a match id such as `EUW1_7123456789`.
pub fn match_url(match_id: &str) -> String {
    match match_id.split_once('_') {
        Some((platform, game)) if !game.is_empty() && game.bytes().all(|b| b.is_ascii_digit()) => {
            let server = platform.trim_end_matches(|c: char| c.is_ascii_digit()).to_ascii_lowercase();
            format!("https://www.leagueofgraphs.com/match/{server}/{game}")
        }
        _ => String::new(),
    }
}

/// Reads a match-id list (pure): one event per id.
pub fn read_match_ids(root: &Value, riot_id: &RiotId) -> Result<Vec<Event>, ConnectorError> {
    let ids = root.as_array().ok_or_else(|| bad_response(ID, "expected a JSON array of match ids"))?;
    Ok(ids
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            let mut ing = Ingredients::new();
            ing.insert("match_id".into(), json!(id));
            ing.insert("riot_id".into(), json!(riot_id.to_string()));
            ing.insert("url".into(), json!(match_url(id)));
            Event { key: id.to_string(), ingredients: ing }
        })
        .collect())
}

/// The match ids a lookup cursor's priming read recorded, if it happened.
fn primed_ids(cursor: Option<&Value>) -> Option<Vec<&str>> {
    let ids = cursor?.get("primed")?.as_array()?;
    Some(ids.iter().filter_map(Value::as_str).collect())
}

/// A match list read after a lookup (pure). The first one primes: it fires nothing and records
/// the ids in the cursor, because `startTime` may have been ignored and they may be old. Later
/// ones drop the primed ids, which the engine never saw as events.
pub fn after_lookup(cursor: Option<&Value>, events: Vec<Event>) -> PollOutput {
    match primed_ids(cursor) {
        Some(primed) => {
            let fresh: Vec<Event> = events.into_iter().filter(|e| !primed.contains(&e.key.as_str())).collect();
            PollOutput { events: fresh, cursor: None }
        }
        None => {
            let mut next = cursor.and_then(Value::as_object).cloned().unwrap_or_default();
            let ids: Vec<&str> = events.iter().take(MATCH_COUNT as usize).map(|e| e.key.as_str()).collect();
            tracing::debug!(service = ID, matches = ids.len(), "priming read after the lookup; nothing fires");
            next.insert("primed".into(), json!(ids));
            PollOutput { events: Vec::new(), cursor: Some(Value::Object(next)) }
        }
    }
}

/// `new_match`: the player's latest match ids.
struct NewMatch {
    /// `AREA_RIOT_BASE_URL`, when the settings set it.
    overridden_base: Option<String>,
}

impl PolledAction for NewMatch {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let riot_id = parse_riot_id(req_str(ctx.params, "riot_id")?)?;
        let region = enum_param(ctx.params, "region", &REGIONS, "europe")?;
        match stage(ctx, &riot_id)? {
            Stage::Lookup => lookup_request(self.overridden_base.as_deref(), ctx, &riot_id, &region),
            Stage::Resolved { puuid, since } => {
                let mut url = url_with(
                    &host(self.overridden_base.as_deref(), &region),
                    &["lol", "match", "v5", "matches", "by-puuid", &puuid, "ids"],
                )?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(since) = since {
                        q.append_pair("startTime", &since.to_string());
                    }
                    q.append_pair("start", "0").append_pair("count", &MATCH_COUNT.to_string());
                }
                get(ctx, url)
            }
        }
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let riot_id = parse_riot_id(req_str(ctx.params, "riot_id")?)?;
        let root = parse_ok(&response.body)?;
        if let Some(cursor) = lookup_cursor(ctx, &riot_id, &root, now_secs()) {
            return Ok(PollOutput { events: Vec::new(), cursor: Some(cursor?) });
        }
        let events = read_match_ids(&root, &riot_id)?;
        match stage(ctx, &riot_id)? {
            // After a lookup: prime once, then skip what the priming read saw.
            Stage::Resolved { since: Some(_), .. } => Ok(after_lookup(ctx.cursor, events)),
            // A `puuid` parameter: the engine's own baseline recorded the first list.
            _ => Ok(PollOutput { events, cursor: None }),
        }
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx, response, "match history")
    }
}

fn entry_text(e: &Value, field: &str) -> String {
    e.get(field).and_then(Value::as_str).map(str::trim).unwrap_or("").to_string()
}

fn entry_num(e: &Value, field: &str) -> i64 {
    e.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// Reads league entries against the cursor's previous `ranks` (pure): the events and the new
/// cursor. Without previous ranks, nothing fires (first read).
pub fn read_entries(
    root: &Value,
    riot_id: &RiotId,
    queue_filter: Option<&str>,
    cursor: Option<&Value>,
) -> Result<(Vec<Event>, Value), ConnectorError> {
    let entries = root.as_array().ok_or_else(|| bad_response(ID, "expected a JSON array of league entries"))?;
    let mut next = cursor.and_then(Value::as_object).cloned().unwrap_or_default();
    let previous = next.get("ranks").and_then(Value::as_object).cloned();
    let mut ranks = Map::new();
    let mut events = Vec::new();
    for e in entries {
        let queue = entry_text(e, "queueType");
        if queue.is_empty() || queue_filter.is_some_and(|q| !q.eq_ignore_ascii_case(&queue)) {
            continue;
        }
        let (tier, rank, lp) = (entry_text(e, "tier"), entry_text(e, "rank"), entry_num(e, "leaguePoints"));
        let (wins, losses) = (entry_num(e, "wins"), entry_num(e, "losses"));
        ranks.insert(queue.clone(), json!({"tier": tier, "rank": rank, "lp": lp, "wins": wins, "losses": losses}));
        let Some(previous) = &previous else { continue };
        let before = previous.get(&queue);
        let prev_tier = before.map(|b| entry_text(b, "tier")).unwrap_or_else(|| "UNRANKED".into());
        let prev_rank = before.map(|b| entry_text(b, "rank")).unwrap_or_default();
        let prev_lp = before.map(|b| entry_num(b, "lp")).unwrap_or(0);
        if before.is_some() && prev_tier == tier && prev_rank == rank && prev_lp == lp {
            continue;
        }
        let mut ing = Ingredients::new();
        ing.insert("riot_id".into(), json!(riot_id.to_string()));
        ing.insert("queue".into(), json!(queue));
        ing.insert("tier".into(), json!(tier));
        ing.insert("rank".into(), json!(rank));
        ing.insert("lp".into(), json!(lp));
        ing.insert("previous_tier".into(), json!(prev_tier));
        ing.insert("previous_rank".into(), json!(prev_rank));
        ing.insert("previous_lp".into(), json!(prev_lp));
        ing.insert("wins".into(), json!(wins));
        ing.insert("losses".into(), json!(losses));
        events.push(Event { key: format!("{queue}:{tier}:{rank}:{lp}:{wins}-{losses}"), ingredients: ing });
    }
    next.insert("ranks".into(), Value::Object(ranks));
    Ok((events, Value::Object(next)))
}

/// `rank_changed`: the player's league entries, compared with the cursor.
struct RankChanged {
    /// `AREA_RIOT_BASE_URL`, when the settings set it.
    overridden_base: Option<String>,
}

impl PolledAction for RankChanged {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let riot_id = parse_riot_id(req_str(ctx.params, "riot_id")?)?;
        let platform = enum_param(ctx.params, "platform", &PLATFORMS, "euw1")?;
        match stage(ctx, &riot_id)? {
            Stage::Lookup => {
                lookup_request(self.overridden_base.as_deref(), ctx, &riot_id, region_of_platform(&platform))
            }
            Stage::Resolved { puuid, .. } => get(
                ctx,
                url_with(
                    &host(self.overridden_base.as_deref(), &platform),
                    &["lol", "league", "v4", "entries", "by-puuid", &puuid],
                )?,
            ),
        }
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let riot_id = parse_riot_id(req_str(ctx.params, "riot_id")?)?;
        let root = parse_ok(&response.body)?;
        if let Some(cursor) = lookup_cursor(ctx, &riot_id, &root, now_secs()) {
            return Ok(PollOutput { events: Vec::new(), cursor: Some(cursor?) });
        }
        let (events, cursor) = read_entries(&root, &riot_id, opt_str(ctx.params, "queue"), ctx.cursor)?;
        Ok(PollOutput { events, cursor: Some(cursor) })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx, response, "ranked standing")
    }
}
