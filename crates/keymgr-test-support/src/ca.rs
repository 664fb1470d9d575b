//! An outside CA: a certificate authority that is not the key manager, for uploading
//! CA-signed certificates and other domains' certificates.

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
};
use keymgr_crypto::{AsymmetricKind, Certificate, SignAlgorithm, SigningKey};
use keymgr_model::UtcTime;

/// A software RSA-2048 key and its self-signed root certificate, `CN=Outside CA`.
pub struct OutsideCa {
    /// The CA's signing key.
    pub key: SigningKey,
    /// The CA's self-signed certificate, valid for 3650 days from its making.
    pub certificate: Certificate,
}

impl OutsideCa {
    /// A new CA whose root certificate is valid from `now` for 3650 days.
    pub fn new(now: UtcTime) -> Self {
        let key = SigningKey::generate(AsymmetricKind::Rsa2048).expect("outside CA: RSA-2048 key");
        let spki = key.public_key_spki().expect("outside CA: public key");
        let certificate = issue_certificate(
            &CertificateSpec {
                subject: DistinguishedNameSpec { common_name: "Outside CA".into(), ..Default::default() },
                not_before: now,
                not_after: now.plus_days(3650),
                profile: CertificateProfile::Root,
            },
            &spki,
            &CertificateIssuer {
                certificate: None,
                public_key_spki: &spki,
                sign: &|m| key.sign(SignAlgorithm::Rs256, m),
            },
        )
        .expect("outside CA: self-signed certificate");
        Self { key, certificate }
    }

    /// An encryption certificate `CN=<cn>` for the key `subject_spki` (DER
    /// SubjectPublicKeyInfo), signed by this CA, valid from `now` for 700 days.
    pub fn certify(&self, subject_spki: &[u8], cn: &str, now: UtcTime) -> Certificate {
        let ca_spki = self.key.public_key_spki().expect("outside CA: public key");
        issue_certificate(
            &CertificateSpec {
                subject: DistinguishedNameSpec { common_name: cn.into(), ..Default::default() },
                not_before: now,
                not_after: now.plus_days(700),
                profile: CertificateProfile::Encryption,
            },
            subject_spki,
            &CertificateIssuer {
                certificate: Some(&self.certificate),
                public_key_spki: &ca_spki,
                sign: &|m| self.key.sign(SignAlgorithm::Rs256, m),
            },
        )
        .unwrap_or_else(|e| panic!("outside CA: certificate for {cn}: {e}"))
    }
}
