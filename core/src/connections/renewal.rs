//! Renewing pasted tokens before they expire, for services with a [`TokenRenewal`] (Instagram's
//! 60-day tokens): the renewal request goes through the shared client with the token bound to the
//! service's hosts, the new token replaces the old one sealed like any connection, and a refused
//! renewal marks the connection `needs_reconnect` (its areas pause with the reason) instead of
//! letting the areas fail one by one.

use std::time::Duration;

use sqlx::Row;

use super::{ConnectionError, Connections, Secret};
use crate::catalog::ServiceManifest;
use crate::connector::{ConnectorError, TokenRenewal};
use crate::net::HttpClient;

impl Connections {
    /// When a freshly pasted token of `service` should be renewed first (unix seconds), recorded
    /// as its expiry: `None` when the service does not renew tokens.
    pub fn pasted_token_expiry(&self, service: &str) -> Option<i64> {
        let renewal = self.catalog.service(service)?.token_renewal.as_ref()?;
        let due = renewal.first_renewal_after() + renewal.renew_within();
        Some(chrono::Utc::now().timestamp() + secs(due))
    }

    /// Renews every healthy pasted token that is within its service's renewal window; returns
    /// how many were renewed. Failures other than a refusal are logged and tried again on the
    /// next call.
    pub async fn renew_pasted_tokens(&self, http: &HttpClient) -> Result<usize, ConnectionError> {
        let window = |id: &str| self.catalog.service(id)?.token_renewal.as_ref().map(|r| r.renew_within());
        let mut renewed = 0;
        for (user_id, connection_id) in self.due_for_renewal("api_key", window).await? {
            let Some(service) = self.catalog.service(&connection_id) else { continue };
            let Some(renewal) = service.token_renewal.clone() else { continue };
            let manifest = service.manifest.clone();
            match self.renew_one(http, user_id, &manifest, renewal.as_ref()).await {
                Ok(true) => renewed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(connection = %connection_id, user_id, error = %e, "token renewal failed"),
            }
        }
        Ok(renewed)
    }

    /// The healthy connections of `kind` (user, connection) whose expiry is within the renewal
    /// window `window` gives for their service (`None`: not renewed this way): what the renewal
    /// loops of pasted tokens and client keys both go through.
    pub(super) async fn due_for_renewal(
        &self,
        kind: &str,
        window: impl Fn(&str) -> Option<Duration>,
    ) -> Result<Vec<(i64, String)>, ConnectionError> {
        let rows = sqlx::query(
            "SELECT user_id, connection_id, expires_at FROM connections
             WHERE kind = $1 AND status = 'ok' AND expires_at IS NOT NULL",
        )
        .bind(kind)
        .fetch_all(self.store.pool())
        .await?;
        let now = chrono::Utc::now().timestamp();
        Ok(rows
            .iter()
            .filter_map(|row| {
                let (user_id, connection_id, expires_at): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
                let within = window(&connection_id)?;
                (expires_at - now <= secs(within)).then_some((user_id, connection_id))
            })
            .collect())
    }

    /// Renews one connection's token: `true` when renewed, `false` when the provider refused
    /// (the connection now needs reconnecting).
    async fn renew_one(
        &self,
        http: &HttpClient,
        user_id: i64,
        manifest: &ServiceManifest,
        renewal: &dyn TokenRenewal,
    ) -> Result<bool, ConnectionError> {
        let _single = self.refreshing.lock().await;
        let connection_id = manifest.id;
        let Some(stored) = self.get(user_id, connection_id).await? else {
            return Err(ConnectionError::NotConnected(connection_id.into()));
        };
        let credential = stored.secret.credential();
        let failed =
            |e: ConnectorError| ConnectionError::Renewal { service: manifest.name.into(), reason: e.to_string() };
        let request = renewal.request(&credential).map_err(failed)?;
        let (http, options) = self.catalog.connection_client(http, manifest, &credential);
        let response = http.send(&request, &options).await.map_err(|e| failed(e.into()))?;
        match renewal.read(&response) {
            Ok(token) => {
                let expires_at = chrono::Utc::now().timestamp() + secs(token.expires_in);
                self.save(user_id, connection_id, &Secret::ApiKey { key: token.token }, None, Some(expires_at)).await?;
                tracing::info!(connection = connection_id, user_id, "pasted token renewed");
                Ok(true)
            }
            Err(ConnectorError::AuthExpired { .. }) => {
                let reason = format!(
                    "{} refused to renew the token (it expired or was revoked): connect {} again with a new one",
                    manifest.name, manifest.name
                );
                self.mark_needs_reconnect(user_id, connection_id, &reason).await?;
                Ok(false)
            }
            Err(e) => Err(failed(e)),
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}
