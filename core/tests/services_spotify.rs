//! `spotify` service: reading saved `GET /me/tracks` pages, building the poll request, the
//! `add_to_playlist` reaction against a local wiremock server, and error mapping (401, 403,
//! 404, 429 with `Retry-After`, error bodies in a 200).
//!
//! Services are built with the settings each test wants (`AREA_SPOTIFY_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

use kit::{client, ok, params, reaction_ctx};
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind, Availability};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionOutput,
};
use area_core::services::spotify;
use area_core::settings::Settings;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token() -> Credential {
    Credential::OAuth2 { access_token: "ya29.test".into(), account: None }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match spotify::service(&Settings::empty()).actions.get("new_saved_track") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("spotify.new_saved_track is not polled"),
    }
}

fn read(response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({}));
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

#[test]
fn manifest_has_its_own_spotify_connection() {
    let m = spotify::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "spotify");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("spotify"));
    assert!(matches!(m.availability, Availability::Limited(_)));
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.auth_url, "https://accounts.spotify.com/authorize");
    assert_eq!(oauth.token_url, "https://accounts.spotify.com/api/token");
    assert_eq!(oauth.scopes, ["user-library-read", "playlist-modify-public", "playlist-modify-private"]);
    assert!(oauth.extra_auth_params.is_empty());
    assert!(!spotify::service(&Settings::empty()).reactions["add_to_playlist"].idempotent());
}

const PAGE: &str = r#"{
  "href": "https://api.spotify.com/v1/me/tracks?offset=0&limit=50",
  "items": [
    {
      "added_at": "2026-03-14T09:26:53Z",
      "track": {
        "album": {"album_type": "album", "name": "Zaz", "images": [{"url": "https://i.scdn.co/image/ab67", "height": 640, "width": 640}]},
        "artists": [{"name": "ZAZ", "id": "4rXJt"}, {"name": "Féfé", "id": "x"}],
        "disc_number": 1,
        "duration_ms": 216000,
        "explicit": false,
        "external_urls": {"spotify": "https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh"},
        "id": "4iV5W9uYEdYUVa79Axb7Rh",
        "name": "Je veux ☕",
        "popularity": null,
        "type": "track",
        "uri": "spotify:track:4iV5W9uYEdYUVa79Axb7Rh",
        "is_local": false
      }
    },
    {
      "added_at": "2026-03-13T08:00:00Z",
      "track": {"id": "1bare", "name": "Bare", "artists": [], "album": null, "external_urls": null, "uri": null}
    },
    {"added_at": "2026-03-12T08:00:00Z", "track": {"id": null, "name": "Local file", "is_local": true}},
    {"added_at": "2026-03-11T08:00:00Z", "track": null}
  ],
  "limit": 50,
  "next": null,
  "offset": 0,
  "previous": null,
  "total": 4
}"#;

#[test]
fn reads_a_documented_saved_tracks_page() {
    let events = read(&ok(PAGE)).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["4iV5W9uYEdYUVa79Axb7Rh", "1bare"], "local files and null tracks skipped");
    let first = &events[0].ingredients;
    assert_eq!(first["name"], json!("Je veux ☕"));
    assert_eq!(first["artists"], json!("ZAZ, Féfé"));
    assert_eq!(first["album"], json!("Zaz"));
    assert_eq!(first["url"], json!("https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh"));
    assert_eq!(first["added_at"], json!("2026-03-14T09:26:53Z"));
    assert_eq!(first["track_id"], json!("4iV5W9uYEdYUVa79Axb7Rh"));
    assert_eq!(first["uri"], json!("spotify:track:4iV5W9uYEdYUVa79Axb7Rh"));
    let bare = &events[1].ingredients;
    assert_eq!(bare["artists"], json!(""));
    assert_eq!(bare["album"], json!(""));
    assert_eq!(bare["url"], json!("https://open.spotify.com/track/1bare"), "missing link rebuilt");
    assert_eq!(bare["uri"], json!("spotify:track:1bare"));
    let declared: Vec<_> =
        spotify::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
}

#[test]
fn empty_pages_and_error_bodies() {
    assert!(read(&ok(r#"{"items": [], "total": 0, "next": null}"#)).unwrap().is_empty());
    assert!(read(&ok(r#"{"total": 0}"#)).unwrap().is_empty());
    let expired = r#"{"error": {"status": 401, "message": "The access token expired"}}"#;
    assert!(matches!(read(&ok(expired)), Err(ConnectorError::AuthExpired { .. })));
    let limited = r#"{"error": {"status": 429, "message": "API rate limit exceeded"}}"#;
    assert!(matches!(read(&ok(limited)).unwrap_err().class(), ErrorClass::Retryable { .. }));
    let odd = r#"{"error": "server_error", "error_description": "Something broke"}"#;
    let e = read(&ok(odd)).unwrap_err();
    assert!(matches!(e, ConnectorError::BadResponse { .. }) && e.to_string().contains("Something broke"), "{e:?}");
    assert!(matches!(read(&ok("not json")), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn poll_request_lists_the_library_with_the_bearer_token() {
    let req = spotify::list_request("http://127.0.0.1:9/", &token()).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "http://127.0.0.1:9/v1/me/tracks?limit=50");
    assert!(req.headers.contains(&("Authorization".into(), "Bearer ya29.test".into())));
}

#[tokio::test]
async fn poll_request_defaults_to_the_real_api() {
    let p = params(json!({}));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.url, "https://api.spotify.com/v1/me/tracks?limit=50");
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { ref service }) if service == "spotify"));
}

#[test]
fn ids_uris_and_links_are_normalised() {
    for raw in [
        "4iV5W9uYEdYUVa79Axb7Rh",
        "spotify:track:4iV5W9uYEdYUVa79Axb7Rh",
        "https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh?si=abc123",
        "https://open.spotify.com/intl-fr/track/4iV5W9uYEdYUVa79Axb7Rh",
        " 4iV5W9uYEdYUVa79Axb7Rh ",
    ] {
        assert_eq!(spotify::normalise_id("track", raw).as_deref(), Some("4iV5W9uYEdYUVa79Axb7Rh"), "{raw}");
    }
    for bad in [
        "spotify:album:4iV5W9uYEdYUVa79Axb7Rh",
        "https://open.spotify.com/album/4iV5W9uYEdYUVa79Axb7Rh",
        "https://evil.example/track/4iV5W9uYEdYUVa79Axb7Rh",
        "../../me",
        "",
    ] {
        assert_eq!(spotify::normalise_id("track", bad), None, "{bad}");
    }
    assert_eq!(
        spotify::normalise_id("playlist", "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M?si=x").as_deref(),
        Some("37i9dQZF1DXcBWIGoYBM5M")
    );
}

/// A status, extra response headers and a JSON body.
type ErrorCase = (u16, Vec<(&'static str, &'static str)>, Value);

async fn add(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "area-1:evt-1:0", Some(&cred));
    spotify::add_to_playlist(&ctx, &params(p), base).await
}

#[tokio::test]
async fn add_to_playlist_posts_the_track_uri() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/playlists/37i9dQZF1DXcBWIGoYBM5M/items"))
        .and(header("Authorization", "Bearer ya29.test"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({"uris": ["spotify:track:4iV5W9uYEdYUVa79Axb7Rh"]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"snapshot_id": "abc"})))
        .expect(1)
        .mount(&server)
        .await;
    let out = add(
        &server.uri(),
        json!({
            "playlist_id": "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
            "track": "https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh?si=1"
        }),
    )
    .await
    .unwrap();
    assert!(out.summary.contains("added"), "{}", out.summary);
}

#[tokio::test]
async fn add_to_playlist_maps_errors() {
    let server = MockServer::start().await;
    let p = json!({"playlist_id": "37i9dQZF1DXcBWIGoYBM5M", "track": "4iV5W9uYEdYUVa79Axb7Rh"});
    let cases: Vec<ErrorCase> = vec![
        (401, vec![], json!({"error": {"status": 401, "message": "The access token expired"}})),
        (
            403,
            vec![],
            json!({"error": {"status": 403, "message": "You cannot add tracks to a playlist you don't own."}}),
        ),
        (404, vec![], json!({"error": {"status": 404, "message": "Resource not found"}})),
        (429, vec![("Retry-After", "12")], json!({"error": {"status": 429, "message": "API rate limit exceeded"}})),
        (502, vec![], json!({"error": {"status": 502, "message": "Bad gateway."}})),
    ];
    let mut results = Vec::new();
    for (status, headers, body) in cases {
        server.reset().await;
        let mut template = ResponseTemplate::new(status).set_body_json(body);
        for (k, v) in headers {
            template = template.insert_header(k, v);
        }
        Mock::given(method("POST")).respond_with(template).mount(&server).await;
        results.push(add(&server.uri(), p.clone()).await.unwrap_err());
    }
    assert_eq!(results[0].class(), ErrorClass::NeedsReconnect);
    assert_eq!(results[1].class(), ErrorClass::Permanent);
    assert!(results[1].to_string().contains("37i9dQZF1DXcBWIGoYBM5M"), "{}", results[1]);
    assert!(results[1].to_string().contains("don't own"), "{}", results[1]);
    assert_eq!(results[2].class(), ErrorClass::Permanent);
    assert!(results[2].to_string().contains("not found"), "{}", results[2]);
    assert_eq!(results[3].class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(12)) });
    assert!(matches!(results[4].class(), ErrorClass::Retryable { .. }));

    server.reset().await;
    let e = add(&server.uri(), json!({"playlist_id": "../me", "track": "4iV5W9uYEdYUVa79Axb7Rh"})).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "playlist_id"), "{e:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_reaction_uses_the_base_url_override() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/playlists/p1/items"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"snapshot_id": "s"})))
        .expect(1)
        .mount(&server)
        .await;
    let settings = Settings::from_pairs([("AREA_SPOTIFY_BASE_URL", server.uri())]);
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "k", Some(&cred));
    let reaction = spotify::service(&settings).reactions["add_to_playlist"].clone();
    let out = reaction.run(&ctx, &params(json!({"playlist_id": "p1", "track": "t1"}))).await;
    assert!(out.is_ok(), "{out:?}");
}

#[test]
fn poll_errors_honour_retry_after() {
    let limited = HttpResponseData {
        status: 429,
        headers: vec![("retry-after".into(), "5".into())],
        body: br#"{"error": {"status": 429, "message": "API rate limit exceeded"}}"#.to_vec(),
    };
    assert_eq!(
        spotify::poll_error(&limited).class(),
        ErrorClass::Retryable { retry_after: Some(Duration::from_secs(5)) }
    );
    let gone = HttpResponseData { status: 401, headers: vec![], body: vec![] };
    assert_eq!(spotify::poll_error(&gone).class(), ErrorClass::NeedsReconnect);
}
