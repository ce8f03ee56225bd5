//! The area file format: what a user writes, `area areas export` prints, and the store keeps.

use serde::{Deserialize, Serialize};

use crate::catalog::ActionManifest;
use crate::condition::Condition;
use crate::connector::Params;

/// Default poll interval when an area file names none.
pub const DEFAULT_INTERVAL_SECS: u32 = 300;

/// The poll interval an area of a polled action gets when it names none: the default, raised
/// to the action's minimum (`min_interval_secs`) when that is higher. The editor shows it as
/// the placeholder, so what the user sees is what the engine does.
pub fn default_poll_interval(min_interval_secs: Option<u32>) -> u32 {
    DEFAULT_INTERVAL_SECS.max(min_interval_secs.unwrap_or(0))
}

/// [`default_poll_interval`] for `action` of `service`, also raised to what one poll of it may
/// spend of the service's documented quota, so that an area made with the defaults (a recipe,
/// a file without `interval_secs`) is never refused for them.
pub fn default_interval_for(catalog: &crate::catalog::Catalog, service: &str, action: &ActionManifest) -> u32 {
    let fits = catalog.service(service).and_then(|s| s.quota.as_ref()).and_then(|q| q.shortest_interval(action.id));
    default_poll_interval(action.min_interval_secs).max(fits.unwrap_or(0))
}

impl AreaSpec {
    /// Every ingredient name this area reads: in its reactions' templated parameters (at any
    /// depth of a parameter's value) and in its condition. The editor offers those the action
    /// does not declare (fields of a dynamic trigger the user typed before) in its picker.
    pub fn ingredients_read(&self) -> std::collections::BTreeSet<String> {
        fn walk(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match value {
                serde_json::Value::String(text) if crate::template::is_template(text) => {
                    // A template that does not parse reads nothing yet: validation reports it.
                    if let Ok(template) = crate::template::Template::parse(text) {
                        out.extend(template.ingredients());
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for reaction in &self.reactions {
            reaction.params.values().for_each(|v| walk(v, &mut out));
        }
        if let Some(condition) = &self.condition {
            out.extend(condition.ingredients());
        }
        out
    }
}

/// New events one poll may fire for an area when its file names no `max_events_per_poll`: a
/// feed that suddenly lists hundreds of new items (a regenerated feed, an import upstream)
/// must not turn into hundreds of messages sent in one go (ARCHITECTURE.md "Engine contract",
/// point 7: "Fan-out is bounded").
pub const DEFAULT_MAX_EVENTS_PER_POLL: u32 = 25;

/// Bounds of `max_events_per_poll`: at least one event, and never a fan-out larger than this.
pub const MAX_EVENTS_PER_POLL_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;

/// One step of an area: a service's action or reaction with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub service: String,
    pub id: String,
    #[serde(default)]
    #[specta(type = std::collections::BTreeMap<String, String>)]
    pub params: Params,
}

/// One automation as written in an area file:
/// `{ "name", "action": {service,id,params}, "reactions": [...], "condition"? }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaSpec {
    pub name: String,
    pub action: StepSpec,
    pub reactions: Vec<StepSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Whether the area runs; defaults to true.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Seconds between polls for polled actions (never below the service's minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u32>,
    /// Lets this area's requests reach loopback/private addresses (home-lab services).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_network: bool,
    /// Most new events one poll may fire (default [`DEFAULT_MAX_EVENTS_PER_POLL`], 1..=1000);
    /// the rest are marked seen and one `skipped` history entry says how many and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events_per_poll: Option<u32>,
}

impl AreaSpec {
    /// The fan-out budget of one poll: the area's own, or the default.
    pub fn events_per_poll(&self) -> u32 {
        self.max_events_per_poll.unwrap_or(DEFAULT_MAX_EVENTS_PER_POLL)
    }

    /// Checks `max_events_per_poll` against [`MAX_EVENTS_PER_POLL_RANGE`]; the error completes
    /// a message about that field.
    pub fn check_events_per_poll(&self) -> Result<(), String> {
        match self.max_events_per_poll {
            Some(n) if !MAX_EVENTS_PER_POLL_RANGE.contains(&n) => Err(format!(
                "a poll may fire between {} and {} new events, not {n}",
                MAX_EVENTS_PER_POLL_RANGE.start(),
                MAX_EVENTS_PER_POLL_RANGE.end()
            )),
            _ => Ok(()),
        }
    }
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// An area file holds one area or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AreaFile {
    One(Box<AreaSpec>),
    Many(Vec<AreaSpec>),
}

impl AreaFile {
    /// The areas in file order.
    pub fn into_vec(self) -> Vec<AreaSpec> {
        match self {
            AreaFile::One(a) => vec![*a],
            AreaFile::Many(v) => v,
        }
    }
}
