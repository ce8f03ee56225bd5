//! Checking a token when it is connected: the service's [`AccountCheck`] call, sent through the
//! shared client with the token bound to the service's hosts. A refused token is refused at
//! once, in words, with nothing saved; a good one comes back with the account it belongs to.

use crate::catalog::{Catalog, ServiceManifest};
use crate::connector::{AccountCheck, ConnectorError, Credential};
use crate::net::HttpClient;

use super::error::{ApiError, ErrorCode};

/// What checking a token learned.
pub(super) struct Checked {
    /// The account it belongs to.
    pub account: String,
    /// The limit of the service's quota the account's plan has, if the answer said it.
    pub plan_limit: Option<u64>,
}

/// The account `credential` belongs to, per `check`; an error (nothing to save) when the
/// service refuses the token or cannot be asked.
pub(super) async fn account_of(
    catalog: &Catalog,
    http: &HttpClient,
    manifest: &ServiceManifest,
    check: &dyn AccountCheck,
    credential: &Credential,
) -> Result<Checked, ApiError> {
    let name = manifest.name;
    let unchecked = |why: String| {
        ApiError::new(
            ErrorCode::Connection,
            format!("Could not check the token with {name}: {why}. Nothing was saved; try again."),
        )
    };
    let request = check.request(credential).map_err(|e| unchecked(e.to_string()))?;
    let (http, options) = catalog.connection_client(http, manifest, credential);
    let response =
        http.send(&request, &options).await.map_err(|e| unchecked(format!("{name} could not be reached ({e})")))?;
    match response.status {
        200..=299 => {
            let account = check.account(&response).map_err(|e| match e {
                ConnectorError::BadResponse { message, .. } => {
                    unchecked(format!("its answer was not what its documentation says ({message})"))
                }
                other => unchecked(other.to_string()),
            })?;
            Ok(Checked { account, plan_limit: check.plan_limit(&response) })
        }
        401 => Err(ApiError::invalid(
            "token",
            format!(
                "{name} refused this token (HTTP 401). Copy the whole token again, or create a new one, then connect."
            ),
        )),
        status => Err(unchecked(format!(
            "{name} answered HTTP {status}{}",
            if status == 403 { ", which may mean the token lacks a permission" } else { "" }
        ))),
    }
}
