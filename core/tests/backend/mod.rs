//! Opens the store under test on the back end the run asks for, so one test serves both:
//! SQLite by default, PostgreSQL when `AREA_TEST_BACKEND=postgres` (with `AREA_TEST_DATABASE_URL`
//! naming a server, as `scripts/pg-cluster.sh` prints). Each store then gets a database of its own
//! on that server, so tests run in parallel without seeing each other's rows.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use area_core::store::{Database, Store};
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

/// A throwaway PostgreSQL cluster of a test's own (`scripts/pg-cluster.sh`), stopped and
/// removed when dropped: for tests that stop the server, or need one whatever the run's back end.
pub struct Cluster {
    /// A URL to its `postgres` database.
    pub url: String,
    dir: std::path::PathBuf,
}

fn pg_cluster(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh");
    std::process::Command::new("bash").arg(script).args(args).output().expect("run scripts/pg-cluster.sh")
}

impl Cluster {
    /// Starts one (Debian's `postgresql` package must be installed: scripts/setup.sh does).
    pub fn start() -> Cluster {
        let out = pg_cluster(&["start"]);
        assert!(
            out.status.success(),
            "cannot start a PostgreSQL cluster (install Debian's postgresql package: scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}='")))
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_string)
                .unwrap_or_else(|| panic!("pg-cluster.sh printed no {name}: {text}"))
        };
        Cluster { url: var("AREA_TEST_DATABASE_URL"), dir: var("AREA_TEST_PG_DIR").into() }
    }

    /// Stops the server (its data stays).
    pub fn pause(&self) {
        let out = pg_cluster(&["pause", &self.dir.to_string_lossy()]);
        assert!(out.status.success(), "pause: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts it again.
    pub fn resume(&self) {
        let out = pg_cluster(&["resume", &self.dir.to_string_lossy()]);
        assert!(out.status.success(), "resume: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_cluster(&["stop", &self.dir.to_string_lossy()]);
    }
}
