//! Starting at login through the one API: what the app's settings and `area autostart` show and
//! change, and the one-time suggestion to turn it on once the user has an area worth keeping
//! alive.
//!
//! The shell says where the autostart entries live (read once at its start:
//! [`crate::autostart::default_dir`], `None` where login items are not supported) and what the
//! session should start (the app in the background, or `area daemon`): the core writes the entry
//! and remembers, in the data directory, that the suggestion was made.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ApiError, App, ErrorCode};
use crate::autostart::{self, AutostartError, Launch};

/// Marks, in the data directory, that the suggestion was shown and answered.
const SUGGESTED_MARKER: &str = "autostart-suggested";

/// Whether Area starts when the user logs in to this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AutostartStatus {
    /// Whether this device can start Area at login (Linux desktops, for now).
    pub supported: bool,
    /// Whether it does.
    pub enabled: bool,
    /// The command the session runs at login, word by word, when enabled.
    pub command: Option<Vec<String>>,
    /// Why it is not supported here, when it is not.
    pub note: Option<String>,
    /// Whether to suggest it now: supported, off, never suggested before, and an area exists.
    pub suggest: bool,
}

fn api_error(e: AutostartError) -> ApiError {
    let code = match e {
        AutostartError::Unsupported | AutostartError::NoConfigDir => ErrorCode::Settings,
        AutostartError::LineBreak(_) => ErrorCode::Invalid,
        AutostartError::Io { .. } => ErrorCode::Internal,
    };
    ApiError::new(code, e.to_string())
}

impl App {
    /// Whether Area starts at login, read from the autostart directory `dir`.
    pub async fn autostart_status(&self, dir: Option<&Path>) -> Result<AutostartStatus, ApiError> {
        let Some(dir) = dir else {
            return Ok(AutostartStatus {
                supported: false,
                enabled: false,
                command: None,
                note: Some(AutostartError::Unsupported.to_string()),
                suggest: false,
            });
        };
        let command = autostart::current(dir).map_err(api_error)?;
        let suggested = self.data_dir().join(SUGGESTED_MARKER).exists();
        let has_area = !suggested && self.list_areas().await.is_ok_and(|areas| !areas.is_empty());
        let suggest = command.is_none() && has_area;
        Ok(AutostartStatus { supported: true, enabled: command.is_some(), command, note: None, suggest })
    }

    /// Starts `launch` at login (or stops starting anything with `None`), in `dir`. Answering
    /// either way also ends the suggestion.
    pub async fn set_autostart(
        &self,
        dir: Option<&Path>,
        launch: Option<&Launch>,
    ) -> Result<AutostartStatus, ApiError> {
        let Some(dir) = dir else {
            return Err(api_error(AutostartError::Unsupported));
        };
        match launch {
            Some(launch) => autostart::enable(dir, launch).map(drop).map_err(api_error)?,
            None => autostart::disable(dir).map(drop).map_err(api_error)?,
        }
        self.dismiss_autostart_suggestion()?;
        tracing::info!(enabled = launch.is_some(), "start at login changed");
        self.autostart_status(Some(dir)).await
    }

    /// "Not now": the suggestion is not made again (the setting stays where it is).
    pub fn dismiss_autostart_suggestion(&self) -> Result<(), ApiError> {
        let marker = self.data_dir().join(SUGGESTED_MARKER);
        std::fs::write(&marker, b"")
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot write {}: {e}", marker.display())))
    }
}
