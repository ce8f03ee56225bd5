//! The tray's notifier: the freedesktop notification service on the session bus, called
//! directly (no `notify-send` needed); every notification is also logged, so a session without
//! a notification service still has a record.

use std::collections::HashMap;

use area_core::connector::Notifier;
use zbus::zvariant::Value;

/// Shows core's `notify` reactions as desktop notifications.
pub struct DesktopNotifier {
    bus: Option<zbus::Connection>,
}

impl DesktopNotifier {
    /// Connects to the session bus; without one, notifications are only logged.
    pub async fn connect() -> DesktopNotifier {
        match zbus::Connection::session().await {
            Ok(bus) => DesktopNotifier { bus: Some(bus) },
            Err(e) => {
                tracing::warn!("no session bus ({e}): notifications are only logged");
                DesktopNotifier { bus: None }
            }
        }
    }
}

async fn show(bus: zbus::Connection, title: String, body: String) -> Result<(), String> {
    let hints: HashMap<&str, Value<'_>> = HashMap::new();
    bus.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &("Area", 0u32, "", title.as_str(), body.as_str(), Vec::<&str>::new(), hints, -1i32),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("the desktop's notification service did not take it: {e}"))
}

impl Notifier for DesktopNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        tracing::info!(target: "area::notify", %title, %body, "notification");
        let Some(bus) = self.bus.clone() else { return Ok(()) };
        let call = show(bus, title.to_owned(), body.to_owned());
        match tokio::runtime::Handle::try_current() {
            // The engine calls this from its multi-threaded runtime: wait for the answer, so a
            // refused notification fails the run with the reason.
            Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| rt.block_on(call))
            }
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = call.await {
                        tracing::warn!("{e}");
                    }
                });
                Ok(())
            }
            Err(_) => Err("no async runtime to reach the notification service".into()),
        }
    }
}
