//! The MOSIP packet envelope: AES-256-GCM data, an RSA-OAEP-wrapped data key and the
//! recipient certificate's thumbprint, joined by `#KEY_SPLITTER#`, byte-compatible with the
//! MOSIP Key Manager in both directions.
//!
//! * [`format`]: the layout and a parser that finds the fields without copying (pure; fuzzed).
//! * [`base64`]: the text layer: writes URL-safe unpadded base64, reads exactly what MOSIP
//!   reads, in one pass.
//! * [`Codec`]: seal (VER_R2, legacy, caller salt) and open, where the private key is reached
//!   through the [`KeyUnwrapper`] trait, so an HSM, a database of wrapped keys or a cache plug
//!   in without touching the codec.
//! * [`Codec::seal_stream`] and [`Codec::open_stream`]: the same envelopes a piece at a time,
//!   for packets larger than memory; opened plaintext is [`Staging`]d (a temporary file beside
//!   the output) and released only once its tag has verified.
//!
//! A service that only seals packets depends on this crate alone:
//!
//! ```
//! use keymgr_crypto::{Certificate, RsaPrivateKey};
//! use keymgr_envelope::{Codec, OpenParams, Recipient, RecipientKey, SealMode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cert = Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem"))?;
//! let key = RsaPrivateKey::from_pkcs8_pem(include_bytes!("../../../testdata/fixture-key.pem"))?;
//!
//! let codec = Codec::default();
//! let text = codec.seal_text(b"registration packet", &Recipient::from_certificate(&cert)?, SealMode::VerR2)?;
//! let plain = codec.open_text(text.as_bytes(), &RecipientKey::new(key, &cert)?, OpenParams::default())?;
//! assert_eq!(&*plain, b"registration packet");
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod base64;
mod codec;
mod error;
pub mod format;
mod stream;

pub use codec::{
    Codec, DEFAULT_MAX_ENVELOPE_LEN, KeyUnwrapper, OpenParams, ParsedEnvelope, Plaintext, Recipient,
    RecipientKey, SealMode,
};
pub use error::EnvelopeError;
pub use format::{Format, Layout};
pub use stream::{StagedBuffer, StagedFile, Staging, TEXT_PIECE_LEN};

/// Seals `plaintext` for `recipient` as VER_R2 base64url text with MOSIP's defaults.
pub fn seal_text(plaintext: &[u8], recipient: &Recipient) -> Result<String, EnvelopeError> {
    Codec::default().seal_text(plaintext, recipient, SealMode::VerR2)
}

/// Opens base64 envelope text with MOSIP's defaults and no caller salt or aad.
pub fn open_text(text: &[u8], keys: &dyn KeyUnwrapper) -> Result<Plaintext, EnvelopeError> {
    Codec::default().open_text(text, keys, OpenParams::default())
}
