//! Connections: sealed at rest, bound to their row, and the pause/resume of the areas using them.

mod backend;

use std::collections::BTreeMap;

use area_core::accounts::{Accounts, PasswordHasher};
use area_core::catalog::{
    AuthKind, Availability, Catalog, LoopbackHost, OAuthProvider, ReactionManifest, Service, ServiceManifest,
};
use area_core::connections::{ConnectionError, Connections, MasterKey, Secret};
use area_core::connector::Credential;
use area_core::store::{Store, DB_FILE};
use serde_json::json;

const CANARY_KEY: &str = "CANARY-apikey-7f3e9b1c2d";
const CANARY_ACCESS: &str = "CANARY-access-4a5b6c7d8e";
const CANARY_REFRESH: &str = "CANARY-refresh-9z8y7x6w5v";

fn service(id: &'static str, auth: AuthKind, oauth: Option<OAuthProvider>) -> Service {
    let notify = area_core::services::notify::service();
    Service {
        manifest: ServiceManifest {
            id,
            name: id,
            description: "test",
            auth,
            credential_hosts: vec![],
            oauth,
            availability: Availability::Available,
            actions: vec![],
            reactions: vec![ReactionManifest { id: "send", name: "Send", description: "d", params: vec![] }],
        },
        actions: BTreeMap::new(),
        reactions: BTreeMap::from([("send", notify.reactions["send"].clone())]),
        account_check: None,
        token_renewal: None,
        quota: None,
        client_key_grant: None,
    }
}

fn provider() -> OAuthProvider {
    OAuthProvider {
        id: "acme",
        auth_url: "https://a/auth",
        token_url: "https://a/token",
        scopes: vec![],
        extra_auth_params: vec![],
        loopback_host: LoopbackHost::Ip,
    }
}

fn catalog() -> Catalog {
    Catalog::new(vec![
        service("keyed", AuthKind::ApiKey, None),
        service("mail", AuthKind::OAuth2, Some(provider())),
        service("files", AuthKind::OAuth2, Some(provider())),
        area_core::services::notify::service(),
    ])
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    database: area_core::store::Database,
    store: Store,
    connections: Connections,
    user: i64,
    other: i64,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let database = backend::fresh_database().await;
    let store = Store::open_with(&path, &database).await.unwrap();
    let accounts =
        Accounts::new(store.clone()).with_hasher(PasswordHasher::new(argon2::Params::new(256, 1, 1, None).unwrap()));
    let user = accounts.register("ada@example.com", "correct horse").await.unwrap().id;
    let other = accounts.register("bob@example.com", "correct horse").await.unwrap().id;
    let key = MasterKey::load(&path).unwrap();
    let connections = Connections::new(store.clone(), key, catalog());
    Fixture { _dir: dir, path, database, store, connections, user, other }
}

fn area_using(service: &str) -> area_core::areas::AreaSpec {
    let value = json!({
        "name": format!("uses {service}"),
        "action": {"service": "notify", "id": "send", "params": {}},
        "reactions": [{"service": service, "id": "send", "params": {}}]
    });
    // These services have no actions: the rows are stored directly (no engine runs here).
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn secrets_are_sealed_and_never_stored_in_plaintext() {
    let f = fixture().await;
    f.connections.save(f.user, "keyed", &Secret::ApiKey { key: CANARY_KEY.into() }, Some("ada"), None).await.unwrap();
    let oauth = Secret::Oauth2 {
        access_token: CANARY_ACCESS.into(),
        refresh_token: Some(CANARY_REFRESH.into()),
        scope: Some("read".into()),
        account: None,
    };
    f.connections.save(f.user, "acme", &oauth, None, Some(chrono::Utc::now().timestamp() + 3600)).await.unwrap();
    // Replacing rewrites the row: the old ciphertext must not leave plaintext either.
    f.connections.save(f.user, "keyed", &Secret::ApiKey { key: format!("{CANARY_KEY}-2") }, None, None).await.unwrap();

    let stored = f.connections.get(f.user, "keyed").await.unwrap().unwrap();
    assert_eq!(stored.secret.credential(), Credential::ApiKey(format!("{CANARY_KEY}-2")));
    assert!(!format!("{stored:?}").contains("CANARY"), "Debug never prints secrets");
    let oauth_back = f.connections.get(f.user, "acme").await.unwrap().unwrap();
    assert_eq!(oauth_back.secret, oauth);

    f.store.close().await;
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")] {
        let Ok(bytes) = std::fs::read(f.path.join(&name)) else { continue };
        for canary in [CANARY_KEY, CANARY_ACCESS, CANARY_REFRESH] {
            assert!(!bytes.windows(canary.len()).any(|w| w == canary.as_bytes()), "{canary} found in {name}");
        }
    }
}

#[tokio::test]
async fn tampered_or_moved_ciphertexts_fail_closed() {
    let f = fixture().await;
    f.connections.save(f.user, "keyed", &Secret::ApiKey { key: CANARY_KEY.into() }, None, None).await.unwrap();
    f.connections.save(f.other, "keyed", &Secret::ApiKey { key: "bob-key".into() }, None, None).await.unwrap();

    // Moved: Ada's ciphertext copied into Bob's row.
    sqlx::query(
        "UPDATE connections SET secret = (SELECT secret FROM connections WHERE user_id = $1) WHERE user_id = $2",
    )
    .bind(f.user)
    .bind(f.other)
    .execute(f.store.pool())
    .await
    .unwrap();
    assert!(matches!(f.connections.get(f.other, "keyed").await, Err(ConnectionError::Crypto(_))));

    // Flipped: one byte of Ada's ciphertext changed.
    let mut sealed: Vec<u8> = sqlx::query_scalar("SELECT secret FROM connections WHERE user_id = $1")
        .bind(f.user)
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    sealed[30] ^= 0x01;
    sqlx::query("UPDATE connections SET secret = $1 WHERE user_id = $2")
        .bind(&sealed)
        .bind(f.user)
        .execute(f.store.pool())
        .await
        .unwrap();
    let err = f.connections.get(f.user, "keyed").await.unwrap_err();
    assert!(err.to_string().contains("reconnect"), "{err}");

    // Another install's key cannot open anything.
    let stranger = Connections::new(f.store.clone(), MasterKey::from_bytes([9; 32]), catalog());
    f.connections.save(f.user, "acme", &Secret::ApiKey { key: "k".into() }, None, None).await.unwrap();
    assert!(stranger.get(f.user, "acme").await.is_err());
}

#[tokio::test]
async fn refused_credentials_pause_areas_and_reconnecting_resumes_them() {
    let f = fixture().await;
    f.connections.save(f.user, "acme", &Secret::ApiKey { key: "old".into() }, None, None).await.unwrap();
    // Two areas share the `acme` provider through different services; one uses nothing.
    let mut ids = Vec::new();
    for service in ["mail", "files", "notify"] {
        ids.push(insert_raw(&f, &area_using(service)).await);
    }
    f.connections
        .mark_needs_reconnect(f.user, "acme", "acme refused the credentials: run `area connect acme`")
        .await
        .unwrap();
    let list = f.connections.list(f.user).await.unwrap();
    assert_eq!(list[0].status, "needs_reconnect");
    assert!(list[0].reason.as_deref().unwrap().contains("area connect acme"));
    assert_eq!(paused(&f, ids[0]).await.as_deref(), Some("acme refused the credentials: run `area connect acme`"));
    assert!(paused(&f, ids[1]).await.is_some());
    assert_eq!(paused(&f, ids[2]).await, None, "an area that does not use the connection runs on");

    f.connections.save(f.user, "acme", &Secret::ApiKey { key: "new".into() }, None, None).await.unwrap();
    assert_eq!(f.connections.list(f.user).await.unwrap()[0].status, "ok");
    assert_eq!(paused(&f, ids[0]).await, None);
    assert_eq!(paused(&f, ids[1]).await, None);
    let baselined: i64 = sqlx::query_scalar("SELECT CAST(baselined AS INTEGER) FROM areas WHERE id = $1")
        .bind(ids[0])
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    assert_eq!(baselined, 0, "resumed areas baseline again");

    f.connections.remove(f.user, "acme").await.unwrap();
    assert!(paused(&f, ids[0]).await.unwrap().contains("area connect acme"));
    assert!(matches!(f.connections.remove(f.user, "acme").await, Err(ConnectionError::NotConnected(_))));
}

/// Issue 11 item 4: what ends a pause when the connection is made again is the pause's cause,
/// a stored value, not the words of its reason: a failure pause whose last error happens to
/// name the command stays, a credentials pause worded otherwise ends.
#[tokio::test]
async fn connecting_ends_credential_pauses_whatever_their_words() {
    let f = fixture().await;
    let (credentials, failures) =
        (insert_raw(&f, &area_using("mail")).await, insert_raw(&f, &area_using("files")).await);
    for (id, reason, cause) in [
        (credentials, "the key was refused", "credentials"),
        (failures, "paused after 10 consecutive failures; last error: HTTP 500 (run `area connect acme`)", "failures"),
    ] {
        sqlx::query("UPDATE areas SET paused_reason = $1, paused_cause = $2 WHERE id = $3")
            .bind(reason)
            .bind(cause)
            .bind(id)
            .execute(f.store.pool())
            .await
            .unwrap();
    }
    f.connections.save(f.user, "acme", &Secret::ApiKey { key: "k".into() }, None, None).await.unwrap();
    assert_eq!(paused(&f, credentials).await, None);
    assert!(paused(&f, failures).await.is_some(), "a failure pause waits for its owner");
    f.connections.remove(f.user, "acme").await.unwrap();
    assert_eq!(cause(&f, credentials).await.as_deref(), Some("credentials"), "removing pauses for credentials");
    assert_eq!(cause(&f, failures).await.as_deref(), Some("failures"), "an earlier pause keeps its cause");
}

/// Pauses stored by an Area that kept no cause are read once, by the migration that adds it
/// (their reason named the fix, `area connect …`, exactly when credentials were the cause).
#[tokio::test]
async fn pauses_stored_before_causes_were_kept_get_theirs_when_the_store_opens() {
    if backend::on_postgres() {
        return; // PostgreSQL's schema starts where SQLite's migrations have arrived: nothing to upgrade.
    }
    let f = fixture().await;
    let (credentials, failures) =
        (insert_raw(&f, &area_using("mail")).await, insert_raw(&f, &area_using("files")).await);
    // The database as the previous version left it: no cause column, reasons only.
    for sql in ["ALTER TABLE areas DROP COLUMN paused_cause", "DELETE FROM _sqlx_migrations WHERE version = 4"] {
        sqlx::query(sql).execute(f.store.pool()).await.unwrap();
    }
    for (id, reason) in [
        (credentials, "the acme connection was removed: run `area connect acme`"),
        (failures, "paused after 10 consecutive failures; last error: HTTP 500"),
    ] {
        sqlx::query("UPDATE areas SET paused_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(id)
            .execute(f.store.pool())
            .await
            .unwrap();
    }
    f.store.close().await;
    let store = Store::open_with(&f.path, &f.database).await.unwrap();
    let f = Fixture {
        connections: Connections::new(store.clone(), MasterKey::load(&f.path).unwrap(), catalog()),
        store,
        ..f
    };
    assert_eq!(cause(&f, credentials).await.as_deref(), Some("credentials"));
    assert_eq!(cause(&f, failures).await.as_deref(), Some("failures"));
    f.connections.save(f.user, "acme", &Secret::ApiKey { key: "k".into() }, None, None).await.unwrap();
    assert_eq!(paused(&f, credentials).await, None);
    assert!(paused(&f, failures).await.is_some());
}

async fn cause(f: &Fixture, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT paused_cause FROM areas WHERE id = $1").bind(id).fetch_one(f.store.pool()).await.unwrap()
}

async fn insert_raw(f: &Fixture, spec: &area_core::areas::AreaSpec) -> i64 {
    sqlx::query(
        "INSERT INTO areas (user_id, name, definition, action_service, action_id, action_fingerprint, interval_secs,
                            created_at, updated_at) VALUES ($1, $2, $3, 'notify', 'send', 'x', 60, 0, 0) RETURNING id",
    )
    .bind(f.user)
    .bind(&spec.name)
    .bind(serde_json::to_string(spec).unwrap())
    .fetch_one(f.store.pool())
    .await
    .map(|r| sqlx::Row::get(&r, 0))
    .unwrap()
}

async fn paused(f: &Fixture, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT paused_reason FROM areas WHERE id = $1")
        .bind(id)
        .fetch_one(f.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn services_without_auth_or_unknown_are_refused_and_empty_keys_rejected() {
    let f = fixture().await;
    assert!(matches!(f.connections.service("notify"), Err(ConnectionError::NoAuthNeeded(_))));
    assert!(matches!(f.connections.service("nope"), Err(ConnectionError::UnknownService(_))));
    assert_eq!(f.connections.service("files").unwrap().connection_id(), Some("acme"));
    assert!(matches!(
        f.connections.save(f.user, "keyed", &Secret::ApiKey { key: "  ".into() }, None, None).await,
        Err(ConnectionError::EmptySecret)
    ));
    // An OAuth2 connection expiring soon without a refresh token shows as `expires`.
    let soon = chrono::Utc::now().timestamp() + 60;
    let secret = Secret::Oauth2 { access_token: "a".into(), refresh_token: None, scope: None, account: None };
    assert_eq!(f.connections.save(f.user, "acme", &secret, None, Some(soon)).await.unwrap().status, "expires");
    let refreshable =
        Secret::Oauth2 { access_token: "a".into(), refresh_token: Some("r".into()), scope: None, account: None };
    assert_eq!(f.connections.save(f.user, "acme", &refreshable, None, Some(soon)).await.unwrap().status, "ok");
    // Deleting the user deletes the connection.
    sqlx::query("DELETE FROM users WHERE id = $1").bind(f.user).execute(f.store.pool()).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections").fetch_one(f.store.pool()).await.unwrap();
    assert_eq!(n, 0);
}
