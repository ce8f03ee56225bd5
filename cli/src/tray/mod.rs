//! What `area tray` needs from the desktop session, over D-Bus and without GTK: the tray icon
//! (a StatusNotifierItem) and starting the window (notifications: [`crate::notifier`]).

mod icon;
mod window;

pub use icon::{TrayAction, TrayIcon};
pub use window::WindowLauncher;
