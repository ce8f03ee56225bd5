//! Local accounts: registration, login with throttling, sessions, and linked OAuth2 identities.
//!
//! Rules (ARCHITECTURE.md "Trust rules": accounts): argon2id PHC hashes re-hashed on login when the
//! parameters change; unknown email and wrong password fail identically and do the same work;
//! after [`FREE_FAILURES`] consecutive failures an account is refused for a delay that doubles with
//! each further failure, and each attempt is claimed in one SQL update that checks the lock and
//! counts it before the password is verified, so parallel guesses cannot outrun the lock;
//! sessions are random 256-bit tokens stored only as SHA-256 hashes.

mod access_token;
mod password;
mod session;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row;

pub use access_token::{AccessToken, NewAccessToken, TOKEN_PREFIX};
pub use password::{PasswordHasher, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};

use crate::clock::{Clock, SystemClock};
use crate::store::{Store, StoreError};

/// Consecutive failures allowed before delays start.
pub const FREE_FAILURES: i64 = 5;
/// Longest delay between attempts once throttled.
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// How long a session stays valid.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 3600;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A local account, as shown to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A signed-in session; `token` is the only copy of the secret, held by the client.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct Session {
    pub token: String,
    pub user: User,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A provider account (GitHub, Google, …) linked to a local user for OAuth2 sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct Identity {
    pub provider: String,
    /// The provider's stable user id (`sub`), never the email, which can change hands.
    pub subject: String,
    pub email: Option<String>,
    pub user_id: i64,
}

/// Why an account operation failed; messages are safe to show and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid email address `{0}`: expected something like name@example.com")]
    InvalidEmail(String),
    #[error("password too short: use at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("password too long: use at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    #[error("an account for {0} already exists: log in, or choose another email")]
    DuplicateEmail(String),
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("too many failed attempts for this account: try again in {wait_secs} s (after {retry_at})")]
    Throttled { wait_secs: i64, retry_at: String },
    #[error("not logged in: run `area login EMAIL`")]
    NotLoggedIn,
    #[error("your session has expired: log in again")]
    SessionExpired,
    #[error("no account for {0}")]
    NoSuchUser(String),
    #[error("this {provider} account is already linked to another user")]
    IdentityTaken { provider: String },
    #[error("no access token #{0}: it may have been revoked already")]
    NoSuchToken(i64),
    #[error("a token's name must be 1 to {max} characters", max = access_token::MAX_NAME_CHARS)]
    InvalidTokenName,
    #[error("this invitation code is unknown or was already used: ask for a new one")]
    InvalidInvite,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Store(StoreError::Database(e))
    }
}

/// Account operations over a [`Store`].
#[derive(Clone, Debug)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
}

impl Accounts {
    /// Accounts with OWASP argon2id parameters and the system clock.
    pub fn new(store: Store) -> Self {
        Accounts { store, hasher: PasswordHasher::default(), clock: Arc::new(SystemClock) }
    }

    /// Uses another clock (tests of throttling and expiry).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses other hashing parameters (tests, or a future stronger default).
    pub fn with_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The hasher, e.g. to read its verification counter.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates an account. The email is trimmed and lower-cased.
    pub async fn register(&self, email: &str, password: &str) -> Result<User, AccountError> {
        let (email, hash) = self.checked_credentials(email, password).await?;
        self.insert_user(self.store.pool(), email, hash).await
    }

    /// The normalised email and the password's hash, once both pass the rules.
    async fn checked_credentials(&self, email: &str, password: &str) -> Result<(String, String), AccountError> {
        let email = normalize_email(email)?;
        check_password(password)?;
        Ok((email, self.hash(password).await?))
    }

    async fn insert_user(
        &self,
        db: impl sqlx::Executor<'_, Database = sqlx::Any>,
        email: String,
        hash: String,
    ) -> Result<User, AccountError> {
        let now = self.clock.now();
        let result =
            sqlx::query("INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id")
                .bind(&email)
                .bind(&hash)
                .bind(now)
                .fetch_one(db)
                .await;
        match result {
            Ok(row) => Ok(User { id: row.try_get(0)?, email, created_at: now }),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(AccountError::DuplicateEmail(email)),
            Err(e) => Err(e.into()),
        }
    }

    /// The administrator of a shared Area: its first account.
    pub async fn administrator(&self) -> Result<Option<i64>, AccountError> {
        Ok(sqlx::query_scalar("SELECT MIN(id) FROM users").fetch_one(self.store.pool()).await?)
    }

    /// Creates an account without a password, for someone who proved an email address through
    /// an OAuth2 identity provider. They sign in with that provider (or set a password later).
    pub async fn register_external(&self, email: &str) -> Result<User, AccountError> {
        let email = normalize_email(email)?;
        let now = self.clock.now();
        let result =
            sqlx::query("INSERT INTO users (email, password_hash, created_at) VALUES ($1, NULL, $2) RETURNING id")
                .bind(&email)
                .bind(now)
                .fetch_one(self.store.pool())
                .await;
        match result {
            Ok(row) => Ok(User { id: row.try_get(0)?, email, created_at: now }),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(AccountError::DuplicateEmail(email)),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks the password and opens a session.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, AccountError> {
        let now = self.clock.now();
        let Ok(email) = normalize_email(email) else {
            self.verify_dummy(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        let row = sqlx::query("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else {
            self.verify_dummy(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        let user = User { id: row.get("id"), email: row.get("email"), created_at: row.get("created_at") };
        let stored: Option<String> = row.get("password_hash");
        // Claim this attempt before verifying: one statement checks the lock and counts the
        // attempt as a failure, so parallel guesses cannot all slip past a lock that is not yet
        // written. A success below resets the count.
        let claimed: Option<i64> = sqlx::query_scalar(claim_attempt_sql())
            .bind(now)
            .bind(user.id)
            .bind(now)
            .fetch_optional(self.store.pool())
            .await?;
        if claimed.is_none() {
            let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(self.store.pool())
                .await?;
            return Err(throttled(now, until.unwrap_or(now)));
        }
        let ok = match &stored {
            Some(phc) => self.verify(password, phc).await,
            // Accounts created through OAuth2 sign-in have no password.
            None => {
                self.verify_dummy(password).await;
                false
            }
        };
        if !ok {
            return Err(AccountError::InvalidCredentials);
        }
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        if let Some(phc) = stored.filter(|phc| self.hasher.needs_rehash(phc)) {
            let _ = phc;
            let fresh = self.hash(password).await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(fresh)
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            tracing::info!(user_id = user.id, "password re-hashed with current parameters");
        }
        let session = session::create(&mut tx, user, now).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The user a session token belongs to; expired sessions are removed and refused.
    pub async fn authenticate(&self, token: &str) -> Result<User, AccountError> {
        session::authenticate(self.store.pool(), token, self.clock.now()).await
    }

    /// Revokes the session.
    pub async fn logout(&self, token: &str) -> Result<(), AccountError> {
        session::revoke(self.store.pool(), token).await
    }

    /// Changes the password of the session's user after checking the current one, and revokes
    /// every other session of that user (a stolen session dies with the old password).
    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Result<(), AccountError> {
        let user = self.authenticate(token).await?;
        check_password(new)?;
        let stored: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_one(self.store.pool())
            .await?;
        let ok = match &stored {
            Some(phc) => self.verify(current, phc).await,
            None => false,
        };
        if !ok {
            return Err(AccountError::InvalidCredentials);
        }
        let fresh = self.hash(new).await?;
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(fresh)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        session::revoke_others(&mut tx, user.id, token).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every local account, oldest first.
    pub async fn list_users(&self) -> Result<Vec<User>, AccountError> {
        let rows =
            sqlx::query("SELECT id, email, created_at FROM users ORDER BY id").fetch_all(self.store.pool()).await?;
        Ok(rows
            .iter()
            .map(|r| User { id: r.get("id"), email: r.get("email"), created_at: r.get("created_at") })
            .collect())
    }

    /// Deletes an account and, through foreign keys, everything it owns.
    pub async fn delete_user(&self, email: &str) -> Result<(), AccountError> {
        let email = normalize_email(email)?;
        let done = sqlx::query("DELETE FROM users WHERE email = $1").bind(&email).execute(self.store.pool()).await?;
        if done.rows_affected() == 0 {
            return Err(AccountError::NoSuchUser(email));
        }
        Ok(())
    }

    /// Links a provider identity to a local user (OAuth2 sign-in).
    pub async fn link_identity(
        &self,
        user_id: i64,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    ) -> Result<Identity, AccountError> {
        let result = sqlx::query(
            "INSERT INTO identities (user_id, provider, subject, email, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(provider)
        .bind(subject)
        .bind(email)
        .bind(self.clock.now())
        .execute(self.store.pool())
        .await;
        match result {
            Ok(_) => Ok(Identity {
                provider: provider.into(),
                subject: subject.into(),
                email: email.map(Into::into),
                user_id,
            }),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(AccountError::IdentityTaken { provider: provider.into() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The local user a provider identity is linked to, if any.
    pub async fn user_for_identity(&self, provider: &str, subject: &str) -> Result<Option<User>, AccountError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.created_at FROM identities i JOIN users u ON u.id = i.user_id
             WHERE i.provider = $1 AND i.subject = $2",
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.map(|r| User { id: r.get("id"), email: r.get("email"), created_at: r.get("created_at") }))
    }

    /// Opens a session for a user who proved their identity another way (OAuth2 sign-in).
    pub async fn open_session(&self, user: User) -> Result<Session, AccountError> {
        let mut tx = self.store.pool().begin().await?;
        let session = session::create(&mut tx, user, self.clock.now()).await?;
        tx.commit().await?;
        Ok(session)
    }

    async fn hash(&self, password: &str) -> Result<String, AccountError> {
        let hasher = self.hasher.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|e| AccountError::Hash(e.to_string()))?
            .map_err(|e| AccountError::Hash(e.to_string()))
    }

    async fn verify(&self, password: &str, phc: &str) -> bool {
        let hasher = self.hasher.clone();
        let (password, phc) = (password.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || hasher.verify(&password, &phc)).await.unwrap_or(false)
    }

    async fn verify_dummy(&self, password: &str) {
        let hasher = self.hasher.clone();
        let password = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || hasher.verify_dummy(&password)).await;
    }
}

/// Trims, lower-cases and validates an email address.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    let invalid = || AccountError::InvalidEmail(raw.trim().chars().take(80).collect());
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.len() >= 3
        && domain.contains('.')
        && !domain.contains('@')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// Length rules only (no composition rules, per NIST SP 800-63B).
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(AccountError::PasswordTooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(AccountError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// Delay after the n-th consecutive failure: 1 s after the 5th, doubling, capped at 15 minutes.
fn lock_secs(failed: i64) -> i64 {
    let exponent = (failed - FREE_FAILURES).clamp(0, 20) as u32;
    (1i64 << exponent).min(MAX_LOCK_SECS)
}

/// The statement that claims one login attempt, or returns no row while the account is locked.
///
/// Binds: now, user id, now. It increments `failed_logins` and sets `locked_until` from the new
/// count in the same row update, so concurrent attempts serialise on the row and none is lost.
/// The delay table is spelled out as a `CASE` because SQLite and PostgreSQL share no power or
/// shift function over these column types; the SQL stays portable.
fn claim_attempt_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut delays = String::new();
        let mut failed = FREE_FAILURES;
        while lock_secs(failed) < MAX_LOCK_SECS {
            delays.push_str(&format!(" WHEN {failed} THEN {}", lock_secs(failed)));
            failed += 1;
        }
        format!(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = CASE \
             WHEN failed_logins + 1 < {FREE_FAILURES} THEN NULL \
             ELSE $1 + CASE failed_logins + 1{delays} ELSE {MAX_LOCK_SECS} END END \
             WHERE id = $2 AND (locked_until IS NULL OR locked_until <= $3) RETURNING failed_logins"
        )
    })
}

fn throttled(now: i64, until: i64) -> AccountError {
    let retry_at = chrono::DateTime::from_timestamp(until, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| until.to_string());
    AccountError::Throttled { wait_secs: until - now, retry_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "ada@@example.com", "ada@-x.com"]
        {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn lock_delay_grows_and_is_capped() {
        assert_eq!(lock_secs(5), 1);
        assert_eq!(lock_secs(6), 2);
        assert_eq!(lock_secs(8), 8);
        assert_eq!(lock_secs(40), MAX_LOCK_SECS);
    }

    #[test]
    fn the_sql_delay_table_matches_lock_secs() {
        let sql = claim_attempt_sql();
        for failed in FREE_FAILURES..FREE_FAILURES + 10 {
            assert!(sql.contains(&format!("WHEN {failed} THEN {} ", lock_secs(failed))), "{failed}: {sql}");
        }
        assert!(sql.contains(&format!("ELSE {MAX_LOCK_SECS} END END")), "{sql}");
    }

    #[test]
    fn password_length_rules() {
        assert!(matches!(check_password("1234567"), Err(AccountError::PasswordTooShort)));
        assert!(check_password("12345678").is_ok());
        assert!(check_password("ééééééée").is_ok(), "counts characters, not bytes");
        assert!(matches!(check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)), Err(AccountError::PasswordTooLong)));
    }
}
