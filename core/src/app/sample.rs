//! "Load a sample event": runs an action's read once, outside the engine, so the area editor's
//! ingredient picker can show the values a real event would carry. Nothing is recorded: the
//! area does not exist yet, and its first real poll still only records what exists.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{ActionKind, Catalog};
use crate::connector::{ConnectorError, Credential, FetchContext, PollContext};
use crate::net::{HttpClient, RequestOptions};

use super::form::{convert_step, FormStep};
use super::{ApiError, ErrorCode};

/// One ingredient of the sample, as text.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct SampleValue {
    pub id: String,
    pub value: String,
}

/// An event as the action would report it now; `ingredients` is empty when the upstream has
/// no item at the moment (an empty feed, no matching mail).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct SampleEvent {
    pub ingredients: Vec<SampleValue>,
    /// How many items the upstream currently shows.
    pub items: u32,
}

/// Longest sample value kept, in characters: the picker shows a preview, not a document.
const MAX_VALUE_CHARS: usize = 500;

pub(super) async fn load(
    catalog: &Catalog,
    http: &HttpClient,
    service: &str,
    action: &str,
    params: BTreeMap<String, String>,
    credential: Option<Credential>,
    allow_private_network: bool,
) -> Result<SampleEvent, ApiError> {
    let schema = catalog.action(service, action).map(|(_, m, _)| &m.params[..]);
    let step = convert_step(FormStep { service: service.into(), id: action.into(), params }, schema, "action")?;
    let params = crate::areas::validate_action_params(catalog, service, action, &step.params)?;
    let Some((manifest, _, kind)) = catalog.action(service, action) else {
        return Err(ApiError::invalid("action.id", format!("{service} has no action {action:?}")));
    };
    let fail = |e: ConnectorError| ApiError::new(ErrorCode::Connection, format!("{} answered: {e}", manifest.name));
    let output = match kind {
        ActionKind::Polled(polled) => {
            let ctx = PollContext { params: &params, cursor: None, credential: credential.as_ref() };
            let request = polled.request(&ctx).map_err(fail)?;
            let options = RequestOptions { allow_private_network, ..RequestOptions::default() };
            let response = http.send(&request, &options).await.map_err(|e| match e {
                // Said on the area's one switch, so the editor can offer to turn it on.
                crate::net::NetError::Refused { host, .. } => ApiError::invalid(
                    "allow_private_network",
                    format!(
                        "{host} is on this computer or your local network: allow local addresses for this area to                          read from it"
                    ),
                ),
                e => ApiError::new(ErrorCode::Connection, format!("{} could not be reached: {e}", manifest.name)),
            })?;
            if !(200..300).contains(&response.status) {
                return Err(fail(polled.error_for(service, &ctx, &response)));
            }
            polled.read(&ctx, &response).map_err(fail)?
        }
        ActionKind::Fetched(fetched) => {
            let ctx =
                FetchContext { params: &params, cursor: None, credential: credential.as_ref(), allow_private_network };
            fetched.fetch(&ctx).await.map_err(fail)?
        }
        ActionKind::Scheduled(_) | ActionKind::Pushed(_) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("{} events cannot be sampled: they happen at their time or when sent", manifest.name),
            ))
        }
    };
    let items = u32::try_from(output.events.len()).unwrap_or(u32::MAX);
    let ingredients = output
        .events
        .into_iter()
        .next()
        .map(|event| event.ingredients.into_iter().map(|(id, value)| SampleValue { id, value: text(value) }).collect())
        .unwrap_or_default();
    Ok(SampleEvent { ingredients, items })
}

fn text(value: Value) -> String {
    let s = match value {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if s.chars().count() > MAX_VALUE_CHARS {
        let mut cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        s
    }
}
