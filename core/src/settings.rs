//! Area's settings as one value.
//!
//! Every `AREA_*` setting (base URLs of services, OAuth client ids, the private-network switch,
//! the master key, …) is read **once**, when a shell starts: from the process environment, then
//! from the data directory's `area.conf` for what the environment leaves unset
//! ([`crate::config`]). The resulting [`Settings`] is validated and passed down to whatever needs
//! it. Nothing below the shells reads the environment at call time, so a test builds the settings
//! it wants with [`Settings::from_pairs`] instead of changing process-wide state behind a mutex,
//! and a server can give each part of the program the settings it was started with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Prefix of every Area setting's name.
pub const PREFIX: &str = "AREA_";

/// A setting that cannot be used, named so the message can say which line to fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{key} must be 0 or 1 (it is {value:?})")]
    Flag { key: String, value: String },
    #[error("{key} must be an http(s) URL such as https://api.example.com (it is {value:?})")]
    Url { key: String, value: String },
    /// The value is not shown: a database URL may hold a password.
    #[error("{key} must be a postgres://user@host/database URL, or `sqlite` for the embedded database")]
    Database { key: String },
    #[error("{key} must be a whole number of seconds from {range} (it is {value:?})")]
    Number { key: String, value: String, range: &'static str },
}

/// The settings Area runs with: `AREA_*` names and their values, the environment winning over
/// `area.conf`. Cheap to clone (shared); `Debug` shows the names only, never a value, because
/// values may be secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").field("names", &self.values.keys().collect::<Vec<_>>()).finish()
    }
}

impl Settings {
    /// No setting at all: every service on its real API, defaults everywhere.
    pub fn empty() -> Self {
        Settings::default()
    }

    /// Settings from explicit pairs (tests, or a shell that has its own source). Names not
    /// starting with `AREA_` are ignored; blank values count as unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut values = BTreeMap::new();
        for (key, value) in pairs {
            let (key, value) = (key.into(), value.into());
            let value = value.trim().to_string();
            if key.starts_with(PREFIX) && !value.is_empty() {
                values.insert(key, value);
            }
        }
        Settings { values: Arc::new(values) }
    }

    /// The `AREA_*` variables of this process's environment, read now (once, at start).
    pub fn from_env() -> Self {
        Settings::from_pairs(
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// These settings completed by the data directory's `area.conf`: a name the settings
    /// already have keeps its value (the environment wins over the file).
    pub fn with_config_file(self, data_dir: &Path) -> Result<Self, SettingsError> {
        let mut values = (*self.values).clone();
        for (key, value) in crate::config::read(data_dir)? {
            let value = value.trim().to_string();
            if !value.is_empty() {
                values.entry(key).or_insert(value);
            }
        }
        Ok(Settings { values: Arc::new(values) })
    }

    /// A copy with one more setting (a shell's own choice, e.g. the keychain on by default).
    pub fn with(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let mut values = (*self.values).clone();
        let value = value.into().trim().to_string();
        let key = key.into();
        if value.is_empty() {
            values.remove(&key);
        } else {
            values.insert(key, value);
        }
        Settings { values: Arc::new(values) }
    }

    /// A copy without `key`.
    pub fn without(&self, key: &str) -> Self {
        let mut values = (*self.values).clone();
        values.remove(key);
        Settings { values: Arc::new(values) }
    }

    /// Checks the values whose form Area knows (flags, base URLs) so that a typo is reported
    /// once at start, naming the setting, rather than as a strange failure later.
    pub fn validate(self) -> Result<Self, SettingsError> {
        for (key, value) in self.values.iter() {
            if FLAGS.contains(&key.as_str()) && parse_flag(value).is_none() {
                return Err(SettingsError::Flag { key: key.clone(), value: value.clone() });
            }
            if key.ends_with("_BASE_URL")
                || key.ends_with("_TOKEN_URL")
                || key.ends_with("_AUTH_URL")
                || key == PUBLIC_URL
            {
                let ok =
                    url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok {
                    return Err(SettingsError::Url { key: key.clone(), value: value.clone() });
                }
            }
            if key == RUN_LEASE_SECS && parse_lease_secs(value).is_none() {
                return Err(SettingsError::Number { key: key.clone(), value: value.clone(), range: "1 to 3600" });
            }
            if key == DATABASE_URL && !is_database_url(value) {
                return Err(SettingsError::Database { key: key.clone() });
            }
        }
        Ok(self)
    }

    /// The value of `key` (trimmed, never blank).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether `key` is set at all.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A yes/no setting: `1`/`true`/`yes`/`on` is yes; unset or anything else is no.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(parse_flag).unwrap_or(false)
    }

    /// One of a service's settings, `AREA_<SERVICE>_<KEY>` ([`setting_name`]).
    pub fn service(&self, service_id: &str, key: &str) -> Option<&str> {
        self.get(&setting_name(service_id, key))
    }

    /// Whether the service's base URL is overridden (tests and self-hosted instances).
    pub fn has_base_url_override(&self, service_id: &str) -> bool {
        self.service(service_id, "BASE_URL").is_some()
    }

    /// The base URL a connector must use: `AREA_<SERVICE>_BASE_URL` when set, otherwise
    /// `default` (the real API); without a trailing slash so callers append `/path`.
    pub fn base_url(&self, service_id: &str, default: &str) -> String {
        self.service(service_id, "BASE_URL").unwrap_or(default).trim_end_matches('/').to_string()
    }

    /// `AREA_ALLOW_PRIVATE_NETWORK=1`: every area may reach private addresses (tests, home labs).
    pub fn allow_private_network(&self) -> bool {
        self.flag(ALLOW_PRIVATE_NETWORK)
    }

    /// `AREA_SHARED_SERVER=1`: this process serves several users (`area serve`, `area worker`),
    /// so the machine it runs on is nobody's own device: the services that watch or act on the
    /// device (folders, programs, opening files) are offered as unavailable.
    pub fn shared_server(&self) -> bool {
        self.flag(SHARED_SERVER)
    }

    /// `AREA_DATA_DIR`: where the data lives, when not the platform's default.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.get(DATA_DIR).map(PathBuf::from)
    }

    /// `AREA_DATABASE_URL`: where the data lives (the embedded SQLite database when unset or
    /// `sqlite`); the store reads it (`store::Database::parse`).
    pub fn database_url(&self) -> Option<&str> {
        self.get(DATABASE_URL)
    }

    /// `AREA_RUN_LEASE_SECS`, when set (and valid: [`Settings::validate`] refuses the rest).
    pub fn run_lease_secs(&self) -> Option<u64> {
        self.get(RUN_LEASE_SECS).and_then(parse_lease_secs)
    }

    /// Every setting's name, for diagnostics (never the values).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// `AREA_DATA_DIR`.
pub const DATA_DIR: &str = "AREA_DATA_DIR";
/// `AREA_DATABASE_URL`: a PostgreSQL server (`postgres://…`) shared by several Area processes
/// (`--database`); unset or `sqlite`: the embedded database in the data directory.
pub const DATABASE_URL: &str = "AREA_DATABASE_URL";
/// `AREA_RUN_LEASE_SECS`: on a database shared by several processes, how long a run one of
/// them holds stays its own before another takes it over (the holder died or stalled): 30 by
/// default, 1 to 3600.
pub const RUN_LEASE_SECS: &str = "AREA_RUN_LEASE_SECS";
/// `AREA_ALLOW_PRIVATE_NETWORK`.
pub const ALLOW_PRIVATE_NETWORK: &str = "AREA_ALLOW_PRIVATE_NETWORK";
/// `AREA_SHARED_SERVER`: see [`Settings::shared_server`]; `area serve` and `area worker` set it.
pub const SHARED_SERVER: &str = "AREA_SHARED_SERVER";
/// `AREA_IGNORE_MIN_INTERVAL`: poll faster than a service's documented minimum (tests, benches).
pub const IGNORE_MIN_INTERVAL: &str = "AREA_IGNORE_MIN_INTERVAL";
/// `AREA_KEYCHAIN`: create a new master key in the OS keychain when one is reachable (the shells
/// turn it on for the user's own, default data directory).
pub const KEYCHAIN: &str = "AREA_KEYCHAIN";
/// `AREA_MASTER_KEY`: the master key itself (32 bytes, hex or base64), for servers and tests.
pub const MASTER_KEY: &str = "AREA_MASTER_KEY";
/// `AREA_BROWSER`: the program that opens authorization pages (a browser, or a test script).
pub const BROWSER: &str = "AREA_BROWSER";
/// `AREA_WEBHOOK_LISTEN`: the webhook listener's address (`127.0.0.1:8787` by default; port 0
/// lets the OS choose, which tests use).
pub const WEBHOOK_LISTEN: &str = "AREA_WEBHOOK_LISTEN";
/// `AREA_PUBLIC_URL`: the address an Area server is reached at (`https://area.example.com`), so
/// webhook URLs and OAuth2 redirects name it instead of the local listener (`area serve
/// --public-url`).
pub const PUBLIC_URL: &str = "AREA_PUBLIC_URL";
/// `AREA_NO_REGISTER_SCHEME`: the desktop app leaves the `area://` scheme registration alone
/// (tests, so the user's desktop database is not touched).
pub const NO_REGISTER_SCHEME: &str = "AREA_NO_REGISTER_SCHEME";

/// The settings that are yes/no switches, checked by [`Settings::validate`].
const FLAGS: &[&str] = &[ALLOW_PRIVATE_NETWORK, IGNORE_MIN_INTERVAL, KEYCHAIN, NO_REGISTER_SCHEME, SHARED_SERVER];

/// A lease length in whole seconds, 1 to 3600.
fn parse_lease_secs(value: &str) -> Option<u64> {
    value.parse().ok().filter(|secs| (1..=3600).contains(secs))
}

/// The forms `AREA_DATABASE_URL` takes: `sqlite`, or a PostgreSQL URL.
fn is_database_url(value: &str) -> bool {
    value.eq_ignore_ascii_case("sqlite") || value.starts_with("postgres://") || value.starts_with("postgresql://")
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The name of one of a service's settings: `AREA_<SERVICE>_<KEY>`, the service id upper-cased
/// with `-` turned into `_` (`google-drive` + `BASE_URL` → `AREA_GOOGLE_DRIVE_BASE_URL`), so
/// every override follows one documented pattern.
pub fn setting_name(service_id: &str, key: &str) -> String {
    let id: String = service_id.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
    format!("{PREFIX}{id}_{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `area.conf` owner-only, as the product requires of it.
    fn write_owner_only_conf(dir: &std::path::Path, text: &str) {
        let path = dir.join(crate::config::CONFIG_FILE);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn env_var_name_uppercases_and_replaces_dashes() {
        assert_eq!(setting_name("google-drive", "BASE_URL"), "AREA_GOOGLE_DRIVE_BASE_URL");
        assert_eq!(setting_name("rss", "TOKEN_URL"), "AREA_RSS_TOKEN_URL");
    }

    #[test]
    fn blank_values_and_foreign_names_are_unset() {
        let s = Settings::from_pairs([("AREA_A", " "), ("HOME", "/root"), ("AREA_B", " x ")]);
        assert_eq!(s.get("AREA_A"), None);
        assert_eq!(s.get("HOME"), None);
        assert_eq!(s.get("AREA_B"), Some("x"));
    }

    #[test]
    fn base_urls_follow_the_service_pattern() {
        let s = Settings::from_pairs([("AREA_GOOGLE_DRIVE_BASE_URL", "http://127.0.0.1:9/")]);
        assert_eq!(setting_name("google-drive", "BASE_URL"), "AREA_GOOGLE_DRIVE_BASE_URL");
        assert_eq!(s.base_url("google-drive", "https://www.googleapis.com"), "http://127.0.0.1:9");
        assert_eq!(s.base_url("github", "https://api.github.com/"), "https://api.github.com");
        assert!(s.has_base_url_override("google-drive") && !s.has_base_url_override("github"));
    }

    #[test]
    fn the_environment_wins_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        write_owner_only_conf(dir.path(), "AREA_KEEP=file\nAREA_NEW=file\n");
        let s = Settings::from_pairs([("AREA_KEEP", "env")]).with_config_file(dir.path()).unwrap();
        assert_eq!(s.get("AREA_KEEP"), Some("env"));
        assert_eq!(s.get("AREA_NEW"), Some("file"));
    }

    /// The file completes the environment's settings, never overrides them (the file is read
    /// into [`Settings`]; nothing is written to the process environment).
    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write_owner_only_conf(dir.path(), "AREA_CONFIG_TEST_KEEP=file\nAREA_CONFIG_TEST_NEW=file\n");
        let env = Settings::from_pairs([("AREA_CONFIG_TEST_KEEP", "env")]);
        let settings = env.clone().with_config_file(dir.path()).unwrap();
        let from_file: Vec<&str> = settings.names().filter(|name| !env.is_set(name)).collect();
        assert_eq!(from_file.len(), 1, "{from_file:?}");
        assert_eq!(settings.get("AREA_CONFIG_TEST_KEEP"), Some("env"));
        assert_eq!(settings.get("AREA_CONFIG_TEST_NEW"), Some("file"));
        assert_eq!(std::env::var_os("AREA_CONFIG_TEST_NEW"), None, "the environment is left alone");
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let err = Settings::from_pairs([("AREA_ALLOW_PRIVATE_NETWORK", "maybe")]).validate().unwrap_err();
        assert!(err.to_string().contains("AREA_ALLOW_PRIVATE_NETWORK"), "{err}");
        let err = Settings::from_pairs([("AREA_GITHUB_BASE_URL", "127.0.0.1:9")]).validate().unwrap_err();
        assert!(err.to_string().contains("AREA_GITHUB_BASE_URL"), "{err}");
        assert!(Settings::from_pairs([("AREA_GITHUB_BASE_URL", "http://127.0.0.1:9")]).validate().is_ok());
        for bad in ["0", "-5", "30s", "3601"] {
            let err = Settings::from_pairs([(RUN_LEASE_SECS, bad)]).validate().unwrap_err();
            assert!(err.to_string().contains("AREA_RUN_LEASE_SECS") && err.to_string().contains("1 to 3600"), "{err}");
        }
        let lease = Settings::from_pairs([(RUN_LEASE_SECS, "5")]).validate().unwrap();
        assert_eq!(lease.run_lease_secs(), Some(5));
    }

    #[test]
    fn debug_never_shows_a_value() {
        let s = Settings::from_pairs([("AREA_MASTER_KEY", "s3cret")]);
        let shown = format!("{s:?}");
        assert!(shown.contains("AREA_MASTER_KEY") && !shown.contains("s3cret"), "{shown}");
    }
}
