//! OAuth2 for a server: the user's browser goes to the provider, and the provider sends it back
//! to `<public-url>/oauth/callback`, a page of the server itself — no loopback port, no
//! `area://` link. Many users may be authorizing at once, so each authorization waits under its
//! own `state`, for its purpose (connecting a service for the user who began it, or signing in
//! with GitHub/Google), once, for [`PENDING_TTL_SECS`] at most.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::accounts::{Session, User};
use crate::connections::ConnectionInfo;
use crate::oauth::{self, OAuthClientConfig, PendingAuth, PENDING_TTL_SECS};
use crate::signin::{self, IdentityProvider, SignInOutcome};

use super::{ApiError, App, ErrorCode, SignUp};

/// The callback's path under the public URL (register `<public-url>/oauth/callback` with each
/// provider's app).
pub const OAUTH_CALLBACK_PATH: &str = "/oauth/callback";

/// Authorizations waiting for more than this many at once are refused rather than kept.
const MAX_WAITING: usize = 10_000;

/// What an authorization is for.
enum Purpose {
    /// Connecting a service for this user.
    Connect { user_id: i64 },
    /// Signing in with an identity provider: into the account that identity is linked to, or a
    /// new one (under `policy`, with `invite`), or linking it to `current`.
    SignIn { provider: Box<IdentityProvider>, current: Option<User>, policy: SignUp, invite: Option<String> },
}

/// One authorization under way.
struct Waiting {
    purpose: Purpose,
    pending: PendingAuth,
}

/// The authorizations waiting for their callback, by `state`.
#[derive(Default)]
pub(super) struct RedirectFlows {
    waiting: Mutex<HashMap<String, Waiting>>,
}

/// What an authorization that came back did.
#[derive(Debug)]
pub enum RedirectOutcome {
    /// A service was connected for the user.
    Connected(ConnectionInfo),
    /// Signed in (a new account, when the identity was new and sign-up allowed it): the
    /// session to hand to the browser.
    SignedIn(Session),
    /// The identity was linked to the signed-in user.
    Linked(User),
}

impl RedirectFlows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, waiting: Waiting) -> Result<(), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let mut all = self.lock();
        all.retain(|_, w| now - w.pending.created_at <= PENDING_TTL_SECS);
        if all.len() >= MAX_WAITING {
            return Err(ApiError::new(
                ErrorCode::Throttled,
                "too many authorizations are under way: try again in a few minutes",
            ));
        }
        all.insert(waiting.pending.state.clone(), waiting);
        Ok(())
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
        self.inner.redirects.insert(Waiting { purpose: Purpose::Connect { user_id: user.id }, pending })?;
        Ok(url)
    }

    /// Begins signing in with `provider_id` (github, google). Called on a handle acting for a
    /// signed-in user ([`App::acting_as`]), the identity is linked to that user instead. A new
    /// identity creates an account only as `policy` allows (with `invite` when invite-only).
    pub async fn begin_signin_redirect(
        &self,
        provider_id: &str,
        policy: SignUp,
        invite: Option<&str>,
    ) -> Result<String, ApiError> {
        let provider = signin::provider(provider_id)?;
        let (url, pending) = oauth::start(&self.signin_client(&provider)?, &self.oauth_redirect_uri()?)?;
        let purpose = Purpose::SignIn {
            provider: Box::new(provider),
            current: self.caller.clone(),
            policy,
            invite: invite.map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned),
        };
        self.inner.redirects.insert(Waiting { purpose, pending })?;
        Ok(url)
    }

    /// Finishes an authorization from the address the provider sent the browser back to (its
    /// `state` names the authorization), once. A connection is saved only for the signed-in user
    /// who began it.
    pub async fn finish_redirect(&self, callback_url: &str) -> Result<RedirectOutcome, ApiError> {
        let state = url::Url::parse(callback_url)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()))
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Oauth, "the provider sent the browser back without a state: start again")
            })?;
        let caller = self.caller.as_ref().map(|u| u.id);
        let waiting = {
            let mut all = self.inner.redirects.lock();
            match all.get(&state).map(|w| &w.purpose) {
                Some(Purpose::Connect { .. }) if caller.is_none() => return Err(ApiError::not_signed_in()),
                Some(Purpose::Connect { user_id }) if Some(*user_id) == caller => all.remove(&state),
                Some(Purpose::SignIn { .. }) => all.remove(&state),
                _ => None,
            }
        };
        let Some(Waiting { purpose, pending }) = waiting else {
            return Err(ApiError::new(
                ErrorCode::Oauth,
                "no authorization of yours is waiting for this answer (it expired, was used, or another account \
                 began it): start again",
            ));
        };
        match purpose {
            Purpose::Connect { .. } => {
                let user = self.user().await?;
                let client = self.connections()?.oauth_client(&pending.provider_id)?;
                let tokens = oauth::finish(&client, &pending, callback_url).await?;
                Ok(RedirectOutcome::Connected(
                    self.save_oauth_tokens(&user, &pending.provider_id, &tokens, None).await?,
                ))
            }
            Purpose::SignIn { provider, current, policy, invite } => {
                let tokens = oauth::finish(&self.signin_client(&provider)?, &pending, callback_url).await?;
                let identity =
                    signin::fetch_identity(&self.inner.settings, &self.inner.http, &provider, &tokens.access_token)
                        .await?;
                let accounts = &self.inner.accounts;
                let known = accounts.user_for_identity(&identity.provider, &identity.subject).await?.is_some();
                if !known && current.is_none() {
                    self.may_sign_up(policy, invite.as_deref()).await?;
                }
                Ok(match signin::sign_in(accounts, &identity, current.as_ref()).await? {
                    SignInOutcome::SignedIn(session) | SignInOutcome::Created(session) => {
                        RedirectOutcome::SignedIn(session)
                    }
                    SignInOutcome::Linked(user) => RedirectOutcome::Linked(user),
                })
            }
        }
    }

    /// The OAuth2 client of an identity provider, from the settings (`AREA_GITHUB_CLIENT_ID`…).
    fn signin_client(&self, provider: &IdentityProvider) -> Result<OAuthClientConfig, ApiError> {
        let scopes = provider.oauth.scopes.iter().map(|s| s.to_string()).collect();
        Ok(OAuthClientConfig::from_settings(&self.inner.settings, &provider.oauth, scopes)?)
    }
}
