//! Error answers: the generic mapping, excerpts of what the provider said, and [`ErrorTable`],
//! the per-provider description of what each error status means.
//!
//! Most providers' mappers had one skeleton — 401 asks to reconnect, 403 and 404 name the
//! resource, 429 backs off, the rest is the generic status error — and differed only in how
//! their error bodies read and in their messages. A provider now states those differences as
//! data and [`ErrorTable::map`] applies them.

use std::time::{Duration, SystemTime};

use crate::connector::{ConnectorError, HttpResponseData};

pub use crate::connector::{status_error, truncate_chars, ERROR_EXCERPT_CHARS};

/// A [`ConnectorError::BadResponse`]: the upstream answered 2xx with something its
/// documentation does not promise.
pub fn bad_response(service: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::BadResponse { service: service.to_string(), message: message.into() }
}

/// An upstream message made fit for an error: whitespace collapsed, cut to
/// [`ERROR_EXCERPT_CHARS`] characters.
pub fn excerpt(text: &str) -> String {
    truncate_chars(&text.split_whitespace().collect::<Vec<_>>().join(" "), ERROR_EXCERPT_CHARS - 1)
}

/// What an error status means.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// The credentials were refused: [`ConnectorError::AuthExpired`].
    Reconnect,
    /// A [`ConnectorError::Status`] with this status and message. In the message, `{resource}`
    /// stands for what was asked for and `{detail}` for what the provider said (see
    /// [`ErrorTable::detail`]).
    Status(u16, &'static str),
}

/// The wait a status error announces.
#[derive(Debug, Clone, Copy)]
pub enum Retry {
    /// None (permanent errors).
    No,
    /// The response's `Retry-After`.
    Header,
    /// The provider's own rate-limit headers.
    With(fn(&HttpResponseData) -> Option<Duration>),
}

/// How the provider's explanation appears in `{detail}`.
#[derive(Debug, Clone, Copy)]
pub enum Detail {
    /// The explanation itself, or the generic excerpt of the body when the provider's format
    /// is not recognised.
    Excerpt,
    /// ` (<name> says: <explanation>)`, or nothing when there is none.
    Says(&'static str),
}

/// One provider's error answers, as data.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable {
    /// The service the errors are reported for.
    pub service: &'static str,
    /// The provider's explanation in an error body, if its format is recognised.
    pub explain: fn(&[u8]) -> Option<String>,
    /// How the explanation appears in messages.
    pub detail: Detail,
    /// What each named status means, with the wait it announces; the first match wins.
    pub rules: &'static [(u16, Outcome, Retry)],
    /// Statuses no rule names: `None` is the generic [`status_error`]; `Some(message)` keeps
    /// the status with this message (same placeholders) and the response's `Retry-After`.
    pub otherwise: Option<&'static str>,
}

impl ErrorTable {
    /// Maps an error answer about `resource` (e.g. `board "123"`) to a [`ConnectorError`].
    pub fn map(&self, resource: &str, response: &HttpResponseData) -> ConnectorError {
        let rule = self.rules.iter().find(|(status, _, _)| *status == response.status);
        let (outcome, retry) = match (rule, self.otherwise) {
            (Some((_, outcome, retry)), _) => (*outcome, *retry),
            (None, Some(message)) => (Outcome::Status(response.status, message), Retry::Header),
            (None, None) => return status_error(self.service, response),
        };
        match outcome {
            Outcome::Reconnect => ConnectorError::AuthExpired { service: self.service.to_string() },
            Outcome::Status(status, message) => ConnectorError::Status {
                service: self.service.to_string(),
                status,
                message: fill(message, resource, &self.detail_for(response)),
                retry_after: match retry {
                    Retry::No => None,
                    Retry::Header => crate::net::retry_after(response, SystemTime::now()),
                    Retry::With(wait) => wait(response),
                },
            },
        }
    }

    /// The `{detail}` of messages about this response.
    pub fn detail_for(&self, response: &HttpResponseData) -> String {
        let said = (self.explain)(&response.body);
        match self.detail {
            Detail::Excerpt => said.unwrap_or_else(|| match status_error(self.service, response) {
                ConnectorError::Status { message, .. } => message,
                _ => String::new(),
            }),
            Detail::Says(name) => said.map(|m| format!(" ({name} says: {m})")).unwrap_or_default(),
        }
    }
}

/// Replaces `{resource}` and `{detail}` in one pass, so a value containing a placeholder is
/// never expanded again.
fn fill(template: &str, resource: &str, detail: &str) -> String {
    let mut out = String::with_capacity(template.len() + resource.len() + detail.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{resource}") {
            out.push_str(resource);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{detail}") {
            out.push_str(detail);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(body: &[u8]) -> Option<String> {
        std::str::from_utf8(body).ok().filter(|s| !s.is_empty()).map(excerpt)
    }

    const TABLE: ErrorTable = ErrorTable {
        service: "demo",
        explain: said,
        detail: Detail::Excerpt,
        rules: &[
            (401, Outcome::Reconnect, Retry::No),
            (404, Outcome::Status(404, "{resource} was not found: {detail}"), Retry::No),
            (429, Outcome::Status(429, "slow down: {detail}"), Retry::Header),
        ],
        otherwise: None,
    };

    fn answer(status: u16, body: &str) -> HttpResponseData {
        HttpResponseData { status, headers: vec![("retry-after".into(), "7".into())], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn rules_name_the_resource_and_keep_the_wait_they_ask_for() {
        let e = TABLE.map("board {detail}", &answer(404, "gone"));
        assert_eq!(e.to_string(), "demo answered HTTP 404: board {detail} was not found: gone");
        match TABLE.map("x", &answer(429, "too many")) {
            ConnectorError::Status { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(7))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(TABLE.map("x", &answer(401, "")), ConnectorError::AuthExpired { .. }));
        let generic = TABLE.map("x", &answer(500, "boom"));
        assert_eq!(generic.to_string(), status_error("demo", &answer(500, "boom")).to_string());
    }

    #[test]
    fn says_style_detail_is_empty_without_an_explanation() {
        let table = ErrorTable { detail: Detail::Says("Demo"), ..TABLE };
        assert_eq!(table.detail_for(&answer(404, "")), "");
        assert_eq!(table.detail_for(&answer(404, "nope")), " (Demo says: nope)");
    }
}
