//! AES-256-GCM with a 128-bit tag, in place.
//!
//! MOSIP uses two nonce lengths: 12 bytes (VER_R2 envelopes, PIN encryption, caller salts),
//! done with `ring`, and 16 bytes (the legacy envelope and `key_store` rows), for which GCM
//! derives its counter block through GHASH; `ring` takes only 12-byte nonces, so those go
//! through `aes-gcm`'s `AesGcm<Aes256, U16>`. The length of the nonce picks the engine.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::U16;
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use crate::{CryptoError, DataKey};

/// Length of the GCM tag in bytes.
pub const TAG_LEN: usize = 16;
/// Length of a standard GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the legacy 128-bit GCM IV in bytes.
pub const LEGACY_IV_LEN: usize = 16;

type Aes256Gcm16 = AesGcm<Aes256, U16>;

fn bad_nonce(got: usize) -> CryptoError {
    CryptoError::BadLength { what: "GCM nonce", expected: "12 or 16 bytes", got }
}

fn ring_key(key: &DataKey) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::KeyRejected("AES-256 key"))
}

/// Encrypts `in_out` in place under `key` and returns the tag. `nonce` is 12 or 16 bytes;
/// it must never repeat for the same key.
pub fn seal_in_place(
    key: &DataKey,
    nonce: &[u8],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    match nonce.len() {
        NONCE_LEN => {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad_nonce(nonce.len()))?;
            let tag =
                ring_key(key)?.seal_in_place_separate_tag(nonce, Aad::from(aad), in_out).map_err(|_| {
                    CryptoError::BadLength {
                        what: "GCM plaintext",
                        expected: "at most 64 GiB",
                        got: in_out.len(),
                    }
                })?;
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            Ok(out)
        }
        LEGACY_IV_LEN => {
            let cipher = Aes256Gcm16::new(key.expose().into());
            let tag = cipher.encrypt_in_place_detached(nonce.into(), aad, in_out).map_err(|_| {
                CryptoError::BadLength {
                    what: "GCM plaintext",
                    expected: "at most 64 GiB",
                    got: in_out.len(),
                }
            })?;
            Ok(tag.into())
        }
        n => Err(bad_nonce(n)),
    }
}

/// Decrypts `in_out` in place under `key` after checking `tag`. `nonce` is 12 or 16 bytes.
///
/// On failure `in_out` is zeroed, so no unauthenticated plaintext is ever left behind.
pub fn open_in_place(
    key: &DataKey,
    nonce: &[u8],
    aad: &[u8],
    in_out: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    let result = match nonce.len() {
        NONCE_LEN => {
            let n = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad_nonce(nonce.len()))?;
            ring_key(key)?
                .open_in_place_separate_tag(n, Aad::from(aad), Tag::from(*tag), in_out, 0..)
                .map(|_| ())
                .map_err(|_| CryptoError::AuthFailed)
        }
        LEGACY_IV_LEN => Aes256Gcm16::new(key.expose().into())
            .decrypt_in_place_detached(nonce.into(), aad, in_out, tag.into())
            .map_err(|_| CryptoError::AuthFailed),
        n => return Err(bad_nonce(n)),
    };
    if result.is_err() {
        in_out.fill(0);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> DataKey {
        DataKey::from_slice(&[9u8; 32]).expect("32 bytes")
    }

    /// NIST GCM test case 16 (AES-256, 12-byte IV, with AAD), checked through `ring`.
    #[test]
    fn nist_gcm_vector_12_byte_iv() {
        let k = DataKey::from_slice(&hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
            .expect("key");
        let iv = hex("cafebabefacedbaddecaf888");
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let mut buf = pt.clone();
        let tag = seal_in_place(&k, &iv, &aad, &mut buf).expect("seal");
        assert_eq!(
            buf,
            hex(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            )
        );
        assert_eq!(tag.to_vec(), hex("76fc6ece0f4e1768cddf8853bb2d551b"));
    }

    /// NIST GCM test case 18 (AES-256, 60-byte IV) shows the GHASH-derived counter block;
    /// here the IV is cut to 16 bytes, so the check is a round trip plus a known-length tag.
    #[test]
    fn sixteen_byte_iv_round_trip() {
        let iv = [3u8; 16];
        let mut buf = b"legacy envelope payload".to_vec();
        let tag = seal_in_place(&key(), &iv, b"", &mut buf).expect("seal");
        open_in_place(&key(), &iv, b"", &mut buf, &tag).expect("open");
        assert_eq!(buf, b"legacy envelope payload");
    }

    #[test]
    fn failure_zeroes_the_buffer() {
        let nonce = [1u8; 12];
        let mut buf = vec![0x55u8; 64];
        let mut tag = seal_in_place(&key(), &nonce, b"a", &mut buf).expect("seal");
        tag[0] ^= 1;
        assert_eq!(open_in_place(&key(), &nonce, b"a", &mut buf, &tag), Err(CryptoError::AuthFailed));
        assert!(buf.iter().all(|&b| b == 0));
        assert!(matches!(
            seal_in_place(&key(), &[0; 8], b"", &mut buf),
            Err(CryptoError::BadLength { got: 8, .. })
        ));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    proptest! {
        #[test]
        fn round_trip_both_nonce_lengths(data in proptest::collection::vec(any::<u8>(), 0..2048), aad in proptest::collection::vec(any::<u8>(), 0..64), long in any::<bool>()) {
            let nonce = if long { vec![7u8; 16] } else { vec![7u8; 12] };
            let mut buf = data.clone();
            let tag = seal_in_place(&key(), &nonce, &aad, &mut buf).expect("seal");
            open_in_place(&key(), &nonce, &aad, &mut buf, &tag).expect("open");
            prop_assert_eq!(buf, data);
        }
    }
}
