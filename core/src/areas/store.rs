//! The stored areas of each user.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::Backend;

use super::quota::{self, PlannedPoll, QuotaUse};
use super::secrets::{self, SecretsNeeded};
use super::spec::AreaSpec;
use super::validate::{validate, ValidatedArea};
use super::{webhook_base, AreaError};
use crate::catalog::Catalog;
use crate::crypto::MasterKey;
use crate::settings::Settings;
use crate::store::Store;

/// Whether an area runs, as shown in lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AreaStatus {
    /// Enabled and running.
    On,
    /// Turned off by its owner.
    Off,
    /// Stopped by the engine (repeated failures, credentials gone); `paused_reason` says why.
    Paused,
}

impl AreaStatus {
    fn of(enabled: bool, paused_reason: Option<&str>) -> AreaStatus {
        match (enabled, paused_reason) {
            (false, _) => AreaStatus::Off,
            (true, Some(_)) => AreaStatus::Paused,
            (true, None) => AreaStatus::On,
        }
    }

    /// `on`, `off` or `paused`, as in `area areas list`.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaStatus::On => "on",
            AreaStatus::Off => "off",
            AreaStatus::Paused => "paused",
        }
    }
}

/// Why the engine paused an area, stored as a value beside the reason shown to the user, so what
/// resumes an area never depends on the reason's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PauseCause {
    /// A connection it uses is missing, was removed or was refused: connecting it again
    /// resumes the area.
    Credentials,
    /// It kept failing, or cannot run as written: switching it on again resumes it.
    Failures,
}

impl PauseCause {
    /// The value stored in `areas.paused_cause`.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseCause::Credentials => "credentials",
            PauseCause::Failures => "failures",
        }
    }

    /// The cause of a paused area from its columns. A pause stored without a cause (written by
    /// an engine that kept none) is a failure pause: only a cause says "credentials".
    pub fn of(paused_reason: Option<&str>, cause: Option<&str>) -> Option<PauseCause> {
        paused_reason?;
        Some(if cause == Some(PauseCause::Credentials.as_str()) {
            PauseCause::Credentials
        } else {
            PauseCause::Failures
        })
    }
}

/// A service's action or reaction, named by ids (`rss` / `new_item`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct StepRef {
    /// Service id (`rss`).
    pub service: String,
    /// Action or reaction id within the service (`new_item`).
    pub id: String,
}

/// One area as listed: enough to recognise it and see whether it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct AreaSummary {
    /// The area's id, used by every other command.
    pub id: i64,
    /// The owner's name for it.
    pub name: String,
    /// The owner's on/off switch (a paused area stays enabled).
    pub enabled: bool,
    /// On, off or paused, derived from `enabled` and `paused_reason`.
    pub status: AreaStatus,
    /// Why the engine paused the area, if it did, in words for its owner.
    pub paused_reason: Option<String>,
    /// Why the engine paused the area, as a value: what to branch on.
    pub paused_cause: Option<PauseCause>,
    /// What triggers it.
    pub action: StepRef,
    /// What it does, in order.
    pub reactions: Vec<StepRef>,
    /// "when New feed item (rss) then Show a notification (notify)".
    pub summary: String,
    /// Seconds between polls (polled actions only).
    pub interval_secs: u32,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; moves forward on every change, so a daemon can notice edits.
    pub updated_at: i64,
}

/// How many runs of an area are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct RunCounts {
    /// Waiting for delivery (or a retry).
    pub queued: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Interrupted by a crash on a non-idempotent reaction: not re-sent.
    pub unknown_outcome: i64,
    /// All runs still in the history.
    pub total: i64,
}

/// Everything about one area, for `area areas show` and the UI's detail page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct AreaDetail {
    /// What `list` shows (flattened into the same JSON object).
    #[serde(flatten)]
    pub summary: AreaSummary,
    /// The area as its owner wrote it (with `enabled` reflecting the current state).
    // Each secret parameter is its placeholder (`<secret: webhook_url>`): sent back unchanged in
    // an edit, it keeps the sealed value.
    pub spec: AreaSpec,
    /// The last failure the engine recorded (cleared on enable).
    pub last_error: Option<String>,
    /// Failures in a row; the engine pauses the area past its threshold.
    pub consecutive_failures: i64,
    /// Whether the engine has recorded what already existed (first poll after enable/edit).
    pub baselined: bool,
    /// When the engine last polled the action, as the engine stored it.
    pub last_polled_at: Option<i64>,
    /// Secret path segment of a webhook area's URL.
    pub webhook_token: Option<String>,
    /// Where to send events to a webhook area: `http://127.0.0.1:8787/hooks/<token>`.
    pub webhook_url: Option<String>,
    /// The area's runs by status.
    pub runs: RunCounts,
    /// Items the engine has recorded as seen (at its baseline, then every new one): after
    /// saving, "Watching — 12 existing items recorded; the next new one fires".
    pub seen_items: i64,
}

/// Area operations over a [`Store`], each scoped to one user.
#[derive(Clone, Debug)]
pub struct Areas {
    store: Store,
    catalog: Catalog,
    /// The master key sealing secret parameters: given, or loaded from the data directory the
    /// first time an area with secrets is saved or opened (like the engine loads it).
    key: std::sync::Arc<std::sync::OnceLock<MasterKey>>,
    /// Where the key comes from when it is loaded here (`AREA_MASTER_KEY`, `AREA_KEYCHAIN`).
    settings: Settings,
}

/// What the engine recorded about an area, beside its summary.
#[derive(Debug, Clone, Default)]
pub struct AreaState {
    /// Failures in a row.
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    /// Unix ms of the last poll.
    pub last_polled_at: Option<i64>,
    /// The stored definition (JSON), for what the summary does not carry (a timer's schedule).
    pub definition: String,
}

/// The stored columns an [`AreaSummary`] is made of.
struct SummaryColumns {
    id: i64,
    name: String,
    enabled: bool,
    paused_reason: Option<String>,
    paused_cause: Option<String>,
    definition: String,
    action_service: String,
    action_id: String,
    interval_secs: i64,
    created_at: i64,
    updated_at: i64,
}

/// The columns [`Areas::summary_row`] reads (a macro so queries stay literal strings for sqlx).
macro_rules! summary_columns {
    () => {
        "id, name, CAST(enabled AS INTEGER) AS enabled, paused_reason, paused_cause, definition, action_service, action_id, interval_secs, created_at, \
         updated_at"
    };
}

/// `updated_at` for an UPDATE: now (bound twice), but always at least one more than before.
macro_rules! bump_updated_at {
    ($now:literal) => {
        concat!("updated_at = CASE WHEN ", $now, " > updated_at THEN ", $now, " ELSE updated_at + 1 END")
    };
}

impl Areas {
    /// Areas validated against `catalog`.
    pub fn new(store: Store, catalog: Catalog) -> Self {
        Areas { store, catalog, key: Default::default(), settings: Settings::empty() }
    }

    /// Areas loading the master key with `settings` (the shell's), not with none.
    pub fn with_settings(self, settings: Settings) -> Self {
        Areas { settings, ..self }
    }

    /// Areas sealing secret parameters under `key` instead of the data directory's key (a
    /// shell that already loaded it, tests).
    pub fn with_master_key(self, key: MasterKey) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(key);
        Areas { key: std::sync::Arc::new(cell), ..self }
    }

    /// The master key, loaded on first use.
    fn master_key(&self) -> Result<&MasterKey, AreaError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let loaded = MasterKey::load_with(self.store.dir(), &self.settings)?;
        Ok(self.key.get_or_init(|| loaded))
    }

    /// Refuses an area still holding secret placeholders (an exported file): the caller asks
    /// the user for each field named.
    pub(super) fn require_secrets(&self, spec: &AreaSpec) -> Result<(), AreaError> {
        let missing = secrets::missing(&self.catalog, spec);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SecretsNeeded(missing).into())
        }
    }

    /// The stored definition of area `id` (its secrets sealed) for the area's `definition`.
    fn sealed_definition(&self, id: i64, spec: &AreaSpec) -> Result<String, AreaError> {
        if secrets::fields(&self.catalog, spec).is_empty() {
            return definition_json(spec);
        }
        definition_json(&secrets::seal(&self.catalog, self.master_key()?, id, spec)?)
    }

    /// A stored definition with its secrets opened (clear values: for the engine and edits).
    fn open_definition(&self, id: i64, stored: AreaSpec) -> Result<AreaSpec, AreaError> {
        if !secrets::has_sealed(&self.catalog, &stored) {
            return Ok(stored);
        }
        Ok(secrets::unseal(&self.catalog, self.master_key()?, id, &stored)?)
    }

    /// Seals secret parameters that areas saved before secrets were sealed still hold in clear,
    /// then rewrites the database file and truncates the WAL so the old clear text is gone from
    /// disk too. Cheap when there is nothing to do (no key is loaded); returns the areas sealed.
    pub async fn seal_clear_secrets(&self) -> Result<u64, AreaError> {
        let rows = sqlx::query("SELECT id, definition FROM areas").fetch_all(self.store.pool()).await?;
        let mut sealed = 0;
        for row in &rows {
            let id: i64 = row.get("id");
            let Ok(stored) = parse_definition(id, row.get("definition")) else { continue };
            let slots = secrets::fields(&self.catalog, &stored).len();
            if slots == 0 || secrets::sealed_count(&self.catalog, &stored) == slots {
                continue;
            }
            let opened = self.open_definition(id, stored)?;
            sqlx::query("UPDATE areas SET definition = $1 WHERE id = $2")
                .bind(self.sealed_definition(id, &opened)?)
                .bind(id)
                .execute(self.store.pool())
                .await?;
            sealed += 1;
        }
        // PostgreSQL's own storage is out of Area's hands; an SQLite file is rewritten.
        if sealed > 0 && self.store.backend() == Backend::Sqlite {
            tracing::info!(areas = sealed, "sealed secret parameters stored in clear by an older version");
            for pragma in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
                if let Err(e) = sqlx::query(pragma).execute(self.store.pool()).await {
                    tracing::warn!(error = %e, step = pragma, "could not rewrite the database file after sealing");
                }
            }
        }
        Ok(sealed)
    }

    /// The area with its secret parameters in clear, for a process that runs or checks it;
    /// never for display (use [`Areas::get`] or [`Areas::export`]).
    pub async fn unsealed(&self, user_id: i64, id: i64) -> Result<AreaSpec, AreaError> {
        let (stored, enabled) = self.stored_definition(user_id, id).await?;
        let mut spec = self.open_definition(id, stored)?;
        spec.enabled = enabled;
        Ok(spec)
    }

    /// One of the user's areas as stored (secret parameters still sealed) and whether it is on.
    async fn stored_definition(&self, user_id: i64, id: i64) -> Result<(AreaSpec, bool), AreaError> {
        let row = sqlx::query(
            "SELECT definition, CAST(enabled AS INTEGER) AS enabled FROM areas WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(AreaError::NotFound(id))?;
        Ok((parse_definition(id, row.get("definition"))?, row.get::<i64, _>("enabled") != 0))
    }

    /// The catalog areas are validated against.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The polls of the user's enabled, running areas but `except` (the quota planner's input).
    async fn enabled_polls(&self, user_id: i64, except: Option<i64>) -> Result<Vec<PlannedPoll>, AreaError> {
        let rows = sqlx::query(
            "SELECT action_service, action_id, action_fingerprint, interval_secs FROM areas
             WHERE user_id = $1 AND enabled AND paused_reason IS NULL AND id != $2",
        )
        .bind(user_id)
        .bind(except.unwrap_or(-1))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(stored_poll).collect())
    }

    /// The quota limits the user's connections learned from their accounts' plans.
    async fn plan_limits(&self, user_id: i64) -> Result<quota::PlanLimits, AreaError> {
        let rows = sqlx::query(
            "SELECT connection_id, plan_limit FROM connections WHERE user_id = $1 AND plan_limit IS NOT NULL",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1).max(1) as u64)).collect())
    }

    /// What the user's enabled areas plan to spend of each service's quota (its documented
    /// limit, or the one the user's own plan has).
    pub async fn quota_use(&self, user_id: i64) -> Result<Vec<QuotaUse>, AreaError> {
        Ok(quota::usage(&self.catalog, &self.enabled_polls(user_id, None).await?, &self.plan_limits(user_id).await?))
    }

    /// Refuses an enabled area that would take its service over its quota, with the user's other
    /// enabled areas (and `batch`, areas added with it) — see [`quota::check`].
    async fn check_quota(
        &self,
        user_id: i64,
        except: Option<i64>,
        area: &ValidatedArea,
        batch: &[PlannedPoll],
    ) -> Result<(), AreaError> {
        if !area.spec().enabled {
            return Ok(());
        }
        let mut others = self.enabled_polls(user_id, except).await?;
        others.extend_from_slice(batch);
        quota::check(&self.catalog, &others, &planned_poll(area), &self.plan_limits(user_id).await?)
    }

    /// Validates and stores one area for `user_id`.
    pub async fn add(&self, user_id: i64, spec: AreaSpec) -> Result<AreaSummary, AreaError> {
        self.require_secrets(&spec)?;
        let validated = validate(&self.catalog, &spec)?;
        self.check_quota(user_id, None, &validated, &[]).await?;
        let mut tx = self.store.pool().begin().await?;
        let summary = self.insert(&mut tx, user_id, &validated).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Validates every area, then stores them all in one transaction: either all are added or
    /// none is. Errors name the area by its index (`[2].reactions[0].id`).
    pub async fn add_many(&self, user_id: i64, specs: Vec<AreaSpec>) -> Result<Vec<AreaSummary>, AreaError> {
        let validated = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                self.require_secrets(spec)
                    .and_then(|()| validate(&self.catalog, spec))
                    .map_err(|e| e.within(&format!("[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut batch = Vec::new();
        for (i, area) in validated.iter().enumerate() {
            self.check_quota(user_id, None, area, &batch).await.map_err(|e| e.within(&format!("[{i}]")))?;
            if area.spec().enabled {
                batch.push(planned_poll(area));
            }
        }
        let mut tx = self.store.pool().begin().await?;
        let mut out = Vec::with_capacity(validated.len());
        for area in &validated {
            out.push(self.insert(&mut tx, user_id, area).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn insert(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: i64,
        area: &ValidatedArea,
    ) -> Result<AreaSummary, AreaError> {
        let spec = area.spec();
        // The row id binds the sealed secrets, so the row is written first without them.
        let definition = definition_json(&secrets::redact(&self.catalog, spec))?;
        let token = if area.is_webhook() { Some(new_webhook_token()?) } else { None };
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO areas (user_id, name, enabled, definition, action_service, action_id, action_fingerprint,
                                interval_secs, webhook_token, baselined, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(user_id)
        .bind(&spec.name)
        .bind(spec.enabled)
        .bind(&definition)
        .bind(&spec.action.service)
        .bind(&spec.action.id)
        .bind(area.action_fingerprint())
        .bind(i64::from(area.interval_secs()))
        .bind(token)
        .bind(false)
        .bind(now)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        let id: i64 = done.try_get(0)?;
        if !secrets::fields(&self.catalog, spec).is_empty() {
            sqlx::query("UPDATE areas SET definition = $1 WHERE id = $2")
                .bind(self.sealed_definition(id, spec)?)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(self.summary_of(id, spec, spec.enabled, None, area.interval_secs(), now, now))
    }

    /// The user's areas, oldest first.
    pub async fn list(&self, user_id: i64) -> Result<Vec<AreaSummary>, AreaError> {
        let rows = sqlx::query(concat!("SELECT ", summary_columns!(), " FROM areas WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(self.store.pool())
            .await?;
        Ok(rows.iter().map(|r| self.summary_row(r)).collect())
    }

    /// The user's areas as [`Areas::list`] gives them, each with its engine state, in one read
    /// (the dashboard asks for it on every refresh, for every user). SQLite packs the rows into
    /// one JSON array: sqlx hands rows over from its database thread one at a time, and for a
    /// hundred areas those hand-overs cost more than the query.
    pub async fn list_with_state(&self, user_id: i64) -> Result<Vec<(AreaSummary, AreaState)>, AreaError> {
        let sql = match self.store.backend() {
            Backend::Sqlite => {
                "SELECT json_group_array(json_array(id, name, enabled, paused_reason, paused_cause, definition,
                        action_service, action_id, interval_secs, created_at, updated_at,
                        consecutive_failures, last_error, last_polled_at) ORDER BY id)
                 FROM areas WHERE user_id = $1"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(id, name, CAST(enabled AS INTEGER), paused_reason,
                        paused_cause, definition, action_service, action_id, interval_secs, created_at, updated_at,
                        consecutive_failures, last_error, last_polled_at) ORDER BY id), '[]')::text
                 FROM areas WHERE user_id = $1"
            }
        };
        let packed: String = sqlx::query_scalar(sql).bind(user_id).fetch_one(self.store.pool()).await?;
        type Packed = (
            i64,
            String,
            i64,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Packed> = serde_json::from_str(&packed)
            .map_err(|e| AreaError::Corrupt { id: 0, message: format!("the areas could not be read back: {e}") })?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let state = AreaState {
                    consecutive_failures: r.11,
                    last_error: r.12,
                    last_polled_at: r.13,
                    definition: r.5.clone(),
                };
                let columns = SummaryColumns {
                    id: r.0,
                    name: r.1,
                    enabled: r.2 != 0,
                    paused_reason: r.3,
                    paused_cause: r.4,
                    definition: r.5,
                    action_service: r.6,
                    action_id: r.7,
                    interval_secs: r.8,
                    created_at: r.9,
                    updated_at: r.10,
                };
                (self.summary_from(columns), state)
            })
            .collect())
    }

    /// One area with its engine state, run counts and (for webhook areas) its URL.
    pub async fn get(&self, user_id: i64, id: i64) -> Result<AreaDetail, AreaError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            summary_columns!(),
            ", last_error, consecutive_failures, CAST(baselined AS INTEGER) AS baselined, last_polled_at, webhook_token
             FROM areas WHERE id = $1 AND user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(AreaError::NotFound(id))?;
        let summary = self.summary_row(&row);
        let mut spec = secrets::redact(&self.catalog, &parse_definition(id, row.get("definition"))?);
        spec.enabled = summary.enabled;
        let webhook_token: Option<String> = row.get("webhook_token");
        let webhook_url = webhook_token
            .as_deref()
            .map(|token| format!("{}/hooks/{token}", webhook_base(&self.settings, self.store.dir())));
        let mut runs = RunCounts::default();
        let counts = sqlx::query("SELECT status, COUNT(*) FROM runs WHERE area_id = $1 GROUP BY status")
            .bind(id)
            .fetch_all(self.store.pool())
            .await?;
        for count in &counts {
            let status: String = count.get(0);
            let n: i64 = count.get(1);
            runs.total += n;
            match status.as_str() {
                "queued" => runs.queued += n,
                "running" => runs.running += n,
                "succeeded" => runs.succeeded += n,
                "failed" => runs.failed += n,
                "skipped" => runs.skipped += n,
                "unknown_outcome" => runs.unknown_outcome += n,
                _ => {}
            }
        }
        let seen_items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seen_events WHERE area_id = $1")
            .bind(id)
            .fetch_one(self.store.pool())
            .await?;
        Ok(AreaDetail {
            seen_items,
            summary,
            spec,
            last_error: row.get("last_error"),
            consecutive_failures: row.get("consecutive_failures"),
            baselined: row.get::<i64, _>("baselined") != 0,
            last_polled_at: row.get("last_polled_at"),
            webhook_token,
            webhook_url,
            runs,
        })
    }

    /// Turns an area on or off. Turning on a disabled or paused area clears the pause, the
    /// failure count and the last error, and makes the engine baseline again (its first poll
    /// records what exists and fires nothing). Turning on an area that already runs changes
    /// nothing, so events that appeared since its last poll are not swallowed by a new baseline.
    pub async fn set_enabled(&self, user_id: i64, id: i64, enabled: bool) -> Result<AreaSummary, AreaError> {
        let now = now_ms();
        if enabled {
            let row = sqlx::query(
                "SELECT action_service, action_id, action_fingerprint, interval_secs FROM areas
                 WHERE id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(AreaError::NotFound(id))?;
            let plans = self.plan_limits(user_id).await?;
            quota::check(&self.catalog, &self.enabled_polls(user_id, Some(id)).await?, &stored_poll(&row), &plans)?;
        }
        if enabled {
            sqlx::query(concat!(
                "UPDATE areas SET enabled = $1, paused_reason = NULL, paused_cause = NULL, consecutive_failures = 0,
                 last_error = NULL,
                 baselined = $2, ",
                bump_updated_at!("$3"),
                " WHERE id = $4 AND user_id = $5 AND (NOT enabled OR paused_reason IS NOT NULL)"
            ))
            .bind(true)
            .bind(false)
        } else {
            sqlx::query(concat!(
                "UPDATE areas SET enabled = $1, ",
                bump_updated_at!("$2"),
                " WHERE id = $3 AND user_id = $4 AND enabled"
            ))
            .bind(false)
        }
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(self.store.pool())
        .await?;
        self.summary(user_id, id).await
    }

    /// Replaces an area's definition after validating it. When the action's service, id or
    /// parameters change (its [fingerprint](ValidatedArea::action_fingerprint)), the cursor and
    /// seen events are dropped and the engine baselines again; otherwise the engine continues
    /// where it was. An edit that turns a disabled area on acts as [`Areas::set_enabled`]; the
    /// webhook URL of a webhook area survives edits.
    /// Secret parameters left as their placeholder (`<secret: webhook_url>`, as [`Areas::get`]
    /// shows them) keep their sealed value; a placeholder with no stored value is asked for
    /// ([`AreaError::SecretsNeeded`]).
    pub async fn update(&self, user_id: i64, id: i64, mut spec: AreaSpec) -> Result<AreaSummary, AreaError> {
        if !secrets::missing(&self.catalog, &spec).is_empty() {
            let stored = self.unsealed(user_id, id).await?;
            secrets::keep_unchanged(&self.catalog, &mut spec, &stored);
        }
        self.require_secrets(&spec)?;
        let validated = validate(&self.catalog, &spec)?;
        self.check_quota(user_id, Some(id), &validated, &[]).await?;
        let spec = validated.spec();
        let definition = self.sealed_definition(id, spec)?;
        let fingerprint = validated.action_fingerprint();
        let mut tx = self.store.pool().begin().await?;
        let row =
            sqlx::query("SELECT CAST(enabled AS INTEGER) AS enabled, action_fingerprint, webhook_token FROM areas WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(AreaError::NotFound(id))?;
        let was_enabled = row.get::<i64, _>("enabled") != 0;
        let old_fingerprint: String = row.get("action_fingerprint");
        let old_token: Option<String> = row.get("webhook_token");
        let action_changed = old_fingerprint != fingerprint;
        let enabling = spec.enabled && !was_enabled;
        let token = match (validated.is_webhook(), old_token) {
            (false, _) => None,
            (true, Some(token)) => Some(token),
            (true, None) => Some(new_webhook_token()?),
        };
        let now = now_ms();
        sqlx::query(concat!(
            "UPDATE areas SET name = $1, enabled = $2, definition = $3, action_service = $4, action_id = $5,
                action_fingerprint = $6, interval_secs = $7, webhook_token = $8,
                cursor = CASE WHEN $9 THEN NULL ELSE cursor END,
                baselined = CASE WHEN $10 THEN $11 ELSE baselined END,
                paused_reason = CASE WHEN $12 THEN NULL ELSE paused_reason END,
                paused_cause = CASE WHEN $13 THEN NULL ELSE paused_cause END,
                consecutive_failures = CASE WHEN $14 THEN 0 ELSE consecutive_failures END,
                last_error = CASE WHEN $15 THEN NULL ELSE last_error END, ",
            bump_updated_at!("$16"),
            " WHERE id = $17 AND user_id = $18"
        ))
        .bind(&spec.name)
        .bind(spec.enabled)
        .bind(&definition)
        .bind(&spec.action.service)
        .bind(&spec.action.id)
        .bind(&fingerprint)
        .bind(i64::from(validated.interval_secs()))
        .bind(token)
        .bind(action_changed)
        .bind(action_changed || enabling)
        .bind(false)
        .bind(enabling)
        .bind(enabling)
        .bind(enabling)
        .bind(enabling)
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if action_changed {
            sqlx::query("DELETE FROM seen_events WHERE area_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.summary(user_id, id).await
    }

    /// Deletes an area; its seen events and run history go with it (foreign keys).
    pub async fn remove(&self, user_id: i64, id: i64) -> Result<(), AreaError> {
        let done = sqlx::query("DELETE FROM areas WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.store.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(AreaError::NotFound(id));
        }
        Ok(())
    }

    /// The area as an area file holds it, with `enabled` reflecting its current state and each
    /// secret parameter as a placeholder (`<secret: webhook_url>`): a shared file never carries
    /// a secret, and adding it again asks for each one ([`AreaError::SecretsNeeded`]).
    pub async fn export(&self, user_id: i64, id: i64) -> Result<AreaSpec, AreaError> {
        let (stored, enabled) = self.stored_definition(user_id, id).await?;
        let mut spec = secrets::redact(&self.catalog, &stored);
        spec.enabled = enabled;
        Ok(spec)
    }

    async fn summary(&self, user_id: i64, id: i64) -> Result<AreaSummary, AreaError> {
        let row = sqlx::query(concat!("SELECT ", summary_columns!(), " FROM areas WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(AreaError::NotFound(id))?;
        Ok(self.summary_row(&row))
    }

    /// A summary from a row of `summary_columns!()`. An unreadable definition still lists (with
    /// the action from its own columns) so one bad row cannot hide the others.
    fn summary_row(&self, row: &AnyRow) -> AreaSummary {
        self.summary_from(SummaryColumns {
            id: row.get("id"),
            name: row.get("name"),
            enabled: row.get::<i64, _>("enabled") != 0,
            paused_reason: row.get("paused_reason"),
            paused_cause: row.get("paused_cause"),
            definition: row.get("definition"),
            action_service: row.get("action_service"),
            action_id: row.get("action_id"),
            interval_secs: row.get("interval_secs"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        })
    }

    fn summary_from(&self, row: SummaryColumns) -> AreaSummary {
        let SummaryColumns { id, name, enabled, paused_reason, paused_cause, definition, .. } = row;
        let paused_cause = PauseCause::of(paused_reason.as_deref(), paused_cause.as_deref());
        let interval = row.interval_secs.clamp(0, i64::from(u32::MAX)) as u32;
        let (created_at, updated_at) = (row.created_at, row.updated_at);
        match parse_definition(id, definition) {
            Ok(spec) => {
                let mut summary = self.summary_of(id, &spec, enabled, paused_reason, interval, created_at, updated_at);
                summary.name = name;
                summary.paused_cause = paused_cause;
                summary
            }
            Err(e) => AreaSummary {
                id,
                name,
                enabled,
                status: AreaStatus::of(enabled, paused_reason.as_deref()),
                paused_reason,
                paused_cause,
                action: StepRef { service: row.action_service, id: row.action_id },
                reactions: Vec::new(),
                summary: e.to_string(),
                interval_secs: interval,
                created_at,
                updated_at,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn summary_of(
        &self,
        id: i64,
        spec: &AreaSpec,
        enabled: bool,
        paused_reason: Option<String>,
        interval_secs: u32,
        created_at: i64,
        updated_at: i64,
    ) -> AreaSummary {
        let step_name = |service: &str, step: &str, action: bool| {
            let name = if action {
                self.catalog.action(service, step).map(|(_, a, _)| a.name)
            } else {
                self.catalog.reaction(service, step).map(|(_, r, _)| r.name)
            };
            match name {
                Some(name) => format!("{name} ({service})"),
                None => format!("{service}.{step}"),
            }
        };
        let whens = step_name(&spec.action.service, &spec.action.id, true);
        let thens: Vec<String> = spec.reactions.iter().map(|r| step_name(&r.service, &r.id, false)).collect();
        let condition = if spec.condition.is_some() { ", if its condition holds," } else { "" };
        AreaSummary {
            id,
            name: spec.name.clone(),
            enabled,
            status: AreaStatus::of(enabled, paused_reason.as_deref()),
            paused_cause: PauseCause::of(paused_reason.as_deref(), None),
            paused_reason,
            action: StepRef { service: spec.action.service.clone(), id: spec.action.id.clone() },
            reactions: spec
                .reactions
                .iter()
                .map(|r| StepRef { service: r.service.clone(), id: r.id.clone() })
                .collect(),
            summary: format!("when {whens}{condition} then {}", thens.join(" and ")),
            interval_secs,
            created_at,
            updated_at,
        }
    }
}

/// The stored form of an area: its spec as JSON.
fn definition_json(spec: &AreaSpec) -> Result<String, AreaError> {
    serde_json::to_string(spec).map_err(|e| AreaError::invalid("", format!("cannot encode the area: {e}")))
}

fn parse_definition(id: i64, definition: String) -> Result<AreaSpec, AreaError> {
    serde_json::from_str(&definition).map_err(|e| AreaError::Corrupt { id, message: e.to_string() })
}

/// 32 random bytes, hex: the secret in a webhook area's URL.
fn new_webhook_token() -> Result<String, AreaError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AreaError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An area's polls as the quota planner counts them.
fn planned_poll(area: &ValidatedArea) -> PlannedPoll {
    let spec = area.spec();
    PlannedPoll {
        service: spec.action.service.clone(),
        action: spec.action.id.clone(),
        fingerprint: area.action_fingerprint(),
        interval_secs: area.interval_secs(),
    }
}

/// A stored area's polls as the quota planner counts them (from its `action_*` and
/// `interval_secs` columns).
fn stored_poll(row: &AnyRow) -> PlannedPoll {
    PlannedPoll {
        service: row.get("action_service"),
        action: row.get("action_id"),
        fingerprint: row.get("action_fingerprint"),
        interval_secs: row.get::<i64, _>("interval_secs").clamp(1, i64::from(u32::MAX)) as u32,
    }
}
