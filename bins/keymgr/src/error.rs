//! The one error type of the binary, with its exit codes.

use keymgr_envelope::EnvelopeError;

/// Why a command failed; each kind has its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, or a key or certificate file that cannot be used (exit 2).
    #[error("error: {0}")]
    Usage(String),
    /// The envelope was refused (exit 3). Printed as `rejected: <kind>: <detail>`.
    #[error("rejected: {kind}: {0}", kind = .0.kind())]
    Rejected(EnvelopeError),
    /// Reading or writing a data file failed, or sealing failed (exit 1).
    #[error("error: {0}")]
    Failed(String),
    /// The audit trail does not verify (exit 4): the first row that does not fit.
    #[error("audit trail broken at {0}")]
    AuditBroken(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::Usage(_) => 2,
            Self::Rejected(_) => 3,
            Self::AuditBroken(_) => 4,
        }
    }
}
