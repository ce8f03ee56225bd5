//! The one error type every app command returns: a code the UI can branch on, a message it can
//! show as is, and — for invalid input — the field of the area form the message belongs to.
//!
//! The message is worded for a window (a fix is a button: "connect github again on the Services
//! page"); where a terminal needs other words (a fix is a command: "run `area connect github`"),
//! the error also carries those, for the `area` command ([`ApiError::cli_text`]).

use serde::{Deserialize, Serialize};

use crate::accounts::AccountError;
use crate::areas::AreaError;
use crate::connections::ConnectionError;
use crate::engine::EngineError;
use crate::oauth::OAuthError;
use crate::signin::SignInError;
use crate::store::StoreError;

/// What kind of failure an [`ApiError`] is: what a shell branches on (never the message text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Input that cannot be used; `field` names it (a form path, `email`, `password`, `token`…).
    Invalid,
    /// Not signed in, the session ended, or wrong credentials: sign in (again).
    Auth,
    /// The area, run or service asked for does not exist (for this user).
    NotFound,
    /// Refused because of the current state: the email is taken, the run cannot be re-run.
    Conflict,
    /// Signed in, but not allowed: sign-up is closed, an invitation is missing, the request
    /// lacks its CSRF token, or only the administrator may do this.
    Forbidden,
    /// Too many attempts (sign-in guesses): wait, then try again; the message says how long.
    Throttled,
    /// A service connection is missing or its stored credentials cannot be used.
    Connection,
    /// The browser authorization (OAuth2) failed, or a link did not belong to it.
    Oauth,
    /// The browser authorization was cancelled (by the user, or by a newer one).
    Cancelled,
    /// The engine could not start or run.
    Engine,
    /// A file to import holds secret placeholders; `field` lists their paths, comma-separated.
    SecretsNeeded,
    /// A setting (environment or `area.conf`) cannot be used; the message names it.
    Settings,
    /// Anything else (storage, encoding): not the user's doing.
    Internal,
}

impl ErrorCode {
    /// The code as serialized (`not_found`), for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::Auth => "auth",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Throttled => "throttled",
            ErrorCode::Connection => "connection",
            ErrorCode::Oauth => "oauth",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Engine => "engine",
            ErrorCode::SecretsNeeded => "secrets_needed",
            ErrorCode::Settings => "settings",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the serialized name (`code == "auth"`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What went wrong, for a UI: `code` to branch on, `message` to show, `field` to place it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure: branch on this, never on the message.
    pub code: ErrorCode,
    /// One line, safe to show, saying what to do.
    pub message: String,
    /// For `invalid`: the JSON path into the area form (`name`, `action.params.url`,
    /// `reactions[0].params.body`, `condition`) or the other input (`email`, `token`), so the UI
    /// shows the message on that field; for `secrets_needed`, the paths of the secrets needed.
    pub field: Option<String>,
    /// The same error in the words of the command line, when they differ from `message`.
    #[serde(skip)]
    pub cli: Option<String>,
}

impl ApiError {
    /// An error without a field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), field: None, cli: None }
    }

    /// Invalid input on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError { code: ErrorCode::Invalid, message: message.into(), field: Some(field.into()), cli: None }
    }

    /// The user must sign in (again).
    pub fn not_signed_in() -> ApiError {
        AccountError::NotLoggedIn.into()
    }

    /// A setting (environment or `area.conf`) that cannot be used; the message names it, and
    /// `field` too when it is one setting.
    pub fn settings(e: crate::settings::SettingsError) -> ApiError {
        use crate::settings::SettingsError;
        let field = match &e {
            SettingsError::Flag { key, .. }
            | SettingsError::Url { key, .. }
            | SettingsError::Database { key }
            | SettingsError::Number { key, .. } => Some(key.clone()),
            SettingsError::Config(_) => None,
        };
        ApiError { field, ..ApiError::new(ErrorCode::Settings, e.to_string()) }
    }

    /// This error, worded `text` on the command line.
    pub fn with_cli_text(self, text: impl Into<String>) -> ApiError {
        ApiError { cli: Some(text.into()), ..self }
    }

    /// The message as the `area` command prints it (naming commands rather than buttons).
    pub fn cli_text(&self) -> &str {
        self.cli.as_deref().unwrap_or(&self.message)
    }
}

/// The CLI's messages name commands (`run \`area connect github\``); in the app the same fix is
/// a button, so the hint is reworded rather than pointing at a terminal.
fn for_app(message: String) -> String {
    if let Some(start) = message.find("run `area connect ") {
        let rest = &message[start + "run `area connect ".len()..];
        if let Some(end) = rest.find('`') {
            let service = &rest[..end];
            return format!("{}connect {service} again on the Services page{}", &message[..start], &rest[end + 1..]);
        }
    }
    message
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        let code = match &e {
            AccountError::InvalidEmail(_) | AccountError::PasswordTooShort | AccountError::PasswordTooLong => {
                ErrorCode::Invalid
            }
            AccountError::InvalidTokenName => ErrorCode::Invalid,
            AccountError::DuplicateEmail(_) | AccountError::IdentityTaken { .. } => ErrorCode::Conflict,
            AccountError::NoSuchToken(_) => ErrorCode::NotFound,
            AccountError::Throttled { .. } => ErrorCode::Throttled,
            AccountError::InvalidInvite => ErrorCode::Forbidden,
            AccountError::InvalidCredentials
            | AccountError::NotLoggedIn
            | AccountError::SessionExpired
            | AccountError::NoSuchUser(_) => ErrorCode::Auth,
            AccountError::Hash(_) | AccountError::Store(_) => ErrorCode::Internal,
        };
        let field = match &e {
            AccountError::InvalidEmail(_) | AccountError::DuplicateEmail(_) => Some("email".to_string()),
            AccountError::PasswordTooShort | AccountError::PasswordTooLong => Some("password".to_string()),
            AccountError::InvalidTokenName => Some("name".to_string()),
            AccountError::InvalidInvite => Some("invite".to_string()),
            _ => None,
        };
        let message = match &e {
            AccountError::NotLoggedIn => "you are not signed in: sign in again".to_string(),
            AccountError::SessionExpired => "your session has expired: sign in again".to_string(),
            _ => e.to_string(),
        };
        ApiError { code, message, field, cli: Some(e.to_string()) }
    }
}

impl From<AreaError> for ApiError {
    fn from(e: AreaError) -> Self {
        match e {
            AreaError::Invalid { ref field, ref message } => {
                ApiError::invalid(field.clone(), message.clone()).with_cli_text(e.to_string())
            }
            AreaError::NotFound(id) => {
                ApiError::new(ErrorCode::NotFound, format!("area {id} does not exist (any more)"))
                    .with_cli_text(e.to_string())
            }
            AreaError::NotOwner => ApiError::new(ErrorCode::NotFound, "this area belongs to another user"),
            // The UI asks for each secret named in `field` (paths separated by commas), then
            // imports again with the values (`App::import_areas_with_secrets`).
            AreaError::SecretsNeeded(needed) => ApiError {
                code: ErrorCode::SecretsNeeded,
                message: needed.to_string(),
                field: Some(needed.0.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(",")),
                cli: None,
            },
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        let code = match &e {
            ConnectionError::UnknownService(_) => ErrorCode::NotFound,
            ConnectionError::EmptySecret | ConnectionError::Invalid { .. } => ErrorCode::Invalid,
            ConnectionError::OAuth(_) | ConnectionError::Authorization { .. } => ErrorCode::Oauth,
            ConnectionError::NoAuthNeeded(_)
            | ConnectionError::NotConnected(_)
            | ConnectionError::Crypto(_)
            | ConnectionError::ClientKey(_)
            | ConnectionError::Renewal { .. } => ErrorCode::Connection,
            ConnectionError::Store(_) => ErrorCode::Internal,
        };
        let cli = e.to_string();
        let mut error = ApiError::new(code, for_app(cli.clone()));
        if error.message != cli {
            error.cli = Some(cli);
        }
        if code == ErrorCode::Invalid {
            let field = match &e {
                ConnectionError::Invalid { field, .. } => field,
                _ => "token",
            };
            error.field = Some(field.to_string());
        }
        error
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError::new(ErrorCode::Oauth, e.to_string())
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Account(e) => e.into(),
            SignInError::EmailTaken(email) => ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "an Area account for {email} already exists: sign in with its password first, then link the \
                     provider from the Services page"
                ),
            ),
            other => ApiError::new(ErrorCode::Oauth, other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(ErrorCode::Internal, e.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError::new(ErrorCode::Engine, e.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::new(ErrorCode::Internal, format!("database error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_hints_become_app_hints() {
        let m = for_app("GitHub refused the credentials: run `area connect github`".into());
        assert_eq!(m, "GitHub refused the credentials: connect github again on the Services page");
        assert_eq!(for_app("plain".into()), "plain");
    }

    #[test]
    fn missing_secrets_name_every_field() {
        use crate::areas::secrets::{SecretField, SecretsNeeded};
        let field = |path: &str| SecretField { path: path.into(), name: "x".into() };
        let e: ApiError =
            AreaError::SecretsNeeded(SecretsNeeded(vec![field("[0].reactions[0].params.webhook_url"), field("[1].a")]))
                .into();
        assert_eq!(e.code, "secrets_needed");
        assert_eq!(e.field.as_deref(), Some("[0].reactions[0].params.webhook_url,[1].a"));
        assert!(e.message.contains("[0].reactions[0].params.webhook_url"), "{}", e.message);
    }

    #[test]
    fn area_validation_keeps_its_field() {
        let e: ApiError = AreaError::invalid("reactions[0].params.url", "expected a URL").into();
        assert_eq!(e.code, "invalid");
        assert_eq!(e.field.as_deref(), Some("reactions[0].params.url"));
        assert_eq!(e.message, "expected a URL");
    }
}
