//! The optional config file: `<data dir>/area.conf`, lines of `AREA_…=value`, for settings a
//! user would rather not export in every shell (OAuth app ids and secrets, base URLs, the
//! private-network switch). The environment always wins over the file.

use std::path::Path;

/// File name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "area.conf";

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: expected AREA_NAME=value")]
    Syntax { path: String, line: usize },
}

/// The `AREA_*` settings of the data directory's config file (none when there is no file).
/// Blank lines and lines starting with `#` are ignored; values may be quoted.
pub fn read(data_dir: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: path.display().to_string(), source }),
    };
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

/// Applies the file's settings to this process's environment where the environment does not
/// already set them. Call before any thread starts (environment changes are process-wide).
pub fn apply(data_dir: &Path) -> Result<usize, ConfigError> {
    let mut applied = 0;
    for (key, value) in read(data_dir)? {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(&key, value);
            applied += 1;
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_rejects_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty(), "no file, no settings");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "# my OAuth apps\n\nAREA_GOOGLE_CLIENT_ID=123.apps.googleusercontent.com\nexport AREA_SPOTIFY_CLIENT_ID = \"abc\"\n",
        )
        .unwrap();
        assert_eq!(
            read(dir.path()).unwrap(),
            [
                ("AREA_GOOGLE_CLIENT_ID".to_string(), "123.apps.googleusercontent.com".to_string()),
                ("AREA_SPOTIFY_CLIENT_ID".to_string(), "abc".to_string())
            ]
        );
        std::fs::write(dir.path().join(CONFIG_FILE), "PATH=/evil\n").unwrap();
        assert!(matches!(read(dir.path()), Err(ConfigError::Syntax { line: 1, .. })), "only AREA_ settings");
        std::fs::write(dir.path().join(CONFIG_FILE), "AREA_X\n").unwrap();
        assert!(read(dir.path()).is_err());
    }

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "AREA_CONFIG_TEST_KEEP=file\nAREA_CONFIG_TEST_NEW=file\n")
            .unwrap();
        std::env::set_var("AREA_CONFIG_TEST_KEEP", "env");
        assert_eq!(apply(dir.path()).unwrap(), 1);
        assert_eq!(std::env::var("AREA_CONFIG_TEST_KEEP").unwrap(), "env");
        assert_eq!(std::env::var("AREA_CONFIG_TEST_NEW").unwrap(), "file");
    }
}
