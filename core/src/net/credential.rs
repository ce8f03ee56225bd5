//! A credential bound to the hosts it was given for (ARCHITECTURE.md "Trust rules": "A
//! credential goes only where it was given for").
//!
//! The engine hands the shared client a [`CredentialBinding`] (through
//! [`super::HttpClient::with_credential`]) for every poll and reaction that uses a connection. The
//! client then checks each request, and each redirect hop, in one place: a request that carries
//! the secret (in the URL, a header value or the body, raw or percent-encoded) may only go to an
//! allowed host, whatever a parameter, an ingredient or a server's `Location` says. A request that
//! does not carry it (a Teams webhook URL in an area that also has a Teams connection) is not
//! concerned.

use url::Url;

use super::NetError;

/// Secrets shorter than this could match by accident: every request of a binding with such a
/// secret counts as carrying it.
const MIN_DETECTABLE_SECRET: usize = 8;

/// One allowed host: an exact name (or IP literal, as `url` prints it) or `*.suffix`, with a port
/// (`None` = the scheme's default port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host_ok = match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == self.host,
        };
        host_ok && port == self.port
    }

    fn describe(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// The hosts a credential may be sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AllowedHosts(Vec<HostPattern>);

impl AllowedHosts {
    /// Host names (`api.github.com`, `*.api.riotgames.com`) on their scheme's default port.
    pub fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        AllowedHosts(
            names.into_iter().map(|h| HostPattern { host: h.trim().to_ascii_lowercase(), port: None }).collect(),
        )
    }

    /// Adds `host` on `port` exactly (a mail server, a test server).
    pub fn with_host_port(mut self, host: &str, port: u16) -> Self {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        self.0.push(HostPattern { host, port: Some(port) });
        self
    }

    /// The origin of `url` (an overriding base URL): its host on its port.
    pub fn with_origin(mut self, url: &Url) -> Self {
        if let Some(host) = url.host_str() {
            self.0.push(HostPattern { host: host.to_ascii_lowercase(), port: url.port() });
        }
        self
    }

    /// Whether a request to `url` may carry the credential.
    pub fn allows_url(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        let host = host.to_ascii_lowercase();
        self.0.iter().any(|p| p.matches(&host, url.port()) || p.matches(&host, url.port_or_known_default()))
    }

    /// Whether a (non-HTTP) connection to `host:port` may carry the credential (mail servers).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        self.0.iter().any(|p| p.matches(&host, Some(port)))
    }

    /// For error messages: `api.github.com, uploads.github.com`, or `no host`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "no host".into();
        }
        self.0.iter().map(HostPattern::describe).collect::<Vec<_>>().join(", ")
    }
}

/// A connection's secret and the hosts it may be sent to, for the shared client's check.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialBinding {
    service: String,
    secret: String,
    hosts: AllowedHosts,
}

impl std::fmt::Debug for CredentialBinding {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialBinding")
            .field("service", &self.service)
            .field("hosts", &self.hosts.describe())
            .finish_non_exhaustive()
    }
}

impl CredentialBinding {
    /// Binds a connection's `secret` (used by `service`) to `hosts`. Which hosts a service's
    /// credential may go to is the catalog's to say ([`crate::catalog::Catalog::bind_credential`]).
    pub fn new(service: &str, secret: &str, hosts: AllowedHosts) -> Self {
        CredentialBinding { service: service.into(), secret: secret.trim().to_string(), hosts }
    }

    /// The hosts the credential may go to.
    pub fn hosts(&self) -> &AllowedHosts {
        &self.hosts
    }

    /// Refuses a request to `url` that carries the secret when `url`'s host is not allowed.
    pub(crate) fn check<'a>(
        &self,
        url: &Url,
        header_values: impl IntoIterator<Item = &'a [u8]>,
        body: Option<&[u8]>,
    ) -> Result<(), NetError> {
        if self.hosts.allows_url(url) || !self.carried_by(url, header_values, body) {
            return Ok(());
        }
        tracing::warn!(service = %self.service, origin = %super::client::origin(url), "refused to send a credential to a host it was not given for");
        Err(NetError::CredentialHost {
            service: self.service.clone(),
            host: url.host_str().unwrap_or_default().to_string(),
            allowed: self.hosts.describe(),
        })
    }

    fn carried_by<'a>(
        &self,
        url: &Url,
        header_values: impl IntoIterator<Item = &'a [u8]>,
        body: Option<&[u8]>,
    ) -> bool {
        if self.secret.len() < MIN_DETECTABLE_SECRET {
            return true;
        }
        let forms = self.forms();
        let in_bytes = |hay: &[u8]| forms.iter().any(|f| contains(hay, f.as_bytes()));
        in_bytes(url.as_str().as_bytes()) || header_values.into_iter().any(in_bytes) || body.is_some_and(in_bytes)
    }

    /// The secret as it may appear in a request: raw, form-encoded and percent-encoded.
    fn forms(&self) -> Vec<String> {
        let mut forms = vec![self.secret.clone()];
        forms.push(url::form_urlencoded::byte_serialize(self.secret.as_bytes()).collect());
        forms.push(percent_encode(&self.secret));
        forms.dedup();
        forms
    }
}

/// Every byte but RFC 3986 unreserved ones as `%XX`, as URL builders encode path segments.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn names_match_on_the_default_port_only() {
        let hosts = AllowedHosts::names(["api.github.com", "*.api.riotgames.com"]);
        assert!(hosts.allows_url(&url("https://api.github.com/repos")));
        assert!(hosts.allows_url(&url("https://API.GitHub.com:443/x")));
        assert!(!hosts.allows_url(&url("https://api.github.com:8443/x")));
        assert!(!hosts.allows_url(&url("https://api.github.com.evil.example/x")));
        assert!(!hosts.allows_url(&url("https://evil.example/api.github.com")));
        assert!(hosts.allows_url(&url("https://europe.api.riotgames.com/x")));
        assert!(!hosts.allows_url(&url("https://api.riotgames.com/x")));
        assert!(!hosts.allows_url(&url("https://evilapi.riotgames.com/x")));
    }

    #[test]
    fn origins_match_their_port() {
        let hosts = AllowedHosts::default().with_origin(&url("http://127.0.0.1:9000/api"));
        assert!(hosts.allows_url(&url("http://127.0.0.1:9000/x")));
        assert!(!hosts.allows_url(&url("http://127.0.0.1:9001/x")));
        let mail = AllowedHosts::default().with_host_port("imap.example.com", 993).with_host_port("::1", 1143);
        assert!(mail.allows("IMAP.example.com", 993));
        assert!(!mail.allows("imap.example.com", 143));
        assert!(mail.allows("[::1]", 1143));
        assert!(!mail.allows("imap.evil.example", 993));
    }

    #[test]
    fn only_requests_carrying_the_secret_are_checked() {
        let binding = CredentialBinding::new("github", "tok-1234567890", AllowedHosts::names(["api.github.com"]));
        let evil = url("https://evil.example/x");
        assert!(binding.check(&evil, [b"application/json".as_slice()], Some(b"{}")).is_ok());
        let err = binding.check(&evil, [b"Bearer tok-1234567890".as_slice()], None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("evil.example") && msg.contains("api.github.com"), "{msg}");
        assert!(!msg.contains("tok-1234567890"), "{msg}");
        assert!(binding.check(&url("https://evil.example/x?key=tok-1234567890"), [], None).is_err());
        assert!(binding.check(&evil, [], Some(b"{\"k\":\"tok-1234567890\"}")).is_err());
        assert!(binding.check(&url("https://api.github.com/x"), [b"Bearer tok-1234567890".as_slice()], None).is_ok());
        let short = CredentialBinding::new("x", "abc", AllowedHosts::names(["a.example"]));
        assert!(short.check(&evil, [], None).is_err(), "short secrets count as always carried");
    }
}
