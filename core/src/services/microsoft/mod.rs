//! Microsoft's services — [`teams`] — and what Microsoft Graph services share: the Microsoft
//! identity platform as OAuth2 provider (provider id `microsoft`, one connection for every
//! Microsoft 365 service, on the `organizations` tenant) and Graph's error bodies.

pub mod teams;

use serde_json::Value;

use crate::services::kit::prelude::*;

/// The Microsoft identity platform with these scopes (work or school accounts: Graph's chat
/// endpoints refuse personal accounts).
pub fn microsoft_provider(scopes: Vec<&'static str>) -> OAuthProvider {
    OAuthProvider {
        id: "microsoft",
        auth_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
        scopes,
        extra_auth_params: vec![],
        loopback_host: LoopbackHost::Localhost,
    }
}

/// The `{"error": {"code", "message"}}` of a Graph (or Logic Apps) error body, as `code: message`.
pub fn graph_error_detail(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error").filter(|e| !e.is_null())?;
    let text = match error {
        Value::Object(o) => {
            let code = o.get("code").and_then(Value::as_str).unwrap_or_default();
            let message = o.get("message").and_then(Value::as_str).unwrap_or_default();
            match (code.is_empty(), message.is_empty()) {
                (true, true) => return None,
                (false, true) => code.to_string(),
                (true, false) => message.to_string(),
                (false, false) => format!("{code}: {message}"),
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(excerpt(&text))
}

/// Parses a 2xx Graph body; an `{"error": …}` body is an error, not data.
pub fn graph_json<T: serde::de::DeserializeOwned>(
    service: &str,
    resource: &str,
    response: &HttpResponseData,
) -> Result<T, ConnectorError> {
    if let Some(detail) = graph_error_detail(&response.body) {
        return Err(ConnectorError::BadResponse {
            service: service.to_string(),
            message: format!("{resource}: an error came back with HTTP {}: {detail}", response.status),
        });
    }
    serde_json::from_slice(&response.body).map_err(|e| ConnectorError::BadResponse {
        service: service.to_string(),
        message: format!("the body is not the documented JSON: {e}"),
    })
}
