//! OAuth2 for a server: the user's browser goes to the provider, and the provider sends it back
//! to `<public-url>/oauth/callback`, a page of the server itself — no loopback port, no
//! `area://` link. Many users may be authorizing at once, so each authorization waits under its
//! own `state`, for the user who began it, once, for [`PENDING_TTL_SECS`] at most.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::connections::ConnectionInfo;
use crate::oauth::{self, PendingAuth, PENDING_TTL_SECS};

use super::{ApiError, App, ErrorCode};

/// The callback's path under the public URL (register `<public-url>/oauth/callback` with each
/// provider's app).
pub const OAUTH_CALLBACK_PATH: &str = "/oauth/callback";

/// Authorizations waiting for more than this many at once are refused rather than kept.
const MAX_WAITING: usize = 10_000;

/// One authorization a user began.
struct Waiting {
    user_id: i64,
    pending: PendingAuth,
}

/// The authorizations waiting for their callback, by `state`.
#[derive(Default)]
pub(super) struct RedirectFlows {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl RedirectFlows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl App {
    /// The redirect URI a server registers with providers: `<public-url>/oauth/callback`.
    pub fn oauth_redirect_uri(&self) -> Result<String, ApiError> {
        let public = self.inner.settings.get(crate::settings::PUBLIC_URL).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Settings,
                "connecting through a provider needs the server's public address: start it with --public-url",
            )
        })?;
        Ok(format!("{}{OAUTH_CALLBACK_PATH}", public.trim_end_matches('/')))
    }

    /// Begins connecting `service` through its provider for the user; answers the provider's
    /// authorization address, for the user's browser to open.
    pub async fn begin_oauth_redirect(&self, service: &str) -> Result<String, ApiError> {
        let user = self.user().await?;
        let (client, _) = self.oauth_client_for(service)?;
        let (url, pending) = oauth::start(&client, &self.oauth_redirect_uri()?)?;
        let now = chrono::Utc::now().timestamp();
        let mut waiting = self.inner.redirects.lock();
        waiting.retain(|_, w| now - w.pending.created_at <= PENDING_TTL_SECS);
        if waiting.len() >= MAX_WAITING {
            return Err(ApiError::new(
                ErrorCode::Throttled,
                "too many authorizations are under way: try again in a few minutes",
            ));
        }
        waiting.insert(pending.state.clone(), Waiting { user_id: user.id, pending });
        Ok(url)
    }

    /// Finishes an authorization from the address the provider sent the browser back to (its
    /// `state` names the authorization): exchanges the code and saves the connection. Only the
    /// user who began it can finish it, and only once.
    pub async fn finish_oauth_redirect(&self, callback_url: &str) -> Result<ConnectionInfo, ApiError> {
        let user = self.user().await?;
        let state = url::Url::parse(callback_url)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()))
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Oauth, "the provider sent the browser back without a state: start again")
            })?;
        let waiting = {
            let mut all = self.inner.redirects.lock();
            match all.get(&state) {
                Some(w) if w.user_id == user.id => all.remove(&state),
                _ => None,
            }
        };
        let Some(Waiting { pending, .. }) = waiting else {
            return Err(ApiError::new(
                ErrorCode::Oauth,
                "no authorization of yours is waiting for this answer (it expired, was used, or another account began it): start again",
            ));
        };
        let client = self.connections()?.oauth_client(&pending.provider_id)?;
        let tokens = oauth::finish(&client, &pending, callback_url).await?;
        self.save_oauth_tokens(&user, &pending.provider_id, &tokens, None).await
    }
}
