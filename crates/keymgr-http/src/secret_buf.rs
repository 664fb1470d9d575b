//! Buffers that may hold secrets (request bodies with packets or PINs, response bodies with
//! plaintexts), wiped when dropped at memory speed.
//!
//! `Zeroizing<Vec<u8>>` wipes a vector one volatile byte at a time, which for a 1.4 MB body
//! costs as much as decrypting it; these wipe the whole allocation with zeroize's bulk fill and
//! optimisation barrier instead, spare capacity included.

use std::ops::{Deref, DerefMut};

use serde::Deserialize;
use zeroize::Zeroize;

/// Zeroes every byte of `v`'s allocation, then empties it.
fn wipe(v: &mut Vec<u8>) {
    v.resize(v.capacity(), 0);
    v.as_mut_slice().zeroize();
    v.clear();
}

/// A byte vector wiped when dropped. Grow it only within the capacity it was made with: a
/// reallocation would leave a copy in freed memory.
#[derive(Default)]
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl Deref for SecretBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for SecretBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl AsRef<[u8]> for SecretBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBuf(<{} bytes redacted>)", self.0.len())
    }
}

/// A request's text field that may carry a secret (data to protect), wiped when dropped.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// Takes ownership of `text`.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The text's bytes, moved out (an envelope is no secret: `/decrypt` decodes it in place).
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0).into_bytes()
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        wipe(&mut std::mem::take(&mut self.0).into_bytes());
    }
}

impl AsRef<str> for SecretText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretText(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_the_whole_allocation() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[0xAB; 40]);
        wipe(&mut v);
        assert!(v.is_empty());
        v.resize(64, 1);
        // The same allocation, now all ours again; the wipe left zeros before the refill.
        assert_eq!(v.capacity(), 64);
        let text: SecretText = serde_json::from_str(r#""secret""#).expect("json");
        assert_eq!(text.as_ref(), "secret");
        assert_eq!(format!("{text:?}"), "SecretText(<6 bytes redacted>)");
        assert_eq!(format!("{:?}", SecretBuf::new(vec![1, 2, 3])), "SecretBuf(<3 bytes redacted>)");
    }
}
