//! Keystores for the keys the hierarchy keeps in an HSM (ROOT, module masters, signing keys,
//! the zero-knowledge AES master), behind one trait, [`Keystore`], with two implementations:
//!
//! * [`Pkcs11Keystore`]: a PKCS#11 token through `cryptoki`, with a session pool, a cache of
//!   object handles, reconnection when the token drops sessions, and objects named as MOSIP's
//!   Java service names them, so a token made by MOSIP can be read.
//! * [`FileKeystore`]: the embedded default: every key in one file, AES-256-GCM under a key
//!   derived from a PIN with Argon2id, written atomically, locked against a second process.
//!
//! Private and secret keys never leave either keystore; callers get public keys,
//! certificates, signatures and unwrapped data keys (in zeroizing holders). The one exception
//! is [`file_to_token`], which moves the file keystore's keys into a token.
//!
//! This crate does not decide policy (which key is current, when to rotate): that is
//! `keymgr-policy`'s job, composed by `keymgr-core`.

#![forbid(unsafe_code)]

mod error;
mod file;
mod migrate;
mod pkcs11;
mod private_file;

pub use error::HsmError;
pub use file::{FileKeystore, KdfParams};
pub use keymgr_crypto::{AsymmetricKind, SignAlgorithm};
pub use migrate::{KeyMove, KeyMoveReport, file_to_token, same_key};
pub use pkcs11::{Pkcs11Config, Pkcs11Keystore};
pub use private_file::{open_private_file, read_into, write_private_file};

use keymgr_crypto::SecretBytes;

/// What kind of key to generate under an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// An asymmetric key pair.
    Asymmetric(AsymmetricKind),
    /// An AES-256 secret key (the ZK master, symmetric keys of `generateSymmetricKey`).
    Aes256,
}

/// What the key hierarchy needs from an HSM. Implementations are safe to share between
/// threads; every method may block on I/O.
///
/// Aliases are the `key_alias.id` UUIDs that name the keys (reference section 3.2).
pub trait Keystore: Send + Sync {
    /// Generates a key of `kind` under `alias` (private and secret parts sensitive and not
    /// extractable) and returns the DER `SubjectPublicKeyInfo` of an asymmetric key (`None`
    /// for AES). Fails with [`HsmError::AliasExists`] if the alias is taken.
    fn generate(&self, alias: &str, kind: KeyKind) -> Result<Option<Vec<u8>>, HsmError>;

    /// Stores (or replaces) the certificate of the key pair under `alias`.
    fn store_certificate(&self, alias: &str, cert_der: &[u8]) -> Result<(), HsmError>;

    /// The certificate stored for `alias`, if any.
    fn certificate(&self, alias: &str) -> Result<Option<Vec<u8>>, HsmError>;

    /// The DER `SubjectPublicKeyInfo` of the key pair under `alias`.
    fn public_key(&self, alias: &str) -> Result<Vec<u8>, HsmError>;

    /// Every alias that names a key, sorted.
    fn aliases(&self) -> Result<Vec<String>, HsmError>;

    /// Destroys the key (and certificate) under `alias`. Destroying a missing alias is
    /// [`HsmError::NoSuchAlias`].
    fn destroy(&self, alias: &str) -> Result<(), HsmError>;

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption with the private key under
    /// `alias`. Every decryption failure is the same [`HsmError::UnwrapFailed`].
    fn rsa_oaep_unwrap(&self, alias: &str, ciphertext: &[u8]) -> Result<SecretBytes, HsmError>;

    /// Signs `message` with the private key under `alias`. ECDSA signatures are fixed-length
    /// `r || s`.
    fn sign(&self, alias: &str, algorithm: SignAlgorithm, message: &[u8]) -> Result<Vec<u8>, HsmError>;

    /// AES-256-ECB without padding under the secret key `alias` (MOSIP's ZK key wrap).
    fn aes_ecb_encrypt(&self, alias: &str, data: &[u8]) -> Result<Vec<u8>, HsmError>;

    /// The inverse of [`Keystore::aes_ecb_encrypt`]; the result is secret.
    fn aes_ecb_decrypt(&self, alias: &str, data: &[u8]) -> Result<SecretBytes, HsmError>;

    /// Checks that the keystore answers (a session opens, the file is readable).
    fn health_check(&self) -> Result<(), HsmError>;
}
