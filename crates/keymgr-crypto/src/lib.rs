//! Cryptographic primitives of the key manager, and the only crate that names a crypto library.
//!
//! * RSA-2048 key generation and RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) with
//!   [`aws-lc-rs`](aws_lc_rs), which is constant-time; the `rsa` crate is banned (Marvin attack).
//! * AES-256-GCM with MOSIP's 12-byte nonces (`ring`) and 16-byte IVs of the legacy envelope
//!   and `key_store` rows (`aes-gcm`), behind one [`aead`] interface; the same GCM a piece at
//!   a time for packets larger than memory ([`gcm_stream`]).
//! * Signing in software: RS256, PS256, ES256, ES256K (all through `aws-lc-rs`); AES-256-ECB
//!   for MOSIP's zero-knowledge key wrap; constant-time OAEP decoding for HSMs that only do
//!   raw RSA.
//! * SHA-256 and certificate thumbprints, PEM and PKCS#8 in and out, certificate parsing,
//!   constant-time comparison ([`ct_eq`]); certificate signatures checked by their algorithm
//!   identifier against an allow-list, and key strength ([`x509_signature`]).
//! * With the `pki` feature (brings `rcgen`): certificate issuance and CSRs signed through a
//!   callback (`issue`), certs-only PKCS#7 chains (`pkcs7`).
//! * With the `password` feature (brings `argon2`): MOSIP's PIN encryption
//!   (PBKDF2-HMAC-SHA512 + AES-GCM) and Argon2id (`password`).
//! * Zeroizing holders for secret bytes ([`DataKey`], [`SecretBytes`]) whose `Debug` prints
//!   no secret.
//!
//! No feature is on by default: a service that only seals packets compiles neither `rcgen`
//! nor `argon2`.

#![forbid(unsafe_code)]

pub mod aead;
mod cert;
#[cfg(feature = "pki")]
mod cert_spec;
pub mod client_keys;
mod ct;
#[cfg(feature = "pki")]
mod der;
pub mod der_read;
mod digest;
mod ecb;
mod error;
pub mod gcm_stream;
#[cfg(feature = "pki")]
pub mod issue;
#[cfg(feature = "pki")]
mod k1_x509;
pub mod key_parts;
mod key_shape;
mod oaep;
#[cfg(feature = "password")]
pub mod password;
pub mod pem;
#[cfg(feature = "pki")]
pub mod pkcs7;
mod random;
mod rsa;
mod secret;
mod sign;
pub mod spki;
pub mod x509_signature;

pub use cert::Certificate;
pub use ct::ct_eq;
pub use digest::{sha1_hex_upper, sha256, thumbprint_of};
pub use ecb::{aes256_ecb_decrypt, aes256_ecb_encrypt};
pub use error::CryptoError;
pub use key_shape::is_private_key_info;
pub use oaep::oaep_sha256_decode;
pub use random::fill_random;
pub use rsa::{RSA_2048_MODULUS_LEN, RsaPrivateKey, RsaPublicKey};
pub use secret::{DataKey, SecretBytes};
pub use sign::{AsymmetricKind, SignAlgorithm, SigningKey, verify};
