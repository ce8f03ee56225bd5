//! `github` service: reading saved API responses, building poll requests, and each reaction
//! against a local wiremock server.
//!
//! `AREA_GITHUB_BASE_URL` is process-global and tests run in parallel, so every test that needs
//! the fake API shares ONE mock server (started once, the variable set once to its URI) and uses
//! its own repository path with scoped mocks, so tests never see each other's requests.

mod kit;

use kit::{params, NoNotifier};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use area_core::catalog::{ActionKind, AuthKind};
use area_core::connector::{
    ConnectorError, Credential, ErrorClass, Event, HttpResponseData, Notifier, PollContext, PolledAction, Reaction,
    ReactionContext, ReactionOutput,
};
use area_core::net::{HttpClient, NetConfig};
use area_core::services::github;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;

static SERVER: OnceCell<MockServer> = OnceCell::const_new();

/// The settings pointing the services at the fake server (none until it started).
static SETTINGS: std::sync::OnceLock<area_core::settings::Settings> = std::sync::OnceLock::new();

fn settings() -> area_core::settings::Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The shared fake GitHub API (and Discord, for the end-to-end test): `AREA_GITHUB_BASE_URL`
/// and `AREA_DISCORD_BASE_URL` point at it from the first call on.
async fn server() -> &'static MockServer {
    SERVER
        .get_or_init(|| async {
            let server = MockServer::start().await;
            let _ = SETTINGS.set(area_core::settings::Settings::from_pairs([
                ("AREA_GITHUB_BASE_URL", server.uri()),
                ("AREA_DISCORD_BASE_URL", server.uri()),
            ]));
            server
        })
        .await
}

fn token() -> Credential {
    Credential::ApiKey("ghp_test".into())
}

fn action(id: &str) -> Arc<dyn PolledAction> {
    match github::service(&settings()).actions.get(id) {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("github.{id} is not polled"),
    }
}

fn reaction(id: &str) -> Arc<dyn Reaction> {
    github::service(&settings()).reactions.get(id).cloned().unwrap_or_else(|| panic!("github.{id}"))
}

fn read(action_id: &str, body: &str) -> Result<Vec<Event>, ConnectorError> {
    let p = params(json!({"repo": "octo-org/hello-world"}));
    let cred = token();
    let ctx = PollContext { params: &p, cursor: None, credential: Some(&cred) };
    let resp = HttpResponseData {
        status: 200,
        headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    };
    action(action_id).read(&ctx, &resp).map(|o| o.events)
}

fn keys(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.key.as_str()).collect()
}

/// Shaped like docs.github.com "List repository issues": an issue with labels as objects and
/// extra fields, a pull request (skipped), an issue with nulls and unicode, a minimal issue.
const ISSUES: &str = r#"[
  {
    "id": 2001, "node_id": "I_kwDOA", "url": "https://api.github.com/repos/octo-org/hello-world/issues/12",
    "repository_url": "https://api.github.com/repos/octo-org/hello-world",
    "html_url": "https://github.com/octo-org/hello-world/issues/12", "number": 12, "state": "open",
    "title": "Crash on empty config", "body": "Steps:\n1. run it",
    "user": {"login": "octocat", "id": 1, "type": "User", "site_admin": false},
    "labels": [{"id": 208045946, "name": "bug", "color": "f29513", "default": true}, {"name": "help wanted"}],
    "assignee": null, "assignees": [], "milestone": null, "locked": false, "comments": 0,
    "closed_at": null, "created_at": "2024-03-05T10:30:00Z", "updated_at": "2024-03-05T10:30:00Z",
    "author_association": "OWNER", "reactions": {"total_count": 0}, "some_future_field": {"x": 1}
  },
  {
    "id": 2000, "number": 11, "title": "Add a feature (this is a PR)",
    "html_url": "https://github.com/octo-org/hello-world/pull/11",
    "user": {"login": "hubot"}, "labels": [], "created_at": "2024-03-04T10:30:00Z",
    "pull_request": {"url": "https://api.github.com/repos/octo-org/hello-world/pulls/11", "merged_at": null}
  },
  {
    "id": 1999, "number": 10, "title": "Café ☕ ne marche pas — 日本語", "body": null,
    "html_url": "https://github.com/octo-org/hello-world/issues/10", "user": null,
    "labels": null, "created_at": "2024-03-03T08:00:00Z", "state": "closed"
  },
  {"id": 1998}
]"#;

#[test]
fn reads_issues_skipping_pull_requests() {
    let events = read("new_issue", ISSUES).unwrap();
    assert_eq!(keys(&events), ["2001", "1999", "1998"], "the PR (id 2000) is skipped");
    let first = &events[0].ingredients;
    assert_eq!(first["title"], json!("Crash on empty config"));
    assert_eq!(first["url"], json!("https://github.com/octo-org/hello-world/issues/12"));
    assert_eq!(first["number"], json!(12));
    assert_eq!(first["author"], json!("octocat"));
    assert_eq!(first["body"], json!("Steps:\n1. run it"));
    assert_eq!(first["labels"], json!("bug, help wanted"));
    assert_eq!(first["created_at"], json!("2024-03-05T10:30:00Z"));

    let unicode = &events[1].ingredients;
    assert_eq!(unicode["title"], json!("Café ☕ ne marche pas — 日本語"));
    assert_eq!(unicode["body"], json!(""), "null body is empty text");
    assert_eq!(unicode["author"], json!(""), "null user");
    assert_eq!(unicode["labels"], json!(""), "null labels");

    let minimal = &events[2].ingredients;
    assert_eq!(minimal["number"], json!(null));
    assert_eq!(minimal["title"], json!(""));
    assert_eq!(minimal.len(), 7, "every declared ingredient is present: {minimal:?}");
}

#[test]
fn long_bodies_are_cut() {
    let body = "é".repeat(5000);
    let list = json!([{"id": 1, "number": 1, "title": "t", "body": body}]).to_string();
    let events = read("new_issue", &list).unwrap();
    let cut = events[0].ingredients["body"].as_str().unwrap();
    assert_eq!(cut.chars().count(), github::BODY_MAX_CHARS + 1, "cut plus an ellipsis");
    assert!(cut.ends_with('…'));
}

#[test]
fn an_error_body_in_a_200_is_an_error_not_events() {
    for action_id in ["new_issue", "new_release", "new_star"] {
        let body =
            r#"{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}"#;
        match read(action_id, body) {
            Err(ConnectorError::BadResponse { service, message }) => {
                assert_eq!(service, "github");
                assert!(message.contains("Bad credentials"), "{message}");
            }
            other => panic!("{action_id}: expected BadResponse, got {other:?}"),
        }
        assert!(matches!(read(action_id, "<html>unicorn</html>"), Err(ConnectorError::BadResponse { .. })));
        assert!(matches!(read(action_id, r#"{"total_count": 3}"#), Err(ConnectorError::BadResponse { .. })));
        assert!(read(action_id, "[]").unwrap().is_empty(), "an empty list is fine");
    }
}

const RELEASES: &str = r#"[
  {
    "url": "https://api.github.com/repos/octo-org/hello-world/releases/3", "id": 3,
    "html_url": "https://github.com/octo-org/hello-world/releases/tag/v2.0.0-draft",
    "tag_name": "v2.0.0-draft", "name": "Draft", "draft": true, "prerelease": false,
    "author": {"login": "octocat"}, "published_at": null, "body": "wip"
  },
  {
    "url": "https://api.github.com/repos/octo-org/hello-world/releases/2", "id": 2,
    "html_url": "https://github.com/octo-org/hello-world/releases/tag/v1.1.0",
    "tag_name": "v1.1.0", "target_commitish": "main", "name": "Version 1.1 — « été »", "draft": false,
    "prerelease": true, "created_at": "2024-03-05T10:00:00Z", "published_at": "2024-03-05T10:30:00Z",
    "author": {"login": "octocat", "id": 1}, "assets": [{"browser_download_url": "https://x/y.zip"}],
    "body": "What's new:\n- things", "mentions_count": 2
  },
  {"id": 1, "tag_name": "v1.0.0", "name": null, "body": null, "author": null, "html_url": "https://github.com/octo-org/hello-world/releases/tag/v1.0.0"}
]"#;

#[test]
fn reads_releases_skipping_drafts() {
    let events = read("new_release", RELEASES).unwrap();
    assert_eq!(keys(&events), ["2", "1"], "the draft is skipped");
    let r = &events[0].ingredients;
    assert_eq!(r["name"], json!("Version 1.1 — « été »"));
    assert_eq!(r["tag"], json!("v1.1.0"));
    assert_eq!(r["url"], json!("https://github.com/octo-org/hello-world/releases/tag/v1.1.0"));
    assert_eq!(r["author"], json!("octocat"));
    assert_eq!(r["published_at"], json!("2024-03-05T10:30:00Z"));
    assert_eq!(r["body"], json!("What's new:\n- things"));
    assert_eq!(r["prerelease"], json!(true));
    let bare = &events[1].ingredients;
    assert_eq!(bare["name"], json!("v1.0.0"), "an untitled release is named after its tag");
    assert_eq!(bare["body"], json!(""));
    assert_eq!(bare["author"], json!(""));
    assert_eq!(bare["published_at"], json!(""));
}

#[test]
fn reads_stargazers_in_both_media_types() {
    let star_json = r#"[
      {"starred_at": "2024-01-01T00:00:00Z", "user": {"login": "octocat", "id": 1, "html_url": "https://github.com/octocat", "type": "User"}},
      {"starred_at": null, "user": {"login": "zoé-dev", "html_url": null}},
      {"starred_at": "2024-01-02T00:00:00Z", "user": null}
    ]"#;
    let events = read("new_star", star_json).unwrap();
    assert_eq!(keys(&events), ["octocat", "zoé-dev"], "a star without a user is skipped");
    assert_eq!(events[0].ingredients["user"], json!("octocat"));
    assert_eq!(events[0].ingredients["user_url"], json!("https://github.com/octocat"));
    assert_eq!(events[0].ingredients["starred_at"], json!("2024-01-01T00:00:00Z"));
    assert_eq!(events[1].ingredients["starred_at"], json!(""));

    let plain = r#"[{"login": "hubot", "id": 2, "html_url": "https://github.com/hubot"}]"#;
    let events = read("new_star", plain).unwrap();
    assert_eq!(keys(&events), ["hubot"]);
    assert_eq!(events[0].ingredients["user_url"], json!("https://github.com/hubot"));
}

#[tokio::test]
async fn poll_requests_carry_path_auth_and_api_version() {
    let base = server().await.uri();
    let cred = token();
    let expect_headers = |accept: &str| {
        vec![
            ("Authorization".to_string(), "Bearer ghp_test".to_string()),
            ("Accept".to_string(), accept.to_string()),
            ("X-GitHub-Api-Version".to_string(), "2022-11-28".to_string()),
        ]
    };
    let cases = [
        (
            "new_issue",
            "/repos/octo-org/hello-world/issues?state=all&sort=created&direction=desc&per_page=30",
            "application/vnd.github+json",
        ),
        ("new_release", "/repos/octo-org/hello-world/releases?per_page=30", "application/vnd.github+json"),
        ("new_star", "/repos/octo-org/hello-world/stargazers?per_page=100", "application/vnd.github.star+json"),
    ];
    for (id, path_and_query, accept) in cases {
        for repo in ["octo-org/hello-world", " https://github.com/octo-org/hello-world.git "] {
            let p = params(json!({ "repo": repo }));
            let req = action(id).request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }).unwrap();
            assert_eq!(req.method, "GET");
            assert_eq!(req.url, format!("{base}{path_and_query}"), "{id}");
            assert_eq!(req.headers, expect_headers(accept), "{id}");
            assert!(req.body.is_none());
        }
        let p = params(json!({"repo": "octo-org/hello-world"}));
        match action(id).request(&PollContext { params: &p, cursor: None, credential: None }) {
            Err(ConnectorError::AuthExpired { service }) => assert_eq!(service, "github"),
            other => panic!("{id}: expected AuthExpired without a credential, got {other:?}"),
        }
        for bad in ["octo-org", "octo/hello/world", "../x", "octo/..", "a b/c", "octo/hello?x=1", ""] {
            let p = params(json!({ "repo": bad }));
            match action(id).request(&PollContext { params: &p, cursor: None, credential: Some(&cred) }) {
                Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "repo"),
                other => panic!("{id} {bad:?}: expected BadParams, got {other:?}"),
            }
        }
    }
}

#[test]
fn manifest_declares_a_token_service() {
    let s = github::service(&settings());
    assert_eq!(s.manifest.id, "github");
    assert_eq!(s.manifest.auth, AuthKind::ApiKey);
    assert!(s.manifest.oauth.is_none());
    assert_eq!(s.manifest.connection_id(), Some("github"));
    assert_eq!(github::DEFAULT_BASE_URL, "https://api.github.com");
    assert!(!reaction("create_issue").idempotent(), "GitHub has no idempotency key");
    assert!(!reaction("comment_issue").idempotent());
}

async fn run(id: &str, credential: Option<&Credential>, p: Value) -> Result<ReactionOutput, ConnectorError> {
    server().await;
    let client = HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).unwrap();
    let ctx = ReactionContext {
        http: &client,
        idempotency_key: "area-1:evt-1:0",
        notifier: &NoNotifier,
        allow_private_network: false,
        credential,
    };
    reaction(id).run(&ctx, &params(p)).await
}

fn github_mock(verb: &str, p: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb))
        .and(path(p.to_string()))
        .and(header("authorization", "Bearer ghp_test"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("content-type", "application/json"))
}

#[tokio::test]
async fn create_issue_posts_title_body_and_labels() {
    let guard = github_mock("POST", "/repos/octo-org/create-test/issues")
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 1, "number": 77, "html_url": "https://github.com/octo-org/create-test/issues/77",
            "title": "Nouveau : café ☕", "extra": null
        })))
        .expect(1)
        .mount_as_scoped(server().await)
        .await;
    let cred = token();
    let out = run(
        "create_issue",
        Some(&cred),
        json!({"repo": "octo-org/create-test", "title": "Nouveau : café ☕", "body": "Vu sur {{ url }}", "labels": " bug, ,from-area "}),
    )
    .await
    .unwrap();
    assert_eq!(out.summary, "created issue octo-org/create-test#77");
    assert!(!out.summary.contains("ghp_test"));
    let received = guard.received_requests().await;
    let sent: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(sent, json!({"title": "Nouveau : café ☕", "body": "Vu sur {{ url }}", "labels": ["bug", "from-area"]}));

    // Optional fields left out are not sent at all.
    let guard2 = github_mock("POST", "/repos/octo-org/create-test-2/issues")
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 2, "number": 1})))
        .expect(1)
        .mount_as_scoped(server().await)
        .await;
    run("create_issue", Some(&cred), json!({"repo": "octo-org/create-test-2", "title": "Only a title", "body": ""}))
        .await
        .unwrap();
    let sent: Value = serde_json::from_slice(&guard2.received_requests().await[0].body).unwrap();
    assert_eq!(sent, json!({"title": "Only a title"}));
}

#[tokio::test]
async fn comment_issue_posts_the_body_on_the_numbered_issue() {
    let guard = github_mock("POST", "/repos/octo-org/comment-test/issues/42/comments")
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 9, "body": "Merci !"})))
        .expect(2)
        .mount_as_scoped(server().await)
        .await;
    let cred = Credential::OAuth2 { access_token: "ghp_test".into(), account: None };
    for number in [json!("#42"), json!(42)] {
        let out = run(
            "comment_issue",
            Some(&cred),
            json!({"repo": "octo-org/comment-test", "number": number, "body": "Merci !"}),
        )
        .await
        .unwrap();
        assert_eq!(out.summary, "commented on octo-org/comment-test#42");
    }
    for r in guard.received_requests().await {
        assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), json!({"body": "Merci !"}));
    }
    for bad in [json!("abc"), json!("0"), json!(-3), json!(null)] {
        match run("comment_issue", Some(&cred), json!({"repo": "octo-org/comment-test", "number": bad, "body": "x"}))
            .await
        {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "number"),
            other => panic!("{bad}: expected BadParams, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn reactions_without_a_credential_ask_to_connect_and_send_nothing() {
    let guard = Mock::given(method("POST"))
        .and(path("/repos/octo-org/no-cred/issues"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount_as_scoped(server().await)
        .await;
    match run("create_issue", None, json!({"repo": "octo-org/no-cred", "title": "t"})).await {
        Err(e @ ConnectorError::AuthExpired { .. }) => assert_eq!(e.class(), ErrorClass::NeedsReconnect),
        other => panic!("expected AuthExpired, got {other:?}"),
    }
    drop(guard);
}

async fn create_issue_answered(repo: &str, response: ResponseTemplate) -> ConnectorError {
    let _guard = Mock::given(method("POST"))
        .and(path(format!("/repos/{repo}/issues")))
        .respond_with(response)
        .expect(1)
        .mount_as_scoped(server().await)
        .await;
    let cred = token();
    run("create_issue", Some(&cred), json!({"repo": repo, "title": "t"})).await.expect_err("should fail")
}

#[tokio::test]
async fn error_statuses_are_classified() {
    let err = create_issue_answered(
        "octo-org/err-401",
        ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
    )
    .await;
    assert!(matches!(err, ConnectorError::AuthExpired { ref service } if service == "github"), "{err:?}");
    assert_eq!(err.class(), ErrorClass::NeedsReconnect);

    let err = create_issue_answered(
        "octo-org/err-404",
        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "status": "404"})),
    )
    .await;
    match &err {
        ConnectorError::Status { status: 404, message, .. } => {
            assert!(message.contains("repository octo-org/err-404 not found or not visible to this token"), "{message}")
        }
        other => panic!("expected 404, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = create_issue_answered(
        "octo-org/err-403",
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "4999")
            .set_body_json(json!({"message": "Resource not accessible by personal access token"})),
    )
    .await;
    match &err {
        ConnectorError::Status { status: 403, message, .. } => {
            assert!(message.contains("repository octo-org/err-403"), "{message}");
            assert!(message.contains("Resource not accessible"), "{message}");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn rate_limits_are_retryable_with_the_announced_wait() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    // Primary limit: 403 + x-ratelimit-remaining: 0, wait until x-ratelimit-reset.
    let err = create_issue_answered(
        "octo-org/rl-primary",
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", (now + 120).to_string().as_str())
            .set_body_json(json!({"message": "API rate limit exceeded for user ID 1."})),
    )
    .await;
    match err.class() {
        ErrorClass::Retryable { retry_after: Some(d) } => {
            assert!(d <= Duration::from_secs(120) && d >= Duration::from_secs(110), "{d:?}")
        }
        other => panic!("expected retryable with a wait, got {other:?} ({err:?})"),
    }
    assert!(err.to_string().contains("rate limit"), "{err}");

    // Secondary limit: 403 + retry-after.
    let err = create_issue_answered(
        "octo-org/rl-secondary",
        ResponseTemplate::new(403)
            .insert_header("retry-after", "60")
            .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
    )
    .await;
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(60)) });

    // Plain 429.
    let err =
        create_issue_answered("octo-org/rl-429", ResponseTemplate::new(429).insert_header("retry-after", "30")).await;
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(30)) });

    // 5xx keeps the generic mapping (retryable).
    let err =
        create_issue_answered("octo-org/err-502", ResponseTemplate::new(502).set_body_string("bad gateway")).await;
    assert!(matches!(err, ConnectorError::Status { status: 502, .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: None });
}

#[tokio::test]
async fn an_error_body_in_a_2xx_reaction_answer_is_an_error() {
    let err = create_issue_answered(
        "octo-org/err-200",
        ResponseTemplate::new(200).set_body_json(json!({"message": "Validation Failed", "errors": []})),
    )
    .await;
    match err {
        ConnectorError::BadResponse { message, .. } => assert!(message.contains("Validation Failed"), "{message}"),
        other => panic!("expected BadResponse, got {other:?}"),
    }
    let err =
        create_issue_answered("octo-org/err-html", ResponseTemplate::new(201).set_body_string("<html>oops</html>"))
            .await;
    assert!(matches!(err, ConnectorError::BadResponse { .. }), "{err:?}");
}

#[test]
fn error_for_maps_statuses_without_a_server() {
    let resp = |status: u16, headers: Vec<(&str, &str)>| HttpResponseData {
        status,
        headers: headers.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: br#"{"message":"x"}"#.to_vec(),
    };
    assert!(matches!(github::error_for(&resp(401, vec![]), "repository a/b"), ConnectorError::AuthExpired { .. }));
    let e = github::error_for(&resp(403, vec![("x-ratelimit-remaining", "0")]), "repository a/b");
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: None }, "rate limited without a reset hint");
    let e = github::error_for(&resp(403, vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")]), "r");
    assert_eq!(e.class(), ErrorClass::Retryable { retry_after: Some(Duration::ZERO) }, "a reset in the past");
    let e = github::error_for(&resp(404, vec![]), "issue a/b#3");
    assert!(e.to_string().contains("issue a/b#3 not found"), "{e}");
}

/// The README scenario, through the real engine: a GitHub token stored as a connection, an area
/// "new issue in a repo → Discord webhook message"; the first poll baselines, a new issue fires
/// exactly one message, a pull request never does.
#[tokio::test]
async fn new_issue_to_discord_webhook_end_to_end() {
    use area_core::connections::{Connections, MasterKey, Secret};
    use area_core::engine::Engine;

    let srv = server().await;
    let env = support::Env::new().await;
    let connections = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings()),
    );
    connections.save(env.user_id, "github", &Secret::ApiKey { key: "ghp_e2e".into() }, None, None).await.unwrap();

    let issue = |id: u64, number: u64, title: &str| {
        json!({"id": id, "number": number, "title": title, "user": {"login": "octocat"}, "labels": [],
               "html_url": format!("https://github.com/octo-org/e2e/issues/{number}"),
               "created_at": "2024-03-05T10:30:00Z", "body": null})
    };
    let list_path = "/repos/octo-org/e2e/issues";
    let first = Mock::given(method("GET"))
        .and(path(list_path))
        .and(header("authorization", "Bearer ghp_e2e"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue(10, 1, "Old issue")])))
        .up_to_n_times(1)
        .expect(1)
        .mount_as_scoped(srv)
        .await;
    let later = Mock::given(method("GET"))
        .and(path(list_path))
        .and(header("authorization", "Bearer ghp_e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            issue(12, 3, "Café ☕ broke"),
            {"id": 11, "number": 2, "title": "A PR", "pull_request": {"url": "x"}},
            issue(10, 1, "Old issue")
        ])))
        .mount_as_scoped(srv)
        .await;
    let hook = Mock::given(method("POST"))
        .and(path("/api/webhooks/77/e2e-token"))
        .and(query_param("wait", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1300000000000000000"})))
        .expect(1)
        .mount_as_scoped(srv)
        .await;

    let area = support::spec(json!({
        "name": "issues to discord",
        "action": {"service": "github", "id": "new_issue", "params": {"repo": "octo-org/e2e"}},
        "reactions": [{"service": "discord", "id": "send_webhook", "params": {
            "webhook_url": format!("{}/api/webhooks/77/e2e-token", srv.uri()),
            "content": "New issue #{{ number }}: {{ title }} {{ url }} by {{ author }}"
        }}],
        "allow_private_network": true
    }));
    let area_id = env.add(area).await;
    let notifier: Arc<dyn Notifier> = Arc::new(NoNotifier);

    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), notifier.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.runs_queued, 0, "the first poll only baselines");
    drop(first);

    let report = Engine::run_once(&env.store, support::config_with(true, &settings()), notifier.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.runs_delivered, 1, "{report:?}");
    let sent: Value = serde_json::from_slice(&hook.received_requests().await[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"content": "New issue #3: Café ☕ broke https://github.com/octo-org/e2e/issues/3 by octocat",
               "allowed_mentions": {"parse": []}})
    );
    assert_eq!(env.statuses(area_id).await, ["succeeded"]);

    // Nothing new: nothing more is sent.
    Engine::run_once(&env.store, support::config_with(true, &settings()), notifier).await.unwrap();
    assert_eq!(hook.received_requests().await.len(), 1);
    drop(later);
}

/// The stargazers of a repository with 150 stars, oldest first, 100 a page, with GitHub's
/// `Link` header; the test appends new stars at the end.
#[derive(Clone)]
struct Stargazers {
    stars: Arc<std::sync::Mutex<Vec<Value>>>,
    base: String,
}

impl wiremock::Respond for Stargazers {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        assert_eq!(q.get("per_page").map(String::as_str), Some("100"), "{}", request.url);
        let page: usize = q.get("page").map_or(Ok(1), |p| p.parse()).expect("a numeric page");
        let stars = self.stars.lock().unwrap().clone();
        let last = stars.len().div_ceil(100).max(1);
        let items: Vec<Value> = stars.iter().skip((page - 1) * 100).take(100).cloned().collect();
        let link = |p: usize, rel: &str| format!("<{}?per_page=100&page={p}>; rel=\"{rel}\"", self.base);
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
            links.push(link(1, "first"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        let mut answer = ResponseTemplate::new(200).set_body_json(items);
        if !links.is_empty() {
            answer = answer.insert_header("link", links.join(", ").as_str());
        }
        answer
    }
}

fn stargazer(login: &str, starred_at: &str) -> Value {
    json!({"starred_at": starred_at, "user": {"login": login, "id": 1, "html_url": format!("https://github.com/{login}")}})
}

/// GitHub lists stargazers oldest first (docs.github.com/rest/activity/starring), so on a
/// repository with more than 100 stars a new star is on the last page: the action follows
/// `Link: rel="last"` there. Through the engine: the baseline, the old stars of the last page
/// (never fired), one new star at the end fired exactly once, then nothing twice.
#[tokio::test]
async fn new_star_reads_the_last_page_of_a_large_repository() {
    use area_core::connections::{Connections, MasterKey, Secret};
    use area_core::engine::Engine;

    let srv = server().await;
    let env = support::Env::new().await;
    let connections = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings()),
    );
    connections.save(env.user_id, "github", &Secret::ApiKey { key: "ghp_stars".into() }, None, None).await.unwrap();
    let stars_path = "/repos/octo-org/popular/stargazers";
    let stars: Vec<Value> = (0..150)
        .map(|i| stargazer(&format!("fan{i}"), &format!("2020-01-01T{:02}:{:02}:00Z", i / 60, i % 60)))
        .collect();
    let fake = Stargazers { stars: Arc::new(std::sync::Mutex::new(stars)), base: format!("{}{stars_path}", srv.uri()) };
    let listing = Mock::given(method("GET"))
        .and(path(stars_path))
        .and(header("authorization", "Bearer ghp_stars"))
        .and(header("accept", "application/vnd.github.star+json"))
        .respond_with(fake.clone())
        .mount_as_scoped(srv)
        .await;
    let area = env
        .add(support::spec(json!({
            "name": "stars",
            "action": {"service": "github", "id": "new_star", "params": {"repo": "octo-org/popular"}},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ user }}"}}]
        })))
        .await;
    let recorder = support::RecordingNotifier::new();
    let poll = || async {
        let report =
            Engine::run_once(&env.store, support::config_with(true, &settings()), recorder.clone()).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    };
    poll().await;
    poll().await;
    assert_eq!(recorder.count(), 0, "old stars never fire: {:?}", recorder.shown.lock().unwrap());
    let now = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    fake.stars.lock().unwrap().push(stargazer("newfan", &now));
    poll().await;
    poll().await;
    let titles: Vec<String> = recorder.shown.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(titles, ["newfan"], "the new star on page 2 fires exactly once");
    assert_eq!(env.state(area).await.last_error, None);
    let pages: Vec<String> = listing
        .received_requests()
        .await
        .iter()
        .map(|r| r.url.query_pairs().find(|(k, _)| k == "page").map(|(_, v)| v.into_owned()).unwrap_or_default())
        .collect();
    assert_eq!(pages.last().map(String::as_str), Some("2"), "the last page is read: {pages:?}");
}
