//! What every command needs: the opened store, and the session kept in the data directory.

use std::path::PathBuf;

use area_core::accounts::{AccountError, Accounts, User};
use area_core::app::session;
use area_core::areas::Areas;
use area_core::catalog::Catalog;
use area_core::paths;
use area_core::store::{Store, StoreError};

use crate::commands::CliError;

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

    /// The saved session token, if any (the same file the desktop app uses).
    pub fn saved_token(&self) -> Option<String> {
        session::saved_token(self.store.dir())
    }

    /// Saves the session token readable by its owner only.
    pub fn save_token(&self, token: &str) -> Result<(), CliError> {
        session::save(self.store.dir(), token).map_err(|e| CliError::msg(e.message))
    }

    /// Forgets the saved session.
    pub fn forget_token(&self) {
        session::forget(self.store.dir());
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
