//! Threshold triggers: fire when a watched value *starts* to satisfy a condition (a price goes
//! above a limit, the temperature drops below one), not on every read while it holds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// State kept in the cursor of threshold actions: whether the condition held at the last read,
/// how many times it started to hold (numbers event keys), and what was watched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossingState {
    pub holds: bool,
    pub crossings: u64,
    /// The condition watched (`bitcoin/usd > 70000`): when the area's parameters change, the
    /// next read is a new baseline instead of a crossing measured against the old ones.
    #[serde(default)]
    pub watch: String,
}

/// One step of a crossing trigger. `watch` describes the condition, `holds` says whether it
/// holds now (`None`: unknown this time, keep the previous state). Returns the crossing number
/// when the condition just started to hold, and the cursor to store. Without a (valid, same
/// `watch`) previous cursor it only records: the first read is a baseline.
pub fn crossing_step(cursor: Option<&Value>, watch: &str, holds: Option<bool>) -> (Option<u64>, Option<Value>) {
    let previous = cursor.and_then(|c| serde_json::from_value::<CrossingState>(c.clone()).ok());
    let Some(holds) = holds else {
        return (None, cursor.cloned());
    };
    let watch = watch.to_string();
    let (fired, next) = match previous {
        None => (None, CrossingState { holds, crossings: 0, watch }),
        Some(prev) if prev.watch != watch => (None, CrossingState { holds, crossings: prev.crossings, watch }),
        Some(prev) if holds && !prev.holds => {
            let n = prev.crossings.saturating_add(1);
            (Some(n), CrossingState { holds, crossings: n, watch })
        }
        Some(prev) => (None, CrossingState { holds, ..prev }),
    };
    (fired, Some(serde_json::to_value(next).unwrap_or(Value::Null)))
}
