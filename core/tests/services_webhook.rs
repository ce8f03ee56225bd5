//! `webhook` service: body parsing into ingredients and the HTTP status of each refusal.

use area_core::catalog::ActionKind;
use area_core::connector::Ingredients;
use area_core::services::webhook::{self, event_from_body, suggested_key, WebhookBodyError};
use serde_json::json;

const MAX: usize = 64 * 1024;

#[test]
fn json_object_fields_become_ingredients() {
    let body = br#"{"temp": 21.5, "room": "salon \u00e9t\u00e9 \u2600", "on": true, "tags": ["a","b"], "meta": {"x": 1}, "none": null}"#;
    let ing = event_from_body(Some("application/json"), body, MAX).unwrap();
    assert_eq!(ing["temp"], json!(21.5));
    assert_eq!(ing["room"], json!("salon été ☀"));
    assert_eq!(ing["on"], json!(true));
    assert_eq!(ing["tags"], json!(["a", "b"]));
    assert_eq!(ing["meta"], json!({"x": 1}));
    assert_eq!(ing["none"], json!(null));
    assert_eq!(ing.len(), 6);
}

#[test]
fn content_type_parameters_case_and_json_suffix_are_accepted() {
    for ct in
        ["application/json; charset=utf-8", "Application/JSON", " application/json ", "application/vnd.github+json"]
    {
        let ing = event_from_body(Some(ct), br#"{"a": 1}"#, MAX).unwrap();
        assert_eq!(ing["a"], json!(1), "{ct}");
    }
}

#[test]
fn form_fields_become_string_ingredients() {
    let body = b"name=J%C3%A9r%C3%B4me+Dupont&msg=a%26b%3Dc&tag=x&tag=y&empty=";
    let ing = event_from_body(Some("application/x-www-form-urlencoded; charset=UTF-8"), body, MAX).unwrap();
    assert_eq!(ing["name"], json!("Jérôme Dupont"));
    assert_eq!(ing["msg"], json!("a&b=c"));
    assert_eq!(ing["tag"], json!(["x", "y"]), "repeated keys keep every value in order");
    assert_eq!(ing["empty"], json!(""));
    assert_eq!(event_from_body(Some("application/x-www-form-urlencoded"), b"", MAX).unwrap(), Ingredients::new());
}

#[test]
fn wrong_or_missing_content_type_is_415() {
    for ct in [Some("text/plain"), Some("multipart/form-data; boundary=x"), Some("application/xml"), Some(""), None] {
        let err = event_from_body(ct, br#"{"a": 1}"#, MAX).unwrap_err();
        assert!(matches!(err, WebhookBodyError::UnsupportedContentType(_)), "{ct:?}: {err:?}");
        assert_eq!(err.http_status(), 415, "{ct:?}");
    }
}

#[test]
fn malformed_json_is_400() {
    for body in [&b"{\"a\": "[..], b"", b"{'a': 1}", b"\xff\xfe"] {
        let err = event_from_body(Some("application/json"), body, MAX).unwrap_err();
        assert!(matches!(err, WebhookBodyError::Malformed(_)), "{body:?}: {err:?}");
        assert_eq!(err.http_status(), 400);
    }
}

#[test]
fn non_object_json_is_400() {
    for (body, kind) in
        [("[1,2]", "an array"), ("\"hi\"", "a string"), ("42", "a number"), ("null", "null"), ("true", "a boolean")]
    {
        let err = event_from_body(Some("application/json"), body.as_bytes(), MAX).unwrap_err();
        assert_eq!(err, WebhookBodyError::NotAnObject(kind), "{body}");
        assert_eq!(err.http_status(), 400);
        assert!(err.to_string().contains("object"), "{err}");
    }
}

#[test]
fn oversize_is_413_before_parsing() {
    let body = vec![b'x'; 101];
    let err = event_from_body(Some("application/json"), &body, 100).unwrap_err();
    assert_eq!(err, WebhookBodyError::TooLarge { size: 101, limit: 100 });
    assert_eq!(err.http_status(), 413);
    // Exactly at the limit is fine.
    let ok = br#"{"k":"v"}"#;
    assert!(event_from_body(Some("application/json"), ok, ok.len()).is_ok());
    // Size is checked even when the content type is wrong too.
    assert_eq!(event_from_body(Some("text/plain"), &body, 100).unwrap_err().http_status(), 413);
}

#[test]
fn suggested_key_uses_the_id_field() {
    let ing = event_from_body(Some("application/json"), br#"{"id": "evt_123", "x": 1}"#, MAX).unwrap();
    assert_eq!(suggested_key(&ing).as_deref(), Some("evt_123"));
    let ing = event_from_body(Some("application/json"), br#"{"id": 77}"#, MAX).unwrap();
    assert_eq!(suggested_key(&ing).as_deref(), Some("77"));
    for body in [r#"{"x": 1}"#, r#"{"id": ""}"#, r#"{"id": null}"#, r#"{"id": {"a": 1}}"#] {
        let ing = event_from_body(Some("application/json"), body.as_bytes(), MAX).unwrap();
        assert_eq!(suggested_key(&ing), None, "{body}");
    }
}

#[test]
fn manifest_is_pushed_with_dynamic_ingredients() {
    let svc = webhook::service();
    assert!(matches!(svc.actions.get("received"), Some(ActionKind::Pushed(_))));
    let a = &svc.manifest.actions[0];
    assert_eq!(a.id, "received");
    assert!(a.dynamic_ingredients);
}

/// Found by `fuzz/` (webhook_body target): a number the listener parsed from a body came back
/// different from the run history (the engine stores ingredients as JSON and a retried or
/// recovered run reads them from there), so a retry rendered another value than the first
/// delivery and than the condition saw.
#[test]
fn numbers_read_back_from_storage_unchanged() {
    for body in [
        br#"{"n": 33333333333333333333333333333336}"#.as_slice(),
        br#"{"n": 5333333333333333333333333333333333333333333333333333333333333333333333333336}"#,
        br#"{"n": 5.333333333333333e+73, "m": [0.1, 1e-300, 2.2250738585072014e-308]}"#,
    ] {
        let received = event_from_body(Some("application/json"), body, MAX).unwrap();
        let stored = serde_json::to_string(&received).unwrap();
        let read_back: Ingredients = serde_json::from_str(&stored).unwrap();
        assert_eq!(read_back, received, "{stored}");
    }
}
