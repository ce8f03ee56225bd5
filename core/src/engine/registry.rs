//! The engine's in-memory view of the enabled, unpaused areas, compiled once from their stored
//! definitions: validated again, services resolved, defaults applied, secret parameters
//! unsealed, templates parsed for their context. The scheduler attaches the owners' credentials
//! and rebuilds the view when [`areas_version`] changes (another process — the CLI, the app —
//! may edit areas or connections while the daemon runs) or when a shell asks for a reload.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::{AnyPool, Row};

use crate::areas::secrets;
use crate::areas::spec::AreaSpec;
use crate::catalog::{ActionKind, Catalog, TextContext};
use crate::condition::Condition;
use crate::connections::MasterKey;
use crate::connector::{Credential, Ingredients, Params, Reaction};
use crate::net::CredentialBinding;
use crate::template::Template;

/// A parameter value ready to render for an event.
#[derive(Debug, Clone)]
enum ParamValue {
    Literal(Value),
    /// A template and the context its text goes to (escaping, checks: see [`crate::template`]).
    Template(Arc<Template>, TextContext),
    Map(Vec<(String, ParamValue)>),
}

impl ParamValue {
    /// `context` is `None` for a parameter that is not templated (taken literally).
    fn compile(value: &Value, context: Option<TextContext>) -> Result<ParamValue, String> {
        match (value, context) {
            (Value::String(s), Some(context)) if crate::template::is_template(s) => {
                let template = Template::parse(s).map_err(|e| e.to_string())?;
                template.check_context(context).map_err(|e| e.to_string())?;
                Ok(ParamValue::Template(Arc::new(template), context))
            }
            (Value::Object(map), Some(_)) => Ok(ParamValue::Map(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), ParamValue::compile(v, context)?)))
                    .collect::<Result<_, String>>()?,
            )),
            (other, _) => Ok(ParamValue::Literal(other.clone())),
        }
    }

    fn render(&self, ingredients: &Ingredients) -> Result<Value, String> {
        match self {
            ParamValue::Literal(v) => Ok(v.clone()),
            ParamValue::Template(t, context) => {
                t.render_in(ingredients, *context).map(Value::String).map_err(|e| e.to_string())
            }
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
    /// `credential` bound to the hosts it may go to: the reaction's HTTP client checks it.
    pub binding: Option<Arc<CredentialBinding>>,
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
    /// Most new events one poll may fire (the area's fan-out budget).
    pub max_events_per_poll: u32,
    pub webhook_token: Option<String>,
    pub cursor: Option<Value>,
    pub baselined: bool,
    pub fingerprint: String,
    /// The owner's connection for the action's service (services that need one).
    pub credential: Option<Arc<Credential>>,
    /// The clear values of the area's secret parameters (and the paths and queries of secret
    /// URLs), longest first: cut out of every error text before it is kept or logged, since an
    /// upstream may echo a request's path or headers in its answer.
    pub secret_values: Arc<[String]>,
    /// `credential` bound to the hosts it may go to: the poll's HTTP client checks it.
    pub binding: Option<Arc<CredentialBinding>>,
}

impl CompiledArea {
    /// An error text as it may be kept or logged: the area's secret values replaced by
    /// `<secret>`, and every URL cut to its origin (ARCHITECTURE.md "Trust rules": error texts,
    /// the run history and logs keep URL origins only).
    pub fn scrub(&self, text: &str) -> String {
        crate::net::redact_urls(&crate::areas::secrets::scrub(text, &self.secret_values))
    }

    /// `None` when the event passes the area's condition (no condition: always), otherwise why
    /// not, for the skipped run's history. A condition that cannot be evaluated counts as not
    /// passing, so nothing fires by mistake.
    pub fn skip_reason(&self, ingredients: &Ingredients) -> Option<String> {
        self.condition.as_ref().and_then(|c| c.why_not(ingredients)).map(|why| self.scrub(&why))
    }
}

/// Compiles a stored definition; an error means the area cannot run (and says why). Sealed
/// secret parameters are opened with `key` (the install's master key; `None` when it could not
/// be loaded, which only areas with secrets notice).
///
/// It goes through the same validation as `area areas add`, so the engine and the validator
/// can never disagree on defaults or on what a parameter means.
pub fn compile(catalog: &Catalog, row: &AreaRow, key: Option<&MasterKey>) -> Result<CompiledArea, String> {
    let stored: AreaSpec =
        serde_json::from_str(&row.definition).map_err(|e| format!("stored definition unreadable: {e}"))?;
    let spec = if secrets::has_sealed(catalog, &stored) {
        let key = key.ok_or("its secret parameters cannot be opened: the master key could not be loaded")?;
        secrets::unseal(catalog, key, row.id, &stored)
            .map_err(|e| format!("its secret parameters cannot be opened: {e}"))?
    } else {
        stored
    };
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
                let context = manifest.params.iter().find(|p| p.id == k && p.templated).map(|p| p.context);
                Ok((k.clone(), ParamValue::compile(v, context).map_err(|e| format!("reactions[{i}].params.{k}: {e}"))?))
            })
            .collect::<Result<_, String>>()?;
        reactions.push(CompiledReaction {
            service: step.service.clone(),
            id: step.id.clone(),
            reaction: reaction.clone(),
            params,
            credential: None,
            binding: None,
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
        allow_private_network: spec.allow_private_network || action.wants_private_network(&action_params),
        max_events_per_poll: spec.events_per_poll(),
        webhook_token: row.webhook_token.clone(),
        cursor: row.cursor.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        baselined: row.baselined,
        fingerprint: row.fingerprint.clone(),
        action_params,
        credential: None,
        secret_values: secrets::clear_values(catalog, &spec).into(),
        binding: None,
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
pub async fn load_runnable(pool: &AnyPool) -> Result<Vec<AreaRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, user_id, definition, interval_secs, webhook_token, cursor, CAST(baselined AS INTEGER), action_fingerprint
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
            baselined: r.get::<i64, _>(6) != 0,
            fingerprint: r.get(7),
        })
        .collect())
}

/// A cheap fingerprint of the `areas` table, to notice edits made by other processes.
/// Connections count too: connecting or refreshing an account changes what areas can run with.
pub async fn areas_version(pool: &AnyPool) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), CAST(COALESCE(SUM(id), 0) AS BIGINT),
                (SELECT COUNT(*) * 1000003 + COALESCE(MAX(updated_at), 0) FROM connections) FROM areas",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}
