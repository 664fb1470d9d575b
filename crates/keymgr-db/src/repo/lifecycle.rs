//! Key lifecycle rows (ours): the states operators gave keys (`keymgr_key_state`), the
//! re-wrapping of a master's children, crypto-shredding, and retention periods
//! (`keymgr_retention_policy`). Every change writes its audit row in its own transaction.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use keymgr_model::{KeyState, UtcTime};
use time::PrimitiveDateTime;

use super::audit::audit;
use super::{Database, Locked, now};
use crate::DbError;
use crate::connection::AnyConnection;
use crate::records::{AuditEntry, KeyStateRecord, Rewrapped, StoredKey};
use crate::schema::{key_store, keymgr_key_state, keymgr_key_state_version, keymgr_retention_policy};

type StateRow = (
    String,
    String,
    Option<String>,
    bool,
    Option<PrimitiveDateTime>,
    Option<String>,
    String,
    PrimitiveDateTime,
);

fn state_columns() -> (
    keymgr_key_state::key_alias,
    keymgr_key_state::state,
    keymgr_key_state::reason,
    keymgr_key_state::response_complete,
    keymgr_key_state::recovery_until,
    keymgr_key_state::certificate_data,
    keymgr_key_state::upd_by,
    keymgr_key_state::upd_dtimes,
) {
    (
        keymgr_key_state::key_alias,
        keymgr_key_state::state,
        keymgr_key_state::reason,
        keymgr_key_state::response_complete,
        keymgr_key_state::recovery_until,
        keymgr_key_state::certificate_data,
        keymgr_key_state::upd_by,
        keymgr_key_state::upd_dtimes,
    )
}

fn decode_state(row: StateRow) -> Result<KeyStateRecord, DbError> {
    let (alias, state, reason, response_complete, recovery_until, certificate, updated_by, updated_at) = row;
    let state = state.parse::<KeyState>().map_err(|e| DbError::BadRow {
        table: "keymgr_key_state",
        id: alias.clone(),
        reason: e.to_string(),
    })?;
    Ok(KeyStateRecord {
        alias,
        state,
        reason,
        response_complete,
        recovery_until: recovery_until.map(UtcTime::from_primitive),
        certificate,
        updated_by,
        updated_at: UtcTime::from_primitive(updated_at),
    })
}

fn key_state(conn: &mut AnyConnection, alias: &str) -> Result<Option<KeyStateRecord>, DbError> {
    let row: Option<StateRow> = keymgr_key_state::table
        .filter(keymgr_key_state::key_alias.eq(alias))
        .select(state_columns())
        .first(conn)
        .optional()?;
    row.map(decode_state).transpose()
}

/// Moves the states' version on, in the caller's transaction.
fn bump_state_version(conn: &mut AnyConnection) -> Result<(), DbError> {
    diesel::update(keymgr_key_state_version::table.filter(keymgr_key_state_version::id.eq(1)))
        .set(keymgr_key_state_version::version.eq(keymgr_key_state_version::version + 1))
        .execute(conn)?;
    Ok(())
}

fn count_live_children(conn: &mut AnyConnection, master_alias: &str) -> Result<i64, DbError> {
    Ok(key_store::table
        .filter(key_store::master_key.eq(master_alias))
        .filter(key_store::private_key.ne(StoredKey::NO_PRIVATE_KEY))
        .filter(key_store::private_key.ne(StoredKey::DESTROYED))
        .count()
        .get_result(conn)?)
}

/// Overwrites a stored key's wrapped private key and stores `record` (destroyed), in the
/// caller's transaction.
fn shred_stored_key(
    conn: &mut AnyConnection,
    record: &KeyStateRecord,
    from: KeyState,
    key: (Option<String>, Option<String>),
) -> Result<(), DbError> {
    let changed = diesel::update(key_store::table.filter(key_store::id.eq(&record.alias)))
        .set((
            key_store::private_key.eq(StoredKey::DESTROYED),
            key_store::upd_by.eq(&record.updated_by),
            key_store::upd_dtimes.eq(record.updated_at.to_primitive()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound { table: "key_store", id: record.alias.clone() });
    }
    put_key_state(conn, record, from, key)
}

/// Writes `record` over the key's stored state, with an audit row saying from what.
fn put_key_state(
    conn: &mut AnyConnection,
    record: &KeyStateRecord,
    from: KeyState,
    key: (Option<String>, Option<String>),
) -> Result<(), DbError> {
    let values = (
        keymgr_key_state::state.eq(record.state.as_str()),
        keymgr_key_state::reason.eq(&record.reason),
        keymgr_key_state::response_complete.eq(record.response_complete),
        keymgr_key_state::recovery_until.eq(record.recovery_until.map(|t| t.to_primitive())),
        keymgr_key_state::certificate_data.eq(&record.certificate),
        keymgr_key_state::upd_by.eq(&record.updated_by),
        keymgr_key_state::upd_dtimes.eq(record.updated_at.to_primitive()),
    );
    let updated =
        diesel::update(keymgr_key_state::table.filter(keymgr_key_state::key_alias.eq(&record.alias)))
            .set(values)
            .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(keymgr_key_state::table)
            .values((keymgr_key_state::key_alias.eq(&record.alias), values))
            .execute(conn)?;
    }
    bump_state_version(conn)?;
    let mut detail = format!("{from} -> {}", record.state);
    if record.state == KeyState::Compromised && record.response_complete {
        detail.push_str("; compromise response complete");
    }
    if let Some(until) = record.recovery_until {
        detail.push_str(&format!("; recovery decrypts allowed until {until}"));
    }
    if let Some(reason) = &record.reason {
        detail.push_str("; ");
        detail.push_str(reason);
    }
    audit(
        conn,
        AuditEntry {
            time: record.updated_at,
            actor: record.updated_by.clone(),
            action: format!("key_{}", record.state.as_str().replace('-', "_")),
            app_id: key.0,
            ref_id: key.1,
            key_alias: Some(record.alias.clone()),
            detail: Some(detail),
        },
    )
}

impl Locked<'_> {
    /// The stored state of `alias`, read in the locked transaction.
    pub fn key_state(&mut self, alias: &str) -> Result<Option<KeyStateRecord>, DbError> {
        key_state(self.conn, alias)
    }

    /// Stores a key's new state (and its audit row, saying it was `from`) in the locked
    /// transaction; `key` is the pair's (application, reference) for the audit row.
    pub fn put_key_state(
        &mut self,
        record: &KeyStateRecord,
        from: KeyState,
        key: (Option<String>, Option<String>),
    ) -> Result<(), DbError> {
        put_key_state(self.conn, record, from, key)
    }

    /// How many live keys `master_alias` wraps, read in the locked transaction.
    pub fn count_live_children(&mut self, master_alias: &str) -> Result<i64, DbError> {
        count_live_children(self.conn, master_alias)
    }

    /// Crypto-shreds a stored key and stores its destroyed state, in the locked transaction.
    pub fn shred_stored_key(
        &mut self,
        record: &KeyStateRecord,
        from: KeyState,
        key: (Option<String>, Option<String>),
    ) -> Result<(), DbError> {
        shred_stored_key(self.conn, record, from, key)
    }

    /// The stored state of the master `master_alias`, read so that a concurrent change of it
    /// is either committed before (and seen) or waits for this transaction: on PostgreSQL the
    /// master's `key_alias` row is locked for share, which a compromise's update of that row
    /// waits on. A new child is wrapped for its master only if this says the master is usable.
    pub fn master_state(&mut self, master_alias: &str) -> Result<Option<KeyStateRecord>, DbError> {
        if let AnyConnection::Postgresql(c) = self.conn {
            diesel::sql_query("SELECT id FROM key_alias WHERE id = $1 FOR SHARE")
                .bind::<Text, _>(master_alias)
                .execute(c)?;
        }
        key_state(self.conn, master_alias)
    }
}

impl Database {
    /// The stored state of `alias`, if an operator gave it one.
    pub fn key_state(&self, alias: &str) -> Result<Option<KeyStateRecord>, DbError> {
        key_state(&mut *self.conn()?, alias)
    }

    /// Every stored key state.
    pub fn key_states(&self) -> Result<Vec<KeyStateRecord>, DbError> {
        let rows: Vec<StateRow> = keymgr_key_state::table
            .select(state_columns())
            .order(keymgr_key_state::key_alias.asc())
            .load(&mut *self.conn()?)?;
        rows.into_iter().map(decode_state).collect()
    }

    /// The version of `keymgr_key_state`: bumped in the transaction of every change, so a
    /// cached copy is re-read only when another replica changed it.
    pub fn key_state_version(&self) -> Result<i64, DbError> {
        Ok(keymgr_key_state_version::table
            .filter(keymgr_key_state_version::id.eq(1))
            .select(keymgr_key_state_version::version)
            .first(&mut *self.conn()?)?)
    }

    /// How many live keys `master_alias` wraps.
    pub fn count_live_children(&self, master_alias: &str) -> Result<i64, DbError> {
        count_live_children(&mut *self.conn()?, master_alias)
    }

    /// Stores a key's new state with its audit row, in one transaction.
    pub fn put_key_state(
        &self,
        record: &KeyStateRecord,
        from: KeyState,
        key: (Option<String>, Option<String>),
    ) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| put_key_state(conn, record, from, key))
    }

    /// Up to `limit` live children of `master_alias` (`key_store` rows it wraps that hold a
    /// private key), in alias order after `after`.
    pub fn live_children(
        &self,
        master_alias: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StoredKey>, DbError> {
        let mut query = key_store::table
            .filter(key_store::master_key.eq(master_alias.to_owned()))
            .filter(key_store::private_key.ne(StoredKey::NO_PRIVATE_KEY))
            .filter(key_store::private_key.ne(StoredKey::DESTROYED))
            .select((
                key_store::id,
                key_store::master_key,
                key_store::private_key,
                key_store::certificate_data,
            ))
            .order(key_store::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(key_store::id.gt(after.to_owned()));
        }
        let rows: Vec<(String, String, String, String)> = query.load(&mut *self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(alias, master_alias, private_key, certificate)| StoredKey {
                alias,
                master_alias,
                private_key,
                certificate,
            })
            .collect())
    }

    /// The `key_store` rows of `aliases` (those that have one), read in chunks.
    pub fn stored_keys(&self, aliases: &[String]) -> Result<Vec<StoredKey>, DbError> {
        let mut conn = self.conn()?;
        let mut out = Vec::with_capacity(aliases.len());
        for chunk in aliases.chunks(500) {
            let rows: Vec<(String, String, String, String)> = key_store::table
                .filter(key_store::id.eq_any(chunk))
                .select((
                    key_store::id,
                    key_store::master_key,
                    key_store::private_key,
                    key_store::certificate_data,
                ))
                .load(&mut *conn)?;
            out.extend(rows.into_iter().map(|(alias, master_alias, private_key, certificate)| StoredKey {
                alias,
                master_alias,
                private_key,
                certificate,
            }));
        }
        Ok(out)
    }

    /// How many live children each master has (masters without any are absent).
    pub fn live_children_counts(&self) -> Result<HashMap<String, i64>, DbError> {
        let rows: Vec<(String, i64)> = key_store::table
            .filter(key_store::private_key.ne(StoredKey::NO_PRIVATE_KEY))
            .filter(key_store::private_key.ne(StoredKey::DESTROYED))
            .group_by(key_store::master_key)
            .select((key_store::master_key, diesel::dsl::count_star()))
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().collect())
    }

    /// Writes a batch of re-wrapped children in one transaction with one audit row
    /// (`rewrap_batch`, `detail` appended). A row whose master changed since it was read is
    /// left alone, so a batch run twice (a resumed job, a second replica) changes nothing the
    /// second time. Returns how many rows changed.
    pub fn rewrap_children(&self, batch: &[Rewrapped], actor: &str, detail: &str) -> Result<usize, DbError> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.conn()?.transaction(|conn| {
            let at = now();
            let mut changed = 0;
            for r in batch {
                changed += diesel::update(
                    key_store::table
                        .filter(key_store::id.eq(&r.alias))
                        .filter(key_store::master_key.eq(&r.old_master)),
                )
                .set((
                    key_store::master_key.eq(&r.new_master),
                    key_store::private_key.eq(&r.private_key),
                    key_store::upd_by.eq(actor),
                    key_store::upd_dtimes.eq(at),
                ))
                .execute(conn)?;
            }
            let first = batch.first().map(|r| r.alias.as_str()).unwrap_or_default();
            let last = batch.last().map(|r| r.alias.as_str()).unwrap_or_default();
            audit(
                conn,
                AuditEntry {
                    time: UtcTime::from_primitive(at),
                    actor: actor.to_owned(),
                    action: "rewrap_batch".into(),
                    app_id: None,
                    ref_id: None,
                    key_alias: batch.first().map(|r| r.old_master.clone()),
                    detail: Some(format!(
                        "{changed} of {} children re-wrapped ({first} .. {last}); {detail}",
                        batch.len()
                    )),
                },
            )?;
            Ok(changed)
        })
    }

    /// Crypto-shreds a key kept in the database: its wrapped private key is overwritten, the
    /// row stays as a tombstone with its certificate, and its state becomes `record` (destroyed),
    /// with the audit row, in one transaction.
    pub fn shred_stored_key(
        &self,
        record: &KeyStateRecord,
        from: KeyState,
        key: (Option<String>, Option<String>),
    ) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| shred_stored_key(conn, record, from, key))
    }

    /// The retention periods set per application (days after expiry).
    pub fn retention_policies(&self) -> Result<HashMap<String, u32>, DbError> {
        let rows: Vec<(String, i32)> = keymgr_retention_policy::table
            .select((keymgr_retention_policy::app_id, keymgr_retention_policy::retention_days))
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(|(app, days)| (app, u32::try_from(days).unwrap_or(0))).collect())
    }

    /// Sets an application's retention period, with an audit row saying before and after.
    pub fn set_retention(
        &self,
        app: &str,
        days: u32,
        actor: &str,
        note: Option<&str>,
    ) -> Result<(), DbError> {
        let stored = i32::try_from(days).map_err(|_| DbError::Config("retention over 2^31 days".into()))?;
        self.conn()?.transaction(|conn| {
            let before: Option<i32> = keymgr_retention_policy::table
                .filter(keymgr_retention_policy::app_id.eq(app))
                .select(keymgr_retention_policy::retention_days)
                .first(conn)
                .optional()?;
            let at = now();
            let updated = diesel::update(
                keymgr_retention_policy::table.filter(keymgr_retention_policy::app_id.eq(app)),
            )
            .set((
                keymgr_retention_policy::retention_days.eq(stored),
                keymgr_retention_policy::upd_by.eq(actor),
                keymgr_retention_policy::upd_dtimes.eq(at),
            ))
            .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(keymgr_retention_policy::table)
                    .values((
                        keymgr_retention_policy::app_id.eq(app),
                        keymgr_retention_policy::retention_days.eq(stored),
                        keymgr_retention_policy::upd_by.eq(actor),
                        keymgr_retention_policy::upd_dtimes.eq(at),
                    ))
                    .execute(conn)?;
            }
            let mut detail = format!(
                "retention_days before: {}; after: {days}",
                before.map_or("default".into(), |d| d.to_string())
            );
            if let Some(note) = note {
                detail.push_str("; ");
                detail.push_str(note);
            }
            audit(
                conn,
                AuditEntry {
                    time: UtcTime::from_primitive(at),
                    actor: actor.to_owned(),
                    action: "retention_changed".into(),
                    app_id: Some(app.to_owned()),
                    ref_id: None,
                    key_alias: None,
                    detail: Some(detail),
                },
            )
        })
    }
}
