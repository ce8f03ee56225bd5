//! Feed parser: the RSS service's read of a saved response (`services::rss::parse_feed`).
//!
//! Input: the response body. Invariants: nothing panics; every event has a non-empty key equal
//! to its `id` ingredient; `summary` is at most `SUMMARY_MAX_CHARS` characters (plus the `…`).
#![no_main]

use area_core::services::rss::{html_to_text, parse_feed, SUMMARY_MAX_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for base in [None, Some("https://example.com/blog/feed.xml")] {
        let Ok(events) = parse_feed(data, base) else { continue };
        for event in events {
            assert!(!event.key.is_empty(), "an event needs a key");
            assert_eq!(event.ingredients.get("id").and_then(|v| v.as_str()), Some(event.key.as_str()));
            let summary = event.ingredients.get("summary").and_then(|v| v.as_str()).unwrap_or_default();
            assert!(summary.chars().count() <= SUMMARY_MAX_CHARS + 1, "summary too long");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = html_to_text(text);
    }
});
