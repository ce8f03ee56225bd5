//! Connections authorized with a generated client key ([`AuthKind::ClientKey`], Revolut
//! Business): create the key and certificate, finish the authorization-code grant with a signed
//! assertion, and renew the access token with the refresh token and a fresh assertion before it
//! expires, so that areas keep running unattended.
//!
//! The three steps, as the user lives them:
//! 1. [`Connections::begin_client_key`]: Area creates the key and shows the certificate to upload
//!    at the provider with the (https) redirect URI; the key is sealed at once, so the setup
//!    survives a restart. The connection waits (`needs_reconnect`, saying what is missing).
//! 2. The user uploads it, gets a client id, and consents on [`consent_url`]; the provider
//!    redirects the browser to the redirect URI with `?code=…`.
//! 3. [`Connections::finish_client_key`] with the client id and the address the browser landed
//!    on (or the bare code): the code is exchanged, the tokens sealed with the key.
//!
//! Everything provider-specific (URLs, audience, scope) is data in the service's
//! [`ClientKeyGrant`]; nothing here names a provider.

use serde::{Deserialize, Serialize};

use super::{ConnectionError, ConnectionInfo, Connections, Secret, StoredConnection};
use crate::catalog::{AuthKind, ClientKeyGrant, ServiceManifest};
use crate::client_key::{sign_assertion, AssertionClaims, ClientKey};
use crate::connector::{Credential, HttpRequestSpec, HttpResponseData};
use crate::net::HttpClient;

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest code, client id or redirect URI accepted (all are far shorter in practice).
const MAX_FIELD: usize = 2048;

/// What the user needs to finish a client-key connection: the certificate to upload with the
/// redirect URI, and, once the client id is known, the consent link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ClientKeySetup {
    /// The connection (service) id.
    pub connection_id: String,
    /// The X.509 certificate (PEM) to upload at the provider.
    pub certificate_pem: String,
    /// The redirect URI to register with it.
    pub redirect_uri: String,
    /// The assertion's issuer: the redirect URI's host.
    pub issuer: String,
    /// The client id, once given.
    pub client_id: Option<String>,
    /// Whether the connection holds working tokens (false while waiting for the authorization).
    pub authorized: bool,
}

/// The authorization code, from the address the browser landed on or pasted alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeOrUrl(String);

impl CodeOrUrl {
    /// Reads `input`: a URL must be on the redirect URI's host and carry `code` (an `error`
    /// there is reported as the provider's refusal); anything else must look like a code.
    pub fn parse(input: &str, redirect_uri: &str) -> Result<CodeOrUrl, ConnectionError> {
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_FIELD {
            return Err(invalid(
                "code",
                "paste the address your browser landed on after consenting (it holds ?code=…)",
            ));
        }
        if let Ok(url) = url::Url::parse(input) {
            let expected = url::Url::parse(redirect_uri).ok().and_then(|u| u.host_str().map(str::to_owned));
            if url.host_str().map(str::to_owned) != expected {
                return Err(invalid(
                    "code",
                    format!(
                        "this address is not on {} (the redirect URI registered with the certificate)",
                        expected.unwrap_or_default()
                    ),
                ));
            }
            let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let get = |k: &str| query.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone());
            if let Some(error) = get("error") {
                let detail = get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
                return Err(invalid("code", format!("the provider refused the consent ({error}{detail})")));
            }
            let code = get("code").ok_or_else(|| invalid("code", "this address has no ?code=…: consent again"))?;
            return CodeOrUrl::bare(&code);
        }
        CodeOrUrl::bare(input)
    }

    fn bare(code: &str) -> Result<CodeOrUrl, ConnectionError> {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            return Err(invalid("code", "this is not an authorization code: paste the whole address instead"));
        }
        Ok(CodeOrUrl(code.to_owned()))
    }

    /// The code itself.
    pub fn code(&self) -> &str {
        &self.0
    }
}

/// The consent link for `client_id`: the grant's consent page with the client, the redirect
/// URI, `response_type=code` and the scope as query parameters.
pub fn consent_url(grant: &ClientKeyGrant, client_id: &str, redirect_uri: &str) -> Result<String, ConnectionError> {
    let mut url = url::Url::parse(&grant.consent_url)
        .map_err(|e| invalid("consent_url", format!("the consent URL {:?} is not a URL: {e}", grant.consent_url)))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", grant.scope);
    url.set_fragment(grant.consent_fragment);
    Ok(url.to_string())
}

/// The issuer of assertions for this redirect URI: its host, which must be https.
fn issuer_of(redirect_uri: &str) -> Result<String, ConnectionError> {
    let bad =
        |why: &str| invalid("redirect_uri", format!("{why}: give the https address registered as the redirect URI"));
    if redirect_uri.len() > MAX_FIELD {
        return Err(bad("this address is too long"));
    }
    let url = url::Url::parse(redirect_uri).map_err(|_| bad("this is not an address"))?;
    if url.scheme() != "https" {
        return Err(bad("the provider only redirects to https addresses"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad("the address may not carry a user name, a password or a #fragment"));
    }
    url.host_str().map(str::to_owned).ok_or_else(|| bad("the address has no host"))
}

fn client_id_ok(client_id: &str) -> Result<&str, ConnectionError> {
    let id = client_id.trim();
    if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(invalid("client_id", "paste the client id the provider shows next to the uploaded certificate"));
    }
    Ok(id)
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConnectionError {
    ConnectionError::Invalid { field, message: message.into() }
}

/// The tokens a token endpoint answered.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Why a token request failed: refused (the grant or the client is gone) or worth retrying.
enum TokenFailure {
    Refused(String),
    Retry(String),
}

impl Connections {
    /// The service's grant, for a client-key service.
    fn client_key_service(&self, connection_id: &str) -> Result<(ServiceManifest, ClientKeyGrant), ConnectionError> {
        let service =
            self.catalog.service(connection_id).ok_or_else(|| ConnectionError::UnknownService(connection_id.into()))?;
        match (&service.manifest.auth, &service.client_key_grant) {
            (AuthKind::ClientKey, Some(grant)) => Ok((service.manifest.clone(), grant.clone())),
            _ => Err(invalid("service", format!("{} is not connected with a client key", service.manifest.name))),
        }
    }

    /// Step 1: a new key and certificate for `connection_id`, registered with `redirect_uri`.
    /// Any earlier key of this connection is replaced (its areas wait for the new
    /// authorization).
    pub async fn begin_client_key(
        &self,
        user_id: i64,
        connection_id: &str,
        redirect_uri: &str,
    ) -> Result<ClientKeySetup, ConnectionError> {
        let (manifest, _) = self.client_key_service(connection_id)?;
        let redirect_uri = redirect_uri.trim().to_owned();
        let issuer = issuer_of(&redirect_uri)?;
        let common_name = format!("Area for {issuer}");
        let key = tokio::task::spawn_blocking(move || ClientKey::generate(&common_name))
            .await
            .map_err(|e| ConnectionError::ClientKey(crate::client_key::ClientKeyError::Generate(e.to_string())))??;
        let secret = Secret::ClientKey {
            private_key_pem: key.private_key_pem,
            certificate_pem: key.certificate_pem,
            redirect_uri,
            client_id: None,
            access_token: String::new(),
            refresh_token: None,
        };
        self.save(user_id, connection_id, &secret, None, None).await?;
        let reason = format!(
            "waiting for the authorization: upload the certificate in {}, then finish connecting with its client id",
            manifest.name
        );
        self.mark_needs_reconnect(user_id, connection_id, &reason).await?;
        self.client_key_setup(user_id, connection_id)
            .await?
            .ok_or_else(|| ConnectionError::NotConnected(connection_id.into()))
    }

    /// The connection's key setup (certificate, redirect URI, client id), to show it again.
    pub async fn client_key_setup(
        &self,
        user_id: i64,
        connection_id: &str,
    ) -> Result<Option<ClientKeySetup>, ConnectionError> {
        let Some(StoredConnection { secret, .. }) = self.get(user_id, connection_id).await? else { return Ok(None) };
        let Secret::ClientKey { certificate_pem, redirect_uri, client_id, access_token, .. } = secret else {
            return Ok(None);
        };
        Ok(Some(ClientKeySetup {
            connection_id: connection_id.to_owned(),
            issuer: issuer_of(&redirect_uri).unwrap_or_default(),
            certificate_pem,
            redirect_uri,
            client_id,
            authorized: !access_token.is_empty(),
        }))
    }

    /// The consent link for the connection's key and `client_id` (step 3 is given the client id
    /// again: it is stored only once the authorization succeeds).
    pub async fn client_key_consent_url(
        &self,
        user_id: i64,
        connection_id: &str,
        client_id: &str,
    ) -> Result<String, ConnectionError> {
        let (_, grant) = self.client_key_service(connection_id)?;
        let client_id = client_id_ok(client_id)?;
        let setup = self.client_key_setup(user_id, connection_id).await?.ok_or_else(not_begun(connection_id))?;
        consent_url(&grant, client_id, &setup.redirect_uri)
    }

    /// Step 3: exchanges the authorization code (from `code_or_url`) for tokens, proving the
    /// client with an assertion signed by the connection's key, and seals them with it.
    pub async fn finish_client_key(
        &self,
        http: &HttpClient,
        user_id: i64,
        connection_id: &str,
        client_id: &str,
        code_or_url: &str,
        account_label: Option<&str>,
    ) -> Result<ConnectionInfo, ConnectionError> {
        let (manifest, grant) = self.client_key_service(connection_id)?;
        let client_id = client_id_ok(client_id)?.to_owned();
        let Some(StoredConnection {
            secret: Secret::ClientKey { private_key_pem, certificate_pem, redirect_uri, .. },
            ..
        }) = self.get(user_id, connection_id).await?
        else {
            return Err(not_begun(connection_id)());
        };
        let code = CodeOrUrl::parse(code_or_url, &redirect_uri)?;
        let assertion = assertion(&private_key_pem, &redirect_uri, &client_id, &grant)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.code()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        let answer = match self.token_request(http, &manifest, &grant, code.code(), &form).await {
            Ok(answer) => answer,
            Err(TokenFailure::Refused(why) | TokenFailure::Retry(why)) => {
                return Err(ConnectionError::Authorization { service: manifest.name.into(), reason: why })
            }
        };
        let secret = Secret::ClientKey {
            private_key_pem,
            certificate_pem,
            redirect_uri,
            client_id: Some(client_id),
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
        };
        let expires_at = answer.expires_in.map(|s| chrono::Utc::now().timestamp() + s);
        let label = account_label.map(str::trim).filter(|l| !l.is_empty());
        let info = self.save(user_id, connection_id, &secret, label, expires_at).await?;
        tracing::info!(connection = connection_id, user_id, "client-key connection authorized");
        Ok(info)
    }

    /// Renews every healthy client-key connection whose access token is within its grant's
    /// renewal window; returns how many were renewed (other failures are logged and retried).
    pub async fn renew_client_keys(&self, http: &HttpClient) -> Result<usize, ConnectionError> {
        let window = |id: &str| self.client_key_service(id).ok().map(|(_, grant)| grant.renew_within);
        let mut renewed = 0;
        for (user_id, connection_id) in self.due_for_renewal("client_key", window).await? {
            match self.renew_client_key(http, user_id, &connection_id).await {
                Ok(true) => renewed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(connection = %connection_id, user_id, error = %e, "client-key renewal failed"),
            }
        }
        Ok(renewed)
    }

    /// Renews one client-key connection's access token now (its refresh token and a fresh
    /// assertion): `true` when renewed, `false` when the provider refused (the connection then
    /// needs reconnecting and its areas pause with the reason).
    pub async fn renew_client_key(
        &self,
        http: &HttpClient,
        user_id: i64,
        connection_id: &str,
    ) -> Result<bool, ConnectionError> {
        let _single = self.refreshing.lock().await;
        let (manifest, grant) = self.client_key_service(connection_id)?;
        let Some(StoredConnection { secret, .. }) = self.get(user_id, connection_id).await? else {
            return Err(ConnectionError::NotConnected(connection_id.into()));
        };
        let Secret::ClientKey {
            private_key_pem,
            certificate_pem,
            redirect_uri,
            client_id: Some(client_id),
            refresh_token: Some(refresh_token),
            ..
        } = secret
        else {
            let reason = format!("{} cannot be renewed without its authorization: connect it again", manifest.name);
            self.mark_needs_reconnect(user_id, connection_id, &reason).await?;
            return Ok(false);
        };
        let assertion = assertion(&private_key_pem, &redirect_uri, &client_id, &grant)?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        match self.token_request(http, &manifest, &grant, &refresh_token, &form).await {
            Ok(answer) => {
                let expires_at = answer.expires_in.map(|s| chrono::Utc::now().timestamp() + s);
                let secret = Secret::ClientKey {
                    private_key_pem,
                    certificate_pem,
                    redirect_uri,
                    client_id: Some(client_id),
                    access_token: answer.access_token,
                    // A provider that does not rotate refresh tokens answers without one.
                    refresh_token: answer.refresh_token.or(Some(refresh_token)),
                };
                self.save(user_id, connection_id, &secret, None, expires_at).await?;
                tracing::info!(connection = connection_id, user_id, "client-key access token renewed");
                Ok(true)
            }
            Err(TokenFailure::Refused(why)) => {
                let reason = format!("{} refused to renew the access ({why}): connect it again", manifest.name);
                self.mark_needs_reconnect(user_id, connection_id, &reason).await?;
                Ok(false)
            }
            Err(TokenFailure::Retry(why)) => {
                Err(ConnectionError::Renewal { service: manifest.name.into(), reason: why })
            }
        }
    }

    /// POSTs `form` to the grant's token endpoint, the secret it carries (`bound`: the code or
    /// the refresh token) bound to the service's hosts.
    async fn token_request(
        &self,
        http: &HttpClient,
        manifest: &ServiceManifest,
        grant: &ClientKeyGrant,
        bound: &str,
        form: &[(&str, &str)],
    ) -> Result<TokenAnswer, TokenFailure> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = HttpRequestSpec {
            method: "POST".into(),
            url: grant.token_url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: Some(body.into_bytes()),
        };
        let credential = Credential::OAuth2 { access_token: bound.to_owned(), account: None };
        let (client, options) = self.catalog.connection_client(http, manifest, &credential);
        let response = client.send(&request, &options).await.map_err(|e| TokenFailure::Retry(e.to_string()))?;
        read_token_answer(&response)
    }
}

/// A token endpoint's answer: the tokens of a 2xx; a 400/401 is a refusal (RFC 6749 §5.2:
/// `invalid_grant`, `invalid_client`…), anything else is retried later.
fn read_token_answer(response: &HttpResponseData) -> Result<TokenAnswer, TokenFailure> {
    let body: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    if (200..300).contains(&response.status) {
        return body
            .and_then(|b| serde_json::from_value::<TokenAnswer>(b).ok())
            .filter(|a| !a.access_token.is_empty())
            .ok_or_else(|| TokenFailure::Retry("the token endpoint answered without an access token".into()));
    }
    let said = body
        .as_ref()
        .and_then(|b| {
            let text = |k: &str| b.get(k).and_then(|v| v.as_str()).map(|s| s.chars().take(200).collect::<String>());
            match (text("error"), text("error_description").or_else(|| text("message"))) {
                (Some(e), Some(d)) => Some(format!("{e}: {d}")),
                (Some(e), None) => Some(e),
                (None, d) => d,
            }
        })
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    match response.status {
        400 | 401 => Err(TokenFailure::Refused(said)),
        _ => Err(TokenFailure::Retry(said)),
    }
}

fn assertion(
    private_key_pem: &str,
    redirect_uri: &str,
    client_id: &str,
    grant: &ClientKeyGrant,
) -> Result<String, ConnectionError> {
    let issuer = issuer_of(redirect_uri)?;
    let claims = AssertionClaims { issuer: &issuer, subject: client_id, audience: grant.audience };
    Ok(sign_assertion(private_key_pem, &claims)?)
}

fn not_begun(connection_id: &str) -> impl FnOnce() -> ConnectionError + '_ {
    move || {
        invalid(
            "client_id",
            format!("{connection_id} has no certificate yet: create one first and upload it at the provider"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const REDIRECT: &str = "https://example.com/area/revolut";

    #[test]
    fn a_pasted_address_gives_its_code_and_a_foreign_or_refused_one_is_refused() {
        let ok = CodeOrUrl::parse("https://example.com/area/revolut?code=oa_sand_abc-123", REDIRECT).expect("url");
        assert_eq!(ok.code(), "oa_sand_abc-123");
        assert_eq!(CodeOrUrl::parse("  oa_sand_abc  ", REDIRECT).expect("bare").code(), "oa_sand_abc");
        let foreign = CodeOrUrl::parse("https://evil.test/?code=x", REDIRECT).expect_err("foreign host");
        assert!(foreign.to_string().contains("example.com"), "{foreign}");
        let refused = CodeOrUrl::parse("https://example.com/?error=access_denied", REDIRECT).expect_err("refused");
        assert!(refused.to_string().contains("access_denied"), "{refused}");
        assert!(CodeOrUrl::parse("a b&c=d", REDIRECT).is_err());
        assert!(CodeOrUrl::parse("", REDIRECT).is_err());
    }

    #[test]
    fn only_an_https_redirect_uri_names_an_issuer() {
        assert_eq!(issuer_of(REDIRECT).expect("https"), "example.com");
        for bad in ["http://example.com/", "example.com", "https://u:p@example.com/", "https://example.com/#x"] {
            let err = issuer_of(bad).expect_err(bad);
            assert!(matches!(err, ConnectionError::Invalid { field: "redirect_uri", .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn the_consent_link_carries_the_client_and_the_redirect_encoded() {
        let grant = ClientKeyGrant {
            consent_url: "https://business.revolut.com/app-confirm".into(),
            consent_fragment: Some("authorise"),
            token_url: "https://b2b.revolut.com/api/1.0/auth/token".into(),
            audience: "https://revolut.com",
            scope: "READ",
            renew_within: Duration::from_secs(600),
        };
        let url = consent_url(&grant, "client-1", "https://example.com/cb?x=1&y").expect("url");
        assert_eq!(
            url,
            "https://business.revolut.com/app-confirm?client_id=client-1&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1%26y&response_type=code&scope=READ#authorise"
        );
    }

    #[test]
    fn a_token_endpoint_refusal_is_told_apart_from_an_outage() {
        let answer = |status: u16, body: &str| HttpResponseData { status, headers: vec![], body: body.into() };
        let refused = read_token_answer(&answer(400, r#"{"error":"invalid_grant","error_description":"expired"}"#));
        assert!(matches!(refused, Err(TokenFailure::Refused(ref s)) if s == "invalid_grant: expired"));
        assert!(matches!(read_token_answer(&answer(503, "down")), Err(TokenFailure::Retry(ref s)) if s == "HTTP 503"));
        assert!(matches!(read_token_answer(&answer(200, "{}")), Err(TokenFailure::Retry(_))));
        let ok = read_token_answer(&answer(200, r#"{"access_token":"a","expires_in":2399}"#));
        assert!(
            matches!(ok, Ok(TokenAnswer { ref access_token, expires_in: Some(2399), refresh_token: None }) if access_token == "a")
        );
    }
}
