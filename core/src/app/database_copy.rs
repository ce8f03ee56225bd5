//! `area database copy --to postgres://…`: this data directory's embedded database copied into
//! the empty PostgreSQL database a cluster will share, as the first step from one `area serve`
//! to several processes (README, "From one server to a cluster").

use super::{check_shared_key, ApiError, App, ErrorCode};
use crate::store::copy::{copy_into, CopyError, CopyReport};
use crate::store::{Backend, Database, Store};

impl App {
    /// Copies this data directory's embedded database into the empty PostgreSQL database at
    /// `url`. Refused while an engine (`area serve`, `area daemon`) runs on this directory, since
    /// what it recorded after the copy would be left behind; and refused unless the cluster can
    /// share this directory's master key (`AREA_MASTER_KEY`, or its `master.key` file): the
    /// copied connections stay sealed with it, and the copy records it as the cluster's key, so
    /// a process started with another key is refused rather than unable to open them.
    pub async fn copy_database_to(&self, url: &str) -> Result<CopyReport, ApiError> {
        let source = &self.inner.store;
        if source.backend() != Backend::Sqlite {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                "the copy reads the embedded database of the data directory: leave out --database (and \
                 AREA_DATABASE_URL), and name the PostgreSQL database with --to",
            ));
        }
        let database = Database::parse(url).map_err(|e| ApiError::new(ErrorCode::Invalid, e.to_string()))?;
        if database == Database::Embedded {
            return Err(ApiError::new(ErrorCode::Invalid, "--to must name a PostgreSQL database (postgres://…)"));
        }
        let _lock = crate::engine::lock_data_dir(source)?;
        let target = Store::open_with(source.dir(), &database).await?;
        check_shared_key(&target, &self.inner.settings).await?;
        let report = copy_into(source, &target).await.map_err(|e| match e {
            CopyError::NotEmpty { .. } | CopyError::WrongBackends(_) => {
                ApiError::new(ErrorCode::Conflict, e.to_string())
            }
            CopyError::Table { .. } | CopyError::Database(_) => ApiError::new(ErrorCode::Internal, e.to_string()),
        })?;
        tracing::info!(tables = report.tables.len(), "copied the embedded database to PostgreSQL");
        Ok(report)
    }
}
