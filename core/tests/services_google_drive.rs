//! `google_drive` service: reading saved `files.list` responses, building the poll request
//! (Drive query escaping), the multipart `create_text_file` upload against a local wiremock
//! server, and error mapping.
//!
//! Services are built with the settings each test wants (`AREA_GOOGLE_DRIVE_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionOutput,
};
use area_core::services::google::google_drive;
use area_core::settings::Settings;
use kit::{client, ok, params, reaction_ctx};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token() -> Credential {
    Credential::OAuth2 { access_token: "ya29.test".into(), account: None }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match google_drive::service(&Settings::empty()).actions.get("new_file") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("google_drive.new_file is not polled"),
    }
}

fn read(p: Value, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

#[test]
fn manifest_uses_the_shared_google_connection() {
    let m = google_drive::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "google_drive");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("google"));
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.id, "google");
    assert_eq!(oauth.scopes, ["https://www.googleapis.com/auth/drive"]);
    assert_eq!(oauth.extra_auth_params, ["access_type=offline", "prompt=consent"]);
    assert!(!google_drive::service(&Settings::empty()).reactions["create_text_file"].idempotent());
}

const FILES: &str = r#"{
  "kind": "drive#fileList",
  "incompleteSearch": false,
  "files": [
    {
      "id": "1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ",
      "name": "Facture mars — été 2026.pdf",
      "mimeType": "application/pdf",
      "webViewLink": "https://drive.google.com/file/d/1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ/view?usp=drivesdk",
      "createdTime": "2026-03-14T09:26:53.589Z",
      "owners": [{"displayName": "Zoé Martin", "kind": "drive#user", "me": true, "emailAddress": "zoe@example.com"}],
      "size": "12345"
    },
    {
      "id": "1sheet",
      "name": "Budget",
      "mimeType": "application/vnd.google-apps.spreadsheet",
      "webViewLink": null,
      "createdTime": "2026-03-13T08:00:00.000Z"
    },
    {"name": "no id, skipped"},
    {"id": "1shared", "owners": [], "unknownField": {"nested": [1, 2]}}
  ]
}"#;

#[test]
fn reads_a_documented_file_list() {
    let events = read(json!({"folder_id": "0BxFolder"}), &ok(FILES)).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ", "1sheet", "1shared"]);
    let first = &events[0].ingredients;
    assert_eq!(first["id"], json!("1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ"));
    assert_eq!(first["name"], json!("Facture mars — été 2026.pdf"));
    assert_eq!(first["mime_type"], json!("application/pdf"));
    assert_eq!(
        first["url"],
        json!("https://drive.google.com/file/d/1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ/view?usp=drivesdk")
    );
    assert_eq!(first["created_at"], json!("2026-03-14T09:26:53.589Z"));
    assert_eq!(first["owner"], json!("Zoé Martin"));
    assert_eq!(
        events[1].ingredients["url"],
        json!("https://drive.google.com/file/d/1sheet/view"),
        "null link → fallback"
    );
    assert_eq!(events[1].ingredients["owner"], json!(""), "no owners → empty");
    assert_eq!(events[2].ingredients["name"], json!(""));
    let declared: Vec<_> =
        google_drive::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    for e in &events {
        assert_eq!(e.ingredients.keys().map(String::as_str).collect::<Vec<_>>().len(), declared.len());
        assert!(declared.iter().all(|d| e.ingredients.contains_key(*d)));
    }
}

#[test]
fn empty_folders_and_error_bodies() {
    assert!(read(json!({"folder_id": "x"}), &ok(r#"{"kind": "drive#fileList", "files": []}"#)).unwrap().is_empty());
    assert!(read(json!({"folder_id": "x"}), &ok(r#"{"incompleteSearch": false}"#)).unwrap().is_empty());
    let not_found = r#"{"error": {"code": 404, "message": "File not found: x.", "errors": [{"reason": "notFound"}]}}"#;
    let e = read(json!({"folder_id": "x"}), &ok(not_found)).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("Drive folder \"x\""), "{e}");
    assert!(matches!(read(json!({"folder_id": "x"}), &ok("[1, 2]")), Err(ConnectorError::BadResponse { .. })));
}

#[test]
fn poll_request_escapes_the_folder_and_asks_for_the_fields() {
    let p = params(json!({"folder_id": "ab'c\\d"}));
    let req = google_drive::list_request("http://127.0.0.1:9", &p, &token()).unwrap();
    assert_eq!(req.method, "GET");
    let url = url::Url::parse(&req.url).unwrap();
    assert_eq!(url.path(), "/drive/v3/files");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["q"], r"'ab\'c\\d' in parents and trashed=false");
    assert_eq!(q["orderBy"], "createdTime desc");
    assert_eq!(q["pageSize"], "50");
    assert_eq!(q["fields"], "files(id,name,mimeType,webViewLink,createdTime,owners(displayName))");
    assert!(req.url.contains("q=%27ab%5C%27c%5C%5Cd%27+in+parents+and+trashed%3Dfalse"), "{}", req.url);
    assert!(req.headers.contains(&("Authorization".into(), "Bearer ya29.test".into())));

    for link in [
        "https://drive.google.com/drive/folders/0BxFolder?usp=sharing",
        "https://drive.google.com/drive/u/1/folders/0BxFolder",
    ] {
        let req =
            google_drive::list_request("http://127.0.0.1:9", &params(json!({"folder_id": link})), &token()).unwrap();
        assert!(req.url.contains("q=%270BxFolder%27+in+parents"), "{link}: {}", req.url);
    }
    assert!(matches!(
        google_drive::list_request("http://127.0.0.1:9", &params(json!({})), &token()),
        Err(ConnectorError::BadParams { .. })
    ));
}

#[tokio::test]
async fn poll_request_defaults_to_the_real_api() {
    let p = params(json!({"folder_id": "root"}));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert!(req.url.starts_with("https://www.googleapis.com/drive/v3/files?q=%27root%27+in+parents"), "{}", req.url);
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { .. })));
}

async fn create(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "area-1:evt-1:0", Some(&cred));
    google_drive::create_text_file(&ctx, &params(p), base).await
}

#[tokio::test]
async fn create_text_file_uploads_metadata_and_content() {
    let server = MockServer::start().await;
    let content_type = format!("multipart/related; boundary={}", google_drive::BOUNDARY);
    Mock::given(method("POST"))
        .and(path("/upload/drive/v3/files"))
        .and(query_param("uploadType", "multipart"))
        .and(header("Authorization", "Bearer ya29.test"))
        .and(header("Content-Type", content_type.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "drive#file", "id": "1newfile", "name": "Note.txt", "mimeType": "text/plain", "webViewLink": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let out = create(
        &server.uri(),
        json!({"folder_id": "0BxFolder", "name": "Note \"été\".txt", "content": "Ligne 1\nCafé ☕\n"}),
    )
    .await
    .unwrap();
    assert!(out.summary.contains("1newfile"), "{}", out.summary);

    let requests = server.received_requests().await.unwrap();
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    let delimiter = format!("--{}", google_drive::BOUNDARY);
    assert!(body.starts_with(&format!("{delimiter}\r\n")), "{body}");
    assert!(body.ends_with(&format!("{delimiter}--\r\n")), "{body}");
    let parts: Vec<&str> = body.split(&delimiter).collect();
    assert_eq!(parts.len(), 4, "preamble, two parts, closing: {body}");
    let (meta_head, meta_body) = parts[1].split_once("\r\n\r\n").unwrap();
    assert!(meta_head.contains("Content-Type: application/json"), "{meta_head}");
    let metadata: Value = serde_json::from_str(meta_body.trim_end()).unwrap();
    assert_eq!(metadata, json!({"name": "Note \"été\".txt", "parents": ["0BxFolder"], "mimeType": "text/plain"}));
    let (text_head, text_body) = parts[2].split_once("\r\n\r\n").unwrap();
    assert!(text_head.contains("Content-Type: text/plain; charset=UTF-8"), "{text_head}");
    assert_eq!(text_body, "Ligne 1\nCafé ☕\n\r\n");
}

#[tokio::test]
async fn create_text_file_maps_errors() {
    let server = MockServer::start().await;
    let p = json!({"folder_id": "0BxGone", "name": "a.txt", "content": "x"});

    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404,
            "message": "File not found: 0BxGone.", "errors": [{"domain": "global", "reason": "notFound"}]}})))
        .mount(&server)
        .await;
    let e = create(&server.uri(), p.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("0BxGone") && e.to_string().contains("not found"), "{e}");

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403,
            "message": "User rate limit exceeded.", "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded"}]}})))
        .mount(&server)
        .await;
    let e = create(&server.uri(), p.clone()).await.unwrap_err();
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }), "{e:?}");

    server.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let e = create(&server.uri(), p.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NeedsReconnect);

    server.reset().await;
    let e = create(&server.uri(), json!({"folder_id": "x", "content": "no name"})).await.unwrap_err();
    assert!(matches!(e, ConnectorError::BadParams { ref param, .. } if param == "name"), "{e:?}");
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing sent for bad params");
}

#[tokio::test]
async fn the_reaction_uses_the_base_url_override() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/upload/drive/v3/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "f1"})))
        .expect(1)
        .mount(&server)
        .await;
    let settings = Settings::from_pairs([("AREA_GOOGLE_DRIVE_BASE_URL", server.uri())]);
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "k", Some(&cred));
    let reaction = google_drive::service(&settings).reactions["create_text_file"].clone();
    let out = reaction.run(&ctx, &params(json!({"folder_id": "root", "name": "n.txt", "content": ""}))).await;
    assert!(out.unwrap().summary.contains("f1"));
}

#[test]
fn poll_errors_follow_google_rules() {
    let p = params(json!({"folder_id": "0BxFolder"}));
    let limited =
        r#"{"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [{"reason": "rateLimitExceeded"}]}}"#;
    let e = google_drive::poll_error(&p, &HttpResponseData { status: 403, headers: vec![], body: limited.into() });
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }), "{e:?}");
    let e = google_drive::poll_error(&p, &HttpResponseData { status: 404, headers: vec![], body: b"{}".to_vec() });
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("0BxFolder"), "{e}");
}

/// Drive's files.list and files.create only see shared drives with `supportsAllDrives=true`
/// (and, for listing, `includeItemsFromAllDrives=true`): developers.google.com/workspace/drive/api/
/// guides/enable-shareddrives. The fake answers only requests carrying them.
#[tokio::test]
async fn list_and_upload_reach_shared_drives() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(query_param("supportsAllDrives", "true"))
        .and(query_param("includeItemsFromAllDrives", "true"))
        .and(header("Authorization", "Bearer ya29.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"files": [
            {"id": "1shared", "name": "Budget.xlsx", "mimeType": "application/vnd.ms-excel",
             "createdTime": "2024-03-05T10:30:00.000Z"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/upload/drive/v3/files"))
        .and(query_param("uploadType", "multipart"))
        .and(query_param("supportsAllDrives", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1new", "name": "n.txt"})))
        .expect(1)
        .mount(&server)
        .await;
    let p = params(json!({"folder_id": "0ASharedDriveFolder"}));
    let req = google_drive::list_request(&server.uri(), &p, &token()).unwrap();
    let response = client().send(&req, &Default::default()).await.unwrap();
    assert_eq!(response.status, 200, "the list must ask for all drives: {}", req.url);
    let cred = token();
    let events = poll_action()
        .read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, &response)
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key, "1shared");

    let out = create(&server.uri(), json!({"folder_id": "0ASharedDriveFolder", "name": "n.txt", "content": "x"})).await;
    assert!(out.is_ok(), "the upload must support all drives: {out:?}");
}
