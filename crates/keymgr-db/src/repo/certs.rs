//! CA and partner certificate rows (`ca_cert_store`, `partner_cert_store`).
//!
//! Each table's columns are named once, by the fields of its row struct, which diesel reads
//! (`Queryable`, `Selectable`) and writes (`Insertable`); the creation columns every MOSIP
//! table has are added on insert by [`Created`]. The public records convert from and to the
//! rows field by field.

use diesel::prelude::*;
use keymgr_model::UtcTime;
use time::PrimitiveDateTime;

use super::audit::audit;
use super::{Database, now};
use crate::DbError;
use crate::connection::MultiBackend;
use crate::records::{AuditEntry, CertRecord, PartnerCertRecord};
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
    /// Stores a CA certificate row, and its audit row, in one transaction.
    pub fn insert_ca_cert(&self, cert: &CertRecord, actor: &str) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| {
            diesel::insert_into(ca_cert_store::table)
                .values((CaCertRow::from(cert), Created::now_by(actor)))
                .execute(conn)?;
            audit(
                conn,
                stored(
                    "ca_certificate_stored",
                    &cert.cert_id,
                    cert.partner_domain.as_deref(),
                    &cert.subject,
                    cert.thumbprint.as_deref(),
                    actor,
                ),
            )
        })
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

    /// Whether `partner_domain` holds a CA certificate of this (SHA-1, lowercase) thumbprint.
    pub fn ca_cert_exists(&self, thumbprint: &str, partner_domain: &str) -> Result<bool, DbError> {
        let found: i64 = ca_cert_store::table
            .filter(ca_cert_store::cert_thumbprint.eq(thumbprint))
            .filter(ca_cert_store::partner_domain.eq(partner_domain))
            .count()
            .get_result(&mut *self.conn()?)?;
        Ok(found > 0)
    }

    /// The CA certificate row `cert_id`.
    pub fn ca_cert(&self, cert_id: &str) -> Result<Option<CertRecord>, DbError> {
        let row = ca_cert_store::table
            .filter(ca_cert_store::cert_id.eq(cert_id))
            .select(CaCertRow::as_select())
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(row.map(CertRecord::from))
    }

    /// What changes when a domain's CA certificates change: how many rows it has and when the
    /// last was written. Cheap (the domain's index), so replicas ask it to know when a cached
    /// store is stale.
    pub fn ca_store_version(&self, partner_domain: &str) -> Result<(i64, Option<UtcTime>), DbError> {
        let (count, last): (i64, Option<PrimitiveDateTime>) = ca_cert_store::table
            .filter(ca_cert_store::partner_domain.eq(partner_domain))
            .select((diesel::dsl::count_star(), diesel::dsl::max(ca_cert_store::cr_dtimes)))
            .first(&mut *self.conn()?)?;
        Ok((count, last.map(UtcTime::from_primitive)))
    }

    /// One page of CA certificate rows matching `query`, with when each was stored, and how
    /// many rows match in all.
    pub fn ca_certs_page(&self, query: &CaCertQuery) -> Result<(Vec<(CertRecord, UtcTime)>, i64), DbError> {
        let mut conn = self.conn()?;
        let total: i64 = query.filtered().count().get_result(&mut *conn)?;
        let mut rows = query.filtered().select((CaCertRow::as_select(), ca_cert_store::cr_dtimes));
        rows = match (query.sort_by, query.descending) {
            (CaCertSort::Created, false) => {
                rows.order((ca_cert_store::cr_dtimes.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::Created, true) => {
                rows.order((ca_cert_store::cr_dtimes.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::CertId, false) => rows.order(ca_cert_store::cert_id.asc()),
            (CaCertSort::CertId, true) => rows.order(ca_cert_store::cert_id.desc()),
            (CaCertSort::Subject, false) => {
                rows.order((ca_cert_store::cert_subject.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::Subject, true) => {
                rows.order((ca_cert_store::cert_subject.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::Issuer, false) => {
                rows.order((ca_cert_store::cert_issuer.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::Issuer, true) => {
                rows.order((ca_cert_store::cert_issuer.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::NotBefore, false) => {
                rows.order((ca_cert_store::cert_not_before.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::NotBefore, true) => {
                rows.order((ca_cert_store::cert_not_before.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::NotAfter, false) => {
                rows.order((ca_cert_store::cert_not_after.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::NotAfter, true) => {
                rows.order((ca_cert_store::cert_not_after.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::Domain, false) => {
                rows.order((ca_cert_store::partner_domain.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::Domain, true) => {
                rows.order((ca_cert_store::partner_domain.desc(), ca_cert_store::cert_id.desc()))
            }
            (CaCertSort::Type, false) => {
                rows.order((ca_cert_store::ca_cert_type.asc(), ca_cert_store::cert_id.asc()))
            }
            (CaCertSort::Type, true) => {
                rows.order((ca_cert_store::ca_cert_type.desc(), ca_cert_store::cert_id.desc()))
            }
        };
        let page: Vec<(CaCertRow, PrimitiveDateTime)> =
            rows.offset(query.offset).limit(query.limit).load(&mut *conn)?;
        Ok((
            page.into_iter().map(|(r, at)| (CertRecord::from(r), UtcTime::from_primitive(at))).collect(),
            total,
        ))
    }

    /// Stores a partner certificate row and, in the same transaction, the CA certificate rows
    /// that come with it (MOSIP uploads the bundle it answers as CA certificates too); a CA row
    /// already in its domain (stored meanwhile by another replica) is skipped.
    pub fn insert_partner_cert_with_cas(
        &self,
        cert: &PartnerCertRecord,
        cas: &[CertRecord],
        actor: &str,
    ) -> Result<(), DbError> {
        self.conn()?.transaction::<(), DbError, _>(|conn| {
            diesel::insert_into(partner_cert_store::table)
                .values((PartnerCertRow::from(cert), Created::now_by(actor)))
                .execute(conn)?;
            audit(
                conn,
                stored(
                    "partner_certificate_stored",
                    &cert.cert_id,
                    cert.partner_domain.as_deref(),
                    &cert.subject,
                    cert.thumbprint.as_deref(),
                    actor,
                ),
            )?;
            for ca in cas {
                // A row another replica stored meanwhile is skipped (in a savepoint, so the rest
                // of the transaction stands).
                let inserted = conn.transaction::<usize, diesel::result::Error, _>(|c| {
                    diesel::insert_into(ca_cert_store::table)
                        .values((CaCertRow::from(ca), Created::now_by(actor)))
                        .execute(c)
                });
                if inserted.is_ok() {
                    audit(
                        conn,
                        stored(
                            "ca_certificate_stored",
                            &ca.cert_id,
                            ca.partner_domain.as_deref(),
                            &ca.subject,
                            ca.thumbprint.as_deref(),
                            actor,
                        ),
                    )?;
                }
                match inserted {
                    Ok(_)
                    | Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => {}
                    Err(e) => return Err(DbError::from(e)),
                }
            }
            Ok(())
        })
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

    /// Every partner certificate row after `after` (cert id order), at most `limit`: what a
    /// compromise report pages through to find the certificates a key signed.
    pub fn partner_certs_after(&self, after: &str, limit: i64) -> Result<Vec<PartnerCertRecord>, DbError> {
        let rows = partner_cert_store::table
            .filter(partner_cert_store::cert_id.gt(after))
            .select(PartnerCertRow::as_select())
            .order(partner_cert_store::cert_id.asc())
            .limit(limit)
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(PartnerCertRecord::from).collect())
    }
}

/// The audit row of a stored certificate.
fn stored(
    action: &str,
    id: &str,
    domain: Option<&str>,
    subject: &str,
    thumbprint: Option<&str>,
    actor: &str,
) -> AuditEntry {
    AuditEntry {
        time: UtcTime::now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        app_id: None,
        ref_id: None,
        key_alias: Some(id.to_owned()),
        detail: Some(format!(
            "domain={} subject={subject} sha1={}",
            domain.unwrap_or("-"),
            thumbprint.unwrap_or("-")
        )),
    }
}

/// The column `getCaCertificates` sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaCertSort {
    /// When the row was stored (MOSIP's default, `createdtimes`).
    #[default]
    Created,
    /// `cert_id`.
    CertId,
    /// `cert_subject`.
    Subject,
    /// `cert_issuer`.
    Issuer,
    /// `cert_not_before`.
    NotBefore,
    /// `cert_not_after`.
    NotAfter,
    /// `partner_domain`.
    Domain,
    /// `ca_cert_type`.
    Type,
}

/// The filters, order and page of a `getCaCertificates` query. Text filters match anywhere in
/// the column, without regard to case; `%` and `_` in them are plain characters.
#[derive(Debug, Clone, Default)]
pub struct CaCertQuery {
    /// `partner_domain`, exactly.
    pub partner_domain: Option<String>,
    /// `ca_cert_type`, exactly (`ROOT`, `INTERMEDIATE`).
    pub ca_cert_type: Option<String>,
    /// Part of `cert_id`.
    pub cert_id: Option<String>,
    /// Part of `cert_subject`.
    pub subject: Option<String>,
    /// Part of `cert_issuer`.
    pub issuer: Option<String>,
    /// `cert_not_before` within [from, to).
    pub not_before_between: Option<(UtcTime, UtcTime)>,
    /// `cert_not_after` within [from, to).
    pub not_after_between: Option<(UtcTime, UtcTime)>,
    /// `cr_dtimes` within [from, to).
    pub created_between: Option<(UtcTime, UtcTime)>,
    /// Thumbprints left out (`excludeMosipCA`).
    pub exclude_thumbprints: Vec<String>,
    /// The sort column.
    pub sort_by: CaCertSort,
    /// Descending order.
    pub descending: bool,
    /// Rows skipped.
    pub offset: i64,
    /// Rows at most.
    pub limit: i64,
}

diesel::define_sql_function! {
    /// SQL's `lower` of text, on both engines.
    #[sql_name = "lower"]
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `text` as a LIKE pattern that matches it anywhere, its own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl CaCertQuery {
    /// The filtered rows, as a boxed query both engines run.
    fn filtered(&self) -> ca_cert_store::BoxedQuery<'static, MultiBackend> {
        let mut q = ca_cert_store::table.into_boxed::<MultiBackend>();
        if let Some(d) = &self.partner_domain {
            q = q.filter(ca_cert_store::partner_domain.eq(d.clone()));
        }
        if let Some(t) = &self.ca_cert_type {
            q = q.filter(ca_cert_store::ca_cert_type.eq(t.clone()));
        }
        if let Some(id) = &self.cert_id {
            q = q.filter(lower(ca_cert_store::cert_id).like(contains_pattern(id)).escape('\\'));
        }
        if let Some(s) = &self.subject {
            q = q.filter(lower(ca_cert_store::cert_subject).like(contains_pattern(s)).escape('\\'));
        }
        if let Some(i) = &self.issuer {
            q = q.filter(lower(ca_cert_store::cert_issuer).like(contains_pattern(i)).escape('\\'));
        }
        if let Some((from, to)) = self.not_before_between {
            q = q
                .filter(ca_cert_store::cert_not_before.ge(from.to_primitive()))
                .filter(ca_cert_store::cert_not_before.lt(to.to_primitive()));
        }
        if let Some((from, to)) = self.not_after_between {
            q = q
                .filter(ca_cert_store::cert_not_after.ge(from.to_primitive()))
                .filter(ca_cert_store::cert_not_after.lt(to.to_primitive()));
        }
        if let Some((from, to)) = self.created_between {
            q = q
                .filter(ca_cert_store::cr_dtimes.ge(from.to_primitive()))
                .filter(ca_cert_store::cr_dtimes.lt(to.to_primitive()));
        }
        if !self.exclude_thumbprints.is_empty() {
            q = q.filter(ca_cert_store::cert_thumbprint.is_null().or(diesel::dsl::not(
                ca_cert_store::cert_thumbprint.eq_any(self.exclude_thumbprints.clone()),
            )));
        }
        q
    }
}
