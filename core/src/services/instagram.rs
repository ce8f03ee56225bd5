//! `instagram`: new media on my account, and publishing a photo by URL, through the "Instagram API
//! with Instagram Login" (Business Login for Instagram).
//!
//! Decisions:
//! - Only Business and Creator accounts can use it: the Basic Display API for personal accounts
//!   was shut down on 2024-12-04. The account must have a role on the user's Meta app (or the
//!   app must pass App Review). Scopes: `instagram_business_basic` and
//!   `instagram_business_content_publish` (the pre-2025 `business_*` names are gone).
//! - Requests go to `https://graph.instagram.com` (override `AREA_INSTAGRAM_BASE_URL`) with the
//!   token as `Authorization: Bearer`, never in the query string, so URLs never carry it.
//! - The connection is a pasted long-lived token (App Dashboard → Instagram → API setup with
//!   Instagram login → Generate token), not an OAuth2 sign-in: Meta wants an https redirect,
//!   which a desktop loopback cannot offer, and its code exchange yields a 1-hour token that only
//!   the app secret can make long-lived. A long-lived token lasts 60 days;
//!   [`RefreshLongLivedToken`] renews it with `GET /refresh_access_token?grant_type=ig_refresh_token`
//!   (the token must be at least 24 hours old and still valid) once it is within 50 days of its
//!   expiry — so about ten days after each renewal, leaving weeks of slack for a device that was
//!   off. Connecting checks the token with `GET /me?fields=user_id,username`.
//! - `new_media` reads `GET /me/media?fields=id,caption,media_type,media_url,permalink,thumbnail_url,timestamp`
//!   (newest first, 25 per page). Key = the media id. `image_url` is the picture to show: the
//!   `media_url` of images and albums, the `thumbnail_url` of videos.
//! - `publish_photo` makes the two documented requests: `POST /me/media {image_url, caption}`
//!   creates a container (→ `{id}`), then `POST /me/media_publish {creation_id}` publishes it
//!   (→ `{id}` of the media). The image must be a JPEG at a public URL that Instagram fetches.
//!   Instagram has no idempotency key and a repeat would publish twice: not idempotent.
//! - Errors ([`meta_error`]): Meta bodies are `{"error": {"message", "type", "code",
//!   "error_subcode", "fbtrace_id"}}` and the HTTP status (often 400) says little, so the `code`
//!   decides: 190 (invalid/expired token) or HTTP 401 → `AuthExpired`; 4/17/32/613 (rate
//!   limits) and 9 with subcode 2207042 (24 h publishing limit) → 429, retryable; 1/2
//!   (temporary) and 9007 (container not ready) → 503, retryable; 10 and 200–299 (permissions)
//!   → 403, permanent; 100 with subcode 33 (no such object) → 404, permanent. An `{"error": …}`
//!   body in a 2xx answer is mapped the same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "instagram";
/// The real API's base URL (overridable with `AREA_INSTAGRAM_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com";
/// The permissions the pasted token must carry (the pre-2025 `business_*` names are gone).
pub const SCOPES: [&str; 2] = ["instagram_business_basic", "instagram_business_content_publish"];
/// Fields `new_media` asks for.
pub const MEDIA_FIELDS: &str = "id,caption,media_type,media_url,permalink,thumbnail_url,timestamp";
/// Longest caption Instagram accepts, in characters.
pub const CAPTION_MAX_CHARS: usize = 2200;

/// The `instagram` service: manifest, the polled `new_media` action and the `publish_photo`
/// reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_media", ActionKind::Polled(Arc::new(NewMedia { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("publish_photo", Arc::new(PublishPhoto { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
        .with_account_check(WhoAmI::new(
            ID,
            format!("{base}/me?fields=user_id,username"),
            |c| vec![bearer(c)],
            "/username",
        ))
        .with_token_renewal(RefreshLongLivedToken { base })
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Instagram",
        description: "Watch your Instagram professional account for new posts, or publish a photo from a URL. \
                      Connect with a long-lived token from your Meta app's dashboard; Area renews it before its \
                      60 days run out.",
        auth: AuthKind::ApiKey,
        credential_hosts: vec!["graph.instagram.com"],
        oauth: None,
        availability: Availability::Limited(
            "Business or Creator Instagram accounts only; personal accounts cannot use the API (Meta shut it down \
             in December 2024). The account needs a role on your Meta app."
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_media",
            name: "New post on my account",
            description: "Fires for each new photo, video, reel or album posted on the connected Instagram account.",
            params: vec![],
            ingredients: vec![
                IngredientSpec {
                    id: "caption",
                    description: "The post's caption (empty when it has none).",
                    example: "Coucher de soleil sur la Seine 🌅 #paris",
                },
                IngredientSpec { id: "media_type", description: "IMAGE, VIDEO or CAROUSEL_ALBUM.", example: "IMAGE" },
                IngredientSpec {
                    id: "media_url",
                    description: "The photo or video file (a temporary CDN link).",
                    example: "https://scontent.cdninstagram.com/v/t51.2885-15/123_n.jpg",
                },
                IngredientSpec {
                    id: "image_url",
                    description: "A picture of the post: the photo itself, or a video's thumbnail.",
                    example: "https://scontent.cdninstagram.com/v/t51.2885-15/123_n.jpg",
                },
                IngredientSpec {
                    id: "url",
                    description: "The post's link on instagram.com.",
                    example: "https://www.instagram.com/p/C9xYz12AbCd/",
                },
                IngredientSpec {
                    id: "created_at",
                    description: "When it was posted (ISO 8601).",
                    example: "2026-11-28T09:41:07+0000",
                },
                IngredientSpec { id: "media_id", description: "The media's id.", example: "17895695668004550" },
            ],
            dynamic_ingredients: false,
            // Instagram allows 200 calls per hour per account (Business Use Case rate limiting).
            min_interval_secs: Some(120),
        }],
        reactions: vec![ReactionManifest {
            id: "publish_photo",
            name: "Publish a photo",
            description: "Publishes a photo from a public URL on the connected account (two requests: create, then \
                          publish). Instagram caps publishing at 100 posts per 24 hours.",
            params: vec![
                ParamSpec::new(
                    "image_url",
                    "Image URL",
                    "A public https link to a JPEG image; Instagram downloads it. Local files must be uploaded \
                     somewhere first.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new(
                    "caption",
                    "Caption",
                    "The caption (up to 2200 characters, #hashtags and @mentions allowed); may use ingredients.",
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetaErrorBody {
    error: Option<MetaError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetaError {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_user_msg: Option<String>,
}

fn parse_meta_error(body: &[u8]) -> Option<MetaError> {
    serde_json::from_slice::<MetaErrorBody>(body).ok()?.error
}

/// Maps a Meta error answer about `resource` to a [`ConnectorError`] (see the module doc).
pub fn meta_error(resource: &str, response: &HttpResponseData) -> ConnectorError {
    let generic = status_error(ID, response);
    let ConnectorError::Status { message, retry_after, .. } = &generic else { return generic };
    let parsed = parse_meta_error(&response.body);
    let code = parsed.as_ref().and_then(|e| e.code);
    let subcode = parsed.as_ref().and_then(|e| e.error_subcode);
    let excerpt = parsed
        .as_ref()
        .and_then(|e| {
            let text = e.error_user_msg.clone().or_else(|| e.message.clone())?;
            Some(match (&e.kind, e.code) {
                (Some(kind), Some(code)) => format!("{text} ({kind} {code})"),
                _ => text,
            })
        })
        .map(|m| excerpt(&m))
        .unwrap_or_else(|| message.clone());
    let status_err = |status: u16, message: String| ConnectorError::Status {
        service: ID.into(),
        status,
        message,
        retry_after: *retry_after,
    };
    match (response.status, code, subcode) {
        (401, _, _) | (_, Some(190 | 102), _) => ConnectorError::AuthExpired { service: ID.into() },
        (_, Some(4 | 17 | 32 | 613), _) | (_, Some(9), Some(2207042)) | (429, _, _) => status_err(
            429,
            format!("Instagram rate or publishing limit reached for {resource}; backing off: {excerpt}"),
        ),
        (_, Some(1 | 2 | 9007), _) => {
            status_err(503, format!("Instagram is temporarily unable to serve {resource}: {excerpt}"))
        }
        (_, Some(10 | 200..=299), _) | (403, _, _) => status_err(
            403,
            format!(
                "access to {resource} is forbidden (Business or Creator accounts with a role on your Meta app only, \
                 and the connection needs the instagram_business_* permissions): {excerpt}"
            ),
        ),
        (_, Some(100), Some(33)) | (404, _, _) => status_err(404, format!("{resource} was not found: {excerpt}")),
        (status, _, _) if (200..300).contains(&status) => status_err(400, format!("{resource}: {excerpt}")),
        (status, _, _) => status_err(status, format!("{resource}: {excerpt}")),
    }
}

/// Parses a 2xx body; an `{"error": …}` body is mapped like an error status.
fn meta_json<T: serde::de::DeserializeOwned>(resource: &str, response: &HttpResponseData) -> Result<T, ConnectorError> {
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&response.body) {
        if o.get("error").is_some_and(|e| !e.is_null()) {
            return Err(meta_error(resource, response));
        }
    }
    serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("the body is not the documented JSON: {e}"),
    })
}

// ---------------------------------------------------------------------------------------------
// new_media

const MEDIA_RESOURCE: &str = "your Instagram media";

/// The `new_media` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let mut url = parse_url(ID, &format!("{}/me/media", base.trim_end_matches('/')))?;
    url.query_pairs_mut().append_pair("fields", MEDIA_FIELDS);
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MediaPage {
    data: Option<Vec<Media>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Media {
    id: Option<String>,
    caption: Option<String>,
    media_type: Option<String>,
    media_url: Option<String>,
    permalink: Option<String>,
    thumbnail_url: Option<String>,
    timestamp: Option<String>,
}

/// Reads a `GET /me/media` body into events (pure: tests use saved responses).
pub fn read_media(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let page: MediaPage = meta_json(MEDIA_RESOURCE, response)?;
    let mut events = Vec::new();
    for media in page.data.unwrap_or_default() {
        let Some(id) = media.id.filter(|s| !s.trim().is_empty()) else { continue };
        let media_type = media.media_type.unwrap_or_default();
        let media_url = media.media_url.unwrap_or_default();
        let image_url = match media_type.as_str() {
            "VIDEO" => media.thumbnail_url.unwrap_or_default(),
            _ => media_url.clone(),
        };
        let mut ingredients = Ingredients::new();
        ingredients.insert("caption".into(), json!(media.caption.unwrap_or_default()));
        ingredients.insert("media_type".into(), json!(media_type));
        ingredients.insert("media_url".into(), json!(media_url));
        ingredients.insert("image_url".into(), json!(image_url));
        ingredients.insert("url".into(), json!(media.permalink.unwrap_or_default()));
        ingredients.insert("created_at".into(), json!(media.timestamp.unwrap_or_default()));
        ingredients.insert("media_id".into(), json!(id));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll answer maps to an error (see [`meta_error`]).
pub fn poll_error(response: &HttpResponseData) -> ConnectorError {
    meta_error(MEDIA_RESOURCE, response)
}

struct NewMedia {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewMedia {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.require_credential(ID)?)
    }

    fn read(&self, _ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_media(response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, _ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(response)
    }
}

// ---------------------------------------------------------------------------------------------
// renewing the long-lived token

/// How long a long-lived token lasts when Instagram does not say (documented: 60 days).
pub const LONG_LIVED_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 24 * 3600);

/// Renews the connection's long-lived token (see the module doc).
pub struct RefreshLongLivedToken {
    base: String,
}

#[derive(Deserialize)]
struct Refreshed {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenRenewal for RefreshLongLivedToken {
    fn renew_within(&self) -> Duration {
        Duration::from_secs(50 * 24 * 3600)
    }

    fn first_renewal_after(&self) -> Duration {
        // Instagram refuses to renew a token younger than 24 hours; a pasted one may be brand new.
        Duration::from_secs(25 * 3600)
    }

    fn request(&self, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
        let mut url = parse_url(ID, &format!("{}/refresh_access_token", self.base.trim_end_matches('/')))?;
        url.query_pairs_mut().append_pair("grant_type", "ig_refresh_token");
        let mut request = HttpRequestSpec::get(url.to_string());
        request.headers = vec![bearer(credential), accept_json()];
        Ok(request)
    }

    fn read(&self, response: &HttpResponseData) -> Result<RenewedToken, ConnectorError> {
        if !(200..300).contains(&response.status) {
            return Err(meta_error("the token renewal", response));
        }
        let refreshed: Refreshed = meta_json("the token renewal", response)?;
        if refreshed.access_token.trim().is_empty() {
            return Err(bad_response(ID, "the token renewal answered an empty access_token"));
        }
        Ok(RenewedToken {
            token: refreshed.access_token,
            expires_in: refreshed.expires_in.map(Duration::from_secs).unwrap_or(LONG_LIVED_TOKEN_LIFETIME),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// publish_photo

/// The first `publish_photo` request, creating the media container (pure, for tests).
pub fn container_request(
    base: &str,
    params: &Params,
    credential: &Credential,
) -> Result<HttpRequestSpec, ConnectorError> {
    let image = http_url_param(params, "image_url")?;
    let caption = params.get("caption").and_then(Value::as_str).unwrap_or_default();
    let mut body = json!({ "image_url": image.as_str() });
    if !caption.trim().is_empty() {
        body["caption"] = json!(truncate_chars(caption, CAPTION_MAX_CHARS - 1));
    }
    let url = parse_url(ID, &format!("{}/me/media", base.trim_end_matches('/')))?;
    Ok(json_post(url.to_string(), credential, &body))
}

/// The second `publish_photo` request, publishing container `creation_id` (pure, for tests).
pub fn publish_request(
    base: &str,
    creation_id: &str,
    credential: &Credential,
) -> Result<HttpRequestSpec, ConnectorError> {
    let url = parse_url(ID, &format!("{}/me/media_publish", base.trim_end_matches('/')))?;
    Ok(json_post(url.to_string(), credential, &json!({ "creation_id": creation_id })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Created {
    id: Option<String>,
}

async fn post_for_id(
    ctx: &ReactionContext<'_>,
    spec: &HttpRequestSpec,
    resource: &str,
) -> Result<String, ConnectorError> {
    let response = send(ctx, spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(meta_error(resource, &response));
    }
    let created: Created = meta_json(resource, &response)?;
    created.id.filter(|id| !id.trim().is_empty()).ok_or_else(|| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("{resource}: the answer has no id"),
    })
}

/// Runs `publish_photo` against `base` (what the reaction does with the configured base URL).
pub async fn publish_photo(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let create = container_request(base, params, credential)?;
    let container = post_for_id(ctx, &create, "the photo container").await?;
    let publish = publish_request(base, &container, credential)?;
    let media = post_for_id(ctx, &publish, "publishing the photo").await?;
    Ok(ReactionOutput { summary: format!("published Instagram media {media}") })
}

struct PublishPhoto {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for PublishPhoto {
    /// No idempotency key: a repeat would publish the photo twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        publish_photo(ctx, params, &self.base).await
    }
}
