//! Holders of secret bytes: zeroized on drop, redacted in `Debug`, never `Display`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;

/// An AES-256 key: the data key of an envelope, or the key of a `key_store` row.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DataKey::LEN]);

impl DataKey {
    /// Length of an AES-256 key in bytes.
    pub const LEN: usize = 32;

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Self([0; Self::LEN]);
        crate::fill_random(&mut key.0)?;
        Ok(key)
    }

    /// Takes a key from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; Self::LEN] = bytes.try_into().map_err(|_| CryptoError::BadLength {
            what: "AES-256 key",
            expected: "32 bytes",
            got: bytes.len(),
        })?;
        Ok(Self(array))
    }

    /// The key bytes, for handing to a cipher.
    pub fn expose(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Variable-length secret bytes (a PKCS#8 private key, an unwrapped key): zeroized on drop.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are zeroized when this value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, for decrypting into in place.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Number of bytes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secret_bytes() {
        let key = DataKey::from_slice(&[0x41; 32]).expect("32 bytes");
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
        let secret = SecretBytes::new(vec![0x41; 5]);
        assert_eq!(format!("{secret:?}"), "SecretBytes(<5 bytes redacted>)");
    }

    #[test]
    fn data_key_length_is_checked() {
        assert!(matches!(DataKey::from_slice(&[0; 16]), Err(CryptoError::BadLength { got: 16, .. })));
        let a = DataKey::generate().expect("rng");
        let b = DataKey::generate().expect("rng");
        assert_ne!(a.expose(), b.expose());
    }
}
