//! The one error type of this crate.

use keymgr_model::UtcTime;

/// Why the engine cannot give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The application has no policy, or an inactive one (MOSIP `KER-KMS-002`).
    #[error("application {0} has no active key policy")]
    NoPolicy(String),
    /// The signing key expires so soon that a key it signs would rotate at once: rotate the
    /// signer first.
    #[error(
        "the signing key expires at {signer_expires}, too soon for a new key that rotates {pre_expire_days} days before its expiry; rotate the signer first"
    )]
    SignerExpiresTooSoon {
        /// When the signer expires.
        signer_expires: UtcTime,
        /// The new key's pre-expiry.
        pre_expire_days: u16,
    },
}
