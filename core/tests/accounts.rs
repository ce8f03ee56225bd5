//! Local accounts against a real store in a temporary directory.

mod backend;

use std::sync::Arc;

use area_core::accounts::{AccountError, Accounts, PasswordHasher, FREE_FAILURES};
use area_core::clock::ManualClock;
use area_core::store::Store;
use argon2::Params;
use sqlx::Row;

/// Cheap parameters so the suite stays fast; the product uses OWASP's.
fn fast_hasher() -> PasswordHasher {
    PasswordHasher::new(Params::new(256, 1, 1, None).expect("valid params"))
}

async fn setup() -> (tempfile::TempDir, Store, Accounts, Arc<ManualClock>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = backend::open_store(&dir.path().join("data")).await;
    let clock = ManualClock::new(1_800_000_000);
    let accounts = Accounts::new(store.clone()).with_hasher(fast_hasher()).with_clock(clock.clone());
    (dir, store, accounts, clock)
}

#[tokio::test]
async fn register_normalises_and_stores_argon2id_phc() {
    let (_dir, store, accounts, _) = setup().await;
    let user = accounts.register("  Ada@Example.com ", "correct horse").await.unwrap();
    assert_eq!(user.email, "ada@example.com");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{hash}");
    assert!(!hash.contains("correct horse"));
}

#[tokio::test]
async fn register_rejects_duplicates_bad_email_and_short_password() {
    let (_dir, _store, accounts, _) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    assert!(matches!(
        accounts.register("ADA@example.com", "another one").await,
        Err(AccountError::DuplicateEmail(e)) if e == "ada@example.com"
    ));
    assert!(matches!(accounts.register("not-an-email", "correct horse").await, Err(AccountError::InvalidEmail(_))));
    assert!(matches!(accounts.register("bob@example.com", "short").await, Err(AccountError::PasswordTooShort)));
    assert_eq!(accounts.list_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn login_ok_and_failures_are_indistinguishable() {
    let (_dir, _store, accounts, _) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    let session = accounts.login("ADA@example.com ", "correct horse").await.unwrap();
    assert_eq!(session.user.email, "ada@example.com");
    assert_eq!(session.token.len(), 64, "256-bit token, hex");

    let wrong = accounts.login("ada@example.com", "wrong password").await.unwrap_err();
    let unknown = accounts.login("nobody@example.com", "wrong password").await.unwrap_err();
    assert!(matches!(wrong, AccountError::InvalidCredentials));
    assert!(matches!(unknown, AccountError::InvalidCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
}

#[tokio::test]
async fn unknown_email_still_runs_a_password_verification() {
    let (_dir, _store, accounts, _) = setup().await;
    let before = accounts.hasher().verifications();
    let _ = accounts.login("nobody@example.com", "whatever-password").await;
    assert_eq!(accounts.hasher().verifications(), before + 1);
    let _ = accounts.login("not an email", "whatever-password").await;
    assert_eq!(accounts.hasher().verifications(), before + 2);
}

#[tokio::test]
async fn throttles_after_five_failures_with_growing_delay_and_resets_on_success() {
    let (_dir, _store, accounts, clock) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    for _ in 0..FREE_FAILURES {
        assert!(matches!(accounts.login("ada@example.com", "nope-nope").await, Err(AccountError::InvalidCredentials)));
    }
    // Locked: even the right password is refused, and the error says when to retry.
    let err = accounts.login("ada@example.com", "correct horse").await.unwrap_err();
    match &err {
        AccountError::Throttled { wait_secs, retry_at } => {
            assert_eq!(*wait_secs, 1);
            assert!(retry_at.ends_with('Z'));
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    assert!(err.to_string().contains("try again in 1 s"));
    // After the delay a wrong attempt locks for longer (2 s).
    clock.advance(1);
    assert!(matches!(accounts.login("ada@example.com", "nope-nope").await, Err(AccountError::InvalidCredentials)));
    assert!(matches!(
        accounts.login("ada@example.com", "correct horse").await,
        Err(AccountError::Throttled { wait_secs: 2, .. })
    ));
    clock.advance(2);
    accounts.login("ada@example.com", "correct horse").await.expect("success after the delay");
    // Success reset the count: five more failures before any lock.
    for _ in 0..FREE_FAILURES - 1 {
        let _ = accounts.login("ada@example.com", "nope-nope").await;
    }
    accounts.login("ada@example.com", "correct horse").await.expect("not locked after 4 failures");
}

#[tokio::test]
async fn login_rehashes_when_parameters_change() {
    let (_dir, store, accounts, clock) = setup().await;
    let user = accounts.register("ada@example.com", "correct horse").await.unwrap();
    let stronger = PasswordHasher::new(Params::new(512, 2, 1, None).unwrap());
    let upgraded = Accounts::new(store.clone()).with_hasher(stronger).with_clock(clock.clone());
    upgraded.login("ada@example.com", "correct horse").await.unwrap();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(hash.contains("m=512,t=2,p=1"), "{hash}");
    // Same parameters: no rehash (hash unchanged).
    upgraded.login("ada@example.com", "correct horse").await.unwrap();
    let again: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(hash, again);
}

#[test]
fn default_hasher_uses_owasp_parameters() {
    let hasher = PasswordHasher::default();
    let phc = hasher.hash("correct horse").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(!hasher.needs_rehash(&phc));
    assert!(hasher.needs_rehash("$argon2id$v=19$m=256,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo"));
}

#[tokio::test]
async fn sessions_expire_and_can_be_revoked() {
    let (_dir, store, accounts, clock) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    let session = accounts.login("ada@example.com", "correct horse").await.unwrap();
    assert_eq!(accounts.authenticate(&session.token).await.unwrap().email, "ada@example.com");
    // The token itself is never stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_one(store.pool()).await.unwrap();
    assert_ne!(stored, session.token.as_bytes());
    assert_eq!(stored.len(), 32);

    clock.advance(area_core::accounts::SESSION_TTL_SECS - 1);
    assert!(accounts.authenticate(&session.token).await.is_ok(), "valid until expiry");
    clock.advance(1);
    assert!(matches!(accounts.authenticate(&session.token).await, Err(AccountError::SessionExpired)));

    let second = accounts.login("ada@example.com", "correct horse").await.unwrap();
    accounts.logout(&second.token).await.unwrap();
    assert!(matches!(accounts.authenticate(&second.token).await, Err(AccountError::NotLoggedIn)));
    assert!(matches!(accounts.authenticate("garbage").await, Err(AccountError::NotLoggedIn)));
}

#[tokio::test]
async fn changing_password_revokes_other_sessions() {
    let (_dir, _store, accounts, _) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    let laptop = accounts.login("ada@example.com", "correct horse").await.unwrap();
    let phone = accounts.login("ada@example.com", "correct horse").await.unwrap();
    assert!(matches!(
        accounts.change_password(&laptop.token, "wrong current", "battery staple").await,
        Err(AccountError::InvalidCredentials)
    ));
    accounts.change_password(&laptop.token, "correct horse", "battery staple").await.unwrap();
    assert!(accounts.authenticate(&laptop.token).await.is_ok(), "the session that changed it stays");
    assert!(matches!(accounts.authenticate(&phone.token).await, Err(AccountError::NotLoggedIn)));
    assert!(accounts.login("ada@example.com", "correct horse").await.is_err());
    accounts.login("ada@example.com", "battery staple").await.unwrap();
}

#[tokio::test]
async fn deleting_an_account_deletes_what_it_owns() {
    let (_dir, store, accounts, _) = setup().await;
    let ada = accounts.register("ada@example.com", "correct horse").await.unwrap();
    let bob = accounts.register("bob@example.com", "correct horse").await.unwrap();
    let session = accounts.login("ada@example.com", "correct horse").await.unwrap();
    accounts.login("bob@example.com", "correct horse").await.unwrap();
    accounts.link_identity(ada.id, "github", "12345", Some("ada@github.example")).await.unwrap();
    accounts.delete_user("ADA@example.com").await.unwrap();

    let count = |table: &'static str, user: i64| {
        let pool = store.pool().clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id = $1")))
                .bind(user)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>("n")
        }
    };
    assert_eq!(count("sessions", ada.id).await, 0);
    assert_eq!(count("identities", ada.id).await, 0);
    assert_eq!(count("sessions", bob.id).await, 1, "other users untouched");
    assert!(matches!(accounts.authenticate(&session.token).await, Err(AccountError::NotLoggedIn)));
    assert!(matches!(accounts.delete_user("ada@example.com").await, Err(AccountError::NoSuchUser(_))));
}

#[tokio::test]
async fn identities_link_a_provider_subject_to_one_user() {
    let (_dir, _store, accounts, _) = setup().await;
    let ada = accounts.register("ada@example.com", "correct horse").await.unwrap();
    let bob = accounts.register("bob@example.com", "correct horse").await.unwrap();
    accounts.link_identity(ada.id, "github", "583231", None).await.unwrap();
    assert_eq!(accounts.user_for_identity("github", "583231").await.unwrap().unwrap().id, ada.id);
    assert!(accounts.user_for_identity("google", "583231").await.unwrap().is_none());
    assert!(matches!(
        accounts.link_identity(bob.id, "github", "583231", None).await,
        Err(AccountError::IdentityTaken { .. })
    ));
    let session = accounts.open_session(ada.clone()).await.unwrap();
    assert_eq!(accounts.authenticate(&session.token).await.unwrap(), ada);
}

/// Issue 10 item 6: parallel wrong guesses raced the read-modify-write of `failed_logins` (12 left
/// it at 1, and the right password was accepted right after). Each attempt now claims its slot in
/// one SQL update that also checks the lock, so a burst gets at most FREE_FAILURES verifications,
/// every one of them is counted, and the rest are refused as throttled without verifying.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_logins_are_all_counted_and_lock_the_account() {
    let (_dir, store, accounts, _clock) = setup().await;
    accounts.register("ada@example.com", "correct horse").await.unwrap();
    let before = accounts.hasher().verifications();
    let barrier = Arc::new(tokio::sync::Barrier::new(12));
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let (accounts, barrier) = (accounts.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                accounts.login("ada@example.com", "wrong-guess").await
            })
        })
        .collect();
    let (mut invalid, mut throttled) = (0i64, 0i64);
    for attempt in attempts {
        match attempt.await.expect("login task") {
            Err(AccountError::InvalidCredentials) => invalid += 1,
            Err(AccountError::Throttled { .. }) => throttled += 1,
            other => panic!("a wrong password must fail, got {other:?}"),
        }
    }
    let failed: i64 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE email = 'ada@example.com'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(invalid + throttled, 12);
    assert_eq!(failed, invalid, "every verified wrong guess is counted (no lost update)");
    assert_eq!(invalid, FREE_FAILURES, "the burst got exactly the free attempts, no more");
    assert_eq!(accounts.hasher().verifications() - before, FREE_FAILURES as u64, "locked attempts do not verify");
    assert!(
        matches!(accounts.login("ada@example.com", "correct horse").await, Err(AccountError::Throttled { .. })),
        "the right password is refused while locked"
    );
}

/// An access token's use is noted to the minute, not on every request (each note is a durable
/// write); a revoked token, another user's id and a foreign prefix are refused.
#[tokio::test]
async fn access_tokens_note_their_use_to_the_minute_and_die_when_revoked() {
    let (_dir, _store, accounts, clock) = setup().await;
    let ada = accounts.register("ada@example.com", "correct horse").await.unwrap();
    let bob = accounts.register("bob@example.com", "correct horse").await.unwrap();
    let made = accounts.create_access_token(&ada, "script").await.unwrap();
    let last_used = |accounts: &Accounts| {
        let accounts = accounts.clone();
        let ada = ada.clone();
        async move { accounts.access_tokens(&ada).await.unwrap()[0].last_used_at }
    };
    assert_eq!(last_used(&accounts).await, None);
    assert_eq!(accounts.authenticate_access_token(&made.secret).await.unwrap().id, ada.id);
    let first = last_used(&accounts).await.expect("noted");
    clock.advance(59);
    accounts.authenticate_access_token(&made.secret).await.unwrap();
    assert_eq!(last_used(&accounts).await, Some(first), "not noted again within the minute");
    clock.advance(1);
    accounts.authenticate_access_token(&made.secret).await.unwrap();
    assert_eq!(last_used(&accounts).await, Some(first + 60));

    assert!(matches!(accounts.revoke_access_token(&bob, made.token.id).await, Err(AccountError::NoSuchToken(_))));
    assert!(matches!(accounts.authenticate_access_token("ghp_other").await, Err(AccountError::NotLoggedIn)));
    accounts.revoke_access_token(&ada, made.token.id).await.unwrap();
    assert!(matches!(accounts.authenticate_access_token(&made.secret).await, Err(AccountError::NotLoggedIn)));
}
