//! Template parser and renderer: `Template::parse` on any text, then `render` with fuzzed (or
//! fixed) ingredients.
//!
//! Input: template source, optionally followed by a NUL byte and a JSON object of ingredients.
//! Invariants: nothing panics; a rendered text is never larger than `MAX_OUTPUT_LEN`; parsing
//! and rendering are deterministic; parsing keeps the source; text without markup renders
//! byte-for-byte unchanged.
#![no_main]

use area_core::connector::Ingredients;
use area_core::template::{is_template, Template, MAX_OUTPUT_LEN, MAX_SOURCE_LEN};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn fixed_ingredients() -> Ingredients {
    let value = json!({
        "title": "Announcing Rust 1.85.0",
        "n": 3,
        "price": -1.5,
        "flag": true,
        "empty": "",
        "nil": null,
        "labels": ["bug", "help wanted"],
        "issue": { "title": "Crash on start", "user": { "login": "octo" } },
        "long": "x".repeat(4096),
    });
    serde_json::from_value(value).expect("static ingredients")
}

fuzz_target!(|data: &[u8]| {
    let (src, rest) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(src) = std::str::from_utf8(src) else { return };
    let ingredients =
        rest.and_then(|r| serde_json::from_slice::<Ingredients>(r).ok()).unwrap_or_else(fixed_ingredients);

    let Ok(template) = Template::parse(src) else { return };
    assert!(src.len() <= MAX_SOURCE_LEN);
    assert_eq!(template.source(), src);
    assert_eq!(Template::parse(src).as_ref(), Ok(&template), "parsing is deterministic");

    let rendered = template.render(&ingredients);
    assert_eq!(template.render(&ingredients), rendered, "rendering is deterministic");
    match rendered {
        Ok(out) => {
            assert!(out.len() <= MAX_OUTPUT_LEN, "render exceeded the output cap: {} bytes", out.len());
            if !is_template(src) {
                assert_eq!(out, src, "text without markup must render unchanged");
            }
        }
        Err(e) => {
            // Errors are for the user: never empty.
            assert!(!e.to_string().is_empty());
        }
    }
});
