//! An area's optional no-code condition: "only run when `price` is greater than 100".
//!
//! A condition is written by users in area files, so its JSON is small and flat:
//!
//! ```json
//! {"ingredient": "price", "op": "greater_than", "value": 100}
//! {"all": [ {"ingredient": "repo", "op": "equals", "value": "area"},
//!           {"any": [ {"ingredient": "title", "op": "contains", "value": "bug"},
//!                     {"not": {"ingredient": "labels", "op": "contains", "value": "wontfix"}} ]} ]}
//! ```
//!
//! A comparison has exactly the keys `ingredient` (a top-level ingredient name), `op` and
//! `value` (any JSON value). A combinator is an object with exactly one key: `all` (every
//! condition in the list holds), `any` (at least one holds) or `not` (the inner one does not).
//! Unknown keys and mixtures are rejected with a message saying which shape to use.
//!
//! Operators (`ing` is the event's ingredient, `value` the condition's):
//! - `equals` / `not_equals`: JSON equality with number/string leniency: `"5"` equals `5` and
//!   `5.0`, `"true"` equals `true`; two strings compare exactly (case-sensitive); lists and
//!   objects compare element by element with the same leniency.
//! - `contains` / `not_contains`: on a string (or number, read as text), case-insensitive
//!   substring of `value` as text; on a list, membership (`equals`, or case-insensitive equality
//!   for strings); on an object, whether `value` is one of its keys.
//! - `greater_than` / `less_than`: numerically when both sides are numbers or strings that
//!   parse as finite numbers (`" 42 "`, `"1e3"`); otherwise, when both are strings, by Unicode
//!   code point order (so ISO-8601 dates like `"2024-05-01"` compare chronologically); any
//!   other pairing is false. `value` must be a number or a string.
//! - `matches`: `value` is a regular expression (Rust `regex` syntax, unanchored: use `^…$`
//!   to match the whole text, `(?i)` to ignore case) tested against the ingredient as text; on
//!   a list, true when any item matches. Patterns are size-limited and compiled at validation.
//!
//! Missing ingredient (absent from the event): every comparison is **false**, except
//! `not_equals` and `not_contains`, which are **true** — "title does not contain X" holds for
//! an event without a title. An ingredient present with JSON `null` is compared as `null`.
//!
//! Limits: nesting deeper than [`MAX_DEPTH`] levels, an empty `all`/`any`, a bad or oversized
//! regex, and a `value` of the wrong type for its operator are errors from
//! [`Condition::validate`] (call it when the area is saved). [`Condition::evaluate`] reports the
//! same errors when it meets them, but short-circuits, so it may not meet them all.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{LazyLock, Mutex};

use regex::{Regex, RegexBuilder};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::connector::Ingredients;

mod explain;

/// Deepest allowed nesting (a lone comparison is depth 1): deeper trees are unreadable, and
/// the bound keeps evaluation's recursion small.
pub const MAX_DEPTH: usize = 8;

/// Compiled-size limit of a `matches` pattern, in bytes: bounds memory per regex.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A condition on an event's ingredients. See the module doc for the JSON shape and semantics.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    /// `{"ingredient": …, "op": …, "value": …}`
    Compare(Comparison),
    /// `{"all": [ … ]}`: every inner condition holds.
    All { all: Vec<Condition> },
    /// `{"any": [ … ]}`: at least one inner condition holds.
    Any { any: Vec<Condition> },
    /// `{"not": { … }}`: the inner condition does not hold.
    Not { not: Box<Condition> },
}

/// One comparison of an ingredient against a fixed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// Top-level ingredient name, as listed by the area's action.
    pub ingredient: String,
    pub op: Op,
    /// The value to compare with: any JSON value (a regex string for `matches`).
    #[specta(type = ConditionValue)]
    pub value: Value,
}

/// Comparison operators, spelled in snake_case in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    GreaterThan,
    LessThan,
    Matches,
}

/// The exported (TypeScript) shape of [`Comparison::value`]: any JSON value. Only a type
/// description for the UI — conditions hold a `serde_json::Value`, which has no specta type.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ConditionValue {
    String(String),
    Number(f64),
    Bool(bool),
    List(Vec<ConditionValue>),
    Object(BTreeMap<String, ConditionValue>),
    Null,
}

/// Why a condition is invalid. Messages are shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// A `matches` pattern that does not compile (or is too big).
    #[error(
        "the `matches` pattern for `{ingredient}` is not a valid regular expression: {message} — \
         see https://docs.rs/regex/latest/regex/#syntax"
    )]
    InvalidRegex { ingredient: String, message: String },
    /// `{"all": []}` or `{"any": []}`.
    #[error("`{combinator}` needs at least one condition in its list")]
    Empty { combinator: &'static str },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error(
        "conditions are nested more than {max} levels deep — flatten them (an `all` inside an \
         `all` can be merged into one)"
    )]
    TooDeep { max: usize },
    /// A `value` whose type does not suit the operator.
    #[error("`{op}` on `{ingredient}` needs {expected} as its value, not {found}")]
    BadValue { ingredient: String, op: Op, expected: &'static str, found: &'static str },
    /// `"ingredient": ""`.
    #[error("a comparison needs an ingredient name, e.g. {{\"ingredient\": \"title\", …}}")]
    EmptyIngredient,
}

impl Op {
    /// The JSON spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::GreaterThan => "greater_than",
            Op::LessThan => "less_than",
            Op::Matches => "matches",
        }
    }
}

impl fmt::Display for Op {
    /// The JSON spelling (`greater_than`), as users write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Condition {
    /// A comparison, for building conditions in code and tests.
    pub fn compare(ingredient: impl Into<String>, op: Op, value: Value) -> Condition {
        Condition::Compare(Comparison { ingredient: ingredient.into(), op, value })
    }

    /// Checks everything that can be wrong before any event arrives (regexes, empty lists,
    /// depth, value types), so the user hears about it when saving the area.
    pub fn validate(&self) -> Result<(), ConditionError> {
        self.validate_at(1)
    }

    fn validate_at(&self, depth: usize) -> Result<(), ConditionError> {
        if depth > MAX_DEPTH {
            return Err(ConditionError::TooDeep { max: MAX_DEPTH });
        }
        match self {
            Condition::Compare(c) => c.check().map(drop),
            Condition::All { all: list } | Condition::Any { any: list } => {
                if list.is_empty() {
                    return Err(ConditionError::Empty { combinator: self.combinator() });
                }
                list.iter().try_for_each(|c| c.validate_at(depth + 1))
            }
            Condition::Not { not } => not.validate_at(depth + 1),
        }
    }

    fn combinator(&self) -> &'static str {
        match self {
            Condition::Compare(_) => "comparison",
            Condition::All { .. } => "all",
            Condition::Any { .. } => "any",
            Condition::Not { .. } => "not",
        }
    }

    /// Every ingredient name the condition reads, to check against the action's ingredients.
    pub fn ingredients(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        self.collect(&mut names);
        names
    }

    fn collect(&self, names: &mut BTreeSet<String>) {
        match self {
            Condition::Compare(c) => {
                names.insert(c.ingredient.clone());
            }
            Condition::All { all: list } | Condition::Any { any: list } => {
                list.iter().for_each(|c| c.collect(names));
            }
            Condition::Not { not } => not.collect(names),
        }
    }

    /// Whether an event with these ingredients passes, deciding if the area's reactions run.
    pub fn evaluate(&self, ingredients: &Ingredients) -> Result<bool, ConditionError> {
        self.evaluate_at(ingredients, 1)
    }

    fn evaluate_at(&self, ingredients: &Ingredients, depth: usize) -> Result<bool, ConditionError> {
        if depth > MAX_DEPTH {
            return Err(ConditionError::TooDeep { max: MAX_DEPTH });
        }
        match self {
            Condition::Compare(c) => c.evaluate(ingredients),
            Condition::All { all } => {
                if all.is_empty() {
                    return Err(ConditionError::Empty { combinator: "all" });
                }
                for c in all {
                    if !c.evaluate_at(ingredients, depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Any { any } => {
                if any.is_empty() {
                    return Err(ConditionError::Empty { combinator: "any" });
                }
                for c in any {
                    if c.evaluate_at(ingredients, depth + 1)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not { not } => Ok(!not.evaluate_at(ingredients, depth + 1)?),
        }
    }
}

impl Comparison {
    /// Checks the ingredient name and the value's type; returns the compiled regex for `matches`.
    fn check(&self) -> Result<Option<Regex>, ConditionError> {
        if self.ingredient.is_empty() {
            return Err(ConditionError::EmptyIngredient);
        }
        let bad = |expected| ConditionError::BadValue {
            ingredient: self.ingredient.clone(),
            op: self.op,
            expected,
            found: crate::json_text::type_name(&self.value),
        };
        match self.op {
            Op::GreaterThan | Op::LessThan => match self.value {
                Value::Number(_) | Value::String(_) => Ok(None),
                _ => Err(bad("a number or a string")),
            },
            Op::Matches => match &self.value {
                Value::String(pattern) => compile_regex(&self.ingredient, pattern).map(Some),
                _ => Err(bad("a regular expression string")),
            },
            Op::Equals | Op::NotEquals | Op::Contains | Op::NotContains => Ok(None),
        }
    }

    fn evaluate(&self, ingredients: &Ingredients) -> Result<bool, ConditionError> {
        let regex = self.check()?;
        let Some(ing) = ingredients.get(&self.ingredient) else {
            return Ok(matches!(self.op, Op::NotEquals | Op::NotContains));
        };
        let value = &self.value;
        Ok(match self.op {
            Op::Equals => lenient_eq(ing, value),
            Op::NotEquals => !lenient_eq(ing, value),
            Op::Contains => contains(ing, value),
            Op::NotContains => !contains(ing, value),
            Op::GreaterThan => compare(ing, value) == Some(Ordering::Greater),
            Op::LessThan => compare(ing, value) == Some(Ordering::Less),
            Op::Matches => regex.is_some_and(|re| regex_matches(&re, ing)),
        })
    }
}

/// Compiled patterns by source text: events re-evaluate the same few conditions, and compiling
/// a regex costs far more than matching it. Cleared when full, so it stays bounded.
static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
const REGEX_CACHE_MAX: usize = 256;

fn compile_regex(ingredient: &str, pattern: &str) -> Result<Regex, ConditionError> {
    if let Some(re) = REGEX_CACHE.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re =
        RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(4 * REGEX_SIZE_LIMIT).build().map_err(
            |e| ConditionError::InvalidRegex {
                ingredient: ingredient.to_owned(),
                message: match e {
                    regex::Error::CompiledTooBig(limit) => {
                        format!("the pattern is too big (over the {limit}-byte limit); simplify it")
                    }
                    e => e.to_string(),
                },
            },
        )?;
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() >= REGEX_CACHE_MAX {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), re.clone());
    }
    Ok(re)
}

/// A number read from JSON or from a numeric string; integers stay exact.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(|i| Num::Int(i.into()))
                .or_else(|| n.as_u64().map(|u| Num::Int(u.into())))
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(Num::Float)),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(i) = s.parse::<i128>() {
                    return Some(Num::Int(i));
                }
                // `f64::from_str` also reads "inf" and "NaN": only finite numbers count.
                s.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::Float)
            }
            _ => None,
        }
    }

    fn compare_to(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// `equals`: JSON equality, plus number/string and bool/string leniency.
fn lenient_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_), Value::Number(_) | Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            match (Num::of(a), Num::of(b)) {
                (Some(x), Some(y)) => x.compare_to(y) == Some(Ordering::Equal),
                _ => false,
            }
        }
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s.trim().eq_ignore_ascii_case(if *x { "true" } else { "false" })
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| lenient_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| lenient_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A scalar as text for `contains` and `matches`; `None` for null, lists and objects.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `contains`: case-insensitive substring, list membership, or object key.
fn contains(ing: &Value, value: &Value) -> bool {
    match ing {
        Value::String(_) | Value::Number(_) => match (scalar_text(ing), scalar_text(value)) {
            (Some(hay), Some(needle)) => hay.to_lowercase().contains(&needle.to_lowercase()),
            _ => false,
        },
        Value::Array(items) => items.iter().any(|item| {
            lenient_eq(item, value)
                || matches!((item, value), (Value::String(x), Value::String(y)) if x.to_lowercase() == y.to_lowercase())
        }),
        Value::Object(map) => value.as_str().is_some_and(|key| map.contains_key(key)),
        Value::Null | Value::Bool(_) => false,
    }
}

/// `greater_than` / `less_than`: numbers numerically, other strings by code point order.
fn compare(ing: &Value, value: &Value) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (Num::of(ing), Num::of(value)) {
        return a.compare_to(b);
    }
    match (ing, value) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

fn regex_matches(re: &Regex, ing: &Value) -> bool {
    match ing {
        Value::Array(items) => items.iter().any(|item| scalar_text(item).is_some_and(|t| re.is_match(&t))),
        other => scalar_text(other).is_some_and(|t| re.is_match(&t)),
    }
}

/// The deserialization form: every key optional, so that mistakes get a message about the
/// condition's shape rather than serde's "did not match any variant".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    ingredient: Option<String>,
    op: Option<Op>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    all: Option<Vec<Condition>>,
    any: Option<Vec<Condition>>,
    not: Option<Box<Condition>>,
}

/// Keeps `"value": null` as `Some(Null)`, distinct from a missing `value`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

const SHAPES: &str = "write {\"ingredient\": \"…\", \"op\": \"…\", \"value\": …}, or {\"all\": [ … ]}, \
                      {\"any\": [ … ]} or {\"not\": { … }}";

impl RawCondition {
    fn into_condition(self) -> Result<Condition, String> {
        let RawCondition { ingredient, op, value, all, any, not } = self;
        let is_comparison = ingredient.is_some() || op.is_some() || value.is_some();
        let combinators: Vec<&str> =
            [all.is_some().then_some("all"), any.is_some().then_some("any"), not.is_some().then_some("not")]
                .into_iter()
                .flatten()
                .collect();
        if combinators.len() > 1 {
            return Err(format!(
                "a condition has one of `all`, `any` or `not`, found {} — nest them, e.g. \
                 {{\"all\": [{{\"any\": […]}}, {{\"not\": {{…}}}}]}}",
                combinators.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ")
            ));
        }
        if let (true, Some(first)) = (is_comparison, combinators.first()) {
            return Err(format!(
                "a condition is either a comparison or `{first}`, not both — put the comparison \
                 inside the `{first}` list, or wrap both in {{\"all\": [ … ]}}"
            ));
        }
        match (all, any, not) {
            (Some(all), _, _) => return Ok(Condition::All { all }),
            (_, Some(any), _) => return Ok(Condition::Any { any }),
            (_, _, Some(not)) => return Ok(Condition::Not { not }),
            _ => {}
        }
        if !is_comparison {
            return Err(format!("empty condition: {SHAPES}"));
        }
        match (ingredient, op, value) {
            (Some(ingredient), Some(op), Some(value)) => Ok(Condition::Compare(Comparison { ingredient, op, value })),
            (ingredient, op, value) => {
                let missing: Vec<&str> = [
                    ingredient.is_none().then_some("`ingredient`"),
                    op.is_none().then_some(
                        "`op` (equals, not_equals, contains, not_contains, greater_than, \
                         less_than or matches)",
                    ),
                    value.is_none().then_some("`value`"),
                ]
                .into_iter()
                .flatten()
                .collect();
                let name = ingredient.as_deref().unwrap_or("?");
                Err(format!("the comparison on `{name}` is missing {}", missing.join(" and ")))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawCondition::deserialize(d)?.into_condition().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(v: Value) -> Condition {
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn eval(c: Value, ing: Value) -> bool {
        let c = cond(c);
        c.validate().unwrap();
        let ing: Ingredients = serde_json::from_value(ing).unwrap();
        c.evaluate(&ing).unwrap()
    }

    fn op(ingredient_value: Value, op: &str, value: Value) -> bool {
        eval(json!({"ingredient": "x", "op": op, "value": value}), json!({ "x": ingredient_value }))
    }

    #[test]
    fn parses_the_documented_shapes() {
        assert_eq!(
            cond(json!({"ingredient": "price", "op": "greater_than", "value": 100})),
            Condition::compare("price", Op::GreaterThan, json!(100))
        );
        let c = cond(json!({"all": [
            {"ingredient": "a", "op": "equals", "value": 1},
            {"any": [{"not": {"ingredient": "b", "op": "matches", "value": "^x"}}]}
        ]}));
        assert_eq!(
            c,
            Condition::All {
                all: vec![
                    Condition::compare("a", Op::Equals, json!(1)),
                    Condition::Any {
                        any: vec![Condition::Not { not: Box::new(Condition::compare("b", Op::Matches, json!("^x"))) }]
                    },
                ]
            }
        );
        // `value: null` is a value, not a missing key.
        assert_eq!(
            cond(json!({"ingredient": "a", "op": "equals", "value": null})),
            Condition::compare("a", Op::Equals, Value::Null)
        );
    }

    #[test]
    fn serializes_to_the_same_shape() {
        let shape = json!({"any": [
            {"ingredient": "a", "op": "not_contains", "value": ["x"]},
            {"not": {"all": [{"ingredient": "b", "op": "less_than", "value": 2.5}]}}
        ]});
        let c = cond(shape.clone());
        assert_eq!(serde_json::to_value(&c).unwrap(), shape);
    }

    #[test]
    fn bad_shapes_have_clear_errors() {
        let err = |v: Value| serde_json::from_value::<Condition>(v).unwrap_err().to_string();
        assert!(err(json!({})).contains("empty condition"));
        assert!(err(json!({"ingredient": "a", "op": "equals"})).contains("missing `value`"));
        assert!(err(json!({"ingredient": "a", "value": 1})).contains("missing `op`"));
        assert!(err(json!({"op": "equals", "value": 1})).contains("missing `ingredient`"));
        assert!(err(json!({"ingredient": "a", "op": "gt", "value": 1})).contains("unknown variant `gt`"));
        assert!(
            err(json!({"ingredient": "a", "op": "equals", "value": 1, "extra": 1})).contains("unknown field `extra`")
        );
        assert!(err(json!({"all": [], "any": []})).contains("`all` and `any`"));
        assert!(err(json!({"all": [], "ingredient": "a"})).contains("either a comparison or `all`"));
        assert!(err(json!([1])).contains("invalid type"));
        assert!(err(json!({"not": {"all": [{}]}})).contains("empty condition"));
    }

    #[test]
    fn validate_rejects_empty_lists_depth_bad_regex_and_values() {
        assert_eq!(cond(json!({"all": []})).validate(), Err(ConditionError::Empty { combinator: "all" }));
        assert_eq!(cond(json!({"any": []})).validate(), Err(ConditionError::Empty { combinator: "any" }));
        let mut deep = json!({"ingredient": "a", "op": "equals", "value": 1});
        for _ in 0..MAX_DEPTH - 1 {
            deep = json!({ "not": deep });
        }
        assert_eq!(cond(deep.clone()).validate(), Ok(()));
        let too_deep = cond(json!({ "all": [deep] }));
        assert_eq!(too_deep.validate(), Err(ConditionError::TooDeep { max: MAX_DEPTH }));
        assert_eq!(too_deep.evaluate(&Ingredients::new()), Err(ConditionError::TooDeep { max: MAX_DEPTH }));
        let bad = cond(json!({"ingredient": "t", "op": "matches", "value": "(unclosed"}));
        assert!(
            matches!(bad.validate(), Err(ConditionError::InvalidRegex { ref ingredient, .. }) if ingredient == "t")
        );
        let huge = cond(json!({"ingredient": "t", "op": "matches", "value": "\\w{1000}\\w{1000}\\w{1000}"}));
        let e = huge.validate().unwrap_err();
        assert!(e.to_string().contains("too big"), "{e}");
        assert!(matches!(
            cond(json!({"ingredient": "t", "op": "matches", "value": 5})).validate(),
            Err(ConditionError::BadValue { op: Op::Matches, found: "a number", .. })
        ));
        assert!(matches!(
            cond(json!({"ingredient": "t", "op": "greater_than", "value": [1]})).validate(),
            Err(ConditionError::BadValue { op: Op::GreaterThan, found: "a list", .. })
        ));
        assert_eq!(
            cond(json!({"ingredient": "", "op": "equals", "value": 1})).validate(),
            Err(ConditionError::EmptyIngredient)
        );
    }

    #[test]
    fn ingredients_are_collected() {
        let c = cond(json!({"all": [
            {"ingredient": "a", "op": "equals", "value": 1},
            {"not": {"any": [{"ingredient": "b", "op": "equals", "value": 1}, {"ingredient": "a", "op": "contains", "value": "x"}]}}
        ]}));
        assert_eq!(c.ingredients().into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn op_equals() {
        assert!(op(json!("open"), "equals", json!("open")));
        assert!(!op(json!("Open"), "equals", json!("open")));
        assert!(op(json!(5), "equals", json!("5")));
        assert!(op(json!("5"), "equals", json!(5.0)));
        assert!(op(json!(5), "equals", json!(5.0)));
        assert!(!op(json!(5), "equals", json!(6)));
        assert!(!op(json!("5"), "equals", json!("5.0")));
        assert!(op(json!(true), "equals", json!("true")));
        assert!(!op(json!(false), "equals", json!("true")));
        assert!(op(json!(null), "equals", json!(null)));
        assert!(!op(json!(null), "equals", json!("")));
        assert!(op(json!([1, "a"]), "equals", json!(["1", "a"])));
        assert!(op(json!({"k": 1}), "equals", json!({"k": "1"})));
        assert!(!op(json!({"k": 1}), "equals", json!({"j": 1})));
        // Big integers compare exactly, not through f64.
        assert!(!op(json!(9_007_199_254_740_993_i64), "equals", json!(9_007_199_254_740_992_i64)));
        assert!(!op(json!("abc"), "equals", json!(0)));
    }

    #[test]
    fn op_not_equals() {
        assert!(op(json!("a"), "not_equals", json!("b")));
        assert!(!op(json!(5), "not_equals", json!("5")));
    }

    #[test]
    fn op_contains() {
        assert!(op(json!("Fix the BUG now"), "contains", json!("bug")));
        assert!(!op(json!("feature"), "contains", json!("bug")));
        assert!(op(json!(12345), "contains", json!(234)));
        assert!(op(json!(["bug", "Help Wanted"]), "contains", json!("help wanted")));
        assert!(!op(json!(["bugfix"]), "contains", json!("bug")));
        assert!(op(json!([1, 2]), "contains", json!("2")));
        assert!(op(json!({"urgent": true}), "contains", json!("urgent")));
        assert!(!op(json!({"urgent": true}), "contains", json!("Urgent")));
        assert!(!op(json!(null), "contains", json!("")));
        assert!(!op(json!("x"), "contains", json!(null)));
    }

    #[test]
    fn op_not_contains() {
        assert!(op(json!("feature"), "not_contains", json!("bug")));
        assert!(!op(json!(["a", "b"]), "not_contains", json!("B")));
    }

    #[test]
    fn op_greater_than_and_less_than() {
        assert!(op(json!(150), "greater_than", json!(100)));
        assert!(!op(json!(100), "greater_than", json!(100)));
        assert!(op(json!(" 150.5 "), "greater_than", json!("100")));
        assert!(op(json!("9"), "less_than", json!("10")), "numeric, not lexicographic");
        assert!(op(json!(-1), "less_than", json!(0)));
        assert!(op(json!(0.1), "less_than", json!(1)));
        assert!(op(json!("2024-05-01"), "greater_than", json!("2024-04-30")));
        assert!(!op(json!("abc"), "greater_than", json!(5)));
        assert!(!op(json!("abc"), "less_than", json!(5)));
        assert!(!op(json!(null), "greater_than", json!(0)));
        assert!(!op(json!("NaN"), "greater_than", json!(0)));
        assert!(!op(json!("inf"), "greater_than", json!(0)));
        assert!(!op(json!(true), "less_than", json!(2)));
    }

    #[test]
    fn op_matches() {
        assert!(op(json!("v1.2.3"), "matches", json!(r"^v\d+\.\d+\.\d+$")));
        assert!(!op(json!("v1.2"), "matches", json!(r"^v\d+\.\d+\.\d+$")));
        assert!(op(json!("Hello"), "matches", json!("(?i)^hello$")));
        assert!(!op(json!("Hello"), "matches", json!("^hello$")));
        assert!(op(json!(404), "matches", json!("^4\\d\\d$")));
        assert!(op(json!(["a", "release-1"]), "matches", json!("^release-")));
        assert!(!op(json!({"release-1": 1}), "matches", json!("release")));
    }

    #[test]
    fn missing_ingredient_is_false_except_negations() {
        let ing = Ingredients::new();
        for (o, expected) in [
            (Op::Equals, false),
            (Op::NotEquals, true),
            (Op::Contains, false),
            (Op::NotContains, true),
            (Op::GreaterThan, false),
            (Op::LessThan, false),
            (Op::Matches, false),
        ] {
            let c = Condition::compare("absent", o, json!("x"));
            assert_eq!(c.evaluate(&ing), Ok(expected), "{o}");
        }
    }

    #[test]
    fn combinators() {
        let ing = json!({"a": 1, "b": "x"});
        let t = json!({"ingredient": "a", "op": "equals", "value": 1});
        let f = json!({"ingredient": "b", "op": "equals", "value": "y"});
        assert!(eval(json!({"all": [t, t]}), ing.clone()));
        assert!(!eval(json!({"all": [t, f]}), ing.clone()));
        assert!(eval(json!({"any": [f, t]}), ing.clone()));
        assert!(!eval(json!({"any": [f, f]}), ing.clone()));
        assert!(eval(json!({"not": f}), ing.clone()));
        assert!(!eval(json!({"not": t}), ing));
    }

    #[test]
    fn evaluate_reports_invalid_parts_it_meets() {
        let c = cond(json!({"all": [{"ingredient": "a", "op": "matches", "value": "("}]}));
        assert!(matches!(c.evaluate(&Ingredients::new()), Err(ConditionError::InvalidRegex { .. })));
        assert_eq!(
            cond(json!({"any": []})).evaluate(&Ingredients::new()),
            Err(ConditionError::Empty { combinator: "any" })
        );
    }
}
