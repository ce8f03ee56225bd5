//! Sign-in with an OAuth2 identity: the linking rules, and reading GitHub's and Google's
//! documented user-info answers from a fake server.

mod backend;

use area_core::accounts::{AccountError, Accounts, PasswordHasher};
use area_core::net::{HttpClient, NetConfig};
use area_core::signin::{fetch_identity, provider, sign_in, ProviderIdentity, SignInError, SignInOutcome};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn accounts() -> (tempfile::TempDir, Accounts) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend::open_store(dir.path()).await;
    let accounts = Accounts::new(store).with_hasher(PasswordHasher::new(argon2::Params::new(256, 1, 1, None).unwrap()));
    (dir, accounts)
}

fn identity(subject: &str, email: Option<&str>, verified: bool) -> ProviderIdentity {
    ProviderIdentity {
        provider: "github".into(),
        subject: subject.into(),
        email: email.map(Into::into),
        email_verified: verified,
    }
}

#[tokio::test]
async fn linking_rules_prevent_takeover() {
    let (_dir, accounts) = accounts().await;
    // Unknown identity, verified unused email: a password-less account is created and signed in.
    let created = match sign_in(&accounts, &identity("1", Some("Octo@Example.com"), true), None).await.unwrap() {
        SignInOutcome::Created(session) => session,
        other => panic!("expected Created, got {other:?}"),
    };
    assert_eq!(created.user.email, "octo@example.com");
    assert_eq!(accounts.authenticate(&created.token).await.unwrap(), created.user);
    // That account has no password: password login fails like any wrong password.
    assert!(matches!(
        accounts.login("octo@example.com", "anything-at-all").await,
        Err(AccountError::InvalidCredentials)
    ));

    // Known identity: signs the same user in.
    match sign_in(&accounts, &identity("1", None, false), None).await.unwrap() {
        SignInOutcome::SignedIn(session) => assert_eq!(session.user.id, created.user.id),
        other => panic!("expected SignedIn, got {other:?}"),
    }

    // Unknown identity whose email belongs to a local account: refused (no silent takeover).
    let ada = accounts.register("ada@example.com", "correct horse").await.unwrap();
    let err = sign_in(&accounts, &identity("2", Some("ada@example.com"), true), None).await.unwrap_err();
    assert!(matches!(err, SignInError::EmailTaken(_)), "{err:?}");
    assert!(accounts.user_for_identity("github", "2").await.unwrap().is_none());

    // …but once Ada is signed in, she can link it herself.
    match sign_in(&accounts, &identity("2", Some("ada@example.com"), true), Some(&ada)).await.unwrap() {
        SignInOutcome::Linked(user) => assert_eq!(user.id, ada.id),
        other => panic!("expected Linked, got {other:?}"),
    }
    assert_eq!(accounts.user_for_identity("github", "2").await.unwrap().unwrap().id, ada.id);

    // Unverified or missing email: no account is created.
    for id in [identity("3", Some("eve@example.com"), false), identity("4", None, true)] {
        assert!(matches!(sign_in(&accounts, &id, None).await, Err(SignInError::NoVerifiedEmail { .. })));
    }
    assert_eq!(accounts.list_users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn reads_github_and_google_identities_from_their_documented_answers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", "Bearer gho_test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "name": "The Octocat",
            "email": "octocat@github.example", "site_admin": false, "extra": {"nested": null}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/userinfo"))
        .and(header("authorization", "Bearer ya29.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sub": "110169484474386276334", "email": "ünïcode@example.com", "email_verified": true,
            "picture": "https://lh3.googleusercontent.com/a/x"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", "Bearer expired"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})))
        .mount(&server)
        .await;
    let settings = area_core::settings::Settings::from_pairs([
        ("AREA_GITHUB_BASE_URL", server.uri()),
        ("AREA_GOOGLE_OPENID_BASE_URL", server.uri()),
    ]);
    let http = HttpClient::new(NetConfig::default()).unwrap();

    let github = fetch_identity(&settings, &http, &provider("github").unwrap(), "gho_test").await.unwrap();
    assert_eq!(github.subject, "583231", "the stable numeric id, not the login");
    assert_eq!(github.email.as_deref(), Some("octocat@github.example"));
    let google = fetch_identity(&settings, &http, &provider("google").unwrap(), "ya29.test").await.unwrap();
    assert_eq!(google.subject, "110169484474386276334");
    assert!(google.email_verified);
    let refused = fetch_identity(&settings, &http, &provider("github").unwrap(), "expired").await.unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    assert!(!refused.to_string().contains("expired"), "no token in messages");
    assert!(matches!(provider("myspace"), Err(SignInError::UnknownProvider(_))));
}
