//! Connections: one enum over both engines, the pool, per-connection settings, migrations.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::DbError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating ("keymgr" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6b65_796d_6772;

/// A connection to either engine; every query is written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL, schema `keymgr`.
    Postgresql(PgConnection),
    /// SQLite, one file in WAL mode.
    Sqlite(SqliteConnection),
}

/// Which engine a [`crate::Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The engine a URL names: `postgres://` / `postgresql://` or else a SQLite file
    /// (`sqlite://PATH`, `sqlite:PATH` or a plain path).
    pub fn of_url(url: &str) -> (Self, &str) {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Self::Postgres, url)
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            (Self::Sqlite, path)
        } else {
            (Self::Sqlite, url)
        }
    }
}

/// Settings applied to every pooled connection.
#[derive(Debug)]
struct Setup;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for Setup {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        let sql = match conn {
            AnyConnection::Postgresql(_) => "SET search_path TO keymgr; SET TIME ZONE 'UTC';",
            // WAL lets readers run beside the one writer; writers wait up to 30 s for the lock.
            // The busy timeout comes first: the pool opens its connections in parallel, and
            // switching to WAL takes the lock that the others must wait for.
            AnyConnection::Sqlite(_) => {
                "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            }
        };
        conn.batch_execute(sql).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Whether every embedded PostgreSQL migration is recorded as applied, read without DDL (diesel's
/// harness creates its table first, which a role without CREATE rights may not).
fn postgres_up_to_date(pg: &mut PgConnection) -> Result<bool, DbError> {
    use diesel::migration::MigrationSource;
    let fail = |e: String| DbError::Migration(e);
    let table: Option<String> =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
            "to_regclass('keymgr.__diesel_schema_migrations')::text",
        ))
        .get_result(pg)
        .map_err(|e| fail(e.to_string()))?;
    if table.is_none() {
        return Ok(false);
    }
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let applied: Vec<Applied> = diesel::sql_query("SELECT version FROM keymgr.__diesel_schema_migrations")
        .load(pg)
        .map_err(|e| fail(e.to_string()))?;
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
        .map_err(|e| fail(e.to_string()))?;
    Ok(embedded.iter().all(|m| {
        let version = m.name().version().to_string();
        applied.iter().any(|a| a.version == version)
    }))
}

/// The pool type.
pub type ConnectionPool = Pool<ConnectionManager<AnyConnection>>;

/// Opens a pool of `size` connections to `url` and brings the schema up to date.
pub fn open_pool(url: &str, size: u32) -> Result<(ConnectionPool, Backend), DbError> {
    if size == 0 {
        return Err(DbError::Config("pool size must be at least 1".into()));
    }
    let (backend, target) = Backend::of_url(url);
    if target.is_empty() {
        return Err(DbError::Config("empty database URL".into()));
    }
    // Create the schema before the pool sets it as the search path, unless it exists: the
    // application role of a MOSIP deployment may not create schemas.
    if backend == Backend::Postgres {
        let mut conn = <PgConnection as diesel::Connection>::establish(target)
            .map_err(|e| DbError::Connect(e.to_string()))?;
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'keymgr')",
        ))
        .get_result(&mut conn)
        .map_err(|e| DbError::Connect(e.to_string()))?;
        if !exists {
            conn.batch_execute("CREATE SCHEMA IF NOT EXISTS keymgr").map_err(|e| {
                DbError::Migration(format!("{e} (the schema owner runs `keymgr migrate` first)"))
            })?;
        }
    }
    let manager = ConnectionManager::<AnyConnection>::new(target);
    let pool = Pool::builder()
        .max_size(size)
        .connection_customizer(Box::new(Setup))
        .connection_timeout(std::time::Duration::from_secs(30))
        // No ping before every checkout (it doubles the round trips of a lookup); a connection
        // that broke is noticed by the query that fails on it and is not returned to the pool.
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| DbError::Connect(e.to_string()))?;
    let mut conn = pool.get().map_err(|e| DbError::Connect(e.to_string()))?;
    let migrated = match &mut *conn {
        // Replicas starting together take turns: the session lock is held while migrating.
        // Nothing to do, nothing run: a schema brought up to date by its owner (`keymgr
        // migrate`) serves a role without DDL rights, as MOSIP's grants give.
        AnyConnection::Postgresql(pg) => {
            if postgres_up_to_date(pg)? {
                return Ok((pool, backend));
            }
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .map_err(|e| DbError::Migration(e.to_string()))?;
            let result = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop).map_err(|e| {
                format!("{e} (schema keymgr needs this service's migrations: the schema owner runs `keymgr migrate`)")
            });
            let unlocked = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            result.and_then(|()| unlocked.map_err(|e| e.to_string()))
        }
        AnyConnection::Sqlite(lite) => {
            lite.run_pending_migrations(SQLITE_MIGRATIONS).map(drop).map_err(|e| e.to_string())
        }
    };
    migrated.map_err(DbError::Migration)?;
    Ok((pool, backend))
}
