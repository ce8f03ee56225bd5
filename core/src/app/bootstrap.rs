//! What every shell does first, once: choose the data directory and settle the settings.
//!
//! The `area` command and the desktop app start the same way: the data directory is the one
//! given (`--data-dir`), else the `AREA_DATA_DIR` setting, else the platform's; the settings are
//! the process's `AREA_*` variables completed by that directory's `area.conf` and checked; and
//! the user's own (default) data directory keeps a new master key in the OS keychain where there
//! is one, while explicit directories (servers, tests, benchmarks) use a key file beside the data.
//! Nothing here changes the process environment: the result is a value the shell passes down.

use std::path::PathBuf;

use crate::settings::{self, Settings};
use crate::store::StoreError;

use super::ApiError;

/// The data directory and the settings a shell runs with; [`super::App::open`] takes it.
#[derive(Debug, Clone)]
pub struct Startup {
    pub data_dir: PathBuf,
    pub settings: Settings,
}

impl Startup {
    /// A given directory and settings, as they are (tests, embedding).
    pub fn new(data_dir: impl Into<PathBuf>, settings: Settings) -> Startup {
        Startup { data_dir: data_dir.into(), settings }
    }
}

/// Settles where the data lives and which settings apply. `env` is what the shell read from its
/// environment at start ([`Settings::from_env`]); `explicit_dir` is a `--data-dir` choice. A
/// config file that cannot be used (readable by others, a malformed line) or a setting of the
/// wrong form is an error naming it.
pub fn bootstrap(env: Settings, explicit_dir: Option<PathBuf>) -> Result<Startup, ApiError> {
    let chosen = explicit_dir.is_some() || env.data_dir().is_some();
    let data_dir = crate::paths::data_dir(explicit_dir, &env).ok_or(StoreError::NoDataDir)?;
    let mut settings = env.with_config_file(&data_dir).map_err(ApiError::settings)?;
    if !chosen && !settings.is_set(settings::KEYCHAIN) {
        settings = settings.with(settings::KEYCHAIN, "1");
    }
    let settings = settings.validate().map_err(ApiError::settings)?;
    Ok(Startup { data_dir, settings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_conf(dir: &std::path::Path, text: &str) {
        let path = dir.join(crate::config::CONFIG_FILE);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn an_explicit_directory_wins_and_keeps_the_key_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let env = Settings::from_pairs([("AREA_DATA_DIR", "/nonexistent/area")]);
        let started = bootstrap(env, Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(started.data_dir, dir.path());
        assert!(!started.settings.is_set(settings::KEYCHAIN));
        let started = bootstrap(Settings::from_pairs([("AREA_DATA_DIR", dir.path().to_str().unwrap())]), None).unwrap();
        assert_eq!(started.data_dir, dir.path());
        assert!(!started.settings.is_set(settings::KEYCHAIN), "AREA_DATA_DIR is a choice too");
    }

    #[test]
    fn the_config_file_completes_the_environment_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        write_conf(dir.path(), "AREA_SPOTIFY_CLIENT_ID=from-file\nAREA_KEYCHAIN=0\n");
        let env = Settings::from_pairs([("AREA_SPOTIFY_CLIENT_SECRET", "from-env")]);
        let started = bootstrap(env, Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(started.settings.get("AREA_SPOTIFY_CLIENT_ID"), Some("from-file"));
        assert_eq!(started.settings.get("AREA_SPOTIFY_CLIENT_SECRET"), Some("from-env"));
        write_conf(dir.path(), "AREA_ALLOW_PRIVATE_NETWORK=maybe\n");
        let err = bootstrap(Settings::empty(), Some(dir.path().to_path_buf())).unwrap_err();
        assert!(err.message.contains("AREA_ALLOW_PRIVATE_NETWORK"), "{err:?}");
        write_conf(dir.path(), "not a setting\n");
        let err = bootstrap(Settings::empty(), Some(dir.path().to_path_buf())).unwrap_err();
        assert!(err.message.contains("area.conf"), "{err:?}");
    }
}
