//! OAuth2 authorization code flow with PKCE (S256), `state` and RFC 9207 `iss`, independent of
//! the transport that brings the browser back.
//!
//! 1. [`start`] builds the authorization URL and a [`PendingAuth`]: the random `state` and the
//!    secret PKCE verifier, both kept in memory by the caller.
//! 2. The user signs in with their browser. The provider redirects to the redirect URI: the
//!    CLI catches it with a [`LoopbackListener`] on `127.0.0.1` (RFC 8252 §7.3), the desktop app
//!    through an `area://oauth/callback` deep link.
//! 3. [`finish`] checks the callback URL against the pending authorization (same redirect
//!    target, same `state`, right issuer, less than [`PENDING_TTL_SECS`] old) and exchanges the
//!    code, with the verifier, for [`OAuthTokens`].
//! 4. [`refresh`] exchanges a refresh token. [`OAuthError::InvalidGrant`] means the grant is gone
//!    (revoked, expired, or a replayed rotated token): the connection needs a reconnect.
//!
//! Secrets (tokens, codes, verifiers, client secrets) never appear in `Debug` output, error
//! messages or logs. The token requests use a `reqwest` client that never follows redirects, as
//! the `oauth2` crate requires (a redirect could forward the code or secret elsewhere).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::catalog::{LoopbackHost, OAuthProvider};
use crate::settings::{setting_name, Settings};

/// How long a [`PendingAuth`] stays valid: a callback arriving later is rejected.
pub const PENDING_TTL_SECS: i64 = 5 * 60;

/// The path of the loopback redirect URI (`http://127.0.0.1:<port>/callback`).
pub const CALLBACK_PATH: &str = "/callback";

/// The redirect URI to register with a provider for the CLI and the desktop app. Providers that
/// follow RFC 8252 §7.3 accept any port at request time on a loopback redirect URI.
pub const REGISTERED_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Authorization parameters the flow sets itself; `extra_auth_params` must not override them.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "client_secret",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
];

/// Everything that can go wrong in an OAuth2 flow, with messages meant for the user. No variant
/// ever carries a token, a code, a verifier or a client secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// `AREA_<ID>_CLIENT_ID` is not set: the user must register their own OAuth app.
    #[error(
        "no OAuth app configured for {provider}: {var} is not set. Register an OAuth app with {provider} \
         (choose the \"desktop\"/\"native\" application type where offered), give it the redirect URI \
         {REGISTERED_REDIRECT_URI} (any port; Area listens on an OS-chosen port), then set {var} and, if \
         the provider issued one, {secret_var}. The README lists the steps for each provider."
    )]
    MissingClientId { provider: String, var: String, secret_var: String },
    /// The OAuth configuration itself is unusable (bad URL, reserved parameter…).
    #[error("invalid OAuth configuration for {provider}: {reason}")]
    Config { provider: String, reason: String },
    /// The callback URL could not be understood.
    #[error("invalid OAuth callback: {0}")]
    InvalidCallback(String),
    /// The callback arrived at another address than the redirect URI of the pending sign-in.
    #[error(
        "the OAuth callback went to {got}, but this sign-in expected {expected}; start the connection again \
         (note that localhost and 127.0.0.1 are different addresses)"
    )]
    RedirectMismatch { expected: String, got: String },
    /// `state` is missing or differs: the response belongs to another sign-in (or is forged).
    #[error("the OAuth response does not belong to this sign-in (state mismatch); start the connection again")]
    StateMismatch,
    /// RFC 9207: the response names another authorization server (mix-up attack?).
    #[error("the OAuth response comes from issuer {got}, expected {expected}; the sign-in was rejected")]
    IssuerMismatch { expected: String, got: String },
    /// RFC 9207: the provider is configured to send `iss`, but the response has none.
    #[error("the OAuth response does not name its issuer (expected {expected}); the sign-in was rejected")]
    MissingIssuer { expected: String },
    /// The pending sign-in is older than [`PENDING_TTL_SECS`].
    #[error("the sign-in took longer than {} minutes and expired; start the connection again", PENDING_TTL_SECS / 60)]
    Expired,
    /// The provider answered the authorization request with `error=` (e.g. `access_denied`).
    #[error("{provider} refused the authorization: {error}{}", describe(description))]
    Provider { provider: String, error: String, description: Option<String> },
    /// The callback has neither `code` nor `error`.
    #[error("the OAuth callback carries no authorization code; start the connection again")]
    MissingCode,
    /// `invalid_grant` from the token endpoint: the code or refresh token is expired, revoked,
    /// already used or replayed. A stored connection must be marked "needs reconnect".
    #[error(
        "{provider} rejected the grant (expired, revoked or already used){}; reconnect the account",
        describe(description)
    )]
    InvalidGrant { provider: String, description: Option<String> },
    /// Any other error response from the token endpoint (`invalid_client`…).
    #[error("{provider}'s token endpoint refused the request: {error}{}", describe(description))]
    TokenEndpoint { provider: String, error: String, description: Option<String> },
    /// The token endpoint could not be reached.
    #[error("could not reach {provider}'s token endpoint: {reason}")]
    Network { provider: String, reason: String },
    /// The token endpoint answered something that is not a token response.
    #[error("unexpected answer from {provider}'s token endpoint: {reason}")]
    InvalidResponse { provider: String, reason: String },
    /// The loopback listener failed.
    #[error("the local OAuth callback listener failed: {0}")]
    Listener(String),
    /// No callback arrived in time.
    #[error("no OAuth callback arrived within {secs} seconds; start the connection again")]
    Timeout { secs: u64 },
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

/// One provider's OAuth2 application: where to send the user, where to exchange codes, and the
/// app credentials the user registered.
#[derive(Clone)]
pub struct OAuthClientConfig {
    /// The connection id (`google`, `github`…): names the provider in messages.
    pub provider_id: String,
    pub client_id: String,
    /// Present for providers that issue a secret even to desktop apps (Google, GitHub).
    pub client_secret: Option<String>,
    pub auth_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    /// Extra authorization parameters (`access_type=offline`…); may not override the flow's own.
    pub extra_auth_params: Vec<(String, String)>,
    /// The RFC 9207 issuer. When set, the callback must carry `iss` equal to it; when unset, an
    /// `iss` in the callback is accepted unchecked. Only set it for providers that send `iss`.
    pub issuer: Option<String>,
    /// The host of the loopback redirect this provider expects (see [`LoopbackHost`]).
    pub loopback_host: LoopbackHost,
}

impl fmt::Debug for OAuthClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientConfig")
            .field("provider_id", &self.provider_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .field("extra_auth_params", &self.extra_auth_params)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl OAuthClientConfig {
    /// The configuration of `provider`'s OAuth app from the settings:
    /// `AREA_<ID>_CLIENT_ID` (required), `AREA_<ID>_CLIENT_SECRET`, `AREA_<ID>_AUTH_URL` and
    /// `AREA_<ID>_TOKEN_URL` (overrides of the documented endpoints, e.g. for tests) and
    /// `AREA_<ID>_ISSUER` (turns on the RFC 9207 `iss` check), where `<ID>` is the provider id
    /// upper-cased with `-` replaced by `_`. Blank values count as unset.
    pub fn from_settings(
        settings: &Settings,
        provider: &OAuthProvider,
        scopes: Vec<String>,
    ) -> Result<Self, OAuthError> {
        let var = |key: &str| setting_name(provider.id, key);
        let value = |key: &str| settings.service(provider.id, key).map(str::to_string);
        let client_id = value("CLIENT_ID").ok_or_else(|| OAuthError::MissingClientId {
            provider: provider.id.to_string(),
            var: var("CLIENT_ID"),
            secret_var: var("CLIENT_SECRET"),
        })?;
        let mut extra_auth_params = Vec::new();
        for param in &provider.extra_auth_params {
            let (k, v) = param.split_once('=').ok_or_else(|| OAuthError::Config {
                provider: provider.id.to_string(),
                reason: format!("extra authorization parameter {param:?} is not key=value"),
            })?;
            extra_auth_params.push((k.to_string(), v.to_string()));
        }
        let cfg = OAuthClientConfig {
            provider_id: provider.id.to_string(),
            client_id,
            client_secret: value("CLIENT_SECRET"),
            auth_url: value("AUTH_URL").unwrap_or_else(|| provider.auth_url.to_string()),
            token_url: value("TOKEN_URL").unwrap_or_else(|| provider.token_url.to_string()),
            scopes,
            extra_auth_params,
            issuer: value("ISSUER"),
            loopback_host: provider.loopback_host,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn config_error(&self, reason: impl Into<String>) -> OAuthError {
        OAuthError::Config { provider: self.provider_id.clone(), reason: reason.into() }
    }

    /// Endpoints must be `https`, except on loopback (tests, local servers); extra parameters
    /// must not override the flow's own.
    fn validate(&self) -> Result<(), OAuthError> {
        if self.client_id.trim().is_empty() {
            return Err(self.config_error("the client id is empty"));
        }
        for (what, raw) in [("authorization URL", &self.auth_url), ("token URL", &self.token_url)] {
            let url =
                url::Url::parse(raw).map_err(|e| self.config_error(format!("the {what} {raw:?} is not a URL: {e}")))?;
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(self.config_error(format!(
                    "the {what} {raw} must use https (plain http is only allowed on loopback)"
                )));
            }
        }
        if let Some((k, _)) = self.extra_auth_params.iter().find(|(k, _)| RESERVED_AUTH_PARAMS.contains(&k.as_str())) {
            return Err(self.config_error(format!("extra authorization parameter {k:?} is set by the flow itself")));
        }
        Ok(())
    }

    fn client(&self, redirect_uri: Option<&str>) -> Result<AreaClient, OAuthError> {
        self.validate()?;
        let auth_url =
            AuthUrl::new(self.auth_url.clone()).map_err(|e| self.config_error(format!("authorization URL: {e}")))?;
        let token_url =
            TokenUrl::new(self.token_url.clone()).map_err(|e| self.config_error(format!("token URL: {e}")))?;
        let mut client =
            oauth2::Client::new(ClientId::new(self.client_id.clone())).set_auth_uri(auth_url).set_token_uri(token_url);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        if let Some(redirect) = redirect_uri {
            let redirect = RedirectUrl::new(redirect.to_string())
                .map_err(|e| self.config_error(format!("redirect URI {redirect:?}: {e}")))?;
            client = client.set_redirect_uri(redirect);
        }
        Ok(client)
    }
}

/// Token response fields beyond RFC 6749 that we keep: the OpenID Connect `id_token`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct AreaExtraFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl ExtraTokenFields for AreaExtraFields {}

type AreaTokenResponse = StandardTokenResponse<AreaExtraFields, BasicTokenType>;
type AreaClient = oauth2::Client<
    BasicErrorResponse,
    AreaTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An authorization in progress, between [`start`] and [`finish`]. Keep it in memory only; it
/// holds the PKCE verifier, which is never shown by `Debug`.
#[derive(Clone)]
pub struct PendingAuth {
    pub provider_id: String,
    /// The random `state` sent with the authorization request.
    pub state: String,
    /// The exact redirect URI sent with the authorization request.
    pub redirect_uri: String,
    /// When [`start`] ran, Unix seconds.
    pub created_at: i64,
    verifier: String,
}

impl fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuth")
            .field("provider_id", &self.provider_id)
            .field("state", &self.state)
            .field("redirect_uri", &self.redirect_uri)
            .field("created_at", &self.created_at)
            .field("verifier", &"<redacted>")
            .finish()
    }
}

/// Tokens from a code exchange or a refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub access_token: String,
    /// After [`finish`]: the refresh token, if the provider issued one. After [`refresh`]: the
    /// rotated token if the provider issued a new one, otherwise the one that was passed in —
    /// always store this value (before using it) in place of the old one.
    pub refresh_token: Option<String>,
    /// When the access token expires, Unix seconds (`None`: the provider did not say).
    pub expires_at: Option<i64>,
    /// The granted scopes, space-separated, when the provider reported them.
    pub scope: Option<String>,
    /// The OpenID Connect ID token, when the provider issued one.
    pub id_token: Option<String>,
}

impl OAuthTokens {
    /// The account the tokens belong to, as the OpenID Connect ID token names it (`email`, else
    /// `preferred_username`): the mailbox that SASL XOAUTH2 logs in as, and a label for the
    /// connection. The ID token came straight from the token endpoint over TLS, so its claims are
    /// read without checking its signature (OpenID Connect Core §3.1.3.7).
    pub fn account(&self) -> Option<String> {
        use base64::Engine;
        let payload = self.id_token.as_deref()?.split('.').nth(1)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
        ["email", "preferred_username"]
            .iter()
            .filter_map(|claim| claims.get(*claim).and_then(serde_json::Value::as_str))
            .map(str::trim)
            // No control character: the account is the `user=` field of XOAUTH2's ^A-separated string.
            .find(|value| !value.is_empty() && value.len() <= 320 && !value.chars().any(char::is_control))
            .map(str::to_string)
    }
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Starts an authorization: returns the URL to open in the user's browser and the pending state
/// to give to [`finish`]. Sends `response_type=code`, the scopes, a fresh random `state` (32
/// bytes), a PKCE S256 challenge of a fresh random verifier (32 bytes), `redirect_uri` exactly as
/// given, and the configured extra parameters.
pub fn start(cfg: &OAuthClientConfig, redirect_uri: &str) -> Result<(String, PendingAuth), OAuthError> {
    let client = cfg.client(Some(redirect_uri))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(|| CsrfToken::new_random_len(32))
        .add_scopes(cfg.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge);
    for (k, v) in &cfg.extra_auth_params {
        request = request.add_extra_param(k.as_str(), v.as_str());
    }
    let (url, state) = request.url();
    tracing::debug!(provider = %cfg.provider_id, "OAuth authorization started");
    let pending = PendingAuth {
        provider_id: cfg.provider_id.clone(),
        state: state.secret().clone(),
        redirect_uri: redirect_uri.to_string(),
        created_at: now(),
        verifier: verifier.secret().clone(),
    };
    Ok((url.to_string(), pending))
}

/// `scheme://host:port/path` of a URL: what must match between the redirect URI and the callback.
fn redirect_target(url: &url::Url) -> String {
    let port = url.port_or_known_default().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{}{}", url.scheme(), url.host_str().unwrap_or(""), port, url.path())
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Provider-supplied text for a message: one line, no control characters, at most 200 chars,
/// and none of the given secrets.
fn sanitize(text: &str, secrets: &[&str]) -> String {
    let mut text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "<redacted>");
    }
    let mut out: String = text.trim().chars().take(200).collect();
    if text.trim().chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Ends an authorization: validates `callback_url` (the full URL the browser was redirected to)
/// against `pending`, then exchanges the code for tokens. In order, it rejects a callback
///
/// - whose scheme, host, port or path differ from `pending.redirect_uri` (`localhost` is not
///   `127.0.0.1`): [`OAuthError::RedirectMismatch`];
/// - for a pending authorization older than [`PENDING_TTL_SECS`]: [`OAuthError::Expired`];
/// - whose `state` is missing or differs (constant-time comparison): [`OAuthError::StateMismatch`];
/// - whose `iss` differs from `cfg.issuer`, or lacks `iss` while `cfg.issuer` is set (RFC 9207):
///   [`OAuthError::IssuerMismatch`] / [`OAuthError::MissingIssuer`];
/// - carrying `error=`: [`OAuthError::Provider`];
/// - without a `code`: [`OAuthError::MissingCode`];
/// - with a repeated `code`, `state`, `iss` or `error` parameter: [`OAuthError::InvalidCallback`].
///
/// `finish` does not consume `pending`: the caller must drop it after the first call, whatever
/// the outcome, so a second callback cannot be processed. (Should a code be presented twice
/// anyway, the provider answers `invalid_grant` — and a compliant one revokes the tokens issued
/// for it.)
pub async fn finish(
    cfg: &OAuthClientConfig,
    pending: &PendingAuth,
    callback_url: &str,
) -> Result<OAuthTokens, OAuthError> {
    if pending.provider_id != cfg.provider_id {
        return Err(
            cfg.config_error(format!("the pending sign-in is for {}, not {}", pending.provider_id, cfg.provider_id))
        );
    }
    let code = validate_callback(cfg, pending, callback_url, now())?;
    let client = cfg.client(Some(&pending.redirect_uri))?;
    let http = http_client(cfg)?;
    let result = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&http)
        .await;
    let secrets = [code.as_str(), pending.verifier.as_str(), cfg.client_secret.as_deref().unwrap_or("")];
    let response = result.map_err(|e| token_error(cfg, e, &secrets))?;
    tracing::debug!(provider = %cfg.provider_id, "OAuth authorization code exchanged");
    Ok(tokens_from(&response, None))
}

/// The checks of [`finish`] before any network access; returns the authorization code.
fn validate_callback(
    cfg: &OAuthClientConfig,
    pending: &PendingAuth,
    callback_url: &str,
    now: i64,
) -> Result<String, OAuthError> {
    let callback = url::Url::parse(callback_url.trim())
        .map_err(|e| OAuthError::InvalidCallback(format!("the callback is not a URL ({e})")))?;
    let expected = url::Url::parse(&pending.redirect_uri)
        .map_err(|e| OAuthError::InvalidCallback(format!("the pending redirect URI is not a URL ({e})")))?;
    let (expected, got) = (redirect_target(&expected), redirect_target(&callback));
    if expected != got {
        return Err(OAuthError::RedirectMismatch { expected, got });
    }
    if now - pending.created_at > PENDING_TTL_SECS {
        return Err(OAuthError::Expired);
    }

    let pairs: Vec<(String, String)> = callback.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let single = |name: &str| -> Result<Option<String>, OAuthError> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::InvalidCallback(format!("the `{name}` parameter appears more than once")));
        }
        Ok(first)
    };

    let state = single("state")?;
    if !state.is_some_and(|s| constant_time_eq(&s, &pending.state)) {
        return Err(OAuthError::StateMismatch);
    }

    let iss = single("iss")?;
    match (&cfg.issuer, iss) {
        (Some(expected), Some(got)) if got != *expected => {
            return Err(OAuthError::IssuerMismatch { expected: expected.clone(), got: sanitize(&got, &[]) })
        }
        (Some(expected), None) => return Err(OAuthError::MissingIssuer { expected: expected.clone() }),
        _ => {}
    }

    let code = single("code")?;
    if let Some(error) = single("error")? {
        let secrets = [code.as_deref().unwrap_or(""), pending.verifier.as_str()];
        let description = single("error_description")?.map(|d| sanitize(&d, &secrets));
        return Err(OAuthError::Provider {
            provider: cfg.provider_id.clone(),
            error: sanitize(&error, &secrets),
            description,
        });
    }
    code.filter(|c| !c.is_empty()).ok_or(OAuthError::MissingCode)
}

/// Exchanges `refresh_token` for a new access token. [`OAuthError::InvalidGrant`] means the
/// grant is gone (revoked, expired, or a rotated token was replayed — a compliant provider then
/// revokes the whole token family): mark the connection "needs reconnect".
///
/// The returned `refresh_token` is always `Some`: the rotated token when the provider issued
/// one, otherwise `refresh_token` itself.
pub async fn refresh(cfg: &OAuthClientConfig, refresh_token: &str) -> Result<OAuthTokens, OAuthError> {
    let client = cfg.client(None)?;
    let http = http_client(cfg)?;
    let token = RefreshToken::new(refresh_token.to_string());
    let result = client.exchange_refresh_token(&token).request_async(&http).await;
    let secrets = [refresh_token, cfg.client_secret.as_deref().unwrap_or("")];
    let response = result.map_err(|e| token_error(cfg, e, &secrets))?;
    tracing::debug!(provider = %cfg.provider_id, rotated = response.refresh_token().is_some(), "OAuth token refreshed");
    Ok(tokens_from(&response, Some(refresh_token)))
}

fn tokens_from(response: &AreaTokenResponse, previous_refresh: Option<&str>) -> OAuthTokens {
    let scope = response.scopes().map(|scopes| scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
    OAuthTokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response
            .refresh_token()
            .map(|t| t.secret().clone())
            .or_else(|| previous_refresh.map(str::to_string)),
        expires_at: response.expires_in().map(|d| now().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        scope: scope.filter(|s| !s.is_empty()),
        id_token: response.extra_fields().id_token.clone(),
    }
}

/// The client for token requests: no redirects (the `oauth2` crate's requirement), bounded time.
fn http_client(cfg: &OAuthClientConfig) -> Result<reqwest::Client, OAuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("area/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OAuthError::Network { provider: cfg.provider_id.clone(), reason: e.to_string() })
}

type TokenRequestError = RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>;

fn token_error(cfg: &OAuthClientConfig, error: TokenRequestError, secrets: &[&str]) -> OAuthError {
    let provider = cfg.provider_id.clone();
    let from_response = |response: &BasicErrorResponse| {
        let description = response.error_description().map(|d| sanitize(d, secrets));
        match response.error() {
            BasicErrorResponseType::InvalidGrant => {
                OAuthError::InvalidGrant { provider: provider.clone(), description }
            }
            other => OAuthError::TokenEndpoint {
                provider: provider.clone(),
                error: sanitize(other.as_ref(), secrets),
                description,
            },
        }
    };
    match error {
        RequestTokenError::ServerResponse(response) => from_response(&response),
        // Some providers (GitHub) answer errors with a 200 status: the body is then an error
        // response that failed to parse as a token response.
        RequestTokenError::Parse(_, body) => match serde_json::from_slice::<BasicErrorResponse>(&body) {
            Ok(response) => from_response(&response),
            Err(_) => OAuthError::InvalidResponse { provider, reason: "not a token response".into() },
        },
        RequestTokenError::Request(e) => {
            let reason = match e {
                oauth2::HttpClientError::Reqwest(e) => sanitize(&e.without_url().to_string(), secrets),
                other => sanitize(&other.to_string(), secrets),
            };
            OAuthError::Network { provider, reason }
        }
        RequestTokenError::Other(reason) => {
            OAuthError::InvalidResponse { provider, reason: sanitize(&reason, secrets) }
        }
    }
}

/// A one-shot HTTP listener on the loopback interface with an OS-chosen port that catches the
/// provider's redirect (RFC 8252 §7.3). It listens on `127.0.0.1` and, when the machine has IPv6,
/// on `[::1]` at the same port, because a browser may resolve a `localhost` redirect to either.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    /// `[::1]` at the same port, when it could be bound.
    v6: Option<TcpListener>,
    port: u16,
}

const CALLBACK_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Area</title></head>\
<body style=\"font-family:sans-serif;margin:4em\"><h1>Area received the response</h1>\
<p>You can close this tab and return to Area.</p></body></html>";

impl LoopbackListener {
    /// Listens on `127.0.0.1:0`.
    pub async fn bind() -> Result<Self, OAuthError> {
        Self::bind_port(0).await
    }

    /// Listens on `127.0.0.1:<port>`, for providers that compare the redirect URI exactly,
    /// port included (X); 0 lets the OS choose.
    pub async fn bind_port(port: u16) -> Result<Self, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| OAuthError::Listener(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let port = listener.local_addr().map_err(|e| OAuthError::Listener(e.to_string()))?.port();
        // Best effort: without IPv6 (or with the port taken there), `localhost` reaches 127.0.0.1.
        let v6 = TcpListener::bind(("::1", port)).await.ok();
        Ok(LoopbackListener { listener, v6, port })
    }

    /// The port the listener got.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/callback`: give it to [`start`].
    pub fn redirect_uri(&self) -> String {
        self.redirect_uri_for(LoopbackHost::Ip)
    }

    /// `http://<host>:<port>/callback` for a provider that wants `host` (see [`LoopbackHost`]).
    pub fn redirect_uri_for(&self, host: LoopbackHost) -> String {
        format!("http://{}:{}{CALLBACK_PATH}", host.as_str(), self.port)
    }

    /// Waits for the one `GET /callback…` request that carries `pending`'s `state`, answers it
    /// with a small "you can close this tab" page and returns the full callback URL for
    /// [`finish`]. A callback with a missing, repeated or wrong `state` (another sign-in, or a
    /// forged request from another local program) gets an error page and the wait goes on, so it
    /// cannot use up the listener; other paths (`/favicon.ico`) get a 404. The listener is closed
    /// when this returns, whatever the outcome; after `timeout` it gives up with
    /// [`OAuthError::Timeout`]. The returned future owns what it needs, so it can be spawned.
    pub fn wait(
        self,
        pending: &PendingAuth,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<String, OAuthError>> + Send + 'static {
        let expected: Arc<str> = pending.state.as_str().into();
        // The callback as the browser reached it: the redirect's origin (its host may be
        // `localhost`) with the request's target.
        let origin = pending
            .redirect_uri
            .strip_suffix(CALLBACK_PATH)
            .map(str::to_string)
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.port));
        async move {
            let (tx, mut rx) = mpsc::channel::<String>(1);
            let taken = Arc::new(AtomicBool::new(false));
            let mut connections = JoinSet::new();
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => return Err(OAuthError::Timeout { secs: timeout.as_secs().max(1) }),
                    Some(target) = rx.recv() => {
                        return Ok(format!("{origin}{target}"));
                    }
                    accepted = accept_either(&self.listener, self.v6.as_ref()) => match accepted {
                        // Bounded: a local program opening connections in a loop costs nothing more.
                        Ok(_) if connections.len() >= MAX_LOOPBACK_CONNECTIONS => {}
                        Ok((stream, _)) => {
                            connections.spawn(serve_one(stream, tx.clone(), taken.clone(), expected.clone()));
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "OAuth loopback accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        }
    }
}

/// The next connection on either listener.
async fn accept_either(
    v4: &TcpListener,
    v6: Option<&TcpListener>,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match v6 {
        Some(v6) => tokio::select! {
            accepted = v4.accept() => accepted,
            accepted = v6.accept() => accepted,
        },
        None => v4.accept().await,
    }
}

/// Connections the loopback listener serves at once; more are closed unanswered.
const MAX_LOOPBACK_CONNECTIONS: usize = 32;

const WRONG_STATE_PAGE: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Area</title></head>\
<body style=\"font-family:sans-serif;margin:4em\"><h1>This response does not belong to the sign-in in progress</h1>\
<p>Area is still waiting for the provider's answer. If you did not start this, ignore it.</p></body></html>";

/// True when the request target's query has exactly one `state`, equal to `expected`.
fn carries_state(target: &str, expected: &str) -> bool {
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
        return false;
    };
    let mut states = url.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v);
    match (states.next(), states.next()) {
        (Some(state), None) => constant_time_eq(&state, expected),
        _ => false,
    }
}

/// Reads one request head (bounded in size and time) and answers it.
async fn serve_one(mut stream: TcpStream, tx: mpsc::Sender<String>, taken: Arc<AtomicBool>, expected: Arc<str>) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    let is_callback = method == "GET" && target.starts_with('/') && path == CALLBACK_PATH;
    if !is_callback {
        let _ = respond(&mut stream, "404 Not Found", "Not found").await;
    } else if !carries_state(target, &expected) {
        tracing::warn!("OAuth loopback: ignored a callback whose state does not match the sign-in in progress");
        let _ = respond(&mut stream, "400 Bad Request", WRONG_STATE_PAGE).await;
    } else if taken.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
        let _ = respond(&mut stream, "200 OK", CALLBACK_PAGE).await;
        let _ = tx.send(target.to_string()).await;
    } else {
        let _ = respond(&mut stream, "404 Not Found", "Not found").await;
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    const CODE: &str = "SECRET-CODE-1234";

    fn cfg() -> OAuthClientConfig {
        OAuthClientConfig {
            provider_id: "example".into(),
            client_id: "client-1".into(),
            client_secret: None,
            auth_url: "https://auth.example.test/authorize".into(),
            // Nothing listens on port 9: a check that wrongly passes ends in a network error.
            token_url: "http://127.0.0.1:9/token".into(),
            scopes: vec!["read".into(), "write".into()],
            extra_auth_params: vec![("access_type".into(), "offline".into())],
            issuer: None,
            loopback_host: LoopbackHost::Ip,
        }
    }

    fn pending(redirect: &str) -> PendingAuth {
        PendingAuth {
            provider_id: "example".into(),
            state: "the-state".into(),
            redirect_uri: redirect.into(),
            created_at: now(),
            verifier: "v".repeat(43),
        }
    }

    fn check(cfg: &OAuthClientConfig, pending: &PendingAuth, callback: &str) -> Result<String, OAuthError> {
        let result = validate_callback(cfg, pending, callback, now());
        if let Err(e) = &result {
            let message = e.to_string();
            assert!(!message.contains(CODE) && !message.contains(&pending.verifier), "secret in message: {message}");
        }
        result
    }

    const REDIRECT: &str = "http://127.0.0.1:4242/callback";

    /// RFC 4648 §5 without padding, written out so the PKCE check does not trust the crate.
    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn start_builds_a_pkce_s256_url_with_state() {
        let (url, pending) = start(&cfg(), REDIRECT).unwrap();
        let url = url::Url::parse(&url).unwrap();
        assert_eq!(redirect_target(&url), "https://auth.example.test:443/authorize");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client-1");
        assert_eq!(q["redirect_uri"], REDIRECT);
        assert_eq!(q["scope"], "read write");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["state"], pending.state);
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(!q.contains_key("code_verifier"));
        let expected = base64url(&Sha256::digest(pending.verifier.as_bytes()));
        assert_eq!(q["code_challenge"], expected);
        assert!(pending.verifier.len() >= 43 && pending.state.len() >= 43);
        assert_eq!(pending.redirect_uri, REDIRECT);
        assert!((now() - pending.created_at).abs() <= 2);
        assert!(!format!("{pending:?}").contains(&pending.verifier));
        // Every start is fresh.
        let (_, again) = start(&cfg(), REDIRECT).unwrap();
        assert_ne!(again.state, pending.state);
        assert_ne!(again.verifier, pending.verifier);
    }

    #[test]
    fn start_rejects_unsafe_configuration() {
        let mut c = cfg();
        c.extra_auth_params.push(("state".into(), "fixed".into()));
        assert!(matches!(start(&c, REDIRECT), Err(OAuthError::Config { .. })));
        let mut c = cfg();
        c.token_url = "http://tokens.example.test/token".into();
        assert!(matches!(start(&c, REDIRECT), Err(OAuthError::Config { .. })));
        let mut c = cfg();
        c.auth_url = "not a url".into();
        assert!(matches!(start(&c, REDIRECT), Err(OAuthError::Config { .. })));
    }

    #[test]
    fn a_matching_callback_yields_the_code() {
        let p = pending(REDIRECT);
        let code = check(&cfg(), &p, &format!("{REDIRECT}?code={CODE}&state=the-state")).unwrap();
        assert_eq!(code, CODE);
    }

    #[test]
    fn state_mismatch_or_missing_state_is_rejected() {
        let p = pending(REDIRECT);
        for url in [
            format!("{REDIRECT}?code={CODE}&state=other-state"),
            format!("{REDIRECT}?code={CODE}&state=the-stat"),
            format!("{REDIRECT}?code={CODE}&state="),
            format!("{REDIRECT}?code={CODE}"),
        ] {
            assert!(matches!(check(&cfg(), &p, &url), Err(OAuthError::StateMismatch)), "{url}");
        }
        let twice = format!("{REDIRECT}?code={CODE}&state=the-state&state=the-state");
        assert!(matches!(check(&cfg(), &p, &twice), Err(OAuthError::InvalidCallback(_))));
    }

    #[test]
    fn callback_to_another_address_is_rejected() {
        let p = pending(REDIRECT);
        for url in [
            "http://localhost:4242/callback",
            "http://127.0.0.1:4243/callback",
            "http://127.0.0.1/callback",
            "https://127.0.0.1:4242/callback",
            "http://127.0.0.1:4242/callback/x",
            "http://127.0.0.2:4242/callback",
            "area://oauth/callback",
        ] {
            let url = format!("{url}?code={CODE}&state=the-state");
            match check(&cfg(), &p, &url) {
                Err(OAuthError::RedirectMismatch { expected, got }) => {
                    assert_eq!(expected, "http://127.0.0.1:4242/callback");
                    assert!(!got.contains(CODE));
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let err =
            check(&cfg(), &p, &format!("http://localhost:4242/callback?code={CODE}&state=the-state")).unwrap_err();
        assert!(err.to_string().contains("localhost and 127.0.0.1"), "{err}");
        // A deep link works the same way.
        let deep = pending("area://oauth/callback");
        assert_eq!(check(&cfg(), &deep, &format!("area://oauth/callback?code={CODE}&state=the-state")).unwrap(), CODE);
        assert!(check(&cfg(), &deep, &format!("area://oauth/other?code={CODE}&state=the-state")).is_err());
        assert!(matches!(check(&cfg(), &p, "not a url"), Err(OAuthError::InvalidCallback(_))));
    }

    #[test]
    fn provider_error_is_reported_clearly() {
        let p = pending(REDIRECT);
        let url = format!("{REDIRECT}?error=access_denied&error_description=The+user+said+no%0A&state=the-state");
        let err = check(&cfg(), &p, &url).unwrap_err();
        assert!(matches!(&err, OAuthError::Provider { error, .. } if error == "access_denied"), "{err:?}");
        assert_eq!(err.to_string(), "example refused the authorization: access_denied (The user said no)");
        // An error with a forged state is a state mismatch, not a message from the provider.
        let forged = format!("{REDIRECT}?error=access_denied&state=forged");
        assert!(matches!(check(&cfg(), &p, &forged), Err(OAuthError::StateMismatch)));
        // A description echoing the code does not leak it.
        let echo =
            format!("{REDIRECT}?error=invalid_request&error_description=bad+code+{CODE}&code={CODE}&state=the-state");
        assert!(matches!(check(&cfg(), &p, &echo), Err(OAuthError::Provider { .. })));
    }

    #[test]
    fn missing_code_is_rejected() {
        let p = pending(REDIRECT);
        for url in [format!("{REDIRECT}?state=the-state"), format!("{REDIRECT}?state=the-state&code=")] {
            assert!(matches!(check(&cfg(), &p, &url), Err(OAuthError::MissingCode)), "{url}");
        }
    }

    #[test]
    fn issuer_is_checked_when_configured() {
        let p = pending(REDIRECT);
        let mut c = cfg();
        c.issuer = Some("https://auth.example.test".into());
        let ok = format!("{REDIRECT}?code={CODE}&state=the-state&iss=https%3A%2F%2Fauth.example.test");
        assert_eq!(check(&c, &p, &ok).unwrap(), CODE);
        let evil = format!("{REDIRECT}?code={CODE}&state=the-state&iss=https%3A%2F%2Fevil.example.test");
        assert!(matches!(check(&c, &p, &evil), Err(OAuthError::IssuerMismatch { .. })));
        let none = format!("{REDIRECT}?code={CODE}&state=the-state");
        assert!(matches!(check(&c, &p, &none), Err(OAuthError::MissingIssuer { .. })));
        // Without a configured issuer an `iss` cannot be checked and is accepted.
        assert_eq!(check(&cfg(), &p, &evil).unwrap(), CODE);
    }

    #[test]
    fn expired_pending_is_rejected() {
        let mut p = pending(REDIRECT);
        p.created_at = now() - PENDING_TTL_SECS - 1;
        let url = format!("{REDIRECT}?code={CODE}&state=the-state");
        assert!(matches!(check(&cfg(), &p, &url), Err(OAuthError::Expired)));
        p.created_at = now() - PENDING_TTL_SECS + 5;
        assert_eq!(check(&cfg(), &p, &url).unwrap(), CODE);
    }

    #[tokio::test]
    async fn finish_validates_before_any_request() {
        let (_, p) = start(&cfg(), REDIRECT).unwrap();
        let err = finish(&cfg(), &p, &format!("{REDIRECT}?code={CODE}&state=wrong")).await.unwrap_err();
        assert!(matches!(err, OAuthError::StateMismatch));
        // A valid callback reaches the (closed) token endpoint: a network error naming no secret.
        let url = format!("{REDIRECT}?code={CODE}&state={}", p.state);
        let err = finish(&cfg(), &p, &url).await.unwrap_err();
        assert!(matches!(err, OAuthError::Network { .. }), "{err:?}");
        assert!(!err.to_string().contains(CODE));
        let mut other = cfg();
        other.provider_id = "other".into();
        assert!(matches!(finish(&other, &p, &url).await, Err(OAuthError::Config { .. })));
    }

    #[test]
    fn tokens_and_config_debug_redact_secrets() {
        let tokens = OAuthTokens {
            access_token: "AT-secret".into(),
            refresh_token: Some("RT-secret".into()),
            expires_at: Some(1),
            scope: Some("read".into()),
            id_token: Some("ID-secret".into()),
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("secret") && shown.contains("read"), "{shown}");
        let mut c = cfg();
        c.client_secret = Some("CS-secret".into());
        assert!(!format!("{c:?}").contains("CS-secret"));
    }

    #[test]
    fn sanitize_strips_controls_truncates_and_redacts() {
        assert_eq!(sanitize("a\nb\u{7}c", &[]), "a b c");
        assert_eq!(sanitize(&"x".repeat(300), &[]).chars().count(), 201);
        assert_eq!(sanitize("code abcd1234 bad", &["abcd1234"]), "code <redacted> bad");
    }

    #[test]
    fn the_account_is_read_from_the_id_token() {
        use base64::Engine;
        let jwt = |claims: &str| {
            let part = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!("{}.{}.sig", part(r#"{"alg":"RS256"}"#), part(claims))
        };
        let tokens = |id_token: Option<String>| OAuthTokens {
            access_token: "a".into(),
            refresh_token: None,
            expires_at: None,
            scope: None,
            id_token,
        };
        let both = jwt(r#"{"email":"ada@outlook.com","preferred_username":"ada@contoso.com"}"#);
        assert_eq!(tokens(Some(both)).account().as_deref(), Some("ada@outlook.com"));
        let upn = jwt(r#"{"preferred_username":"ada@contoso.com"}"#);
        assert_eq!(tokens(Some(upn)).account().as_deref(), Some("ada@contoso.com"));
        assert_eq!(tokens(Some(jwt(r#"{"email":"a\r\nb"}"#))).account(), None);
        let field_separator = jwt(r#"{"email":"ada@outlook.com\u0001auth=Bearer x"}"#);
        assert_eq!(tokens(Some(field_separator)).account(), None);
        assert_eq!(tokens(Some("not a jwt".into())).account(), None);
        assert_eq!(tokens(None).account(), None);
    }

    #[test]
    fn from_settings_reads_the_provider_variables() {
        let provider = |id: &'static str| OAuthProvider {
            id,
            auth_url: "https://auth.example.test/authorize",
            token_url: "https://auth.example.test/token",
            scopes: vec!["read"],
            extra_auth_params: vec!["access_type=offline", "prompt=consent"],
            loopback_host: LoopbackHost::Ip,
        };
        let err =
            OAuthClientConfig::from_settings(&Settings::empty(), &provider("oauth-unit-missing"), vec![]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("AREA_OAUTH_UNIT_MISSING_CLIENT_ID"), "{message}");
        assert!(message.contains("AREA_OAUTH_UNIT_MISSING_CLIENT_SECRET"), "{message}");
        assert!(message.contains("http://127.0.0.1/callback"), "{message}");

        let settings = Settings::from_pairs([
            ("AREA_OAUTH_UNIT_SET_CLIENT_ID", "id-1"),
            ("AREA_OAUTH_UNIT_SET_CLIENT_SECRET", " "),
            ("AREA_OAUTH_UNIT_SET_TOKEN_URL", "http://127.0.0.1:1234/token"),
            ("AREA_OAUTH_UNIT_SET_ISSUER", "http://127.0.0.1:1234"),
        ]);
        let c = OAuthClientConfig::from_settings(&settings, &provider("oauth-unit-set"), vec!["read".into()]).unwrap();
        assert_eq!(c.provider_id, "oauth-unit-set");
        assert_eq!(c.client_id, "id-1");
        assert_eq!(c.client_secret, None);
        assert_eq!(c.auth_url, "https://auth.example.test/authorize");
        assert_eq!(c.token_url, "http://127.0.0.1:1234/token");
        assert_eq!(c.issuer.as_deref(), Some("http://127.0.0.1:1234"));
        assert_eq!(c.scopes, vec!["read".to_string()]);
        assert_eq!(
            c.extra_auth_params,
            vec![("access_type".into(), "offline".into()), ("prompt".into(), "consent".into())]
        );
    }

    async fn get(url: &str) -> Result<(u16, String), reqwest::Error> {
        let response = reqwest::Client::new().get(url).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    #[tokio::test]
    async fn loopback_listener_serves_exactly_one_callback() {
        let listener = LoopbackListener::bind().await.unwrap();
        let redirect = listener.redirect_uri();
        assert_eq!(redirect, format!("http://127.0.0.1:{}/callback", listener.port()));
        let port = listener.port();
        let mut pending = pending(&redirect);
        pending.state = "s t".into();
        let waiting = tokio::spawn(listener.wait(&pending, Duration::from_secs(10)));

        let (status, _) = get(&format!("http://127.0.0.1:{port}/favicon.ico")).await.unwrap();
        assert_eq!(status, 404);
        let (status, _) = get(&format!("http://127.0.0.1:{port}/callbackx?code=1")).await.unwrap();
        assert_eq!(status, 404);
        let (status, body) = get(&format!("{redirect}?code=abc&state=s%20t")).await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("close this tab"));
        let url = waiting.await.unwrap().unwrap();
        assert_eq!(url, format!("{redirect}?code=abc&state=s%20t"));
        // Closed after the one callback.
        assert!(get(&format!("{redirect}?code=again")).await.is_err());
    }

    /// Issue 10 item 7: a forged callback (wrong or missing `state`) used to consume the one-shot
    /// listener, so the real redirect then failed. It now gets an error page and the wait goes on.
    #[tokio::test]
    async fn loopback_listener_ignores_wrong_state_and_waits_for_the_right_one() {
        let listener = LoopbackListener::bind().await.unwrap();
        let redirect = listener.redirect_uri();
        let pending = pending(&redirect);
        let waiting = tokio::spawn(listener.wait(&pending, Duration::from_secs(10)));

        for forged in [
            format!("{redirect}?code=evil&state=attacker-state"),
            format!("{redirect}?code=evil"),
            format!("{redirect}?code=evil&state=the-state&state=the-state"),
        ] {
            let (status, body) = get(&forged).await.unwrap();
            assert_eq!(status, 400, "{forged}");
            assert!(body.contains("does not belong"), "{body}");
            assert!(!waiting.is_finished(), "a forged callback ended the wait: {forged}");
        }
        let (status, _) = get(&redirect.replace("/callback", "/favicon.ico")).await.unwrap();
        assert_eq!(status, 404);

        let real = format!("{redirect}?code=abc&state=the-state");
        let (status, body) = get(&real).await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("close this tab"));
        assert_eq!(waiting.await.unwrap().unwrap(), real);
    }

    #[tokio::test]
    async fn loopback_listener_times_out() {
        let listener = LoopbackListener::bind().await.unwrap();
        let err = listener.wait(&pending(REDIRECT), Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, OAuthError::Timeout { .. }));
    }

    #[tokio::test]
    async fn loopback_listener_survives_a_silent_connection() {
        let listener = LoopbackListener::bind().await.unwrap();
        let redirect = listener.redirect_uri();
        let port = listener.port();
        let waiting = tokio::spawn(listener.wait(&pending(&redirect), Duration::from_secs(10)));
        // A connection that never sends anything must not block the real callback.
        let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (status, _) = get(&format!("{redirect}?code=abc&state=the-state")).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(waiting.await.unwrap().unwrap(), format!("{redirect}?code=abc&state=the-state"));
    }
}
