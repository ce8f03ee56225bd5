//! Opens the store under test on the back end the run asks for, so one test serves both:
//! SQLite by default, PostgreSQL when `AREA_TEST_BACKEND=postgres` (with `AREA_TEST_DATABASE_URL`
//! naming a server, as `scripts/pg-cluster.sh` prints). Each store then gets a database of its own
//! on that server, so tests run in parallel without seeing each other's rows.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use area_core::store::{Database, Store};

mod cluster;
#[allow(unused_imports)]
pub use cluster::Cluster;
use sqlx::{Connection, Executor};

/// Whether this run tests the PostgreSQL back end.
pub fn on_postgres() -> bool {
    std::env::var("AREA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The database a new test store should use: embedded, or a fresh PostgreSQL database.
pub async fn fresh_database() -> Database {
    if !on_postgres() {
        return Database::Embedded;
    }
    let server = std::env::var("AREA_TEST_DATABASE_URL")
        .expect("AREA_TEST_BACKEND=postgres needs AREA_TEST_DATABASE_URL (scripts/pg-cluster.sh start prints it)");
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("area_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect to the test PostgreSQL");
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create a test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&server).expect("AREA_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    Database::Postgres(url.to_string())
}

/// Opens a store in `dir` on the back end under test.
pub async fn open_store(dir: &Path) -> Store {
    Store::open_with(dir, &fresh_database().await).await.expect("open the store under test")
}
