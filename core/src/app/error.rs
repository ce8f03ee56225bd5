//! The one error type every app command returns: a code the UI can branch on, a message it can
//! show as is, and — for invalid input — the field of the area form the message belongs to.

use serde::{Deserialize, Serialize};

use crate::accounts::AccountError;
use crate::areas::AreaError;
use crate::connections::ConnectionError;
use crate::engine::EngineError;
use crate::oauth::OAuthError;
use crate::signin::SignInError;
use crate::store::StoreError;

/// What went wrong, for a UI: `code` to branch on, `message` to show, `field` to place it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// `invalid`, `auth`, `not_found`, `conflict`, `connection`, `oauth`, `engine`, `internal`.
    pub code: String,
    /// One line, safe to show, saying what to do.
    pub message: String,
    /// For `invalid`: the JSON path into the area form (`name`, `action.params.url`,
    /// `reactions[0].params.body`, `condition`), so the UI shows the message on that field.
    pub field: Option<String>,
}

impl ApiError {
    /// An error without a field.
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { code: code.into(), message: message.into(), field: None }
    }

    /// Invalid input on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError { code: "invalid".into(), message: message.into(), field: Some(field.into()) }
    }

    /// The user must sign in (again).
    pub fn not_signed_in() -> ApiError {
        ApiError::new("auth", "you are not signed in: sign in again")
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
            AccountError::InvalidEmail(_) | AccountError::PasswordTooShort | AccountError::PasswordTooLong => "invalid",
            AccountError::DuplicateEmail(_) | AccountError::IdentityTaken { .. } => "conflict",
            AccountError::InvalidCredentials
            | AccountError::Throttled { .. }
            | AccountError::NotLoggedIn
            | AccountError::SessionExpired
            | AccountError::NoSuchUser(_) => "auth",
            AccountError::Hash(_) | AccountError::Store(_) => "internal",
        };
        let field = match &e {
            AccountError::InvalidEmail(_) | AccountError::DuplicateEmail(_) => Some("email".to_string()),
            AccountError::PasswordTooShort | AccountError::PasswordTooLong => Some("password".to_string()),
            _ => None,
        };
        let message = match &e {
            AccountError::NotLoggedIn => "you are not signed in: sign in again".to_string(),
            AccountError::SessionExpired => "your session has expired: sign in again".to_string(),
            _ => e.to_string(),
        };
        ApiError { code: code.into(), message, field }
    }
}

impl From<AreaError> for ApiError {
    fn from(e: AreaError) -> Self {
        match e {
            AreaError::Invalid { field, message } => ApiError::invalid(field, message),
            AreaError::NotFound(id) => ApiError::new("not_found", format!("area {id} does not exist (any more)")),
            AreaError::NotOwner => ApiError::new("not_found", "this area belongs to another user"),
            other => ApiError::new("internal", other.to_string()),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        let code = match &e {
            ConnectionError::UnknownService(_) => "not_found",
            ConnectionError::EmptySecret => "invalid",
            ConnectionError::OAuth(_) => "oauth",
            ConnectionError::NoAuthNeeded(_) | ConnectionError::NotConnected(_) | ConnectionError::Crypto(_) => {
                "connection"
            }
            ConnectionError::Store(_) => "internal",
        };
        let mut error = ApiError::new(code, for_app(e.to_string()));
        if code == "invalid" {
            error.field = Some("token".into());
        }
        error
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError::new("oauth", e.to_string())
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Account(e) => e.into(),
            SignInError::EmailTaken(email) => ApiError::new(
                "conflict",
                format!(
                    "an Area account for {email} already exists: sign in with its password first, then link the \
                     provider from the Services page"
                ),
            ),
            other => ApiError::new("oauth", other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new("internal", e.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError::new("engine", e.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::new("internal", format!("database error: {e}"))
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
    fn area_validation_keeps_its_field() {
        let e: ApiError = AreaError::invalid("reactions[0].params.url", "expected a URL").into();
        assert_eq!(e.code, "invalid");
        assert_eq!(e.field.as_deref(), Some("reactions[0].params.url"));
        assert_eq!(e.message, "expected a URL");
    }
}
