//! Opening the store: creation, permissions, and the refusals that protect data.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use area_core::store::{Store, StoreError, DB_FILE};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn creates_owner_only_directory_and_database_in_wal_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("area");
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(DB_FILE)), 0o600);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(store.pool()).await.unwrap();
    assert_eq!(fk, 1);
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(store.pool()).await.unwrap();
    assert!(timeout >= 1000);
    // Write something so the WAL exists, then check its mode too.
    sqlx::query("INSERT INTO users (email, created_at) VALUES ('a@example.com', 0)")
        .execute(store.pool())
        .await
        .unwrap();
    let wal = dir.join(format!("{DB_FILE}-wal"));
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600);
    store.close().await;
    // Reopening applies no migration twice and keeps the data.
    let again = Store::open(&dir).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(again.pool()).await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn refuses_a_read_only_directory_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
    let err = Store::open(&dir).await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("read-only") && msg.contains("--data-dir"), "{msg}");
    assert!(!msg.contains('\n'));
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
}

#[tokio::test]
async fn refuses_a_corrupt_database_and_leaves_it_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DB_FILE);
    let garbage = b"this is not a database, just some bytes that used to be important".repeat(100);
    fs::write(&path, &garbage).unwrap();
    let err = Store::open(tmp.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("move it aside"));
    assert_eq!(fs::read(&path).unwrap(), garbage);
}

#[tokio::test]
async fn refuses_a_database_from_a_newer_version() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (99999, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let err = Store::open(tmp.path()).await.unwrap_err();
    match &err {
        StoreError::NewerSchema { found, .. } => assert_eq!(*found, 99999),
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(err.to_string().contains("upgrade Area"));
}

#[tokio::test]
async fn refuses_a_file_where_the_directory_should_be() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(Store::open(&file).await, Err(StoreError::NotADirectory(_))));
}

/// Issue 10 item 9: an existing data directory stayed 0755, so other local users could list it
/// (and read any file created with a looser mode). It is now tightened to 0700 when opened.
#[tokio::test]
async fn an_existing_loose_data_directory_is_tightened_to_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("loose");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(mode(&dir), 0o700);
    store.close().await;
}

/// Issue 10 item 9: the write probe followed a symlink planted at its path, truncating the file
/// it pointed to. It is now created with O_EXCL | O_NOFOLLOW; the planted link is removed and
/// its target left as it was.
#[tokio::test]
async fn a_symlink_planted_at_the_write_probe_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let victim = tmp.path().join("victim.txt");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(".area-write-probe")).unwrap();
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious", "the link's target is unchanged");
    assert!(fs::symlink_metadata(dir.join(".area-write-probe")).is_err(), "no probe or link left behind");
    store.close().await;
}

/// A shared directory (world-writable and sticky, like /tmp) is not silently taken over: it is
/// refused, in one line naming the fix, and its mode is left as it was.
#[tokio::test]
async fn a_shared_directory_is_refused_not_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let err = Store::open(&dir).await.unwrap_err();
    assert!(matches!(err, StoreError::TooOpen { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("chmod 700") && msg.contains("--data-dir") && !msg.contains('\n'), "{msg}");
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o1777, "left untouched");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
}

/// The desktop app's window and its tray process open a new data directory at the same moment:
/// both must open it (one migrates, the other waits), never fail on a half-applied migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_opening_a_new_data_directory_at_once_all_succeed() {
    for _ in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.clone();
                tokio::spawn(async move { Store::open(&dir).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().unwrap_or_else(|e| panic!("a concurrent open failed: {e}"));
            store.close().await;
        }
    }
}
