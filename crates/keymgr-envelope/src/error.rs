//! The one error type of this crate.

use keymgr_crypto::CryptoError;

/// Why an envelope was refused, or could not be made.
///
/// The first nine variants are exactly the error kinds of the conformance manifest
/// (`../shared/vectors/envelope/manifest.json`), named by [`EnvelopeError::kind`]. The last
/// four cover what the manifest does not: a size limit, a caller parameter the format cannot
/// carry, a failure of the platform's crypto while sealing, and a failed read or write of a
/// stream.
///
/// The detail in a message never contains key material or plaintext. Callers that face the
/// network should collapse [`KeyUnwrapFailed`](Self::KeyUnwrapFailed),
/// [`BadDataKeyLength`](Self::BadDataKeyLength) and [`AuthFailed`](Self::AuthFailed) into one
/// answer (MOSIP does: `KER-KMS-019` / `KER-FSE-004`), so that they are no decryption oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The envelope text is empty.
    #[error("the envelope is empty")]
    EmptyInput,
    /// The text is neither URL-safe nor standard base64 as MOSIP's decoders accept it.
    #[error("not base64: {0}")]
    InvalidBase64(String),
    /// The decoded bytes contain no splitter.
    #[error("no key splitter in the envelope")]
    MissingSplitter,
    /// A field is cut short.
    #[error("{part} is {len} bytes, at least {min} are needed")]
    Truncated {
        /// Which part (`key part` or `data part`).
        part: &'static str,
        /// Its length.
        len: usize,
        /// The least length the format allows.
        min: usize,
    },
    /// The key part is longer than thumbprint plus one RSA-2048 block.
    #[error("key part is {len} bytes after the header; exactly {expected} are expected")]
    BadWrappedKeyLength {
        /// Its length after the optional `VER_R2` header.
        len: usize,
        /// Thumbprint plus wrapped key: 288.
        expected: usize,
    },
    /// The thumbprint names no key the opener holds.
    #[error("the envelope's thumbprint {0} matches no key held")]
    ThumbprintMismatch(keymgr_model::Thumbprint),
    /// RSA-OAEP unwrap of the data key failed.
    #[error("the data key could not be unwrapped")]
    KeyUnwrapFailed,
    /// The unwrapped data key is not an AES-256 key.
    #[error("the unwrapped data key is {0} bytes, not 32")]
    BadDataKeyLength(usize),
    /// The AES-GCM tag did not verify.
    #[error("the data failed authentication")]
    AuthFailed,
    /// The envelope is larger than the configured maximum.
    #[error("the envelope is {len} bytes, more than the maximum of {max}")]
    TooLarge {
        /// Its (decoded) length, or a lower bound of it.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A caller parameter the format cannot carry (for example a salt that is not 12 or 16
    /// bytes long).
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// The platform's crypto failed while sealing (random generator, RSA wrap).
    #[error("sealing failed: {0}")]
    Crypto(#[from] CryptoError),
    /// Reading or writing a stream failed (the streaming codec only); holds the kind of
    /// failure, never data.
    #[error("input/output failed: {0}")]
    Io(String),
}

impl EnvelopeError {
    /// The manifest's name for this kind of error (`truncated`, `auth_failed`, ...), and for
    /// the kinds the manifest lacks: `too_large`, `invalid_parameter`, `crypto`, `io`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::EmptyInput => "empty_input",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::MissingSplitter => "missing_splitter",
            Self::Truncated { .. } => "truncated",
            Self::BadWrappedKeyLength { .. } => "bad_wrapped_key_length",
            Self::ThumbprintMismatch(_) => "thumbprint_mismatch",
            Self::KeyUnwrapFailed => "key_unwrap_failed",
            Self::BadDataKeyLength(_) => "bad_data_key_length",
            Self::AuthFailed => "auth_failed",
            Self::TooLarge { .. } => "too_large",
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::Crypto(_) => "crypto",
            Self::Io(_) => "io",
        }
    }
}

impl From<keymgr_model::ModelError> for EnvelopeError {
    /// The base64 layer's refusals, as the conformance manifest names them.
    fn from(e: keymgr_model::ModelError) -> Self {
        use keymgr_model::ModelError;
        match e {
            ModelError::EmptyBase64 => Self::EmptyInput,
            ModelError::InvalidBase64(why) => Self::InvalidBase64(why),
            ModelError::Base64TooLarge { len, max } => Self::TooLarge { len, max },
            other => Self::InvalidBase64(other.to_string()),
        }
    }
}
