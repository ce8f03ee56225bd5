//! Property tests of reaction templates: no input makes the parser or renderer panic, plain text
//! passes through unchanged, substitution is exact, and every bound ends in an error.

use std::collections::BTreeSet;

use area_core::connector::Ingredients;
use area_core::template::{
    is_template, Template, TemplateError, FILTERS, FUEL, MAX_OUTPUT_LEN, MAX_PLACEHOLDER_STEPS, MAX_SOURCE_LEN,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn ingredients() -> impl Strategy<Value = Ingredients> {
    prop::collection::btree_map(prop_oneof!["[a-c]", "[a-z_]{1,6}", ".{0,4}"], json_value(), 0..6)
}

/// Strings made of template-ish fragments, to reach deep into the parser.
fn templateish() -> impl Strategy<Value = String> {
    let mut tokens: Vec<&'static str> = vec![
        "{{", "}}", "{%", "%}", "{#", "#}", "{{-", "-}}", "{", "}", "-", "|", ".", "[", "]", "(", ")", ",", "\"", "'",
        "\\", "\\u", " ", "\n", "a", "b", "c", "0", "3", "-1", "1.5", "true", "none", "if", "else", "is", "not", "and",
        "+", "~", "=", ":", "==", "for", "x in y", "range", "é", "😀", "\\n",
    ];
    tokens.extend(FILTERS);
    let piece = prop_oneof![
        4 => select(tokens).prop_map(str::to_owned),
        1 => ".{0,3}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Plain text that may contain braces, `#`, `%` but no `{{` or `{%`.
fn plain_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => select(vec!["{", "}", "#", "%", "-", "}}", "#}", "%}", "a", " ", "\n", "é", "\r\n"])
            .prop_map(str::to_owned),
        1 => ".{0,6}",
    ];
    prop::collection::vec(piece, 0..30)
        .prop_map(|v| v.concat())
        .prop_filter("no markup", |s| !s.contains("{{") && !s.contains("{%"))
}

/// Quotes `s` as a template string literal.
fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn check_no_panic(source: &str, ingredients: &Ingredients) {
    if let Ok(t) = Template::parse(source) {
        assert!(is_template(source) || t.ingredients().is_empty());
        if let Ok(out) = t.render(ingredients) {
            assert!(out.len() <= MAX_OUTPUT_LEN);
        }
    }
}

proptest! {
    // No regression files: they would land in the shared source tree.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(source in any::<String>(), ing in ingredients()) {
        check_no_panic(&source, &ing);
    }

    #[test]
    fn templateish_strings_never_panic(source in templateish(), ing in ingredients()) {
        check_no_panic(&source, &ing);
    }

    #[test]
    fn text_without_markup_renders_unchanged(text in plain_text(), ing in ingredients()) {
        prop_assert!(!is_template(&text));
        let t = Template::parse(&text).unwrap();
        prop_assert!(t.ingredients().is_empty());
        prop_assert_eq!(t.render(&ing).unwrap(), text);
    }

    #[test]
    fn placeholders_are_replaced_exactly(
        parts in prop::collection::vec(("[^{}]{0,8}", "v_[a-z0-9_]{0,4}", ".{0,8}", " {0,2}", " {0,2}"), 1..6),
        tail in "[^{}]{0,8}",
    ) {
        let mut source = String::new();
        let mut expected = String::new();
        let mut ing = Ingredients::new();
        for (text, name, value, pre, post) in &parts {
            // Later duplicates of a name overwrite earlier values: use the final ones below.
            ing.insert(name.clone(), Value::String(value.clone()));
            source.push_str(text);
            source.push_str(&format!("{{{{{pre}{name}{post}}}}}"));
        }
        for (text, name, ..) in &parts {
            expected.push_str(text);
            expected.push_str(ing[name].as_str().unwrap());
        }
        source.push_str(&tail);
        expected.push_str(&tail);
        let t = Template::parse(&source).unwrap();
        let names: BTreeSet<String> = parts.iter().map(|p| p.1.clone()).collect();
        prop_assert_eq!(t.ingredients(), names);
        prop_assert_eq!(t.render(&ing).unwrap(), expected);
    }

    #[test]
    fn string_literals_round_trip(s in any::<String>()) {
        let source = format!("{{{{ {} }}}}", literal(&s));
        let t = Template::parse(&source).unwrap();
        prop_assert_eq!(t.render(&Ingredients::new()).unwrap(), s);
    }

    #[test]
    fn truncate_keeps_at_most_n_chars(s in any::<String>(), n in 0usize..40) {
        let t = Template::parse(&format!("{{{{ s | truncate({n}) }}}}")).unwrap();
        let mut ing = Ingredients::new();
        ing.insert("s".into(), Value::String(s.clone()));
        let out = t.render(&ing).unwrap();
        prop_assert!(out.chars().count() <= n);
        if s.chars().count() <= n {
            prop_assert_eq!(out, s);
        } else if n >= 2 {
            let kept = out.strip_suffix('…').expect("ends with an ellipsis");
            prop_assert!(s.starts_with(kept));
        } else {
            prop_assert!(s.starts_with(&out));
        }
    }

    #[test]
    fn statements_are_always_rejected(
        // A `{` right before `{%` would make `{{%`, a placeholder, not a statement.
        before in plain_text().prop_filter("no trailing {", |s| !s.ends_with('{')),
        keyword in select(vec!["for", "if", "set", "macro", "include", "raw", "block", "extends", "with", "filter", "call", "import"]),
        dash in select(vec!["", "-", "+"]),
        after in ".{0,20}",
    ) {
        let source = format!("{before}{{%{dash} {keyword} {after}");
        match Template::parse(&source) {
            Err(TemplateError::Statement { keyword: k, .. }) => prop_assert_eq!(k, keyword),
            other => prop_assert!(false, "{source:?} gave {other:?}"),
        }
    }

    #[test]
    fn long_filter_chains_run_out_of_fuel(chain in 1usize..MAX_PLACEHOLDER_STEPS, filter in select(vec!["d", "upper", "trim", "first"])) {
        let one = format!("{{{{ a{} }}}}", format!("|{filter}").repeat(chain));
        let repeat = MAX_SOURCE_LEN / one.len();
        let source = one.repeat(repeat);
        let t = Template::parse(&source).unwrap();
        let mut ing = Ingredients::new();
        ing.insert("a".into(), Value::from("abc"));
        let result = t.render(&ing);
        // Each placeholder executes at least a lookup, its filters and an emit.
        let min_steps = (repeat * (chain + 2)) as u64;
        if min_steps > FUEL {
            prop_assert_eq!(result, Err(TemplateError::OutOfFuel { fuel: FUEL }));
        } else if min_steps * 2 < FUEL {
            prop_assert!(result.is_ok(), "{result:?}");
        }
    }
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    for depth in [100, 1_000, 5_000] {
        let nested = format!("{{{{ {}x{} }}}}", "a[".repeat(depth), "]".repeat(depth));
        let nested_args = format!("{{{{ x{} }}}}", "|default(y".repeat(depth) + &")".repeat(depth));
        for source in [nested, nested_args] {
            match Template::parse(&source) {
                Err(TemplateError::TooComplex { .. } | TemplateError::TooLong { .. }) => {}
                other => panic!("depth {depth}: {other:?}"),
            }
        }
    }
}

#[test]
fn the_largest_placeholder_renders() {
    let source = format!("{{{{ a{} }}}}", "|upper".repeat(MAX_PLACEHOLDER_STEPS - 1));
    let mut ing = Ingredients::new();
    ing.insert("a".into(), Value::from("x"));
    assert_eq!(Template::parse(&source).unwrap().render(&ing).unwrap(), "X");
}
