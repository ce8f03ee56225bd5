//! Personal access tokens: how a script calls an Area server's API without a browser. Each is a
//! random 256-bit secret shown once at creation; the store keeps only its SHA-256, its name and
//! when it was last used, so the user can see and revoke what they handed out.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{AccountError, Accounts, User};

/// What every access token starts with, so one pasted in the wrong place is recognisable (and
/// secret scanners can find leaked ones).
pub const TOKEN_PREFIX: &str = "area_pat_";
/// How precisely "last used" is kept, in seconds.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;
/// Longest name a token may have.
pub const MAX_NAME_CHARS: usize = 100;

/// A token as its owner lists it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct AccessToken {
    pub id: i64,
    /// What the user called it ("backup script").
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last request it signed, if any.
    pub last_used_at: Option<i64>,
}

/// A token just created: the only time its secret is seen.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct NewAccessToken {
    pub token: AccessToken,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

impl Accounts {
    /// Creates a token for `user`, named `name` (trimmed, 1 to [`MAX_NAME_CHARS`] characters).
    pub async fn create_access_token(&self, user: &User, name: &str) -> Result<NewAccessToken, AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AccountError::InvalidTokenName);
        }
        let secret = format!("{TOKEN_PREFIX}{}", super::session::new_token()?);
        let now = self.clock.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO access_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user.id)
        .bind(name)
        .bind(super::session::token_hash(&secret))
        .bind(now)
        .fetch_one(self.store.pool())
        .await?;
        let token = AccessToken { id, name: name.to_owned(), created_at: now, last_used_at: None };
        Ok(NewAccessToken { token, secret })
    }

    /// The user's tokens, newest first.
    pub async fn access_tokens(&self, user: &User) -> Result<Vec<AccessToken>, AccountError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at FROM access_tokens WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user.id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| AccessToken {
                id: r.get("id"),
                name: r.get("name"),
                created_at: r.get("created_at"),
                last_used_at: r.get("last_used_at"),
            })
            .collect())
    }

    /// Revokes one of the user's tokens; another user's token is "not found", like a missing one.
    pub async fn revoke_access_token(&self, user: &User, id: i64) -> Result<(), AccountError> {
        let done = sqlx::query("DELETE FROM access_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.id)
            .execute(self.store.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(AccountError::NoSuchToken(id));
        }
        Ok(())
    }

    /// The user a token belongs to (and notes its use); an unknown or revoked one is refused.
    ///
    /// "Last used" is kept to the minute ([`LAST_USED_GRANULARITY_SECS`]): noting every request
    /// would make each API call a durable write, the slowest thing a read can cost.
    pub async fn authenticate_access_token(&self, secret: &str) -> Result<User, AccountError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(AccountError::NotLoggedIn);
        }
        let hash = super::session::token_hash(secret);
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.last_used_at, u.id, u.email, u.created_at
             FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await?;
        let row = row.ok_or(AccountError::NotLoggedIn)?;
        let now = self.clock.now();
        let last_used: Option<i64> = row.get("last_used_at");
        if last_used.is_none_or(|t| now - t >= LAST_USED_GRANULARITY_SECS) {
            sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(row.get::<i64, _>("token_id"))
                .execute(self.store.pool())
                .await?;
        }
        Ok(User { id: row.get("id"), email: row.get("email"), created_at: row.get("created_at") })
    }

    /// Creates a single-use invitation code (for a server whose sign-up is invite-only).
    pub async fn create_invite(&self, by: &User) -> Result<String, AccountError> {
        let code = super::session::new_token()?;
        sqlx::query("INSERT INTO invites (code_hash, created_by, created_at) VALUES ($1, $2, $3)")
            .bind(super::session::token_hash(&code))
            .bind(by.id)
            .bind(self.clock.now())
            .execute(self.store.pool())
            .await?;
        Ok(code)
    }

    /// Spends an unused invitation code (an account created another way, by signing in with a
    /// provider, follows).
    pub async fn claim_invite(&self, code: &str) -> Result<(), AccountError> {
        self.claim_invite_with(self.store.pool(), code).await
    }

    /// [`Accounts::claim_invite`] on `db` (a transaction that also creates the account).
    async fn claim_invite_with(
        &self,
        db: impl sqlx::Executor<'_, Database = sqlx::Any>,
        code: &str,
    ) -> Result<(), AccountError> {
        let claimed = sqlx::query("UPDATE invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(self.clock.now())
            .bind(super::session::token_hash(code))
            .execute(db)
            .await?;
        if claimed.rows_affected() == 0 {
            return Err(AccountError::InvalidInvite);
        }
        Ok(())
    }

    /// Registers an account with an unused invitation code, spending the code in the same
    /// transaction (two sign-ups racing for one code: one wins).
    pub async fn register_invited(&self, email: &str, password: &str, code: &str) -> Result<User, AccountError> {
        let (email, hash) = self.checked_credentials(email, password).await?;
        let mut tx = self.store.pool().begin().await?;
        self.claim_invite_with(&mut *tx, code).await?;
        let user = self.insert_user(&mut *tx, email, hash).await?;
        sqlx::query("UPDATE invites SET used_by = $1 WHERE code_hash = $2")
            .bind(user.id)
            .bind(super::session::token_hash(code))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }
}
