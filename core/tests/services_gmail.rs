//! `gmail` service: reading saved `messages.list` responses, building the poll request, the
//! `send_mail` reaction against a local wiremock server (the RFC 5322 message decoded and
//! checked), and Google's error mapping.
//!
//! Services are built with the settings each test wants (`AREA_GMAIL_BASE_URL` pointing at a
//! local server, or none for the real API): no test changes the process environment.

mod kit;

use kit::{client, ok, params, reaction_ctx};
use std::time::Duration;

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, PollContext, PolledAction, ReactionOutput,
};
use area_core::services::google::gmail;
use area_core::settings::Settings;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token() -> Credential {
    Credential::OAuth2 { access_token: "ya29.test".into(), account: None }
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponseData {
    HttpResponseData {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn poll_action() -> std::sync::Arc<dyn PolledAction> {
    match gmail::service(&Settings::empty()).actions.get("new_mail") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("gmail.new_mail is not polled"),
    }
}

fn read(p: Value, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let p = params(p);
    let cred = token();
    poll_action().read(&PollContext { params: &p, cursor: None, credential: Some(&cred) }, response).map(|o| o.events)
}

/// Decodes standard or URL-safe base64, padded or not (test-side, independent of the crate).
fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

/// Decodes a header value made of RFC 2047 `=?UTF-8?B?…?=` words (folding removed).
fn decode_words(value: &str) -> String {
    value
        .split_whitespace()
        .map(|w| {
            let inner = w.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect("an encoded-word");
            String::from_utf8(b64decode(inner)).unwrap()
        })
        .collect()
}

/// Splits a raw RFC 5322 message into unfolded headers and the body.
fn split_message(raw: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a blank line after the headers");
    let unfolded = head.replace("\r\n ", " ");
    assert!(!unfolded.contains("\r\n\t"));
    let headers = unfolded
        .split("\r\n")
        .map(|line| {
            let (k, v) = line.split_once(": ").unwrap_or_else(|| panic!("bad header line {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect();
    (headers, body.to_string())
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or_else(|| {
        panic!("no {name} header in {headers:?}");
    })
}

// ---------------------------------------------------------------------------------------------
// Manifest

#[test]
fn manifest_uses_the_shared_google_connection() {
    let m = gmail::service(&Settings::empty()).manifest;
    assert_eq!(m.id, "gmail");
    assert_eq!(m.auth, AuthKind::OAuth2);
    assert_eq!(m.connection_id(), Some("google"));
    let oauth = m.oauth.unwrap();
    assert_eq!(oauth.auth_url, "https://accounts.google.com/o/oauth2/v2/auth");
    assert_eq!(oauth.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        oauth.scopes,
        ["https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/gmail.send"]
    );
    assert!(oauth.extra_auth_params.contains(&"access_type=offline"));
    assert!(!gmail::service(&Settings::empty()).reactions["send_mail"].idempotent(), "sending twice sends two mails");
}

// ---------------------------------------------------------------------------------------------
// new_mail: read

#[test]
fn reads_a_documented_message_list() {
    let body = r#"{
      "messages": [
        {"id": "18c2f5a9e0b4d7c1", "threadId": "18c2f5a9e0b4d7c0", "labelIds": ["INBOX"]},
        {"id": "18c2f5a9e0b4d7c2", "threadId": null, "extra": {"é": "ü"}},
        {"threadId": "no-id-here"},
        {"id": "18c2f5a9e0b4d7c3"}
      ],
      "nextPageToken": "09876543210",
      "resultSizeEstimate": 201
    }"#;
    let events = read(json!({"query": "in:inbox"}), &ok(body)).unwrap();
    let keys: Vec<_> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["18c2f5a9e0b4d7c1", "18c2f5a9e0b4d7c2", "18c2f5a9e0b4d7c3"], "an item without id is skipped");
    let first = &events[0].ingredients;
    assert_eq!(first["id"], json!("18c2f5a9e0b4d7c1"));
    assert_eq!(first["thread_id"], json!("18c2f5a9e0b4d7c0"));
    assert_eq!(first["url"], json!("https://mail.google.com/mail/u/0/#inbox/18c2f5a9e0b4d7c1"));
    assert_eq!(events[1].ingredients["thread_id"], json!(""), "null thread id → empty");
    let declared: Vec<_> =
        gmail::service(&Settings::empty()).manifest.actions[0].ingredients.iter().map(|i| i.id).collect();
    let produced: Vec<_> = first.keys().map(String::as_str).collect();
    assert_eq!(produced.len(), declared.len());
    assert!(declared.iter().all(|d| produced.contains(d)), "{declared:?} vs {produced:?}");
}

#[test]
fn no_match_means_no_messages_key_and_no_events() {
    assert!(read(json!({}), &ok(r#"{"resultSizeEstimate": 0}"#)).unwrap().is_empty());
    assert!(read(json!({}), &ok(r#"{"messages": null, "resultSizeEstimate": 0}"#)).unwrap().is_empty());
    assert!(read(json!({}), &ok(r#"{"messages": []}"#)).unwrap().is_empty());
}

#[test]
fn an_error_body_in_a_200_is_an_error() {
    let expired = r#"{"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                     "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError"}],
                     "status": "UNAUTHENTICATED"}}"#;
    assert!(matches!(read(json!({}), &ok(expired)), Err(ConnectorError::AuthExpired { .. })));
    let limited = r#"{"error": {"code": 429, "message": "Too many", "errors": [{"reason": "rateLimitExceeded"}]}}"#;
    let e = read(json!({}), &ok(limited)).unwrap_err();
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }), "{e:?}");
    let weird = r#"{"error": "something went wrong"}"#;
    assert!(matches!(read(json!({}), &ok(weird)), Err(ConnectorError::BadResponse { .. })));
    assert!(matches!(read(json!({}), &ok("<html>502</html>")), Err(ConnectorError::BadResponse { .. })));
}

// ---------------------------------------------------------------------------------------------
// new_mail: request

#[test]
fn poll_request_encodes_the_query_and_sends_the_bearer_token() {
    let p = params(json!({"query": "from:zoé@exemple.fr is:unread & label:\"a/b\""}));
    let req = gmail::list_request("http://127.0.0.1:9/", &p, &token()).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/gmail/v1/users/me/messages?q=from%3Azo%C3%A9%40exemple.fr+is%3Aunread+%26+label%3A%22a%2Fb%22&maxResults=20"
    );
    let url = url::Url::parse(&req.url).unwrap();
    let q: Vec<_> = url.query_pairs().collect();
    assert_eq!(q[0].1, "from:zoé@exemple.fr is:unread & label:\"a/b\"", "decodes back to the query");
    assert!(req.headers.contains(&("Authorization".into(), "Bearer ya29.test".into())));
    assert!(req.body.is_none());
}

#[tokio::test]
async fn poll_request_defaults_to_the_real_api_and_inbox() {
    let p = params(json!({}));
    let cred = token();
    let req = poll_action().request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
    assert_eq!(req.url, "https://gmail.googleapis.com/gmail/v1/users/me/messages?q=in%3Ainbox&maxResults=20");
    assert!(req.headers.contains(&("Authorization".into(), "Bearer ya29.test".into())));
    let missing = poll_action().request(&PollContext { params: &p, cursor: None, credential: None });
    assert!(matches!(missing, Err(ConnectorError::AuthExpired { ref service }) if service == "gmail"));
}

// ---------------------------------------------------------------------------------------------
// send_mail

#[test]
fn built_message_has_encoded_headers_and_a_base64_body() {
    let raw = gmail::build_message("zoe@example.com, Zoé Martin <zm@example.fr>", "Café ☕ news", "Hello\nLine 2 ünï")
        .unwrap();
    let (headers, body) = split_message(&raw);
    assert_eq!(get(&headers, "To"), "zoe@example.com, =?UTF-8?B?Wm/DqSBNYXJ0aW4=?= <zm@example.fr>");
    assert_eq!(decode_words(get(&headers, "Subject")), "Café ☕ news");
    assert_eq!(get(&headers, "MIME-Version"), "1.0");
    assert_eq!(get(&headers, "Content-Type"), "text/plain; charset=UTF-8");
    assert_eq!(get(&headers, "Content-Transfer-Encoding"), "base64");
    assert_eq!(String::from_utf8(b64decode(&body)).unwrap(), "Hello\r\nLine 2 ünï");
    assert!(raw.split("\r\n").all(|l| l.len() <= 78), "short lines");

    let plain = gmail::build_message("a@b.fr", "Plain subject", "").unwrap();
    assert!(plain.contains("\r\nSubject: Plain subject\r\n"), "{plain}");

    let long = "é".repeat(300);
    let raw = gmail::build_message("a@b.fr", &long, &"x".repeat(5000)).unwrap();
    assert!(raw.split("\r\n").all(|l| l.len() <= 78), "long subject folded, body wrapped");
    let (headers, _) = split_message(&raw);
    assert_eq!(decode_words(get(&headers, "Subject")), long);
}

#[test]
fn header_injection_and_bad_addresses_are_refused() {
    for (to, subject, param) in [
        ("a@b.fr", "Hi\r\nBcc: evil@x.fr", "subject"),
        ("a@b.fr", "Hi\nBcc: evil@x.fr", "subject"),
        ("a@b.fr\r\nBcc: evil@x.fr", "Hi", "to"),
        ("not an address", "Hi", "to"),
        ("", "Hi", "to"),
    ] {
        match gmail::send_request("http://127.0.0.1:9", &params(json!({"to": to, "subject": subject})), &token()) {
            Err(ConnectorError::BadParams { param: p, .. }) => assert_eq!(p, param, "{to:?} / {subject:?}"),
            other => panic!("expected BadParams for {to:?} / {subject:?}, got {other:?}"),
        }
    }
}

/// A status, extra response headers and a JSON body.
type ErrorCase = (u16, Vec<(&'static str, &'static str)>, Value);

async fn send(base: &str, p: Value) -> Result<ReactionOutput, ConnectorError> {
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "area-1:evt-1:0", Some(&cred));
    gmail::send_mail(&ctx, &params(p), base).await
}

#[tokio::test]
async fn send_mail_posts_the_raw_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/messages/send"))
        .and(header("Authorization", "Bearer ya29.test"))
        .and(header("Content-Type", "application/json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "18c3aa", "threadId": "18c3aa", "labelIds": ["SENT"], "extra": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = send(
        &server.uri(),
        json!({"to": "zoe@example.com", "subject": "Nouvel épisode 🎬", "body": "Regarde ça :\nhttps://youtu.be/x"}),
    )
    .await
    .unwrap();
    assert!(out.summary.contains("18c3aa"), "{}", out.summary);

    let requests = server.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let raw = sent["raw"].as_str().unwrap();
    assert!(!raw.contains('+') && !raw.contains('/'), "base64url alphabet");
    let message = String::from_utf8(b64decode(raw)).unwrap();
    let (headers, body) = split_message(&message);
    assert_eq!(get(&headers, "To"), "zoe@example.com");
    assert_eq!(decode_words(get(&headers, "Subject")), "Nouvel épisode 🎬");
    assert_eq!(get(&headers, "Content-Type"), "text/plain; charset=UTF-8");
    assert_eq!(String::from_utf8(b64decode(&body)).unwrap(), "Regarde ça :\r\nhttps://youtu.be/x");
}

#[tokio::test]
async fn send_mail_without_a_connection_asks_to_connect() {
    let http = client();
    let ctx = reaction_ctx(&http, "k", None);
    let r = gmail::send_mail(&ctx, &params(json!({"to": "a@b.fr", "subject": "x"})), "http://127.0.0.1:9").await;
    assert!(matches!(r, Err(ConnectorError::AuthExpired { .. })), "{r:?}");
}

#[tokio::test]
async fn send_mail_maps_error_statuses() {
    let server = MockServer::start().await;
    let cases: Vec<ErrorCase> = vec![
        (401, vec![], json!({"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}})),
        (
            403,
            vec![("Retry-After", "30")],
            json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
                   "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User Rate Limit Exceeded"}]}}),
        ),
        (
            403,
            vec![],
            json!({"error": {"code": 403, "message": "Insufficient Permission",
                   "errors": [{"reason": "insufficientPermissions"}]}}),
        ),
        (500, vec![], json!({"error": {"code": 500, "message": "Backend Error"}})),
    ];
    let mut results = Vec::new();
    for (status, headers, body) in cases {
        server.reset().await;
        let mut template = ResponseTemplate::new(status).set_body_json(body);
        for (k, v) in headers {
            template = template.insert_header(k, v);
        }
        Mock::given(method("POST")).respond_with(template).mount(&server).await;
        results.push(send(&server.uri(), json!({"to": "a@b.fr", "subject": "x"})).await.unwrap_err());
    }
    assert!(matches!(results[0], ConnectorError::AuthExpired { .. }), "{:?}", results[0]);
    assert_eq!(results[1].class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) });
    assert_eq!(results[2].class(), ErrorClass::Permanent);
    assert!(results[2].to_string().contains("reconnect Google"), "{}", results[2]);
    assert!(matches!(results[3].class(), ErrorClass::Retryable { .. }), "{:?}", results[3]);
}

#[tokio::test]
async fn the_reaction_uses_the_base_url_override() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/messages/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1"})))
        .expect(1)
        .mount(&server)
        .await;
    let settings = Settings::from_pairs([("AREA_GMAIL_BASE_URL", server.uri())]);
    let http = client();
    let cred = token();
    let ctx = reaction_ctx(&http, "k", Some(&cred));
    let reaction = gmail::service(&settings).reactions["send_mail"].clone();
    let out = reaction.run(&ctx, &params(json!({"to": "a@b.fr", "subject": "s", "body": "b"}))).await;
    assert!(out.unwrap().summary.contains("m1"));
}

// ---------------------------------------------------------------------------------------------
// Google error mapping (shared by gmail, google_drive and youtube)

#[test]
fn google_errors_are_classified() {
    let e = gmail::google_error("gmail", "the thing", &resp(401, &[], ""));
    assert!(matches!(e, ConnectorError::AuthExpired { ref service } if service == "gmail"));

    let body = r#"{"error": {"code": 403, "message": "Rate Limit Exceeded",
                   "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}]}}"#;
    let e = gmail::google_error("gmail", "the thing", &resp(403, &[], body));
    assert!(matches!(e, ConnectorError::Status { status: 429, .. }), "{e:?}");
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }));

    // The newer google.rpc shape.
    let body = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded",
                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]}}"#;
    let e = gmail::google_error("gmail", "the thing", &resp(429, &[("retry-after", "7")], body));
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(7)) });

    let body = r#"{"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
                   "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}}"#;
    let e = gmail::google_error("youtube", "the uploads", &resp(403, &[], body));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("daily API quota"), "{e}");

    let body = r#"{"error": {"code": 404, "message": "File not found: abc.", "errors": [{"reason": "notFound"}]}}"#;
    let e = gmail::google_error("google_drive", "Drive folder \"abc\"", &resp(404, &[], body));
    assert_eq!(e.class(), ErrorClass::Permanent);
    let msg = e.to_string();
    assert!(msg.contains("Drive folder \"abc\"") && msg.contains("not found"), "{msg}");

    let e = gmail::google_error("gmail", "the thing", &resp(403, &[], "<html>Forbidden</html>"));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("the thing"), "{e}");

    let e = gmail::google_error("gmail", "the thing", &resp(503, &[], ""));
    assert!(matches!(e.class(), ErrorClass::Retryable { .. }));
}

#[test]
fn poll_errors_name_the_search() {
    let p = params(json!({"query": "label:factures"}));
    let e = gmail::poll_error(&p, &resp(404, &[], r#"{"error": {"code": 404, "message": "Not Found"}}"#));
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("label:factures"), "{e}");
    assert_eq!(gmail::poll_error(&p, &resp(401, &[], "")).class(), ErrorClass::NeedsReconnect);
}
