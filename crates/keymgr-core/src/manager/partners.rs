//! The partner certificate manager (reference section 7): CA certificates of partner domains
//! (`uploadCACertificate`, `getCaCertificates`, `getCACertificateTrustPath`), partner
//! certificates re-signed by the PMS master (`uploadPartnerCertificate`,
//! `getPartnerCertificate`, `getPartnerSignedCertificate`).
//!
//! Differences from MOSIP, each deliberate:
//! * A bundle's status counts every certificate: `Upload Success.` when all were stored,
//!   `Partial Upload Success.` when some were, `Upload Failed.` when none (MOSIP lets the last
//!   certificate decide). The certificates of a bundle may come in any order: issuers are
//!   stored before the certificates they signed.
//! * An intermediate's `issuer_id` is the row of the certificate that actually signed it, in
//!   its own domain (MOSIP takes the first row of any domain with the issuer's name).
//! * PKCS#7 answers are strict DER (MOSIP's are BER); a certificate without a CN, or a trust
//!   path that does not exist, is an error instead of a 500 or an empty bundle.
//! * A partner certificate may be signed with SHA-256, SHA-384 or SHA-512 (with RSA or
//!   ECDSA); MOSIP's check (the name starts with `SHA2`) lets only SHA-256 through. Key size
//!   (`KER-PCM-013`) and algorithm (`KER-PCM-014`) are checked before the trust path, which
//!   would refuse them too.
//! * Anchors are self-signed certificates whose self-signature passes the same allow-list:
//!   a SHA-1 or RSA-1024 root is no anchor here (`KER-PCM-005` for what it signed), where
//!   MOSIP trusts it.
//! * A bundle request makes at most 300 path validations; a certificate whose path fails for
//!   any reason but a missing issuer is refused at once, not retried.
//! * `getCaCertificates` filters `uploadTime` on when the row was stored (MOSIP compares a
//!   column it never writes), matches `%` and `_` literally, and refuses an unknown sort field
//!   with `KER-KMS-005` (MOSIP answers 500).

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, issue_certificate, issuer_of, subject_of,
};
use keymgr_crypto::{Certificate, SignAlgorithm, pkcs7};
use keymgr_db::{CertRecord, PartnerCertRecord};
use keymgr_model::{AppId, KeyRef, UtcTime, WellKnown};
use keymgr_trust::{ParsedCertificate, TrustError, TrustStore};

use super::KeyManager;
use super::trust_stores::{parse, sha1_thumbprint};
use crate::KeymgrError;

/// The signature algorithms a partner certificate may carry: SHA-2 with RSA or ECDSA (MOSIP's
/// test, a name starting with `SHA2`, also refuses SHA-384 and SHA-512, which it means to take).
const SHA2_SIGNATURES: [&str; 6] = [
    "SHA256withRSA",
    "SHA384withRSA",
    "SHA512withRSA",
    "SHA256withECDSA",
    "SHA384withECDSA",
    "SHA512withECDSA",
];

/// The most path validations one `uploadCACertificate` request makes (each bounded by
/// `keymgr_trust::SIGNATURE_BUDGET` signature checks), so a bundle cannot make one request
/// expensive.
const MAX_UPLOAD_VALIDATIONS: usize = 300;

/// The most CA certificates of one domain that may share a subject name.
const MAX_CERTIFICATES_PER_NAME: usize = 16;

/// The longest subject or issuer DN text, serial number and organisation the MOSIP tables hold.
const MAX_DN_TEXT: usize = 500;
const MAX_SERIAL_TEXT: usize = 50;
const MAX_ORGANIZATION: usize = 120;

/// How one certificate of an upload fared when it did not fail.
enum Stored {
    /// Stored.
    Yes,
    /// Its issuer is not (yet) in the domain.
    WaitsForIssuer(String),
}

/// What `uploadCACertificate` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaUploadStatus {
    /// Every certificate was stored.
    Success,
    /// Some were.
    Partial,
    /// None was.
    Failed,
}

impl CaUploadStatus {
    /// MOSIP's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Upload Success.",
            Self::Partial => "Partial Upload Success.",
            Self::Failed => "Upload Failed.",
        }
    }
}

/// What `uploadPartnerCertificate` answers.
#[derive(Debug, Clone)]
pub struct PartnerUpload {
    /// base64url (no padding) of the DER PKCS#7 bundle: the re-signed certificate, the PMS
    /// master's, ROOT's (or, for FTM partners, their own trust path).
    pub signed_certificate_data: String,
    /// The new `partner_cert_store` row.
    pub certificate_id: String,
}

/// MOSIP's DN text: `CN=..,OU=..,O=..,L=..,ST=..,C=..` of the parts present, values escaped as
/// RFC 4514 (BouncyCastle's `IETFUtils.valueToString`).
pub fn mosip_dn(name: &keymgr_crypto::issue::DistinguishedNameSpec) -> String {
    let escape = |value: &str| {
        let mut out = String::with_capacity(value.len());
        let last = value.chars().count().saturating_sub(1);
        for (i, c) in value.chars().enumerate() {
            if matches!(c, ',' | '"' | '\\' | '+' | '=' | '<' | '>' | ';')
                || (i == 0 && c == '#')
                || ((i == 0 || i == last) && c == ' ')
            {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    [
        ("CN", &name.common_name),
        ("OU", &name.organizational_unit),
        ("O", &name.organization),
        ("L", &name.locality),
        ("ST", &name.state),
        ("C", &name.country),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", escape(v)))
    .collect::<Vec<_>>()
    .join(",")
}

/// The certificates of an upload: one PEM certificate, or base64url (padding optional) of a DER
/// certificate or a PKCS#7 bundle (DER or BER). Text that is not base64 is `KER-CRY-003`, bytes
/// that are neither `KER-PCM-001`.
fn uploaded_certificates(data: &str) -> Result<Vec<Certificate>, KeymgrError> {
    let text = data.trim();
    if text.is_empty() {
        return Err(KeymgrError::InvalidCertificate("certificateData should not be null or empty".into()));
    }
    if text.contains("-----BEGIN") {
        return Certificate::from_pem(text.as_bytes())
            .map(|c| vec![c])
            .map_err(|e| KeymgrError::InvalidCertificate(e.to_string()));
    }
    let der = keymgr_model::base64::decode(text.as_bytes(), 16 * 1024 * 1024)
        .map_err(|e| KeymgrError::InvalidData(format!("certificateData is not base64 encoded: {e}")))?;
    match pkcs7::read_certificates(&der) {
        Ok(certs) => Ok(certs),
        Err(bundle) => Certificate::from_der(&der).map(|c| vec![c]).map_err(|_| {
            KeymgrError::InvalidCertificate(format!("neither a certificate nor a PKCS#7 bundle ({bundle})"))
        }),
    }
}

/// `date` plus `months` calendar months (the day kept, or the month's last).
fn plus_months(date: time::Date, months: u32) -> time::Date {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let month = time::Month::try_from(month as u8).unwrap_or(time::Month::December);
    let day = date.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day).unwrap_or(date)
}

/// The checks MOSIP makes on every certificate it stores: not in the domain yet, not future
/// dated (by UTC day), valid now.
fn check_dates(parsed: &ParsedCertificate, now: UtcTime) -> Result<(), KeymgrError> {
    if parsed.not_before().as_offset().date() > now.as_offset().date() {
        return Err(KeymgrError::FutureDatedCertificate);
    }
    if now < parsed.not_before() || now > parsed.not_after() {
        return Err(KeymgrError::CertificateDatesNotValid(format!(
            "valid {} to {}",
            parsed.not_before().to_mosip_string(),
            parsed.not_after().to_mosip_string()
        )));
    }
    Ok(())
}

/// The `ca_cert_store` row of `cert` in `domain`.
fn ca_record(
    cert: &Certificate,
    parsed: &ParsedCertificate,
    id: String,
    issuer_id: String,
    domain: &str,
) -> Result<CertRecord, KeymgrError> {
    let root = parsed.is_self_signed();
    Ok(CertRecord {
        subject: mosip_dn(&subject_of(cert)?),
        issuer: mosip_dn(&issuer_of(cert)?),
        issuer_id: if root { id.clone() } else { issuer_id },
        cert_id: id,
        not_before: Some(parsed.not_before()),
        not_after: Some(parsed.not_after()),
        crl_uri: None,
        cert_data: Some(cert.to_pem()),
        thumbprint: Some(sha1_thumbprint(cert.der())),
        serial_no: Some(parsed.serial_decimal().to_owned()),
        partner_domain: Some(domain.to_owned()),
        ca_cert_type: Some(if root { "ROOT" } else { "INTERMEDIATE" }.to_owned()),
    })
}

/// The subject and issuer DN texts of `cert`, and a refusal (`KER-PCM-001`) when they or its
/// serial number are longer than MOSIP's columns hold.
fn names_of(cert: &Certificate, parsed: &ParsedCertificate) -> Result<(String, String), KeymgrError> {
    let subject = mosip_dn(&subject_of(cert)?);
    let issuer = mosip_dn(&issuer_of(cert)?);
    if subject.len() > MAX_DN_TEXT
        || issuer.len() > MAX_DN_TEXT
        || parsed.serial_decimal().len() > MAX_SERIAL_TEXT
    {
        return Err(KeymgrError::InvalidCertificate(format!(
            "a subject or issuer name over {MAX_DN_TEXT} characters, or a serial number over {MAX_SERIAL_TEXT} digits"
        )));
    }
    Ok((subject, issuer))
}

impl KeyManager {
    /// MOSIP's `uploadCACertificate`: a PEM certificate, or base64url of a DER certificate or
    /// PKCS#7 bundle, stored as CA certificates of `domain`. A single certificate that fails a
    /// check is that check's error; a bundle stores what passes and answers the status. A
    /// database fault is an error either way.
    pub fn upload_ca_certificate(&self, data: &str, domain: &str) -> Result<CaUploadStatus, KeymgrError> {
        let certs = uploaded_certificates(data)?;
        let domain = self.partner_domain(domain)?;
        let single = certs.len() == 1;
        let current = self.domain_store(&domain)?;
        let mut store: TrustStore = current.store.clone();
        let mut ids = current.ids.clone();
        let mut pending: Vec<(Certificate, ParsedCertificate)> = Vec::new();
        let mut failed = 0usize;
        for cert in certs {
            match ParsedCertificate::from_der(cert.der()) {
                Ok(parsed) => pending.push((cert, parsed)),
                Err(e) if single => return Err(KeymgrError::InvalidCertificate(e.to_string())),
                Err(_) => failed += 1,
            }
        }
        let mut stored = 0usize;
        let mut validations = 0usize;
        // Passes until nothing more can be stored: a certificate whose issuer is not known yet
        // waits for the rest of the bundle; the whole request makes at most
        // MAX_UPLOAD_VALIDATIONS path validations.
        loop {
            let mut waiting = Vec::new();
            let before = stored;
            for (cert, parsed) in pending {
                if validations == MAX_UPLOAD_VALIDATIONS {
                    waiting.push((cert, parsed));
                    continue;
                }
                match self.store_ca(&cert, &parsed, &domain, &store, &mut ids, &mut validations) {
                    Ok(Stored::Yes) => {
                        stored += 1;
                        store.add_parsed(parsed);
                    }
                    Ok(Stored::WaitsForIssuer(_)) if !single => waiting.push((cert, parsed)),
                    Ok(Stored::WaitsForIssuer(why)) => return Err(KeymgrError::RootCaNotFound(why)),
                    Err(e @ (KeymgrError::Database(_) | KeymgrError::Keystore(_))) => return Err(e),
                    Err(e) if single => return Err(e),
                    Err(e) => {
                        tracing::info!(
                            "uploadCACertificate {domain}: a certificate of the bundle skipped: {e}"
                        );
                        failed += 1;
                    }
                }
            }
            pending = waiting;
            if stored == before || pending.is_empty() {
                failed += pending.len();
                break;
            }
        }
        if stored > 0 {
            self.forget_domain(&domain);
        }
        Ok(match (stored, failed) {
            (0, _) => CaUploadStatus::Failed,
            (_, 0) => CaUploadStatus::Success,
            _ => CaUploadStatus::Partial,
        })
    }

    /// Checks one CA certificate as MOSIP does and stores it: not in the domain yet, not future
    /// dated, valid now, valid for the minimum months more, v3, then a root (self-signed) or
    /// an intermediate with a path to one of the domain's roots. A path that fails only for
    /// want of an issuer waits (the bundle may bring it); any other failure is
    /// `KER-PCM-005`.
    fn store_ca(
        &self,
        cert: &Certificate,
        parsed: &ParsedCertificate,
        domain: &str,
        store: &TrustStore,
        ids: &mut std::collections::HashMap<String, String>,
        validations: &mut usize,
    ) -> Result<Stored, KeymgrError> {
        let now = self.clock.now();
        let thumbprint = sha1_thumbprint(cert.der());
        if ids.contains_key(&thumbprint) || self.db.ca_cert_exists(&thumbprint, domain)? {
            return Err(KeymgrError::CertificateExists);
        }
        check_dates(parsed, now)?;
        let months = self.config.partners.ca_min_validity_months;
        if parsed.not_after().as_offset().date() < plus_months(now.as_offset().date(), months) {
            return Err(KeymgrError::CaValidityTooShort(months));
        }
        if parsed.version() != 3 {
            return Err(KeymgrError::CertificateVersion(parsed.version()));
        }
        // Renewals keep a CA's name; dozens of certificates under one name are decoys meant to
        // make path building slow.
        if store.count_named_like(parsed) >= MAX_CERTIFICATES_PER_NAME {
            return Err(KeymgrError::InvalidCertificate(format!(
                "the domain already holds {MAX_CERTIFICATES_PER_NAME} certificates named {}",
                parsed.subject()
            )));
        }
        let issuer_id = if parsed.is_self_signed() {
            String::new()
        } else {
            *validations += 1;
            let path = match store.validate_with(parsed.clone(), Vec::new(), now) {
                Ok(path) => path,
                Err(e @ TrustError::IssuerNotFound { .. }) => {
                    return Ok(Stored::WaitsForIssuer(e.to_string()));
                }
                Err(e) => return Err(KeymgrError::RootCaNotFound(e.to_string())),
            };
            let issuer =
                path.certificates().nth(1).ok_or_else(|| KeymgrError::RootCaNotFound("no issuer".into()))?;
            ids.get(&sha1_thumbprint(issuer.der())).cloned().unwrap_or_default()
        };
        let id = uuid::Uuid::new_v4().to_string();
        let record = ca_record(cert, parsed, id.clone(), issuer_id, domain)?;
        match self.db.insert_ca_cert(&record, &self.config.actor) {
            Ok(()) => {}
            // Another replica stored it meanwhile.
            Err(keymgr_db::DbError::Duplicate(_)) => return Err(KeymgrError::CertificateExists),
            Err(e) => return Err(e.into()),
        }
        ids.insert(thumbprint, id);
        Ok(Stored::Yes)
    }

    /// MOSIP's `uploadPartnerCertificate`: checks the partner's certificate in MOSIP's order,
    /// re-signs it with the current PMS master (a CA, valid `partner_validity_years`), stores
    /// both, and stores the answered bundle's certificates as CA certificates of the domain, in
    /// one transaction.
    pub fn upload_partner_certificate(
        &self,
        pem: &str,
        organization: &str,
        domain: &str,
        user: &str,
    ) -> Result<PartnerUpload, KeymgrError> {
        if pem.trim().is_empty() {
            return Err(KeymgrError::InvalidCertificate(
                "certificateData should not be null or empty".into(),
            ));
        }
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| KeymgrError::CertificateParse(e.to_string()))?;
        let parsed = parse(&cert)?;
        let domain = self.partner_domain(domain)?;
        let now = self.clock.now();
        check_dates(&parsed, now)?;
        let settings = &self.config.partners;
        let needed_days =
            365 * i64::from(settings.partner_validity_years) - i64::from(settings.partner_grace_days);
        let left_days = (parsed.not_after().unix_millis() - now.unix_millis()) / 86_400_000;
        if left_days < needed_days {
            return Err(KeymgrError::PartnerValidityTooShort(needed_days));
        }
        if parsed.is_self_signed() {
            return Err(KeymgrError::SelfSignedPartner);
        }
        // Key size and signature algorithm before the path: the path validation refuses weak
        // keys and SHA-1 too, and would hide these codes behind KER-PCM-006 (Java's path
        // validation lets them through to MOSIP's later checks).
        if let Ok(keymgr_crypto::x509_signature::PublicKeyStrength::Rsa { bits }) = parsed.public_key()
            && bits < 2048
        {
            return Err(KeymgrError::PartnerKeyTooSmall);
        }
        let algorithm = parsed.signature_algorithm_name();
        if !SHA2_SIGNATURES.contains(&algorithm.as_str()) {
            return Err(KeymgrError::PartnerSignatureAlgorithm(algorithm));
        }
        let path = self
            .trust_path(&domain, parsed.clone(), Vec::new())?
            .map_err(|e| KeymgrError::TrustPathNotFound(e.to_string()))?;
        if parsed.version() != 3 {
            return Err(KeymgrError::CertificateVersion(parsed.version()));
        }
        let subject = subject_of(&cert)?;
        if subject.organization.is_empty() || subject.organization != organization {
            return Err(KeymgrError::OrganizationMismatch);
        }
        let (subject_text, issuer_text) = names_of(&cert, &parsed)?;
        if organization.len() > MAX_ORGANIZATION {
            return Err(KeymgrError::InvalidCertificate(format!(
                "an organisation over {MAX_ORGANIZATION} characters"
            )));
        }
        if subject.common_name.is_empty() {
            return Err(KeymgrError::InvalidCertificate("the partner certificate has no CN".into()));
        }
        let sign_app = AppId::new(settings.sign_application.as_str())?;
        match self.policy(&sign_app)? {
            Some(p) if p.access_allowed.allows(user) => {}
            _ => return Err(KeymgrError::PartnerSignNotAllowed),
        }
        let pms = self.current_hsm_key(&KeyRef::master(sign_app), false)?;
        let root = self.current_hsm_key(&KeyRef::master(AppId::new(WellKnown::ROOT_APP)?), false)?;
        let spec = CertificateSpec {
            subject,
            not_before: now,
            not_after: now.plus_days(365 * i64::from(settings.partner_validity_years)),
            profile: CertificateProfile::PartnerCa { key_encipherment: domain == "AUTH" },
        };
        let sign = |m: &[u8]| {
            self.keystore
                .sign(&pms.alias.alias, SignAlgorithm::Rs256, m)
                .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
        };
        let signed = issue_certificate(
            &spec,
            cert.spki_der(),
            &CertificateIssuer {
                certificate: Some(&pms.certificate),
                public_key_spki: pms.certificate.spki_der(),
                sign: &sign,
            },
        )?;
        let bundle: Vec<Certificate> = if domain == "FTM" && !settings.resign_ftm_certificates {
            path.certificates().map(|c| Certificate::from_der(c.der())).collect::<Result<_, _>>()?
        } else {
            vec![signed.clone(), pms.certificate.clone(), root.certificate.clone()]
        };
        let cas = self.bundle_rows(&bundle, &domain)?;
        let issuer_id = self
            .domain_store(&domain)?
            .ids
            .get(&sha1_thumbprint(path.certificates().nth(1).map_or(&[][..], ParsedCertificate::der)))
            .cloned()
            .unwrap_or_default();
        let certificate_id = uuid::Uuid::new_v4().to_string();
        let record = PartnerCertRecord {
            cert_id: certificate_id.clone(),
            subject: subject_text,
            issuer: issuer_text,
            issuer_id,
            not_before: Some(parsed.not_before()),
            not_after: Some(parsed.not_after()),
            partner_domain: Some(domain.clone()),
            cert_data: Some(cert.to_pem()),
            key_usage: Some(String::new()),
            organization_name: Some(organization.to_owned()),
            thumbprint: Some(sha1_thumbprint(cert.der())),
            serial_no: Some(parsed.serial_decimal().to_owned()),
            signed_cert_data: Some(signed.to_pem()),
        };
        self.db.insert_partner_cert_with_cas(&record, &cas, &self.config.actor)?;
        self.forget_domain(&domain);
        Ok(PartnerUpload {
            signed_certificate_data: keymgr_model::base64::encode(&pkcs7::certs_only_der(&bundle)?),
            certificate_id,
        })
    }

    /// The `ca_cert_store` rows of the answered bundle's certificates that `domain` lacks, roots
    /// first, each pointing at its issuer's row.
    fn bundle_rows(&self, bundle: &[Certificate], domain: &str) -> Result<Vec<CertRecord>, KeymgrError> {
        let mut ids = self.domain_store(domain)?.ids.clone();
        let mut rows = Vec::new();
        // The bundle is leaf first: store from the root down.
        for (at, cert) in bundle.iter().enumerate().rev() {
            let thumbprint = sha1_thumbprint(cert.der());
            if ids.contains_key(&thumbprint) || self.db.ca_cert_exists(&thumbprint, domain)? {
                continue;
            }
            let parsed = parse(cert)?;
            let issuer_id = bundle
                .get(at + 1)
                .and_then(|i| ids.get(&sha1_thumbprint(i.der())))
                .cloned()
                .unwrap_or_default();
            let id = uuid::Uuid::new_v4().to_string();
            rows.push(ca_record(cert, &parsed, id.clone(), issuer_id, domain)?);
            ids.insert(thumbprint, id);
        }
        Ok(rows)
    }
}
