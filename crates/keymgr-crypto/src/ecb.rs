//! AES-256 in ECB mode without padding, as MOSIP's zero-knowledge encryption wraps its random
//! keys (`AES/ECB/NoPadding`, reference section 8). Only for wrapping whole random keys: ECB
//! leaks equal blocks, which random keys do not have.

use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::generic_array::GenericArray;
use aes_gcm::aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

use crate::{CryptoError, DataKey, SecretBytes};

const BLOCK: usize = 16;

fn check(data: &[u8]) -> Result<(), CryptoError> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::BadLength {
            what: "AES-ECB data",
            expected: "a non-zero multiple of 16 bytes",
            got: data.len(),
        });
    }
    Ok(())
}

/// Encrypts `data` (a multiple of 16 bytes) under `key` with AES-256-ECB, no padding.
pub fn aes256_ecb_encrypt(key: &DataKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    check(data)?;
    let cipher = Aes256::new(key.expose().into());
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(BLOCK) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(out)
}

/// Decrypts `data` (a multiple of 16 bytes) under `key` with AES-256-ECB, no padding; the
/// result is secret (a wrapped key).
pub fn aes256_ecb_decrypt(key: &DataKey, data: &[u8]) -> Result<SecretBytes, CryptoError> {
    check(data)?;
    let cipher = Aes256::new(key.expose().into());
    let mut out = SecretBytes::new(data.to_vec());
    for block in out.expose_mut().chunks_exact_mut(BLOCK) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 appendix C.3 (AES-256).
    #[test]
    fn fips_197_known_answer() {
        let key: Vec<u8> = (0u8..32).collect();
        let key = DataKey::from_slice(&key).expect("32 bytes");
        let plain: Vec<u8> = (0u8..16).map(|i| i * 0x11).collect();
        let ct = aes256_ecb_encrypt(&key, &plain).expect("encrypt");
        assert_eq!(
            ct,
            [0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89]
        );
        assert_eq!(aes256_ecb_decrypt(&key, &ct).expect("decrypt").expose(), &plain[..]);
        assert!(aes256_ecb_encrypt(&key, &[0; 15]).is_err());
        assert!(aes256_ecb_decrypt(&key, &[]).is_err());
    }
}
