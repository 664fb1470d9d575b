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

/// Uppercase hex of SHA-1 of `data`: MOSIP's `uni_ident` form. SHA-1 serves only as a
/// compatible identifier here, never for security.
pub fn sha1_hex_upper(data: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
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
