//! Areas: a user's automations — parsed from area files, validated against the catalog, stored.
//!
//! - [`spec`]: the area file format (`{ "name", "action", "reactions", "condition"? }`).
//! - [`parse_area_file`]: reads one area or a list, with errors that name the offending field.
//! - [`validate`]: checks an area against the [`Catalog`](crate::catalog::Catalog) *before*
//!   anything is saved: unknown service/action/reaction/parameter, missing or mistyped
//!   parameters, templates naming ingredients the action does not provide, the condition, the
//!   poll interval. Every [`AreaError::Invalid`] carries the JSON path of the field
//!   (`reactions[0].params.url`) so the UI can show it next to that field.
//! - [`summarize`]: an area's reach in plain words (where it reads from, which hosts it sends
//!   to, which connections it uses, whether it asks for the private network), shown before an
//!   imported area runs.
//! - [`Areas::import`]: adds the areas of an untrusted file, switched off unless the user says
//!   otherwise, refusing private-network access the user did not grant.
//! - [`Areas`]: the stored areas of each user (add, list, show, enable/disable, edit, remove,
//!   export), enforcing the engine contract's "baseline on enable" and "editing keeps the cursor
//!   unless the action's parameters change".
//!
//! Decisions:
//! - Timestamps (`created_at`, `updated_at`) are Unix **milliseconds**, like the `runs` table.
//!   Every change made here moves `updated_at` strictly forward (at least +1 ms), because a
//!   running daemon watches it to reload areas.
//! - An area belongs to one user. Another user's area id answers [`AreaError::NotFound`], exactly
//!   like a missing id, so ids of other people's areas are not revealed.
//! - The stored `definition` is the area as written, re-serialised from [`AreaSpec`] (so key order
//!   and whitespace are normalised); `export` returns it with `enabled` set to the area's current
//!   state, so export → add → export yields identical JSON.
//! - Validation is strict about types (`"5"` is not an integer) so that what the engine runs is
//!   exactly what was checked; a JSON `null` for an optional parameter means "absent".
//! - An area is *paused* (by the engine, after repeated failures or lost credentials) when its
//!   `paused_reason` is set; it then stays `enabled` but does not run. Enabling clears the pause.
//!   Why it was paused is kept as a value, [`PauseCause`] (`paused_cause`): connecting again
//!   ends a `credentials` pause, never one the reason's words merely suggest.

mod import;
mod parse;
pub mod quota;
pub mod secrets;
pub mod spec;
mod store;
mod summary;
mod validate;

use std::path::Path;

pub use import::{check_private_network, ImportOptions, ImportedArea};
pub use parse::{parse_area_file, parse_area_value, read_condition, MAX_AREA_FILE_BYTES};
pub use spec::{default_interval_for, default_poll_interval, AreaFile, AreaSpec, StepSpec, DEFAULT_INTERVAL_SECS};
pub use store::{AreaDetail, AreaState, AreaStatus, AreaSummary, Areas, PauseCause, RunCounts, StepRef};
pub use summary::{private_network_fields, summarize, TrustSummary, PRIVATE_NETWORK_PARAM};
pub use validate::{validate, validate_action_params, ValidatedArea, MAX_NAME_CHARS, MAX_REACTIONS};

use crate::store::StoreError;

/// File in the data directory where the daemon writes the address its webhook listener
/// actually bound, so other processes (the CLI's `areas show`) can print working URLs.
pub const WEBHOOK_ADDR_FILE: &str = "webhook.addr";

/// Where the daemon's webhook listener listens unless told otherwise.
pub const DEFAULT_WEBHOOK_LISTEN: &str = "127.0.0.1:8787";

/// Why an area operation failed. Messages are one line, safe to show, and say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AreaError {
    /// The area (or area file) is not valid. `field` is a JSON path into the area file
    /// (`name`, `action.params.minutes`, `reactions[1].params.url`, `[2].reactions` in a list;
    /// empty when the problem is the whole file) so a UI can show `message` on that field.
    #[error("{}", if field.is_empty() { message.clone() } else { format!("{field}: {message}") })]
    Invalid { field: String, message: String },
    /// No area with this id belongs to the user.
    #[error("no area with id {0}: `area areas list` shows your areas")]
    NotFound(i64),
    /// The area belongs to another user. User-facing operations answer [`AreaError::NotFound`]
    /// instead (not revealing that the id exists); this is for callers that already know.
    #[error("this area belongs to another user")]
    NotOwner,
    /// A stored definition no longer reads (written by a newer Area, or edited by hand).
    #[error("area {id} cannot be read ({message}): remove it with `area areas rm {id}` and add it again")]
    Corrupt { id: i64, message: String },
    /// The system's secure random source failed (webhook secrets cannot be made).
    #[error("the system's secure random source failed: {0}")]
    Random(String),
    /// The area holds secret placeholders (an exported file): ask the user for these fields.
    #[error(transparent)]
    SecretsNeeded(#[from] secrets::SecretsNeeded),
    /// Secret parameters could not be sealed or opened (master key missing or wrong).
    #[error("the area's secret parameters cannot be sealed or opened: {0}")]
    Sealing(#[from] crate::crypto::CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AreaError {
    /// A validation error on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AreaError {
        AreaError::Invalid { field: field.into(), message: message.into() }
    }

    /// The field a validation error points at, for showing it next to that field.
    pub fn field(&self) -> Option<&str> {
        match self {
            AreaError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The same error with its field placed under `prefix` (`[2]` for the third area of a list).
    pub(crate) fn within(self, prefix: &str) -> AreaError {
        match self {
            AreaError::Invalid { field, message } => AreaError::Invalid { field: join_path(prefix, &field), message },
            AreaError::SecretsNeeded(secrets::SecretsNeeded(fields)) => {
                AreaError::SecretsNeeded(secrets::SecretsNeeded(
                    fields
                        .into_iter()
                        .map(|f| secrets::SecretField { path: join_path(prefix, &f.path), ..f })
                        .collect(),
                ))
            }
            other => other,
        }
    }
}

impl From<sqlx::Error> for AreaError {
    fn from(e: sqlx::Error) -> Self {
        AreaError::Store(StoreError::Database(e))
    }
}

/// Joins JSON path segments: `("reactions[0]", "params")` → `reactions[0].params`,
/// `("[1]", "name")` → `[1].name`, `("x", "[0]")` → `x[0]`.
pub(crate) fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else if field.is_empty() {
        prefix.to_string()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

/// Where webhook URLs point (`<base>/hooks/<token>`): the server's public address
/// (`AREA_PUBLIC_URL`, `area serve --public-url`) when it has one, else `http://` and the local
/// listener's address (see [`webhook_listen_addr`]). Area views and the engine status both use it.
pub fn webhook_base(settings: &crate::settings::Settings, data_dir: &Path) -> String {
    match settings.get(crate::settings::PUBLIC_URL) {
        Some(public) => public.trim_end_matches('/').to_owned(),
        None => format!("http://{}", webhook_listen_addr(data_dir)),
    }
}

/// The address webhook URLs should use: what the daemon wrote to [`WEBHOOK_ADDR_FILE`] in the
/// data directory, or [`DEFAULT_WEBHOOK_LISTEN`] when the file is absent or unreadable. An
/// unspecified address (`0.0.0.0`, `::`) is shown as the loopback address of the same family,
/// because that is what a local sender can reach.
pub fn webhook_listen_addr(data_dir: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(data_dir.join(WEBHOOK_ADDR_FILE)) else {
        return DEFAULT_WEBHOOK_LISTEN.to_string();
    };
    let addr = text.lines().next().unwrap_or_default().trim();
    if let Ok(mut sock) = addr.parse::<std::net::SocketAddr>() {
        if sock.ip().is_unspecified() {
            let loopback: std::net::IpAddr = if sock.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            sock.set_ip(loopback);
        }
        return sock.to_string();
    }
    // A host name with a port (`localhost:8787`).
    match addr.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && port.parse::<u16>().is_ok()
                && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
        {
            addr.to_string()
        }
        _ => DEFAULT_WEBHOOK_LISTEN.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join() {
        assert_eq!(join_path("", "name"), "name");
        assert_eq!(join_path("[1]", "name"), "[1].name");
        assert_eq!(join_path("reactions", "[0]"), "reactions[0]");
        assert_eq!(join_path("x", ""), "x");
    }

    #[test]
    fn listen_address_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), DEFAULT_WEBHOOK_LISTEN);
        let file = dir.path().join(WEBHOOK_ADDR_FILE);
        std::fs::write(&file, "127.0.0.1:40123\n").unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), "127.0.0.1:40123");
        std::fs::write(&file, "0.0.0.0:9000").unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), "127.0.0.1:9000");
        std::fs::write(&file, "[::]:9000").unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), "[::1]:9000");
        std::fs::write(&file, "localhost:9000").unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), "localhost:9000");
        std::fs::write(&file, "garbage here").unwrap();
        assert_eq!(webhook_listen_addr(dir.path()), DEFAULT_WEBHOOK_LISTEN);
        std::fs::write(&file, "127.0.0.1:1").unwrap();
        let settings = crate::settings::Settings::empty();
        assert_eq!(webhook_base(&settings, dir.path()), "http://127.0.0.1:1");
        let public = settings.with(crate::settings::PUBLIC_URL, "https://area.example.com/");
        assert_eq!(webhook_base(&public, dir.path()), "https://area.example.com");
    }
}
