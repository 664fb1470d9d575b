//! The endpoints of MOSIP's partner certificate manager (reference sections 5.4 and 7):
//! `/uploadCACertificate`, `/uploadPartnerCertificate`, `/getPartnerCertificate/{id}`,
//! `/getPartnerSignedCertificate/{id}`, `/verifyCertificateTrust`, `/getCaCertificates` and
//! `/getCACertificateTrustPath/{id}`; each a function from a typed request to a typed response.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use keymgr_core::{CaCertificateFilter, KeyManager};
use keymgr_model::UtcTime;
use serde::{Deserialize, Serialize};

use crate::api::required;
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched, wrapped};

/// `request` of `/uploadCACertificate` and `/verifyCertificateTrust`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaCertificateBody {
    certificate_data: Option<String>,
    partner_domain: Option<String>,
}

/// `response` of `/uploadCACertificate`.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    status: &'static str,
    timestamp: String,
}

/// `POST /uploadCACertificate`.
pub fn upload_ca_certificate(km: &KeyManager, req: CaCertificateBody) -> Result<StatusResponse, ApiError> {
    let data = required(&req.certificate_data, "certificateData")?;
    let domain = required(&req.partner_domain, "partnerDomain")?;
    let status = km.upload_ca_certificate(data, domain)?;
    Ok(StatusResponse { status: status.as_str(), timestamp: km.now().to_mosip_string() })
}

/// `response` of `/verifyCertificateTrust`.
#[derive(Debug, Serialize)]
pub struct TrustResponse {
    status: bool,
}

/// `POST /verifyCertificateTrust`.
pub fn verify_certificate_trust(km: &KeyManager, req: CaCertificateBody) -> Result<TrustResponse, ApiError> {
    let data = required(&req.certificate_data, "certificateData")?;
    let domain = required(&req.partner_domain, "partnerDomain")?;
    Ok(TrustResponse { status: km.verify_certificate_trust(data, domain)? })
}

/// `request` of `/uploadPartnerCertificate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerCertificateBody {
    certificate_data: Option<String>,
    organization_name: Option<String>,
    partner_domain: Option<String>,
}

/// `response` of `/uploadPartnerCertificate`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerUploadResponse {
    signed_certificate_data: String,
    certificate_id: String,
    timestamp: String,
}

/// `POST /uploadPartnerCertificate`.
pub fn upload_partner_certificate(
    km: &KeyManager,
    who: &Principal,
    req: PartnerCertificateBody,
) -> Result<PartnerUploadResponse, ApiError> {
    let data = required(&req.certificate_data, "certificateData")?;
    let organization = required(&req.organization_name, "organizationName")?;
    let domain = required(&req.partner_domain, "partnerDomain")?;
    let uploaded = km.upload_partner_certificate(data, organization, domain, &who.user)?;
    Ok(PartnerUploadResponse {
        signed_certificate_data: uploaded.signed_certificate_data,
        certificate_id: uploaded.certificate_id,
        timestamp: km.now().to_mosip_string(),
    })
}

/// `response` of `/getPartnerCertificate/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerCertificateResponse {
    certificate_data: String,
    timestamp: String,
}

/// `response` of `/getPartnerSignedCertificate/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSignedCertificateResponse {
    ca_signed_certificate_data: String,
    mosip_signed_certificate_data: String,
    timestamp: String,
}

/// `response` of `/getCACertificateTrustPath/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPathResponse {
    p7b_file: String,
    timestamp: String,
}

/// `request` of `/getCaCertificates`. Dates are MOSIP's `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`
/// (read leniently); only their UTC day counts.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CaCertificatesBody {
    ca_certificate_type: Option<String>,
    partner_domain: Option<String>,
    #[serde(rename = "excludeMosipCA")]
    exclude_mosip_ca: Option<bool>,
    sort_order: Option<String>,
    page_number: Option<i64>,
    page_size: Option<i64>,
    cert_id: Option<String>,
    issued_to: Option<String>,
    issued_by: Option<String>,
    valid_from_date: Option<String>,
    valid_till_date: Option<String>,
    upload_time: Option<String>,
    expiring_within_date: Option<String>,
    sort_by_field_name: Option<String>,
}

/// One certificate of a `/getCaCertificates` page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaCertificateItem {
    ca_certificate_type: String,
    partner_domain: String,
    cert_id: String,
    issued_to: String,
    issued_by: String,
    cert_thumbprint: String,
    valid_from_date: Option<String>,
    valid_till_date: Option<String>,
    upload_time: String,
    status: bool,
}

/// `response` of `/getCaCertificates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaCertificatesResponse {
    page_number: i64,
    page_size: i64,
    total_records: i64,
    total_pages: i64,
    all_partner_certificates: Vec<CaCertificateItem>,
}

/// A text filter: `None` when blank.
fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A date filter: `None` when blank, `KER-KMS-006` when not a date.
fn date(value: &Option<String>, field: &str) -> Result<Option<UtcTime>, ApiError> {
    match text(value) {
        None => Ok(None),
        Some(t) => UtcTime::parse_lenient(&t).map(Some).map_err(|_| {
            ApiError::InvalidTimestamp(format!("{field} {:?}", t.chars().take(40).collect::<String>()))
        }),
    }
}

/// `POST /getCaCertificates`.
pub fn get_ca_certificates(
    km: &KeyManager,
    req: CaCertificatesBody,
) -> Result<CaCertificatesResponse, ApiError> {
    let filter = CaCertificateFilter {
        ca_certificate_type: text(&req.ca_certificate_type),
        partner_domain: text(&req.partner_domain),
        exclude_mosip_ca: req.exclude_mosip_ca.unwrap_or(false),
        sort_order: text(&req.sort_order),
        page_number: req.page_number.unwrap_or(0),
        page_size: req.page_size.unwrap_or(0),
        cert_id: text(&req.cert_id),
        issued_to: text(&req.issued_to),
        issued_by: text(&req.issued_by),
        valid_from_date: date(&req.valid_from_date, "validFromDate")?,
        valid_till_date: date(&req.valid_till_date, "validTillDate")?,
        upload_time: date(&req.upload_time, "uploadTime")?,
        expiring_within_date: date(&req.expiring_within_date, "expiringWithinDate")?,
        sort_by_field_name: text(&req.sort_by_field_name),
    };
    let page = km.ca_certificates(&filter)?;
    Ok(CaCertificatesResponse {
        page_number: page.page_number,
        page_size: page.page_size,
        total_records: page.total_records,
        total_pages: page.total_pages,
        all_partner_certificates: page
            .certificates
            .into_iter()
            .map(|c| CaCertificateItem {
                ca_certificate_type: c.ca_certificate_type,
                partner_domain: c.partner_domain,
                cert_id: c.cert_id,
                issued_to: c.issued_to,
                issued_by: c.issued_by,
                cert_thumbprint: c.cert_thumbprint,
                valid_from_date: c.valid_from_date.map(|t| t.to_mosip_string()),
                valid_till_date: c.valid_till_date.map(|t| t.to_mosip_string()),
                upload_time: c.upload_time.to_mosip_string(),
                status: c.status,
            })
            .collect(),
    })
}

/// The routes of this section.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/uploadCACertificate", post(post_upload_ca_certificate))
        .route("/uploadPartnerCertificate", post(post_upload_partner_certificate))
        .route("/getPartnerCertificate/{partnerCertId}", get(get_partner_certificate))
        .route("/getPartnerSignedCertificate/{partnerCertId}", get(get_partner_signed_certificate))
        .route("/verifyCertificateTrust", post(post_verify_certificate_trust))
        .route("/getCaCertificates", post(post_get_ca_certificates))
        .route("/getCACertificateTrustPath/{caCertId}", get(get_ca_certificate_trust_path))
}

async fn post_upload_ca_certificate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postuploadcacertificate", |st, _, r| upload_ca_certificate(&st.km, r))
        .await
}

async fn post_upload_partner_certificate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postuploadpartnercertificate", |st, who, r| {
        upload_partner_certificate(&st.km, who, r)
    })
    .await
}

async fn post_verify_certificate_trust(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postverifycertificatetrust", |st, _, r| {
        verify_certificate_trust(&st.km, r)
    })
    .await
}

async fn post_get_ca_certificates(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postgetcacertificates", |st, _, r| get_ca_certificates(&st.km, r)).await
}

async fn get_partner_certificate(State(s): Shared, Path(id): Path<String>, h: HeaderMap) -> Response {
    fetched(s, h, "getgetpartnercertificatepartnercertid", move |km| {
        let record = km.partner_certificate(&id)?;
        Ok(PartnerCertificateResponse {
            certificate_data: record.signed_cert_data.unwrap_or_default(),
            timestamp: km.now().to_mosip_string(),
        })
    })
    .await
}

async fn get_partner_signed_certificate(State(s): Shared, Path(id): Path<String>, h: HeaderMap) -> Response {
    fetched(s, h, "getgetpartnersignedcertificatepartnercertid", move |km| {
        let record = km.partner_certificate(&id)?;
        Ok(PartnerSignedCertificateResponse {
            ca_signed_certificate_data: record.cert_data.unwrap_or_default(),
            mosip_signed_certificate_data: record.signed_cert_data.unwrap_or_default(),
            timestamp: km.now().to_mosip_string(),
        })
    })
    .await
}

async fn get_ca_certificate_trust_path(State(s): Shared, Path(id): Path<String>, h: HeaderMap) -> Response {
    fetched(s, h, "getcacertificatetrustpath", move |km| {
        Ok(TrustPathResponse {
            p7b_file: km.ca_certificate_trust_path(&id)?,
            timestamp: km.now().to_mosip_string(),
        })
    })
    .await
}
