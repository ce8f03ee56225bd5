//! Session tokens: 256 random bits handed to the client, only their SHA-256 kept in the store,
//! so a copy of the database does not let anyone sign in.

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};

use super::{AccountError, Session, User, SESSION_TTL_SECS};

pub(super) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(super) fn new_token() -> Result<String, AccountError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Hash(format!("no randomness available: {e}")))?;
    Ok(hex::encode(bytes))
}

pub(super) async fn create(tx: &mut Transaction<'_, Any>, user: User, now: i64) -> Result<Session, AccountError> {
    let token = new_token()?;
    let expires_at = now + SESSION_TTL_SECS;
    sqlx::query("INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(user.id)
        .bind(token_hash(&token))
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(Session { token, user, expires_at })
}

pub(super) async fn authenticate(pool: &AnyPool, token: &str, now: i64) -> Result<User, AccountError> {
    let hash = token_hash(token);
    let row = sqlx::query(
        "SELECT s.expires_at, u.id, u.email, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Err(AccountError::NotLoggedIn) };
    let expires_at: i64 = row.get("expires_at");
    if expires_at <= now {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(pool).await?;
        return Err(AccountError::SessionExpired);
    }
    Ok(User { id: row.get("id"), email: row.get("email"), created_at: row.get("created_at") })
}

pub(super) async fn revoke(pool: &AnyPool, token: &str) -> Result<(), AccountError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(token)).execute(pool).await?;
    Ok(())
}

pub(super) async fn revoke_others(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    keep_token: &str,
) -> Result<(), AccountError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(token_hash(keep_token))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
