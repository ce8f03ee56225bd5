//! All outbound HTTP: one shared client with timeouts, size caps, a user agent, gzip limits and an
//! SSRF guard (ARCHITECTURE.md "Layers", and "Trust rules": "No surprise network access"), plus
//! retry pacing helpers ("Engine contract", point 4).
//!
//! Decisions recorded here:
//! - [`HttpClient::send`] returns any status as data; only a missing/incomplete response is a
//!   [`NetError`]. Callers classify statuses with [`classify_status`].
//! - The total timeout covers the whole exchange, every redirect hop and the body included.
//! - Redirects are followed by hand (at most [`NetConfig::max_redirects`]), each hop re-checked by
//!   the guard. 301/302 turn POST into GET, 303 turns anything but HEAD into GET (dropping the
//!   body), 307/308 keep method and body. A hop to another origin keeps only harmless headers
//!   (`Accept`, `Content-Type`, `User-Agent`…), so credentials never follow a redirect off-site.
//! - The guard checks IP literals before sending and host names inside the DNS resolver, which
//!   hands reqwest only the addresses it checked; see [`guard`].
//! - Proxies from the environment are ignored: a proxy would resolve targets out of the guard's sight.
//! - A client bound to a credential ([`HttpClient::with_credential`]) refuses, on every hop, a
//!   request that carries the secret to a host the credential was not given for; see [`credential`].
//! - Error messages name at most `scheme://host:port`, never paths, query strings or header
//!   values, since webhook URLs and API keys often live there.

mod backoff;
mod client;
pub mod credential;
pub mod guard;
mod message;
mod redact;

use std::time::{Duration, SystemTime};

pub use backoff::{backoff_delay, host_key, HostLimiter};
pub use client::{HttpClient, NetConfig, RequestOptions};
pub use credential::{AllowedHosts, CredentialBinding};
pub use message::{classify_status, ErrorClass, HttpRequestSpec, HttpResponseData};
pub use redact::{error_text, redact_urls};

/// Why no complete response was obtained. Messages are user-facing and secret-free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The URL cannot be used (unparsable, no host, not http/https, bad redirect target).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The request itself is malformed (bad method, header name or header value).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The SSRF guard refused a loopback/private/link-local/… target.
    #[error(
        "refused to connect to {host}: {reason}; to allow private network targets, set \
         allow_private_network on the area or AREA_ALLOW_PRIVATE_NETWORK=1"
    )]
    Refused { host: String, reason: String },
    /// A request carrying a connection's credential was aimed at a host the credential was not
    /// given for (a parameter, an ingredient or a redirect pointing elsewhere).
    #[error(
        "refused to send the {service} credential to {host}: it may only go to {allowed}; check the area's \
         parameters (a URL or host must not point elsewhere)"
    )]
    CredentialHost { service: String, host: String, allowed: String },
    /// DNS failure, refused/reset connection, TLS failure, connection lost mid-response.
    #[error("{0}")]
    Connect(String),
    /// No complete response within the limit.
    #[error("no complete response within {after:?}")]
    Timeout { after: Duration },
    /// The decoded body exceeded the size cap.
    #[error("the response body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// More redirect hops than [`NetConfig::max_redirects`].
    #[error("too many redirects")]
    TooManyRedirects,
    /// Anything else (client construction, undecodable compressed body).
    #[error("{0}")]
    Other(String),
}

impl NetError {
    /// How the engine treats it: network trouble is retried, a refused or unusable target is not.
    pub fn class(&self) -> ErrorClass {
        match self {
            NetError::Connect(_) | NetError::Timeout { .. } | NetError::Other(_) => {
                ErrorClass::Retryable { retry_after: None }
            }
            NetError::InvalidUrl(_)
            | NetError::InvalidRequest(_)
            | NetError::Refused { .. }
            | NetError::CredentialHost { .. }
            | NetError::BodyTooLarge { .. }
            | NetError::TooManyRedirects => ErrorClass::Permanent,
        }
    }
}

/// Longest wait [`retry_after`] reports, so a hostile or buggy upstream cannot park an area for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The response's `Retry-After`, as delay-seconds or an HTTP-date relative to `now`, capped at
/// [`MAX_RETRY_AFTER`]. A date in the past gives zero; a malformed value gives `None`.
pub fn retry_after(resp: &HttpResponseData, now: SystemTime) -> Option<Duration> {
    let value = resp.header("retry-after")?.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and an overflowing delay is "very long".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retry_after(value: &str) -> HttpResponseData {
        HttpResponseData { status: 429, headers: vec![("retry-after".into(), value.into())], body: Vec::new() }
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(retry_after(&with_retry_after("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&with_retry_after(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&with_retry_after("86400"), now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&with_retry_after("99999999999999999999999"), now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:30:00 GMT"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after(&with_retry_after("Wed, 21 Oct 2015 07:00:00 GMT"), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&with_retry_after("Thu, 22 Oct 2015 07:28:00 GMT"), now), Some(MAX_RETRY_AFTER));
        // Obsolete RFC 850 form, which HTTP-date parsers must accept.
        assert_eq!(
            retry_after(&with_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT"), now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_missing_or_malformed() {
        let now = SystemTime::now();
        for bad in ["", "soon", "-5", "1.5", "12 s"] {
            assert_eq!(retry_after(&with_retry_after(bad), now), None, "{bad:?}");
        }
        let none = HttpResponseData { status: 503, headers: vec![], body: vec![] };
        assert_eq!(retry_after(&none, now), None);
    }

    #[test]
    fn error_classes() {
        let retry = ErrorClass::Retryable { retry_after: None };
        assert_eq!(NetError::Connect("x".into()).class(), retry);
        assert_eq!(NetError::Timeout { after: Duration::from_secs(1) }.class(), retry);
        assert_eq!(NetError::Other("x".into()).class(), retry);
        for permanent in [
            NetError::InvalidUrl("x".into()),
            NetError::InvalidRequest("x".into()),
            NetError::Refused { host: "h".into(), reason: "r".into() },
            NetError::BodyTooLarge { limit: 1 },
            NetError::TooManyRedirects,
        ] {
            assert_eq!(permanent.class(), ErrorClass::Permanent, "{permanent:?}");
        }
    }

    #[test]
    fn refusal_message_says_how_to_allow() {
        let msg = NetError::Refused { host: "10.0.0.1".into(), reason: "10.0.0.1 is a private network address".into() }
            .to_string();
        assert!(msg.contains("10.0.0.1"), "{msg}");
        assert!(msg.contains("allow_private_network"), "{msg}");
        assert!(msg.contains("AREA_ALLOW_PRIVATE_NETWORK=1"), "{msg}");
    }
}
