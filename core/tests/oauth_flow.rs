//! The whole OAuth2 flow of `area_core::oauth` against a real authorization server on loopback:
//! `oidc-provider` (npm), started from `tests/oauth-server/server.mjs`. Its clients require
//! PKCE S256, match loopback redirects on any port, rotate refresh tokens (public client) and
//! revoke the grant when a rotated refresh token or a code is replayed.
//!
//! Needs Node.js and `npm ci --prefix tests/oauth-server` (scripts/test.sh does it). Without
//! them the tests fail with that instruction; they never skip silently.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use area_core::catalog::LoopbackHost;
use area_core::oauth::{self, LoopbackListener, OAuthClientConfig, OAuthError, OAuthTokens, PendingAuth};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command};

const PUBLIC_CLIENT: &str = "area-test";
/// A public client registered like an Entra ID desktop app: `http://localhost/callback`.
const ENTRA_LIKE_CLIENT: &str = "area-test-entra";
const CONFIDENTIAL_CLIENT: &str = "area-test-confidential";
const CONFIDENTIAL_SECRET: &str = "test-only-secret";

/// A running `oidc-provider`; killed when dropped.
struct OidcServer {
    child: Child,
    issuer: String,
    auth_url: String,
    token_url: String,
    userinfo_url: String,
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oauth-server")
}

async fn spawn_server() -> OidcServer {
    let dir = server_dir();
    assert!(
        dir.join("node_modules/oidc-provider/package.json").is_file(),
        "the OAuth test server is not installed: run `npm ci --prefix tests/oauth-server` from the \
         repository root (scripts/test.sh does it; Node.js comes from scripts/setup.sh)"
    );
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .stdin(Stdio::piped()) // the server exits when this closes, even if the test is killed
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js 20+ (scripts/setup.sh does)"));

    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err_pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // Read stdout until READY, then keep draining it so the server never blocks on a full pipe.
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("READY ") {
                let _ = ready_tx.send(issuer.trim().to_string());
            }
        }
    });
    let ready = tokio::task::spawn_blocking(move || ready_rx.recv_timeout(Duration::from_secs(30))).await.unwrap();
    let mut server = OidcServer {
        child,
        issuer: String::new(),
        auth_url: String::new(),
        token_url: String::new(),
        userinfo_url: String::new(),
    };
    server.issuer = match ready {
        Ok(issuer) => issuer,
        Err(_) => panic!("the OAuth test server did not start; its stderr:\n{}", stderr.lock().unwrap()),
    };
    let issuer = server.issuer.clone();

    // Wait for discovery (RFC 8414 / OIDC) and take the endpoints from it.
    let http = reqwest::Client::new();
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let mut metadata = None;
    for _ in 0..100 {
        if let Ok(response) = http.get(&discovery).send().await {
            if response.status().is_success() {
                metadata = response.json::<serde_json::Value>().await.ok();
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metadata = metadata.expect("the OAuth test server never served its discovery document");
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
    let endpoint = |name: &str| metadata[name].as_str().unwrap_or_else(|| panic!("no {name}")).to_string();
    server.auth_url = endpoint("authorization_endpoint");
    server.token_url = endpoint("token_endpoint");
    server.userinfo_url = endpoint("userinfo_endpoint");
    server
}

impl OidcServer {
    fn config(&self, client_id: &str, secret: Option<&str>) -> OAuthClientConfig {
        OAuthClientConfig {
            provider_id: "oidc-test".into(),
            client_id: client_id.into(),
            client_secret: secret.map(str::to_string),
            auth_url: self.auth_url.clone(),
            token_url: self.token_url.clone(),
            scopes: vec!["openid".into(), "email".into()],
            extra_auth_params: vec![],
            issuer: Some(self.issuer.clone()),
            loopback_host: LoopbackHost::Ip,
        }
    }
}

/// Where following the authorization URL ended.
#[derive(Debug)]
enum Outcome {
    /// The server redirected to the redirect URI: the full callback URL.
    Callback(String),
    /// The server answered without redirecting to it (status, body).
    Stopped(u16, String),
}

/// A minimal browser: follows redirects by hand and keeps cookies (oidc-provider ties the
/// interaction to them); the server's interaction route logs in and consents automatically.
async fn browse(auth_url: &str, redirect_uri: &str) -> Outcome {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut cookies: HashMap<String, String> = HashMap::new();
    let mut url = reqwest::Url::parse(auth_url).unwrap();
    for _ in 0..10 {
        let cookie_header = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut request = http.get(url.clone());
        if !cookie_header.is_empty() {
            request = request.header(reqwest::header::COOKIE, cookie_header);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_string(), value.to_string());
                }
            }
        }
        let status = response.status();
        if !status.is_redirection() {
            return Outcome::Stopped(status.as_u16(), response.text().await.unwrap_or_default());
        }
        let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_string();
        let next = url.join(&location).unwrap();
        if next.as_str().starts_with(redirect_uri) {
            return Outcome::Callback(next.to_string());
        }
        url = next;
    }
    panic!("too many redirects from {auth_url}");
}

async fn callback_for(auth_url: &str, redirect_uri: &str) -> String {
    match browse(auth_url, redirect_uri).await {
        Outcome::Callback(url) => url,
        other => panic!("the authorization did not come back to {redirect_uri}: {other:?}"),
    }
}

/// start → browser → loopback listener → callback URL (nothing exchanged yet).
async fn authorize(cfg: &OAuthClientConfig) -> (PendingAuth, String) {
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect_uri = listener.redirect_uri_for(cfg.loopback_host);
    let (auth_url, pending) = oauth::start(cfg, &redirect_uri).unwrap();
    assert_eq!(pending.redirect_uri, redirect_uri);
    let waiting = tokio::spawn(listener.wait(&pending, Duration::from_secs(30)));
    let location = callback_for(&auth_url, &redirect_uri).await;
    // Deliver the redirect to the loopback listener as the browser would.
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));
    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback, location);
    (pending, callback)
}

async fn connect(cfg: &OAuthClientConfig) -> OAuthTokens {
    let (pending, callback) = authorize(cfg).await;
    oauth::finish(cfg, &pending, &callback).await.unwrap()
}

fn query(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn replace_query(url: &str, name: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == name { value.to_string() } else { v.to_string() }))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

async fn userinfo(server: &OidcServer, access_token: &str) -> reqwest::Response {
    reqwest::Client::new().get(&server.userinfo_url).bearer_auth(access_token).send().await.unwrap()
}

#[tokio::test]
async fn code_pkce_refresh_rotation_and_replay_detection() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);

    let tokens = connect(&cfg).await;
    let first_refresh = tokens.refresh_token.clone().expect("a refresh token");
    assert!(tokens.id_token.is_some(), "an OpenID Connect id_token");
    assert!(tokens.scope.as_deref().unwrap().split(' ').any(|s| s == "openid"), "{tokens:?}");
    let expires_in = tokens.expires_at.unwrap() - chrono::Utc::now().timestamp();
    assert!((590..=600).contains(&expires_in), "expires in {expires_in}s");
    let me = userinfo(&server, &tokens.access_token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["sub"], "alice");
    let shown = format!("{tokens:?}");
    assert!(!shown.contains(&tokens.access_token) && !shown.contains(&first_refresh));

    // Refresh: new access token AND a rotated refresh token.
    let refreshed = oauth::refresh(&cfg, &first_refresh).await.unwrap();
    let second_refresh = refreshed.refresh_token.clone().unwrap();
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_ne!(second_refresh, first_refresh, "public clients get rotated refresh tokens");
    assert_eq!(userinfo(&server, &refreshed.access_token).await.status(), 200);

    // Replaying the old refresh token is invalid_grant (→ "needs reconnect") …
    let replay = oauth::refresh(&cfg, &first_refresh).await.unwrap_err();
    assert!(matches!(replay, OAuthError::InvalidGrant { .. }), "{replay:?}");
    assert!(!replay.to_string().contains(&first_refresh));
    // … and revokes the whole family: the rotated token and its access token die too.
    let after = oauth::refresh(&cfg, &second_refresh).await.unwrap_err();
    assert!(matches!(after, OAuthError::InvalidGrant { .. }), "{after:?}");
    assert_eq!(userinfo(&server, &refreshed.access_token).await.status(), 401);
}

#[tokio::test]
async fn state_mismatch_is_rejected_before_the_code_is_spent() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);
    let (pending, callback) = authorize(&cfg).await;

    let forged = replace_query(&callback, "state", "attacker-state");
    let err = oauth::finish(&cfg, &pending, &forged).await.unwrap_err();
    assert!(matches!(err, OAuthError::StateMismatch), "{err:?}");
    // A response for another sign-in (its own state) is rejected too.
    let (_, other) = oauth::start(&cfg, &pending.redirect_uri).unwrap();
    assert!(matches!(oauth::finish(&cfg, &other, &callback).await, Err(OAuthError::StateMismatch)));

    // Nothing was sent to the server: the genuine callback still works.
    let tokens = oauth::finish(&cfg, &pending, &callback).await.unwrap();
    assert!(!tokens.access_token.is_empty());
}

/// Issue 10 item 7: a forged callback (wrong `state`) reaching the loopback listener first used
/// to consume it, and the real redirect then failed. Now it gets an error page, the listener keeps
/// waiting, and the real sign-in completes.
#[tokio::test]
async fn a_forged_callback_does_not_use_up_the_loopback_listener() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect_uri = listener.redirect_uri();
    let (auth_url, pending) = oauth::start(&cfg, &redirect_uri).unwrap();
    let waiting = tokio::spawn(listener.wait(&pending, Duration::from_secs(30)));

    let forged = reqwest::get(format!("{redirect_uri}?code=attacker-code&state=attacker-state")).await.unwrap();
    assert_eq!(forged.status(), 400);
    let favicon = reqwest::get(redirect_uri.replace("/callback", "/favicon.ico")).await.unwrap();
    assert_eq!(favicon.status(), 404);

    let location = callback_for(&auth_url, &redirect_uri).await;
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    let callback = waiting.await.unwrap().unwrap();
    assert_eq!(callback, location);
    let tokens = oauth::finish(&cfg, &pending, &callback).await.unwrap();
    assert!(!tokens.access_token.is_empty());
}

#[tokio::test]
async fn the_server_requires_the_pkce_verifier() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);
    let (pending, callback) = authorize(&cfg).await;
    let code = query(&callback, "code").unwrap();

    // The token request without `code_verifier`, or with a wrong one, is refused.
    let http = reqwest::Client::new();
    let base = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_CLIENT),
        ("code", code.as_str()),
        ("redirect_uri", pending.redirect_uri.as_str()),
    ];
    let wrong = "x".repeat(43);
    for verifier in [None, Some(wrong.as_str())] {
        let mut form = base.to_vec();
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let response = http.post(&server.token_url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 400, "verifier {verifier:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(["invalid_grant", "invalid_request"].contains(&body["error"].as_str().unwrap()), "{body}");
        assert!(body.get("access_token").is_none());
    }

    // An authorization request without a PKCE challenge is refused by the server, and finish()
    // reports the provider's error.
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect_uri = listener.redirect_uri();
    let (auth_url, pending) = oauth::start(&cfg, &redirect_uri).unwrap();
    let mut url = reqwest::Url::parse(&auth_url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = callback_for(url.as_str(), &redirect_uri).await;
    assert!(query(&callback, "code").is_none());
    let err = oauth::finish(&cfg, &pending, &callback).await.unwrap_err();
    assert!(matches!(&err, OAuthError::Provider { error, .. } if error == "invalid_request"), "{err:?}");
    assert!(err.to_string().contains("PKCE"), "{err}");
}

#[tokio::test]
async fn a_second_callback_with_the_same_code_is_rejected() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);
    let (pending, callback) = authorize(&cfg).await;
    let tokens = oauth::finish(&cfg, &pending, &callback).await.unwrap();

    // The caller drops `pending` after the first finish; should the code come twice anyway,
    // the server refuses it and revokes what the first exchange issued.
    let again = oauth::finish(&cfg, &pending, &callback).await.unwrap_err();
    assert!(matches!(again, OAuthError::InvalidGrant { .. }), "{again:?}");
    let code = query(&callback, "code").unwrap();
    assert!(!again.to_string().contains(&code));
    let refresh = oauth::refresh(&cfg, tokens.refresh_token.as_deref().unwrap()).await.unwrap_err();
    assert!(matches!(refresh, OAuthError::InvalidGrant { .. }), "{refresh:?}");
}

#[tokio::test]
async fn localhost_is_not_127_0_0_1() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);

    // The server: `localhost` does not match the registered http://127.0.0.1/callback.
    let redirect = "http://localhost:53682/callback";
    let (auth_url, _) = oauth::start(&cfg, redirect).unwrap();
    match browse(&auth_url, redirect).await {
        Outcome::Stopped(400, body) => assert!(body.contains("redirect_uri"), "{body}"),
        other => panic!("a localhost redirect was accepted: {other:?}"),
    }

    // The client: a genuine response delivered to localhost instead of 127.0.0.1 is rejected.
    let (pending, callback) = authorize(&cfg).await;
    let moved = callback.replacen("http://127.0.0.1:", "http://localhost:", 1);
    let err = oauth::finish(&cfg, &pending, &moved).await.unwrap_err();
    assert!(matches!(err, OAuthError::RedirectMismatch { .. }), "{err:?}");
    // Another port is another listener.
    let port: u16 = reqwest::Url::parse(&callback).unwrap().port().unwrap();
    let other_port = callback.replacen(&format!(":{port}/"), &format!(":{}/", port.wrapping_add(1).max(1)), 1);
    assert!(matches!(oauth::finish(&cfg, &pending, &other_port).await, Err(OAuthError::RedirectMismatch { .. })));
}

#[tokio::test]
async fn the_issuer_of_the_response_is_checked() {
    let server = spawn_server().await;
    let cfg = server.config(PUBLIC_CLIENT, None);
    let (pending, callback) = authorize(&cfg).await;
    assert_eq!(query(&callback, "iss").as_deref(), Some(server.issuer.as_str()), "RFC 9207 iss");

    let mut other = cfg.clone();
    other.issuer = Some("https://other-issuer.example.test".into());
    let err = oauth::finish(&other, &pending, &callback).await.unwrap_err();
    assert!(matches!(err, OAuthError::IssuerMismatch { .. }), "{err:?}");
    assert!(oauth::finish(&cfg, &pending, &callback).await.is_ok());
}

#[tokio::test]
async fn confidential_client_keeps_its_refresh_token() {
    let server = spawn_server().await;
    let cfg = server.config(CONFIDENTIAL_CLIENT, Some(CONFIDENTIAL_SECRET));
    let tokens = connect(&cfg).await;
    let rt = tokens.refresh_token.clone().unwrap();

    // No rotation: the same refresh token keeps working (and is handed back).
    for _ in 0..2 {
        let refreshed = oauth::refresh(&cfg, &rt).await.unwrap();
        assert_eq!(refreshed.refresh_token.as_deref(), Some(rt.as_str()));
        assert_ne!(refreshed.access_token, tokens.access_token);
    }

    // A wrong client secret is the client's fault, not the grant's.
    let mut wrong = cfg.clone();
    wrong.client_secret = Some("not-the-secret".into());
    let err = oauth::refresh(&wrong, &rt).await.unwrap_err();
    assert!(matches!(&err, OAuthError::TokenEndpoint { error, .. } if error == "invalid_client"), "{err:?}");
    assert!(!err.to_string().contains(&rt) && !err.to_string().contains("not-the-secret"));
}

/// Microsoft Entra ID compares a loopback redirect with the registered one ignoring only the
/// port: host and path must match (AADSTS50011 otherwise), and its portal lets users register
/// `http://localhost/callback`. The test server's `area-test-entra` client is registered that way
/// and matches the same way: a `localhost` redirect signs in, the `127.0.0.1` one is refused.
#[tokio::test]
async fn a_provider_registered_with_localhost_is_sent_a_localhost_redirect() {
    let server = spawn_server().await;
    let mut cfg = server.config(ENTRA_LIKE_CLIENT, None);
    cfg.loopback_host = LoopbackHost::Localhost;
    let (pending, callback) = authorize(&cfg).await;
    assert!(pending.redirect_uri.starts_with("http://localhost:"), "{}", pending.redirect_uri);
    assert!(pending.redirect_uri.ends_with("/callback"));
    let tokens = oauth::finish(&cfg, &pending, &callback).await.unwrap();
    assert!(!tokens.access_token.is_empty());

    let listener = LoopbackListener::bind().await.unwrap();
    let (auth_url, _) = oauth::start(&cfg, &listener.redirect_uri()).unwrap();
    match browse(&auth_url, &listener.redirect_uri()).await {
        Outcome::Stopped(status, body) => {
            assert_eq!(status, 400);
            assert!(body.contains("redirect_uri"), "{body}");
        }
        other => panic!("a 127.0.0.1 redirect was accepted for a localhost registration: {other:?}"),
    }
}

/// The Microsoft identity platform's providers (Teams, Outlook.com mail) ask for the `localhost`
/// redirect their users can register; every other provider for the loopback IP.
#[test]
fn microsoft_is_sent_localhost_and_the_others_the_loopback_ip() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::empty());
    for manifest in catalog.manifests() {
        if let Some(provider) = &manifest.oauth {
            let microsoft = provider.auth_url.starts_with("https://login.microsoftonline.com/");
            let expected = if microsoft { LoopbackHost::Localhost } else { LoopbackHost::Ip };
            assert_eq!(provider.loopback_host, expected, "{}", manifest.id);
        }
    }
}
