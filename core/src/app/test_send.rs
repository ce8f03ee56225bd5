//! "Send a test": an area's reactions run once with a sample event, so the user sees the result
//! in the history right after saving instead of waiting for a new item.

use serde::Serialize;

use crate::catalog::ActionKind;
use crate::connector::Ingredients;
use crate::engine::history::{self, TestRunError};

use super::error::{ApiError, ErrorCode};
use super::{App, ChangeKind};

/// A test run that was queued, and what its event holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct TestSent {
    /// The run, in the history like any other (its event key starts with `test:`).
    pub run_id: i64,
    /// Where the event's values come from: `sample` (the action's newest real item) or
    /// `examples` (the catalog's example values, when no item can be loaded).
    pub source: String,
    /// Why the examples were used instead of a real item, when a sample was tried.
    pub note: Option<String>,
}

impl App {
    /// Runs the area's reactions once, now, with the action's newest real item when it can be
    /// loaded and the catalog's example values otherwise. The condition is not applied: a test
    /// shows what the reactions do. Needs the area on (only a running area delivers).
    pub async fn send_test(&self, area_id: i64) -> Result<TestSent, ApiError> {
        let user = self.user().await?;
        let view = self.area(area_id).await?;
        let action = &view.form.action;
        let Some((_, manifest, kind)) = self.inner.catalog.action(&action.service, &action.id) else {
            return Err(ApiError::new(ErrorCode::NotFound, format!("unknown action {}.{}", action.service, action.id)));
        };
        let examples = || -> Ingredients {
            manifest
                .ingredients
                .iter()
                .map(|i| (i.id.to_string(), serde_json::Value::String(i.example.into())))
                .collect()
        };
        let (ingredients, source, note) = if matches!(kind, ActionKind::Polled(_) | ActionKind::Fetched(_)) {
            let sample = self
                .sample_event(&action.service, &action.id, action.params.clone(), view.form.allow_private_network)
                .await;
            match sample {
                Ok(s) if !s.ingredients.is_empty() => (
                    s.ingredients.into_iter().map(|v| (v.id, serde_json::Value::String(v.value))).collect(),
                    "sample",
                    None,
                ),
                Ok(_) => (examples(), "examples", Some("the action has no item right now".to_string())),
                Err(e) => (examples(), "examples", Some(format!("no item could be loaded: {}", e.message))),
            }
        } else {
            (examples(), "examples", None)
        };
        let now = chrono::Utc::now().timestamp_millis();
        let run_id = history::queue_test(self.inner.store.pool(), user.id, area_id, &ingredients, now).await.map_err(
            |e| match e {
                TestRunError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
                TestRunError::NotRunning => ApiError::new(ErrorCode::Conflict, e.to_string()),
                TestRunError::Database(e) => ApiError::from(e),
            },
        )?;
        self.changed(ChangeKind::Runs);
        Ok(TestSent { run_id, source: source.into(), note })
    }
}
