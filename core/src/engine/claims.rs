//! Polls shared by several Area processes on one store (PostgreSQL): before a process reads an
//! upstream resource it claims it for one interval, so that the resource is read once per
//! interval across all of them, whichever process's timer comes first.
//!
//! A claim is one statement (`INSERT … ON CONFLICT DO UPDATE … WHERE due_at <= now`), which
//! PostgreSQL runs under the row's lock: of several processes claiming at once, one gets the row
//! back and the others nothing. The validators of the resource's last answer (ETag,
//! Last-Modified) travel with the claim, so the next reader, whichever process it is, still asks
//! "changed since?". When another process read the resource last, the new reader first takes the
//! areas' cursors and baselines from the store: its own are from its last read.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use crate::net::HttpRequestSpec;

/// A won claim: this process reads the resource now.
#[derive(Debug)]
pub struct PollClaim {
    /// Another process read the resource last: the areas' state in memory may be behind.
    pub from_other: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The resource a request reads, as the processes sharing a store name it (a hash: the request
/// may carry credentials).
pub fn resource_key(request: &HttpRequestSpec, allow_private: bool) -> String {
    let canonical = serde_json::to_vec(&(request, allow_private)).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// Claims `resource` for one `interval`; `None` when another process holds it for this one.
pub async fn claim_poll(
    pool: &AnyPool,
    owner: &str,
    resource: &str,
    interval: Duration,
    now_ms: i64,
) -> Result<Option<PollClaim>, sqlx::Error> {
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX / 4);
    // A little slack, so that two processes whose timers drift by a few milliseconds do not
    // each find the other's claim still running and both skip an interval.
    let due_at = now_ms + interval_ms - interval_ms / 20;
    let row = sqlx::query(
        "INSERT INTO poll_claims (resource, due_at, owner) VALUES ($1, $2, $3)
         ON CONFLICT (resource) DO UPDATE SET due_at = $2, owner = $3, prev_owner = poll_claims.owner
         WHERE poll_claims.due_at <= $4
         RETURNING prev_owner, etag, last_modified",
    )
    .bind(resource)
    .bind(due_at)
    .bind(owner)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        let prev: Option<String> = r.get(0);
        PollClaim { from_other: prev.is_some_and(|p| p != owner), etag: r.get(1), last_modified: r.get(2) }
    }))
}

/// Stores the validators of the answer this process just read, while it still holds the claim.
pub async fn record_validators(
    pool: &AnyPool,
    owner: &str,
    resource: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE poll_claims SET etag = $1, last_modified = $2 WHERE resource = $3 AND owner = $4")
        .bind(etag)
        .bind(last_modified)
        .bind(resource)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(())
}

/// The stored cursor (JSON) and baseline of each of `area_ids` (those that still exist).
pub async fn area_states(pool: &AnyPool, area_ids: &[i64]) -> Result<Vec<(i64, Option<String>, bool)>, sqlx::Error> {
    if area_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Numbers from this process's own memory, so they can be written into the statement.
    let ids = area_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, cursor, CAST(baselined AS INTEGER) FROM areas WHERE id IN ({ids})"
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get::<i64, _>(2) != 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_key_names_the_request_without_showing_it() {
        let mut request = HttpRequestSpec::get("https://example.com/feed");
        request.headers.push(("Authorization".into(), "Bearer secret-token".into()));
        let key = resource_key(&request, false);
        assert_eq!(key.len(), 64);
        assert!(!key.contains("secret"));
        assert_eq!(key, resource_key(&request, false), "the same request, the same resource");
        assert_ne!(key, resource_key(&request, true));
        assert_ne!(key, resource_key(&HttpRequestSpec::get("https://example.com/other"), false));
    }
}
