//! What a certificate to issue looks like (subject name, validity, profile, issuer) and the
//! small pieces both certificate writers share: the rcgen writer ([`crate::issue`]) and the
//! secp256k1 writer (`k1_x509`) depend on this module, never on each other's internals.
//!
//! The public items are re-exported from [`crate::issue`].

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Certificate, CryptoError, fill_random, sha256};

/// The parts of a distinguished name MOSIP sets; empty parts are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedNameSpec {
    /// CN.
    pub common_name: String,
    /// OU.
    pub organizational_unit: String,
    /// O.
    pub organization: String,
    /// L.
    pub locality: String,
    /// ST.
    pub state: String,
    /// C (PrintableString).
    pub country: String,
}

impl DistinguishedNameSpec {
    /// The parts in MOSIP's encoding order C, ST, L, O, OU, CN, with their attribute OIDs
    /// (encoded arcs) and whether the value is a PrintableString.
    pub(crate) fn ordered(&self) -> [(&'static [u8], &str, bool); 6] {
        [
            (&[0x55, 0x04, 0x06], self.country.as_str(), true),
            (&[0x55, 0x04, 0x08], self.state.as_str(), false),
            (&[0x55, 0x04, 0x07], self.locality.as_str(), false),
            (&[0x55, 0x04, 0x0a], self.organization.as_str(), false),
            (&[0x55, 0x04, 0x0b], self.organizational_unit.as_str(), false),
            (&[0x55, 0x04, 0x03], self.common_name.as_str(), false),
        ]
    }
}

/// The subject parts of `certificate` (the first of each kind; absent ones empty), so that a
/// successor key can carry the same name (MOSIP copies the DN of a pair's oldest certificate).
pub fn subject_of(certificate: &Certificate) -> Result<DistinguishedNameSpec, CryptoError> {
    let (_, cert) =
        X509Certificate::from_der(certificate.der()).map_err(|e| CryptoError::Certificate(e.to_string()))?;
    Ok(name_spec(cert.subject()))
}

/// The CN, OU, O, L, ST and C of a certificate's issuer (the first of each), empty when absent.
pub fn issuer_of(certificate: &Certificate) -> Result<DistinguishedNameSpec, CryptoError> {
    let (_, cert) =
        X509Certificate::from_der(certificate.der()).map_err(|e| CryptoError::Certificate(e.to_string()))?;
    Ok(name_spec(cert.issuer()))
}

fn name_spec(name: &x509_parser::x509::X509Name<'_>) -> DistinguishedNameSpec {
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).unwrap_or_default().to_owned()
    };
    DistinguishedNameSpec {
        common_name: first(&mut name.iter_common_name()),
        organizational_unit: first(&mut name.iter_organizational_unit()),
        organization: first(&mut name.iter_organization()),
        locality: first(&mut name.iter_locality()),
        state: first(&mut name.iter_state_or_province()),
        country: first(&mut name.iter_country()),
    }
}

/// What a certificate is for, which fixes its key usage and basic constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProfile {
    /// ROOT: digitalSignature + keyCertSign (critical), CA with path length 2.
    Root,
    /// Module masters: digitalSignature + keyCertSign, CA with path length 1.
    Intermediate,
    /// Base encryption keys: keyEncipherment, not a CA.
    Encryption,
    /// Signing keys (`KERNEL`/`SIGN`, the EC and Ed25519 keys): digitalSignature, not a CA, so
    /// a raw signature they make over caller bytes can never pass as a certificate.
    Signing,
    /// A partner's certificate re-signed by the PMS master (reference section 7): a CA without
    /// a path length, digitalSignature + keyCertSign, and keyEncipherment for the AUTH domain.
    PartnerCa {
        /// Add keyEncipherment (domain AUTH).
        key_encipherment: bool,
    },
}

/// The validity, subject and profile of a certificate to issue.
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    /// The subject name.
    pub subject: DistinguishedNameSpec,
    /// Start of validity.
    pub not_before: keymgr_model::UtcTime,
    /// End of validity.
    pub not_after: keymgr_model::UtcTime,
    /// Usage profile.
    pub profile: CertificateProfile,
}

/// A function that signs a message with SHA256withRSA using an issuer's private key.
pub type SignFn<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, CryptoError> + 'a;

/// Who signs a certificate: the issuer's certificate (`None` for self-signed) and a function
/// that makes an RSA PKCS#1 v1.5 SHA-256 signature with the issuer's private key (in an HSM).
pub struct CertificateIssuer<'a> {
    /// The issuer's certificate; `None` when the certificate signs itself.
    pub certificate: Option<&'a Certificate>,
    /// The issuer's (or, self-signed, the subject's) DER `SubjectPublicKeyInfo`.
    pub public_key_spki: &'a [u8],
    /// Signs a message with SHA256withRSA using the issuer's private key.
    pub sign: &'a SignFn<'a>,
}

/// Eight random bytes of a positive 64-bit serial number (MOSIP's can be negative, against
/// RFC 5280).
pub(crate) fn serial_bytes() -> Result<[u8; 8], CryptoError> {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes)?;
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f) | 0x01;
    }
    Ok(bytes)
}

/// RFC 7093 method 1, the key identifier both writers use: the leftmost 160 bits of SHA-256
/// of the subject public key bits.
pub(crate) fn key_identifier(key_bits: &[u8]) -> Vec<u8> {
    sha256(key_bits).get(..20).unwrap_or_default().to_vec()
}
