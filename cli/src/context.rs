//! What every command needs: the opened store, and the session kept in the data directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use area_core::accounts::{AccountError, Accounts, User};
use area_core::areas::Areas;
use area_core::catalog::Catalog;
use area_core::paths;
use area_core::store::{Store, StoreError};

use crate::commands::CliError;

/// File in the data directory holding the logged-in session token (owner-only).
const SESSION_FILE: &str = "session";

/// The opened data directory.
pub struct Context {
    pub store: Store,
    pub accounts: Accounts,
    /// The built-in services.
    pub catalog: Catalog,
    /// Areas, validated against `catalog`.
    pub areas: Areas,
}

impl Context {
    /// Opens the store in the chosen data directory.
    pub async fn open(data_dir: Option<PathBuf>) -> Result<Context, CliError> {
        let dir = paths::data_dir(data_dir).ok_or(StoreError::NoDataDir)?;
        let store = Store::open(&dir).await?;
        let accounts = Accounts::new(store.clone());
        let catalog = Catalog::builtin();
        let areas = Areas::new(store.clone(), catalog.clone());
        Ok(Context { store, accounts, catalog, areas })
    }

    fn session_path(&self) -> PathBuf {
        self.store.dir().join(SESSION_FILE)
    }

    /// The saved session token, if any.
    pub fn saved_token(&self) -> Option<String> {
        fs::read_to_string(self.session_path()).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }

    /// Saves the session token readable by its owner only.
    pub fn save_token(&self, token: &str) -> Result<(), CliError> {
        write_private(&self.session_path(), token)
            .map_err(|e| CliError::msg(format!("cannot save the session in {}: {e}", self.store.dir().display())))
    }

    /// Forgets the saved session.
    pub fn forget_token(&self) {
        let _ = fs::remove_file(self.session_path());
    }

    /// The logged-in user, or a "log in first" error.
    pub async fn current_user(&self) -> Result<(String, User), CliError> {
        let token = self.saved_token().ok_or(AccountError::NotLoggedIn)?;
        match self.accounts.authenticate(&token).await {
            Ok(user) => Ok((token, user)),
            Err(e @ (AccountError::SessionExpired | AccountError::NotLoggedIn)) => {
                self.forget_token();
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}
