//! The one error type of this crate.

/// Why a value could not be made from caller input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// An application id was empty or blank; MOSIP requires one (`KER-KMS-005`).
    #[error("application id must not be empty")]
    EmptyAppId,
    /// An identifier is longer than its MOSIP column allows.
    #[error("{field} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which identifier (`app_id` or `ref_id`).
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The column limit.
        max: usize,
    },
    /// An identifier contains a control character (or leading/trailing white space).
    #[error("{field} contains a control character or surrounding white space")]
    BadCharacter {
        /// Which identifier (`app_id` or `ref_id`).
        field: &'static str,
    },
    /// A thumbprint was not 64 hexadecimal digits.
    #[error("a certificate thumbprint is 64 hexadecimal digits")]
    BadThumbprint,
    /// A timestamp could not be parsed or is out of range.
    #[error("timestamp {0:?} is not an ISO 8601 UTC date-time")]
    BadTimestamp(String),
    /// Base64 text to decode was empty.
    #[error("the base64 text is empty")]
    EmptyBase64,
    /// Text that MOSIP's decoders would refuse as base64; the reason names the offset.
    #[error("invalid base64: {0}")]
    InvalidBase64(String),
    /// Base64 text that decodes to more than the limit (checked before decoding).
    #[error("the base64 text decodes to {len} bytes; at most {max} are accepted")]
    Base64TooLarge {
        /// Decoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A policy field is out of range (for example a negative validity).
    #[error("invalid key policy: {0}")]
    BadPolicy(&'static str),
    /// A key state name that is not one of [`crate::KeyState`]'s.
    #[error("unknown key state {0:?}: use pre-active, active, deactivated, compromised or destroyed")]
    UnknownKeyState(String),
}
