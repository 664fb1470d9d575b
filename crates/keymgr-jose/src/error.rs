//! The one error type of this crate.

/// A JOSE object that cannot be made or read. Decryption failures carry no detail of why.
/// (`Malformed`, `Unsupported` and `TooLarge` serve JWE and JWS alike.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// Not a compact JWE: wrong number of parts, bad base64url, bad header JSON, missing fields.
    #[error("malformed JWE: {0}")]
    Malformed(String),
    /// An `alg`, `enc` or `zip` this key manager does not take.
    #[error("unsupported JWE {what}: {value:?}")]
    Unsupported {
        /// Which header parameter.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// The content could not be decrypted (tag, key or inflation failure).
    #[error("JWE could not be decrypted")]
    DecryptFailed,
    /// The content, once inflated, would exceed the limit.
    #[error("JWE content is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A JWS algorithm refused on principle: `none` (unsigned), an HMAC algorithm with a
    /// public key, or an algorithm that does not fit the key's type.
    #[error("JWS algorithm refused: {0}")]
    AlgorithmRefused(String),
    /// A cryptographic primitive failed while encrypting.
    #[error("JWE encryption failed: {0}")]
    Crypto(String),
}

impl From<keymgr_crypto::CryptoError> for JoseError {
    fn from(e: keymgr_crypto::CryptoError) -> Self {
        Self::Crypto(e.to_string())
    }
}
