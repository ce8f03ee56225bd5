//! The `area` command's notifier, for `area daemon` and `area tray` alike: every notification
//! is logged (a headless server still records it), and in a desktop session it is also shown
//! through the freedesktop notification service, called straight over the session bus (no
//! `notify-send` needed). A refused notification fails the run with the reason.

use area_core::connector::Notifier;

/// Logs notifications and, in a desktop session, shows them. The bus is reached at the first
/// notification (most commands never notify).
#[derive(Default)]
pub struct DaemonNotifier {
    /// Also print each one on stderr (`area daemon` in a terminal).
    pub echo: bool,
    #[cfg(target_os = "linux")]
    bus: tokio::sync::OnceCell<Option<zbus::Connection>>,
}

impl DaemonNotifier {
    /// Prints each notification on stderr as well as logging it.
    pub fn echoing() -> DaemonNotifier {
        DaemonNotifier { echo: true, ..DaemonNotifier::default() }
    }
}

/// Whether this is a desktop session: a session bus and a display.
#[cfg(target_os = "linux")]
fn in_desktop_session() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some())
}

#[cfg(target_os = "linux")]
async fn show(bus: &zbus::Connection, title: &str, body: &str) -> Result<(), String> {
    use std::collections::HashMap;
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    bus.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &("Area", 0u32, "", title, body, Vec::<&str>::new(), hints, -1i32),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("the desktop's notification service did not take it: {e}"))
}

impl DaemonNotifier {
    #[cfg(target_os = "linux")]
    async fn show_on_desktop(&self, title: &str, body: &str) -> Result<(), String> {
        let bus = self
            .bus
            .get_or_init(|| async {
                zbus::Connection::session()
                    .await
                    .map_err(|e| tracing::warn!("no session bus ({e}): notifications are only logged"))
                    .ok()
            })
            .await;
        match bus {
            Some(bus) => show(bus, title, body).await,
            None => Ok(()),
        }
    }
}

impl Notifier for DaemonNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        tracing::info!(target: "area::notify", %title, %body, "notification");
        if self.echo {
            eprintln!("notification: {title}: {body}");
        }
        #[cfg(target_os = "linux")]
        if in_desktop_session() {
            use tokio::runtime::{Handle, RuntimeFlavor};
            // The engine calls this from the command's multi-threaded runtime: wait for the
            // answer, so a refused notification fails the run with the reason.
            return match Handle::try_current() {
                Ok(rt) if rt.runtime_flavor() == RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| rt.block_on(self.show_on_desktop(title, body)))
                }
                _ => Err("no multi-threaded runtime to reach the notification service".into()),
            };
        }
        Ok(())
    }
}
