//! Area-file parser and validation against the built-in catalog (what `areas add --file` and
//! the app's import do with a shared file).
//!
//! Input: the file's text. Invariants: nothing panics; every parsed area re-serialises (as
//! `areas export` writes it) and re-parses to the same spec; validation gives the same verdict
//! on the re-parsed spec.
#![no_main]

use std::sync::LazyLock;

use area_core::areas::{parse_area_file, validate};
use area_core::catalog::Catalog;
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| area_core::services::catalog(&area_core::settings::Settings::empty()));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(specs) = parse_area_file(text) else { return };
    assert!(!specs.is_empty());
    for spec in &specs {
        let verdict = match validate(&CATALOG, spec) {
            Ok(valid) => {
                assert_eq!(valid.spec(), spec, "validation keeps the spec as written");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };

        let exported = serde_json::to_string(spec).expect("an area serialises");
        let reparsed = parse_area_file(&exported)
            .unwrap_or_else(|e| panic!("export of a parsed area fails to parse: {e}\n{exported}"));
        assert_eq!(reparsed.len(), 1);
        assert_eq!(&reparsed[0], spec, "round trip through {exported}");
        let again = validate(&CATALOG, &reparsed[0]).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(again, verdict);
    }
});
