//! Where Area keeps its data.
//!
//! One directory holds the SQLite database and the CLI's session file. It defaults to the
//! platform's data directory for "Area" (`~/.local/share/area` on Linux,
//! `~/Library/Application Support/app.Area.Area` on macOS, `%APPDATA%\Area\Area\data` on Windows)
//! so the CLI, the daemon and the desktop app share it; `--data-dir` or `AREA_DATA_DIR` override it.

use std::path::PathBuf;

/// Environment variable that overrides the data directory (for scripts, tests and servers).
pub const DATA_DIR_ENV: &str = "AREA_DATA_DIR";

/// The data directory to use: explicit choice, else `AREA_DATA_DIR`, else the platform default.
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir);
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("app", "Area", "Area").map(|p| p.data_dir().to_path_buf())
}
