//! The writer's statements over many rows at once: the seen keys, runs, polled areas and run
//! ends of a batch.
//!
//! On SQLite each row is one cached prepared statement, in-process and cheap. On PostgreSQL
//! each statement is a round trip to the server, and one per row made the writer's batches
//! wait on the network (three per event: bench/README.md, "A cluster on PostgreSQL"), so there
//! the rows travel as one JSON array, expanded by `json_to_recordset`, and what the statement
//! changed comes back as one JSON text: a few round trips per batch, however many rows.
//!
//! The updates find their rows through `id = ANY(ARRAY(…))` as well as the join, so that the
//! primary key can serve them: PostgreSQL cannot see how many rows a JSON array holds, and
//! joined only with the array it chose to scan the whole `runs` table for each batch. (The
//! writer's transaction also rules table scans out: [`super::batch_tx::PgTx::begin`].)

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::batch_tx::{BatchTx, Param, TxError};
use crate::store::Backend;

/// A run to record for a new event.
#[derive(Debug)]
pub struct NewRun<'a> {
    pub area_id: i64,
    pub event_key: &'a str,
    pub ingredients: String,
    /// `queued`, or `skipped` (then `finished_at` is now and `summary` says why).
    pub status: &'static str,
    pub summary: Option<String>,
}

/// A polled area's state after a successful read.
#[derive(Debug)]
pub struct PolledArea<'a> {
    pub area_id: i64,
    /// The new cursor (JSON text); `None` keeps the stored one.
    pub cursor: Option<String>,
    pub baselined: bool,
    /// The poll claim the read was made under: stored only while the writer's process holds it.
    pub claim: Option<&'a str>,
}

/// How a run ended, as the history records it.
#[derive(Debug)]
pub struct EndedRun<'a> {
    pub run_id: i64,
    pub status: &'static str,
    pub reactions_done: u32,
    pub error: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub now_ms: i64,
}

/// Marks each `(area, key)` as seen at `seen_at` (seconds). Returns, in order, whether each was
/// new: a key already stored, or repeated earlier in `keys`, is not.
pub fn mark_seen(tx: &mut dyn BatchTx, keys: &[(i64, &str)], seen_at: i64) -> Result<Vec<bool>, TxError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    match tx.backend() {
        Backend::Sqlite => keys
            .iter()
            .map(|(area_id, key)| {
                Ok(tx.exec(
                    "INSERT INTO seen_events (area_id, event_key, seen_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    &[Param::Int(*area_id), Param::text(Some(key)), Param::Int(seen_at)],
                )? == 1)
            })
            .collect(),
        Backend::Postgres => {
            let rows: Vec<_> = keys.iter().map(|(a, k)| json!([a, k])).collect();
            let inserted = tx.query_text(
                "WITH new AS (
                    INSERT INTO seen_events (area_id, event_key, seen_at)
                    SELECT (r->>0)::bigint, r->>1, ?2 FROM json_array_elements(?1::json) AS r
                    ON CONFLICT DO NOTHING RETURNING area_id, event_key)
                 SELECT COALESCE(json_agg(json_build_array(area_id, event_key)), '[]')::text FROM new",
                &[Param::text(Some(&serde_json::Value::from(rows).to_string())), Param::Int(seen_at)],
            )?;
            let mut fresh: HashSet<(i64, String)> = parse_rows(inserted.as_deref())?;
            Ok(keys.iter().map(|(a, k)| fresh.remove(&(*a, (*k).to_owned()))).collect())
        }
    }
}

/// Inserts the runs (an `(area, key)` that already has one is left alone). Returns, in order,
/// each new run's id, `None` where nothing was inserted.
pub fn insert_runs(
    tx: &mut dyn BatchTx,
    owner: &str,
    runs: &[NewRun<'_>],
    now_ms: i64,
    lease_ms: i64,
) -> Result<Vec<Option<i64>>, TxError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    match tx.backend() {
        Backend::Sqlite => runs
            .iter()
            .map(|run| {
                let skipped = run.status != "queued";
                tx.insert_returning_id(
                    "INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at, finished_at,
                                       summary, lease_owner)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING RETURNING id",
                    &[
                        Param::Int(run.area_id),
                        Param::text(Some(run.event_key)),
                        Param::text(Some(&run.ingredients)),
                        Param::text(Some(run.status)),
                        Param::Int(now_ms + lease_ms),
                        Param::Int(now_ms),
                        if skipped { Param::Int(now_ms) } else { Param::NullInt },
                        Param::text(run.summary.as_deref()),
                        Param::text(Some(owner)),
                    ],
                )
            })
            .collect(),
        Backend::Postgres => {
            let rows: Vec<_> =
                runs.iter().map(|r| json!([r.area_id, r.event_key, r.ingredients, r.status, r.summary])).collect();
            let inserted = tx.query_text(
                "WITH new AS (
                    INSERT INTO runs (area_id, event_key, ingredients, status, next_attempt_at, created_at, finished_at,
                                      summary, lease_owner)
                    SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, ?2 + ?3, ?2,
                           CASE WHEN r->>3 = 'queued' THEN NULL ELSE ?2 END, r->>4, ?4
                    FROM json_array_elements(?1::json) AS r
                    ON CONFLICT DO NOTHING RETURNING id, area_id, event_key)
                 SELECT COALESCE(json_agg(json_build_array(area_id, event_key, id)), '[]')::text FROM new",
                &[
                    Param::text(Some(&serde_json::Value::from(rows).to_string())),
                    Param::Int(now_ms),
                    Param::Int(lease_ms),
                    Param::text(Some(owner)),
                ],
            )?;
            let mut ids: HashMap<(i64, String), i64> = parse_rows::<Vec<(i64, String, i64)>>(inserted.as_deref())?
                .into_iter()
                .map(|(area, key, id)| ((area, key), id))
                .collect();
            Ok(runs.iter().map(|r| ids.remove(&(r.area_id, r.event_key.to_owned()))).collect())
        }
    }
}

/// Stores the areas' state after a successful read: the cursor (when one is given), the
/// baseline, the time, and no failure; for a read made under a poll claim, only while `owner`
/// still holds the claim. An area listed twice takes the later cursor.
pub fn update_polled(tx: &mut dyn BatchTx, owner: &str, areas: &[PolledArea], now_ms: i64) -> Result<(), TxError> {
    match tx.backend() {
        Backend::Sqlite => {
            for area in areas {
                tx.exec(
                    "UPDATE areas SET cursor = COALESCE(?1, cursor), baselined = (baselined OR ?2),
                     consecutive_failures = 0, last_error = NULL, last_polled_at = ?3
                     WHERE id = ?4
                       AND (?5 IS NULL OR EXISTS (SELECT 1 FROM poll_claims WHERE resource = ?5 AND owner = ?6))",
                    &[
                        Param::text(area.cursor.as_deref()),
                        Param::Bool(area.baselined),
                        Param::Int(now_ms),
                        Param::Int(area.area_id),
                        Param::text(area.claim),
                        Param::text(Some(owner)),
                    ],
                )?;
            }
        }
        Backend::Postgres => {
            // One row per area (an UPDATE … FROM takes any one of several matches).
            let mut merged: Vec<(i64, Option<&str>, bool, Option<&str>)> = Vec::new();
            let mut at: HashMap<i64, usize> = HashMap::new();
            for area in areas {
                match at.get(&area.area_id) {
                    Some(&i) => {
                        let row = &mut merged[i];
                        row.1 = area.cursor.as_deref().or(row.1);
                        row.2 |= area.baselined;
                        row.3 = area.claim;
                    }
                    None => {
                        at.insert(area.area_id, merged.len());
                        merged.push((area.area_id, area.cursor.as_deref(), area.baselined, area.claim));
                    }
                }
            }
            if merged.is_empty() {
                return Ok(());
            }
            tx.exec(
                "UPDATE areas AS a SET cursor = COALESCE(r->>1, a.cursor), baselined = (a.baselined OR (r->>2)::boolean),
                 consecutive_failures = 0, last_error = NULL, last_polled_at = ?2
                 FROM json_array_elements(?1::json) AS r
                 WHERE a.id = ANY(ARRAY(SELECT (e->>0)::bigint FROM json_array_elements(?1::json) AS e))
                   AND a.id = (r->>0)::bigint
                   AND (r->>3 IS NULL
                        OR EXISTS (SELECT 1 FROM poll_claims AS c WHERE c.resource = r->>3 AND c.owner = ?3))",
                &[Param::text(Some(&json!(merged).to_string())), Param::Int(now_ms), Param::text(Some(owner))],
            )?;
        }
    }
    Ok(())
}

/// Records how runs ended, for those `owner` still holds; large ingredients are cut down for
/// the history once the run no longer needs them. Returns, in order, whether each was recorded.
pub fn end_runs(tx: &mut dyn BatchTx, owner: &str, ends: &[EndedRun<'_>]) -> Result<Vec<bool>, TxError> {
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    match tx.backend() {
        Backend::Sqlite => ends
            .iter()
            .map(|end| {
                Ok(tx.exec(
                    "UPDATE runs SET status = ?2, reactions_done = ?3, in_flight = NULL, error = ?4, summary = ?5,
                     attempts = attempts + 1, started_at = COALESCE(started_at, created_at), finished_at = ?6,
                     duration_ms = ?6 - created_at,
                     ingredients = CASE WHEN length(ingredients) > 4096
                        THEN json_object('truncated', substr(ingredients, 1, 4000)) ELSE ingredients END
                     WHERE id = ?1 AND lease_owner = ?7",
                    &[
                        Param::Int(end.run_id),
                        Param::text(Some(end.status)),
                        Param::Int(i64::from(end.reactions_done)),
                        Param::text(end.error),
                        Param::text(end.summary),
                        Param::Int(end.now_ms),
                        Param::text(Some(owner)),
                    ],
                )? > 0)
            })
            .collect(),
        Backend::Postgres => {
            let rows: Vec<_> = ends
                .iter()
                .map(|e| json!([e.run_id, e.status, e.reactions_done, e.error, e.summary, e.now_ms]))
                .collect();
            let recorded = tx.query_text(
                "WITH ended AS (
                    UPDATE runs AS u SET status = r->>1, reactions_done = (r->>2)::integer, in_flight = NULL,
                     error = r->>3, summary = r->>4, attempts = u.attempts + 1,
                     started_at = COALESCE(u.started_at, u.created_at), finished_at = (r->>5)::bigint,
                     duration_ms = (r->>5)::bigint - u.created_at,
                     ingredients = CASE WHEN length(u.ingredients) > 4096
                        THEN json_build_object('truncated', substr(u.ingredients, 1, 4000))::text ELSE u.ingredients END
                    FROM json_array_elements(?1::json) AS r
                    WHERE u.id = ANY(ARRAY(SELECT (e->>0)::bigint FROM json_array_elements(?1::json) AS e))
                      AND u.id = (r->>0)::bigint AND u.lease_owner = ?2
                    RETURNING u.id)
                 SELECT COALESCE(json_agg(id), '[]')::text FROM ended",
                &[Param::text(Some(&serde_json::Value::from(rows).to_string())), Param::text(Some(owner))],
            )?;
            let recorded: HashSet<i64> = parse_rows(recorded.as_deref())?;
            Ok(ends.iter().map(|e| recorded.contains(&e.run_id)).collect())
        }
    }
}

/// The rows a statement returned as one JSON array.
fn parse_rows<T: serde::de::DeserializeOwned>(text: Option<&str>) -> Result<T, TxError> {
    serde_json::from_str(text.unwrap_or("[]")).map_err(|e| TxError::Postgres(sqlx::Error::Decode(Box::new(e))))
}
