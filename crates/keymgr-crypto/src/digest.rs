//! SHA-256 and certificate thumbprints.

use keymgr_model::Thumbprint;
use ring::digest;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The thumbprint of a certificate: SHA-256 of its DER encoding.
pub fn thumbprint_of(cert_der: &[u8]) -> Thumbprint {
    Thumbprint::from_bytes(sha256(cert_der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            Thumbprint::from_bytes(sha256(b"abc")).to_hex(),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }
}
