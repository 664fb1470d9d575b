//! The append-only audit log (`keymgr_audit_log`).

use diesel::prelude::*;
use keymgr_model::UtcTime;
use time::PrimitiveDateTime;

use super::Database;
use crate::DbError;
use crate::connection::{AnyConnection, MultiBackend};
use crate::records::AuditEntry;
use crate::schema::keymgr_audit_log;

/// The columns of `keymgr_audit_log` that [`AuditEntry`] carries (all but the generated `id`),
/// named once for reading and writing.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = keymgr_audit_log)]
#[diesel(check_for_backend(MultiBackend))]
// A `None` is written as NULL, not DEFAULT: one statement shape for every row, as before.
#[diesel(treat_none_as_default_value = false)]
struct AuditRow {
    event_time: PrimitiveDateTime,
    actor: String,
    action: String,
    app_id: Option<String>,
    ref_id: Option<String>,
    key_alias: Option<String>,
    detail: Option<String>,
}

impl From<AuditEntry> for AuditRow {
    fn from(e: AuditEntry) -> Self {
        Self {
            event_time: e.time.to_primitive(),
            actor: e.actor,
            action: e.action,
            app_id: e.app_id,
            ref_id: e.ref_id,
            key_alias: e.key_alias,
            detail: e.detail,
        }
    }
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        Self {
            time: UtcTime::from_primitive(r.event_time),
            actor: r.actor,
            action: r.action,
            app_id: r.app_id,
            ref_id: r.ref_id,
            key_alias: r.key_alias,
            detail: r.detail,
        }
    }
}

/// Appends `entry` to the audit log on `conn` (in the caller's transaction, if any).
pub(super) fn audit(conn: &mut AnyConnection, entry: AuditEntry) -> Result<(), DbError> {
    diesel::insert_into(keymgr_audit_log::table).values(AuditRow::from(entry)).execute(conn)?;
    Ok(())
}

impl Database {
    /// Appends an entry to the audit log.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<(), DbError> {
        audit(&mut *self.conn()?, entry.clone())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        let rows = keymgr_audit_log::table
            .select(AuditRow::as_select())
            .order(keymgr_audit_log::id.desc())
            .limit(limit)
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}
