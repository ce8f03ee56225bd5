//! The optional config file: `<data dir>/area.conf`, lines of `AREA_…=value`, for settings a
//! user would rather not export in every shell (OAuth app ids and secrets, base URLs, the
//! private-network switch). It is read into the settings value (`settings.rs`) at start, where the
//! environment always wins over the file; nothing here changes the process environment.

use std::path::Path;

/// File name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "area.conf";

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(
        "{path} can be read or changed by other users (mode {mode:04o}) and may hold secrets: run `chmod 600 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("{path} line {line}: expected AREA_NAME=value")]
    Syntax { path: String, line: usize },
}

/// The `AREA_*` settings of the data directory's config file (none when there is no file).
/// Blank lines and lines starting with `#` are ignored; values may be quoted. A file that group
/// or others may access is refused before it is read: it may hold client secrets or the master
/// key, and a writable one would let another user redirect Area.
pub fn read(data_dir: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: path.display().to_string(), source }),
    };
    let read_err = |source| ConfigError::Read { path: path.display().to_string(), source };
    // The mode of the file actually opened (no window to swap it between check and read).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(read_err)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::TooOpen { path: path.display().to_string(), mode });
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(read_err)?;
    let mut settings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let syntax = || ConfigError::Syntax { path: path.display().to_string(), line: i + 1 };
        let (key, value) = line.split_once('=').ok_or_else(syntax)?;
        let key = key.trim().trim_start_matches("export ").trim();
        if !key.starts_with("AREA_") || !key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err(syntax());
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        settings.push((key.to_string(), value.to_string()));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the config file owner-only, as the product requires.
    fn write_conf(dir: &Path, text: &str) {
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(CONFIG_FILE), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// Issue 10 item 9: `area.conf` (which may hold client secrets or `AREA_MASTER_KEY`) was read
    /// whatever its mode. A group- or world-accessible file is now refused, and the one-line
    /// message names the file and the fix.
    #[cfg(unix)]
    #[test]
    fn a_config_file_other_users_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::write(&path, "AREA_MASTER_KEY=abc\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read(dir.path()).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, ConfigError::TooOpen { .. }), "{mode:o}: {err:?}");
            assert!(msg.contains(&path.display().to_string()) && msg.contains("chmod 600"), "{msg}");
            assert!(!msg.contains('\n') && !msg.contains("abc"), "{msg}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn reads_settings_and_rejects_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty(), "no file, no settings");
        write_conf(
            dir.path(),
            "# my OAuth apps\n\nAREA_GOOGLE_CLIENT_ID=123.apps.googleusercontent.com\nexport AREA_SPOTIFY_CLIENT_ID = \"abc\"\n",
        );
        assert_eq!(
            read(dir.path()).unwrap(),
            [
                ("AREA_GOOGLE_CLIENT_ID".to_string(), "123.apps.googleusercontent.com".to_string()),
                ("AREA_SPOTIFY_CLIENT_ID".to_string(), "abc".to_string())
            ]
        );
        write_conf(dir.path(), "PATH=/evil\n");
        assert!(matches!(read(dir.path()), Err(ConfigError::Syntax { line: 1, .. })), "only AREA_ settings");
        write_conf(dir.path(), "AREA_X\n");
        assert!(read(dir.path()).is_err());
    }
}
