//! Dashboard cards: an area's summary plus what a glance needs — when it next checks, how its
//! last run went, how many times in a row it failed, and the one-click fix for a paused area.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::AnyPool;

use crate::areas::{parse_area_value, AreaState, AreaStatus, AreaSummary};
use crate::catalog::{ActionKind, Catalog};
use crate::connections::ConnectionInfo;

use super::ApiError;

/// How the area's newest run went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct LastRun {
    pub id: i64,
    /// queued | running | succeeded | failed | skipped | unknown_outcome
    pub status: String,
    /// Unix milliseconds the event was recorded.
    pub at: i64,
    pub error: Option<String>,
}

/// The action that repairs a paused or failing area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct Fix {
    /// `reconnect` (connect `service` again), `resume` (switch the area on again) or `edit`.
    pub kind: String,
    /// The service to connect, for `reconnect`.
    pub service: Option<String>,
    /// Button text: "Reconnect GitHub", "Resume".
    pub label: String,
}

/// One dashboard card.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct AreaCard {
    pub summary: AreaSummary,
    /// When the engine next looks (Unix ms): the next poll or timer instant; `None` for
    /// webhooks, areas that are off or paused, and timers that will not fire again.
    pub next_check_at: Option<i64>,
    pub last_run: Option<LastRun>,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub fix: Option<Fix>,
}

pub(super) async fn build(
    pool: &AnyPool,
    catalog: &Catalog,
    user_id: i64,
    areas: Vec<(AreaSummary, AreaState)>,
    connections: &[ConnectionInfo],
) -> Result<Vec<AreaCard>, ApiError> {
    // One row of JSON rather than a row per area (see `Areas::list_with_state`).
    let packed: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(r.area_id, r.id, r.status, r.created_at, r.error)) FROM runs r
         JOIN (SELECT area_id, MAX(runs.id) AS newest FROM runs JOIN areas a ON a.id = runs.area_id
               WHERE a.user_id = $1 GROUP BY area_id) x ON r.id = x.newest",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    let newest: Vec<(i64, i64, String, i64, Option<String>)> = serde_json::from_str(&packed)
        .map_err(|e| ApiError::new(super::ErrorCode::Internal, format!("the last runs could not be read back: {e}")))?;
    let last_runs: HashMap<i64, LastRun> = newest
        .into_iter()
        .map(|(area_id, id, status, at, error)| (area_id, LastRun { id, status, at, error }))
        .collect();
    let now = chrono::Utc::now();
    let cards = areas
        .into_iter()
        .map(|(summary, state)| {
            let next_check_at = next_check(catalog, &summary, state.last_polled_at, &state.definition, now);
            let fix = fix_for(catalog, &summary, connections);
            AreaCard {
                last_run: last_runs.get(&summary.id).cloned(),
                consecutive_failures: state.consecutive_failures,
                last_error: state.last_error,
                next_check_at,
                fix,
                summary,
            }
        })
        .collect();
    Ok(cards)
}

fn next_check(
    catalog: &Catalog,
    area: &AreaSummary,
    last_polled: Option<i64>,
    definition: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<i64> {
    if area.status != AreaStatus::On {
        return None;
    }
    let (_, _, kind) = catalog.action(&area.action.service, &area.action.id)?;
    match kind {
        ActionKind::Polled(_) | ActionKind::Fetched(_) => {
            let interval_ms = i64::from(area.interval_secs) * 1000;
            Some(last_polled.map_or(now.timestamp_millis(), |t| (t + interval_ms).max(now.timestamp_millis())))
        }
        ActionKind::Scheduled(scheduled) => {
            let value: serde_json::Value = serde_json::from_str(definition).ok()?;
            let spec = parse_area_value(&value).ok()?.into_iter().next()?;
            let params = crate::areas::validate_action_params(
                catalog,
                &spec.action.service,
                &spec.action.id,
                &spec.action.params,
            )
            .ok()?;
            scheduled.next_after(&params, now).ok().flatten().map(|t| t.timestamp_millis())
        }
        ActionKind::Pushed(_) => None,
    }
}

/// A paused area whose services lack a working connection gets "Reconnect X"; any other pause
/// gets "Resume" (switching it on clears the pause and retries).
fn fix_for(catalog: &Catalog, area: &AreaSummary, connections: &[ConnectionInfo]) -> Option<Fix> {
    if area.status != AreaStatus::Paused {
        return None;
    }
    let steps = std::iter::once(&area.action).chain(area.reactions.iter());
    for step in steps {
        let Some(service) = catalog.service(&step.service) else { continue };
        let Some(connection_id) = service.manifest.connection_id() else { continue };
        let healthy = connections.iter().any(|c| c.connection_id == connection_id && c.status != "needs_reconnect");
        if !healthy {
            return Some(Fix {
                kind: "reconnect".into(),
                service: Some(service.manifest.id.to_string()),
                label: format!("Reconnect {}", service.manifest.name),
            });
        }
    }
    Some(Fix { kind: "resume".into(), service: None, label: "Resume".into() })
}
