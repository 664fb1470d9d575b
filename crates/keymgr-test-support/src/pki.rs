//! Certificate authorities of partners, for trust-store tests: software RSA-2048 keys that make
//! roots, sub-CAs and partner certificates with chosen names and validity.

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
};
use keymgr_crypto::{AsymmetricKind, Certificate, RsaPrivateKey, SignAlgorithm, SigningKey};
use keymgr_model::UtcTime;

/// A name with a CN and an O.
pub fn name(cn: &str, o: &str) -> DistinguishedNameSpec {
    DistinguishedNameSpec {
        common_name: cn.into(),
        organization: o.into(),
        country: "IN".into(),
        ..Default::default()
    }
}

/// A CA: its key and certificate.
pub struct Authority {
    /// The CA's key.
    pub key: SigningKey,
    /// Its certificate.
    pub certificate: Certificate,
}

/// A fresh RSA-2048 key.
pub fn rsa_key() -> SigningKey {
    SigningKey::generate(AsymmetricKind::Rsa2048).expect("RSA-2048 key")
}

impl Authority {
    /// A self-signed root `name`, valid from `from` for `days`.
    pub fn root(name: DistinguishedNameSpec, from: UtcTime, days: i64) -> Self {
        let key = rsa_key();
        let spki = key.public_key_spki().expect("public key");
        let certificate = issue_certificate(
            &CertificateSpec {
                subject: name,
                not_before: from,
                not_after: from.plus_days(days),
                profile: CertificateProfile::Root,
            },
            &spki,
            &CertificateIssuer {
                certificate: None,
                public_key_spki: &spki,
                sign: &|m| key.sign(SignAlgorithm::Rs256, m),
            },
        )
        .expect("self-signed root");
        Self { key, certificate }
    }

    /// A certificate for `spki` named `name`, valid from `from` for `days`, with `profile`.
    pub fn issue(
        &self,
        spki: &[u8],
        name: DistinguishedNameSpec,
        profile: CertificateProfile,
        from: UtcTime,
        days: i64,
    ) -> Certificate {
        let issuer_spki = self.key.public_key_spki().expect("public key");
        issue_certificate(
            &CertificateSpec { subject: name, not_before: from, not_after: from.plus_days(days), profile },
            spki,
            &CertificateIssuer {
                certificate: Some(&self.certificate),
                public_key_spki: &issuer_spki,
                sign: &|m| self.key.sign(SignAlgorithm::Rs256, m),
            },
        )
        .expect("certificate")
    }

    /// A fresh RSA-2048 key and its encryption certificate `name` from this CA, valid from
    /// `from` for `days` (a partner's or IDA's key for sealing and ZK tests).
    pub fn encryption_key(
        &self,
        name: DistinguishedNameSpec,
        from: UtcTime,
        days: i64,
    ) -> (RsaPrivateKey, Certificate) {
        let key = RsaPrivateKey::generate_2048().expect("RSA-2048 key");
        let spki = key.public_key().expect("public key").spki_der().to_vec();
        let certificate = self.issue(&spki, name, CertificateProfile::Encryption, from, days);
        (key, certificate)
    }

    /// A sub-CA `name` of this CA, valid from `from` for `days`.
    pub fn sub_ca(&self, name: DistinguishedNameSpec, from: UtcTime, days: i64) -> Authority {
        let key = rsa_key();
        let certificate = self.issue(
            &key.public_key_spki().expect("public key"),
            name,
            CertificateProfile::Intermediate,
            from,
            days,
        );
        Authority { key, certificate }
    }

    /// A partner's key and its certificate (a signing end entity) from this CA.
    pub fn partner(&self, name: DistinguishedNameSpec, from: UtcTime, days: i64) -> Authority {
        let key = rsa_key();
        let certificate = self.issue(
            &key.public_key_spki().expect("public key"),
            name,
            CertificateProfile::Signing,
            from,
            days,
        );
        Authority { key, certificate }
    }
}
