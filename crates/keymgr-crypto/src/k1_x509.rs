//! Certificates and CSRs for secp256k1 keys (MOSIP's `EC_SECP256K1_SIGN`), which rcgen cannot
//! write: the same profiles and names as [`crate::issue`], encoded with [`crate::der`]. The
//! specification types come from [`crate::cert_spec`]; [`crate::issue`] calls this module, not
//! the other way round.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert_spec::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, SignFn, key_identifier,
    serial_bytes,
};
use crate::der::{bits, ecdsa_der, oid, seq, time, tlv, uint};
use crate::{Certificate, CryptoError};

/// sha256WithRSAEncryption, with its NULL parameters.
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// ecdsa-with-SHA256.
const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

fn name(dn: &DistinguishedNameSpec) -> Result<Vec<u8>, CryptoError> {
    let mut rdns = Vec::new();
    for (attr, value, printable) in dn.ordered() {
        if value.is_empty() {
            continue;
        }
        let encoded = if printable {
            let ok = value.bytes().all(|c| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&c));
            if !ok {
                return Err(CryptoError::Certificate("country must be printable ASCII".into()));
            }
            tlv(0x13, value.as_bytes())
        } else {
            tlv(0x0c, value.as_bytes())
        };
        rdns.push(tlv(0x31, &seq(&[&oid(attr), &encoded])));
    }
    Ok(tlv(0x30, &rdns.concat()))
}

/// The subject public key bits of a DER `SubjectPublicKeyInfo`.
fn key_bits(spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| CryptoError::Certificate(format!("public key: {e}")))?;
    Ok(spki.subject_public_key.data.to_vec())
}

/// RFC 7093 method 1, as the rcgen path uses, of a DER `SubjectPublicKeyInfo`.
fn key_id(spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(key_identifier(&key_bits(spki_der)?))
}

fn extension(id: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical { tlv(0x01, &[0xff]) } else { Vec::new() };
    seq(&[&oid(id), &crit, &tlv(0x04, value)])
}

/// A certificate for the secp256k1 key `subject_spki`, signed SHA256withRSA by `issuer`.
pub(crate) fn issue(
    spec: &CertificateSpec,
    subject_spki: &[u8],
    issuer: &CertificateIssuer<'_>,
) -> Result<Certificate, CryptoError> {
    let issuer_cert = issuer
        .certificate
        .ok_or(CryptoError::KeyRejected("a secp256k1 key cannot sign its own certificate"))?;
    let (_, parsed_issuer) =
        X509Certificate::from_der(issuer_cert.der()).map_err(|e| CryptoError::Certificate(e.to_string()))?;
    let issuer_key_id = match parsed_issuer.extensions().iter().find_map(|e| match e.parsed_extension() {
        x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
        _ => None,
    }) {
        Some(k) => k,
        None => key_id(issuer.public_key_spki)?,
    };
    // digitalSignature + keyCertSign (2 unused bits), keyEncipherment (5 unused bits) or
    // digitalSignature alone (7 unused bits).
    let (basic, usage): (Vec<u8>, [u8; 2]) = match spec.profile {
        CertificateProfile::Root => (seq(&[&tlv(0x01, &[0xff]), &uint(&[2])]), [0x02, 0x84]),
        CertificateProfile::Intermediate => (seq(&[&tlv(0x01, &[0xff]), &uint(&[1])]), [0x02, 0x84]),
        CertificateProfile::Encryption => (seq(&[]), [0x05, 0x20]),
        CertificateProfile::Signing => (seq(&[]), [0x07, 0x80]),
        // CA without a path length; digitalSignature + keyCertSign (+ keyEncipherment).
        CertificateProfile::PartnerCa { key_encipherment: false } => {
            (seq(&[&tlv(0x01, &[0xff])]), [0x02, 0x84])
        }
        CertificateProfile::PartnerCa { key_encipherment: true } => {
            (seq(&[&tlv(0x01, &[0xff])]), [0x02, 0xa4])
        }
    };
    let extensions = seq(&[
        &extension(&[0x55, 0x1d, 0x13], true, &basic),
        &extension(&[0x55, 0x1d, 0x0f], true, &tlv(0x03, &usage)),
        &extension(&[0x55, 0x1d, 0x0e], false, &tlv(0x04, &key_id(subject_spki)?)),
        &extension(&[0x55, 0x1d, 0x23], false, &seq(&[&tlv(0x80, &issuer_key_id)])),
    ]);
    let rsa_alg = seq(&[&oid(SHA256_WITH_RSA), &[0x05, 0x00]]);
    let tbs = seq(&[
        &tlv(0xa0, &uint(&[2])),
        &uint(&serial_bytes()?),
        &rsa_alg,
        issuer_cert.subject_der(),
        &seq(&[&time(spec.not_before.as_offset()), &time(spec.not_after.as_offset())]),
        &name(&spec.subject)?,
        subject_spki,
        &tlv(0xa3, &extensions),
    ]);
    let signature = (issuer.sign)(&tbs)?;
    Certificate::from_der(&seq(&[&tbs, &rsa_alg, &bits(&signature)]))
}

/// A PKCS#10 request (PEM) for the secp256k1 key `subject_spki`, signed ECDSA-SHA256 by it.
pub(crate) fn certificate_request(
    subject: &DistinguishedNameSpec,
    subject_spki: &[u8],
    sign: &SignFn<'_>,
) -> Result<String, CryptoError> {
    let info = seq(&[&uint(&[0]), &name(subject)?, subject_spki, &tlv(0xa0, &[])]);
    let raw = sign(&info)?;
    let signature = match raw.len() {
        64 => {
            let (r, s) = raw.split_at(32);
            ecdsa_der(r, s)
        }
        _ => raw,
    };
    let der = seq(&[&info, &seq(&[&oid(ECDSA_WITH_SHA256)]), &bits(&signature)]);
    Ok(crate::pem::encode("CERTIFICATE REQUEST", &der))
}
