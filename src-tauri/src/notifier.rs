//! The desktop's `notify` reaction: core's [`Notifier`] shown through tauri-plugin-notification,
//! so areas that "notify me" land in the OS notification centre instead of a terminal.

use area_core::connector::Notifier;
use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

/// Shows core's notifications as OS notifications. Holds the [`AppHandle`], which only exists
/// once Tauri is set up — which is why the facade is opened in `setup`.
pub struct TauriNotifier<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> TauriNotifier<R> {
    /// Wraps the handle of the running app; the notification plugin must be registered on it.
    pub fn new(app: AppHandle<R>) -> Self {
        TauriNotifier { app }
    }
}

impl<R: Runtime> Notifier for TauriNotifier<R> {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        self.app
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show()
            .map_err(|e| format!("could not show the notification: {e}"))
    }
}
