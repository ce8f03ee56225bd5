//! Requests and responses as data, and how a failure is treated: the vocabulary the shared
//! client, the engine and the connectors have in common (re-exported by [`crate::connector`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An outbound HTTP request, as data (so it can be compared, shared and logged without secrets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpRequestSpec {
    pub method: String,
    pub url: String,
    /// Header names and values; values may hold credentials and are never logged.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequestSpec {
    /// A GET of `url` with no extra headers.
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequestSpec { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None }
    }
}

/// A fully read (size-capped) HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponseData {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponseData {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How the engine treats a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (network, 5xx, 429), no sooner than `retry_after` if given.
    Retryable { retry_after: Option<Duration> },
    /// Retrying cannot help (400/403/404, bad parameters, malformed response).
    Permanent,
    /// The connection's grant is gone; pause its areas until reconnected.
    NeedsReconnect,
}

/// Retryable for 408/425/429/5xx, reconnect for 401, permanent otherwise.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> ErrorClass {
    match status {
        401 => ErrorClass::NeedsReconnect,
        408 | 425 | 429 | 500..=599 => ErrorClass::Retryable { retry_after },
        _ => ErrorClass::Permanent,
    }
}
