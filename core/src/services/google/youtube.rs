//! `youtube`: new video on a channel, and adding a video to a playlist (YouTube Data API v3).
//!
//! Decisions:
//! - `new_video` reads the channel's uploads playlist, the cheapest documented way through the
//!   API (1 quota unit; `search.list` costs 100 and has its own tiny bucket):
//!   `GET /youtube/v3/playlistItems?part=snippet,contentDetails,status&playlistId=UU<id without UC>
//!   &maxResults=20`. `channel_id` is a `UC…` id or a `youtube.com/channel/UC…` link; handles
//!   (`@name`) need a `channels.list` lookup and are refused with a hint. The key is the video id
//!   (`contentDetails.videoId`, else `snippet.resourceId.videoId`). Private and deleted videos
//!   stay in the playlist and are skipped: whether an item is one is read from its
//!   `status.privacyStatus` (`private`, or `privacyStatusUnspecified` for a deleted video), which
//!   the `status` part returns (developers.google.com/youtube/v3/docs/playlistItems) — not from
//!   missing thumbnails, which a public video may lack while they are generated. Only an answer
//!   without `status` (a proxy that drops the part) falls back to "no thumbnail = placeholder".
//!   `published_at` is
//!   `contentDetails.videoPublishedAt` (the real publish time), else `snippet.publishedAt` (when
//!   it joined the playlist). The description is cut to [`DESCRIPTION_CHARS`] characters.
//! - `add_to_playlist`: `POST /youtube/v3/playlistItems?part=snippet` with
//!   `{"snippet": {"playlistId", "resourceId": {"kind": "youtube#video", "videoId"}}}` (50 units).
//!   `video_id` may be an id or a watch/short/`youtu.be` link, `playlist_id` an id or a link with
//!   `list=`. YouTube adds duplicates happily and has no idempotency key: not idempotent.
//! - Scope: `https://www.googleapis.com/auth/youtube` (read and manage; `youtube.force-ssl` would
//!   also allow comments, which no feature needs). The default project quota is 10,000 units a
//!   day shared by every area, hence a 5-minute minimum poll interval.
//! - Errors map like every Google API (see [`super::gmail::google_error`]); YouTube's
//!   `quotaExceeded` 403 becomes a permanent error saying the daily quota is used up.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{google_error, google_json, google_provider};
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "youtube";
/// The real API's base URL (overridable with `AREA_YOUTUBE_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";
/// Scopes this service asks Google for.
pub const SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/youtube"];
/// Longest `description` ingredient, in characters.
pub const DESCRIPTION_CHARS: usize = 500;
/// How many playlist items one poll reads.
pub const MAX_RESULTS: u32 = 20;

/// The `youtube` service: manifest, the polled `new_video` action and the `add_to_playlist`
/// reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_video", ActionKind::Polled(Arc::new(NewVideo { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("add_to_playlist", Arc::new(AddToPlaylist { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions).with_quota(Quota {
        // The YouTube Data API's default: 10,000 units a day; playlistItems.list costs 1.
        limit: 10_000,
        window: QuotaWindow::Day,
        counted_per: "per Google Cloud project (your OAuth app)",
        costs: vec![("new_video", 1)],
    })
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "YouTube",
        description: "Watch a YouTube channel for new videos, or add videos to one of your playlists.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["www.googleapis.com"],
        oauth: Some(google_provider(SCOPES.to_vec())),
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_video",
            name: "New video on a channel",
            description: "Fires for each new public video uploaded by a channel.",
            params: vec![ParamSpec::new(
                "channel_id",
                "Channel",
                "The channel id (starts with UC, shown in https://www.youtube.com/channel/UC… links or the channel's \
                 About → Share → Copy channel ID), or such a link.",
                ParamType::String,
            )],
            ingredients: vec![
                IngredientSpec {
                    id: "title", description: "The video's title.", example: "Café & code — épisode 3"
                },
                IngredientSpec {
                    id: "url",
                    description: "The video's link.",
                    example: "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                },
                IngredientSpec { id: "video_id", description: "The video's id.", example: "dQw4w9WgXcQ" },
                IngredientSpec { id: "channel_title", description: "The channel's name.", example: "Rick Astley" },
                IngredientSpec {
                    id: "published_at",
                    description: "When the video was published (RFC 3339).",
                    example: "2026-03-14T09:00:00Z",
                },
                IngredientSpec {
                    id: "description",
                    description: "The start of the video's description (500 characters at most).",
                    example: "Dans cet épisode…",
                },
                IngredientSpec {
                    id: "thumbnail",
                    description: "The largest thumbnail's URL (empty if none).",
                    example: "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
                },
            ],
            dynamic_ingredients: false,
            // 10,000 quota units a day per project, shared by every area.
            min_interval_secs: Some(300),
        }],
        reactions: vec![ReactionManifest {
            id: "add_to_playlist",
            name: "Add a video to a playlist",
            description: "Adds a video to one of your playlists (at the end).",
            params: vec![
                ParamSpec::new(
                    "playlist_id",
                    "Playlist",
                    "The playlist's id (PL…) or its link (…?list=PL…).",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new(
                    "video_id",
                    "Video",
                    "The video's id or link; e.g. {{ video_id }} from a YouTube trigger.",
                    ParamType::String,
                )
                .templated(),
            ],
        }],
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The channel id from `channel_id`: a `UC…` id or a `/channel/UC…` link.
pub fn channel_id(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "channel_id")?;
    let id = match raw.split_once("/channel/") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or_default(),
        None => raw,
    };
    if id.starts_with('@') || raw.contains("/@") {
        return Err(bad_param(
            "channel_id",
            format!("{raw:?} is a handle; use the channel id (UC…) from the channel's About → Share → Copy channel ID"),
        ));
    }
    if !(id.len() > 2 && id.starts_with("UC") && id.chars().all(is_id_char)) {
        return Err(bad_param("channel_id", format!("{raw:?} is not a channel id (they start with UC)")));
    }
    Ok(id.to_string())
}

/// The uploads playlist of a channel: `UC…` → `UU…`.
pub fn uploads_playlist(channel_id: &str) -> String {
    format!("UU{}", &channel_id[2.min(channel_id.len())..])
}

/// The `new_video` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let channel = channel_id(params)?;
    let mut url = parse_url(ID, &format!("{}/youtube/v3/playlistItems", base.trim_end_matches('/')))?;
    url.query_pairs_mut()
        .append_pair("part", "snippet,contentDetails,status")
        .append_pair("playlistId", &uploads_playlist(&channel))
        .append_pair("maxResults", &MAX_RESULTS.to_string());
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ItemList {
    items: Option<Vec<PlaylistItem>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PlaylistItem {
    snippet: Option<Snippet>,
    content_details: Option<ContentDetails>,
    status: Option<ItemStatus>,
}

/// The `status` part of a playlist item.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ItemStatus {
    /// `public`, `unlisted`, `private`, or `privacyStatusUnspecified` (a deleted video).
    privacy_status: Option<String>,
}

/// Whether an item is one nobody else can watch (private or deleted). Read from
/// `status.privacyStatus`; an item without it is judged by the old placeholder sign, no
/// thumbnail at all.
fn hidden(status: Option<&ItemStatus>, thumbnail: Option<&str>) -> bool {
    match status.and_then(|s| s.privacy_status.as_deref()) {
        Some(privacy) => matches!(privacy, "private" | "privacyStatusUnspecified"),
        None => thumbnail.is_none(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Snippet {
    published_at: Option<String>,
    title: Option<String>,
    description: Option<String>,
    thumbnails: Option<BTreeMap<String, Option<Thumbnail>>>,
    channel_title: Option<String>,
    video_owner_channel_title: Option<String>,
    resource_id: Option<ResourceId>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Thumbnail {
    url: Option<String>,
    width: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ResourceId {
    video_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ContentDetails {
    video_id: Option<String>,
    video_published_at: Option<String>,
}

/// The widest thumbnail's URL (YouTube's keys are default/medium/high/standard/maxres).
fn best_thumbnail(thumbnails: &BTreeMap<String, Option<Thumbnail>>) -> Option<String> {
    let rank = |k: &str| ["default", "medium", "high", "standard", "maxres"].iter().position(|x| *x == k);
    thumbnails
        .iter()
        .filter_map(|(k, t)| {
            let t = t.as_ref()?;
            let url = t.url.clone().filter(|u| !u.is_empty())?;
            Some(((t.width.unwrap_or(0), rank(k)), url))
        })
        .max_by_key(|(order, _)| *order)
        .map(|(_, url)| url)
}

fn channel_resource(params: &Params) -> String {
    match channel_id(params) {
        Ok(c) => format!("the uploads of YouTube channel {c}"),
        Err(_) => "the YouTube channel".into(),
    }
}

/// Reads a `playlistItems.list` body into events (pure: tests use saved responses).
pub fn read_videos(params: &Params, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let list: ItemList = google_json(ID, &channel_resource(params), response)?;
    let mut events = Vec::new();
    for item in list.items.unwrap_or_default() {
        let snippet = item.snippet.unwrap_or_default();
        let details = item.content_details.unwrap_or_default();
        let video_id = details
            .video_id
            .or_else(|| snippet.resource_id.as_ref().and_then(|r| r.video_id.clone()))
            .filter(|s| !s.trim().is_empty());
        let Some(video_id) = video_id else { continue };
        let thumbnail = snippet.thumbnails.as_ref().and_then(best_thumbnail);
        if hidden(item.status.as_ref(), thumbnail.as_deref()) {
            continue;
        }
        let thumbnail = thumbnail.unwrap_or_default();
        let title = snippet.title.unwrap_or_default();
        let published_at = details.video_published_at.or(snippet.published_at).unwrap_or_default();
        let channel_title = snippet.video_owner_channel_title.or(snippet.channel_title).unwrap_or_default();
        let description = truncate_chars(snippet.description.as_deref().unwrap_or_default(), DESCRIPTION_CHARS);
        let mut ingredients = Ingredients::new();
        ingredients.insert("title".into(), json!(title));
        ingredients.insert("url".into(), json!(format!("https://www.youtube.com/watch?v={video_id}")));
        ingredients.insert("video_id".into(), json!(video_id));
        ingredients.insert("channel_title".into(), json!(channel_title));
        ingredients.insert("published_at".into(), json!(published_at));
        ingredients.insert("description".into(), json!(description));
        ingredients.insert("thumbnail".into(), json!(thumbnail));
        events.push(Event { key: video_id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll response maps to an error, Google's rules applied (see
/// [`super::gmail::google_error`]). The engine classifies poll statuses generically today; this is ready for a
/// per-action error hook.
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    google_error(ID, &channel_resource(params), response)
}

struct NewVideo {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewVideo {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.params, ctx.require_credential(ID)?)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_videos(ctx.params, response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx.params, response)
    }
}

/// A video id from an id or a `watch?v=`, `youtu.be/`, `/shorts/`, `/embed/` or `/live/` link.
pub fn normalise_video_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = if let Ok(url) = url::Url::parse(raw) {
        let host = url.host_str().unwrap_or_default().trim_start_matches("www.").trim_start_matches("m.");
        let segments: Vec<&str> =
            url.path_segments().map(|s| s.filter(|x| !x.is_empty()).collect()).unwrap_or_default();
        if host == "youtu.be" {
            segments.first().map(|s| s.to_string())?
        } else if let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "v") {
            v.into_owned()
        } else {
            match segments.as_slice() {
                ["shorts" | "embed" | "live" | "v", id, ..] => id.to_string(),
                _ => return None,
            }
        }
    } else {
        raw.to_string()
    };
    (!id.is_empty() && id.chars().all(is_id_char)).then_some(id)
}

/// A playlist id from an id or a link with `list=`.
pub fn normalise_playlist_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = match url::Url::parse(raw) {
        Ok(url) => url.query_pairs().find(|(k, _)| k == "list").map(|(_, v)| v.into_owned())?,
        Err(_) => raw.to_string(),
    };
    (!id.is_empty() && id.chars().all(is_id_char)).then_some(id)
}

/// The `add_to_playlist` request against `base` (pure, for tests).
pub fn insert_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let raw_playlist = req_str(params, "playlist_id")?;
    let playlist = normalise_playlist_id(raw_playlist)
        .ok_or_else(|| bad_param("playlist_id", format!("{raw_playlist:?} is not a playlist id or link")))?;
    let raw_video = req_str(params, "video_id")?;
    let video = normalise_video_id(raw_video)
        .ok_or_else(|| bad_param("video_id", format!("{raw_video:?} is not a video id or link")))?;
    let mut url = parse_url(ID, &format!("{}/youtube/v3/playlistItems", base.trim_end_matches('/')))?;
    url.query_pairs_mut().append_pair("part", "snippet");
    let body = json!({
        "snippet": { "playlistId": playlist, "resourceId": { "kind": "youtube#video", "videoId": video } }
    });
    Ok(json_post(url.to_string(), credential, &body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InsertedItem {
    id: Option<String>,
}

/// Runs `add_to_playlist` against `base` (what the reaction does with the configured base URL).
pub async fn add_to_playlist(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = insert_request(base, params, credential)?;
    let resource = format!(
        "YouTube playlist {:?} or video {:?}",
        req_str(params, "playlist_id").unwrap_or_default(),
        req_str(params, "video_id").unwrap_or_default()
    );
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(google_error(ID, &resource, &response));
    }
    let item: InsertedItem = google_json(ID, &resource, &response)?;
    Ok(ReactionOutput {
        summary: match item.id {
            Some(_) => "video added to the playlist".to_string(),
            None => format!("video added to the playlist (HTTP {})", response.status),
        },
    })
}

struct AddToPlaylist {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for AddToPlaylist {
    /// A repeat would add the video a second time.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        add_to_playlist(ctx, params, &self.base).await
    }
}
