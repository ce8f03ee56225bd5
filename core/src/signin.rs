//! Sign in with an OAuth2 identity (GitHub, Google): the provider proves who the user is; Area
//! links the provider's stable subject id to a local user.
//!
//! Rules, to avoid account takeover: a known identity signs its user in; an unknown identity
//! while someone is signed in is linked to that user; an unknown identity with a *verified* email
//! that no local account uses creates a password-less account; an unknown identity whose email
//! belongs to an existing local account is refused until that account signs in with its password
//! and links the identity itself.

use serde_json::Value;

use crate::accounts::{AccountError, Accounts, Session, User};
use crate::catalog::{LoopbackHost, OAuthProvider};
use crate::connector::HttpRequestSpec;
use crate::net::{HttpClient, RequestOptions};
use crate::settings::Settings;

/// (subject, email, email verified), as a provider's user-info answer gives them.
pub type UserInfo = (String, Option<String>, bool);

/// An identity provider: its OAuth2 endpoints and where it says who the user is.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    pub oauth: OAuthProvider,
    /// Service-style id for `AREA_<ID>_BASE_URL` of the user-info API.
    pub api_id: &'static str,
    pub api_base: &'static str,
    pub userinfo_path: &'static str,
    /// Reads (subject, email, email verified) from the user-info answer.
    pub read: fn(&Value) -> Option<UserInfo>,
}

/// What the provider said about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("unknown sign-in provider `{0}`: use github or google")]
    UnknownProvider(String),
    #[error("could not read your {provider} identity: {reason}")]
    Identity { provider: String, reason: String },
    #[error(
        "an Area account for {0} already exists: log in with its password first, then run `area login --with PROVIDER` to link it"
    )]
    EmailTaken(String),
    #[error("{provider} did not share a verified email address, so no account could be created; create one with `area user add`, log in, then link {provider}")]
    NoVerifiedEmail { provider: String },
    #[error(transparent)]
    Account(#[from] AccountError),
}

fn github_user(v: &Value) -> Option<UserInfo> {
    let id = v.get("id")?.as_i64()?.to_string();
    // The public email of /user is one the owner chose to show; GitHub only shows verified ones.
    let email = v.get("email").and_then(Value::as_str).map(str::to_owned);
    let verified = email.is_some();
    Some((id, email, verified))
}

fn oidc_userinfo(v: &Value) -> Option<UserInfo> {
    let sub = v.get("sub")?.as_str()?.to_owned();
    let email = v.get("email").and_then(Value::as_str).map(str::to_owned);
    let verified = v.get("email_verified").and_then(Value::as_bool).unwrap_or(false);
    Some((sub, email, verified))
}

/// The supported identity providers.
pub fn provider(id: &str) -> Result<IdentityProvider, SignInError> {
    match id {
        "github" => Ok(IdentityProvider {
            oauth: OAuthProvider {
                id: "github",
                auth_url: "https://github.com/login/oauth/authorize",
                token_url: "https://github.com/login/oauth/access_token",
                scopes: vec!["read:user", "user:email"],
                extra_auth_params: vec![],
                loopback_host: LoopbackHost::Ip,
            },
            api_id: "github",
            api_base: "https://api.github.com",
            userinfo_path: "/user",
            read: github_user,
        }),
        "google" => Ok(IdentityProvider {
            oauth: OAuthProvider {
                id: "google",
                auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
                token_url: "https://oauth2.googleapis.com/token",
                scopes: vec!["openid", "email"],
                extra_auth_params: vec![],
                loopback_host: LoopbackHost::Ip,
            },
            api_id: "google_openid",
            api_base: "https://openidconnect.googleapis.com",
            userinfo_path: "/v1/userinfo",
            read: oidc_userinfo,
        }),
        other => Err(SignInError::UnknownProvider(other.into())),
    }
}

/// Asks the provider who the access token belongs to, at its API (or the settings' override of
/// it, `AREA_<API>_BASE_URL`, which may be a local server).
pub async fn fetch_identity(
    settings: &Settings,
    http: &HttpClient,
    provider: &IdentityProvider,
    access_token: &str,
) -> Result<ProviderIdentity, SignInError> {
    let err = |reason: String| SignInError::Identity { provider: provider.oauth.id.into(), reason };
    let url = format!("{}{}", settings.base_url(provider.api_id, provider.api_base), provider.userinfo_path);
    let mut request = HttpRequestSpec::get(url);
    request.headers.push(("Authorization".into(), format!("Bearer {access_token}")));
    request.headers.push(("Accept".into(), "application/json".into()));
    let allow_private = settings.has_base_url_override(provider.api_id);
    let options = RequestOptions { allow_private_network: allow_private, ..Default::default() };
    let response = http.send(&request, &options).await.map_err(|e| err(e.to_string()))?;
    if !(200..300).contains(&response.status) {
        return Err(err(format!("HTTP {}", response.status)));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| err(format!("not JSON: {e}")))?;
    let (subject, email, email_verified) =
        (provider.read)(&body).ok_or_else(|| err("no user id in the answer".into()))?;
    Ok(ProviderIdentity { provider: provider.oauth.id.into(), subject, email, email_verified })
}

/// How a sign-in ended.
#[derive(Debug, Clone)]
pub enum SignInOutcome {
    /// The identity was known: its user is signed in.
    SignedIn(Session),
    /// The identity was linked to the already signed-in user.
    Linked(User),
    /// A new password-less account was created for the identity and signed in.
    Created(Session),
}

/// Applies the linking rules (module docs) for an identity the provider vouched for.
pub async fn sign_in(
    accounts: &Accounts,
    identity: &ProviderIdentity,
    current_user: Option<&User>,
) -> Result<SignInOutcome, SignInError> {
    if let Some(user) = accounts.user_for_identity(&identity.provider, &identity.subject).await? {
        return Ok(SignInOutcome::SignedIn(accounts.open_session(user).await?));
    }
    if let Some(user) = current_user {
        accounts.link_identity(user.id, &identity.provider, &identity.subject, identity.email.as_deref()).await?;
        return Ok(SignInOutcome::Linked(user.clone()));
    }
    let email = match (&identity.email, identity.email_verified) {
        (Some(email), true) => email.clone(),
        _ => return Err(SignInError::NoVerifiedEmail { provider: identity.provider.clone() }),
    };
    let user = match accounts.register_external(&email).await {
        Ok(user) => user,
        Err(AccountError::DuplicateEmail(email)) => return Err(SignInError::EmailTaken(email)),
        Err(e) => return Err(e.into()),
    };
    accounts.link_identity(user.id, &identity.provider, &identity.subject, Some(&email)).await?;
    Ok(SignInOutcome::Created(accounts.open_session(user).await?))
}
