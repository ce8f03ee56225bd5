//! The tray process the window runs beside: `area tray` on the same data, started with the
//! window when it is not running yet, or in place of the app at login (`--background`). It holds
//! the engine and the tray icon without loading a web view, so closing the window (which ends
//! this process, WebKit and all) leaves Area running on a few megabytes.
//!
//! It is used when the `area` command sits beside the app (the packages install both); without
//! it (an AppImage, a build of the app alone) the app runs the engine and tray itself, as one
//! process that only hides its window.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How long a new window waits for its first screen before starting the tray process anyway.
const START_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// The tray process a new window starts once its first screen is interactive, so the engine's
/// start-up (compiling every area, the first round of polls) does not compete with the window's.
static PENDING: std::sync::Mutex<Option<TrayProcess>> = std::sync::Mutex::new(None);

/// Starts `tray` once the window is interactive ([`start_pending`]), or after
/// [`START_AT_THE_LATEST`] if that never comes (a start-up error screen, no UI).
pub fn start_after_first_screen(tray: TrayProcess) {
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(tray);
    std::thread::spawn(|| {
        std::thread::sleep(START_AT_THE_LATEST);
        start_pending();
    });
}

/// Starts the pending tray process, if any (the first call does; later ones find none).
pub fn start_pending() {
    let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(tray) = pending {
        tray.ensure_running();
    }
}

/// The command's name, looked for beside the app.
const AREA_COMMAND: &str = "area";

/// How to start the tray process for one data directory.
pub struct TrayProcess {
    area: PathBuf,
    data_dir: PathBuf,
}

impl TrayProcess {
    /// The tray process for `data_dir`, when this platform has one and `area` is installed
    /// beside the app.
    pub fn find(data_dir: &Path) -> Option<TrayProcess> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let area = area_core::paths::program_beside_this_one(AREA_COMMAND)?;
        Some(TrayProcess { area, data_dir: data_dir.to_path_buf() })
    }

    /// `area --data-dir <dir> tray --app <this app>`: "Open Area" starts this same app again.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.area);
        command.arg("--data-dir").arg(&self.data_dir).arg("tray");
        if let Ok(app) = std::env::current_exe() {
            command.arg("--app").arg(app);
        }
        command
    }

    /// Starts the tray process unless an engine already runs on this data (the tray, or an
    /// `area daemon`). It outlives the window: its own process group, reaped by a thread while
    /// the window lives, adopted by the session when the window ends.
    pub fn ensure_running(&self) {
        if area_core::app::running_elsewhere(&self.data_dir).is_some() {
            return;
        }
        let mut command = self.command();
        command.stdin(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        match command.spawn() {
            Ok(mut child) => {
                tracing::info!(pid = child.id(), "started the tray process");
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
            }
            Err(e) => tracing::error!(area = %self.area.display(), "could not start the tray process: {e}"),
        }
    }

    /// Becomes the tray process (at login: no window, so nothing of the app is needed). Returns
    /// only when that failed, with why.
    #[cfg(unix)]
    pub fn exec(&self) -> std::io::Error {
        std::os::unix::process::CommandExt::exec(&mut self.command())
    }
}
