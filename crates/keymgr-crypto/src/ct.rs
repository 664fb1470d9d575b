//! Comparing secrets in constant time.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` hold the same bytes, in time that does not depend on where they
/// differ (for PIN checks, MACs and other secrets). Slices of different lengths are unequal;
/// their lengths are not secret.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_unequal_and_different_lengths() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(&[7; 32], &[7; 32]));
        assert!(!ct_eq(&[7; 32], &[[7; 31].as_slice(), &[8]].concat()));
        assert!(!ct_eq(&[7; 32], &[7; 31]));
    }
}
