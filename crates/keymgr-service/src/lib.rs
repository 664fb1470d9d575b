//! The key manager as a process: its configuration (TOML and `KEYMGR_*` environment), the data
//! directory and its files (PIN file, admin token, SQLite database, all private), the choice
//! and opening of the database and keystore, first-start initialisation and the key generator,
//! and the router state `keymgr serve` serves. The binary parses arguments and calls this; the
//! HTTP crate knows nothing of databases, keystores or files.

#![forbid(unsafe_code)]

mod config;
mod files;
mod oidc;
mod start;

pub use config::{
    ADMIN_TOKEN_FILE, AuditConfig, AuthConfig, ClaimPath, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DatabaseConfig,
    DecryptConfig, HttpConfig, KeysConfig, KeystoreConfig, LifecycleConfig, MIN_FILE_KEYSTORE_PIN_CHARS,
    OidcConfig, OneOrMany, PIN_FILE, PartnersConfig, ServiceConfig, SigningConfig, SubjectConfig,
    TokenIdConfig, ZkConfig,
};
pub use files::write_secret_file;
pub use oidc::OidcBearer;
pub use start::{Started, open_database, open_existing_file_keystore, prepare_data_dir, start};

/// Why the service cannot start: a bad configuration file or setting, a data directory or
/// secret file with the wrong mode, a keystore or database that cannot be opened. The message
/// says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The configuration, a file of the data directory, the keystore or the database.
    #[error("configuration: {0}")]
    Config(String),
}

/// A [`ServiceError::Config`] from anything printable.
fn config_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Config(e.to_string())
}
