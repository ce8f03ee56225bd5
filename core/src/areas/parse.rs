//! Reading area files: one area object or a list of them.
//!
//! The structure is checked by hand rather than by `serde` so that every error names the field
//! it is about (`reactions[0].service: expected a string, got 12`) instead of serde's
//! "data did not match any variant of untagged enum". The result is the same [`AreaSpec`]
//! serde would build; only the condition is handed to its own deserializer.

use crate::json_text::type_name;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::spec::{AreaSpec, StepSpec};
use super::{join_path, AreaError};
use crate::condition::Condition;

/// Largest area file accepted, in bytes: generous for thousands of areas, small enough that a
/// wrong file (a video, a log) is refused before it is parsed.
pub const MAX_AREA_FILE_BYTES: usize = 64 * 1024 * 1024;

const AREA_KEYS: &str =
    "name, action, reactions, condition, enabled, interval_secs, allow_private_network, max_events_per_poll";
const STEP_KEYS: &str = "service, id, params";

/// Parses the text of an area file: one area object, or a list of them (errors in a list are
/// prefixed with the area's index, `[2].name`). A list must not be empty.
pub fn parse_area_file(text: &str) -> Result<Vec<AreaSpec>, AreaError> {
    if text.len() > MAX_AREA_FILE_BYTES {
        return Err(AreaError::invalid(
            "",
            format!("the area file is {} bytes, more than the {MAX_AREA_FILE_BYTES} allowed", text.len()),
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        AreaError::invalid("", format!("not valid JSON ({e}): an area file is a JSON object or a list of them"))
    })?;
    parse_area_value(&value)
}

/// Like [`parse_area_file`], for an already parsed JSON value (the UI sends JSON directly).
pub fn parse_area_value(value: &Value) -> Result<Vec<AreaSpec>, AreaError> {
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(AreaError::invalid("", "the file holds an empty list: write one area object, or a list of them"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_area(item).map_err(|e| e.within(&format!("[{i}]"))))
            .collect(),
        other => parse_area(other).map(|a| vec![a]),
    }
}

/// Parses one area object.
pub(crate) fn parse_area(value: &Value) -> Result<AreaSpec, AreaError> {
    let obj = value.as_object().ok_or_else(|| {
        AreaError::invalid(
            "",
            format!("expected an area object {{\"name\", \"action\", \"reactions\"}}, got {}", type_name(value)),
        )
    })?;
    for key in obj.keys() {
        if !AREA_KEYS.split(", ").any(|k| k == key) {
            return Err(AreaError::invalid(key.as_str(), format!("unknown field — an area has {AREA_KEYS}")));
        }
    }
    let name = required_string(obj, "name", "")?;
    let action = match obj.get("action") {
        None | Some(Value::Null) => {
            return Err(AreaError::invalid(
                "action",
                "missing — say what triggers the area: {\"service\": …, \"id\": …, \"params\": {…}}",
            ))
        }
        Some(v) => parse_step(v, "action")?,
    };
    let reactions = match obj.get("reactions") {
        None | Some(Value::Null) => {
            return Err(AreaError::invalid(
                "reactions",
                "missing — list what the area does: [{\"service\": …, \"id\": …, \"params\": {…}}]",
            ))
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| parse_step(v, &format!("reactions[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(AreaError::invalid(
                "reactions",
                format!("expected a list of reactions, got {}", type_name(other)),
            ))
        }
    };
    let condition = match obj.get("condition") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_condition(v).map_err(|e| AreaError::invalid("condition", e))?),
    };
    let enabled = optional_bool(obj, "enabled")?.unwrap_or(true);
    let allow_private_network = optional_bool(obj, "allow_private_network")?.unwrap_or(false);
    let interval_secs = match obj.get("interval_secs") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            AreaError::invalid(
                "interval_secs",
                format!("expected a whole number of seconds between polls, got {}", show(v)),
            )
        })?),
    };
    let max_events_per_poll = match obj.get("max_events_per_poll") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            AreaError::invalid(
                "max_events_per_poll",
                format!("expected a whole number of new events one poll may fire, got {}", show(v)),
            )
        })?),
    };
    Ok(AreaSpec {
        name,
        action,
        reactions,
        condition,
        enabled,
        interval_secs,
        allow_private_network,
        max_events_per_poll,
    })
}

fn parse_step(value: &Value, path: &str) -> Result<StepSpec, AreaError> {
    let obj = value.as_object().ok_or_else(|| {
        AreaError::invalid(
            path,
            format!("expected an object {{\"service\": …, \"id\": …, \"params\": {{…}}}}, got {}", type_name(value)),
        )
    })?;
    for key in obj.keys() {
        if !STEP_KEYS.split(", ").any(|k| k == key) {
            return Err(AreaError::invalid(join_path(path, key), format!("unknown field — a step has {STEP_KEYS}")));
        }
    }
    let service = required_string(obj, "service", path)?;
    let id = required_string(obj, "id", path)?;
    let params = match obj.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            return Err(AreaError::invalid(
                join_path(path, "params"),
                format!("expected an object of parameters {{\"name\": value}}, got {}", type_name(other)),
            ))
        }
    };
    Ok(StepSpec { service, id, params })
}

fn required_string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String, AreaError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(AreaError::invalid(join_path(path, key), "missing")),
        Some(other) => {
            Err(AreaError::invalid(join_path(path, key), format!("expected a string, got {}", type_name(other))))
        }
    }
}

fn optional_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, AreaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(AreaError::invalid(key, format!("expected true or false, got {}", show(other)))),
    }
}

/// A value as JSON text for messages, cut to a readable length.
pub(crate) fn show(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        None => text,
        Some((idx, _)) => format!("{}…", &text[..idx]),
    }
}

/// A condition written as JSON text (the editor's advanced condition), read by the same
/// reader as an area file's and checked on its own (operators against value types, depth).
/// Whether the ingredients it reads exist is for [`super::validate`], which knows the action.
pub fn read_condition(text: &str) -> Result<Condition, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the condition is not valid JSON ({e})"))?;
    let condition = parse_condition(&value)?;
    condition.validate().map_err(|e| e.to_string())?;
    Ok(condition)
}

/// A condition through its own deserializer (which gives shape-specific messages).
fn parse_condition(value: &Value) -> Result<Condition, String> {
    Condition::deserialize(value).map_err(|e| e.to_string())
}
