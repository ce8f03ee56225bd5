//! `notify`: show a notification on this device.
//!
//! The reaction hands title and body to the [`crate::connector::Notifier`] the shell plugged in
//! (desktop notification, terminal line…). It is not idempotent: a repeated notification is
//! visible, so after a crash the engine marks the run `unknown outcome` rather than re-showing it.
//! A notifier failure is reported as [`ConnectorError::BadResponse`] (permanent): the connector
//! contract has no "local failure, maybe transient" variant, and re-showing later is rarely useful.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "notify";

/// The `notify` service: manifest plus its `send` reaction.
pub fn service() -> Service {
    let mut reactions = BTreeMap::new();
    reactions.insert("send", Arc::new(SendNotification) as Arc<dyn Reaction>);
    Service::new(manifest(), BTreeMap::new(), reactions)
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Notifications",
        description:
            "Show a notification on this device (a desktop notification, or a line in Area's log when it runs without a screen).",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![],
        reactions: vec![ReactionManifest {
            id: "send",
            name: "Show a notification",
            description: "Shows a notification with a title and a message.",
            params: vec![
                ParamSpec::new(
                    "title",
                    "Title",
                    "Notification title; may use ingredients, e.g. New post: {{ title }}.",
                    ParamType::String,
                )
                .templated(),
                ParamSpec::new(
                    "body",
                    "Message",
                    "Notification text; may use ingredients, e.g. {{ link }}.",
                    ParamType::String,
                )
                .optional(Some(json!("")))
                .templated(),
            ],
        }],
    }
}

/// `send`: one notification.
struct SendNotification;

#[async_trait]
impl Reaction for SendNotification {
    /// A repeated notification is visible to the user.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        let title = req_str(params, "title")?;
        let body = params.get("body").and_then(Value::as_str).unwrap_or("");
        ctx.notifier.notify(title, body).map_err(|reason| ConnectorError::BadResponse {
            service: ID.into(),
            message: format!("the notification could not be shown: {reason}"),
        })?;
        Ok(ReactionOutput { summary: "notification shown".into() })
    }
}
