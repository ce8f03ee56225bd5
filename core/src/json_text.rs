//! Describing JSON values in user-facing error messages, the same way everywhere.

use serde_json::Value;

/// "a string", "a number"…: for messages about the wrong kind of JSON value.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
