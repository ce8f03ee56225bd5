//! The area editor's shape: every parameter as the text a form field holds. The UI never has to
//! know that `minutes` is a number or `headers` an object — [`AreaForm::into_spec`] converts by
//! the parameter schema and names the field when a value does not convert, and
//! [`AreaForm::from_spec`] turns a stored area back into field texts for editing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::areas::{AreaSpec, StepSpec};
use crate::catalog::{Catalog, ParamSpec, ParamType};
use crate::condition::Condition;
use crate::connector::Params;

use super::ApiError;

/// One step as a form holds it: parameter values as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct FormStep {
    pub service: String,
    pub id: String,
    pub params: BTreeMap<String, String>,
}

/// An area as the editor holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct AreaForm {
    /// What the user calls it: 1 to 200 characters, not only spaces, no control characters.
    #[schemars(length(min = 1, max = 200), regex(pattern = r"\S"))]
    pub name: String,
    pub action: FormStep,
    pub reactions: Vec<FormStep>,
    pub condition: Option<Condition>,
    pub enabled: bool,
    /// Seconds between polls; `None` uses the default.
    pub interval_secs: Option<u32>,
    pub allow_private_network: bool,
}

impl AreaForm {
    /// The area file this form describes, with each value converted to its parameter's type.
    pub fn into_spec(self, catalog: &Catalog) -> Result<AreaSpec, ApiError> {
        let action_params = catalog.action(&self.action.service, &self.action.id).map(|(_, m, _)| &m.params[..]);
        let action = convert_step(self.action, action_params, "action")?;
        let mut reactions = Vec::with_capacity(self.reactions.len());
        for (i, step) in self.reactions.into_iter().enumerate() {
            let schema = catalog.reaction(&step.service, &step.id).map(|(_, m, _)| &m.params[..]);
            reactions.push(convert_step(step, schema, &format!("reactions[{i}]"))?);
        }
        Ok(AreaSpec {
            name: self.name,
            action,
            reactions,
            condition: self.condition,
            enabled: self.enabled,
            interval_secs: self.interval_secs,
            allow_private_network: self.allow_private_network,
            // The editor has no field for it yet: the default budget.
            max_events_per_poll: None,
        })
    }

    /// The editor's view of a stored area.
    pub fn from_spec(spec: AreaSpec) -> AreaForm {
        AreaForm {
            name: spec.name,
            action: text_step(spec.action),
            reactions: spec.reactions.into_iter().map(text_step).collect(),
            condition: spec.condition,
            enabled: spec.enabled,
            interval_secs: spec.interval_secs,
            allow_private_network: spec.allow_private_network,
        }
    }
}

fn text_step(step: StepSpec) -> FormStep {
    let params = step
        .params
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    FormStep { service: step.service, id: step.id, params }
}

/// Converts one step's texts; `schema` is `None` for an unknown service or step (validation
/// then names that problem, so the texts are passed through).
pub(crate) fn convert_step(step: FormStep, schema: Option<&[ParamSpec]>, path: &str) -> Result<StepSpec, ApiError> {
    let mut params = Params::new();
    for (key, text) in step.params {
        let spec = schema.and_then(|s| s.iter().find(|p| p.id == key));
        // An empty field means "not given": the default applies, or validation says it is required.
        if text.trim().is_empty() && spec.is_some_and(|s| !matches!(s.kind, ParamType::String)) {
            continue;
        }
        if text.is_empty() {
            continue;
        }
        let field = format!("{path}.params.{key}");
        let value = match spec.map(|s| &s.kind) {
            Some(ParamType::Integer { .. }) => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| ApiError::invalid(&field, format!("expected a whole number, got {text:?}")))?,
            Some(ParamType::Number) => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| ApiError::invalid(&field, format!("expected a number, got {text:?}")))?,
            Some(ParamType::Boolean) => match text.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(ApiError::invalid(&field, format!("expected true or false, got {text:?}"))),
            },
            Some(ParamType::StringMap) => match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err(ApiError::invalid(
                        &field,
                        "expected a JSON object of text values, e.g. {\"Name\": \"value\"}",
                    ))
                }
            },
            _ => Value::String(text),
        };
        params.insert(key, value);
    }
    Ok(StepSpec { service: step.service, id: step.id, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(params: &[(&str, &str)]) -> AreaForm {
        AreaForm {
            name: "n".into(),
            action: FormStep {
                service: "timer".into(),
                id: "every".into(),
                params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            },
            reactions: vec![FormStep {
                service: "http".into(),
                id: "request".into(),
                params: [("headers".to_string(), "{\"X\": \"1\"}".to_string())].into(),
            }],
            condition: None,
            enabled: true,
            interval_secs: None,
            allow_private_network: false,
        }
    }

    #[test]
    fn texts_convert_by_schema_and_back() {
        let catalog = crate::services::catalog(&crate::settings::Settings::empty());
        let (_, action, _) = catalog.action("timer", "every").expect("timer.every exists");
        let int_param = action
            .params
            .iter()
            .find(|p| matches!(p.kind, ParamType::Integer { .. }))
            .expect("timer.every has an integer parameter");
        let spec = form(&[(int_param.id, "15")]).into_spec(&catalog).expect("converts");
        assert_eq!(spec.action.params.get(int_param.id), Some(&Value::from(15)));
        assert_eq!(spec.reactions[0].params.get("headers"), Some(&serde_json::json!({"X": "1"})));
        let back = AreaForm::from_spec(spec);
        assert_eq!(back.action.params.get(int_param.id).map(String::as_str), Some("15"));
    }

    #[test]
    fn a_bad_number_names_its_field() {
        let catalog = crate::services::catalog(&crate::settings::Settings::empty());
        let (_, action, _) = catalog.action("timer", "every").expect("timer.every exists");
        let int_param = action.params.iter().find(|p| matches!(p.kind, ParamType::Integer { .. })).expect("int");
        let err = form(&[(int_param.id, "soon")]).into_spec(&catalog).expect_err("not a number");
        assert_eq!(err.field.as_deref(), Some(format!("action.params.{}", int_param.id).as_str()));
    }
}
