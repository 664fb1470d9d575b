//! An outside CA: a certificate authority that is not the key manager, for uploading
//! CA-signed certificates and other domains' certificates. It is a [`pki::Authority`] named
//! `CN=Outside CA` that makes encryption certificates.
//!
//! [`pki::Authority`]: crate::pki::Authority

use keymgr_crypto::Certificate;
use keymgr_crypto::issue::{CertificateProfile, DistinguishedNameSpec};
use keymgr_model::UtcTime;

/// A software RSA-2048 key and its self-signed root certificate, `CN=Outside CA`.
pub use crate::pki::Authority as OutsideCa;

impl OutsideCa {
    /// A new outside CA whose root certificate is valid from `now` for 3650 days.
    pub fn new(now: UtcTime) -> Self {
        Self::root(
            DistinguishedNameSpec { common_name: "Outside CA".into(), ..Default::default() },
            now,
            3650,
        )
    }

    /// An encryption certificate `CN=<cn>` for the key `subject_spki` (DER
    /// SubjectPublicKeyInfo), signed by this CA, valid from `now` for 700 days.
    pub fn certify(&self, subject_spki: &[u8], cn: &str, now: UtcTime) -> Certificate {
        let name = DistinguishedNameSpec { common_name: cn.into(), ..Default::default() };
        self.issue(subject_spki, name, CertificateProfile::Encryption, now, 700)
    }
}
