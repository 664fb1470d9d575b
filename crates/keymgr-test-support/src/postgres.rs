//! A PostgreSQL server for the database tests, and throw-away databases on it.
//!
//! The server is `KEYMGR_TEST_PG_URL` (without a database name), by default
//! `postgres://postgres@127.0.0.1:5432`. Where it does not answer a test is skipped with a
//! notice, unless `KEYMGR_REQUIRE_PG=1` (set by `.ci/run`) makes that a failure
//! ([`server_or_skip`]).

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionResult, PgConnection};

/// The server tests use when `KEYMGR_TEST_PG_URL` is not set.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// The variable that names another server.
pub const URL_VAR: &str = "KEYMGR_TEST_PG_URL";
/// With this variable set to `1`, a server that does not answer fails a test instead of
/// skipping it.
pub const REQUIRE_VAR: &str = "KEYMGR_REQUIRE_PG";

/// `KEYMGR_TEST_PG_URL`, or [`DEFAULT_SERVER`].
pub fn server_url() -> String {
    server_url_or(DEFAULT_SERVER)
}

/// `KEYMGR_TEST_PG_URL`, or `default`.
pub fn server_url_or(default: &str) -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| default.to_owned())
}

/// A connection to the `postgres` database of `server`, the one to create and drop others from.
pub fn connect_admin(server: &str) -> ConnectionResult<PgConnection> {
    PgConnection::establish(&format!("{server}/postgres"))
}

/// The server to test against ([`server_url`]), or `None` after printing `SKIPPED: ...` when it
/// does not answer; panics instead when `KEYMGR_REQUIRE_PG=1`.
pub fn server_or_skip() -> Option<String> {
    server_at_or_skip(DEFAULT_SERVER, "")
}

/// As [`server_or_skip`] with another default server, asking `<server>/postgres<params>`
/// (`params` such as `?sslmode=disable`, or empty).
pub fn server_at_or_skip(default: &str, params: &str) -> Option<String> {
    let server = server_url_or(default);
    match PgConnection::establish(&format!("{server}/postgres{params}")) {
        Ok(_) => Some(server),
        Err(e) => {
            assert!(
                std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
                "{REQUIRE_VAR}=1 but PostgreSQL at {server} does not answer: {e}"
            );
            println!("SKIPPED: no PostgreSQL at {server} ({e}); set {URL_VAR} to test against one");
            None
        }
    }
}

/// A database created for one test, named `<prefix>_<process id>`, and dropped (`WITH
/// (FORCE)`, whoever is still connected) when this guard goes.
pub struct TestDb {
    server: String,
    name: String,
}

impl TestDb {
    /// Creates the database `<prefix>_<process id>` on `server`, dropping a leftover of that
    /// name first. `prefix` must be a plain SQL identifier.
    pub fn create(server: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin =
            connect_admin(server).unwrap_or_else(|e| panic!("PostgreSQL at {server} does not answer: {e}"));
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap_or_else(|e| panic!("drop database {name}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        Self { server: server.to_owned(), name }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL, `<server>/<name>`.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect_admin(&self.server) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
