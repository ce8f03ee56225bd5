//! The PostgreSQL schema (`core/migrations-postgres`) against the one the embedded SQLite store
//! reaches (`core/migrations`): the same tables, each with the same columns and the same
//! nullability, so the two back ends of the store cannot drift apart. Runs on a real PostgreSQL:
//! the one `AREA_TEST_DATABASE_URL` names, or a throwaway cluster this test starts itself with
//! `scripts/pg-cluster.sh` (Debian's `postgresql` package, installed by `scripts/setup.sh`).

use std::collections::BTreeSet;

mod backend;

use area_core::store::Store;
use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

/// A PostgreSQL to test against: the one `AREA_TEST_DATABASE_URL` names, else a cluster of
/// this test's own (stopped when dropped).
fn postgres() -> (String, Option<backend::Cluster>) {
    match std::env::var("AREA_TEST_DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let cluster = backend::Cluster::start();
            (cluster.url.clone(), Some(cluster))
        }
    }
}

/// (table, column, nullable) of every table of the store but sqlx's own.
type Columns = BTreeSet<(String, String, bool)>;

async fn sqlite_columns() -> Columns {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut columns = Columns::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
            .fetch_all(store.pool())
            .await
            .unwrap();
        for row in rows {
            let (name, not_null, pk): (String, bool, i64) =
                (row.get("name"), row.get::<i64, _>("notnull") != 0, row.get("pk"));
            // An INTEGER PRIMARY KEY is the rowid: never NULL, though not declared so.
            columns.insert((table.clone(), name, !not_null && pk == 0));
        }
    }
    store.close().await;
    columns
}

#[tokio::test]
async fn the_postgres_schema_has_the_tables_and_columns_of_the_sqlite_one() {
    let (url, cluster) = postgres();
    // One connection, so the search path set below holds for the migrations too; a schema of
    // its own, so a shared database is left as it was.
    let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect to PostgreSQL");
    let schema = format!("area_schema_test_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&pool).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&pool).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}"))).execute(&pool).await.unwrap();
    sqlx::migrate!("./migrations-postgres").run(&pool).await.expect("the PostgreSQL migrations apply");

    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name NOT LIKE '\\_sqlx%'",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    let postgres: Columns =
        rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2) == "YES")).collect();
    let sqlite = sqlite_columns().await;
    assert!(!sqlite.is_empty());
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ (table, column, nullable):\n  only in SQLite: {only_sqlite:?}\n  only in PostgreSQL: {only_postgres:?}"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&pool).await.unwrap();
    pool.close().await;
    drop(cluster);
}
