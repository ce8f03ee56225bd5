//! Starts the window: the desktop app in a process of its own, on this tray's data. A second
//! window process hands over to the first (the app is single-instance), so "Open Area" may be
//! chosen any number of times.

use std::path::PathBuf;
use std::process::Stdio;

/// The app binary's name, looked for beside `area` and then on PATH.
const APP_NAME: &str = "area-app";

/// Knows which app to start and on which data.
pub struct WindowLauncher {
    program: PathBuf,
    data_dir: PathBuf,
}

impl WindowLauncher {
    /// `program` as given (`--app`), else `area-app` beside this command, else on PATH.
    pub fn new(program: Option<PathBuf>, data_dir: PathBuf) -> WindowLauncher {
        let program = program
            .unwrap_or_else(|| area_core::paths::program_beside_this_one(APP_NAME).unwrap_or_else(|| APP_NAME.into()));
        WindowLauncher { program, data_dir }
    }

    /// Starts the window process (its own process group: a Ctrl-C meant for the tray's
    /// terminal does not close it) and reaps it when it ends.
    pub fn open(&self) {
        let mut command = tokio::process::Command::new(&self.program);
        command.env(area_core::settings::DATA_DIR, &self.data_dir).stdin(Stdio::null()).process_group(0);
        match command.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => tracing::warn!(program = %self.program.display(), "could not open the window: {e}"),
        }
    }
}
