//! Who a request is: a browser's session cookie (plus, for anything that changes data, the CSRF
//! token only a page of this origin can read), or a script's personal access token in
//! `Authorization: Bearer`. The [`Caller`] extractor answers with an [`App`] handle bound to
//! that user, so a handler cannot reach another user's data by mistake.

use std::net::{IpAddr, SocketAddr};

use area_core::accounts::{Session, User, TOKEN_PREFIX};
use area_core::app::{ApiError, App, ErrorCode};
use area_core::engine::webhook::Peer;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::HttpError;
use crate::{Server, ServerConfig};

/// The cookie holding a browser's session token (`HttpOnly`: scripts cannot read it).
pub const SESSION_COOKIE: &str = "area_session";
/// The header a browser's changing request (POST, PUT, DELETE) must carry, holding
/// [`csrf_token`] of its session: another site can make the browser send the cookie, but it
/// cannot read the token to send with it.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: derived from the session token, so it needs no storage and dies
/// with the session.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!("area-csrf\0{session_token}").as_bytes()))
}

/// The signed-in user of a request, with the app acting for them.
pub struct Caller {
    /// The app bound to [`Caller::user`].
    pub app: App,
    pub user: User,
    /// The session token when the request came with the session cookie (not a bearer token).
    pub session: Option<String>,
}

impl FromRequestParts<Server> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, server: &Server) -> Result<Self, Self::Rejection> {
        let app = &server.app;
        if let Some(secret) = bearer(&parts.headers) {
            let user = app.access_token_owner(secret).await?;
            return Ok(Caller { app: app.acting_as(user.clone()), user, session: None });
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::not_signed_in().into());
        };
        let user = app.session_owner(&token).await?;
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
            if !bool::from(sent.ct_eq(csrf_token(&token).as_bytes())) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    format!("this request lacks its {CSRF_HEADER} header: reload the page and try again"),
                )
                .into());
            }
        }
        Ok(Caller { app: app.acting_as(user.clone()), user, session: Some(token) })
    }
}

/// Methods that change nothing, which need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Authorization: Bearer area_pat_…`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && secret.trim().starts_with(TOKEN_PREFIX)).then(|| secret.trim())
}

/// The value of cookie `name` among the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a new session: `HttpOnly`, `SameSite=Lax` (sent on the OAuth2 provider's
/// redirect back, never on another site's POST), `Secure` when the server is reached over https,
/// and expiring with the session.
pub(crate) fn session_cookie(config: &ServerConfig, session: &Session) -> (axum::http::HeaderName, String) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let max_age = (session.expires_at - now).max(0);
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    (
        SET_COOKIE,
        format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", session.token),
    )
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn cleared_cookie(config: &ServerConfig) -> (axum::http::HeaderName, String) {
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    (SET_COOKIE, format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"))
}

/// The client's address: the connection's peer, or behind a trusted reverse proxy the last
/// `X-Forwarded-For` entry (the one that proxy added; earlier ones are the client's to forge).
pub(crate) fn client_address(parts: &Parts, config: &ServerConfig) -> Option<IpAddr> {
    if config.trust_forwarded {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    parts.extensions.get::<Peer>().map(|Peer(addr): &Peer| SocketAddr::ip(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "theme=dark; area_session=abc"), ("cookie", "x=1")]);
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers(&[("cookie", "xarea_session=abc")]), SESSION_COOKIE), None);
        assert_eq!(cookie(&headers(&[("cookie", "area_session=")]), SESSION_COOKIE), None);
    }

    #[test]
    fn only_area_tokens_are_bearer_tokens() {
        assert_eq!(bearer(&headers(&[("authorization", "Bearer area_pat_1")])), Some("area_pat_1"));
        assert_eq!(bearer(&headers(&[("authorization", "bearer  area_pat_1 ")])), Some("area_pat_1"));
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ghp_1")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Basic area_pat_1")])), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), "a", "the token is not the session itself");
    }
}
