//! X.509 certificates: parsed once into owned fields.

use keymgr_model::{Thumbprint, UtcTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{CryptoError, RsaPublicKey, pem, thumbprint_of};

/// Largest certificate accepted, in DER bytes, to bound work on untrusted input.
pub const MAX_CERT_DER_LEN: usize = 64 * 1024;

/// A parsed X.509 certificate: its DER, thumbprint, public key and the fields the key manager
/// decides by.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    thumbprint: Thumbprint,
    spki_der: Vec<u8>,
    subject: String,
    subject_der: Vec<u8>,
    issuer: String,
    serial_hex: String,
    not_before: UtcTime,
    not_after: UtcTime,
    can_certify: bool,
}

impl Certificate {
    /// Parses a DER certificate. Trailing bytes after the certificate are refused.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        if der.len() > MAX_CERT_DER_LEN {
            return Err(CryptoError::Certificate(format!("longer than {MAX_CERT_DER_LEN} bytes")));
        }
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CryptoError::Certificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CryptoError::Certificate("trailing bytes after the certificate".into()));
        }
        let time = |t: i64| {
            UtcTime::from_unix_millis(t.saturating_mul(1000))
                .map_err(|_| CryptoError::Certificate("validity out of range".into()))
        };
        let validity = cert.validity();
        // A CA, or a key allowed to sign certificates; an unreadable extension counts as one.
        let is_ca = cert.basic_constraints().map_or(true, |b| b.is_some_and(|b| b.value.ca));
        let cert_sign = cert.key_usage().map_or(true, |u| u.is_some_and(|u| u.value.key_cert_sign()));
        Ok(Self {
            der: der.to_vec(),
            thumbprint: thumbprint_of(der),
            spki_der: cert.public_key().raw.to_vec(),
            subject: cert.subject().to_string(),
            subject_der: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().to_string(),
            serial_hex: cert.raw_serial_as_string(),
            not_before: time(validity.not_before.timestamp())?,
            not_after: time(validity.not_after.timestamp())?,
            can_certify: is_ca || cert_sign,
        })
    }

    /// Parses the first `CERTIFICATE` object of PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, CryptoError> {
        Self::from_der(&pem::decode_first(text, &["CERTIFICATE"])?)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text (`BEGIN CERTIFICATE`, 64-character lines).
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// SHA-256 of the DER: the thumbprint that selects the key in an envelope.
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public key, if it is an RSA key of an accepted size.
    pub fn rsa_public_key(&self) -> Result<RsaPublicKey, CryptoError> {
        RsaPublicKey::from_spki_der(&self.spki_der)
    }

    /// The subject distinguished name, as text.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The DER encoding of the subject name (for PKCS#11 `CKA_SUBJECT`).
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The issuer distinguished name, as text.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The serial number as colon-separated hex.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// Start of validity.
    pub fn not_before(&self) -> UtcTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> UtcTime {
        self.not_after
    }
}

impl Certificate {
    /// Whether this certificate's signature (SHA256withRSA) verifies with `issuer`'s public
    /// key and its issuer name is `issuer`'s subject.
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let Ok((_, cert)) = X509Certificate::from_der(&self.der) else { return false };
        self.issuer == issuer.subject
            && crate::verify(
                crate::SignAlgorithm::Rs256,
                issuer.spki_der(),
                cert.tbs_certificate.as_ref(),
                &cert.signature_value.data,
            )
            .is_ok()
    }

    /// Whether the certificate's key may certify others: a CA (basic constraints) or a key
    /// with `keyCertSign`. Such a key must never sign caller-chosen bytes raw, or the caller
    /// could have it sign a certificate.
    pub fn can_certify(&self) -> bool {
        self.can_certify
    }

    /// Whether the certificate is valid (within its dates) at `at`.
    pub fn is_valid_at(&self, at: UtcTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("thumbprint", &self.thumbprint)
            .field("not_after", &self.not_after)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &[u8] = include_bytes!("../../../testdata/fixture-cert.pem");

    #[test]
    fn parses_fixture_certificate() {
        let cert = Certificate::from_pem(CERT).expect("fixture parses");
        assert!(cert.subject().contains("CN=keymgr test fixture"));
        assert_eq!(cert.subject(), cert.issuer());
        assert!(cert.not_before() < cert.not_after());
        assert_eq!(cert.thumbprint(), thumbprint_of(cert.der()));
        assert_eq!(cert.rsa_public_key().expect("rsa").modulus_len(), 256);
        assert_eq!(Certificate::from_pem(cert.to_pem().as_bytes()), Ok(cert.clone()));
    }

    #[test]
    fn rejects_junk_and_trailing_bytes() {
        let cert = Certificate::from_pem(CERT).expect("fixture parses");
        let mut der = cert.der().to_vec();
        der.push(0);
        assert!(Certificate::from_der(&der).is_err());
        assert!(Certificate::from_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
        assert!(Certificate::from_der(&vec![0x30; MAX_CERT_DER_LEN + 1]).is_err());
    }
}
