//! The writer's transaction on either back end: the statements of a batch are written once, in
//! SQLite's `?1` style, and run through [`BatchTx`].
//!
//! On SQLite they run on the writer's own rusqlite connection, prepared once and cached. On
//! PostgreSQL they run through the store's pool in one transaction, on the writer's blocking
//! thread (each statement waits on the runtime's handle), with `?N` turned into `$N` once per
//! statement text.

use std::collections::HashMap;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::ToSql;

use crate::store::Backend;

/// Why a batch could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Postgres(#[from] sqlx::Error),
}

/// One statement parameter (the few types the writer binds).
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Int(i64),
    /// A NULL where an integer goes.
    NullInt,
    Text(Option<&'a str>),
    Bool(bool),
}

impl<'a> Param<'a> {
    /// A text parameter, NULL when `None`.
    pub fn text(value: Option<&'a str>) -> Param<'a> {
        Param::Text(value)
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Int(i) => ToSqlOutput::Owned(Value::Integer(i)),
            Param::NullInt | Param::Text(None) => ToSqlOutput::Owned(Value::Null),
            Param::Text(Some(t)) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(t.as_bytes())),
            Param::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(b))),
        })
    }
}

/// The statements a batch runs, on whichever back end holds the data.
pub trait BatchTx {
    /// The back end, for the few statements whose dialects differ.
    fn backend(&self) -> Backend;
    /// Runs a statement; returns the rows it changed.
    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, TxError>;
    /// Runs an `INSERT … RETURNING id`; `None` when it inserted nothing (`ON CONFLICT DO NOTHING`).
    fn insert_returning_id(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<i64>, TxError>;
    /// Runs a statement that returns (at most) one text value, e.g. rows gathered as JSON.
    fn query_text(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<String>, TxError>;
}

/// A batch on the writer's SQLite connection.
pub struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
}

impl<'c> SqliteTx<'c> {
    /// Wraps an open transaction.
    pub fn new(tx: rusqlite::Transaction<'c>) -> SqliteTx<'c> {
        SqliteTx { tx }
    }

    /// Commits the batch.
    pub fn commit(self) -> Result<(), TxError> {
        Ok(self.tx.commit()?)
    }
}

impl BatchTx for SqliteTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, TxError> {
        let changed = self.tx.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(changed as u64)
    }

    fn insert_returning_id(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<i64>, TxError> {
        let mut statement = self.tx.prepare_cached(sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        Ok(rows.next()?.map(|row| row.get(0)).transpose()?)
    }

    fn query_text(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<String>, TxError> {
        let mut statement = self.tx.prepare_cached(sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        Ok(rows.next()?.map(|row| row.get::<_, Option<String>>(0)).transpose()?.flatten())
    }
}

/// A batch in one PostgreSQL transaction, driven from the writer's blocking thread.
pub struct PgTx {
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    handle: tokio::runtime::Handle,
    texts: HashMap<&'static str, String>,
}

impl PgTx {
    /// Opens the transaction (from a blocking thread: this waits on `handle`).
    ///
    /// Every statement of a batch reaches its rows by key, and must keep doing so: a prepared
    /// statement's plan is made once, and one made while `runs` was small scanned the whole
    /// table on every later batch as it grew (a third of the server's time, measured with
    /// `perf`). So within the writer's transactions the planner is told not to scan tables,
    /// in the same round trip as `BEGIN`.
    pub fn begin(pool: &sqlx::AnyPool, handle: &tokio::runtime::Handle) -> Result<PgTx, TxError> {
        let tx = handle.block_on(pool.begin_with("BEGIN; SET LOCAL enable_seqscan = off"))?;
        Ok(PgTx { tx: Some(tx), handle: handle.clone(), texts: HashMap::new() })
    }

    /// Commits the batch.
    pub fn commit(mut self) -> Result<(), TxError> {
        match self.tx.take() {
            Some(tx) => Ok(self.handle.block_on(tx.commit())?),
            None => Ok(()),
        }
    }

    fn query<'q>(
        &'q mut self,
        sql: &'static str,
        params: &[Param<'q>],
    ) -> Result<(sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, &'q mut sqlx::AnyConnection), TxError>
    {
        let text = self.texts.entry(sql).or_insert_with(|| dollar_params(sql));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(text.clone()));
        for param in params {
            query = match *param {
                Param::Int(i) => query.bind(i),
                Param::NullInt => query.bind(None::<i64>),
                Param::Text(t) => query.bind(t),
                Param::Bool(b) => query.bind(b),
            };
        }
        let conn = self.tx.as_deref_mut().ok_or(TxError::Postgres(sqlx::Error::PoolClosed))?;
        Ok((query, conn))
    }
}

impl BatchTx for PgTx {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, TxError> {
        let handle = self.handle.clone();
        let (query, conn) = self.query(sql, params)?;
        Ok(handle.block_on(query.execute(conn))?.rows_affected())
    }

    fn insert_returning_id(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<i64>, TxError> {
        use sqlx::Row;
        let handle = self.handle.clone();
        let (query, conn) = self.query(sql, params)?;
        let row = handle.block_on(query.fetch_optional(conn))?;
        Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
    }

    fn query_text(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Option<String>, TxError> {
        use sqlx::Row;
        let handle = self.handle.clone();
        let (query, conn) = self.query(sql, params)?;
        let row = handle.block_on(query.fetch_optional(conn))?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?.flatten())
    }
}

/// `?1`-style parameters as PostgreSQL's `$1` (the writer's statements hold no `?` elsewhere).
fn dollar_params(sql: &str) -> String {
    sql.replace('?', "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollar_parameters() {
        assert_eq!(dollar_params("UPDATE runs SET a = ?2 WHERE id = ?1"), "UPDATE runs SET a = $2 WHERE id = $1");
    }
}
