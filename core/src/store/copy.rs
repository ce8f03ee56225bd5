//! Copying a whole embedded store into an empty PostgreSQL database: how one server's SQLite
//! data becomes the database a cluster shares (`area database copy --to postgres://…`), with
//! its users, sessions, areas, seen keys, history and sealed connections, ids kept.
//!
//! The copy is one PostgreSQL transaction: it lands whole or not at all. Each column is read
//! and written as the PostgreSQL table declares it (the two schemas are kept alike by
//! `core/tests/postgres_schema.rs`), so SQLite's 0/1 flags become booleans and its blobs
//! `BYTEA`.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Backend, Store};

/// The tables copied, parents before children, so every foreign key holds as rows arrive. Not
/// copied: `poll_claims` (which process reads what this interval: nothing yet) and
/// `master_key_check` (the shells seal it anew with the key the cluster will use).
pub const TABLES: &[&str] =
    &["users", "sessions", "identities", "areas", "seen_events", "runs", "connections", "access_tokens", "invites"];

/// Why a copy did not happen. Nothing is written to the target unless the whole copy commits.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the copy reads the embedded (SQLite) database of a data directory and writes a PostgreSQL one: {0}")]
    WrongBackends(&'static str),
    #[error("the target database already holds Area data ({table} has {rows} rows): copy into an empty database")]
    NotEmpty { table: &'static str, rows: i64 },
    #[error("copying {table}: {source}")]
    Table { table: &'static str, source: sqlx::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How many rows each table received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// One column of a target table, as PostgreSQL declares it.
struct Column {
    name: String,
    kind: Kind,
}

/// How a column's values travel.
#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Boolean,
    Bytes,
    Text,
}

/// Copies every table of `from` (the embedded store) into `to` (an empty PostgreSQL store, its
/// migrations applied), then moves `to`'s id sequences past the copied ids.
pub async fn copy_into(from: &Store, to: &Store) -> Result<CopyReport, CopyError> {
    if from.backend() != Backend::Sqlite {
        return Err(CopyError::WrongBackends("the source is not the embedded database"));
    }
    if to.backend() != Backend::Postgres {
        return Err(CopyError::WrongBackends("the target is not a PostgreSQL database"));
    }
    for &table in TABLES {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(to.pool())
            .await?;
        if rows > 0 {
            return Err(CopyError::NotEmpty { table, rows });
        }
    }
    let mut tx = to.pool().begin().await?;
    let mut report = CopyReport { tables: Vec::new() };
    for &table in TABLES {
        let copied = copy_table(from, &mut tx, table).await.map_err(|source| CopyError::Table { table, source })?;
        report.tables.push((table.to_string(), copied));
    }
    tx.commit().await?;
    Ok(report)
}

/// Copies one table's rows; returns how many.
async fn copy_table(
    from: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &'static str,
) -> Result<u64, sqlx::Error> {
    let columns = target_columns(tx, table).await?;
    let read = columns
        .iter()
        .map(|c| match c.kind {
            // `Any` reads SQLite's BOOLEAN columns only as integers.
            Kind::Boolean => format!("CAST({} AS INTEGER)", c.name),
            _ => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let names = columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let slots = (1..=columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let insert = format!("INSERT INTO {table} ({names}) VALUES ({slots})");
    let select = format!("SELECT {read} FROM {table} ORDER BY rowid");
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(from.pool());
    let mut copied = 0;
    while let Some(row) = rows.try_next().await? {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
        for (i, column) in columns.iter().enumerate() {
            query = match column.kind {
                Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(i)?),
                Kind::Boolean => query.bind(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
                Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(i)?),
                Kind::Text => query.bind(row.try_get::<Option<String>, _>(i)?),
            };
        }
        query.execute(&mut **tx).await?;
        copied += 1;
    }
    if columns.iter().any(|c| c.name == "id") {
        // The next id the table hands out comes after the copied ones.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) AS BIGINT)
             FROM {table}"
        )))
        .fetch_one(&mut **tx)
        .await?;
    }
    Ok(copied)
}

/// The target table's columns in their declared order.
async fn target_columns(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
) -> Result<Vec<Column>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            let (name, kind): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let kind = match kind.as_str() {
                "bigint" | "integer" | "smallint" => Kind::Integer,
                "boolean" => Kind::Boolean,
                "bytea" => Kind::Bytes,
                _ => Kind::Text,
            };
            Ok(Column { name, kind })
        })
        .collect()
}
