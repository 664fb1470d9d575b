//! The one error type of this crate: every way a request can fail, with its MOSIP error code
//! and HTTP status.

use axum::http::StatusCode;
use keymgr_core::KeymgrError;

/// A failed request. MOSIP answers handled errors with HTTP 200 and an `errors` list; this
/// keeps that habit for key-manager errors and uses real statuses where a client or proxy
/// must see one (401, 403, 408, 413, 429, 500, 503).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that is not configured (HTTP 401).
    #[error("authentication failed: a valid bearer token is required")]
    Unauthenticated,
    /// The caller's roles do not include one the endpoint needs (HTTP 403).
    #[error("forbidden: the caller has none of the roles {0}")]
    Forbidden(String),
    /// The body is not JSON, or a field is missing, blank or malformed (`KER-KMS-005`).
    #[error("{0}")]
    InvalidRequest(String),
    /// A date field is not in MOSIP's ISO 8601 form (`KER-KMS-006`).
    #[error("timestamp should be in ISO 8601 format: {0}")]
    InvalidTimestamp(String),
    /// A body larger than the configured limit (HTTP 413, `KER-KMS-005`).
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The service is at its in-flight budget of requests or body bytes (HTTP 503,
    /// `KER-KMS-503`); the client may retry later.
    #[error("service busy: {0}; retry later")]
    Busy(String),
    /// A bounded queue is full (HTTP 429, `KER-KMS-429`).
    #[error("too many requests: {0}; retry later")]
    TooManyRequests(String),
    /// The request took longer than the configured time limit (HTTP 408, `KER-KMS-408`).
    #[error("request timed out")]
    Timeout,
    /// The key manager refused or failed.
    #[error(transparent)]
    Keymgr(#[from] KeymgrError),
    /// The service cannot start: a bad configuration file, keystore or database (not a
    /// request error; `KER-KMA-001` if it ever reaches a response).
    #[error("configuration: {0}")]
    Config(String),
    /// Something failed that is not the caller's doing (HTTP 500, `KER-KMS-500`).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The MOSIP error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "KER-ATH-401",
            Self::Forbidden(_) => "KER-ATH-403",
            Self::InvalidRequest(_) | Self::BodyTooLarge { .. } => "KER-KMS-005",
            Self::InvalidTimestamp(_) => "KER-KMS-006",
            Self::Busy(_) => "KER-KMS-503",
            Self::TooManyRequests(_) => "KER-KMS-429",
            Self::Timeout => "KER-KMS-408",
            Self::Keymgr(e) => e.code(),
            Self::Config(_) => "KER-KMA-001",
            Self::Internal(_) => "KER-KMS-500",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) | Self::Keymgr(KeymgrError::KeyCreationRateLimited) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Keymgr(KeymgrError::Database(_)) | Self::Config(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::OK,
        }
    }

    /// The message a client sees: the error's text, except for keystore, database and
    /// internal faults, whose texts can name files, drivers and hosts; those say where the
    /// details are (the service log, written by [`crate::wrapper::respond`]).
    pub fn public_message(&self) -> String {
        match self {
            Self::Keymgr(KeymgrError::Keystore(_)) => {
                "keystore error; the details are in the service log".into()
            }
            Self::Keymgr(KeymgrError::Database(_)) => {
                "database error; the details are in the service log".into()
            }
            Self::Config(_) | Self::Internal(_) => {
                "internal error; the details are in the service log".into()
            }
            other => other.to_string(),
        }
    }

    /// Whether the details of this error stay in the log (see [`Self::public_message`]).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Keymgr(KeymgrError::Keystore(_) | KeymgrError::Database(_))
                | Self::Config(_)
                | Self::Internal(_)
        )
    }

    /// A blank or missing required field.
    pub fn blank(field: &str) -> Self {
        Self::InvalidRequest(format!("{field} should not be null or empty"))
    }
}
