//! CA and partner certificate rows (`ca_cert_store`, `partner_cert_store`).
//!
//! Each table's columns are named once, by the fields of its row struct, which diesel reads
//! (`Queryable`, `Selectable`) and writes (`Insertable`); the creation columns every MOSIP
//! table has are added on insert by [`Created`]. The public records convert from and to the
//! rows field by field.

use diesel::prelude::*;
use keymgr_model::UtcTime;
use time::PrimitiveDateTime;

use super::{Database, now};
use crate::DbError;
use crate::connection::MultiBackend;
use crate::records::{CertRecord, PartnerCertRecord};
use crate::schema::{ca_cert_store, partner_cert_store};

/// The creation columns written with a new row: who, when, and not deleted.
#[derive(Insertable)]
#[diesel(table_name = ca_cert_store, table_name = partner_cert_store)]
struct Created<'a> {
    cr_by: &'a str,
    cr_dtimes: PrimitiveDateTime,
    is_deleted: bool,
}

impl<'a> Created<'a> {
    /// A row created now by `actor`.
    fn now_by(actor: &'a str) -> Self {
        Self { cr_by: actor, cr_dtimes: now(), is_deleted: false }
    }
}

/// The columns of `ca_cert_store` that [`CertRecord`] carries.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ca_cert_store)]
#[diesel(check_for_backend(MultiBackend))]
// A `None` is written as NULL, not DEFAULT: one statement shape for every row, as before.
#[diesel(treat_none_as_default_value = false)]
struct CaCertRow {
    cert_id: String,
    cert_subject: String,
    cert_issuer: String,
    issuer_id: String,
    cert_not_before: Option<PrimitiveDateTime>,
    cert_not_after: Option<PrimitiveDateTime>,
    crl_uri: Option<String>,
    cert_data: Option<String>,
    cert_thumbprint: Option<String>,
    cert_serial_no: Option<String>,
    partner_domain: Option<String>,
    ca_cert_type: Option<String>,
}

impl From<&CertRecord> for CaCertRow {
    fn from(c: &CertRecord) -> Self {
        Self {
            cert_id: c.cert_id.clone(),
            cert_subject: c.subject.clone(),
            cert_issuer: c.issuer.clone(),
            issuer_id: c.issuer_id.clone(),
            cert_not_before: c.not_before.map(|t| t.to_primitive()),
            cert_not_after: c.not_after.map(|t| t.to_primitive()),
            crl_uri: c.crl_uri.clone(),
            cert_data: c.cert_data.clone(),
            cert_thumbprint: c.thumbprint.clone(),
            cert_serial_no: c.serial_no.clone(),
            partner_domain: c.partner_domain.clone(),
            ca_cert_type: c.ca_cert_type.clone(),
        }
    }
}

impl From<CaCertRow> for CertRecord {
    fn from(r: CaCertRow) -> Self {
        Self {
            cert_id: r.cert_id,
            subject: r.cert_subject,
            issuer: r.cert_issuer,
            issuer_id: r.issuer_id,
            not_before: r.cert_not_before.map(UtcTime::from_primitive),
            not_after: r.cert_not_after.map(UtcTime::from_primitive),
            crl_uri: r.crl_uri,
            cert_data: r.cert_data,
            thumbprint: r.cert_thumbprint,
            serial_no: r.cert_serial_no,
            partner_domain: r.partner_domain,
            ca_cert_type: r.ca_cert_type,
        }
    }
}

/// The columns of `partner_cert_store` that [`PartnerCertRecord`] carries.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_cert_store)]
#[diesel(check_for_backend(MultiBackend))]
#[diesel(treat_none_as_default_value = false)]
struct PartnerCertRow {
    cert_id: String,
    cert_subject: String,
    cert_issuer: String,
    issuer_id: String,
    cert_not_before: Option<PrimitiveDateTime>,
    cert_not_after: Option<PrimitiveDateTime>,
    partner_domain: Option<String>,
    cert_data: Option<String>,
    key_usage: Option<String>,
    organization_name: Option<String>,
    cert_thumbprint: Option<String>,
    cert_serial_no: Option<String>,
    signed_cert_data: Option<String>,
}

impl From<&PartnerCertRecord> for PartnerCertRow {
    fn from(c: &PartnerCertRecord) -> Self {
        Self {
            cert_id: c.cert_id.clone(),
            cert_subject: c.subject.clone(),
            cert_issuer: c.issuer.clone(),
            issuer_id: c.issuer_id.clone(),
            cert_not_before: c.not_before.map(|t| t.to_primitive()),
            cert_not_after: c.not_after.map(|t| t.to_primitive()),
            partner_domain: c.partner_domain.clone(),
            cert_data: c.cert_data.clone(),
            key_usage: c.key_usage.clone(),
            organization_name: c.organization_name.clone(),
            cert_thumbprint: c.thumbprint.clone(),
            cert_serial_no: c.serial_no.clone(),
            signed_cert_data: c.signed_cert_data.clone(),
        }
    }
}

impl From<PartnerCertRow> for PartnerCertRecord {
    fn from(r: PartnerCertRow) -> Self {
        Self {
            cert_id: r.cert_id,
            subject: r.cert_subject,
            issuer: r.cert_issuer,
            issuer_id: r.issuer_id,
            not_before: r.cert_not_before.map(UtcTime::from_primitive),
            not_after: r.cert_not_after.map(UtcTime::from_primitive),
            partner_domain: r.partner_domain,
            cert_data: r.cert_data,
            key_usage: r.key_usage,
            organization_name: r.organization_name,
            thumbprint: r.cert_thumbprint,
            serial_no: r.cert_serial_no,
            signed_cert_data: r.signed_cert_data,
        }
    }
}

impl Database {
    /// Stores a CA certificate row.
    pub fn insert_ca_cert(&self, cert: &CertRecord, actor: &str) -> Result<(), DbError> {
        diesel::insert_into(ca_cert_store::table)
            .values((CaCertRow::from(cert), Created::now_by(actor)))
            .execute(&mut *self.conn()?)?;
        Ok(())
    }

    /// The CA certificate rows of a partner domain, oldest first.
    pub fn ca_certs(&self, partner_domain: &str) -> Result<Vec<CertRecord>, DbError> {
        let rows = ca_cert_store::table
            .filter(ca_cert_store::partner_domain.eq(partner_domain))
            .select(CaCertRow::as_select())
            .order((ca_cert_store::cr_dtimes.asc(), ca_cert_store::cert_id.asc()))
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(CertRecord::from).collect())
    }

    /// Stores a partner certificate row.
    pub fn insert_partner_cert(&self, cert: &PartnerCertRecord, actor: &str) -> Result<(), DbError> {
        diesel::insert_into(partner_cert_store::table)
            .values((PartnerCertRow::from(cert), Created::now_by(actor)))
            .execute(&mut *self.conn()?)?;
        Ok(())
    }

    /// The partner certificate row `cert_id`.
    pub fn partner_cert(&self, cert_id: &str) -> Result<Option<PartnerCertRecord>, DbError> {
        let row = partner_cert_store::table
            .filter(partner_cert_store::cert_id.eq(cert_id))
            .select(PartnerCertRow::as_select())
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(row.map(PartnerCertRecord::from))
    }
}
