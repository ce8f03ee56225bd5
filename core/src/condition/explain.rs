//! Why an event did not pass its area's condition, in words a person reads in the run history
//! (`title does not contain "Release" (it is "Weekly notes")`) — instead of a bare "skipped".

use serde_json::Value;

use super::{Comparison, Condition, Op, MAX_DEPTH};
use crate::connector::Ingredients;

/// Longest ingredient or value shown in a reason, in characters.
const SHOWN_CHARS: usize = 60;

impl Condition {
    /// `None` when an event with these ingredients passes; otherwise why it does not (a
    /// condition that cannot be evaluated does not pass either, and says so).
    pub fn why_not(&self, ingredients: &Ingredients) -> Option<String> {
        match self.evaluate(ingredients) {
            Ok(true) => None,
            Ok(false) => Some(self.failure(ingredients, 1)),
            Err(e) => Some(format!("the condition could not be checked: {e}")),
        }
    }

    /// The reason a condition known to fail fails.
    fn failure(&self, ingredients: &Ingredients, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "the condition is nested too deeply".into();
        }
        let holds = |c: &Condition| c.evaluate(ingredients).unwrap_or(false);
        match self {
            Condition::Compare(c) => c.failure(ingredients),
            Condition::All { all } => all
                .iter()
                .find(|c| !holds(c))
                .map_or_else(|| "the condition did not hold".into(), |c| c.failure(ingredients, depth + 1)),
            Condition::Any { any } => {
                let reasons: Vec<String> = any.iter().map(|c| c.failure(ingredients, depth + 1)).collect();
                format!("none of its choices held: {}", reasons.join("; "))
            }
            Condition::Not { not } => match not.as_ref() {
                Condition::Compare(c) => c.describe(ingredients, true),
                _ => "the condition it excludes held".into(),
            },
        }
    }
}

impl Comparison {
    /// Why this comparison failed.
    fn failure(&self, ingredients: &Ingredients) -> String {
        self.describe(ingredients, false)
    }

    /// The comparison in words, as holding (`held`) or not, with the event's actual value.
    fn describe(&self, ingredients: &Ingredients, held: bool) -> String {
        let name = &self.ingredient;
        let Some(actual) = ingredients.get(name) else {
            return format!("the event has no {name}");
        };
        // `not_*` operators read as the negation of their positive form.
        let (positive, negated) = match self.op {
            Op::Equals => ("is", false),
            Op::NotEquals => ("is", true),
            Op::Contains => ("contains", false),
            Op::NotContains => ("contains", true),
            Op::GreaterThan => ("is more than", false),
            Op::LessThan => ("is less than", false),
            Op::Matches => ("matches", false),
        };
        // The comparison failed (or, under `not`, held): say what is true of the event.
        let true_of_event_is_positive = held != negated;
        let verb = if true_of_event_is_positive {
            positive.to_string()
        } else {
            match positive {
                "is" => "is not".into(),
                "contains" => "does not contain".into(),
                "matches" => "does not match".into(),
                more_or_less => format!("is not {}", more_or_less.trim_start_matches("is ")),
            }
        };
        let value = shown(&self.value);
        let actual = shown(actual);
        if actual == value {
            format!("{name} {verb} {value}")
        } else {
            format!("{name} {verb} {value} (it is {actual})")
        }
    }
}

/// A JSON value as a reason shows it: strings quoted, everything cut to [`SHOWN_CHARS`].
fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("\"{}\"", crate::connector::truncate_chars(s, SHOWN_CHARS)),
        other => crate::connector::truncate_chars(&other.to_string(), SHOWN_CHARS),
    };
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ing(pairs: &[(&str, Value)]) -> Ingredients {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn cond(v: Value) -> Condition {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_passing_event_has_no_reason() {
        let c = cond(json!({"ingredient": "title", "op": "contains", "value": "release"}));
        assert_eq!(c.why_not(&ing(&[("title", json!("New Release 2.0"))])), None);
    }

    #[test]
    fn each_operator_says_what_is_true_of_the_event() {
        let title = ing(&[("title", json!("Weekly notes")), ("stars", json!(3))]);
        let cases = [
            (
                json!({"ingredient": "title", "op": "contains", "value": "Release"}),
                r#"title does not contain "Release" (it is "Weekly notes")"#,
            ),
            (
                json!({"ingredient": "title", "op": "not_contains", "value": "notes"}),
                r#"title contains "notes" (it is "Weekly notes")"#,
            ),
            (
                json!({"ingredient": "title", "op": "equals", "value": "x"}),
                r#"title is not "x" (it is "Weekly notes")"#,
            ),
            (json!({"ingredient": "title", "op": "not_equals", "value": "Weekly notes"}), r#"title is "Weekly notes""#),
            (json!({"ingredient": "stars", "op": "greater_than", "value": 10}), "stars is not more than 10 (it is 3)"),
            (json!({"ingredient": "stars", "op": "less_than", "value": 2}), "stars is not less than 2 (it is 3)"),
            (
                json!({"ingredient": "title", "op": "matches", "value": "^v\\d"}),
                r#"title does not match "^v\d" (it is "Weekly notes")"#,
            ),
            (json!({"ingredient": "author", "op": "equals", "value": "ada"}), "the event has no author"),
        ];
        for (c, want) in cases {
            assert_eq!(cond(c.clone()).why_not(&title).as_deref(), Some(want), "{c}");
        }
    }

    #[test]
    fn combinations_name_the_part_that_failed() {
        let event = ing(&[("title", json!("Weekly notes")), ("stars", json!(3))]);
        let all = cond(json!({"all": [
            {"ingredient": "stars", "op": "greater_than", "value": 1},
            {"ingredient": "title", "op": "contains", "value": "Release"}
        ]}));
        assert_eq!(all.why_not(&event).as_deref(), Some(r#"title does not contain "Release" (it is "Weekly notes")"#));
        let any = cond(json!({"any": [
            {"ingredient": "title", "op": "contains", "value": "a1"},
            {"ingredient": "title", "op": "contains", "value": "b2"}
        ]}));
        let why = any.why_not(&event).unwrap();
        assert!(why.starts_with("none of its choices held: title does not contain \"a1\""), "{why}");
        assert!(why.contains("title does not contain \"b2\""), "{why}");
        let not = cond(json!({"not": {"ingredient": "title", "op": "contains", "value": "weekly"}}));
        assert_eq!(not.why_not(&event).as_deref(), Some(r#"title contains "weekly" (it is "Weekly notes")"#));
    }

    #[test]
    fn long_or_multiline_values_are_cut_to_one_short_line() {
        let event = ing(&[("title", json!(format!("{}\nsecond line", "x".repeat(200))))]);
        let why = cond(json!({"ingredient": "title", "op": "contains", "value": "y"})).why_not(&event).unwrap();
        assert!(!why.contains('\n') && why.chars().count() < 120, "{why}");
    }
}
