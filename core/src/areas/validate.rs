//! Checking an area against the catalog before it is saved.
//!
//! The first problem found is returned as [`AreaError::Invalid`] with the JSON path of the
//! field. Checks, in order: name; action service, id and parameters; poll interval; reactions
//! (count, service, id, parameters); condition. Parameters are checked against their
//! [`ParamType`] strictly (no `"5"` for an integer), absent optional ones get their default, and
//! text parameters are checked for templates: a templated reaction parameter must parse
//! ([`Template::parse`]) and read only ingredients the action provides (unless its ingredients
//! are dynamic, like a webhook body's fields); any other parameter must not contain `{{`/`{%`.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::parse::show;
use super::spec::{default_interval_for, AreaSpec, DEFAULT_INTERVAL_SECS};
use super::{join_path, AreaError};
use crate::catalog::{
    ActionKind, ActionManifest, Availability, Catalog, ParamSpec, ParamType, ServiceManifest, TextContext,
};
use crate::condition::{Condition, ConditionError, MAX_DEPTH};
use crate::connector::Params;
use crate::json_text::type_name;
use crate::template::{is_template, Template};

/// Longest area name, in characters: a label for lists, not a description.
pub const MAX_NAME_CHARS: usize = 200;

/// Most reactions one area may have: more is a sign of a mistake, and each event's run
/// delivers them in sequence.
pub const MAX_REACTIONS: usize = 10;

/// An area that passed [`validate`]: the spec as written plus what the checks computed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedArea {
    spec: AreaSpec,
    action_params: Params,
    reaction_params: Vec<Params>,
    interval_secs: u32,
    webhook: bool,
}

impl ValidatedArea {
    /// The area as written (stored and exported unchanged).
    pub fn spec(&self) -> &AreaSpec {
        &self.spec
    }

    /// Gives back the area as written.
    pub fn into_spec(self) -> AreaSpec {
        self.spec
    }

    /// The action's parameters with defaults applied, as the connector will receive them.
    pub fn action_params(&self) -> &Params {
        &self.action_params
    }

    /// Each reaction's parameters (templates unexpanded) with defaults applied, in order.
    pub fn reaction_params(&self) -> &[Params] {
        &self.reaction_params
    }

    /// Seconds between polls: the area's own, or [`DEFAULT_INTERVAL_SECS`] (raised to the
    /// action's minimum when that is higher).
    pub fn interval_secs(&self) -> u32 {
        self.interval_secs
    }

    /// Whether the action's events are pushed (webhooks), so its areas get a secret URL.
    pub fn is_webhook(&self) -> bool {
        self.webhook
    }

    /// A SHA-256 (hex) of the action's service, id and parameters with defaults applied, in
    /// canonical JSON (object keys sorted, no whitespace). When it changes, the action watches
    /// something else, so the engine must drop its cursor and seen events and baseline again.
    pub fn action_fingerprint(&self) -> String {
        let action = serde_json::json!({
            "service": self.spec.action.service,
            "id": self.spec.action.id,
            "params": Value::Object(self.action_params.clone()),
        });
        let mut canonical = String::new();
        write_canonical(&action, &mut canonical);
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// JSON with object keys sorted at every level, whatever map type serde_json was built with.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What templates and conditions may read: the action's declared ingredients, or anything.
struct IngredientScope<'a> {
    owner: String,
    /// In manifest order, for messages.
    declared: Vec<&'a str>,
    dynamic: bool,
}

impl IngredientScope<'_> {
    /// An error message (completing "the template reads …") when `name` is not an ingredient
    /// of the action.
    fn check(&self, name: &str) -> Result<(), String> {
        if self.dynamic || self.declared.contains(&name) {
            return Ok(());
        }
        let available = if self.declared.is_empty() {
            "it provides no ingredients".to_string()
        } else {
            format!("its ingredients: {}", self.declared.join(", "))
        };
        Err(format!("`{name}`, which {} does not provide — {available}", self.owner))
    }
}

/// Checks `spec` against the catalog; see the module doc. Nothing is stored.
pub fn validate(catalog: &Catalog, spec: &AreaSpec) -> Result<ValidatedArea, AreaError> {
    check_name(&spec.name)?;

    // The action.
    let action_step = &spec.action;
    let service = lookup_service(catalog, &action_step.service, "action.service")?;
    let Some((_, manifest, kind)) = catalog.action(&action_step.service, &action_step.id) else {
        return Err(AreaError::invalid("action.id", no_such_step(service, &action_step.id, true)));
    };
    let owner = format!("{}.{}", service.id, manifest.id);
    let scope = IngredientScope {
        owner: owner.clone(),
        declared: manifest.ingredients.iter().map(|i| i.id).collect(),
        dynamic: manifest.dynamic_ingredients,
    };
    // Action parameters never hold templates: there is no event yet to read ingredients from.
    let action_params = check_params(&manifest.params, &action_step.params, "action.params", &owner, None)?;
    let default = default_interval_for(catalog, &action_step.service, manifest);
    let interval_secs = check_interval(manifest, kind, spec.interval_secs, &owner, default)?;
    spec.check_events_per_poll().map_err(|e| AreaError::invalid("max_events_per_poll", e))?;

    // The reactions.
    if spec.reactions.is_empty() {
        return Err(AreaError::invalid(
            "reactions",
            "an area needs at least one reaction: what should happen when the action fires?",
        ));
    }
    if spec.reactions.len() > MAX_REACTIONS {
        return Err(AreaError::invalid(
            "reactions",
            format!("an area has at most {MAX_REACTIONS} reactions, this one has {}", spec.reactions.len()),
        ));
    }
    let mut reaction_params = Vec::with_capacity(spec.reactions.len());
    for (i, step) in spec.reactions.iter().enumerate() {
        let path = format!("reactions[{i}]");
        let service = lookup_service(catalog, &step.service, &join_path(&path, "service"))?;
        let Some((_, reaction, _)) = catalog.reaction(&step.service, &step.id) else {
            return Err(AreaError::invalid(join_path(&path, "id"), no_such_step(service, &step.id, false)));
        };
        let owner = format!("{}.{}", service.id, reaction.id);
        let params = check_params(&reaction.params, &step.params, &join_path(&path, "params"), &owner, Some(&scope))?;
        reaction_params.push(params);
    }

    // The condition.
    if let Some(condition) = &spec.condition {
        check_condition(condition, "condition", 1, &scope)?;
        // Belt and braces: whatever the walk above missed, the condition's own check catches.
        condition.validate().map_err(|e| AreaError::invalid("condition", e.to_string()))?;
    }

    let webhook = kind.is_pushed();
    Ok(ValidatedArea { spec: spec.clone(), action_params, reaction_params, interval_secs, webhook })
}

fn check_name(name: &str) -> Result<(), AreaError> {
    if name.trim().is_empty() {
        return Err(AreaError::invalid("name", "an area needs a name, e.g. \"New posts to my phone\""));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(AreaError::invalid(
            "name",
            format!("the name is {chars} characters long; use at most {MAX_NAME_CHARS}"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AreaError::invalid("name", "the name must be one line, without control characters or tabs"));
    }
    Ok(())
}

fn lookup_service<'c>(catalog: &'c Catalog, id: &str, field: &str) -> Result<&'c ServiceManifest, AreaError> {
    let Some(service) = catalog.service(id) else {
        let known: Vec<&str> = catalog.manifests().map(|m| m.id).collect();
        return Err(AreaError::invalid(
            field,
            format!("unknown service {:?} — available services: {}", id, known.join(", ")),
        ));
    };
    if let Availability::Unavailable(reason) = &service.manifest.availability {
        return Err(AreaError::invalid(field, format!("the {id} service is unavailable: {reason}")));
    }
    Ok(&service.manifest)
}

fn no_such_step(service: &ServiceManifest, id: &str, action: bool) -> String {
    let (what, ids): (&str, Vec<&str>) = if action {
        ("action", service.actions.iter().map(|a| a.id).collect())
    } else {
        ("reaction", service.reactions.iter().map(|r| r.id).collect())
    };
    if ids.is_empty() {
        let other = if action { "reactions" } else { "actions" };
        format!("{} has no {what}s (it only offers {other}), so {id:?} cannot be used here", service.id)
    } else {
        format!("{} has no {what} {id:?} — its {what}s: {}", service.id, ids.join(", "))
    }
}

fn check_interval(
    manifest: &ActionManifest,
    kind: &ActionKind,
    given: Option<u32>,
    owner: &str,
    default: u32,
) -> Result<u32, AreaError> {
    let min = manifest.min_interval_secs.unwrap_or(1).max(1);
    match given {
        Some(secs) if secs < min => Err(AreaError::invalid(
            "interval_secs",
            if min > 1 {
                format!("{owner} may poll at most every {min} seconds: use an interval of at least {min}, not {secs}")
            } else {
                "use an interval of at least 1 second".to_string()
            },
        )),
        Some(secs) => Ok(secs),
        // Only polled actions use the interval; the others keep the default for display.
        None if matches!(kind, ActionKind::Polled(_)) => Ok(default.max(min)),
        None => Ok(DEFAULT_INTERVAL_SECS),
    }
}

/// Checks parameters against their specs and returns them with defaults applied.
/// `scope` is `Some` for reactions, whose templated parameters may read ingredients.
fn check_params(
    specs: &[ParamSpec],
    given: &Params,
    path: &str,
    owner: &str,
    scope: Option<&IngredientScope<'_>>,
) -> Result<Params, AreaError> {
    for key in given.keys() {
        if !specs.iter().any(|s| s.id == key) {
            let takes = if specs.is_empty() {
                format!("{owner} takes no parameters")
            } else {
                format!("{owner} takes: {}", specs.iter().map(|s| s.id).collect::<Vec<_>>().join(", "))
            };
            return Err(AreaError::invalid(join_path(path, key), format!("unknown parameter — {takes}")));
        }
    }
    let mut out = Params::new();
    for spec in specs {
        let field = join_path(path, spec.id);
        match given.get(spec.id).filter(|v| !v.is_null()) {
            None if spec.required => {
                return Err(AreaError::invalid(
                    field,
                    format!("missing required parameter ({}: {})", spec.label, spec.help),
                ))
            }
            None => {
                if let Some(default) = &spec.default {
                    out.insert(spec.id.to_string(), default.clone());
                }
            }
            Some(value) => {
                let templates = if spec.templated { scope } else { None };
                check_value(&spec.kind, value, &field, templates.map(|scope| (scope, spec.context)))?;
                out.insert(spec.id.to_string(), value.clone());
            }
        }
        if spec.consent && out.get(spec.id) != Some(&Value::Bool(true)) {
            return Err(AreaError::invalid(
                field,
                format!(
                    "{owner} acts on your computer and needs your permission: check what it does, then tick \
                     \"{}\" ({} set to true)",
                    spec.label, spec.id
                ),
            ));
        }
    }
    Ok(out)
}

/// `templates` is the ingredient scope and text context of a templated parameter, `None` for a
/// parameter that cannot use ingredients.
fn check_value(
    kind: &ParamType,
    value: &Value,
    field: &str,
    templates: Option<(&IngredientScope<'_>, TextContext)>,
) -> Result<(), AreaError> {
    let wrong = |expected: String| AreaError::invalid(field, format!("expected {expected}, got {}", show(value)));
    match kind {
        ParamType::String => {
            let s = value.as_str().ok_or_else(|| wrong("text".into()))?;
            check_text(s, field, templates)
        }
        ParamType::Url => {
            let s = value.as_str().ok_or_else(|| wrong("a URL (text)".into()))?;
            if templates.is_some() && is_template(s) {
                check_text(s, field, templates)
            } else {
                check_text(s, field, None)?;
                check_url(s, field)
            }
        }
        ParamType::Integer { min, max } => {
            let bounds = match (min, max) {
                (Some(lo), Some(hi)) => format!(" ≥ {lo} and ≤ {hi}"),
                (Some(lo), None) => format!(" ≥ {lo}"),
                (None, Some(hi)) => format!(" ≤ {hi}"),
                (None, None) => String::new(),
            };
            let n = as_integer(value).ok_or_else(|| wrong(format!("an integer{bounds}")))?;
            if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
                return Err(wrong(format!("an integer{bounds}")));
            }
            Ok(())
        }
        ParamType::Number => value.is_number().then_some(()).ok_or_else(|| wrong("a number".into())),
        ParamType::Boolean => value.is_boolean().then_some(()).ok_or_else(|| wrong("true or false".into())),
        ParamType::Enum { choices } => {
            let expected = || format!("one of {}", choices.join(", "));
            let s = value.as_str().ok_or_else(|| wrong(expected()))?;
            if choices.iter().any(|c| c == s) {
                Ok(())
            } else {
                Err(wrong(expected()))
            }
        }
        ParamType::StringMap => {
            let map = value
                .as_object()
                .ok_or_else(|| wrong("an object of text values, e.g. {\"Name\": \"value\"}".into()))?;
            for (key, item) in map {
                let item_field = join_path(field, key);
                if is_template(key) {
                    return Err(AreaError::invalid(
                        item_field,
                        "names cannot use ingredients: only the values may hold {{ … }} templates",
                    ));
                }
                let s = item.as_str().ok_or_else(|| {
                    AreaError::invalid(&item_field, format!("expected text, got {}", type_name(item)))
                })?;
                check_text(s, &item_field, templates)?;
            }
            Ok(())
        }
        ParamType::DateTime => {
            let s = value.as_str().ok_or_else(|| wrong("an RFC 3339 date and time (text)".into()))?;
            check_text(s, field, None)?;
            chrono::DateTime::parse_from_rfc3339(s.trim()).map(drop).map_err(|e| {
                AreaError::invalid(
                    field,
                    format!(
                        "{} is not an RFC 3339 date and time ({e}): write e.g. 2025-12-24T18:00:00+01:00",
                        show(value)
                    ),
                )
            })
        }
    }
}

/// An integral JSON number (`5` or `5.0`) as i64.
fn as_integer(value: &Value) -> Option<i64> {
    let n = value.as_number()?;
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
}

/// Template checks for one piece of text. `templates` is `None` where templates are not allowed.
fn check_text(s: &str, field: &str, templates: Option<(&IngredientScope<'_>, TextContext)>) -> Result<(), AreaError> {
    if !is_template(s) {
        return Ok(());
    }
    let Some((scope, context)) = templates else {
        return Err(AreaError::invalid(
            field,
            "this parameter cannot use ingredients, so it must not contain {{ … }} or {% … %}",
        ));
    };
    let template = Template::parse(s).map_err(|e| AreaError::invalid(field, e.to_string()))?;
    template.check_context(context).map_err(|e| AreaError::invalid(field, e.to_string()))?;
    for name in template.ingredients() {
        scope.check(&name).map_err(|e| AreaError::invalid(field, format!("the template reads {e}")))?;
    }
    Ok(())
}

fn check_url(s: &str, field: &str) -> Result<(), AreaError> {
    let url = url::Url::parse(s.trim())
        .map_err(|e| AreaError::invalid(field, format!("not a valid URL ({e}): {}", show(&Value::from(s)))))?;
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(AreaError::invalid(field, format!("only http:// and https:// URLs are supported, not {other}:"))),
    }
}

/// Walks the condition so errors point at the exact comparison (`condition.all[1].ingredient`).
fn check_condition(
    condition: &Condition,
    path: &str,
    depth: usize,
    scope: &IngredientScope<'_>,
) -> Result<(), AreaError> {
    if depth > MAX_DEPTH {
        return Err(AreaError::invalid(path, ConditionError::TooDeep { max: MAX_DEPTH }.to_string()));
    }
    match condition {
        Condition::Compare(cmp) => {
            if let Err(e) = Condition::Compare(cmp.clone()).validate() {
                let sub = match e {
                    ConditionError::EmptyIngredient => "ingredient",
                    ConditionError::InvalidRegex { .. } | ConditionError::BadValue { .. } => "value",
                    _ => "",
                };
                return Err(AreaError::invalid(join_path(path, sub), e.to_string()));
            }
            scope
                .check(&cmp.ingredient)
                .map_err(|e| AreaError::invalid(join_path(path, "ingredient"), format!("the condition reads {e}")))
        }
        Condition::All { all: list } | Condition::Any { any: list } => {
            let key = if matches!(condition, Condition::All { .. }) { "all" } else { "any" };
            let list_path = join_path(path, key);
            if list.is_empty() {
                return Err(AreaError::invalid(list_path, ConditionError::Empty { combinator: key }.to_string()));
            }
            for (i, inner) in list.iter().enumerate() {
                check_condition(inner, &format!("{list_path}[{i}]"), depth + 1, scope)?;
            }
            Ok(())
        }
        Condition::Not { not } => check_condition(not, &join_path(path, "not"), depth + 1, scope),
    }
}

/// Checks one action's parameters alone (fields `action.params.<id>`) and returns them with
/// defaults applied: what loading a sample event needs before the rest of the area exists.
pub fn validate_action_params(
    catalog: &Catalog,
    service: &str,
    action: &str,
    params: &Params,
) -> Result<Params, AreaError> {
    let manifest = lookup_service(catalog, service, "action.service")?;
    let Some((_, action_manifest, _)) = catalog.action(service, action) else {
        return Err(AreaError::invalid("action.id", no_such_step(manifest, action, true)));
    };
    let owner = format!("{}.{}", manifest.id, action_manifest.id);
    check_params(&action_manifest.params, params, "action.params", &owner, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = String::new();
        write_canonical(&json!({"b": [{"z": 1, "a": "x"}], "a": null}), &mut out);
        assert_eq!(out, r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }

    #[test]
    fn templated_urls_need_a_literal_origin() {
        let scope = IngredientScope { owner: "test".into(), declared: vec![], dynamic: true };
        let check = |s: &str| check_text(s, "f", Some((&scope, TextContext::Url)));
        assert!(check("https://x/{{ id }}").is_ok());
        assert!(check("https://x:8080/a/b?q={{ id }}").is_ok());
        assert!(check("https://x?q={{ id }}").is_ok());
        assert!(check("{{ url }}").is_err());
        assert!(check("http{{ s }}://x").is_err());
        assert!(check("http://127.0.0.1:8080{{ path }}").is_err());
        assert!(check("https://x{{ id }}.example.com/").is_err());
        assert!(check("ftp://x/{{ id }}").is_err());
        assert!(check("example.com/{{ id }}").is_err());
    }
}
