//! `youtube` service: reading saved `playlistItems.list` responses, building the poll request
//! (uploads playlist), the `add_to_playlist` reaction against a local wiremock server, and
//! error mapping (quota).
//!
//! Services are built with the settings each test wants (`AREA_YOUTUBE_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionOutput,
};
use area_core::services::google::youtube;
use area_core::settings::Settings;
use kit::{client, ok, params, reaction_ctx};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHANNEL: &str = "UCuAXFkgsw1L7xaCfnd5JJOw";

fn token() -> Credential {
    Credential::OAuth2 { access_token: "ya29.test".into(), account: None }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match youtube::service(&Settings::empty()).actions.get("new_video") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("youtube.new_video is not polled"),
    }
}

fn read(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({ "channel_id": CHANNEL }));
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

#[test]
fn manifest_uses_the_shared_google_connection() {
    let m = youtube::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "youtube");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("google"));
    assert_eq!(m.oauth.unwrap().scopes, ["https://www.googleapis.com/auth/youtube"]);
    assert!(!youtube::service(&Settings::empty()).reactions["add_to_playlist"].idempotent());
}

fn item(video_id: &str, title: &str, thumbnails: Value) -> Value {
    json!({
        "kind": "youtube#playlistItem",
        "etag": "abc",
        "id": format!("VVV{video_id}"),
        "snippet": {
            "publishedAt": "2026-03-14T09:05:00Z",
            "channelId": CHANNEL,
            "title": title,
            "description": "Dans cet épisode… ".repeat(60),
            "thumbnails": thumbnails,
            "channelTitle": "Café & Code",
            "playlistId": "UUuAXFkgsw1L7xaCfnd5JJOw",
            "position": 0,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
            "videoOwnerChannelTitle": "Café & Code",
            "videoOwnerChannelId": CHANNEL
        },
        "contentDetails": {"videoId": video_id, "videoPublishedAt": "2026-03-14T09:00:00Z"}
    })
}

#[test]
fn reads_a_documented_playlist_item_list() {
    let thumbs = json!({
        "default": {"url": "https://i.ytimg.com/vi/vid1/default.jpg", "width": 120, "height": 90},
        "high": {"url": "https://i.ytimg.com/vi/vid1/hqdefault.jpg", "width": 480, "height": 360},
        "medium": {"url": "https://i.ytimg.com/vi/vid1/mqdefault.jpg", "width": 320, "height": 180},
        "maxres": null
    });
    let mut second =
        item("vid2-_x", "Deuxième", json!({"default": {"url": "https://i.ytimg.com/vi/vid2/default.jpg"}}));
    second["contentDetails"] = json!({"videoId": null});
    second["snippet"]["description"] = Value::Null;
    let body = json!({
        "kind": "youtube#playlistItemListResponse",
        "etag": "xyz",
        "nextPageToken": "EAAaBlBUOkNBVQ",
        "items": [
            item("vid1", "Épisode 3 — ☕", thumbs),
            second,
            item("priv", "Private video", json!({})),
            item("del", "Deleted video", Value::Null),
            {"kind": "youtube#playlistItem", "snippet": null}
        ],
        "pageInfo": {"totalResults": 5, "resultsPerPage": 20}
    });
    let events = read(&ok(&body.to_string())).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["vid1", "vid2-_x"], "placeholders and broken items skipped");
    let first = &events[0].ingredients;
    assert_eq!(first["title"], json!("Épisode 3 — ☕"));
    assert_eq!(first["url"], json!("https://www.youtube.com/watch?v=vid1"));
    assert_eq!(first["video_id"], json!("vid1"));
    assert_eq!(first["channel_title"], json!("Café & Code"));
    assert_eq!(first["published_at"], json!("2026-03-14T09:00:00Z"), "the real publish time");
    assert_eq!(first["thumbnail"], json!("https://i.ytimg.com/vi/vid1/hqdefault.jpg"), "the widest thumbnail");
    let description = first["description"].as_str().unwrap();
    assert!(description.chars().count() <= 501 && description.ends_with('…'), "{description}");
    let second = &events[1].ingredients;
    assert_eq!(second["published_at"], json!("2026-03-14T09:05:00Z"), "falls back to the snippet date");
    assert_eq!(second["description"], json!(""));
    let declared: Vec<_> =
        youtube::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
}

#[test]
fn empty_lists_and_error_bodies() {
    assert!(read(&ok(r#"{"kind": "youtube#playlistItemListResponse", "items": []}"#)).unwrap().is_empty());
    assert!(read(&ok(r#"{"pageInfo": {"totalResults": 0}}"#)).unwrap().is_empty());
    let quota = r#"{"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
                   "errors": [{"message": "…", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}"#;
    let e = read(&ok(quota)).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("quota"), "{e}");
    let missing = r#"{"error": {"code": 404, "message": "The playlist identified with the request's playlistId parameter cannot be found.",
                     "errors": [{"reason": "playlistNotFound"}]}}"#;
    let e = read(&ok(missing)).unwrap_err();
    assert!(e.to_string().contains(CHANNEL), "names the channel: {e}");
}

#[test]
fn poll_request_reads_the_uploads_playlist() {
    for channel in [CHANNEL.to_string(), format!("https://www.youtube.com/channel/{CHANNEL}/videos")] {
        let req =
            youtube::list_request("http://127.0.0.1:9/", &params(json!({ "channel_id": channel })), &token()).unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.url,
            "http://127.0.0.1:9/youtube/v3/playlistItems?part=snippet%2CcontentDetails%2Cstatus&playlistId=UUuAXFkgsw1L7xaCfnd5JJOw&maxResults=20"
        );
        assert!(req.headers.contains(&("Authorization".into(), "Bearer ya29.test".into())));
    }
    for bad in ["@cafeetcode", "https://www.youtube.com/@cafeetcode", "PLabc", "UC../x", ""] {
        let r = youtube::list_request("http://127.0.0.1:9", &params(json!({ "channel_id": bad })), &token());
        assert!(matches!(r, Err(ConnectorError::BadParams { .. })), "{bad:?}: {r:?}");
    }
}

#[tokio::test]
async fn poll_request_defaults_to_the_real_api() {
    let p = params(json!({ "channel_id": CHANNEL }));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert!(req.url.starts_with("https://www.googleapis.com/youtube/v3/playlistItems?"), "{}", req.url);
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { .. })));
}

#[test]
fn video_and_playlist_ids_are_normalised() {
    for raw in [
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
    ] {
        assert_eq!(youtube::normalise_video_id(raw).as_deref(), Some("dQw4w9WgXcQ"), "{raw}");
    }
    assert_eq!(youtube::normalise_video_id("a/b"), None);
    assert_eq!(youtube::normalise_video_id("https://www.youtube.com/feed/library"), None);
    assert_eq!(
        youtube::normalise_playlist_id("https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG")
            .as_deref(),
        Some("PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG")
    );
    assert_eq!(youtube::normalise_playlist_id("PL-abc_1").as_deref(), Some("PL-abc_1"));
    assert_eq!(youtube::normalise_playlist_id("PL abc"), None);
}

async fn add(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "area-1:evt-1:0", Some(&cred));
    youtube::add_to_playlist(&ctx, &params(p), base).await
}

#[tokio::test]
async fn add_to_playlist_posts_the_documented_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/youtube/v3/playlistItems"))
        .and(query_param("part", "snippet"))
        .and(header("Authorization", "Bearer ya29.test"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({"snippet": {"playlistId": "PLmine", "resourceId": {"kind": "youtube#video", "videoId": "dQw4w9WgXcQ"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"kind": "youtube#playlistItem", "id": "UExt", "snippet": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let out =
        add(&server.uri(), json!({"playlist_id": "PLmine", "video_id": "https://youtu.be/dQw4w9WgXcQ"})).await.unwrap();
    assert!(out.summary.contains("added"), "{}", out.summary);
}

#[tokio::test]
async fn add_to_playlist_maps_errors() {
    let server = MockServer::start().await;
    let p = json!({"playlist_id": "PLgone", "video_id": "dQw4w9WgXcQ"});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404,
            "message": "Playlist not found.", "errors": [{"domain": "youtube.playlistItem", "reason": "playlistNotFound"}]}})))
        .mount(&server)
        .await;
    let e = add(&server.uri(), p.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("PLgone"), "{e}");

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403,
            "message": "quota", "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}})))
        .mount(&server)
        .await;
    let e = add(&server.uri(), p.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("daily API quota"), "{e}");

    server.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    assert_eq!(add(&server.uri(), p.clone()).await.unwrap_err().class(), ErrorClass::NeedsReconnect);

    server.reset().await;
    let e = add(&server.uri(), json!({"playlist_id": "PLx", "video_id": "not a/video"})).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "video_id"), "{e:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_reaction_uses_the_base_url_override() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/youtube/v3/playlistItems"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
        .expect(1)
        .mount(&server)
        .await;
    let settings = Settings::from_pairs([("AREA_YOUTUBE_BASE_URL", server.uri())]);
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "k", Some(&cred));
    let reaction = youtube::service(&settings).reactions["add_to_playlist"].clone();
    let out = reaction.run(&ctx, &params(json!({"playlist_id": "PLa", "video_id": "v1"}))).await;
    assert!(out.is_ok(), "{out:?}");
}

#[test]
fn poll_errors_follow_google_rules() {
    let p = params(json!({ "channel_id": CHANNEL }));
    let quota = r#"{"error": {"code": 403, "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}}"#;
    let e = youtube::poll_error(&p, &HttpResponseData { status: 403, headers: vec![], body: quota.into() });
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("quota") && e.to_string().contains(CHANNEL), "{e}");
    let e = youtube::poll_error(&p, &HttpResponseData { status: 401, headers: vec![], body: vec![] });
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);
}

/// Privacy comes from `status.privacyStatus`, which playlistItems returns with `part=status`
/// (developers.google.com/youtube/v3/docs/playlistItems), not from missing thumbnails: a public
/// video whose thumbnails are not ready yet fires, a private one with thumbnails does not. The
/// fake answers only a request that asks for the `status` part.
#[tokio::test]
async fn privacy_is_read_from_the_status_part() {
    let server = MockServer::start().await;
    let mut public_without_thumbnails = item("pub1", "Just uploaded", json!({}));
    public_without_thumbnails["status"] = json!({"privacyStatus": "public"});
    let mut private_with_thumbnails =
        item("priv1", "Members only", json!({"default": {"url": "https://i.ytimg.com/vi/priv1/default.jpg"}}));
    private_with_thumbnails["status"] = json!({"privacyStatus": "private"});
    let mut unspecified = item("gone1", "Deleted video", json!({}));
    unspecified["status"] = json!({"privacyStatus": "privacyStatusUnspecified"});
    Mock::given(method("GET"))
        .and(path("/youtube/v3/playlistItems"))
        .and(query_param("part", "snippet,contentDetails,status"))
        .and(header("Authorization", "Bearer ya29.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#playlistItemListResponse",
            "items": [public_without_thumbnails, private_with_thumbnails, unspecified]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let req = youtube::list_request(&server.uri(), &params(json!({ "channel_id": CHANNEL })), &token()).unwrap();
    let response = client().send(&req, &Default::default()).await.unwrap();
    assert_eq!(response.status, 200, "the request must ask for part=status: {}", req.url);
    let events = read(&response).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["pub1"], "public fires without thumbnails; private and deleted do not");
    assert_eq!(events[0].ingredients["thumbnail"], json!(""));
}
