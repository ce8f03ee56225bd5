//! `nasa` service: the APOD request (key from the connection, never leaked), reading saved
//! documented answers, error mappings, and one wiremock round trip.

use std::sync::Arc;
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::ConnectorError;
use area_core::connector::{Credential, ErrorClass, HttpResponseData, Params, PollContext, PollOutput, PolledAction};
use area_core::net::{HttpClient, NetConfig, RequestOptions};
use area_core::services::nasa;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "k3yV4lue-Secret_123";

fn no_params() -> Params {
    Params::new()
}

fn action() -> Arc<dyn PolledAction> {
    match nasa::service(&area_core::settings::Settings::from_env()).actions.get("new_apod") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("nasa.new_apod is not polled"),
    }
}

fn resp(status: u16, headers: Vec<(String, String)>, body: &str) -> HttpResponseData {
    HttpResponseData { status, headers, body: body.as_bytes().to_vec() }
}

fn read_with(credential: Option<&Credential>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
    let p = no_params();
    action().read(&PollContext { params: &p, cursor: None, credential }, response)
}

fn read(body: &str) -> Result<PollOutput, ConnectorError> {
    read_with(Some(&Credential::ApiKey(KEY.into())), &resp(200, vec![], body))
}

/// The documented image answer (nasa/apod-api README), copyright wrapped in newlines as NASA
/// often sends it, plus an unknown extra field.
const IMAGE: &str = r#"{
  "copyright": "\nJuan Filas\n",
  "date": "2024-03-25",
  "explanation": "Sculpted by stellar winds and radiation, a magnificent interstellar dust cloud by chance has assumed this recognizable shape — « la tête de cheval ».",
  "hdurl": "https://apod.nasa.gov/apod/image/2403/Horsehead_Filas_2400.jpg",
  "media_type": "image",
  "service_version": "v1",
  "title": "The Horsehead Nebula 馬頭星雲",
  "url": "https://apod.nasa.gov/apod/image/2403/Horsehead_Filas_1080.jpg",
  "resource": {"image_set": "apod"}
}"#;

/// A documented video answer with `thumbs=true`: no `hdurl`, no copyright, a thumbnail.
const VIDEO: &str = r#"{
  "date": "2024-03-26",
  "explanation": "What would it look like to fly over Mars?",
  "media_type": "video",
  "service_version": "v1",
  "thumbnail_url": "https://img.youtube.com/vi/abc123/0.jpg",
  "title": "Flying over Mars",
  "url": "https://www.youtube.com/embed/abc123?rel=0"
}"#;

#[test]
fn manifest_needs_an_api_key() {
    let s = nasa::service(&area_core::settings::Settings::from_env());
    assert_eq!(s.manifest.id, "nasa");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    assert_eq!(s.manifest.connection_id(), Some("nasa"));
    let a = s.manifest.actions.iter().find(|a| a.id == "new_apod").unwrap();
    assert_eq!(a.min_interval_secs, Some(3600));
    let ids: Vec<_> = a.ingredients.iter().map(|i| i.id).collect();
    for id in ["title", "date", "explanation", "url", "hdurl", "media_type", "copyright"] {
        assert!(ids.contains(&id), "missing ingredient {id}");
    }
}

#[test]
fn request_takes_the_key_from_the_connection() {
    let p = no_params();
    let cred = Credential::ApiKey(KEY.into());
    let req = action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.method, "GET");
    let url = url::Url::parse(&req.url).unwrap();
    assert_eq!(url.host_str(), Some("api.nasa.gov"));
    assert_eq!(url.path(), "/planetary/apod");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(q, [("thumbs".to_string(), "true".to_string())], "the key is never in the URL");
    assert!(req.headers.contains(&("X-Api-Key".to_string(), KEY.to_string())), "{:?}", req.headers);

    // DEMO_KEY works like any other key.
    let demo = Credential::ApiKey("DEMO_KEY".into());
    let req = action().request(&PollContext { params: &p, cursor: None, credential: Some(&demo) }).unwrap();
    assert!(!req.url.contains("DEMO_KEY"), "{}", req.url);
    assert!(req.headers.contains(&("X-Api-Key".to_string(), "DEMO_KEY".to_string())));
}

/// The manifest says what DEMO_KEY allows (api.nasa.gov, "DEMO_KEY Rate Limits").
#[test]
fn the_catalog_states_demo_key_limits() {
    let s = nasa::service(&area_core::settings::Settings::from_env());
    let text = serde_json::to_string(&s.manifest).unwrap();
    assert!(text.contains("DEMO_KEY"), "{text}");
    assert!(text.contains("50 requests a day") && text.contains("30 an hour"), "{text}");
}

#[test]
fn missing_or_blank_key_asks_to_reconnect() {
    let p = no_params();
    for cred in [None, Some(Credential::ApiKey("   ".into()))] {
        match action().request(&PollContext { params: &p, cursor: None, credential: cred.as_ref() }) {
            Err(e @ ConnectorError::AuthExpired { .. }) => {
                assert_eq!(e.class(), ErrorClass::NeedsReconnect);
                assert!(e.to_string().contains("area connect nasa"), "{e}");
            }
            other => panic!("{cred:?}: expected AuthExpired, got {other:?}"),
        }
    }
}

#[test]
fn reads_an_image_with_trimmed_copyright_and_unicode() {
    let out = read(IMAGE).unwrap();
    assert_eq!(out.cursor, None);
    assert_eq!(out.events.len(), 1);
    let e = &out.events[0];
    assert_eq!(e.key, "2024-03-25");
    let i = &e.ingredients;
    assert_eq!(i["title"], json!("The Horsehead Nebula 馬頭星雲"));
    assert_eq!(i["date"], json!("2024-03-25"));
    assert_eq!(i["copyright"], json!("Juan Filas"));
    assert_eq!(i["media_type"], json!("image"));
    assert_eq!(i["hdurl"], json!("https://apod.nasa.gov/apod/image/2403/Horsehead_Filas_2400.jpg"));
    assert_eq!(i["url"], json!("https://apod.nasa.gov/apod/image/2403/Horsehead_Filas_1080.jpg"));
    assert_eq!(i["thumbnail_url"], json!(""));
    assert!(i["explanation"].as_str().unwrap().ends_with("« la tête de cheval »."));
}

#[test]
fn reads_a_video_without_optional_fields_and_cuts_long_explanations() {
    let e = &read(VIDEO).unwrap().events[0];
    assert_eq!(e.key, "2024-03-26");
    assert_eq!(e.ingredients["hdurl"], json!(""));
    assert_eq!(e.ingredients["copyright"], json!(""));
    assert_eq!(e.ingredients["thumbnail_url"], json!("https://img.youtube.com/vi/abc123/0.jpg"));

    let long: Value =
        json!({"date": "2024-03-27", "title": "t", "explanation": "é".repeat(5000), "url": "u", "media_type": "image"});
    let e = &read(&long.to_string()).unwrap().events[0];
    let explanation = e.ingredients["explanation"].as_str().unwrap();
    assert_eq!(explanation.chars().count(), nasa::EXPLANATION_MAX_CHARS + 1, "cut, plus the ellipsis");
    assert!(explanation.ends_with('…'));
}

#[test]
fn a_new_day_is_a_new_key_and_the_same_day_is_the_same_key() {
    let a = read(IMAGE).unwrap().events[0].key.clone();
    let again = read(IMAGE).unwrap().events[0].key.clone();
    let b = read(VIDEO).unwrap().events[0].key.clone();
    assert_eq!(a, again);
    assert_ne!(a, b);
    // The start_date form answers an array, oldest first.
    let arr = format!("[{IMAGE}, {VIDEO}]");
    let keys: Vec<_> = read(&arr).unwrap().events.into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["2024-03-25", "2024-03-26"]);
}

#[test]
fn error_bodies_and_statuses_map_per_issue_4_without_leaking_the_key() {
    let cred = Credential::ApiKey(KEY.into());
    let check_no_key = |e: &ConnectorError| {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
    };

    // The gateway's invalid-key answer, as a 403 and inside a 200.
    let invalid = r#"{"error":{"code":"API_KEY_INVALID","message":"An invalid api_key was supplied. Get one at https://api.nasa.gov:443"}}"#;
    for status in [403, 200] {
        match read_with(Some(&cred), &resp(status, vec![], invalid)) {
            Err(e @ ConnectorError::AuthExpired { .. }) => assert_eq!(e.class(), ErrorClass::NeedsReconnect),
            other => panic!("{status}: expected AuthExpired, got {other:?}"),
        }
    }
    match read_with(Some(&cred), &resp(401, vec![], "")) {
        Err(ConnectorError::AuthExpired { service }) => assert_eq!(service, "nasa"),
        other => panic!("401: expected AuthExpired, got {other:?}"),
    }

    // Rate limit with Retry-After.
    let over =
        r#"{"error":{"code":"OVER_RATE_LIMIT","message":"You have exceeded your rate limit. Try again later."}}"#;
    match read_with(Some(&cred), &resp(429, vec![("retry-after".into(), "120".into())], over)) {
        Err(e @ ConnectorError::Status { status: 429, .. }) => {
            assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(120)) });
        }
        other => panic!("429: expected Status, got {other:?}"),
    }

    // APOD's own error body echoing the request (with the key) in a 404 and in a 200.
    let echo = format!(
        r#"{{"code":404,"msg":"No data available for date: 2024-03-27 (api_key={KEY})","service_version":"v1"}}"#
    );
    for status in [404, 200] {
        match read_with(Some(&cred), &resp(status, vec![], &echo)) {
            Err(e @ ConnectorError::Status { status: 404, .. }) => {
                assert_eq!(e.class(), ErrorClass::Permanent);
                check_no_key(&e);
                assert!(e.to_string().contains("Astronomy Picture of the Day"), "names the resource: {e}");
                assert!(e.to_string().contains("<redacted>"), "{e}");
            }
            other => panic!("{status}: expected Status 404, got {other:?}"),
        }
    }
    // A plain-text 500 echoing the key.
    match read_with(Some(&cred), &resp(500, vec![], &format!("upstream failed for api_key={KEY}"))) {
        Err(e @ ConnectorError::Status { status: 500, .. }) => {
            assert_eq!(e.class(), ErrorClass::Retryable { retry_after: None });
            check_no_key(&e);
        }
        other => panic!("500: expected Status, got {other:?}"),
    }
    for body in ["not json", "42", r#"{"title": "no date"}"#] {
        match read(body) {
            Err(e @ ConnectorError::BadResponse { .. }) => check_no_key(&e),
            other => panic!("{body}: expected BadResponse, got {other:?}"),
        }
    }
}

/// The api.data.gov gateway in front of api.nasa.gov reads the key from the `X-Api-Key` header
/// (api.data.gov/docs/developer-manual): the fake refuses any request with `api_key` in its query
/// and answers only when the header carries the key.
#[tokio::test]
async fn round_trip_against_a_fake_server() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param_contains("api_key", ""))
        .respond_with(ResponseTemplate::new(400).set_body_string("the key must not be in the URL"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/planetary/apod"))
        .and(wiremock::matchers::header("x-api-key", "DEMO_KEY"))
        .and(query_param("thumbs", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_string(VIDEO))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let p = no_params();
    let cred = Credential::ApiKey("DEMO_KEY".into());
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let mut req = action().request(&ctx).unwrap();
    // Keep path and query, aim at the fake server (the env override would race other tests
    // in this binary that assert the default host).
    let real = url::Url::parse(&req.url).unwrap();
    req.url = format!("{}{}?{}", server.uri(), real.path(), real.query().unwrap_or(""));
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let response = client.send(&req, &RequestOptions::default()).await.unwrap();
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let out = action().read(&ctx, &response).unwrap();
    assert_eq!(out.events[0].key, "2024-03-26");
    let received = server.received_requests().await.unwrap();
    assert!(received.iter().all(|r| !r.url.query_pairs().any(|(k, _)| k == "api_key")));
}

proptest::proptest! {
    #[test]
    fn read_never_panics(body in r#"[\[\]\{\}",:a-z0-9._ -]{0,200}"#, status in 100u16..600) {
        let cred = Credential::ApiKey(KEY.into());
        let _ = read_with(Some(&cred), &resp(status, vec![], &body));
    }
}
