//! The daemon's notifier: the desktop's notification service when there is one (through
//! `notify-send`, i.e. the freedesktop D-Bus service), the log otherwise — a headless server
//! still records every notification.

use std::process::{Command, Stdio};

use area_core::connector::Notifier;

/// Shows notifications on the desktop if possible and always logs them. Whether there is a
/// desktop is found out at the first notification (most commands never notify).
#[derive(Debug, Default)]
pub struct DaemonNotifier {
    desktop: std::sync::OnceLock<bool>,
}

/// Whether this is a desktop session with a notification command.
fn detect_desktop() -> bool {
    let session = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some());
    session
        && Command::new("notify-send")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

impl Notifier for DaemonNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        tracing::info!(target: "area::notify", %title, %body, "notification");
        eprintln!("notification: {title}: {body}");
        if *self.desktop.get_or_init(detect_desktop) {
            let status = Command::new("notify-send")
                .args(["--app-name=Area", "--", title, body])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("notify-send failed: {e}"))?;
            if !status.success() {
                return Err(format!("notify-send exited with {status}"));
            }
        }
        Ok(())
    }
}
