//! The one outbound HTTP client: timeouts, size caps, user agent, manual redirects, SSRF guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode};
use url::{Host, Url};

use super::credential::CredentialBinding;
use super::guard::{self, GuardRefusal, GuardedResolver};
use super::NetError;
use super::{HttpRequestSpec, HttpResponseData};

/// Install-wide settings of the shared client. Per-request overrides live in [`RequestOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Limit for establishing a TCP connection, so a black-holed host fails fast.
    pub connect_timeout: Duration,
    /// Limit for the whole exchange (DNS, connect, every redirect hop, reading the body), so a
    /// stalled or trickling server cannot hold a worker.
    pub total_timeout: Duration,
    /// Limit on the decoded response body, so huge, endless or gzip-bomb bodies cannot exhaust memory.
    pub max_body_bytes: usize,
    /// Sent on every request unless the request sets its own `User-Agent`; APIs such as GitHub's
    /// require one.
    pub user_agent: String,
    /// Redirect hops followed before giving up with [`NetError::TooManyRedirects`].
    pub max_redirects: usize,
    /// Lets every request reach loopback/private/link-local addresses (home-lab installs, tests).
    /// Set by `AREA_ALLOW_PRIVATE_NETWORK=1` through [`NetConfig::from_settings`].
    pub allow_private_network: bool,
    /// Exact `ip:port` targets the guard lets through even when private, for URLs that name that
    /// IP literally (host names resolving to private addresses stay refused). Meant for tests
    /// that run a fake upstream on loopback while checking the guard elsewhere.
    pub private_exceptions: Vec<SocketAddr>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 4 * 1024 * 1024,
            user_agent: format!("Area/{} (+https://github.com/area)", env!("CARGO_PKG_VERSION")),
            max_redirects: 5,
            allow_private_network: false,
            private_exceptions: Vec::new(),
        }
    }
}

impl NetConfig {
    /// Defaults, with `allow_private_network` taken from the settings'
    /// `AREA_ALLOW_PRIVATE_NETWORK` (`1`, `true`, `yes` or `on` enable it).
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        NetConfig { allow_private_network: settings.allow_private_network(), ..NetConfig::default() }
    }
}

/// Per-request settings; the defaults follow the [`NetConfig`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The area allows private-network targets (its per-area SSRF override).
    pub allow_private_network: bool,
    /// Replaces [`NetConfig::total_timeout`] for this request.
    pub timeout: Option<Duration>,
    /// Replaces [`NetConfig::max_body_bytes`] for this request.
    pub max_body_bytes: Option<usize>,
}

/// The shared outbound HTTP client. Cheap to clone (one `Arc`); clones share connection pools.
///
/// [`HttpClient::send`] returns a response for any status, including 4xx/5xx, which callers
/// classify with [`super::classify_status`]; it fails only when no complete response
/// was obtained.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
    /// The connection credential requests made through this handle may carry, and where to.
    credential: Option<Arc<CredentialBinding>>,
}

struct Inner {
    config: NetConfig,
    /// Resolves through [`GuardedResolver`]: only public addresses are connected to.
    guarded: reqwest::Client,
    /// System resolver; used when the install or the area allows private targets. A separate
    /// pool, so a connection opened for an allowed area is never reused by a guarded one.
    open: reqwest::Client,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.inner.config)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// Headers kept when a redirect leaves the original origin; all others (credentials in
/// `Authorization`, `Cookie`, `X-Api-Key`, `Private-Token`…) are dropped so they never reach a
/// host the connector did not name.
const CROSS_ORIGIN_SAFE_HEADERS: &[&str] =
    &["accept", "accept-language", "content-language", "content-type", "user-agent"];

/// Headers describing a request body, dropped when a redirect turns the request into a GET.
const BODY_HEADERS: &[&str] =
    &["content-type", "content-length", "content-encoding", "content-language", "transfer-encoding"];

impl HttpClient {
    /// Builds the client (two connection pools: guarded and open). Fails only if the TLS backend
    /// cannot initialise.
    pub fn new(config: NetConfig) -> Result<Self, NetError> {
        let guarded = build_reqwest(&config, true)?;
        let open = build_reqwest(&config, false)?;
        Ok(HttpClient { inner: Arc::new(Inner { config, guarded, open }), credential: None })
    }

    /// A handle (sharing this client's pools) whose requests are checked against `binding`: any
    /// request, or redirect hop, that carries the credential must target one of its hosts, or
    /// fails with [`NetError::CredentialHost`]. The engine gives one to every poll and reaction
    /// that uses a connection.
    pub fn with_credential(&self, binding: Arc<CredentialBinding>) -> HttpClient {
        HttpClient { inner: self.inner.clone(), credential: Some(binding) }
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &NetConfig {
        &self.inner.config
    }

    /// Performs `req`, following redirects, and reads the whole (size-capped) body.
    ///
    /// Returns the final response whatever its status. Errors: invalid URL or request, SSRF
    /// refusal (checked on every hop), connect failure, timeout over the whole exchange, body
    /// over the cap, too many redirects.
    pub async fn send(&self, req: &HttpRequestSpec, opts: &RequestOptions) -> Result<HttpResponseData, NetError> {
        let total = opts.timeout.unwrap_or(self.inner.config.total_timeout);
        match tokio::time::timeout(total, self.send_inner(req, opts)).await {
            Ok(result) => result,
            Err(_) => Err(NetError::Timeout { after: total }),
        }
    }

    async fn send_inner(&self, req: &HttpRequestSpec, opts: &RequestOptions) -> Result<HttpResponseData, NetError> {
        let config = &self.inner.config;
        let allow_private = config.allow_private_network || opts.allow_private_network;
        let client = if allow_private { &self.inner.open } else { &self.inner.guarded };
        let limit = opts.max_body_bytes.unwrap_or(config.max_body_bytes);

        let mut method = Method::from_bytes(req.method.as_bytes())
            .map_err(|_| NetError::InvalidRequest("invalid HTTP method".into()))?;
        let mut headers = build_headers(&req.headers)?;
        let mut body = req.body.clone();
        let mut url = Url::parse(&req.url).map_err(|e| NetError::InvalidUrl(format!("cannot parse the URL: {e}")))?;
        let mut hops = 0usize;

        loop {
            self.check_target(&url, allow_private)?;
            if let Some(binding) = &self.credential {
                binding.check(&url, headers.values().map(HeaderValue::as_bytes), body.as_deref())?;
            }
            let mut builder = client.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(bytes) = &body {
                builder = builder.body(bytes.clone());
            }
            let resp = builder.send().await.map_err(|e| self.map_send_error(e, &url))?;

            let status = resp.status();
            let location = resp.headers().get(LOCATION).cloned();
            let location = match location {
                Some(loc) if is_followed_redirect(status) => loc,
                _ => return read_response(resp, &method, limit, &url).await,
            };
            drop(resp);
            if hops >= config.max_redirects {
                return Err(NetError::TooManyRedirects);
            }
            hops += 1;

            let next =
                location.to_str().ok().and_then(|loc| url.join(loc).ok()).ok_or_else(|| {
                    NetError::InvalidUrl(format!("{} redirected to an invalid Location", origin(&url)))
                })?;
            let turns_into_get = match status {
                StatusCode::SEE_OTHER => method != Method::HEAD,
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => method == Method::POST,
                _ => false,
            };
            if turns_into_get {
                method = Method::GET;
                body = None;
                for name in BODY_HEADERS {
                    headers.remove(*name);
                }
            }
            if next.origin() != url.origin() {
                let kept: Vec<(HeaderName, HeaderValue)> = headers
                    .iter()
                    .filter(|(name, _)| CROSS_ORIGIN_SAFE_HEADERS.contains(&name.as_str()))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                headers = HeaderMap::new();
                for (name, value) in kept {
                    headers.append(name, value);
                }
            }
            tracing::debug!(from = %origin(&url), to = %origin(&next), status = status.as_u16(), "following redirect");
            url = next;
        }
    }

    /// Scheme check, and for IP-literal hosts the SSRF check (host names are checked by the
    /// resolver, on the very addresses that are then connected to).
    fn check_target(&self, url: &Url, allow_private: bool) -> Result<(), NetError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NetError::InvalidUrl(format!(
                "scheme `{}` is not allowed (only http and https)",
                url.scheme()
            )));
        }
        let host = url.host().ok_or_else(|| NetError::InvalidUrl("the URL has no host".into()))?;
        if allow_private {
            return Ok(());
        }
        let ip = match host {
            Host::Ipv4(ip) => ip.into(),
            Host::Ipv6(ip) => ip.into(),
            Host::Domain(_) => return Ok(()),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        guard::check_literal(SocketAddr::new(ip, port), &self.inner.config.private_exceptions)
            .map_err(|reason| NetError::Refused { host: url.host_str().unwrap_or_default().to_owned(), reason })
    }

    fn map_send_error(&self, err: reqwest::Error, url: &Url) -> NetError {
        if let Some(refusal) = find_cause::<GuardRefusal>(&err) {
            return NetError::Refused { host: refusal.host.clone(), reason: refusal.reason.clone() };
        }
        if err.is_timeout() {
            // Only the connect timeout is set on reqwest; the total one wraps the whole call.
            return NetError::Timeout { after: self.inner.config.connect_timeout };
        }
        if err.is_builder() {
            return NetError::InvalidRequest(format!("cannot build the request: {}", root_cause(&err)));
        }
        if err.is_connect() {
            return NetError::Connect(format!("could not connect to {}: {}", origin(url), root_cause(&err)));
        }
        NetError::Connect(format!("request to {} failed: {}", origin(url), root_cause(&err)))
    }
}

fn build_reqwest(config: &NetConfig, guarded: bool) -> Result<reqwest::Client, NetError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(config.user_agent.clone())
        .connect_timeout(config.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        // A proxy would resolve the target itself, out of the guard's sight.
        .no_proxy()
        .gzip(true);
    if guarded {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build().map_err(|e| NetError::Other(format!("could not build the HTTP client: {}", root_cause(&e))))
}

fn build_headers(pairs: &[(String, String)]) -> Result<HeaderMap, NetError> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            NetError::InvalidRequest(format!(
                "invalid header name `{}`",
                name.escape_debug().take(64).collect::<String>()
            ))
        })?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| NetError::InvalidRequest(format!("header `{header}` has an invalid value")))?;
        value.set_sensitive(true);
        map.append(header, value);
    }
    Ok(map)
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

async fn read_response(
    mut resp: reqwest::Response,
    method: &Method,
    limit: usize,
    url: &Url,
) -> Result<HttpResponseData, NetError> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect();
    let announced = if *method == Method::HEAD { None } else { resp.content_length() };
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(NetError::BodyTooLarge { limit });
    }
    let initial = announced.map_or(0, |len| len as usize).min(limit).min(64 * 1024);
    let mut body = Vec::with_capacity(initial);
    // `chunk` yields decoded bytes, so the cap also bounds what a gzip bomb expands to.
    while let Some(chunk) = resp.chunk().await.map_err(|e| body_error(&e, url))? {
        if chunk.len() > limit - body.len() {
            return Err(NetError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    tracing::debug!(origin = %origin(url), status, bytes = body.len(), "response read");
    Ok(HttpResponseData { status, headers, body })
}

fn body_error(err: &reqwest::Error, url: &Url) -> NetError {
    if err.is_decode() {
        NetError::Other(format!("could not decode the response body from {}: {}", origin(url), root_cause(err)))
    } else {
        NetError::Connect(format!(
            "the connection to {} broke while reading the body: {}",
            origin(url),
            root_cause(err)
        ))
    }
}

/// `scheme://host[:port]` only: paths and query strings may hold tokens (webhook URLs, API keys).
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn find_cause<'a, T: std::error::Error + 'static>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The innermost cause's message: reqwest's own message embeds the full URL, which may hold
/// secrets, while the innermost cause (an I/O, DNS, TLS or HTTP parse error) does not.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    let mut depth = 0;
    while let Some(next) = current.source() {
        current = next;
        depth += 1;
    }
    if depth == 0 {
        // No inner cause: never fall back to reqwest's URL-bearing message.
        return "unknown error".into();
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_flag_accepts_usual_truthy_values() {
        let allows = |v: Option<&str>| {
            let settings = crate::settings::Settings::from_pairs(v.map(|v| ("AREA_ALLOW_PRIVATE_NETWORK", v)));
            NetConfig::from_settings(&settings).allow_private_network
        };
        for v in ["1", "true", "TRUE", "yes", "on", " 1 "] {
            assert!(allows(Some(v)), "{v}");
        }
        for v in ["0", "false", "", "no", "2"] {
            assert!(!allows(Some(v)), "{v}");
        }
        assert!(!allows(None));
    }

    #[test]
    fn defaults_match_the_design() {
        let c = NetConfig::default();
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.total_timeout, Duration::from_secs(30));
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.max_redirects, 5);
        assert!(!c.allow_private_network);
        assert!(c.user_agent.starts_with("Area/0."), "{}", c.user_agent);
        assert!(c.user_agent.ends_with("(+https://github.com/area)"));
    }

    #[test]
    fn origin_drops_path_query_and_credentials() {
        let url = Url::parse("https://user:pw@hooks.example.com:8443/api/webhooks/1/SECRET?token=T").unwrap();
        assert_eq!(origin(&url), "https://hooks.example.com:8443");
    }

    #[test]
    fn invalid_headers_are_reported_without_their_value() {
        let err = build_headers(&[("Authorization".into(), "Bearer sec\nret".into())]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("authorization") && !msg.contains("sec"), "{msg}");
        assert!(build_headers(&[("bad name".into(), "v".into())]).is_err());
    }
}
