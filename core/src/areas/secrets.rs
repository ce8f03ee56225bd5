//! Secret parameters of an area (ARCHITECTURE.md "Trust rules": "Secrets are sealed").
//!
//! A parameter the catalog marks [`secret`](crate::catalog::ParamSpec::secret) — an HTTP header
//! map, a webhook URL whose path is its token — has one *slot* per value: the parameter itself,
//! or, for a string map, each of its entries (the whole map is secret: every value is sealed;
//! the header *names* stay readable so a user knows what to fill in). A slot's value takes one of
//! three forms:
//! - clear: in memory only, between parsing a file and saving it, and in the engine;
//! - sealed: `sealed:v1:<base64>` in `areas.definition`, XChaCha20-Poly1305 under the master key
//!   with associated data naming the area row and the slot's path, so a sealed value copied to
//!   another area or another parameter does not open;
//! - a placeholder `<secret: NAME>`: what `show` and `export` print, what an imported file holds
//!   until the user gives the value, and what an edit sends back for "unchanged".

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::spec::{AreaSpec, StepSpec};
use crate::catalog::{Catalog, ParamType};
use crate::crypto::{CryptoError, MasterKey};

/// Prefix of a sealed slot value as stored.
const SEALED_PREFIX: &str = "sealed:v1:";

/// One secret value of an area: where it is and what to call it when asking for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct SecretField {
    /// JSON path into the area file: `reactions[0].params.webhook_url`, or
    /// `reactions[0].params.headers.Authorization` for one entry of a map.
    pub path: String,
    /// Short name shown in the placeholder: `webhook_url`, `headers.Authorization`.
    pub name: String,
}

/// The secrets an area file holds only as placeholders: the user must give them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", needed_message(.0))]
pub struct SecretsNeeded(pub Vec<SecretField>);

fn needed_message(fields: &[SecretField]) -> String {
    let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    format!(
        "this area holds secret placeholders; give the value of {} (an exported file never carries secrets)",
        paths.join(", ")
    )
}

/// The placeholder printed instead of a secret.
pub fn placeholder(name: &str) -> String {
    format!("<secret: {name}>")
}

/// Whether a value is a placeholder (any `<secret: …>` text), not a real secret.
pub fn is_placeholder(value: &Value) -> bool {
    value.as_str().map(str::trim).is_some_and(|s| s.starts_with("<secret:") && s.ends_with('>'))
}

/// A slot visited by [`visit`]: its field and its value, to read or replace.
struct Slot<'a> {
    field: SecretField,
    /// Index of the step (0 = action, i + 1 = reaction i) and its service and id, to match a
    /// slot of an edited area with the stored one.
    step: (usize, String, String),
    value: &'a mut Value,
}

/// Calls `f` on every secret slot of `spec` holding a value (absent and null are skipped).
fn visit<E>(catalog: &Catalog, spec: &mut AreaSpec, mut f: impl FnMut(Slot<'_>) -> Result<(), E>) -> Result<(), E> {
    let action_schema = catalog.action(&spec.action.service, &spec.action.id).map(|(_, a, _)| a.params.clone());
    visit_step(&mut spec.action, 0, "action", action_schema.as_deref(), &mut f)?;
    for (i, step) in spec.reactions.iter_mut().enumerate() {
        let schema = catalog.reaction(&step.service, &step.id).map(|(_, r, _)| r.params.clone());
        visit_step(step, i + 1, &format!("reactions[{i}]"), schema.as_deref(), &mut f)?;
    }
    Ok(())
}

fn visit_step<E>(
    step: &mut StepSpec,
    index: usize,
    prefix: &str,
    schema: Option<&[crate::catalog::ParamSpec]>,
    f: &mut impl FnMut(Slot<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let Some(schema) = schema else { return Ok(()) };
    let who = (index, step.service.clone(), step.id.clone());
    for param in schema.iter().filter(|p| p.secret) {
        let Some(value) = step.params.get_mut(param.id) else { continue };
        match value {
            Value::Null => {}
            // A map: each entry is a slot (a whole-map placeholder or sealed text is one slot).
            Value::Object(map) if matches!(param.kind, ParamType::StringMap) => {
                for (key, entry) in map.iter_mut() {
                    if entry.is_null() {
                        continue;
                    }
                    let field = SecretField {
                        path: format!("{prefix}.params.{}.{key}", param.id),
                        name: format!("{}.{key}", param.id),
                    };
                    f(Slot { field, step: who.clone(), value: entry })?;
                }
            }
            _ => {
                let field = SecretField { path: format!("{prefix}.params.{}", param.id), name: param.id.to_string() };
                f(Slot { field, step: who.clone(), value })?;
            }
        }
    }
    Ok(())
}

/// Every secret slot `spec` holds a value for, in file order.
pub fn fields(catalog: &Catalog, spec: &AreaSpec) -> Vec<SecretField> {
    let mut spec = spec.clone();
    let mut out = Vec::new();
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        out.push(slot.field);
        Ok(())
    });
    out
}

/// The secrets `spec` holds only as placeholders, in file order.
pub fn missing(catalog: &Catalog, spec: &AreaSpec) -> Vec<SecretField> {
    let mut spec = spec.clone();
    let mut out = Vec::new();
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        if is_placeholder(slot.value) {
            out.push(slot.field);
        }
        Ok(())
    });
    out
}

/// Replaces each placeholder with the value `give` returns for its field (the CLI prompts, the
/// app passes what its form collected). A value that is itself JSON text of an object is taken
/// as is for a whole-map slot; anything else is a string.
pub fn fill<E>(
    catalog: &Catalog,
    spec: &mut AreaSpec,
    mut give: impl FnMut(&SecretField) -> Result<String, E>,
) -> Result<(), E> {
    visit(catalog, spec, |slot| {
        if is_placeholder(slot.value) {
            let given = give(&slot.field)?;
            *slot.value = match serde_json::from_str::<Value>(&given) {
                Ok(object @ Value::Object(_)) if !slot.field.name.contains('.') => object,
                _ => Value::String(given),
            };
        }
        Ok(())
    })
}

/// Fills placeholders from a map of field path → value (the app's import and edit).
pub fn fill_from(catalog: &Catalog, spec: &mut AreaSpec, values: &BTreeMap<String, String>) {
    let _ = fill::<()>(catalog, spec, |field| {
        Ok(values.get(&field.path).cloned().unwrap_or_else(|| placeholder(&field.name)))
    });
}

/// Fills the placeholders of a list of areas (an imported file) from a map whose keys are the
/// paths [`AreaError::SecretsNeeded`](super::AreaError::SecretsNeeded) named for a list:
/// `[i].reactions[0].params.webhook_url`.
pub fn fill_list(catalog: &Catalog, specs: &mut [AreaSpec], values: &BTreeMap<String, String>) {
    for (i, spec) in specs.iter_mut().enumerate() {
        let prefix = format!("[{i}].");
        let own: BTreeMap<String, String> = values
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix.as_str()).map(|path| (path.to_string(), v.clone())))
            .collect();
        fill_from(catalog, spec, &own);
    }
}

/// The area as shown and exported: every secret slot replaced by its placeholder.
pub fn redact(catalog: &Catalog, spec: &AreaSpec) -> AreaSpec {
    let mut spec = spec.clone();
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        *slot.value = Value::String(placeholder(&slot.field.name));
        Ok(())
    });
    spec
}

/// In an edit, each placeholder left as it was takes the stored clear value of the same slot
/// (same step position, service and action/reaction, same parameter and key); placeholders
/// without such a value stay (and are then asked for).
pub fn keep_unchanged(catalog: &Catalog, edited: &mut AreaSpec, stored_clear: &AreaSpec) {
    let mut old = BTreeMap::new();
    let mut stored = stored_clear.clone();
    let _ = visit::<()>(catalog, &mut stored, |slot| {
        old.insert((slot.step, slot.field.path), slot.value.clone());
        Ok(())
    });
    let _ = visit::<()>(catalog, edited, |slot| {
        if is_placeholder(slot.value) {
            if let Some(value) = old.get(&(slot.step, slot.field.path)) {
                if !is_placeholder(value) {
                    *slot.value = value.clone();
                }
            }
        }
        Ok(())
    });
}

/// Associated data binding a sealed slot to its area row and path.
fn aad(area_id: i64, path: &str) -> String {
    format!("area-secret:v1:{area_id}:{path}")
}

/// Seals every secret slot of `spec` (clear values) for area `area_id`: the stored form.
pub fn seal(catalog: &Catalog, key: &MasterKey, area_id: i64, spec: &AreaSpec) -> Result<AreaSpec, CryptoError> {
    let mut spec = spec.clone();
    visit(catalog, &mut spec, |slot| {
        let plain = serde_json::to_vec(slot.value).map_err(|_| CryptoError::Open)?;
        let sealed = key.seal(&plain, &aad(area_id, &slot.field.path))?;
        *slot.value =
            Value::String(format!("{SEALED_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(sealed)));
        Ok(())
    })?;
    Ok(spec)
}

/// Whether the stored form of `spec` holds any sealed slot (then a key is needed to run it).
pub fn has_sealed(catalog: &Catalog, spec: &AreaSpec) -> bool {
    let mut spec = spec.clone();
    let mut found = false;
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        found |= slot.value.as_str().is_some_and(|s| s.starts_with(SEALED_PREFIX));
        Ok(())
    });
    found
}

/// How many secret slots of a stored `spec` are sealed (fewer than [`fields`]: some are clear).
pub fn sealed_count(catalog: &Catalog, spec: &AreaSpec) -> usize {
    let mut spec = spec.clone();
    let mut n = 0;
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        n += usize::from(slot.value.as_str().is_some_and(|s| s.starts_with(SEALED_PREFIX)));
        Ok(())
    });
    n
}

/// Opens every sealed slot of a stored `spec` of area `area_id`. Slots stored in clear (areas
/// saved before secrets were sealed) are returned as they are.
pub fn unseal(catalog: &Catalog, key: &MasterKey, area_id: i64, spec: &AreaSpec) -> Result<AreaSpec, CryptoError> {
    let mut spec = spec.clone();
    visit(catalog, &mut spec, |slot| {
        let Some(encoded) = slot.value.as_str().and_then(|s| s.strip_prefix(SEALED_PREFIX)) else {
            return Ok(());
        };
        let sealed = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| CryptoError::Open)?;
        let plain = key.open(&sealed, &aad(area_id, &slot.field.path))?;
        *slot.value = serde_json::from_slice(&plain).map_err(|_| CryptoError::Open)?;
        Ok(())
    })?;
    Ok(spec)
}

/// The clear secret values of `spec` as text (each slot's string, and for a URL its path and
/// query too), longest first: what must be cut out of any error text before it is kept or logged.
pub fn clear_values(catalog: &Catalog, spec: &AreaSpec) -> Vec<String> {
    let mut spec = spec.clone();
    let mut out = Vec::new();
    let _ = visit::<()>(catalog, &mut spec, |slot| {
        let text = match &*slot.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Ok(url) = url::Url::parse(&text) {
            if url.path().len() > 1 {
                out.push(url.path().to_string());
            }
            if let Some(query) = url.query() {
                out.push(query.to_string());
            }
        }
        out.push(text);
        Ok(())
    });
    out.retain(|s| s.trim().len() >= 4);
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `text` with every occurrence of a secret value replaced by `<secret>`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "<secret>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn area() -> AreaSpec {
        serde_json::from_value(json!({
            "name": "n",
            "action": {"service": "webhook", "id": "received", "params": {}},
            "reactions": [
                {"service": "http", "id": "request",
                 "params": {"url": "https://example.com/x", "headers": {"Authorization": "Bearer t0ken"}}},
                {"service": "discord", "id": "send_webhook",
                 "params": {"webhook_url": "https://discord.com/api/webhooks/1/tok3n", "content": "hi"}},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn sealed_slots_open_only_for_their_area_and_path() {
        let catalog = crate::services::catalog(&crate::settings::Settings::empty());
        let key = MasterKey::from_bytes([1; 32]);
        let sealed = seal(&catalog, &key, 7, &area()).unwrap();
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains("t0ken") && !text.contains("tok3n"), "{text}");
        assert!(text.contains("\"Authorization\":\"sealed:v1:"), "names stay readable: {text}");
        assert_eq!(sealed.reactions[0].params["url"], json!("https://example.com/x"), "other params untouched");
        assert!(has_sealed(&catalog, &sealed));
        assert_eq!(unseal(&catalog, &key, 7, &sealed).unwrap(), area());
        assert!(unseal(&catalog, &key, 8, &sealed).is_err(), "moved to another area");
        let mut swapped = sealed.clone();
        swapped.reactions[1].params["webhook_url"] = sealed.reactions[0].params["headers"]["Authorization"].clone();
        assert!(unseal(&catalog, &key, 7, &swapped).is_err(), "moved to another parameter");
        assert_eq!(unseal(&catalog, &key, 7, &area()).unwrap(), area(), "clear (legacy) values pass");
    }

    #[test]
    fn placeholders_name_each_slot_and_fill_back() {
        let catalog = crate::services::catalog(&crate::settings::Settings::empty());
        let shown = redact(&catalog, &area());
        assert_eq!(shown.reactions[0].params["headers"], json!({"Authorization": "<secret: headers.Authorization>"}));
        assert_eq!(shown.reactions[1].params["webhook_url"], json!("<secret: webhook_url>"));
        let fields = missing(&catalog, &shown);
        assert_eq!(
            fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["reactions[0].params.headers.Authorization", "reactions[1].params.webhook_url"]
        );
        let mut back = shown.clone();
        let values: BTreeMap<String, String> = [
            ("reactions[0].params.headers.Authorization".to_string(), "Bearer t0ken".to_string()),
            ("reactions[1].params.webhook_url".to_string(), "https://discord.com/api/webhooks/1/tok3n".to_string()),
        ]
        .into();
        fill_from(&catalog, &mut back, &values);
        assert_eq!(back, area());
        let mut kept = shown;
        keep_unchanged(&catalog, &mut kept, &area());
        assert_eq!(kept, area());
    }

    #[test]
    fn scrub_cuts_values_paths_and_queries() {
        let catalog = crate::services::catalog(&crate::settings::Settings::empty());
        let secrets = clear_values(&catalog, &area());
        let text = "404 for /api/webhooks/1/tok3n and Bearer t0ken";
        assert_eq!(scrub(text, &secrets), "404 for <secret> and <secret>");
    }
}
