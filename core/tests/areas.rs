//! Areas: area-file parsing, validation against the catalog (each error names its field), and
//! the per-user store (engine-contract rules on enable and edit, ownership, cascades).

mod backend;

use std::collections::BTreeMap;

use area_core::areas::{
    parse_area_file, parse_area_value, private_network_fields, secrets, summarize, validate, AreaError, AreaSpec,
    AreaStatus, Areas, ImportOptions, ValidatedArea, DEFAULT_WEBHOOK_LISTEN, MAX_NAME_CHARS, MAX_REACTIONS,
    WEBHOOK_ADDR_FILE,
};
use area_core::catalog::{
    ActionManifest, AuthKind, Availability, Catalog, IngredientSpec, ParamSpec, ParamType, ReactionManifest, Service,
    ServiceManifest,
};
use area_core::store::Store;
use proptest::prelude::*;
use serde_json::{json, Value};
use sqlx::Row;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn rss_area() -> Value {
    json!({
        "name": "Rust blog to notifications",
        "action": {"service": "rss", "id": "new_item", "params": {"url": "https://blog.rust-lang.org/feed.xml"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "New post: {{ title | upper }}", "body": "{{ link }}"}}]
    })
}

fn timer_area() -> Value {
    json!({
        "name": "Every five minutes",
        "action": {"service": "timer", "id": "every", "params": {"minutes": 5}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "tick at {{ scheduled_for }}"}}]
    })
}

fn webhook_area() -> Value {
    json!({
        "name": "Webhook to HTTP",
        "action": {"service": "webhook", "id": "received"},
        "reactions": [{"service": "http", "id": "request", "params": {
            "url": "https://example.com/in/{{ id }}",
            "headers": {"X-Temp": "{{ temp }}"},
            "body": "{\"t\": \"{{ temp | default(0) }}\"}"
        }}]
    })
}

fn http_poll_area() -> Value {
    json!({
        "name": "New JSON items",
        "action": {"service": "http", "id": "new_json_items", "params": {"url": "https://api.example.com/items", "items_path": "data", "id_field": "id"}},
        "reactions": [{"service": "http", "id": "request", "params": {"url": "https://sink.example.com/", "method": "PUT", "body": "{{ name }}"}}]
    })
}

fn spec(value: Value) -> AreaSpec {
    let mut specs = parse_area_value(&value).unwrap_or_else(|e| panic!("{value}: {e}"));
    assert_eq!(specs.len(), 1);
    specs.remove(0)
}

fn valid(value: Value) -> ValidatedArea {
    validate(&area_core::services::catalog(&area_core::settings::Settings::from_env()), &spec(value.clone()))
        .unwrap_or_else(|e| panic!("{value}: {e}"))
}

/// Parses and validates, expecting a validation error; returns (field, message).
fn invalid_in(catalog: &Catalog, value: Value) -> (String, String) {
    let result = parse_area_value(&value).and_then(|specs| {
        assert_eq!(specs.len(), 1);
        validate(catalog, &specs[0]).map(drop)
    });
    match result {
        Err(AreaError::Invalid { field, message }) => (field, message),
        Err(other) => panic!("{value}: expected a validation error, got {other:?}"),
        Ok(()) => panic!("{value}: accepted"),
    }
}

fn invalid(value: Value) -> (String, String) {
    invalid_in(&area_core::services::catalog(&area_core::settings::Settings::from_env()), value)
}

/// Asserts the error points at `field` and its message contains every one of `words`.
#[track_caller]
fn assert_invalid(value: Value, field: &str, words: &[&str]) {
    let (got_field, message) = invalid(value);
    assert_eq!(got_field, field, "wrong field; message: {message}");
    for w in words {
        assert!(message.contains(w), "{message:?} lacks {w:?}");
    }
}

/// `value` with `pointer` (a JSON pointer) set to `new` (added if its object lacks the key).
fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
        return value;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent}"))
        .insert(key.into(), new);
    value
}

fn without(mut value: Value, pointer: &str, key: &str) -> Value {
    value.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(key);
    value
}

/// A catalog with every parameter type and an unavailable service, built from real code.
fn lab_catalog() -> Catalog {
    let rss = area_core::services::rss::service();
    let notify = area_core::services::notify::service();
    let lab = Service {
        manifest: ServiceManifest {
            id: "lab",
            name: "Lab",
            description: "Test service",
            auth: AuthKind::None,
            credential_hosts: vec![],
            oauth: None,
            availability: Availability::Available,
            actions: vec![ActionManifest {
                id: "poll",
                name: "Poll",
                description: "Polls",
                params: vec![
                    ParamSpec::new("ratio", "Ratio", "A number", ParamType::Number),
                    ParamSpec::new("flag", "Flag", "A boolean", ParamType::Boolean).optional(Some(json!(false))),
                    ParamSpec::new("count", "Count", "Bounded above", ParamType::Integer { min: None, max: Some(3) })
                        .optional(Some(json!(1))),
                    ParamSpec::new("note", "Note", "No default", ParamType::String).optional(None),
                ],
                ingredients: vec![IngredientSpec { id: "value", description: "v", example: "1" }],
                dynamic_ingredients: false,
                min_interval_secs: Some(600),
            }],
            reactions: vec![ReactionManifest {
                id: "do",
                name: "Do",
                description: "Does",
                params: vec![ParamSpec::new("title", "Title", "t", ParamType::String).templated()],
            }],
        },
        actions: BTreeMap::from([("poll", rss.actions["new_item"].clone())]),
        reactions: BTreeMap::from([("do", notify.reactions["send"].clone())]),
        account_check: None,
        token_renewal: None,
        quota: None,
        client_key_grant: None,
    };
    let gone = Service {
        manifest: ServiceManifest {
            id: "gone",
            name: "Gone",
            description: "No API",
            auth: AuthKind::OAuth2,
            credential_hosts: vec![],
            oauth: None,
            availability: Availability::Unavailable("the provider closed its public API".into()),
            actions: vec![],
            reactions: vec![ReactionManifest { id: "do", name: "Do", description: "d", params: vec![] }],
        },
        actions: BTreeMap::new(),
        reactions: BTreeMap::from([("do", notify.reactions["send"].clone())]),
        account_check: None,
        token_renewal: None,
        quota: None,
        client_key_grant: None,
    };
    Catalog::new(vec![lab, gone, notify])
}

fn lab_area() -> Value {
    json!({
        "name": "lab",
        "action": {"service": "lab", "id": "poll", "params": {"ratio": 0.5}},
        "reactions": [{"service": "lab", "id": "do", "params": {"title": "{{ value }}"}}]
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn parses_one_area_or_a_list() {
    let one = parse_area_file(&rss_area().to_string()).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "Rust blog to notifications");
    assert!(one[0].enabled, "enabled defaults to true");
    let many = parse_area_file(&json!([rss_area(), timer_area(), webhook_area()]).to_string()).unwrap();
    assert_eq!(many.len(), 3);
    assert_eq!(many[2].action.service, "webhook");
    // What serde would build from the same text.
    let via_serde: AreaSpec = serde_json::from_value(rss_area()).unwrap();
    assert_eq!(one[0], via_serde);
}

#[test]
fn parse_errors_point_at_the_field() {
    let cases: Vec<(String, &str, &str)> = vec![
        ("{not json".into(), "", "not valid JSON"),
        ("[]".into(), "", "empty list"),
        ("42".into(), "", "expected an area object"),
        (with(rss_area(), "/name", json!(7)).to_string(), "name", "expected a string"),
        (without(rss_area(), "", "name").to_string(), "name", "missing"),
        (without(rss_area(), "", "action").to_string(), "action", "missing"),
        (without(rss_area(), "", "reactions").to_string(), "reactions", "missing"),
        (with(rss_area(), "/reactions", json!({})).to_string(), "reactions", "expected a list"),
        (with(rss_area(), "/action", json!("rss")).to_string(), "action", "expected an object"),
        (with(rss_area(), "/action/params", json!([1])).to_string(), "action.params", "expected an object"),
        (with(rss_area(), "/reactions/0/service", json!(12)).to_string(), "reactions[0].service", "expected a string"),
        (without(rss_area(), "/reactions/0", "id").to_string(), "reactions[0].id", "missing"),
        (
            {
                let mut v = rss_area();
                v["reactions"][0]["colour"] = json!("red");
                v.to_string()
            },
            "reactions[0].colour",
            "unknown field",
        ),
        (
            {
                let mut v = rss_area();
                v["colour"] = json!("red");
                v.to_string()
            },
            "colour",
            "unknown field",
        ),
        (
            {
                let mut v = rss_area();
                v["interval_secs"] = json!(-5);
                v.to_string()
            },
            "interval_secs",
            "whole number",
        ),
        (
            {
                let mut v = rss_area();
                v["enabled"] = json!("yes");
                v.to_string()
            },
            "enabled",
            "true or false",
        ),
        (
            {
                let mut v = rss_area();
                v["condition"] = json!({"ingredient": "title", "op": "resembles", "value": 1});
                v.to_string()
            },
            "condition",
            "",
        ),
        (json!([rss_area(), without(timer_area(), "", "name")]).to_string(), "[1].name", "missing"),
    ];
    for (text, field, words) in cases {
        match parse_area_file(&text) {
            Err(AreaError::Invalid { field: got, message }) => {
                assert_eq!(got, field, "{text}: {message}");
                assert!(message.contains(words), "{text}: {message:?} lacks {words:?}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

#[test]
fn the_examples_are_valid() {
    for area in [rss_area(), timer_area(), webhook_area(), http_poll_area()] {
        valid(area);
    }
    let lab = lab_catalog();
    validate(&lab, &spec(lab_area())).unwrap();
}

#[test]
fn name_rules() {
    assert_invalid(with(rss_area(), "/name", json!("   ")), "name", &["needs a name"]);
    assert_invalid(with(rss_area(), "/name", json!("x".repeat(MAX_NAME_CHARS + 1))), "name", &["at most 200"]);
    assert_invalid(with(rss_area(), "/name", json!("two\nlines")), "name", &["one line"]);
    valid(with(rss_area(), "/name", json!("é".repeat(MAX_NAME_CHARS))));
}

#[test]
fn unknown_services_actions_and_reactions() {
    assert_invalid(
        with(rss_area(), "/action/service", json!("myspace")),
        "action.service",
        &["unknown service \"myspace\"", "timer, rss, webhook, http, notify"],
    );
    assert_invalid(with(rss_area(), "/action/id", json!("new_post")), "action.id", &["\"new_post\"", "new_item"]);
    assert_invalid(
        with(with(rss_area(), "/action/service", json!("notify")), "/action/id", json!("send")),
        "action.id",
        &["notify has no actions", "only offers reactions"],
    );
    assert_invalid(with(rss_area(), "/reactions/0/service", json!("pager")), "reactions[0].service", &["\"pager\""]);
    assert_invalid(with(rss_area(), "/reactions/0/id", json!("shout")), "reactions[0].id", &["\"shout\"", "send"]);
    assert_invalid(
        with(with(rss_area(), "/reactions/0/service", json!("rss")), "/reactions/0/id", json!("new_item")),
        "reactions[0].id",
        &["rss has no reactions"],
    );
    // An unavailable service is listed but cannot be used, with its reason.
    let lab = lab_catalog();
    let area = with(with(lab_area(), "/reactions/0/service", json!("gone")), "/reactions/0/params", json!({}));
    let (field, message) = invalid_in(&lab, area);
    assert_eq!(field, "reactions[0].service");
    assert!(message.contains("unavailable") && message.contains("closed its public API"), "{message}");
}

#[test]
fn unknown_and_missing_parameters() {
    let mut area = rss_area();
    area["action"]["params"]["colour"] = json!("red");
    assert_invalid(area, "action.params.colour", &["unknown parameter", "rss.new_item takes: url"]);
    let mut area = rss_area();
    area["reactions"][0]["params"]["sound"] = json!(true);
    assert_invalid(area, "reactions[0].params.sound", &["unknown parameter", "title, body"]);
    let mut area = webhook_area();
    area["action"]["params"] = json!({"secret": "x"});
    assert_invalid(area, "action.params.secret", &["takes no parameters"]);

    assert_invalid(without(rss_area(), "/action/params", "url"), "action.params.url", &["missing required parameter"]);
    assert_invalid(
        without(rss_area(), "/reactions/0/params", "title"),
        "reactions[0].params.title",
        &["missing required parameter"],
    );
    // null is "absent": fine for an optional parameter, missing for a required one.
    assert_invalid(with(timer_area(), "/action/params/minutes", Value::Null), "action.params.minutes", &["missing"]);
    valid(with(rss_area(), "/reactions/0/params/body", Value::Null));
}

#[test]
fn parameter_types_are_checked() {
    assert_invalid(
        with(timer_area(), "/action/params/minutes", json!("five")),
        "action.params.minutes",
        &["expected an integer ≥ 1", "\"five\""],
    );
    assert_invalid(with(timer_area(), "/action/params/minutes", json!("5")), "action.params.minutes", &["integer"]);
    assert_invalid(with(timer_area(), "/action/params/minutes", json!(0)), "action.params.minutes", &["≥ 1", "got 0"]);
    assert_invalid(with(timer_area(), "/action/params/minutes", json!(2.5)), "action.params.minutes", &["integer"]);
    assert_invalid(
        with(timer_area(), "/action/params/minutes", json!(10_000_000)),
        "action.params.minutes",
        &["≤ 525600"],
    );
    valid(with(timer_area(), "/action/params/minutes", json!(5.0)));

    assert_invalid(
        with(rss_area(), "/action/params/url", json!("not a url")),
        "action.params.url",
        &["not a valid URL"],
    );
    assert_invalid(
        with(rss_area(), "/action/params/url", json!("ftp://example.com/feed")),
        "action.params.url",
        &["http"],
    );
    assert_invalid(with(rss_area(), "/action/params/url", json!(80)), "action.params.url", &["expected a URL"]);
    assert_invalid(
        with(http_poll_area(), "/reactions/0/params/url", json!("mailto:me@example.com")),
        "reactions[0].params.url",
        &["http"],
    );

    assert_invalid(
        with(http_poll_area(), "/reactions/0/params/method", json!("FETCH")),
        "reactions[0].params.method",
        &["one of GET, POST, PUT, PATCH, DELETE", "\"FETCH\""],
    );
    assert_invalid(
        with(http_poll_area(), "/reactions/0/params/method", json!("post")),
        "reactions[0].params.method",
        &[],
    );

    let mut area = http_poll_area();
    area["action"]["params"]["headers"] = json!("Authorization: x");
    assert_invalid(area.clone(), "action.params.headers", &["object"]);
    area["action"]["params"]["headers"] = json!({"X-Count": 5});
    assert_invalid(area.clone(), "action.params.headers.X-Count", &["expected text"]);
    area["action"]["params"]["headers"] = json!({"Authorization": "Bearer t"});
    valid(area);

    let mut area = http_poll_area();
    area["action"]["params"]["allow_private_network"] = json!("yes");
    assert_invalid(area, "action.params.allow_private_network", &["true or false"]);

    let at = json!({
        "name": "once",
        "action": {"service": "timer", "id": "at", "params": {"datetime": "tomorrow at noon"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "now"}}]
    });
    assert_invalid(at.clone(), "action.params.datetime", &["RFC 3339"]);
    assert_invalid(
        with(at.clone(), "/action/params/datetime", json!("2025-12-24T18:00:00")),
        "action.params.datetime",
        &[],
    );
    valid(with(at, "/action/params/datetime", json!("2025-12-24T18:00:00+01:00")));

    assert_invalid(with(rss_area(), "/reactions/0/params/title", json!(42)), "reactions[0].params.title", &["text"]);

    // Number and a max-only integer bound, on the test catalog.
    let lab = lab_catalog();
    let (field, message) = invalid_in(&lab, with(lab_area(), "/action/params/ratio", json!("half")));
    assert_eq!(field, "action.params.ratio");
    assert!(message.contains("expected a number"), "{message}");
    let (field, message) = invalid_in(&lab, with(lab_area(), "/action/params/count", json!(4)));
    assert_eq!(field, "action.params.count");
    assert!(message.contains("≤ 3"), "{message}");
    let (field, _) = invalid_in(&lab, with(lab_area(), "/action/params/flag", json!(1)));
    assert_eq!(field, "action.params.flag");
}

#[test]
fn defaults_are_applied() {
    let cron = valid(json!({
        "name": "weekdays",
        "action": {"service": "timer", "id": "cron", "params": {"expression": "0 9 * * 1-5"}},
        "reactions": [{"service": "http", "id": "request", "params": {"url": "https://example.com/"}}]
    }));
    assert_eq!(cron.action_params()["timezone"], "UTC");
    let reaction = &cron.reaction_params()[0];
    assert_eq!(reaction["method"], "POST");
    assert_eq!(reaction["allow_private_network"], false);
    assert!(!reaction.contains_key("body"), "no default, so absent");
    assert!(!reaction.contains_key("headers"));
    // The spec itself is kept as written.
    assert!(!cron.spec().action.params.contains_key("timezone"));

    let lab = validate(&lab_catalog(), &spec(with(lab_area(), "/action/params/flag", Value::Null))).unwrap();
    assert_eq!(lab.action_params()["flag"], false, "null means absent: the default applies");
    assert_eq!(lab.action_params()["count"], 1);
}

#[test]
fn templates_are_parsed_and_read_only_known_ingredients() {
    assert_invalid(
        with(rss_area(), "/reactions/0/params/title", json!("New: {{ title ")),
        "reactions[0].params.title",
        &["syntax"],
    );
    assert_invalid(
        with(rss_area(), "/reactions/0/params/title", json!("{% if title %}x{% endif %}")),
        "reactions[0].params.title",
        &["not supported"],
    );
    assert_invalid(
        with(rss_area(), "/reactions/0/params/body", json!("{{ titel }}")),
        "reactions[0].params.body",
        &["`titel`", "rss.new_item", "title, link, id, published, summary"],
    );
    assert_invalid(
        with(timer_area(), "/reactions/0/params/title", json!("{{ title }}")),
        "reactions[0].params.title",
        &["`title`", "fired_at, scheduled_for"],
    );
    // Dynamic ingredients (webhook bodies, JSON items): any name.
    valid(with(webhook_area(), "/reactions/0/params/body", json!("{{ anything.at_all | default('x') }}")));
    valid(with(http_poll_area(), "/reactions/0/params/body", json!("{{ whatever }}")));
    // Templated map values are checked too, with the key in the path.
    let mut area = rss_area();
    area["reactions"] = json!([{"service": "http", "id": "request", "params": {
        "url": "https://example.com/hook?from={{ link }}",
        "headers": {"X-Title": "{{ title }}", "X-Who": "{{ author }}"}}}]);
    assert_invalid(area.clone(), "reactions[0].params.headers.X-Who", &["`author`"]);
    area["reactions"][0]["params"]["headers"] = json!({"{{ title }}": "x"});
    assert_invalid(area.clone(), "reactions[0].params.headers.{{ title }}", &["names cannot use ingredients"]);
    // A templated URL must still look like an http(s) URL where it is literal, and an
    // ingredient cannot be the whole address (it would choose where the request goes).
    area["reactions"][0]["params"]["headers"] = json!({});
    valid(area.clone());
    area["reactions"][0]["params"]["url"] = json!("{{ link }}");
    assert_invalid(area.clone(), "reactions[0].params.url", &["literal address"]);
    area["reactions"][0]["params"]["url"] = json!("ftp://example.com/{{ id }}");
    assert_invalid(area, "reactions[0].params.url", &["http"]);
}

#[test]
fn templates_are_refused_where_the_parameter_takes_no_ingredients() {
    assert_invalid(
        with(rss_area(), "/action/params/url", json!("https://example.com/{{ id }}.xml")),
        "action.params.url",
        &["cannot use ingredients"],
    );
    let mut area = http_poll_area();
    area["action"]["params"]["headers"] = json!({"Authorization": "Bearer {{ token }}"});
    assert_invalid(area, "action.params.headers.Authorization", &["cannot use ingredients"]);
    let cron = json!({
        "name": "cron",
        "action": {"service": "timer", "id": "cron", "params": {"expression": "{% raw %}0 9 * * *"}},
        "reactions": [{"service": "notify", "id": "send", "params": {"title": "hi"}}]
    });
    assert_invalid(cron, "action.params.expression", &["cannot use ingredients"]);
    // `{#` is not markup: literal text is fine.
    valid(with(rss_area(), "/reactions/0/params/title", json!("post in {#general}")));
}

#[test]
fn reaction_count_is_bounded() {
    assert_invalid(with(rss_area(), "/reactions", json!([])), "reactions", &["at least one reaction"]);
    let one = rss_area()["reactions"][0].clone();
    valid(with(rss_area(), "/reactions", json!(vec![one.clone(); MAX_REACTIONS])));
    assert_invalid(
        with(rss_area(), "/reactions", json!(vec![one; MAX_REACTIONS + 1])),
        "reactions",
        &["at most 10 reactions"],
    );
    // Errors in later reactions carry their index.
    let mut area = rss_area();
    area["reactions"] = json!([area["reactions"][0].clone(), {"service": "notify", "id": "send", "params": {}}]);
    assert_invalid(area, "reactions[1].params.title", &["missing"]);
}

#[test]
fn conditions_are_validated_where_they_go_wrong() {
    let mut area = rss_area();
    area["condition"] = json!({"all": [
        {"ingredient": "title", "op": "contains", "value": "Rust"},
        {"any": [{"ingredient": "author", "op": "equals", "value": "ada"}]}
    ]});
    assert_invalid(area.clone(), "condition.all[1].any[0].ingredient", &["`author`", "rss.new_item"]);
    area["condition"] = json!({"not": {"ingredient": "title", "op": "matches", "value": "(unclosed"}});
    assert_invalid(area.clone(), "condition.not.value", &["regular expression"]);
    area["condition"] = json!({"ingredient": "published", "op": "greater_than", "value": [1]});
    assert_invalid(area.clone(), "condition.value", &["greater_than"]);
    area["condition"] = json!({"any": []});
    assert_invalid(area.clone(), "condition.any", &["at least one"]);
    let mut deep = json!({"ingredient": "title", "op": "equals", "value": "x"});
    for _ in 0..10 {
        deep = json!({ "not": deep });
    }
    area["condition"] = deep;
    let (field, message) = invalid(area.clone());
    assert!(field.starts_with("condition.not.not"), "{field}");
    assert!(message.contains("nested"), "{message}");
    area["condition"] = json!({"all": [{"ingredient": "title", "op": "contains", "value": "Rust"},
                                       {"not": {"ingredient": "summary", "op": "matches", "value": "(?i)beta"}}]});
    valid(area);
    // Dynamic ingredients: any name is fine.
    let mut hook = webhook_area();
    hook["condition"] = json!({"ingredient": "temp", "op": "greater_than", "value": 25});
    valid(hook);
}

#[test]
fn interval_respects_the_action_minimum() {
    let min = area_core::services::catalog(&area_core::settings::Settings::from_env())
        .action("rss", "new_item")
        .unwrap()
        .1
        .min_interval_secs
        .unwrap();
    assert!(min > 1, "rss has a real minimum");
    let mut area = rss_area();
    area["interval_secs"] = json!(min - 1);
    assert_invalid(area.clone(), "interval_secs", &[&format!("at least {min}"), &format!("not {}", min - 1)]);
    area["interval_secs"] = json!(min);
    assert_eq!(valid(area).interval_secs(), min);
    assert_eq!(valid(rss_area()).interval_secs(), 300, "default interval");
    let mut area = timer_area();
    area["interval_secs"] = json!(0);
    assert_invalid(area, "interval_secs", &["at least 1"]);
    // With no interval given, a minimum above the default wins (not an error).
    let lab = validate(&lab_catalog(), &spec(lab_area())).unwrap();
    assert_eq!(lab.interval_secs(), 600);
    let (field, message) = invalid_in(&lab_catalog(), lab_area().tap_interval(300));
    assert_eq!(field, "interval_secs");
    assert!(message.contains("600"), "{message}");
}

trait TapInterval {
    fn tap_interval(self, secs: u32) -> Value;
}

impl TapInterval for Value {
    fn tap_interval(mut self, secs: u32) -> Value {
        self["interval_secs"] = json!(secs);
        self
    }
}

#[test]
fn fingerprint_covers_the_action_with_defaults_only() {
    let cron = |params: Value, title: &str| {
        valid(json!({
            "name": title,
            "action": {"service": "timer", "id": "cron", "params": params},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": title}}]
        }))
        .action_fingerprint()
    };
    let base = cron(json!({"expression": "0 9 * * *"}), "a");
    assert_eq!(base.len(), 64);
    assert_eq!(base, cron(json!({"expression": "0 9 * * *", "timezone": "UTC"}), "b"), "default made explicit");
    assert_ne!(base, cron(json!({"expression": "0 9 * * *", "timezone": "Europe/Paris"}), "a"));
    assert_ne!(base, cron(json!({"expression": "0 10 * * *"}), "a"));
    let every = valid(timer_area()).action_fingerprint();
    assert_ne!(base, every);
}

// ---------------------------------------------------------------------------------------------
// Store

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    areas: Areas,
    ada: i64,
    bob: i64,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = backend::open_store(&dir.path().join("data")).await;
    let mut ids = Vec::new();
    for email in ["ada@example.com", "bob@example.com"] {
        let id: i64 = sqlx::query_scalar("INSERT INTO users (email, created_at) VALUES ($1, 0) RETURNING id")
            .bind(email)
            .fetch_one(store.pool())
            .await
            .unwrap();
        ids.push(id);
    }
    let areas = Areas::new(store.clone(), area_core::services::catalog(&area_core::settings::Settings::from_env()));
    Env { _dir: dir, store: store.clone(), areas, ada: ids[0], bob: ids[1] }
}

impl Env {
    async fn column<T>(&self, id: i64, column: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
    {
        let sql = format!("SELECT {column} FROM areas WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(self.store.pool()).await.unwrap();
        row.get(0)
    }

    /// A boolean column (as an integer: sqlx's `Any` driver reads SQLite's booleans so).
    async fn flag(&self, id: i64, column: &str) -> bool {
        self.column::<i64>(id, &format!("CAST({column} AS INTEGER)")).await != 0
    }

    async fn exec(&self, sql: &'static str, id: i64) {
        sqlx::query(sql).bind(id).execute(self.store.pool()).await.unwrap();
    }

    async fn count(&self, sql: &'static str, id: i64) -> i64 {
        sqlx::query_scalar(sql).bind(id).fetch_one(self.store.pool()).await.unwrap()
    }
}

#[tokio::test]
async fn add_list_get() {
    let env = env().await;
    let rss = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    let hook = env.areas.add(env.ada, spec(webhook_area())).await.unwrap();
    assert_eq!(rss.status, AreaStatus::On);
    assert_eq!(rss.action.service, "rss");
    assert_eq!(rss.interval_secs, 300);
    assert!(rss.summary.starts_with("when New feed item (rss) then Show a notification (notify)"), "{}", rss.summary);
    assert!(rss.created_at > 1_600_000_000_000, "Unix ms");

    let list = env.areas.list(env.ada).await.unwrap();
    assert_eq!(list.iter().map(|a| a.id).collect::<Vec<_>>(), vec![rss.id, hook.id]);
    assert_eq!(list[0], rss);

    assert!(!env.flag(rss.id, "baselined").await);
    assert_eq!(env.column::<String>(rss.id, "action_fingerprint").await, valid(rss_area()).action_fingerprint());
    assert_eq!(env.column::<String>(rss.id, "action_service").await, "rss");

    let detail = env.areas.get(env.ada, rss.id).await.unwrap();
    assert_eq!(detail.spec, spec(rss_area()));
    assert_eq!(detail.webhook_token, None);
    assert_eq!(detail.webhook_url, None);
    assert_eq!(detail.runs.total, 0);

    let detail = env.areas.get(env.ada, hook.id).await.unwrap();
    let token = detail.webhook_token.clone().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(detail.webhook_url.as_deref(), Some(format!("http://{DEFAULT_WEBHOOK_LISTEN}/hooks/{token}").as_str()));
    std::fs::write(env.store.dir().join(WEBHOOK_ADDR_FILE), "127.0.0.1:41234\n").unwrap();
    let detail = env.areas.get(env.ada, hook.id).await.unwrap();
    assert_eq!(detail.webhook_url.unwrap(), format!("http://127.0.0.1:41234/hooks/{token}"));
    // Each webhook area has its own secret.
    let other = env.areas.add(env.ada, spec(webhook_area())).await.unwrap();
    assert_ne!(env.areas.get(env.ada, other.id).await.unwrap().webhook_token.unwrap(), token);

    // A disabled area is stored off.
    let off = env.areas.add(env.ada, spec(with(timer_area(), "/name", json!("off")).tap_enabled(false))).await.unwrap();
    assert_eq!(off.status, AreaStatus::Off);
    assert!(!env.flag(off.id, "enabled").await);
}

trait TapEnabled {
    fn tap_enabled(self, enabled: bool) -> Value;
}

impl TapEnabled for Value {
    fn tap_enabled(mut self, enabled: bool) -> Value {
        self["enabled"] = json!(enabled);
        self
    }
}

#[tokio::test]
async fn invalid_areas_are_not_saved() {
    let env = env().await;
    let err = env.areas.add(env.ada, spec(with(rss_area(), "/action/params/url", json!("nope")))).await.unwrap_err();
    assert_eq!(err.field(), Some("action.params.url"));
    assert!(env.areas.list(env.ada).await.unwrap().is_empty());
}

#[tokio::test]
async fn add_many_is_all_or_nothing() {
    let env = env().await;
    let bad = with(timer_area(), "/action/params/minutes", json!("five"));
    let specs = parse_area_value(&json!([rss_area(), webhook_area(), bad])).unwrap();
    let err = env.areas.add_many(env.ada, specs).await.unwrap_err();
    assert_eq!(err.field(), Some("[2].action.params.minutes"));
    assert!(err.to_string().starts_with("[2].action.params.minutes: expected an integer"), "{err}");
    assert!(env.areas.list(env.ada).await.unwrap().is_empty(), "nothing saved");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM areas").fetch_one(env.store.pool()).await.unwrap();
    assert_eq!(n, 0);

    let specs = parse_area_value(&json!([rss_area(), webhook_area(), timer_area()])).unwrap();
    let added = env.areas.add_many(env.ada, specs).await.unwrap();
    assert_eq!(added.len(), 3);
    assert_eq!(env.areas.list(env.ada).await.unwrap(), added);
}

#[tokio::test]
async fn export_reimports_unchanged() {
    let env = env().await;
    let mut rich = rss_area();
    rich["condition"] = json!({"all": [{"ingredient": "title", "op": "contains", "value": "Rust"},
                                       {"not": {"ingredient": "summary", "op": "matches", "value": "(?i)beta"}}]});
    rich["interval_secs"] = json!(900);
    let mut private = http_poll_area();
    private["allow_private_network"] = json!(true);
    private["action"]["params"]["headers"] = json!({"Accept": "application/json"});
    for area in [rich, private, webhook_area(), timer_area().tap_enabled(false)] {
        let first = env.areas.add(env.ada, spec(area.clone())).await.unwrap();
        let exported = env.areas.export(env.ada, first.id).await.unwrap();
        // Secret parameters (the headers) come out as placeholders and are given again on import.
        let catalog = env.areas.catalog().clone();
        assert_eq!(exported, secrets::redact(&catalog, &spec(area.clone())), "export is the area as written");
        let text = serde_json::to_string_pretty(&exported).unwrap();
        let mut reimport = parse_area_file(&text).unwrap().remove(0);
        secrets::keep_unchanged(&catalog, &mut reimport, &spec(area.clone()));
        let again = env.areas.add(env.ada, reimport).await.unwrap();
        let text_again = serde_json::to_string_pretty(&env.areas.export(env.ada, again.id).await.unwrap()).unwrap();
        assert_eq!(text, text_again);
        assert_eq!(
            env.column::<String>(first.id, "action_fingerprint").await,
            env.column::<String>(again.id, "action_fingerprint").await
        );
    }
    // Export reflects the current on/off state.
    let area = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    env.areas.set_enabled(env.ada, area.id, false).await.unwrap();
    assert!(!env.areas.export(env.ada, area.id).await.unwrap().enabled);
}

#[tokio::test]
async fn enable_resets_the_baseline_and_clears_the_pause() {
    let env = env().await;
    let area = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    // The engine baselined it, then paused it after failures.
    env.exec(
        "UPDATE areas SET baselined = TRUE, cursor = '\"c\"', paused_reason = 'paused after 5 consecutive failures',
         consecutive_failures = 5, last_error = 'HTTP 500' WHERE id = $1",
        area.id,
    )
    .await;
    let paused = env.areas.get(env.ada, area.id).await.unwrap();
    assert_eq!(paused.summary.status, AreaStatus::Paused);
    assert_eq!(paused.last_error.as_deref(), Some("HTTP 500"));
    let before: i64 = env.column(area.id, "updated_at").await;

    let on = env.areas.set_enabled(env.ada, area.id, true).await.unwrap();
    assert_eq!(on.status, AreaStatus::On);
    assert_eq!(on.paused_reason, None);
    assert!(!env.flag(area.id, "baselined").await, "baseline on enable");
    assert_eq!(env.column::<i64>(area.id, "consecutive_failures").await, 0);
    assert_eq!(env.column::<Option<String>>(area.id, "last_error").await, None);
    assert!(on.updated_at > before);

    // Disable, engine state untouched; enable again re-baselines.
    env.exec("UPDATE areas SET baselined = TRUE WHERE id = $1", area.id).await;
    let off = env.areas.set_enabled(env.ada, area.id, false).await.unwrap();
    assert_eq!(off.status, AreaStatus::Off);
    assert!(off.updated_at > on.updated_at);
    assert!(env.flag(area.id, "baselined").await);
    let on_again = env.areas.set_enabled(env.ada, area.id, true).await.unwrap();
    assert!(!env.flag(area.id, "baselined").await);
    assert!(on_again.updated_at > off.updated_at);

    // Enabling an area that already runs changes nothing (no baseline that would swallow events).
    env.exec("UPDATE areas SET baselined = TRUE WHERE id = $1", area.id).await;
    let same = env.areas.set_enabled(env.ada, area.id, true).await.unwrap();
    assert!(env.flag(area.id, "baselined").await);
    assert_eq!(same.updated_at, on_again.updated_at);
}

#[tokio::test]
async fn edit_keeps_the_cursor_unless_the_action_changes() {
    let env = env().await;
    let area = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    let engine_state = "UPDATE areas SET baselined = TRUE, cursor = '{\"etag\":\"x\"}' WHERE id = $1";
    env.exec(engine_state, area.id).await;
    env.exec("INSERT INTO seen_events (area_id, event_key, seen_at) VALUES ($1, 'k1', 0)", area.id).await;

    // Same action parameters (default made explicit is still the same), other name and reactions.
    let mut edited = rss_area();
    edited["name"] = json!("renamed");
    edited["reactions"][0]["params"]["title"] = json!("{{ title }}");
    edited["interval_secs"] = json!(120);
    let updated = env.areas.update(env.ada, area.id, spec(edited.clone())).await.unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.interval_secs, 120);
    assert!(updated.updated_at > area.updated_at);
    assert!(env.flag(area.id, "baselined").await);
    assert_eq!(env.column::<Option<String>>(area.id, "cursor").await.as_deref(), Some("{\"etag\":\"x\"}"));
    assert_eq!(env.count("SELECT COUNT(*) FROM seen_events WHERE area_id = $1", area.id).await, 1);
    assert_eq!(env.areas.export(env.ada, area.id).await.unwrap(), spec(edited.clone()));

    // Changed action parameters: re-baseline from scratch.
    let changed = with(edited, "/action/params/url", json!("https://blog.rust-lang.org/inside-rust/feed.xml"));
    let again = env.areas.update(env.ada, area.id, spec(changed)).await.unwrap();
    assert!(again.updated_at > updated.updated_at);
    assert!(!env.flag(area.id, "baselined").await);
    assert_eq!(env.column::<Option<String>>(area.id, "cursor").await, None);
    assert_eq!(env.count("SELECT COUNT(*) FROM seen_events WHERE area_id = $1", area.id).await, 0);

    // An invalid edit changes nothing.
    let before = env.areas.export(env.ada, area.id).await.unwrap();
    let err = env.areas.update(env.ada, area.id, spec(with(rss_area(), "/action/id", json!("x")))).await.unwrap_err();
    assert_eq!(err.field(), Some("action.id"));
    assert_eq!(env.areas.export(env.ada, area.id).await.unwrap(), before);
}

#[tokio::test]
async fn edit_keeps_the_webhook_url_and_can_enable() {
    let env = env().await;
    let hook = env.areas.add(env.ada, spec(webhook_area().tap_enabled(false))).await.unwrap();
    let token: Option<String> = env.column(hook.id, "webhook_token").await;
    assert!(token.is_some());
    env.exec("UPDATE areas SET baselined = TRUE WHERE id = $1", hook.id).await;
    let updated =
        env.areas.update(env.ada, hook.id, spec(with(webhook_area(), "/name", json!("new name")))).await.unwrap();
    assert_eq!(updated.status, AreaStatus::On, "the edit turned it on");
    assert!(!env.flag(hook.id, "baselined").await, "turning on by edit baselines too");
    assert_eq!(env.column::<Option<String>>(hook.id, "webhook_token").await, token, "same URL after an edit");
    // No longer a webhook: no URL.
    env.areas.update(env.ada, hook.id, spec(timer_area())).await.unwrap();
    assert_eq!(env.column::<Option<String>>(hook.id, "webhook_token").await, None);
}

#[tokio::test]
async fn updated_at_always_moves_forward() {
    let env = env().await;
    let area = env.areas.add(env.ada, spec(timer_area())).await.unwrap();
    let mut last = area.updated_at;
    for i in 0..5 {
        let s = env
            .areas
            .update(env.ada, area.id, spec(with(timer_area(), "/name", json!(format!("n{i}")))))
            .await
            .unwrap();
        assert!(s.updated_at > last, "{} <= {last}", s.updated_at);
        last = s.updated_at;
    }
}

#[tokio::test]
async fn another_users_areas_are_invisible() {
    let env = env().await;
    let area = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    assert!(env.areas.list(env.bob).await.unwrap().is_empty());
    let not_found = |e: AreaError| assert!(matches!(e, AreaError::NotFound(id) if id == area.id), "{e:?}");
    not_found(env.areas.get(env.bob, area.id).await.unwrap_err());
    not_found(env.areas.export(env.bob, area.id).await.unwrap_err());
    not_found(env.areas.set_enabled(env.bob, area.id, false).await.unwrap_err());
    not_found(env.areas.update(env.bob, area.id, spec(timer_area())).await.unwrap_err());
    not_found(env.areas.remove(env.bob, area.id).await.unwrap_err());
    // Untouched.
    let still = env.areas.get(env.ada, area.id).await.unwrap();
    assert_eq!(still.summary.status, AreaStatus::On);
    assert_eq!(still.spec, spec(rss_area()));
    // Missing ids answer the same.
    assert!(matches!(env.areas.get(env.ada, 9999).await, Err(AreaError::NotFound(9999))));
    assert!(env.areas.get(env.ada, 9999).await.unwrap_err().to_string().contains("no area with id 9999"));
}

#[tokio::test]
async fn run_counts_and_delete_cascades() {
    let env = env().await;
    let area = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    let keep = env.areas.add(env.ada, spec(timer_area())).await.unwrap();
    for (area_id, key, status) in [
        (area.id, "a", "succeeded"),
        (area.id, "b", "succeeded"),
        (area.id, "c", "failed"),
        (area.id, "d", "skipped"),
        (area.id, "e", "queued"),
        (area.id, "f", "unknown_outcome"),
        (keep.id, "a", "succeeded"),
    ] {
        sqlx::query(
            "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at)
             VALUES ($1, $2, '{}', $3, 0, 0)",
        )
        .bind(area_id)
        .bind(key)
        .bind(status)
        .execute(env.store.pool())
        .await
        .unwrap();
        sqlx::query("INSERT INTO seen_events (area_id, event_key, seen_at) VALUES ($1, $2, 0)")
            .bind(area_id)
            .bind(key)
            .execute(env.store.pool())
            .await
            .unwrap();
    }
    let runs = env.areas.get(env.ada, area.id).await.unwrap().runs;
    assert_eq!((runs.total, runs.succeeded, runs.failed, runs.skipped, runs.queued), (6, 2, 1, 1, 1));
    assert_eq!((runs.unknown_outcome, runs.running), (1, 0));

    env.areas.remove(env.ada, area.id).await.unwrap();
    assert_eq!(env.count("SELECT COUNT(*) FROM runs WHERE area_id = $1", area.id).await, 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM seen_events WHERE area_id = $1", area.id).await, 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM runs WHERE area_id = $1", keep.id).await, 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM seen_events WHERE area_id = $1", keep.id).await, 1);
    assert!(matches!(env.areas.remove(env.ada, area.id).await, Err(AreaError::NotFound(_))));
    assert_eq!(env.areas.list(env.ada).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_corrupt_definition_does_not_hide_the_others() {
    let env = env().await;
    let bad = env.areas.add(env.ada, spec(rss_area())).await.unwrap();
    let good = env.areas.add(env.ada, spec(timer_area())).await.unwrap();
    env.exec("UPDATE areas SET definition = '{\"future\": true}' WHERE id = $1", bad.id).await;
    let list = env.areas.list(env.ada).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].action.service, "rss");
    assert!(list[0].summary.contains("cannot be read"), "{}", list[0].summary);
    assert_eq!(list[1], good);
    assert!(matches!(env.areas.get(env.ada, bad.id).await, Err(AreaError::Corrupt { .. })));
    env.areas.remove(env.ada, bad.id).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Property tests: no input makes the parser or the validator panic.

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z{}% |()\"'\\.\\[\\]0-9:/]{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("https://example.com/{{ title }}"),
            Just("{{ title | truncate(5) }}"),
            Just("{% for x in y %}"),
            Just("rss"),
            Just("new_item"),
            Just("timer"),
            Just("every"),
            Just("webhook"),
            Just("received"),
            Just("http"),
            Just("request"),
            Just("notify"),
            Just("send"),
            Just("2025-12-24T18:00:00+01:00"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let keys = prop_oneof![
            Just("name".to_string()),
            Just("action".to_string()),
            Just("reactions".to_string()),
            Just("service".to_string()),
            Just("id".to_string()),
            Just("params".to_string()),
            Just("condition".to_string()),
            Just("ingredient".to_string()),
            Just("op".to_string()),
            Just("value".to_string()),
            Just("all".to_string()),
            Just("not".to_string()),
            Just("url".to_string()),
            Just("minutes".to_string()),
            Just("title".to_string()),
            Just("headers".to_string()),
            Just("interval_secs".to_string()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check_no_panic(value: &Value) {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    if let Ok(specs) = parse_area_value(value) {
        for spec in specs {
            if let Ok(valid) = validate(&catalog, &spec) {
                let _ = valid.action_fingerprint();
                // What passes validation survives the store's JSON round trip.
                let text = serde_json::to_string(valid.spec()).unwrap();
                let back: AreaSpec = serde_json::from_str(&text).unwrap();
                assert_eq!(&back, valid.spec());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        check_no_panic(&value);
        let _ = parse_area_file(&value.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = parse_area_file(&text);
    }

    /// Well-formed areas with arbitrary parameters, services and ids reach deep into validation.
    #[test]
    fn arbitrary_parameters_never_panic(
        action in prop_oneof![Just(("rss", "new_item")), Just(("timer", "every")), Just(("timer", "cron")),
                              Just(("timer", "at")), Just(("webhook", "received")), Just(("http", "new_json_items")),
                              Just(("notify", "send")), Just(("nope", "x"))],
        reaction in prop_oneof![Just(("notify", "send")), Just(("http", "request")), Just(("rss", "new_item"))],
        action_params in prop::collection::btree_map(
            prop_oneof![Just("url".to_string()), Just("minutes".to_string()), Just("expression".to_string()),
                        Just("datetime".to_string()), Just("headers".to_string()), Just("id_field".to_string()),
                        "[a-z]{1,4}"],
            arb_json(), 0..4),
        reaction_params in prop::collection::btree_map(
            prop_oneof![Just("title".to_string()), Just("body".to_string()), Just("url".to_string()),
                        Just("method".to_string()), Just("headers".to_string()), "[a-z]{1,4}"],
            arb_json(), 0..4),
        condition in prop::option::of(arb_json()),
        interval in prop::option::of(0u32..100_000),
    ) {
        let mut area = json!({
            "name": "p",
            "action": {"service": action.0, "id": action.1, "params": Value::Object(action_params.into_iter().collect())},
            "reactions": [{"service": reaction.0, "id": reaction.1, "params": Value::Object(reaction_params.into_iter().collect())}],
        });
        if let Some(c) = condition {
            area["condition"] = c;
        }
        if let Some(i) = interval {
            area["interval_secs"] = json!(i);
        }
        check_no_panic(&area);
    }
}

// ---------------------------------------------------------------------------------------------
// Area files are untrusted (issue 10 item 2): the plain-words summary and the import rules

/// A shared file naming another IMAP server than the user's: the summary names that server and
/// the connection it would use; a secret webhook URL shows its host only.
#[test]
fn the_summary_names_servers_hosts_and_connections_and_hides_secrets() {
    let file = spec(json!({
        "name": "Mail to Discord",
        "action": {"service": "mail", "id": "new_message",
                   "params": {"imap_host": "imap.evil.example", "username": "ada@example.com"}},
        "reactions": [
            {"service": "discord", "id": "send_webhook",
             "params": {"webhook_url": "https://discord.com/api/webhooks/1/SECRET-TOKEN", "content": "{{ subject }}"}},
            {"service": "http", "id": "request", "params": {"url": "{{ from }}", "body": "x"}}
        ]
    }));
    let summary = summarize(&area_core::services::catalog(&area_core::settings::Settings::from_env()), &file);
    assert_eq!(summary.hosts, ["discord.com", "imap.evil.example"]);
    // The engine hands a reaction its service's connection when the user has one, so the summary
    // names it even for a Discord webhook that carries its own secret.
    assert_eq!(summary.connections, ["discord", "mail"]);
    assert!(summary.reads_from.contains("on the server imap.evil.example"), "{}", summary.reads_from);
    assert!(summary.sends_to[0].contains("at discord.com"), "{:?}", summary.sends_to);
    assert!(summary.sends_to[1].contains("a host chosen by the event's data"), "{:?}", summary.sends_to);
    assert!(summary.lines.iter().any(|l| l == "uses your Mail (IMAP/SMTP) connection"), "{:?}", summary.lines);
    assert!(!summary.private_network);
    let all = format!("{summary:?}");
    assert!(!all.contains("SECRET-TOKEN"), "a secret parameter leaked into the summary: {all}");
}

#[tokio::test]
async fn imports_start_off_and_need_a_grant_for_the_private_network() {
    let env = env().await;
    let mut own_flag = spec(webhook_area());
    own_flag.allow_private_network = true;
    let refused = env
        .areas
        .import(env.ada, vec![spec(rss_area()), own_flag.clone()], true, ImportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(refused.field(), Some("[1].allow_private_network"), "{refused}");
    assert!(refused.to_string().contains("--allow-private-network"), "{refused}");
    assert!(env.areas.list(env.ada).await.unwrap().is_empty(), "nothing stored");

    let granted = ImportOptions { enable: false, allow_private_network: true, allow_programs: false };
    let imported = env.areas.import(env.ada, vec![spec(rss_area()), own_flag], true, granted).await.unwrap();
    assert!(imported.iter().all(|i| i.area.status == AreaStatus::Off));
    assert!(imported[1].review.private_network && !imported[0].review.private_network);

    let enabled = ImportOptions { enable: true, allow_private_network: false, allow_programs: false };
    let on = env.areas.import(env.ada, vec![spec(timer_area())], false, enabled).await.unwrap();
    assert_eq!(on[0].area.status, AreaStatus::On);
    assert_eq!(private_network_fields(&spec(rss_area())), Vec::<String>::new());
}
