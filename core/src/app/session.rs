//! The signed-in session token, kept in the data directory readable by its owner only — the
//! same file the `area` command uses, so one sign-in serves both shells.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::ApiError;

/// File in the data directory holding the session token.
pub const SESSION_FILE: &str = "session";

/// The saved token, if any.
pub fn saved_token(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(SESSION_FILE)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Saves the token atomically, owner-only.
pub fn save(dir: &Path, token: &str) -> Result<(), ApiError> {
    let path = dir.join(SESSION_FILE);
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| ApiError::new("internal", format!("cannot save the session in {}: {e}", dir.display())))
}

/// Forgets the saved session.
pub fn forget(dir: &Path) {
    let _ = fs::remove_file(dir.join(SESSION_FILE));
}
