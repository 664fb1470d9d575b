//! Reading the partner stores (reference section 7): `getPartnerCertificate`,
//! `getPartnerSignedCertificate`, `getCACertificateTrustPath` and `getCaCertificates` (filters,
//! sort, 1-based pages).

use keymgr_crypto::{Certificate, pkcs7};
use keymgr_db::{CaCertQuery, CaCertSort, PartnerCertRecord};
use keymgr_model::{AppId, KeyRef, UtcTime, WellKnown};

use super::KeyManager;
use super::trust_stores::{parse, sha1_thumbprint};
use crate::KeymgrError;

/// The largest page `getCaCertificates` answers.
const MAX_PAGE_SIZE: i64 = 1000;

/// A `getCaCertificates` request, as the REST layer reads it (blank fields are `None`).
#[derive(Debug, Clone, Default)]
pub struct CaCertificateFilter {
    /// `caCertificateType`: ROOT or INTERMEDIATE, any case (`KER-PCM-018` otherwise).
    pub ca_certificate_type: Option<String>,
    /// `partnerDomain` (`KER-PCM-011` when not allowed).
    pub partner_domain: Option<String>,
    /// `excludeMosipCA`: leave out every ROOT and PMS certificate of this service.
    pub exclude_mosip_ca: bool,
    /// `sortOrder`: `DESC` (any case) for descending.
    pub sort_order: Option<String>,
    /// `pageNumber`, 1-based (below 1 is 1).
    pub page_number: i64,
    /// `pageSize` (below 1 is 10, at most [`MAX_PAGE_SIZE`]).
    pub page_size: i64,
    /// `certId`: part of the id.
    pub cert_id: Option<String>,
    /// `issuedTo`: part of the subject.
    pub issued_to: Option<String>,
    /// `issuedBy`: part of the issuer.
    pub issued_by: Option<String>,
    /// `validFromDate`: notBefore on this UTC day.
    pub valid_from_date: Option<UtcTime>,
    /// `validTillDate`: notAfter on this UTC day.
    pub valid_till_date: Option<UtcTime>,
    /// `uploadTime`: stored on this UTC day.
    pub upload_time: Option<UtcTime>,
    /// `expiringWithinDate`: notAfter from today to this day, inclusive.
    pub expiring_within_date: Option<UtcTime>,
    /// `sortByFieldName`: MOSIP's entity name (`createdtimes` by default) or the answer's.
    pub sort_by_field_name: Option<String>,
}

/// One certificate of a `getCaCertificates` page.
#[derive(Debug, Clone)]
pub struct CaCertificateEntry {
    /// `ROOT` or `INTERMEDIATE`.
    pub ca_certificate_type: String,
    /// The domain.
    pub partner_domain: String,
    /// The row id.
    pub cert_id: String,
    /// The subject, MOSIP's DN text.
    pub issued_to: String,
    /// The issuer, MOSIP's DN text.
    pub issued_by: String,
    /// SHA-1, lowercase hex.
    pub cert_thumbprint: String,
    /// notBefore.
    pub valid_from_date: Option<UtcTime>,
    /// notAfter.
    pub valid_till_date: Option<UtcTime>,
    /// When it was stored.
    pub upload_time: UtcTime,
    /// Whether it is valid now.
    pub status: bool,
}

/// A page of `getCaCertificates`.
#[derive(Debug, Clone)]
pub struct CaCertificatePage {
    /// The page, 1-based.
    pub page_number: i64,
    /// Its size.
    pub page_size: i64,
    /// Rows matching in all.
    pub total_records: i64,
    /// Pages in all.
    pub total_pages: i64,
    /// The certificates of this page.
    pub certificates: Vec<CaCertificateEntry>,
}

/// `[start of the UTC day of at, start of the next day)`.
fn day_of(at: UtcTime) -> (UtcTime, UtcTime) {
    let start = at.as_offset().replace_time(time::Time::MIDNIGHT);
    (UtcTime::from_offset(start), UtcTime::from_offset(start).plus_days(1))
}

/// The column a sort field names: MOSIP's entity property names, and the answer's own.
fn sort_column(name: Option<&str>) -> Result<CaCertSort, KeymgrError> {
    Ok(match name.map(str::trim).unwrap_or_default() {
        "" | "createdtimes" | "uploadTime" => CaCertSort::Created,
        "certId" => CaCertSort::CertId,
        "certSubject" | "issuedTo" => CaCertSort::Subject,
        "certIssuer" | "issuedBy" => CaCertSort::Issuer,
        "certNotBefore" | "validFromDate" => CaCertSort::NotBefore,
        "certNotAfter" | "validTillDate" => CaCertSort::NotAfter,
        "partnerDomain" => CaCertSort::Domain,
        "caCertificateType" => CaCertSort::Type,
        other => {
            return Err(KeymgrError::InvalidRequest(format!(
                "sortByFieldName {:?}: use certId, certSubject, certIssuer, certNotBefore, certNotAfter, \
                 partnerDomain, caCertificateType or createdtimes",
                other.chars().take(64).collect::<String>()
            )));
        }
    })
}

impl KeyManager {
    /// MOSIP's `getPartnerCertificate`: the re-signed certificate (PEM).
    pub fn partner_certificate(&self, id: &str) -> Result<PartnerCertRecord, KeymgrError> {
        if id.trim().is_empty() {
            return Err(KeymgrError::InvalidCertificateId);
        }
        self.db.partner_cert(id.trim())?.ok_or(KeymgrError::PartnerCertificateNotFound)
    }

    /// MOSIP's `getCACertificateTrustPath`: the PEM PKCS#7 of a CA certificate's path to its
    /// domain's root (the certificate alone for a root).
    pub fn ca_certificate_trust_path(&self, id: &str) -> Result<String, KeymgrError> {
        if id.trim().is_empty() {
            return Err(KeymgrError::InvalidCertificateId);
        }
        let row = self.db.ca_cert(id.trim())?.ok_or(KeymgrError::CaCertificateNotFound)?;
        let cert = Certificate::from_pem(row.cert_data.as_deref().unwrap_or_default().as_bytes())?;
        let domain = row.partner_domain.unwrap_or_default();
        let path = self
            .trust_path(&domain, parse(&cert)?, Vec::new())?
            .map_err(|e| KeymgrError::TrustPathNotFound(e.to_string()))?;
        let chain =
            path.certificates().map(|c| Certificate::from_der(c.der())).collect::<Result<Vec<_>, _>>()?;
        Ok(pkcs7::certs_only_pem(&chain)?)
    }

    /// MOSIP's `getCaCertificates`.
    pub fn ca_certificates(&self, filter: &CaCertificateFilter) -> Result<CaCertificatePage, KeymgrError> {
        let page_size = if filter.page_size < 1 { 10 } else { filter.page_size.min(MAX_PAGE_SIZE) };
        let page = filter.page_number.max(1);
        let ca_cert_type =
            match filter.ca_certificate_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                None => None,
                Some(t) if t.eq_ignore_ascii_case("ROOT") || t.eq_ignore_ascii_case("INTERMEDIATE") => {
                    Some(t.to_ascii_uppercase())
                }
                Some(t) => return Err(KeymgrError::InvalidCaType(t.chars().take(32).collect())),
            };
        let partner_domain = match filter.partner_domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => Some(self.partner_domain(d)?),
            None => None,
        };
        let now = self.clock.now();
        let query = CaCertQuery {
            partner_domain,
            ca_cert_type,
            cert_id: filter.cert_id.clone(),
            subject: filter.issued_to.clone(),
            issuer: filter.issued_by.clone(),
            not_before_between: filter.valid_from_date.map(day_of),
            not_after_between: filter
                .valid_till_date
                .map(day_of)
                .or_else(|| filter.expiring_within_date.map(|until| (day_of(now).0, day_of(until).1))),
            created_between: filter.upload_time.map(day_of),
            exclude_thumbprints: if filter.exclude_mosip_ca {
                self.own_ca_thumbprints()?
            } else {
                Vec::new()
            },
            sort_by: sort_column(filter.sort_by_field_name.as_deref())?,
            descending: filter.sort_order.as_deref().is_some_and(|o| o.trim().eq_ignore_ascii_case("DESC")),
            offset: (page - 1).saturating_mul(page_size),
            limit: page_size,
        };
        let (rows, total) = self.db.ca_certs_page(&query)?;
        let certificates = rows
            .into_iter()
            .map(|(row, stored)| CaCertificateEntry {
                status: row.not_before.is_some_and(|nb| nb <= now)
                    && row.not_after.is_some_and(|na| now <= na),
                ca_certificate_type: row.ca_cert_type.unwrap_or_default(),
                partner_domain: row.partner_domain.unwrap_or_default(),
                cert_id: row.cert_id,
                issued_to: row.subject,
                issued_by: row.issuer,
                cert_thumbprint: row.thumbprint.unwrap_or_default(),
                valid_from_date: row.not_before,
                valid_till_date: row.not_after,
                upload_time: stored,
            })
            .collect();
        Ok(CaCertificatePage {
            page_number: page,
            page_size,
            total_records: total,
            total_pages: (total + page_size - 1) / page_size,
            certificates,
        })
    }

    /// SHA-1 thumbprints of every ROOT and PMS master certificate, all generations
    /// (`excludeMosipCA`).
    fn own_ca_thumbprints(&self) -> Result<Vec<String>, KeymgrError> {
        let mut out = Vec::new();
        for app in [WellKnown::ROOT_APP, self.config.partners.sign_application.as_str()] {
            for alias in self.db.aliases_for(&KeyRef::master(AppId::new(app)?))? {
                if let Ok(cert) = self.hsm_certificate(&alias.alias) {
                    out.push(sha1_thumbprint(cert.der()));
                }
            }
        }
        Ok(out)
    }
}
