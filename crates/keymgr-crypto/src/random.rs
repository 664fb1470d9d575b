//! The operating system's cryptographic random generator.

use ring::rand::{SecureRandom, SystemRandom};

use crate::CryptoError;

/// Fills `out` with random bytes from the operating system's generator.
pub fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(out).map_err(|_| CryptoError::Random)
}
