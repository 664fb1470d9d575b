//! Secrets derived from what a person types: MOSIP's PIN encryption (`/encryptWithPin`,
//! `/decryptWithPin`) and its Argon2 hash (`/generateArgon2Hash`), reference section 2.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN, open_in_place, seal_in_place};
use crate::{CryptoError, DataKey, fill_random};

/// PBKDF2 iterations MOSIP uses for PIN keys (`mosip.kernel.crypto.hash-iteration`).
pub const PIN_KDF_ITERATIONS: u32 = 100_000;
/// Length of the random PBKDF2 salt at the front of a PIN ciphertext.
pub const PIN_SALT_LEN: usize = 32;

/// An AES-256 key from `pin` by PBKDF2-HMAC-SHA512 (MOSIP's `PBKDF2WithHmacSHA512`).
fn pin_key(pin: &str, salt: &[u8], iterations: NonZeroU32) -> Result<DataKey, CryptoError> {
    let mut out = Zeroizing::new([0u8; DataKey::LEN]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, iterations, salt, pin.as_bytes(), out.as_mut_slice());
    DataKey::from_slice(out.as_slice())
}

fn iterations(n: u32) -> Result<NonZeroU32, CryptoError> {
    NonZeroU32::new(n).ok_or(CryptoError::KeyRejected("PBKDF2 needs at least one iteration"))
}

/// Encrypts `plaintext` under a key derived from `pin` with MOSIP's layout
/// `salt(32) || nonce(12) || ciphertext || tag(16)`, the salt also being the GCM AAD. The
/// caller base64url-encodes the result.
pub fn encrypt_with_pin(pin: &str, plaintext: &[u8], kdf_iterations: u32) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; PIN_SALT_LEN + NONCE_LEN + plaintext.len() + TAG_LEN];
    let (head, body) = out.split_at_mut(PIN_SALT_LEN + NONCE_LEN);
    fill_random(head)?;
    let (salt, nonce) = head.split_at(PIN_SALT_LEN);
    let key = pin_key(pin, salt, iterations(kdf_iterations)?)?;
    let (ct, tag_out) = body.split_at_mut(plaintext.len());
    ct.copy_from_slice(plaintext);
    let tag = seal_in_place(&key, nonce, salt, ct)?;
    tag_out.copy_from_slice(&tag);
    Ok(out)
}

/// Decrypts what [`encrypt_with_pin`] (or MOSIP) produced. A wrong PIN and damaged data give
/// the same [`CryptoError::AuthFailed`]; input too short to hold salt, nonce and tag is a
/// [`CryptoError::BadLength`].
pub fn decrypt_with_pin(
    pin: &str,
    sealed: &[u8],
    kdf_iterations: u32,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let min = PIN_SALT_LEN + NONCE_LEN + TAG_LEN;
    if sealed.len() < min {
        return Err(CryptoError::BadLength {
            what: "PIN ciphertext",
            expected: "at least 60 bytes",
            got: sealed.len(),
        });
    }
    let (salt, rest) = sealed.split_at(PIN_SALT_LEN);
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut tag_bytes = [0u8; TAG_LEN];
    tag_bytes.copy_from_slice(tag);
    let key = pin_key(pin, salt, iterations(kdf_iterations)?)?;
    let mut plain = Zeroizing::new(ct.to_vec());
    open_in_place(&key, nonce, salt, plain.as_mut_slice(), &tag_bytes)?;
    Ok(plain)
}

/// Argon2id parameters of MOSIP's `/generateArgon2Hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Passes (`t`); MOSIP 10.
    pub iterations: u32,
    /// Memory in KiB (`m`); MOSIP 65536.
    pub memory_kib: u32,
    /// Lanes (`p`); MOSIP 2.
    pub parallelism: u32,
}

impl Argon2Params {
    /// MOSIP's defaults: t=10, m=64 MiB, p=2.
    pub const MOSIP: Self = Self { iterations: 10, memory_kib: 65_536, parallelism: 2 };
}

/// Length of the server-chosen salt when the caller gives none (MOSIP: 24 bytes).
pub const ARGON2_SALT_LEN: usize = 24;

/// Argon2id v0x13 of `input` with `salt`, 32 bytes out (MOSIP's `/generateArgon2Hash`).
pub fn argon2id_hash(input: &[u8], salt: &[u8], params: Argon2Params) -> Result<[u8; 32], CryptoError> {
    let mut out = [0u8; 32];
    argon2id_into(input, salt, params, &mut out)?;
    Ok(out)
}

/// Argon2id v0x13 of `input` with `salt`, filling all of `out` (4 bytes or more; the output
/// length is an Argon2 input, so a 64-byte output does not start with the 32-byte one). For
/// keys derived from a PIN, such as the file keystore's file key and PIN check: pass a
/// zeroizing buffer.
///
/// Bad parameters or output length are [`CryptoError::KeyRejected`]; a salt shorter than
/// 8 bytes is a [`CryptoError::BadLength`].
pub fn argon2id_into(
    input: &[u8],
    salt: &[u8],
    params: Argon2Params,
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let p = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(out.len()))
        .map_err(|_| CryptoError::KeyRejected("Argon2 parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    argon.hash_password_into(input, salt, out).map_err(|e| match e {
        argon2::Error::SaltTooShort | argon2::Error::SaltTooLong => {
            CryptoError::BadLength { what: "Argon2 salt", expected: "8 to 2^32-1 bytes", got: salt.len() }
        }
        _ => CryptoError::KeyRejected("Argon2 input"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pin_round_trip_and_wrong_pin() {
        let sealed = encrypt_with_pin("1234", b"hello world", 1000).unwrap();
        assert_eq!(sealed.len(), 32 + 12 + 11 + 16);
        assert_eq!(decrypt_with_pin("1234", &sealed, 1000).unwrap().as_slice(), b"hello world");
        assert_eq!(decrypt_with_pin("1235", &sealed, 1000), Err(CryptoError::AuthFailed));
        let mut damaged = sealed.clone();
        damaged[5] ^= 1; // the salt is the AAD: changing it breaks the tag as well as the key
        assert_eq!(decrypt_with_pin("1234", &damaged, 1000), Err(CryptoError::AuthFailed));
        assert!(matches!(decrypt_with_pin("1234", &sealed[..59], 1000), Err(CryptoError::BadLength { .. })));
    }

    /// Independent construction: PBKDF2 from `ring`, AES-GCM from `aes-gcm`, layout by hand.
    #[test]
    fn pin_layout_matches_an_independent_construction() {
        use aes_gcm::aead::{Aead, Payload};
        use aes_gcm::{Aes256Gcm, KeyInit};
        let sealed = encrypt_with_pin("s3cret", b"MOSIP", 100_000).unwrap();
        let (salt, rest) = sealed.split_at(32);
        let (nonce, ct) = rest.split_at(12);
        let mut key = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA512,
            NonZeroU32::new(100_000).unwrap(),
            salt,
            b"s3cret",
            &mut key,
        );
        let plain =
            Aes256Gcm::new(&key.into()).decrypt(nonce.into(), Payload { msg: ct, aad: salt }).unwrap();
        assert_eq!(plain, b"MOSIP");
    }

    /// Expected values from the reference C implementation (Python `argon2-cffi`,
    /// `hash_secret_raw(..., type=Type.ID)`), one with MOSIP's own parameters.
    #[test]
    fn argon2_matches_the_reference_implementation() {
        let small = Argon2Params { iterations: 2, memory_kib: 64, parallelism: 1 };
        let a = argon2id_hash(b"password", b"somesalt", small).unwrap();
        assert_eq!(hex(&a), "16a1a498734609dd01456da406de9f3d9da93e6c86c300a12fc1465214ce4922");
        let m = argon2id_hash(b"MOSIP", b"0123456789abcdefghijklmn", Argon2Params::MOSIP).unwrap();
        assert_eq!(hex(&m), "50dfdd32900fda49b373a50836c84d5b287096f394997a9a22ce838d1a538483");
        assert_ne!(a, argon2id_hash(b"password", b"othersalt", small).unwrap());
        assert!(matches!(argon2id_hash(b"p", b"short", small), Err(CryptoError::BadLength { .. })));
    }

    /// Any output length, as the file keystore's 64-byte file key and PIN check; the same
    /// bytes as calling the `argon2` crate directly with that length.
    #[test]
    fn argon2_into_any_length() {
        let small = Argon2Params { iterations: 1, memory_kib: 64, parallelism: 1 };
        let mut out = [0u8; 64];
        argon2id_into(b"1234", b"sixteen byte slt", small, &mut out).unwrap();
        let mut direct = [0u8; 64];
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(64, 1, 1, Some(64)).unwrap(),
        )
        .hash_password_into(b"1234", b"sixteen byte slt", &mut direct)
        .unwrap();
        assert_eq!(out, direct);
        let mut short = [0u8; 32];
        argon2id_into(b"1234", b"sixteen byte slt", small, &mut short).unwrap();
        assert_ne!(out[..32], short, "the output length is an input of Argon2");
        assert_eq!(short, argon2id_hash(b"1234", b"sixteen byte slt", small).unwrap());
        let mut tiny = [0u8; 3];
        assert_eq!(
            argon2id_into(b"1234", b"sixteen byte slt", small, &mut tiny),
            Err(CryptoError::KeyRejected("Argon2 parameters"))
        );
    }
}
