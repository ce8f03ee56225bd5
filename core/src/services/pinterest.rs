//! `pinterest`: new pin on a board, and creating a pin, through Pinterest API v5.
//!
//! Decisions:
//! - Auth is Pinterest's OAuth2 authorization code flow: authorize at
//!   `https://www.pinterest.com/oauth/`, token at `https://api.pinterest.com/v5/oauth/token`
//!   with the app's secret in HTTP Basic (a confidential client: users register their own app
//!   and set `AREA_PINTEREST_CLIENT_SECRET`). PKCE is not documented by Pinterest; our flow sends
//!   it anyway, and Pinterest ignores what it does not know. Scopes: `boards:read`, `pins:read`,
//!   `pins:write`.
//! - New apps get Trial access: pins they create are visible only to their creator until the
//!   app passes review for Standard access; daily caps are lower.
//! - `new_pin` reads `GET /v5/boards/{board_id}/pins?page_size=50` (`{items, bookmark}`). Boards
//!   can be custom-sorted, so nothing assumes order: the key is the pin id and the engine
//!   dedupes. `media_url` is the widest of `media.images` (or a video's `cover_image_url`);
//!   `url` is the pin's page, `https://www.pinterest.com/pin/{id}/`.
//! - `create_pin` posts `{board_id, title, description, link, alt_text, media_source:
//!   {source_type: "image_url", url}}` to `/v5/pins`, leaving out empty optional fields and
//!   cutting title/description/alt text to Pinterest's limits (100/800/500 characters). No
//!   idempotency key: not idempotent.
//! - Errors ([`pinterest_error`]): bodies are `{"code": <int>, "message": "…"}`. 401 →
//!   `AuthExpired`; 403 → permanent, naming the board (Trial access and scopes explained); 404 →
//!   permanent, naming the board; 429 → retryable with `Retry-After`. An error object in a 2xx
//!   answer is an error too.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "pinterest";
/// The real API's base URL (overridable with `AREA_PINTEREST_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.pinterest.com";
/// Scopes this service asks Pinterest for. Pinterest wants them comma-separated in one `scope`
/// parameter (the OAuth2 flow joins scopes with spaces), so they are one comma-joined entry.
pub const SCOPES: [&str; 1] = ["boards:read,pins:read,pins:write"];
/// Pins per poll.
pub const PAGE_SIZE: u32 = 50;

/// The `pinterest` service: manifest, the polled `new_pin` action and the `create_pin` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_pin", ActionKind::Polled(Arc::new(NewPin { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("create_pin", Arc::new(CreatePin { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Pinterest",
        description: "Watch a Pinterest board for new pins, or create pins from image links.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["api.pinterest.com"],
        oauth: Some(OAuthProvider {
            id: "pinterest",
            auth_url: "https://www.pinterest.com/oauth/",
            token_url: "https://api.pinterest.com/v5/oauth/token",
            scopes: SCOPES.to_vec(),
            extra_auth_params: vec![],
            loopback_host: LoopbackHost::Ip,
        }),
        availability: Availability::Limited(
            "needs your own Pinterest app (created from a Pinterest business account); until Pinterest reviews it \
             (Trial access), pins it creates are visible only to you and daily limits are low."
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_pin",
            name: "New pin on a board",
            description: "Fires for each new pin saved to one of your boards (or a board shared with you).",
            params: vec![ParamSpec::new(
                "board_id",
                "Board",
                "The board's numeric id, e.g. 549755885175 (Pinterest's API lists your boards and their ids with \
                 GET /v5/boards).",
                ParamType::String,
            )],
            ingredients: vec![
                IngredientSpec { id: "title", description: "The pin's title.", example: "Tarte aux pommes 🍎" },
                IngredientSpec {
                    id: "description",
                    description: "The pin's description.",
                    example: "La recette de grand-mère, prête en 45 minutes.",
                },
                IngredientSpec {
                    id: "link",
                    description: "The web page the pin points to (empty when none).",
                    example: "https://cuisine.example.fr/tarte-aux-pommes",
                },
                IngredientSpec {
                    id: "url",
                    description: "The pin's page on Pinterest.",
                    example: "https://www.pinterest.com/pin/813744226420795884/",
                },
                IngredientSpec {
                    id: "media_url",
                    description: "The pin's image (largest size), or a video's cover image.",
                    example: "https://i.pinimg.com/1200x/ab/cd/ef/abcdef0123456789.jpg",
                },
                IngredientSpec {
                    id: "created_at",
                    description: "When the pin was created (ISO 8601).",
                    example: "2026-11-28T09:41:07",
                },
                IngredientSpec { id: "pin_id", description: "The pin's id.", example: "813744226420795884" },
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(120),
        }],
        reactions: vec![ReactionManifest {
            id: "create_pin",
            name: "Create a pin",
            description: "Creates a pin on one of your boards from an image link.",
            params: vec![
                ParamSpec::new("board_id", "Board", "The board's numeric id.", ParamType::String).templated(),
                ParamSpec::new(
                    "image_url",
                    "Image URL",
                    "A public link to the image (JPEG, PNG…); Pinterest downloads it. May use ingredients.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new("title", "Title", "Up to 100 characters; may use ingredients.", ParamType::String)
                    .optional(Some(json!("")))
                    .templated(),
                ParamSpec::new(
                    "description",
                    "Description",
                    "Up to 800 characters; may use ingredients.",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated(),
                ParamSpec::new(
                    "link",
                    "Link",
                    "The web page the pin should open (optional); may use ingredients.",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated(),
                ParamSpec::new(
                    "alt_text",
                    "Alt text",
                    "A description of the image for screen readers (optional, up to 500 characters).",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated(),
            ],
        }],
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The `message` (and `code`) of a Pinterest error body.
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = value.get("message").and_then(Value::as_str)?;
    let text = match value.get("code").and_then(Value::as_i64) {
        Some(code) => format!("{message} (code {code})"),
        None => message.to_string(),
    };
    Some(excerpt(&text))
}

/// Maps a Pinterest error answer about `resource` to a [`ConnectorError`] (see the module doc).
pub fn pinterest_error(resource: &str, response: &HttpResponseData) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What Pinterest's error statuses mean.
const ERRORS: ErrorTable = ErrorTable {
    service: ID,
    explain: error_message,
    detail: Detail::Excerpt,
    rules: &[
        (401, Outcome::Reconnect, Retry::Header),
        (
            403,
            Outcome::Status(
                403,
                "access to {resource} is forbidden (is it your board or shared with you? Trial apps only see their \
                 own pins): {detail}",
            ),
            Retry::Header,
        ),
        (404, Outcome::Status(404, "{resource} was not found: {detail}"), Retry::Header),
        (429, Outcome::Status(429, "Pinterest rate limit reached; backing off: {detail}"), Retry::Header),
    ],
    otherwise: Some("{resource}: {detail}"),
};

/// Parses a 2xx body as a JSON object; an error object (`code` + `message`, no `id`/`items`) is
/// an error.
fn pinterest_json(resource: &str, response: &HttpResponseData) -> Result<Map<String, Value>, ConnectorError> {
    let value: Value = serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("the body is not the documented JSON: {e}"),
    })?;
    let Value::Object(object) = value else {
        return Err(ConnectorError::BadResponse {
            service: ID.into(),
            message: "the body is not a JSON object".into(),
        });
    };
    let is_error = object.get("code").is_some_and(Value::is_number)
        && object.get("message").is_some_and(Value::is_string)
        && !object.contains_key("items")
        && !object.contains_key("id");
    if is_error {
        return Err(ConnectorError::BadResponse {
            service: ID.into(),
            message: format!(
                "{resource}: an error came back with HTTP {}: {}",
                response.status,
                error_message(&response.body).unwrap_or_default()
            ),
        });
    }
    Ok(object)
}

fn board_param(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "board_id")?;
    if raw.len() > 30 || !raw.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_param("board_id", format!("{raw:?} is not a Pinterest board id (digits only)")));
    }
    Ok(raw.to_string())
}

fn board_resource(params: &Params) -> String {
    format!("Pinterest board {:?}", opt_str(params, "board_id").unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// new_pin

/// The `new_pin` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let board = board_param(params)?;
    let mut url = parse_url(ID, &format!("{}/v5/boards/{board}/pins", base.trim_end_matches('/')))?;
    url.query_pairs_mut().append_pair("page_size", &PAGE_SIZE.to_string());
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pin {
    id: Option<String>,
    created_at: Option<String>,
    title: Option<String>,
    description: Option<String>,
    link: Option<String>,
    media: Option<PinMedia>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PinMedia {
    images: Option<BTreeMap<String, Option<Image>>>,
    cover_image_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Image {
    width: Option<u64>,
    url: Option<String>,
}

/// The widest image's URL, else a video's cover.
fn media_url(media: Option<PinMedia>) -> String {
    let Some(media) = media else { return String::new() };
    let widest = media
        .images
        .unwrap_or_default()
        .into_values()
        .flatten()
        .filter_map(|i| Some((i.width.unwrap_or(0), i.url.filter(|u| !u.is_empty())?)))
        .max_by_key(|(w, _)| *w)
        .map(|(_, u)| u);
    widest.or(media.cover_image_url).unwrap_or_default()
}

/// Reads a `GET /v5/boards/{id}/pins` body into events (pure: tests use saved responses).
pub fn read_pins(params: &Params, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let object = pinterest_json(&board_resource(params), response)?;
    let items: Vec<Value> = match object.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut events = Vec::new();
    for item in items {
        let Ok(pin) = serde_json::from_value::<Pin>(item) else { continue };
        let Some(id) = pin.id.filter(|s| !s.trim().is_empty()) else { continue };
        let mut ingredients = Ingredients::new();
        ingredients.insert("title".into(), json!(pin.title.unwrap_or_default()));
        ingredients.insert("description".into(), json!(pin.description.unwrap_or_default()));
        ingredients.insert("link".into(), json!(pin.link.unwrap_or_default()));
        ingredients.insert("url".into(), json!(format!("https://www.pinterest.com/pin/{id}/")));
        ingredients.insert("media_url".into(), json!(media_url(pin.media)));
        ingredients.insert("created_at".into(), json!(pin.created_at.unwrap_or_default()));
        ingredients.insert("pin_id".into(), json!(id));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll answer maps to an error (see [`pinterest_error`]).
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    pinterest_error(&board_resource(params), response)
}

struct NewPin {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewPin {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.params, ctx.require_credential(ID)?)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_pins(ctx.params, response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx.params, response)
    }
}

// ---------------------------------------------------------------------------------------------
// create_pin

/// The `create_pin` JSON body (pure, for tests).
pub fn pin_body(params: &Params) -> Result<Value, ConnectorError> {
    let board = board_param(params)?;
    let image = http_url_param(params, "image_url")?;
    let mut body = json!({
        "board_id": board,
        "media_source": { "source_type": "image_url", "url": image.as_str() },
    });
    for (id, max) in [("title", 100), ("description", 800), ("alt_text", 500)] {
        if let Some(value) = opt_str(params, id) {
            body[id] = json!(truncate_chars(value, max - 1));
        }
    }
    if opt_str(params, "link").is_some() {
        body["link"] = json!(http_url_param(params, "link")?.as_str());
    }
    Ok(body)
}

/// The `create_pin` request against `base` (pure, for tests).
pub fn create_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let body = pin_body(params)?;
    Ok(json_post(parse_url(ID, &format!("{}/v5/pins", base.trim_end_matches('/')))?.to_string(), credential, &body))
}

/// Runs `create_pin` against `base` (what the reaction does with the configured base URL).
pub async fn create_pin(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = create_request(base, params, credential)?;
    let resource = board_resource(params);
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(pinterest_error(&resource, &response));
    }
    let created = pinterest_json(&resource, &response)?;
    match created.get("id").and_then(Value::as_str) {
        Some(id) => Ok(ReactionOutput { summary: format!("created pin https://www.pinterest.com/pin/{id}/") }),
        None => Err(ConnectorError::BadResponse { service: ID.into(), message: "the answer has no pin id".into() }),
    }
}

struct CreatePin {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for CreatePin {
    /// No idempotency key: a repeat would create a second pin.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        create_pin(ctx, params, &self.base).await
    }
}
