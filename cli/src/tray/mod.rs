//! What `area tray` needs from the desktop session, over D-Bus and without GTK: the tray icon
//! (a StatusNotifierItem), notifications, and starting the window.

mod icon;
mod notifier;
mod window;

pub use icon::{TrayAction, TrayIcon};
pub use notifier::DesktopNotifier;
pub use window::WindowLauncher;
