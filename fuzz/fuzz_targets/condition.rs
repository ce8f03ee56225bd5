//! Condition parser and evaluator: any JSON as a condition, evaluated on fuzzed (or fixed)
//! ingredients.
//!
//! Input: the condition's JSON, optionally followed by a NUL byte and a JSON object of
//! ingredients. Invariants: nothing panics; a condition that validates also evaluates without
//! error (validation catches everything evaluation could meet); a parsed condition serialises and
//! parses back to the same condition.
#![no_main]

use area_core::condition::Condition;
use area_core::connector::Ingredients;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn fixed_ingredients() -> Ingredients {
    let value = json!({
        "title": "Fix crash in parser",
        "price": 142.5,
        "count": "42",
        "flag": true,
        "nil": null,
        "labels": ["bug", "P1"],
        "repo": { "name": "area" },
        "date": "2024-05-01",
    });
    serde_json::from_value(value).expect("static ingredients")
}

fuzz_target!(|data: &[u8]| {
    let (src, rest) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(condition) = serde_json::from_slice::<Condition>(src) else { return };
    let ingredients =
        rest.and_then(|r| serde_json::from_slice::<Ingredients>(r).ok()).unwrap_or_else(fixed_ingredients);

    let valid = condition.validate();
    let result = condition.evaluate(&ingredients);
    if valid.is_ok() {
        assert!(result.is_ok(), "validated condition failed to evaluate: {result:?}");
    }
    let _ = condition.ingredients();

    let text = serde_json::to_string(&condition).expect("a condition serialises");
    let back: Condition = serde_json::from_str(&text).expect("a serialised condition parses back");
    assert_eq!(back, condition, "round trip through {text}");
});
