//! Signing in to a shared Area (the server): sessions held by a browser cookie rather than the
//! device's session file, personal access tokens for scripts, invitations, and who administers.
//! The HTTP layer keeps only the transport (cookies, headers); what a token means lives here.

use crate::accounts::{AccessToken, NewAccessToken, Session, User};

use super::{ApiError, App, ErrorCode};

/// Who may create an account on a shared Area. The first account can always be created: it
/// becomes the administrator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SignUp {
    /// Anyone who can reach the server.
    Open,
    /// Whoever holds an unused invitation code from the administrator.
    Invite,
    /// Nobody: the administrator adds accounts (`area user add`).
    Closed,
}

impl std::str::FromStr for SignUp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(SignUp::Open),
            "invite" => Ok(SignUp::Invite),
            "closed" => Ok(SignUp::Closed),
            other => Err(format!("sign-up must be open, invite or closed (not {other:?})")),
        }
    }
}

/// How a new account is let in.
enum Gate<'a> {
    Open,
    /// With this invitation code, spent as the account is created.
    Invited(&'a str),
}

impl App {
    /// Creates an account under the `policy`, without signing it in (the caller opens a session
    /// with [`App::open_session`]). The first account is always allowed.
    pub async fn register(
        &self,
        policy: SignUp,
        email: &str,
        password: &str,
        invite: Option<&str>,
    ) -> Result<User, ApiError> {
        let accounts = &self.inner.accounts;
        match self.sign_up_gate(policy, invite).await? {
            Gate::Open => Ok(accounts.register(email, password).await?),
            Gate::Invited(code) => Ok(accounts.register_invited(email, password, code).await?),
        }
    }

    /// Whether an account may be created under `policy` (spending the invitation when one is
    /// needed): for accounts created by signing in with a provider.
    pub(super) async fn may_sign_up(&self, policy: SignUp, invite: Option<&str>) -> Result<(), ApiError> {
        if let Gate::Invited(code) = self.sign_up_gate(policy, invite).await? {
            self.inner.accounts.claim_invite(code).await?;
        }
        Ok(())
    }

    /// How the `policy` lets a new account in, or why not.
    async fn sign_up_gate<'a>(&self, policy: SignUp, invite: Option<&'a str>) -> Result<Gate<'a>, ApiError> {
        if self.inner.accounts.administrator().await?.is_none() {
            return Ok(Gate::Open);
        }
        match (policy, invite.map(str::trim).filter(|c| !c.is_empty())) {
            (SignUp::Open, _) => Ok(Gate::Open),
            (SignUp::Invite, Some(code)) => Ok(Gate::Invited(code)),
            (SignUp::Invite, None) => Err(ApiError {
                field: Some("invite".into()),
                ..ApiError::new(ErrorCode::Forbidden, "sign-up needs an invitation code: ask the administrator")
            }),
            (SignUp::Closed, _) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "sign-up is closed on this server: ask the administrator for an account",
            )),
        }
    }

    /// Checks the password and opens a session for a client that keeps the token itself (a
    /// cookie), leaving this device's saved session alone.
    pub async fn open_session(&self, email: &str, password: &str) -> Result<Session, ApiError> {
        Ok(self.inner.accounts.login(email, password).await?)
    }

    /// The user a session token (from a cookie) belongs to; an ended one is an `auth` error.
    pub async fn session_owner(&self, token: &str) -> Result<User, ApiError> {
        Ok(self.inner.accounts.authenticate(token).await?)
    }

    /// Ends a session held by a client.
    pub async fn close_session(&self, token: &str) -> Result<(), ApiError> {
        Ok(self.inner.accounts.logout(token).await?)
    }

    /// The user a personal access token belongs to.
    pub async fn access_token_owner(&self, secret: &str) -> Result<User, ApiError> {
        Ok(self.inner.accounts.authenticate_access_token(secret).await?)
    }

    /// Creates a personal access token for the user; its secret is in the answer only.
    pub async fn create_access_token(&self, name: &str) -> Result<NewAccessToken, ApiError> {
        let user = self.user().await?;
        Ok(self.inner.accounts.create_access_token(&user, name).await?)
    }

    /// The user's access tokens (never their secrets).
    pub async fn access_tokens(&self) -> Result<Vec<AccessToken>, ApiError> {
        let user = self.user().await?;
        Ok(self.inner.accounts.access_tokens(&user).await?)
    }

    /// Revokes one of the user's access tokens.
    pub async fn revoke_access_token(&self, id: i64) -> Result<(), ApiError> {
        let user = self.user().await?;
        Ok(self.inner.accounts.revoke_access_token(&user, id).await?)
    }

    /// Whether the user administers this Area (its first account).
    pub async fn is_administrator(&self) -> Result<bool, ApiError> {
        let user = self.user().await?;
        Ok(self.inner.accounts.administrator().await? == Some(user.id))
    }

    /// A single-use invitation code; only the administrator may create one.
    pub async fn create_invite(&self) -> Result<String, ApiError> {
        let user = self.user().await?;
        if !self.is_administrator().await? {
            return Err(ApiError::new(ErrorCode::Forbidden, "only the administrator can invite people"));
        }
        Ok(self.inner.accounts.create_invite(&user).await?)
    }
}
