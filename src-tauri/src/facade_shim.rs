//! TEMPORARY stand-in for `area_core::app` (the lead's facade) so the shell compiles before it
//! lands. Same signatures as the contract; deleted as soon as the real module exists.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use area_core::connector::Notifier;
use serde::Serialize;
use tokio::sync::broadcast;

/// Mirrors `area_core::app::ApiError`.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ApiError {
    /// Mirrors the real field.
    pub code: String,
    /// Mirrors the real field.
    pub message: String,
    /// Mirrors the real field.
    pub field: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Mirrors `area_core::app::AppEvent`.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppEvent {
    /// "areas" | "runs" | "connections" | "engine".
    pub kind: String,
}

/// Mirrors `area_core::app::EngineStatus`.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct EngineStatus {
    /// Mirrors the real field.
    pub running: bool,
    /// Mirrors the real field.
    pub paused: bool,
}

/// Mirrors `area_core::app::App`.
#[derive(Clone)]
pub struct App {
    events: broadcast::Sender<AppEvent>,
    notifier: Arc<dyn Notifier>,
}

impl App {
    /// Mirrors the real constructor.
    pub async fn open(_data_dir: Option<PathBuf>, notifier: Arc<dyn Notifier>) -> Result<App, ApiError> {
        let (events, _) = broadcast::channel(64);
        Ok(App { events, notifier })
    }
    /// Mirrors the real method.
    pub async fn shutdown(&self) {}
    /// Mirrors the real method.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }
    /// Mirrors the real method.
    pub async fn handle_deep_link(&self, _url: &str) -> Result<(), ApiError> {
        Ok(())
    }
    /// Mirrors the real method.
    pub fn engine_status(&self) -> EngineStatus {
        EngineStatus { running: true, paused: false }
    }
    /// Mirrors the real method.
    pub async fn set_paused(&self, paused: bool) -> Result<EngineStatus, ApiError> {
        Ok(EngineStatus { running: !paused, paused })
    }
}
