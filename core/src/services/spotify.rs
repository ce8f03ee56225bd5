//! `spotify`: new saved ("liked") track, and adding a track to a playlist (Spotify Web API).
//!
//! Decisions:
//! - `new_saved_track` reads `GET /v1/me/tracks?limit=50` (newest first). The key is the track
//!   id, so un-liking and liking a track again does not fire twice. Items without a track or
//!   whose track has no id (local files) are skipped; `artists` is the artists' names joined by
//!   `, `.
//! - `add_to_playlist` posts `{"uris": ["spotify:track:<id>"]}` to `/v1/playlists/{id}/items` —
//!   the endpoint's name since Spotify's February 2026 Web API changes (formerly `/tracks`).
//!   `track` may be an id, a `spotify:track:` URI or an `open.spotify.com/track/…` link (with or
//!   without an `intl-xx` segment); `playlist_id` likewise. Ids must be base-62, so nothing
//!   reaches the URL path unchecked. Spotify has no idempotency key: not idempotent.
//! - Errors ([`spotify_error`]): 401 → [`ConnectorError::AuthExpired`]; 403 and 404 →
//!   permanent, naming the resource (a 403 in development mode usually means the user is not
//!   on the app's user list); 429 → retryable with Spotify's `Retry-After`. An
//!   `{"error": …}` body in a 2xx response is an error too.
//! - Availability is limited: an app in development mode needs a Premium owner and serves at
//!   most 5 users, so each user registers their own client id (PKCE, no secret).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "spotify";
/// The real API's base URL (overridable with `AREA_SPOTIFY_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.spotify.com";
/// Scopes this service asks Spotify for.
pub const SCOPES: [&str; 3] = ["user-library-read", "playlist-modify-public", "playlist-modify-private"];

/// The `spotify` service: manifest, the polled `new_saved_track` action and the
/// `add_to_playlist` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert(
        "new_saved_track",
        ActionKind::Polled(Arc::new(NewSavedTrack { base: base.clone() }) as Arc<dyn PolledAction>),
    );
    let mut reactions = BTreeMap::new();
    reactions.insert("add_to_playlist", Arc::new(AddToPlaylist { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Spotify",
        description: "Watch the tracks you like on Spotify, or add tracks to your playlists.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["api.spotify.com"],
        oauth: Some(OAuthProvider {
            id: "spotify",
            auth_url: "https://accounts.spotify.com/authorize",
            token_url: "https://accounts.spotify.com/api/token",
            scopes: SCOPES.to_vec(),
            extra_auth_params: vec![],
            loopback_host: LoopbackHost::Ip,
        }),
        availability: Availability::Limited(
            "Spotify apps in development mode need a Premium owner and serve at most 5 users: register your own \
             Spotify app and use its client id."
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_saved_track",
            name: "New liked track",
            description: "Fires for each track you add to your Liked Songs.",
            params: vec![],
            ingredients: vec![
                IngredientSpec { id: "name", description: "The track's title.", example: "Je veux" },
                IngredientSpec { id: "artists", description: "The artists, comma-separated.", example: "ZAZ" },
                IngredientSpec { id: "album", description: "The album's name.", example: "Zaz" },
                IngredientSpec {
                    id: "url",
                    description: "The track's link on open.spotify.com.",
                    example: "https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh",
                },
                IngredientSpec {
                    id: "added_at",
                    description: "When you liked it (RFC 3339).",
                    example: "2026-03-14T09:26:53Z",
                },
                IngredientSpec { id: "track_id", description: "The track's id.", example: "4iV5W9uYEdYUVa79Axb7Rh" },
                IngredientSpec {
                    id: "uri",
                    description: "The track's Spotify URI.",
                    example: "spotify:track:4iV5W9uYEdYUVa79Axb7Rh",
                },
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(60),
        }],
        reactions: vec![ReactionManifest {
            id: "add_to_playlist",
            name: "Add a track to a playlist",
            description: "Adds a track at the end of one of your playlists.",
            params: vec![
                ParamSpec::new(
                    "playlist_id",
                    "Playlist",
                    "The playlist's id, spotify:playlist: URI or open.spotify.com/playlist/… link.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new(
                    "track",
                    "Track",
                    "The track's id, spotify:track: URI or open.spotify.com/track/… link; e.g. {{ uri }}.",
                    ParamType::String,
                )
                .templated(),
            ],
        }],
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    error: Option<Value>,
}

/// The upstream message of a Spotify error body (`{"error": {"status", "message"}}`, or the
/// accounts service's `{"error": "...", "error_description": "..."}`).
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let message = match error {
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
        Value::String(s) => {
            Some(value.get("error_description").and_then(Value::as_str).map_or_else(|| s.clone(), str::to_string))
        }
        _ => None,
    }?;
    Some(excerpt(&message))
}

/// Maps a Spotify error response to a [`ConnectorError`] naming `resource` (see the module doc).
pub fn spotify_error(resource: &str, response: &HttpResponseData) -> ConnectorError {
    ERRORS.map(resource, response)
}

/// What Spotify's error statuses mean.
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
                "access to {resource} is forbidden (in development mode, only users added to your Spotify app may \
                 use it): {detail}",
            ),
            Retry::Header,
        ),
        (404, Outcome::Status(404, "{resource} was not found: {detail}"), Retry::Header),
        (429, Outcome::Status(429, "Spotify rate limit reached; backing off: {detail}"), Retry::Header),
    ],
    otherwise: None,
};

/// Parses a 2xx JSON body; an `{"error": …}` body is mapped like an error status.
fn spotify_json<T: serde::de::DeserializeOwned>(
    resource: &str,
    response: &HttpResponseData,
) -> Result<T, ConnectorError> {
    if let Ok(ErrorBody { error: Some(error) }) = serde_json::from_slice::<ErrorBody>(&response.body) {
        if !error.is_null() {
            let status = error.get("status").and_then(Value::as_u64).filter(|s| (400..600).contains(s));
            return Err(match status {
                Some(status) => spotify_error(
                    resource,
                    &HttpResponseData {
                        status: status as u16,
                        headers: response.headers.clone(),
                        body: response.body.clone(),
                    },
                ),
                None => ConnectorError::BadResponse {
                    service: ID.into(),
                    message: format!(
                        "an error came back with HTTP {}: {}",
                        response.status,
                        error_message(&response.body).unwrap_or_else(|| error.to_string())
                    ),
                },
            });
        }
    }
    serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("the body is not the documented JSON: {e}"),
    })
}

// ---------------------------------------------------------------------------------------------
// new_saved_track

/// The `new_saved_track` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let mut url = parse_url(ID, &format!("{}/v1/me/tracks", base.trim_end_matches('/')))?;
    url.query_pairs_mut().append_pair("limit", "50");
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SavedTracks {
    items: Option<Vec<SavedTrack>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SavedTrack {
    added_at: Option<String>,
    track: Option<Track>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Track {
    id: Option<String>,
    name: Option<String>,
    uri: Option<String>,
    artists: Option<Vec<Named>>,
    album: Option<Named>,
    external_urls: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    name: Option<String>,
}

/// Reads a `GET /me/tracks` body into events (pure: tests use saved responses).
pub fn read_saved_tracks(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let page: SavedTracks = spotify_json("your saved tracks", response)?;
    let mut events = Vec::new();
    for item in page.items.unwrap_or_default() {
        let Some(track) = item.track else { continue };
        let Some(id) = track.id.filter(|s| !s.trim().is_empty()) else { continue };
        let artists: Vec<String> =
            track.artists.unwrap_or_default().into_iter().filter_map(|a| a.name).filter(|n| !n.is_empty()).collect();
        let url = track
            .external_urls
            .and_then(|u| u.get("spotify").cloned().flatten())
            .unwrap_or_else(|| format!("https://open.spotify.com/track/{id}"));
        let uri = track.uri.filter(|u| !u.is_empty()).unwrap_or_else(|| format!("spotify:track:{id}"));
        let mut ingredients = Ingredients::new();
        ingredients.insert("name".into(), json!(track.name.unwrap_or_default()));
        ingredients.insert("artists".into(), json!(artists.join(", ")));
        ingredients.insert("album".into(), json!(track.album.and_then(|a| a.name).unwrap_or_default()));
        ingredients.insert("url".into(), json!(url));
        ingredients.insert("added_at".into(), json!(item.added_at.unwrap_or_default()));
        ingredients.insert("track_id".into(), json!(id));
        ingredients.insert("uri".into(), json!(uri));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll response maps to an error (see [`spotify_error`]). The engine
/// classifies poll statuses generically today; this is ready for a per-action error hook.
pub fn poll_error(response: &HttpResponseData) -> ConnectorError {
    spotify_error("your saved tracks", response)
}

struct NewSavedTrack {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewSavedTrack {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.require_credential(ID)?)
    }

    fn read(&self, _ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_saved_tracks(response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, _ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(response)
    }
}

// ---------------------------------------------------------------------------------------------
// add_to_playlist

/// The id of a Spotify object of `kind` (`track`, `playlist`) given as an id, a
/// `spotify:<kind>:<id>` URI or an `https://open.spotify.com/[intl-xx/]<kind>/<id>` link.
pub fn normalise_id(kind: &str, raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = if let Some(rest) = raw.strip_prefix("spotify:") {
        let (k, id) = rest.split_once(':')?;
        if k != kind {
            return None;
        }
        id.to_string()
    } else if let Ok(url) = url::Url::parse(raw) {
        if url.host_str() != Some("open.spotify.com") {
            return None;
        }
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        let at = segments.iter().position(|s| *s == kind)?;
        segments.get(at + 1)?.to_string()
    } else {
        raw.to_string()
    };
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
}

/// The `add_to_playlist` request against `base` (pure, for tests).
pub fn add_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let raw_playlist = req_str(params, "playlist_id")?;
    let playlist = normalise_id("playlist", raw_playlist).ok_or_else(|| {
        bad_param("playlist_id", format!("{raw_playlist:?} is not a Spotify playlist id, URI or link"))
    })?;
    let raw_track = req_str(params, "track")?;
    let track = normalise_id("track", raw_track)
        .ok_or_else(|| bad_param("track", format!("{raw_track:?} is not a Spotify track id, URI or link")))?;
    let url = parse_url(ID, &format!("{}/v1/playlists/{playlist}/items", base.trim_end_matches('/')))?;
    let body = json!({ "uris": [format!("spotify:track:{track}")] });
    Ok(json_post(url.to_string(), credential, &body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Snapshot {
    snapshot_id: Option<String>,
}

/// Runs `add_to_playlist` against `base` (what the reaction does with the configured base URL).
pub async fn add_to_playlist(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = add_request(base, params, credential)?;
    let resource = format!("Spotify playlist {:?}", req_str(params, "playlist_id").unwrap_or_default());
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(spotify_error(&resource, &response));
    }
    let snapshot: Snapshot = spotify_json(&resource, &response)?;
    Ok(ReactionOutput {
        summary: match snapshot.snapshot_id {
            Some(_) => "track added to the playlist".to_string(),
            None => format!("track added to the playlist (HTTP {})", response.status),
        },
    })
}

struct AddToPlaylist {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for AddToPlaylist {
    /// A repeat would add the track a second time.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        add_to_playlist(ctx, params, &self.base).await
    }
}
