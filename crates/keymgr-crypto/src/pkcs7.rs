//! Certificates-only PKCS#7 / CMS `SignedData` (RFC 5652 section 5, "degenerate" form): how
//! MOSIP hands out certificate chains (`getCertificateChain`, partner trust paths).

use crate::der::tlv;
use crate::{Certificate, pem};

/// `id-signedData`, 1.2.840.113549.1.7.2.
const SIGNED_DATA_OID: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// `id-data`, 1.2.840.113549.1.7.1.
const DATA_OID: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

/// DER of a certs-only `ContentInfo`/`SignedData` holding `certificates` in the given order
/// (leaf first, as MOSIP writes trust paths).
pub fn certs_only_der(certificates: &[Certificate]) -> Vec<u8> {
    let certs: Vec<u8> = certificates.iter().flat_map(|c| c.der().iter().copied()).collect();
    let signed_data = [
        tlv(0x02, &[0x01]),  // version 1
        tlv(0x31, &[]),      // digestAlgorithms: none
        tlv(0x30, DATA_OID), // encapContentInfo: id-data, no content
        tlv(0xa0, &certs),   // [0] IMPLICIT certificates
        tlv(0x31, &[]),      // signerInfos: none
    ]
    .concat();
    tlv(0x30, &[SIGNED_DATA_OID, &tlv(0xa0, &tlv(0x30, &signed_data))].concat())
}

/// [`certs_only_der`] as PEM with the `PKCS7` label (64-character lines).
pub fn certs_only_pem(certificates: &[Certificate]) -> String {
    pem::encode("PKCS7", &certs_only_der(certificates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_certificates_in_order() {
        let text = include_bytes!("../../../testdata/fixture-cert.pem");
        let cert = Certificate::from_pem(text).unwrap();
        let der = certs_only_der(&[cert.clone(), cert.clone()]);
        // The certificates appear back to back, untouched.
        let both = [cert.der(), cert.der()].concat();
        assert!(der.windows(both.len()).any(|w| w == both.as_slice()));
        assert!(certs_only_pem(&[cert]).starts_with("-----BEGIN PKCS7-----\n"));
    }
}
