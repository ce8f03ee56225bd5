//! The area file format: what a user writes, `area areas export` prints, and the store keeps.

use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::connector::Params;

/// Default poll interval when an area file names none.
pub const DEFAULT_INTERVAL_SECS: u32 = 300;

/// One step of an area: a service's action or reaction with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
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
