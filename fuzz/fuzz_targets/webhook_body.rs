//! Webhook body path: how the listener turns a request body into ingredients
//! (`services::webhook::event_from_body`), then the dedupe key and the stored form.
//!
//! Input: one byte choosing the Content-Type, one byte choosing the size limit, then the body.
//! Invariants: nothing panics; an accepted body is within the limit; every refusal maps to a
//! 4xx status; the ingredients are stored as JSON and read back unchanged; a condition on them
//! that validates evaluates, and a reaction template renders within its cap.
#![no_main]

use std::sync::LazyLock;

use area_core::condition::{Condition, Op};
use area_core::connector::Ingredients;
use area_core::services::webhook::{event_from_body, suggested_key};
use area_core::template::{Template, MAX_OUTPUT_LEN};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/json; charset=utf-8"),
    Some("application/vnd.github+json"),
    Some("APPLICATION/X-WWW-FORM-URLENCODED ; charset=UTF-8"),
    Some("text/plain"),
    Some(""),
    None,
];

/// What an area typically does next with the ingredients: render a reaction parameter.
static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::parse(
        "{{ title | truncate(40) }} {{ id | default(\"-\") }} {{ data | tojson }} {{ tags | join(\", \") }}",
    )
    .expect("static template")
});

const OPS: [Op; 7] =
    [Op::Equals, Op::NotEquals, Op::Contains, Op::NotContains, Op::GreaterThan, Op::LessThan, Op::Matches];

fuzz_target!(|data: &[u8]| {
    let [ct, limit, body @ ..] = data else { return };
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    let max = if *limit == 0 { usize::MAX } else { usize::from(*limit) * 16 };
    match event_from_body(content_type, body, max) {
        Ok(ingredients) => {
            assert!(body.len() <= max);
            let _ = suggested_key(&ingredients);
            // The listener's `area.passes(&ingredients)`: every operator on the first field,
            // compared with the second field's value.
            let mut fields = ingredients.iter();
            if let (Some((name, _)), Some((_, value))) = (fields.next(), fields.next()) {
                for op in OPS {
                    let condition = Condition::compare(name.clone(), op, value.clone());
                    if condition.validate().is_ok() {
                        assert!(condition.evaluate(&ingredients).is_ok());
                    }
                }
            }
            if let Ok(out) = TEMPLATE.render(&ingredients) {
                assert!(out.len() <= MAX_OUTPUT_LEN);
            }
            let stored = serde_json::to_string(&ingredients).expect("ingredients serialise");
            let back: Ingredients = serde_json::from_str(&stored).expect("stored ingredients parse");
            assert_eq!(back, ingredients, "stored ingredients changed: {stored}");
        }
        Err(e) => {
            let status = e.http_status();
            assert!((400..500).contains(&status), "refusal answered {status}");
            assert!(!e.to_string().is_empty());
        }
    }
});
