//! The one error type of this crate.

/// A database failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The database URL or pool settings are unusable.
    #[error("database configuration: {0}")]
    Config(String),
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A row would break a unique constraint (a second key with the same `uni_ident`, an
    /// alias that exists).
    #[error("duplicate row: {0}")]
    Duplicate(String),
    /// A stored row does not decode into the model; names the row.
    #[error("row {id:?} of {table} is invalid: {reason}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// The row's primary key.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A row that should exist does not.
    #[error("no {table} row {id:?}")]
    NotFound {
        /// The table.
        table: &'static str,
        /// The key looked for.
        id: String,
    },
    /// Any other database error.
    #[error("database: {0}")]
    Query(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ) => DbError::Duplicate(info.message().to_owned()),
            other => DbError::Query(other.to_string()),
        }
    }
}
