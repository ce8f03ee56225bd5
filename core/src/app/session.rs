//! The signed-in session token, kept in the data directory readable by its owner only — the
//! same file the `area` command uses, so one sign-in serves both shells.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{ApiError, ErrorCode};

/// File in the data directory holding the session token.
pub const SESSION_FILE: &str = "session";

/// The saved token, if any.
pub fn saved_token(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(SESSION_FILE)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Saves the token atomically, owner-only: written to a fresh `session.tmp` (O_EXCL,
/// O_NOFOLLOW) and renamed over `session`.
pub fn save(dir: &Path, token: &str) -> Result<(), ApiError> {
    let path = dir.join(SESSION_FILE);
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        // A new file, never through a link planted at `session.tmp`.
        let mut file = crate::paths::create_private_file(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot save the session in {}: {e}", dir.display())))
}

/// Forgets the saved session.
pub fn forget(dir: &Path) {
    let _ = fs::remove_file(dir.join(SESSION_FILE));
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Issue 10 item 9: `session.tmp` followed a symlink planted at its path, so the token was
    /// written into the link's target and `session` became that link. Now the temporary file is
    /// created with O_EXCL | O_NOFOLLOW: the target is unchanged and `session` is a plain file.
    #[test]
    fn a_symlink_planted_at_the_temporary_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim.txt");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("session.tmp")).unwrap();
        save(tmp.path(), "token-123").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious", "the link's target is unchanged");
        let saved = tmp.path().join(SESSION_FILE);
        assert!(fs::symlink_metadata(&saved).unwrap().file_type().is_file(), "session is a plain file");
        assert_eq!(saved_token(tmp.path()).as_deref(), Some("token-123"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
