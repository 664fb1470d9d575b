//! The one error type of this crate. No variant carries secret material.

/// A failed cryptographic operation or unreadable key or certificate.
///
/// Messages name what failed, never key bytes. Decryption failures deliberately carry no
/// detail of *why* they failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key could not be read or is not acceptable (wrong type, size or encoding).
    #[error("key rejected: {0}")]
    KeyRejected(&'static str),
    /// PEM text could not be read or held no object of the expected kind.
    #[error("PEM: {0}")]
    Pem(String),
    /// A certificate could not be parsed.
    #[error("certificate: {0}")]
    Certificate(String),
    /// RSA-OAEP decryption failed (wrong key, tampered or malformed ciphertext).
    #[error("RSA-OAEP decryption failed")]
    UnwrapFailed,
    /// RSA-OAEP encryption failed (plaintext too long for the key).
    #[error("RSA-OAEP encryption failed")]
    WrapFailed,
    /// AES-GCM authentication failed: wrong key, nonce, associated data, or tampered data.
    #[error("AES-GCM authentication failed")]
    AuthFailed,
    /// A nonce, IV or key had a length this primitive does not take.
    #[error("{what} must be {expected}, got {got} bytes")]
    BadLength {
        /// What had the wrong length.
        what: &'static str,
        /// The accepted lengths, in words.
        expected: &'static str,
        /// The length given.
        got: usize,
    },
    /// Signing failed.
    #[error("signing failed")]
    SignFailed,
    /// A signature did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A signature algorithm that is refused (SHA-1, MD5) or not accepted here.
    #[error("signature algorithm not accepted: {0}")]
    SignatureAlgorithm(String),
    /// The operating system's random generator or key generation failed.
    #[error("random generation failed")]
    Random,
}
