//! Property tests of area conditions: arbitrary JSON never panics the parser or evaluator, the
//! serialized shape round-trips, and the operators keep their documented algebra.

use area_core::condition::{Condition, ConditionError, Op, MAX_DEPTH};
use area_core::connector::Ingredients;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const OPS: [&str; 7] = ["equals", "not_equals", "contains", "not_contains", "greater_than", "less_than", "matches"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-cA-C0-9 .^$*()\\[\\]-]{0,6}".prop_map(Value::String),
        ".{0,8}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON that often looks like a condition (right keys, sometimes wrong types or extras).
fn conditionish() -> impl Strategy<Value = Value> {
    let key = select(vec!["ingredient", "op", "value", "all", "any", "not", "extra"]);
    let leaf_value = prop_oneof![
        3 => select(OPS.to_vec()).prop_map(Value::from),
        2 => select(vec!["a", "b", "c", ""]).prop_map(Value::from),
        3 => json_value(),
    ];
    let leaf = prop::collection::btree_map(key.clone(), leaf_value, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    leaf.prop_recursive(6, 48, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            (key.clone(), inner.clone()).prop_map(|(k, v)| json!({ k: v })),
            prop::collection::vec(inner, 0..4).prop_map(|v| json!({ "all": v })),
        ]
    })
}

/// Valid conditions, built directly.
fn condition() -> impl Strategy<Value = Condition> {
    let op = select(vec![Op::Equals, Op::NotEquals, Op::Contains, Op::NotContains, Op::GreaterThan, Op::LessThan]);
    let leaf = (select(vec!["a", "b", "c"]), op, scalar()).prop_filter_map("value type fits op", |(i, op, v)| {
        let c = Condition::compare(i, op, v);
        c.validate().is_ok().then_some(c)
    });
    let regex = (select(vec!["a", "b", "c"]), select(vec!["^a", "(?i)B", "[0-9]+", "^$", "."]))
        .prop_map(|(i, p)| Condition::compare(i, Op::Matches, Value::from(p)));
    prop_oneof![4 => leaf, 1 => regex].prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|all| Condition::All { all }),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|any| Condition::Any { any }),
            inner.prop_map(|c| Condition::Not { not: Box::new(c) }),
        ]
    })
}

fn ingredients() -> impl Strategy<Value = Ingredients> {
    prop::collection::btree_map(select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned), json_value(), 0..4)
}

fn one(name: &str, v: Value) -> Ingredients {
    let mut i = Ingredients::new();
    i.insert(name.to_owned(), v);
    i
}

proptest! {
    // No regression files: they would land in the shared source tree.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in prop_oneof![json_value(), conditionish()], ing in ingredients()) {
        if let Ok(c) = serde_json::from_value::<Condition>(v) {
            let _ = c.validate();
            let _ = c.evaluate(&ing);
            let _ = c.ingredients();
            let back: Condition = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
            prop_assert_eq!(back, c);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = serde_json::from_str::<Condition>(&s);
    }

    #[test]
    fn valid_conditions_round_trip_and_evaluate(c in condition(), ing in ingredients()) {
        // Through a JSON value: text round-trips of floats are not bit-exact in serde_json.
        let back: Condition = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        prop_assert_eq!(&back, &c);
        match c.validate() {
            Ok(()) => { c.evaluate(&ing).unwrap(); }
            Err(e) => prop_assert_eq!(e, ConditionError::TooDeep { max: MAX_DEPTH }),
        }
    }

    #[test]
    fn negations_are_complements(name in select(vec!["a", "z"]), ing_value in json_value(), value in scalar()) {
        let ing = one("a", ing_value);
        for (pos, neg) in [(Op::Equals, Op::NotEquals), (Op::Contains, Op::NotContains)] {
            let p = Condition::compare(name, pos, value.clone()).evaluate(&ing).unwrap();
            let n = Condition::compare(name, neg, value.clone()).evaluate(&ing).unwrap();
            prop_assert_ne!(p, n, "{} vs {}", pos, neg);
            let not = Condition::Not { not: Box::new(Condition::compare(name, pos, value.clone())) };
            prop_assert_eq!(not.evaluate(&ing).unwrap(), n);
        }
    }

    #[test]
    fn missing_ingredient_is_false_except_negations(value in scalar(), ing in ingredients()) {
        for op in [Op::Equals, Op::NotEquals, Op::Contains, Op::NotContains, Op::GreaterThan, Op::LessThan] {
            let c = Condition::compare("missing", op, value.clone());
            if c.validate().is_ok() {
                prop_assert_eq!(c.evaluate(&ing).unwrap(), matches!(op, Op::NotEquals | Op::NotContains));
            }
        }
    }

    #[test]
    fn equals_is_symmetric(a in json_value(), b in json_value()) {
        let ab = Condition::compare("x", Op::Equals, b.clone()).evaluate(&one("x", a.clone())).unwrap();
        let ba = Condition::compare("x", Op::Equals, a.clone()).evaluate(&one("x", b)).unwrap();
        prop_assert_eq!(ab, ba);
        prop_assert!(Condition::compare("x", Op::Equals, a.clone()).evaluate(&one("x", a)).unwrap());
    }

    #[test]
    fn numbers_compare_numerically_in_any_spelling(
        a in any::<i64>(),
        b in prop_oneof![any::<i64>().prop_map(Err), (-2i64..=2).prop_map(Ok)],
        a_text in any::<bool>(),
        b_text in any::<bool>(),
    ) {
        // Often pick `b` near `a`, so that equal and adjacent numbers are exercised.
        let b = b.map_or_else(|far| far, |delta| a.saturating_add(delta));
        let spell = |n: i64, text: bool| if text { Value::from(format!(" {n} ")) } else { Value::from(n) };
        let ing = one("x", spell(a, a_text));
        let check = |op| Condition::compare("x", op, spell(b, b_text)).evaluate(&ing).unwrap();
        prop_assert_eq!(check(Op::GreaterThan), a > b);
        prop_assert_eq!(check(Op::LessThan), a < b);
        prop_assert_eq!(check(Op::Equals), a == b);
    }

    #[test]
    fn a_number_equals_its_spelling(f in any::<f64>().prop_filter("finite", |f| f.is_finite()), i in any::<i64>()) {
        for (number, text) in [(Value::from(f), f.to_string()), (Value::from(i), i.to_string())] {
            let text = Value::from(text);
            prop_assert!(Condition::compare("x", Op::Equals, number.clone()).evaluate(&one("x", text.clone())).unwrap());
            prop_assert!(Condition::compare("x", Op::Equals, text).evaluate(&one("x", number)).unwrap());
        }
    }

    #[test]
    fn contains_is_case_insensitive_substring(hay in "[a-zA-Z0-9 ]{0,12}", start in 0usize..12, len in 0usize..6, other in "[a-z]{1,4}") {
        let start = start.min(hay.len());
        let end = (start + len).min(hay.len());
        let ing = one("x", Value::from(hay.to_lowercase()));
        let needle = hay[start..end].to_uppercase();
        prop_assert!(Condition::compare("x", Op::Contains, Value::from(needle)).evaluate(&ing).unwrap());
        let expected = hay.to_lowercase().contains(&other);
        prop_assert_eq!(Condition::compare("x", Op::Contains, Value::from(other.to_uppercase())).evaluate(&ing).unwrap(), expected);
    }

    #[test]
    fn single_item_combinators_are_transparent(c in condition(), ing in ingredients()) {
        if let Ok(v) = c.evaluate(&ing) {
            let all = Condition::All { all: vec![c.clone()] };
            let any = Condition::Any { any: vec![c.clone()] };
            if c.validate().is_ok() && all.validate().is_ok() {
                prop_assert_eq!(all.evaluate(&ing).unwrap(), v);
                prop_assert_eq!(any.evaluate(&ing).unwrap(), v);
            }
        }
    }
}

#[test]
fn hugely_nested_json_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let text = "{\"not\":".repeat(depth) + "{\"ingredient\":\"a\",\"op\":\"equals\",\"value\":1}" + &"}".repeat(depth);
    assert!(serde_json::from_str::<Condition>(&text).is_err());
    let text = "{\"all\":[".repeat(depth) + &"]}".repeat(depth);
    assert!(serde_json::from_str::<Condition>(&text).is_err());
}

#[test]
fn area_file_example_parses_and_runs() {
    let c: Condition = serde_json::from_str(
        r#"{"all": [
            {"ingredient": "price", "op": "greater_than", "value": 100},
            {"not": {"ingredient": "title", "op": "matches", "value": "(?i)refurbished"}}
        ]}"#,
    )
    .unwrap();
    c.validate().unwrap();
    let event: Ingredients = serde_json::from_value(json!({"price": "129.99", "title": "New laptop"})).unwrap();
    assert!(c.evaluate(&event).unwrap());
    let event: Ingredients = serde_json::from_value(json!({"price": 99, "title": "New laptop"})).unwrap();
    assert!(!c.evaluate(&event).unwrap());
    let event: Ingredients = serde_json::from_value(json!({"price": 150, "title": "Refurbished laptop"})).unwrap();
    assert!(!c.evaluate(&event).unwrap());
}
