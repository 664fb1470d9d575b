//! MOSIP's licence keys: `licensekey_list` (the key and its expiry), `tsp_licensekey_map`
//! (which TSP holds it) and `licensekey_permission` (its permissions, one comma-joined row).

use diesel::prelude::*;
use keymgr_model::UtcTime;
use time::PrimitiveDateTime;

use super::audit::audit;
use super::{Database, TxError};
use crate::DbError;
use crate::connection::AnyConnection;
use crate::records::AuditEntry;
use crate::schema::{licensekey_list, licensekey_permission, tsp_licensekey_map};

/// A licence key as a TSP holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// The licence key.
    pub license_key: String,
    /// The TSP that holds it.
    pub tsp_id: String,
    /// When it was made (`created_dtime`).
    pub created_at: Option<UtcTime>,
    /// When it stops being valid (`expiry_dtime`); a row without one never was valid.
    pub expires_at: Option<UtcTime>,
}

impl Database {
    /// Stores a new licence key held by `tsp_id`: its `licensekey_list` row, its
    /// `tsp_licensekey_map` row and `audit`, in one transaction. A key that exists is
    /// [`DbError::Duplicate`].
    pub fn insert_license(&self, license: &License, audit_entry: AuditEntry) -> Result<(), DbError> {
        let created = license.created_at.unwrap_or_else(UtcTime::now).to_primitive();
        let actor = audit_entry.actor.clone();
        self.conn()?.transaction(|conn| {
            diesel::insert_into(licensekey_list::table)
                .values((
                    licensekey_list::license_key.eq(&license.license_key),
                    licensekey_list::created_dtime.eq(created),
                    licensekey_list::expiry_dtime.eq(license.expires_at.map(|t| t.to_primitive())),
                    licensekey_list::is_active.eq(true),
                    licensekey_list::cr_by.eq(&actor),
                    licensekey_list::cr_dtimes.eq(created),
                ))
                .execute(conn)?;
            diesel::insert_into(tsp_licensekey_map::table)
                .values((
                    tsp_licensekey_map::tsp_id.eq(&license.tsp_id),
                    tsp_licensekey_map::license_key.eq(&license.license_key),
                    tsp_licensekey_map::is_active.eq(true),
                    tsp_licensekey_map::cr_by.eq(&actor),
                    tsp_licensekey_map::cr_dtimes.eq(created),
                ))
                .execute(conn)?;
            audit(conn, audit_entry)
        })
    }

    /// The licence `license_key` if `tsp_id` holds it: both rows exist, are active and are
    /// not deleted. Keys are compared exactly.
    pub fn tsp_license(&self, tsp_id: &str, license_key: &str) -> Result<Option<License>, DbError> {
        tsp_license(&mut *self.conn()?, tsp_id, license_key)
    }

    /// The stored permissions of `license_key` (the comma-joined column), if a row is mapped.
    pub fn license_permissions(&self, license_key: &str) -> Result<Option<String>, DbError> {
        let row: Option<Option<String>> = licensekey_permission::table
            .filter(licensekey_permission::license_key.eq(license_key))
            .filter(licensekey_permission::is_active.eq(true))
            .filter(
                licensekey_permission::is_deleted.is_null().or(licensekey_permission::is_deleted.eq(false)),
            )
            .select(licensekey_permission::permission)
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(row.map(Option::unwrap_or_default))
    }

    /// Replaces the permissions of the licence `license_key` of `tsp_id` with what `merge`
    /// makes of the licence (read under the lock, so an expiry or a revocation is seen) and the
    /// stored permissions (`None` when there is no row), and writes `audit_entry`, in one
    /// transaction. The licence's `licensekey_list` row is updated first, which locks it, so
    /// that two mappings at once do not lose each other's permissions. Answers what was stored;
    /// [`DbError::NotFound`] when the TSP holds no such licence.
    pub fn update_license_permissions<E: From<DbError>>(
        &self,
        tsp_id: &str,
        license_key: &str,
        merge: impl FnOnce(&License, Option<&str>) -> Result<String, E>,
        audit_entry: AuditEntry,
    ) -> Result<String, E> {
        let now = UtcTime::now().to_primitive();
        let actor = audit_entry.actor.clone();
        let mut conn = self.conn()?;
        let result = conn.transaction::<String, TxError<E>, _>(|conn| {
            let touched =
                diesel::update(licensekey_list::table.filter(licensekey_list::license_key.eq(license_key)))
                    .set((licensekey_list::upd_by.eq(&actor), licensekey_list::upd_dtimes.eq(now)))
                    .execute(conn)?;
            if touched == 0 {
                let missing = DbError::NotFound { table: "licensekey_list", id: license_key.to_owned() };
                return Err(TxError::Caller(E::from(missing)));
            }
            let Some(license) =
                tsp_license(conn, tsp_id, license_key).map_err(|e| TxError::Caller(E::from(e)))?
            else {
                let missing = DbError::NotFound { table: "tsp_licensekey_map", id: tsp_id.to_owned() };
                return Err(TxError::Caller(E::from(missing)));
            };
            let stored: Option<Option<String>> = licensekey_permission::table
                .filter(licensekey_permission::license_key.eq(license_key))
                .select(licensekey_permission::permission)
                .first(conn)
                .optional()?;
            let exists = stored.is_some();
            let merged = merge(&license, stored.as_ref().map(|p| p.as_deref().unwrap_or_default()))
                .map_err(TxError::Caller)?;
            if exists {
                diesel::update(
                    licensekey_permission::table.filter(licensekey_permission::license_key.eq(license_key)),
                )
                .set((
                    licensekey_permission::permission.eq(&merged),
                    licensekey_permission::is_active.eq(true),
                    licensekey_permission::upd_by.eq(&actor),
                    licensekey_permission::upd_dtimes.eq(now),
                ))
                .execute(conn)?;
            } else {
                diesel::insert_into(licensekey_permission::table)
                    .values((
                        licensekey_permission::license_key.eq(license_key),
                        licensekey_permission::permission.eq(&merged),
                        licensekey_permission::is_active.eq(true),
                        licensekey_permission::cr_by.eq(&actor),
                        licensekey_permission::cr_dtimes.eq(now),
                    ))
                    .execute(conn)?;
            }
            audit(conn, audit_entry).map_err(|e| TxError::Caller(E::from(e)))?;
            Ok(merged)
        });
        result.map_err(|e| match e {
            TxError::Db(e) => E::from(DbError::from(e)),
            TxError::Caller(e) => e,
        })
    }
}

fn tsp_license(
    conn: &mut AnyConnection,
    tsp_id: &str,
    license_key: &str,
) -> Result<Option<License>, DbError> {
    type Row = (Option<PrimitiveDateTime>, Option<PrimitiveDateTime>);
    let row: Option<Row> = licensekey_list::table
        .inner_join(
            tsp_licensekey_map::table.on(tsp_licensekey_map::license_key.eq(licensekey_list::license_key)),
        )
        .filter(licensekey_list::license_key.eq(license_key))
        .filter(tsp_licensekey_map::tsp_id.eq(tsp_id))
        .filter(licensekey_list::is_active.eq(true))
        .filter(tsp_licensekey_map::is_active.eq(true))
        .filter(licensekey_list::is_deleted.is_null().or(licensekey_list::is_deleted.eq(false)))
        .filter(tsp_licensekey_map::is_deleted.is_null().or(tsp_licensekey_map::is_deleted.eq(false)))
        .select((licensekey_list::created_dtime, licensekey_list::expiry_dtime))
        .first(conn)
        .optional()?;
    Ok(row.map(|(created, expires)| License {
        license_key: license_key.to_owned(),
        tsp_id: tsp_id.to_owned(),
        created_at: created.map(UtcTime::from_primitive),
        expires_at: expires.map(UtcTime::from_primitive),
    }))
}
