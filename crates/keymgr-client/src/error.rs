//! The one error type of the crate.

use std::time::Duration;

/// Why a request to another service failed. Messages never hold the token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL, the CA file or the token is not usable.
    #[error("client configuration: {0}")]
    Config(String),
    /// No TCP connection to the server.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TLS handshake failed (an untrusted certificate, a wrong name).
    #[error("TLS: {0}")]
    Tls(String),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// No complete answer within the time limit.
    #[error("no complete answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The answer was larger than the limit (bytes).
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer was not the expected MOSIP response (the start of its body).
    #[error("answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The service answered with a MOSIP error.
    #[error("{code}: {message} (HTTP {status})")]
    Mosip {
        /// The HTTP status.
        status: u16,
        /// MOSIP's error code, e.g. `KER-KMS-003`.
        code: String,
        /// Its message.
        message: String,
    },
    /// A request could not be written as JSON, or an answer lacked a field.
    #[error("JSON: {0}")]
    Json(String),
}
