//! Connections: a user's credentials for one service account — an API key or OAuth2 tokens —
//! sealed at rest (see [`crate::crypto`]) and decrypted only in memory when a request needs them.
//!
//! Services of one OAuth2 provider share a connection (Gmail, Drive and YouTube use `google`):
//! a connection is named by [`ServiceManifest::connection_id`]. A connection whose credentials
//! were refused is marked `needs_reconnect`, and the areas that use it are paused with that
//! reason; connecting again repairs it and the areas resume (re-enabling them baselines again).

mod client_key;
mod renewal;

pub use client_key::{ClientKeySetup, CodeOrUrl};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::areas::spec::AreaSpec;
use crate::areas::PauseCause;
use crate::catalog::{AuthKind, Catalog, ServiceManifest};
use crate::connector::Credential;
pub use crate::crypto::{CryptoError, MasterKey};
use crate::oauth::OAuthClientConfig;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// An access token expiring within this many seconds shows as `expires`.
const EXPIRING_SOON_SECS: i64 = 7 * 24 * 3600;

/// A connection as shown to its owner — never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ConnectionInfo {
    /// The service id, or the OAuth2 provider id shared by several services.
    pub connection_id: String,
    /// `api_key`, `oauth2`, `mail` or `client_key`.
    pub kind: String,
    /// Which account this is, when known (login, email).
    pub account_label: Option<String>,
    /// `ok`, `expires` (soon, and cannot refresh) or `needs_reconnect`.
    pub status: String,
    /// Why it needs reconnecting.
    pub reason: Option<String>,
    /// Unix seconds: when an OAuth2 access token expires, or when a pasted token the service
    /// renews is due for renewal at the latest.
    pub expires_at: Option<i64>,
    /// What the enabled areas plan to spend of the service's documented quota, for services
    /// that have one (filled by the use-case API).
    #[serde(default)]
    pub planned: Option<crate::areas::quota::QuotaUse>,
}

/// The sealed payload of a connection.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Secret {
    ApiKey {
        key: String,
    },
    Oauth2 {
        access_token: String,
        refresh_token: Option<String>,
        scope: Option<String>,
        /// The account the provider's ID token named (see `OAuthTokens::account`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A mailbox password sealed together with the servers it may be sent to.
    Mail {
        password: String,
        account: crate::connector::MailAccount,
    },
    /// A generated client key (see [`crate::client_key`]) and the tokens it obtained. Between
    /// creating the certificate and finishing the authorization the tokens are empty (and the
    /// connection is marked as waiting), so the key survives a restart of the app.
    ClientKey {
        private_key_pem: String,
        certificate_pem: String,
        /// The redirect URI registered with the certificate; its host is the assertion's `iss`.
        redirect_uri: String,
        /// The client id the provider gave for the certificate, once known.
        client_id: Option<String>,
        access_token: String,
        refresh_token: Option<String>,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// What connectors receive.
    pub fn credential(&self) -> Credential {
        match self {
            Secret::ApiKey { key } => Credential::ApiKey(key.clone()),
            Secret::Oauth2 { access_token, account, .. } => {
                Credential::OAuth2 { access_token: access_token.clone(), account: account.clone() }
            }
            Secret::Mail { password, account } => {
                Credential::Mail { password: password.clone(), account: account.clone() }
            }
            Secret::ClientKey { access_token, .. } => {
                Credential::OAuth2 { access_token: access_token.clone(), account: None }
            }
        }
    }
}

/// A stored connection, decrypted.
#[derive(Debug, Clone)]
pub struct StoredConnection {
    pub info: ConnectionInfo,
    pub secret: Secret,
}

/// Why a connection operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("unknown service `{0}`: see `area services`")]
    UnknownService(String),
    #[error("{0} needs no connection")]
    NoAuthNeeded(String),
    #[error("the token is empty")]
    EmptySecret,
    #[error("no {0} connection: run `area connect {0}`")]
    NotConnected(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
    #[error("could not renew the {service} token: {reason}")]
    Renewal { service: String, reason: String },
    /// A field the user gave (a redirect URI, a client id, a code) cannot be used.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    /// The provider refused to exchange the authorization code.
    #[error("{service} did not authorize Area ({reason}): check the client id, then consent again")]
    Authorization { service: String, reason: String },
    #[error(transparent)]
    ClientKey(#[from] crate::client_key::ClientKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ConnectionError {
    fn from(e: sqlx::Error) -> Self {
        ConnectionError::Store(StoreError::Database(e))
    }
}

/// Associated data binding a sealed secret to its row.
fn aad(user_id: i64, connection_id: &str) -> String {
    format!("area-connection:v1:{user_id}:{connection_id}")
}

/// Refresh access tokens expiring within this many seconds.
pub const REFRESH_AHEAD_SECS: i64 = 300;

/// Connection operations over a [`Store`].
#[derive(Clone, Debug)]
pub struct Connections {
    store: Store,
    key: MasterKey,
    catalog: Catalog,
    /// Held during a token refresh: one refresh at a time in this process (single-flight), so
    /// a rotated refresh token is stored before any other refresh could use the old one.
    refreshing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where the OAuth2 apps (`AREA_<PROVIDER>_CLIENT_ID`…) come from.
    settings: Settings,
}

impl Connections {
    /// Connections sealed with `key`, services resolved in `catalog`, with no settings (so no
    /// OAuth2 app: tests; shells add theirs with [`Connections::with_settings`]).
    pub fn new(store: Store, key: MasterKey, catalog: Catalog) -> Self {
        Connections { store, key, catalog, refreshing: Default::default(), settings: Settings::empty() }
    }

    /// These connections, taking their OAuth2 apps from `settings`.
    pub fn with_settings(self, settings: Settings) -> Self {
        Connections { settings, ..self }
    }

    /// The master key these connections are sealed with; the engine opens areas' secret
    /// parameters with it too.
    pub fn master_key(&self) -> &MasterKey {
        &self.key
    }

    /// The OAuth2 client for a provider: the app registered by the user (settings), asking
    /// for the union of the scopes of every service sharing the provider.
    pub fn oauth_client(&self, provider_id: &str) -> Result<OAuthClientConfig, ConnectionError> {
        let providers: Vec<&crate::catalog::OAuthProvider> =
            self.catalog.manifests().filter_map(|m| m.oauth.as_ref()).filter(|p| p.id == provider_id).collect();
        let first = providers.first().ok_or_else(|| ConnectionError::UnknownService(provider_id.into()))?;
        let scopes: std::collections::BTreeSet<String> =
            providers.iter().flat_map(|p| p.scopes.iter().map(|s| s.to_string())).collect();
        Ok(OAuthClientConfig::from_settings(&self.settings, first, scopes.into_iter().collect())?)
    }

    /// Stores tokens from a code exchange or refresh. The refresh token is written before the
    /// new access token is ever used (rotation: the old one is dead from now on).
    pub async fn save_tokens(
        &self,
        user_id: i64,
        connection_id: &str,
        tokens: &crate::oauth::OAuthTokens,
        account_label: Option<&str>,
    ) -> Result<ConnectionInfo, ConnectionError> {
        // A refresh's answer may carry no ID token: the account named at sign-in stays.
        let account = match tokens.account() {
            Some(account) => Some(account),
            None => match self.get(user_id, connection_id).await? {
                Some(StoredConnection { secret: Secret::Oauth2 { account, .. }, .. }) => account,
                _ => None,
            },
        };
        let secret = Secret::Oauth2 {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            scope: tokens.scope.clone(),
            account,
        };
        self.save(user_id, connection_id, &secret, account_label, tokens.expires_at).await
    }

    /// Refreshes one OAuth2 connection now. A refused grant (`invalid_grant`: revoked, expired,
    /// replayed) marks it `needs reconnect` and pauses its areas; other failures (network) leave
    /// it as it is, to be tried again.
    pub async fn refresh(&self, user_id: i64, connection_id: &str) -> Result<(), ConnectionError> {
        let _single = self.refreshing.lock().await;
        let Some(stored) = self.get(user_id, connection_id).await? else {
            return Err(ConnectionError::NotConnected(connection_id.into()));
        };
        let Secret::Oauth2 { refresh_token: Some(refresh_token), scope, .. } = &stored.secret else {
            let reason = format!(
                "the {connection_id} access was refused and cannot be renewed: run `area connect {connection_id}`"
            );
            return self.mark_needs_reconnect(user_id, connection_id, &reason).await;
        };
        let client = self.oauth_client(connection_id)?;
        match crate::oauth::refresh(&client, refresh_token).await {
            Ok(mut tokens) => {
                if tokens.scope.is_none() {
                    tokens.scope = scope.clone();
                }
                self.save_tokens(user_id, connection_id, &tokens, None).await?;
                tracing::info!(connection = connection_id, user_id, "access token refreshed");
                Ok(())
            }
            Err(e @ crate::oauth::OAuthError::InvalidGrant { .. }) => {
                let reason = format!("{e}: run `area connect {connection_id}`");
                self.mark_needs_reconnect(user_id, connection_id, &reason).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Refreshes every healthy OAuth2 connection whose access token expires soon; returns how
    /// many were refreshed (errors are logged, and retried on the next call).
    pub async fn refresh_expiring(&self) -> Result<usize, ConnectionError> {
        let horizon = chrono::Utc::now().timestamp() + REFRESH_AHEAD_SECS;
        let rows = sqlx::query(
            "SELECT user_id, connection_id FROM connections
             WHERE kind = 'oauth2' AND status = 'ok' AND expires_at IS NOT NULL AND expires_at < $1",
        )
        .bind(horizon)
        .fetch_all(self.store.pool())
        .await?;
        let mut done = 0;
        for row in rows {
            let (user_id, connection_id): (i64, String) = (row.get(0), row.get(1));
            match self.refresh(user_id, &connection_id).await {
                Ok(()) => done += 1,
                Err(e) => tracing::warn!(connection = %connection_id, user_id, error = %e, "token refresh failed"),
            }
        }
        Ok(done)
    }

    /// The kind of a stored connection (`api_key` / `oauth2`), if it exists.
    pub async fn kind(&self, user_id: i64, connection_id: &str) -> Result<Option<String>, ConnectionError> {
        Ok(sqlx::query_scalar("SELECT kind FROM connections WHERE user_id = $1 AND connection_id = $2")
            .bind(user_id)
            .bind(connection_id)
            .fetch_optional(self.store.pool())
            .await?)
    }

    /// The manifest of a service that needs a connection.
    pub fn service(&self, service_id: &str) -> Result<&ServiceManifest, ConnectionError> {
        let manifest = &self
            .catalog
            .service(service_id)
            .ok_or_else(|| ConnectionError::UnknownService(service_id.into()))?
            .manifest;
        if manifest.auth == AuthKind::None {
            return Err(ConnectionError::NoAuthNeeded(manifest.name.into()));
        }
        Ok(manifest)
    }

    /// Stores (or replaces) a connection's secret, marking it healthy, and resumes the areas
    /// that were paused because of it.
    pub async fn save(
        &self,
        user_id: i64,
        connection_id: &str,
        secret: &Secret,
        account_label: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<ConnectionInfo, ConnectionError> {
        if let Secret::ApiKey { key: value } | Secret::Mail { password: value, .. } = secret {
            if value.trim().is_empty() {
                return Err(ConnectionError::EmptySecret);
            }
        }
        let json = serde_json::to_vec(secret).map_err(|_| ConnectionError::EmptySecret)?;
        let sealed = self.key.seal(&json, &aad(user_id, connection_id))?;
        let kind = match secret {
            Secret::ApiKey { .. } => "api_key",
            Secret::Oauth2 { .. } => "oauth2",
            Secret::Mail { .. } => "mail",
            Secret::ClientKey { .. } => "client_key",
        };
        let now = chrono::Utc::now().timestamp_millis();
        sqlx::query(
            "INSERT INTO connections (user_id, connection_id, kind, account_label, secret, expires_at, status,
                                      status_reason, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'ok', NULL, $7, $8)
             ON CONFLICT (user_id, connection_id) DO UPDATE SET kind = excluded.kind,
                account_label = COALESCE(excluded.account_label, connections.account_label),
                secret = excluded.secret, expires_at = excluded.expires_at, status = 'ok',
                status_reason = NULL, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(connection_id)
        .bind(kind)
        .bind(account_label)
        .bind(sealed)
        .bind(expires_at)
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        self.resume_areas(user_id, connection_id).await?;
        self.info(user_id, connection_id).await?.ok_or_else(|| ConnectionError::NotConnected(connection_id.into()))
    }

    /// Records the limit of its service's quota that the connection's own plan has (`None`: the
    /// service's documented default applies), as learned when its token was checked.
    pub async fn set_plan_limit(
        &self,
        user_id: i64,
        connection_id: &str,
        plan_limit: Option<u64>,
    ) -> Result<(), ConnectionError> {
        sqlx::query("UPDATE connections SET plan_limit = $1 WHERE user_id = $2 AND connection_id = $3")
            .bind(plan_limit.and_then(|l| i64::try_from(l).ok()))
            .bind(user_id)
            .bind(connection_id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// The user's connections.
    pub async fn list(&self, user_id: i64) -> Result<Vec<ConnectionInfo>, ConnectionError> {
        let rows = sqlx::query(
            "SELECT connection_id, kind, account_label, status, status_reason, expires_at, secret
             FROM connections WHERE user_id = $1 ORDER BY connection_id",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(|r| self.row_info(user_id, r)).collect())
    }

    async fn info(&self, user_id: i64, connection_id: &str) -> Result<Option<ConnectionInfo>, ConnectionError> {
        let row = sqlx::query(
            "SELECT connection_id, kind, account_label, status, status_reason, expires_at, secret
             FROM connections WHERE user_id = $1 AND connection_id = $2",
        )
        .bind(user_id)
        .bind(connection_id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.map(|r| self.row_info(user_id, &r)))
    }

    fn row_info(&self, user_id: i64, r: &sqlx::any::AnyRow) -> ConnectionInfo {
        let connection_id: String = r.get(0);
        let mut status: String = r.get(3);
        let expires_at: Option<i64> = r.get(5);
        if status == "ok" {
            // An OAuth2 (or client-key) connection without a refresh token dies with its access
            // token.
            let refreshable = self
                .key
                .open(r.get::<&[u8], _>(6), &aad(user_id, &connection_id))
                .ok()
                .and_then(|json| serde_json::from_slice::<Secret>(&json).ok())
                .is_some_and(|s| {
                    matches!(
                        s,
                        Secret::Oauth2 { refresh_token: Some(_), .. }
                            | Secret::ClientKey { refresh_token: Some(_), .. }
                    )
                });
            let soon = expires_at.is_some_and(|t| t - chrono::Utc::now().timestamp() < EXPIRING_SOON_SECS);
            if soon && !refreshable {
                status = "expires".into();
            }
        }
        ConnectionInfo {
            connection_id,
            kind: r.get(1),
            account_label: r.get(2),
            status,
            reason: r.get(4),
            expires_at,
            planned: None,
        }
    }

    /// The decrypted connection, if the user has one.
    pub async fn get(&self, user_id: i64, connection_id: &str) -> Result<Option<StoredConnection>, ConnectionError> {
        let row = sqlx::query(
            "SELECT connection_id, kind, account_label, status, status_reason, expires_at, secret
             FROM connections WHERE user_id = $1 AND connection_id = $2",
        )
        .bind(user_id)
        .bind(connection_id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let json = self.key.open(row.get::<&[u8], _>(6), &aad(user_id, connection_id))?;
        let secret: Secret = serde_json::from_slice(&json).map_err(|_| CryptoError::Open)?;
        Ok(Some(StoredConnection { info: self.row_info(user_id, &row), secret }))
    }

    /// Deletes a connection; its areas are paused (they cannot run without it).
    pub async fn remove(&self, user_id: i64, connection_id: &str) -> Result<(), ConnectionError> {
        let done = sqlx::query("DELETE FROM connections WHERE user_id = $1 AND connection_id = $2")
            .bind(user_id)
            .bind(connection_id)
            .execute(self.store.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(ConnectionError::NotConnected(connection_id.into()));
        }
        let reason = format!("the {connection_id} connection was removed: run `area connect {connection_id}`");
        self.pause_areas(user_id, connection_id, &reason).await
    }

    /// The credentials were refused (401, `invalid_grant`): mark the connection and pause the
    /// areas that use it, with `reason` shown to the user.
    pub async fn mark_needs_reconnect(
        &self,
        user_id: i64,
        connection_id: &str,
        reason: &str,
    ) -> Result<(), ConnectionError> {
        sqlx::query(
            "UPDATE connections SET status = 'needs_reconnect', status_reason = $1, updated_at = $2
             WHERE user_id = $3 AND connection_id = $4",
        )
        .bind(reason)
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(user_id)
        .bind(connection_id)
        .execute(self.store.pool())
        .await?;
        self.pause_areas(user_id, connection_id, reason).await
    }

    /// Ids of the user's areas whose action or a reaction uses this connection.
    async fn areas_using(&self, user_id: i64, connection_id: &str) -> Result<Vec<i64>, ConnectionError> {
        let rows = sqlx::query("SELECT id, definition FROM areas WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(self.store.pool())
            .await?;
        Ok(rows
            .iter()
            .filter(|r| {
                serde_json::from_str::<AreaSpec>(r.get::<&str, _>(1)).is_ok_and(|spec| {
                    std::iter::once(&spec.action).chain(spec.reactions.iter()).any(|step| {
                        self.catalog.service(&step.service).and_then(|s| s.manifest.connection_id())
                            == Some(connection_id)
                    })
                })
            })
            .map(|r| r.get(0))
            .collect())
    }

    async fn pause_areas(&self, user_id: i64, connection_id: &str, reason: &str) -> Result<(), ConnectionError> {
        let now = chrono::Utc::now().timestamp_millis();
        for id in self.areas_using(user_id, connection_id).await? {
            sqlx::query(
                "UPDATE areas SET paused_reason = $1, paused_cause = $2, updated_at = $3
                 WHERE id = $4 AND paused_reason IS NULL",
            )
            .bind(reason)
            .bind(PauseCause::Credentials.as_str())
            .bind(now)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }

    /// Resumes areas paused because of their credentials (among those using this connection). They baseline
    /// again, so what happened while they were paused does not flood in.
    async fn resume_areas(&self, user_id: i64, connection_id: &str) -> Result<(), ConnectionError> {
        let now = chrono::Utc::now().timestamp_millis();
        // Only pauses caused by credentials end here; other pauses (repeated failures) stay.
        for id in self.areas_using(user_id, connection_id).await? {
            sqlx::query(
                "UPDATE areas SET paused_reason = NULL, paused_cause = NULL, consecutive_failures = 0,
                 last_error = NULL, baselined = FALSE, updated_at = $1
                 WHERE id = $2 AND paused_reason IS NOT NULL AND paused_cause = $3",
            )
            .bind(now)
            .bind(id)
            .bind(PauseCause::Credentials.as_str())
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }
}
