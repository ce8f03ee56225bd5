//! The store: the embedded SQLite database by default, or a PostgreSQL server for a cluster.
//!
//! Opening a store is the one place that decides whether Area may touch a data directory: it
//! refuses read-only directories, directories open to other users that cannot be made
//! owner-only, corrupt files and databases written by a newer Area *before* writing to the
//! database, so a mistake in `--data-dir` never damages data (an existing directory that is too
//! open is tightened to `0700` first). Migrations are embedded in the binary, one set per back
//! end, and applied forward-only when the store opens. On SQLite the journal is WAL with
//! `synchronous=FULL`: a commit is on disk when it returns, which the engine's acknowledgements
//! rely on; PostgreSQL gives the same guarantee with its default `synchronous_commit`.
//!
//! Every query goes through sqlx's `Any` driver with `$1`-style parameters, which both back ends
//! accept, so one SQL text serves both. The few statements that differ by dialect ask
//! [`Store::backend`]. The PostgreSQL back end still keeps a local data directory: the process's
//! own files (session, engine lock, webhook address) live there, never shared state.

pub mod copy;

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "area.db";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
static PG_MIGRATOR: Migrator = sqlx::migrate!("./migrations-postgres");

/// The pool every module queries through (sqlx's `Any` driver, over either back end).
pub type Pool = AnyPool;

/// Which database engine holds the data; the few dialect-specific statements ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded database in the data directory (the default).
    Sqlite,
    /// A PostgreSQL server shared by several Area processes.
    Postgres,
}

/// Where the data lives: the choice `--database` / `AREA_DATABASE_URL` makes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Database {
    /// `area.db` in the data directory.
    #[default]
    Embedded,
    /// A PostgreSQL server, by its `postgres://` URL.
    Postgres(String),
}

impl Database {
    /// Reads a `--database` value: a `postgres://` (or `postgresql://`) URL, or `sqlite` for the
    /// embedded default.
    pub fn parse(value: &str) -> Result<Database, StoreError> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("sqlite") {
            Ok(Database::Embedded)
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(Database::Postgres(value.to_string()))
        } else {
            Err(StoreError::UnknownDatabase)
        }
    }
}

/// Why a store could not be opened or used. Messages are one line and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no data directory could be determined: pass --data-dir DIR or set AREA_DATA_DIR")]
    NoDataDir,
    #[error(
        "the data directory {0} is read-only: make it writable, or choose another with --data-dir / AREA_DATA_DIR"
    )]
    ReadOnly(PathBuf),
    #[error("{0} exists but is not a directory: choose another data directory with --data-dir / AREA_DATA_DIR")]
    NotADirectory(PathBuf),
    #[error("the data directory {path} is open to other users (mode {mode:04o}) and cannot be made owner-only ({source}): run `chmod 700 {path}`, or choose another with --data-dir / AREA_DATA_DIR", path = .path.display())]
    TooOpen { path: PathBuf, mode: u32, source: io::Error },
    #[error("cannot prepare the data directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not a valid Area database (corrupt, or not SQLite): move it aside to start fresh, or restore it from a backup")]
    Corrupt(PathBuf),
    #[error("{path} was written by a newer version of Area (schema {found}, this binary knows up to {known}): upgrade Area, or use another --data-dir")]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    #[error("the database must be a postgres:// URL, or `sqlite` for the embedded database in the data directory")]
    UnknownDatabase,
    #[error(
        "cannot reach the PostgreSQL server ({0}): check --database / AREA_DATABASE_URL and that the server is running"
    )]
    Unreachable(sqlx::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// A handle on the database; cheap to clone (it wraps a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dir: PathBuf,
    backend: Backend,
    /// The PostgreSQL server's URL (for connections outside the pool: `LISTEN`).
    server_url: Option<String>,
}

/// Each PostgreSQL session's settings. A process stopped or hung in the middle of a transaction
/// (SIGSTOP, a debugger, a frozen VM) would keep its row locks for as long as it stays so, and
/// the other processes' claims skip locked rows (`SKIP LOCKED`): its runs would never be taken
/// over, lease or not. The server ends such a session after 10 s instead (the engine's
/// transactions last milliseconds), which releases the locks; the process's late writes are then
/// refused like any write past its lease.
const PG_SESSION_SETTINGS: &str = "SET idle_in_transaction_session_timeout = '10s'";

/// Each SQLite connection's settings (sqlx's `Any` options carry only the file's URL).
/// The busy timeout comes first, so the statements after it wait for another process's lock too.
const SQLITE_PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// The file whose exclusive lock is held while a process migrates the embedded database.
const MIGRATION_LOCK: &str = "migrate.lock";

/// Waits for, then holds, the data directory's migration lock (released when dropped).
async fn lock_for_migration(dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = dir.join(MIGRATION_LOCK);
    let shown = path.clone();
    let lock = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::options().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok::<_, io::Error>(file)
    })
    .await
    .map_err(io::Error::other)
    .and_then(|locked| locked);
    lock.map_err(|source| StoreError::Io { path: shown, source })
}

impl Store {
    /// Opens (creating if needed) the embedded store in `dir`, applying pending migrations.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, &Database::Embedded).await
    }

    /// Opens the store `database` names; `dir` is this process's data directory either way.
    pub async fn open_with(dir: &Path, database: &Database) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        prepare_dir(dir)?;
        match database {
            Database::Embedded => Store::open_sqlite(dir).await,
            Database::Postgres(url) => Store::open_postgres(dir, url).await,
        }
    }

    async fn open_sqlite(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(DB_FILE);
        prepare_db_file(&path)?;

        let url = SqliteConnectOptions::from_str("sqlite:")
            .map_err(StoreError::Database)?
            .filename(&path)
            .create_if_missing(false)
            .to_url_lossy();
        let options = AnyConnectOptions::from_url(&url).map_err(StoreError::Database)?;
        // The window and the tray process open a new data directory at the same moment: one
        // sets it up and migrates while the other waits (SQLite's migrations take no lock).
        let _migrating = lock_for_migration(dir).await?;
        // One connection first, so that a corrupt file is reported as such (the pool would
        // retry it until its timeout).
        let mut probe = options.connect().await.map_err(|e| classify_open_error(e, &path))?;
        probe.execute(SQLITE_PRAGMAS).await.map_err(|e| classify_open_error(e, &path))?;
        probe.close().await.map_err(StoreError::Database)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) }))
            // A connection to a local file cannot go stale the way a network one can, and the
            // default check before every acquire is one more round trip to the connection's
            // worker thread (two context switches) per transaction on the engine's hot path.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| classify_open_error(e, &path))?;

        check_schema_version(&pool, Backend::Sqlite, &path).await?;
        MIGRATOR.run(&pool).await?;
        restrict_sidecar_files(&path);
        Ok(Store { pool, dir: dir.to_path_buf(), backend: Backend::Sqlite, server_url: None })
    }

    async fn open_postgres(dir: &Path, url: &str) -> Result<Store, StoreError> {
        let options = AnyConnectOptions::from_str(url).map_err(|_| StoreError::UnknownDatabase)?;
        // One connection first: its error says why (refused, authentication, no such database)
        // where the pool would only report a timeout.
        let probe = options.connect().await.map_err(StoreError::Unreachable)?;
        probe.close().await.map_err(StoreError::Unreachable)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| Box::pin(async move { conn.execute(PG_SESSION_SETTINGS).await.map(|_| ()) }))
            .connect_with(options)
            .await
            .map_err(StoreError::Unreachable)?;
        let label = PathBuf::from(redacted(url));
        check_schema_version(&pool, Backend::Postgres, &label).await?;
        PG_MIGRATOR.run(&pool).await?;
        Ok(Store { pool, dir: dir.to_path_buf(), backend: Backend::Postgres, server_url: Some(url.to_string()) })
    }

    /// The connection pool, for modules that run their own queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The PostgreSQL server's URL, for a connection of its own (the engine listens there for
    /// edits made by other processes); `None` on the embedded database.
    pub fn server_url(&self) -> Option<&str> {
        self.server_url.as_deref()
    }

    /// Which back end this store is on, for the few statements whose dialects differ.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The data directory this store lives in (the CLI keeps its session file beside it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the pool, flushing the WAL; call before exiting for a tidy shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates `dir` owner-only, or checks an existing one is a writable directory.
fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let io_err = |source| StoreError::Io { path: dir.to_path_buf(), source };
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(StoreError::NotADirectory(dir.to_path_buf())),
        // Mode bits, not just access(2): the owner may be root, who can write anywhere, and a
        // directory marked read-only still means "do not write here".
        Ok(meta) if meta.permissions().readonly() || !owner_writable(&meta) => {
            return Err(StoreError::ReadOnly(dir.to_path_buf()))
        }
        // Other local users must not list or read what Area keeps here.
        Ok(meta) => match crate::paths::restrict_dir(dir) {
            Ok(crate::paths::DirAccess::Private) => {}
            // `info`, not `warn`: Area fixed it, and the CLI keeps stderr to one line on errors.
            Ok(crate::paths::DirAccess::Tightened(old)) => tracing::info!(
                dir = %dir.display(),
                old_mode = format!("{old:04o}"),
                "data directory was open to other users: made it owner-only (0700)"
            ),
            Err(source) => {
                let mode = mode_of(&meta);
                return Err(StoreError::TooOpen { path: dir.to_path_buf(), mode, source });
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir(dir).map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                    StoreError::ReadOnly(dir.to_path_buf())
                }
                _ => io_err(e),
            })?;
        }
        Err(e) => return Err(io_err(e)),
    }
    // A read-only file system or an ACL can still refuse writes: probe for real (never through
    // a link planted at the probe's name).
    let probe = dir.join(".area-write-probe");
    match crate::paths::create_private_file(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) => {
            Err(StoreError::ReadOnly(dir.to_path_buf()))
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(unix)]
fn owner_writable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o200 != 0
}

#[cfg(not(unix))]
fn owner_writable(_meta: &fs::Metadata) -> bool {
    true
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_meta: &fs::Metadata) -> u32 {
    0
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Creates the database file owner-only (SQLite gives its -wal/-shm files the same mode).
fn prepare_db_file(path: &Path) -> Result<(), StoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match fs::metadata(path) {
            Ok(meta) if !meta.is_file() => Err(StoreError::Corrupt(path.to_path_buf())),
            Ok(meta) if meta.permissions().readonly() || !owner_writable(&meta) => {
                Err(StoreError::ReadOnly(path.to_path_buf()))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(StoreError::Io { path: path.to_path_buf(), source: e }),
        },
        Err(e) => Err(StoreError::Io { path: path.to_path_buf(), source: e }),
    }
}

/// Tightens the WAL and shared-memory files too, in case they pre-existed with a looser mode.
fn restrict_sidecar_files(db: &Path) {
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = fs::set_permissions(PathBuf::from(name), fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = db;
}

/// SQLITE_NOTADB (26) and SQLITE_CORRUPT (11) mean the file is not a usable database.
fn classify_open_error(e: sqlx::Error, path: &Path) -> StoreError {
    if is_corruption(&e) {
        StoreError::Corrupt(path.to_path_buf())
    } else {
        StoreError::Database(e)
    }
}

fn is_corruption(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("26") | Some("11"))
                || db.message().contains("not a database")
                || db.message().contains("malformed")
        }
        _ => false,
    }
}

/// A database URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "the PostgreSQL database".to_string(),
    }
}

/// Refuses a database whose applied migrations go beyond what this binary embeds.
async fn check_schema_version(pool: &AnyPool, backend: Backend, path: &Path) -> Result<(), StoreError> {
    let (lookup, migrator) = match backend {
        Backend::Sqlite => {
            ("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'", &MIGRATOR)
        }
        Backend::Postgres => (
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'",
            &PG_MIGRATOR,
        ),
    };
    let has_table: i64 = sqlx::query_scalar(lookup).fetch_one(pool).await.map_err(|e| classify_open_error(e, path))?;
    if has_table == 0 {
        return Ok(());
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .map_err(|e| classify_open_error(e, path))?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match found {
        Some(found) if found > known => Err(StoreError::NewerSchema { path: path.to_path_buf(), found, known }),
        _ => Ok(()),
    }
}
