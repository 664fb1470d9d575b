//! Certificates-only PKCS#7 / CMS `SignedData` (RFC 5652 section 5, "degenerate" form): how
//! MOSIP hands out certificate chains (`getCertificateChain`, partner trust paths) and how
//! partners upload CA bundles.
//!
//! Read in DER or BER (MOSIP's own bundles come from BouncyCastle with indefinite lengths) by
//! `asn1-rs`, keeping every certificate's bytes as they were. Written in strict DER here: the
//! structure is five fixed fields and a `SET OF Certificate`, whose elements DER orders by
//! their encodings (X.690 section 11.6). RustCrypto's `cms` 0.2 was tried for this and orders
//! the set by the certificates' fields instead, which Python's `cryptography` then refuses as
//! an invalid set ordering whenever a serial number's sign differs (a test shows it).

use asn1_rs::{Any, Class, FromBer, Oid, Tag};

use crate::der::{oid, seq, tlv};
use crate::{Certificate, CryptoError, pem};

/// The most certificates one bundle may hold.
pub const MAX_BUNDLE_CERTIFICATES: usize = 100;

/// `id-signedData`, 1.2.840.113549.1.7.2.
const SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
/// DER of `id-signedData`.
const SIGNED_DATA_OID: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// DER of `id-data`, 1.2.840.113549.1.7.1.
const DATA_OID: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

/// The contents of a DER `SET OF Certificate`: the encodings sorted (X.690 section 11.6),
/// duplicates dropped.
fn certificate_set(certificates: &[Certificate]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = certificates.iter().map(Certificate::der).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.concat()
}

/// DER of a certs-only `ContentInfo`/`SignedData` holding `certificates`, the set in DER
/// order.
pub fn certs_only_der(certificates: &[Certificate]) -> Result<Vec<u8>, CryptoError> {
    let signed_data = [
        tlv(0x02, &[0x01]),                        // version 1
        tlv(0x31, &[]),                            // digestAlgorithms: none
        tlv(0x30, DATA_OID),                       // encapContentInfo: id-data, no content
        tlv(0xa0, &certificate_set(certificates)), // [0] IMPLICIT SET OF Certificate
        tlv(0x31, &[]),                            // signerInfos: none
    ]
    .concat();
    Ok(tlv(0x30, &[SIGNED_DATA_OID, &tlv(0xa0, &tlv(0x30, &signed_data))].concat()))
}

/// [`certs_only_der`] as PEM with the `PKCS7` label (64-character lines).
pub fn certs_only_pem(certificates: &[Certificate]) -> Result<String, CryptoError> {
    Ok(pem::encode("PKCS7", &certs_only_der(certificates)?))
}

/// The certificates of a PKCS#7 `ContentInfo` holding `SignedData` (DER or BER), in the order
/// written, at most [`MAX_BUNDLE_CERTIFICATES`]; each certificate's bytes as they were.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, CryptoError> {
    let bad = |why: &str| CryptoError::Certificate(format!("PKCS#7: {why}"));
    let any = |input| Any::from_ber(input).map_err(|_| bad("not BER"));
    let (rest, content_info) = any(bytes)?;
    if !rest.is_empty() || content_info.tag() != Tag::Sequence {
        return Err(bad("not a ContentInfo"));
    }
    let (inner, oid) = any(content_info.data)?;
    let oid: Oid<'_> = oid.try_into().map_err(|_| bad("no content type"))?;
    if oid != Oid::from(SIGNED_DATA).map_err(|_| bad("content type"))? {
        return Err(bad("not SignedData"));
    }
    let (_, explicit) = any(inner)?;
    if explicit.class() != Class::ContextSpecific || explicit.tag() != Tag(0) {
        return Err(bad("no [0] content"));
    }
    let (_, signed_data) = any(explicit.data)?;
    if signed_data.tag() != Tag::Sequence {
        return Err(bad("SignedData is not a SEQUENCE"));
    }
    // version, digestAlgorithms, encapContentInfo, then [0] IMPLICIT certificates if present.
    let mut fields = signed_data.data;
    for _ in 0..3 {
        fields = any(fields)?.0;
    }
    let mut certificates = Vec::new();
    let (_, set) = match any(fields) {
        Ok((rest, set)) if set.class() == Class::ContextSpecific && set.tag() == Tag(0) => (rest, set),
        _ => return Ok(certificates),
    };
    let mut items = set.data;
    while !items.is_empty() {
        if certificates.len() == MAX_BUNDLE_CERTIFICATES {
            return Err(bad(&format!("more than {MAX_BUNDLE_CERTIFICATES} certificates")));
        }
        let (rest, _) = any(items)?;
        let raw = items.get(..items.len() - rest.len()).ok_or_else(|| bad("a certificate"))?;
        // Other certificate formats ([0], [1], ... of CertificateChoices) are skipped.
        if raw.first() == Some(&0x30) {
            certificates.push(Certificate::from_der(raw)?);
        }
        items = rest;
    }
    Ok(certificates)
}

/// DER of `sha256` (2.16.840.1.101.3.4.2.1), the arcs.
const SHA256_ARCS: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// `rsaEncryption` (1.2.840.113549.1.1.1), the arcs.
const RSA_ENCRYPTION_ARCS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-contentType` (1.2.840.113549.1.9.3), the arcs.
const CONTENT_TYPE_ARCS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
/// `id-messageDigest` (1.2.840.113549.1.9.4), the arcs.
const MESSAGE_DIGEST_ARCS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// `id-aa-signingCertificateV2` (1.2.840.113549.1.9.16.2.47), the arcs.
const SIGNING_CERTIFICATE_V2_ARCS: &[u8] =
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f];

fn attribute(type_arcs: &[u8], value: &[u8]) -> Vec<u8> {
    seq(&[&oid(type_arcs), &tlv(0x31, value)])
}

/// A detached CMS `SignedData` (RFC 5652) over content whose SHA-256 is `content_digest`, as
/// PAdES baseline B and CAdES-BES want it: signed attributes `contentType` (id-data),
/// `messageDigest` and `signingCertificateV2` (the signer certificate's SHA-256), no signing
/// time (PDF keeps it in the signature dictionary), an RSA PKCS#1 v1.5 SHA-256 signature that
/// `sign` makes over the DER of the signed attributes (an HSM signs there), and `chain` (the
/// signer's certificate first; the set is written in DER order, the signer found by issuer and
/// serial) as the certificates.
pub fn signed_data_detached(
    content_digest: &[u8; 32],
    chain: &[Certificate],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, CryptoError>,
) -> Result<Vec<u8>, CryptoError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let signer = chain.first().ok_or_else(|| CryptoError::Certificate("no signer certificate".into()))?;
    let (_, parsed) = X509Certificate::from_der(signer.der())
        .map_err(|e| CryptoError::Certificate(format!("signer certificate: {e}")))?;
    let sha256_alg = seq(&[&oid(SHA256_ARCS)]);
    let ess_cert_id = seq(&[&tlv(0x04, &crate::sha256(signer.der()))]);
    let attributes = [
        attribute(CONTENT_TYPE_ARCS, DATA_OID),
        attribute(MESSAGE_DIGEST_ARCS, &tlv(0x04, content_digest)),
        attribute(SIGNING_CERTIFICATE_V2_ARCS, &seq(&[&seq(&[&ess_cert_id])])),
    ];
    // DER orders a SET OF by the encodings of its elements.
    let mut sorted: Vec<&[u8]> = attributes.iter().map(Vec::as_slice).collect();
    sorted.sort_unstable();
    let signed_attrs = sorted.concat();
    // Signed as a SET (tag 0x31), stored as [0] IMPLICIT (RFC 5652 section 5.4).
    let signature = sign(&tlv(0x31, &signed_attrs))?;
    // The serial exactly as the certificate encodes it (two's complement, sign included).
    let issuer_and_serial =
        seq(&[parsed.tbs_certificate.issuer.as_raw(), &tlv(0x02, parsed.tbs_certificate.raw_serial())]);
    let signer_info = seq(&[
        &tlv(0x02, &[0x01]),
        &issuer_and_serial,
        &sha256_alg,
        &tlv(0xa0, &signed_attrs),
        &seq(&[&oid(RSA_ENCRYPTION_ARCS), &[0x05, 0x00]]),
        &tlv(0x04, &signature),
    ]);
    let signed_data = seq(&[
        &tlv(0x02, &[0x01]),
        &tlv(0x31, &sha256_alg),
        &seq(&[DATA_OID]),
        &tlv(0xa0, &certificate_set(chain)),
        &tlv(0x31, &signer_info),
    ]);
    Ok(seq(&[SIGNED_DATA_OID, &tlv(0xa0, &signed_data)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Certificate {
        Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).unwrap()
    }

    #[test]
    fn written_then_read() {
        let cert = fixture();
        let der = certs_only_der(std::slice::from_ref(&cert)).unwrap();
        let back = read_certificates(&der).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].der(), cert.der());
        assert!(certs_only_pem(std::slice::from_ref(&cert)).unwrap().starts_with("-----BEGIN PKCS7-----\n"));
        assert!(read_certificates(&certs_only_der(&[]).unwrap()).unwrap().is_empty());
        // The set is in DER order whatever order the chain came in, each certificate once.
        let other = crate::issue::issue_certificate(
            &crate::issue::CertificateSpec {
                subject: crate::issue::DistinguishedNameSpec {
                    common_name: "other".into(),
                    ..Default::default()
                },
                not_before: cert.not_before(),
                not_after: cert.not_after(),
                profile: crate::issue::CertificateProfile::Root,
            },
            &crate::SigningKey::generate(crate::AsymmetricKind::EcP256).unwrap().public_key_spki().unwrap(),
            &crate::issue::CertificateIssuer {
                certificate: None,
                public_key_spki: &crate::SigningKey::generate(crate::AsymmetricKind::Rsa2048)
                    .unwrap()
                    .public_key_spki()
                    .unwrap(),
                sign: &|_| Ok(vec![0; 256]),
            },
        )
        .unwrap();
        let forward = certs_only_der(&[cert.clone(), other.clone(), cert.clone()]).unwrap();
        assert_eq!(forward, certs_only_der(&[other.clone(), cert.clone()]).unwrap());
        let read = read_certificates(&forward).unwrap();
        assert_eq!(read.len(), 2);
        assert!(read[0].der() < read[1].der());
    }

    #[test]
    fn ber_with_indefinite_lengths_is_read() {
        // What BouncyCastle writes: ContentInfo, [0], SignedData and the certificates SET with
        // indefinite lengths, the certificates themselves in DER.
        let cert = fixture();
        let indefinite = |tag: u8, parts: &[&[u8]]| [&[tag, 0x80][..], &parts.concat(), &[0, 0]].concat();
        let signed_data = indefinite(
            0x30,
            &[
                &[0x02, 0x01, 0x01],
                &[0x31, 0x00],
                &[0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
                &indefinite(0xa0, &[cert.der(), cert.der()]),
                &[0x31, 0x00],
            ],
        );
        let oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
        let ber = indefinite(0x30, &[&oid, &indefinite(0xa0, &[&signed_data])]);
        let back = read_certificates(&ber).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].der(), cert.der());
    }

    #[test]
    fn refusals() {
        for bad in [&b""[..], b"\x30\x00", b"not der at all", &[0x30, 0x80, 0x00]] {
            assert!(read_certificates(bad).is_err(), "{bad:?}");
        }
        let cert = fixture();
        let many: Vec<Certificate> = (0..=MAX_BUNDLE_CERTIFICATES).map(|_| cert.clone()).collect();
        // A SET holds each value once in DER; build the oversized bundle by hand.
        let body: Vec<u8> = many.iter().flat_map(|c| c.der().to_vec()).collect();
        let len = |n: usize| -> Vec<u8> { [vec![0x83], (n as u32).to_be_bytes()[1..].to_vec()].concat() };
        let set = [vec![0xa0], len(body.len()), body].concat();
        let signed = [
            &[
                0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                0x01, 0x07, 0x01,
            ][..],
            &set,
            &[0x31, 0x00],
        ]
        .concat();
        let signed = [vec![0x30], len(signed.len()), signed].concat();
        let explicit = [vec![0xa0], len(signed.len()), signed].concat();
        let info =
            [&[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02][..], &explicit].concat();
        let info = [vec![0x30], len(info.len()), info].concat();
        let err = read_certificates(&info).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
    }
}
