//! The engine's in-memory view of the enabled areas, compiled once from their stored
//! definitions: services resolved, defaults applied, templates parsed. Rebuilt when the `areas`
//! table changes (another process — the CLI, the app — may edit areas while the daemon runs).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::areas::spec::AreaSpec;
use crate::catalog::{ActionKind, Catalog};
use crate::condition::Condition;
use crate::connector::{Credential, Ingredients, Params, Reaction};
use crate::template::Template;

/// A parameter value ready to render for an event.
#[derive(Debug, Clone)]
enum ParamValue {
    Literal(Value),
    Template(Arc<Template>),
    Map(Vec<(String, ParamValue)>),
}

impl ParamValue {
    fn compile(value: &Value, templated: bool) -> Result<ParamValue, String> {
        match value {
            Value::String(s) if templated && crate::template::is_template(s) => {
                Template::parse(s).map(|t| ParamValue::Template(Arc::new(t))).map_err(|e| e.to_string())
            }
            Value::Object(map) if templated => Ok(ParamValue::Map(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), ParamValue::compile(v, true)?)))
                    .collect::<Result<_, String>>()?,
            )),
            other => Ok(ParamValue::Literal(other.clone())),
        }
    }

    fn render(&self, ingredients: &Ingredients) -> Result<Value, String> {
        match self {
            ParamValue::Literal(v) => Ok(v.clone()),
            ParamValue::Template(t) => t.render(ingredients).map(Value::String).map_err(|e| e.to_string()),
            ParamValue::Map(entries) => Ok(Value::Object(
                entries.iter().map(|(k, v)| Ok((k.clone(), v.render(ingredients)?))).collect::<Result<_, String>>()?,
            )),
        }
    }
}

/// One reaction of an area, resolved.
#[derive(Clone)]
pub struct CompiledReaction {
    pub service: String,
    pub id: String,
    pub reaction: Arc<dyn Reaction>,
    params: Vec<(String, ParamValue)>,
    /// The owner's connection for this reaction's service (services that need one).
    pub credential: Option<Arc<Credential>>,
}

impl CompiledReaction {
    /// The parameters with every template expanded for this event.
    pub fn render(&self, ingredients: &Ingredients) -> Result<Params, String> {
        self.params.iter().map(|(k, v)| Ok((k.clone(), v.render(ingredients)?))).collect()
    }
}

/// An area as the engine runs it.
#[derive(Clone)]
pub struct CompiledArea {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub action_service: String,
    pub action_id: String,
    pub action: ActionKind,
    pub action_params: Params,
    pub reactions: Vec<CompiledReaction>,
    pub condition: Option<Condition>,
    pub interval: Duration,
    pub allow_private_network: bool,
    pub webhook_token: Option<String>,
    pub cursor: Option<Value>,
    pub baselined: bool,
    pub fingerprint: String,
    /// The owner's connection for the action's service (services that need one).
    pub credential: Option<Arc<Credential>>,
}

impl CompiledArea {
    /// Whether the event passes the area's condition (no condition: always). A condition that
    /// cannot be evaluated counts as not passing, so nothing fires by mistake.
    pub fn passes(&self, ingredients: &Ingredients) -> bool {
        match &self.condition {
            None => true,
            Some(c) => c.evaluate(ingredients).unwrap_or(false),
        }
    }
}

/// Compiles a stored definition; an error means the area cannot run (and says why).
///
/// It goes through the same validation as `area areas add`, so the engine and the validator
/// can never disagree on defaults or on what a parameter means.
pub fn compile(catalog: &Catalog, row: &AreaRow) -> Result<CompiledArea, String> {
    let spec: AreaSpec =
        serde_json::from_str(&row.definition).map_err(|e| format!("stored definition unreadable: {e}"))?;
    let validated = crate::areas::validate(catalog, &spec).map_err(|e| e.to_string())?;
    let (_, _, action) = catalog
        .action(&spec.action.service, &spec.action.id)
        .ok_or_else(|| format!("unknown action `{}.{}`", spec.action.service, spec.action.id))?;
    let action_params = validated.action_params().clone();
    let mut reactions = Vec::with_capacity(spec.reactions.len());
    for (i, (step, params)) in spec.reactions.iter().zip(validated.reaction_params()).enumerate() {
        let (_, manifest, reaction) = catalog
            .reaction(&step.service, &step.id)
            .ok_or_else(|| format!("reactions[{i}]: unknown reaction `{}.{}`", step.service, step.id))?;
        let params = params
            .iter()
            .map(|(k, v)| {
                let templated = manifest.params.iter().any(|p| p.id == k && p.templated);
                Ok((
                    k.clone(),
                    ParamValue::compile(v, templated).map_err(|e| format!("reactions[{i}].params.{k}: {e}"))?,
                ))
            })
            .collect::<Result<_, String>>()?;
        reactions.push(CompiledReaction {
            service: step.service.clone(),
            id: step.id.clone(),
            reaction: reaction.clone(),
            params,
            credential: None,
        });
    }
    Ok(CompiledArea {
        id: row.id,
        user_id: row.user_id,
        name: spec.name.clone(),
        action_service: spec.action.service.clone(),
        action_id: spec.action.id.clone(),
        action: action.clone(),
        reactions,
        condition: spec.condition.clone(),
        interval: Duration::from_secs(u64::from(row.interval_secs.max(1))),
        // Either the whole area or the action's own parameter may allow private addresses.
        allow_private_network: spec.allow_private_network
            || action_params.get("allow_private_network").and_then(Value::as_bool).unwrap_or(false),
        webhook_token: row.webhook_token.clone(),
        cursor: row.cursor.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        baselined: row.baselined,
        fingerprint: row.fingerprint.clone(),
        action_params,
        credential: None,
    })
}

/// The stored columns the engine needs.
#[derive(Debug, Clone)]
pub struct AreaRow {
    pub id: i64,
    pub user_id: i64,
    pub definition: String,
    pub interval_secs: u32,
    pub webhook_token: Option<String>,
    pub cursor: Option<String>,
    pub baselined: bool,
    pub fingerprint: String,
}

/// Loads every enabled, unpaused area.
pub async fn load_runnable(pool: &SqlitePool) -> Result<Vec<AreaRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, user_id, definition, interval_secs, webhook_token, cursor, baselined, action_fingerprint
         FROM areas WHERE enabled AND paused_reason IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| AreaRow {
            id: r.get(0),
            user_id: r.get(1),
            definition: r.get(2),
            interval_secs: r.get::<i64, _>(3).clamp(1, i64::from(u32::MAX)) as u32,
            webhook_token: r.get(4),
            cursor: r.get(5),
            baselined: r.get(6),
            fingerprint: r.get(7),
        })
        .collect())
}

/// A cheap fingerprint of the `areas` table, to notice edits made by other processes.
/// Connections count too: connecting or refreshing an account changes what areas can run with.
pub async fn areas_version(pool: &SqlitePool) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), COALESCE(SUM(id), 0),
                (SELECT COUNT(*) * 1000003 + COALESCE(MAX(updated_at), 0) FROM connections) FROM areas",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}
