//! Building and sending connector requests.

use base64::Engine as _;

use crate::connector::{ConnectorError, Credential, HttpRequestSpec, HttpResponseData, ReactionContext};
use crate::net::RequestOptions;

/// The `Authorization: Bearer <access token>` header.
pub fn bearer(credential: &Credential) -> (String, String) {
    ("Authorization".into(), format!("Bearer {}", credential.secret()))
}

/// The `Accept: application/json` header every JSON API call sends.
pub fn accept_json() -> (String, String) {
    ("Accept".into(), "application/json".into())
}

/// A `POST` of `body` as JSON to `url` with the connection's bearer token (what most JSON API
/// reactions send).
pub fn json_post(url: impl Into<String>, credential: &Credential, body: &serde_json::Value) -> HttpRequestSpec {
    HttpRequestSpec {
        method: "POST".into(),
        url: url.into(),
        headers: vec![bearer(credential), accept_json(), ("Content-Type".into(), "application/json".into())],
        body: Some(body.to_string().into_bytes()),
    }
}

/// Parses a URL built from a base and a fixed path (the base comes from the settings, so it
/// may be malformed).
pub fn parse_url(service: &str, raw: &str) -> Result<url::Url, ConnectorError> {
    url::Url::parse(raw).map_err(|e| ConnectorError::BadParams {
        param: "base URL".into(),
        message: format!("{service}: cannot build a request URL from {raw:?}: {e}"),
    })
}

/// The reaction's credential, or the error asking the user to connect the service.
pub fn reaction_credential<'a>(ctx: &ReactionContext<'a>, service: &str) -> Result<&'a Credential, ConnectorError> {
    ctx.credential.ok_or_else(|| ConnectorError::AuthExpired { service: service.into() })
}

/// Sends a reaction's request through the shared client, reaching private addresses only when
/// the area may.
pub async fn send(ctx: &ReactionContext<'_>, spec: &HttpRequestSpec) -> Result<HttpResponseData, ConnectorError> {
    let opts = RequestOptions { allow_private_network: ctx.allow_private_network, ..Default::default() };
    Ok(ctx.http.send(spec, &opts).await?)
}

/// The target of the `rel` link in a response's `Link` header (RFC 8288), e.g. GitHub's
/// `<https://api.github.com/…&page=5>; rel="last"`, for paginated APIs.
pub fn link_target(response: &HttpResponseData, rel: &str) -> Option<String> {
    let header = response.header("link")?;
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let named = params.split(';').any(|p| {
            p.trim().strip_prefix("rel=").is_some_and(|v| v.trim_matches('"').split_whitespace().any(|r| r == rel))
        });
        named.then(|| target.to_string())
    })
}

/// Standard base64 (RFC 4648 §4), padded.
pub fn base64_std(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// URL-safe base64 (RFC 4648 §5), padded (Gmail's `raw` field).
pub fn base64_url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_found_by_rel() {
        let response = HttpResponseData {
            status: 200,
            headers: vec![(
                "Link".into(),
                r#"<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last""#
                    .into(),
            )],
            body: Vec::new(),
        };
        assert_eq!(link_target(&response, "last").as_deref(), Some("https://api.github.com/r?page=5"));
        assert_eq!(link_target(&response, "next").as_deref(), Some("https://api.github.com/r?page=2"));
        assert_eq!(link_target(&response, "prev"), None);
    }

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (plain, enc) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64_std(plain.as_bytes()), enc);
        }
        assert_eq!(base64_std(&[0xfb, 0xff]), "+/8=");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
    }
}
