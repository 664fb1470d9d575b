//! The append-only audit log (`keymgr_audit_log`) as a hash chain.
//!
//! Each row carries `prev_hash`, the hash of the row before it, and `row_hash`, the SHA-256 of
//! that and of its own id and fields ([`chain_hash`]). `keymgr_audit_head` holds the last row's
//! id and hash: a writer takes that row's lock, appends after it and moves it, so writers on
//! every replica keep one chain and ids without gaps. [`Database::verify_audit_chain`] walks
//! the rows in id order and names the first one edited, deleted, inserted or reordered. The
//! hashes alone take no secret: whoever may write the table could recompute them, so the key
//! manager also appends checkpoints signed with the platform key (`keymgr-core`), which fix
//! everything before them.

use diesel::prelude::*;
use keymgr_model::UtcTime;
use time::PrimitiveDateTime;

use super::Database;
use crate::DbError;
use crate::connection::{AnyConnection, MultiBackend};
use crate::records::AuditEntry;
use crate::schema::{keymgr_audit_head, keymgr_audit_log};

/// The hash before the first chained row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of a checkpoint row (its detail is the signed checkpoint).
pub const CHECKPOINT_ACTION: &str = "audit_checkpoint";

/// The columns of `keymgr_audit_log` that [`AuditEntry`] carries, and the chain.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = keymgr_audit_log)]
#[diesel(check_for_backend(MultiBackend))]
// A `None` is written as NULL, not DEFAULT: one statement shape for every row, as before.
#[diesel(treat_none_as_default_value = false)]
struct AuditRow {
    id: i64,
    event_time: PrimitiveDateTime,
    actor: String,
    action: String,
    app_id: Option<String>,
    ref_id: Option<String>,
    key_alias: Option<String>,
    detail: Option<String>,
    prev_hash: Option<String>,
    row_hash: Option<String>,
}

/// A row of the audit log as stored: its id, the entry, and its place in the chain (`None`
/// for the rows written before the log was chained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedAudit {
    /// The row id.
    pub id: i64,
    /// What happened.
    pub entry: AuditEntry,
    /// The hash of the row before.
    pub prev_hash: Option<String>,
    /// This row's hash.
    pub row_hash: Option<String>,
}

impl From<AuditRow> for ChainedAudit {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            entry: AuditEntry {
                time: UtcTime::from_primitive(r.event_time),
                actor: r.actor,
                action: r.action,
                app_id: r.app_id,
                ref_id: r.ref_id,
                key_alias: r.key_alias,
                detail: r.detail,
            },
            prev_hash: r.prev_hash,
            row_hash: r.row_hash,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of row `id` holding `entry` after a row of hash `prev`: SHA-256 (lowercase hex) of
/// a versioned, length-prefixed encoding of all of it, so no two rows encode alike.
pub fn chain_hash(prev: &str, id: i64, entry: &AuditEntry) -> String {
    let mut input = b"keymgr-audit-v1\n".to_vec();
    let mut field = |value: Option<&str>| match value {
        Some(text) => {
            input.push(1);
            input.extend_from_slice(&(text.len() as u64).to_be_bytes());
            input.extend_from_slice(text.as_bytes());
        }
        None => input.push(0),
    };
    field(Some(prev));
    field(Some(&id.to_string()));
    field(Some(&entry.time.unix_millis().to_string()));
    field(Some(&entry.actor));
    field(Some(&entry.action));
    field(entry.app_id.as_deref());
    field(entry.ref_id.as_deref());
    field(entry.key_alias.as_deref());
    field(entry.detail.as_deref());
    hex(&keymgr_crypto::sha256(&input))
}

/// Appends `entry` to the chain on `conn` (in the caller's transaction, if any): takes the
/// head's lock, writes the row after the last one and moves the head.
pub(super) fn audit(conn: &mut AnyConnection, entry: AuditEntry) -> Result<(), DbError> {
    audit_with(conn, entry, |_, _| Ok(None))
}

/// [`audit`], the entry's detail made by `detail` from the last row's id and hash while the
/// head is locked (a checkpoint signs them).
fn audit_with(
    conn: &mut AnyConnection,
    entry: AuditEntry,
    detail: impl FnOnce(i64, &str) -> Result<Option<String>, DbError>,
) -> Result<(), DbError> {
    // Millisecond times, which both engines store exactly, so the hash can be recomputed.
    let time = UtcTime::from_unix_millis(entry.time.unix_millis()).unwrap_or(entry.time);
    let entry = AuditEntry { time, ..entry };
    conn.transaction::<(), DbError, _>(|conn| {
        let head = keymgr_audit_head::table.filter(keymgr_audit_head::id.eq(1));
        // The lock: an update of the head row, which the others wait for.
        diesel::update(head).set(keymgr_audit_head::id.eq(keymgr_audit_head::id)).execute(conn)?;
        let (last_id, last_hash): (i64, String) =
            head.select((keymgr_audit_head::last_id, keymgr_audit_head::last_hash)).first(conn)?;
        let entry = match detail(last_id, &last_hash)? {
            Some(d) => AuditEntry { detail: Some(d), ..entry },
            None => entry,
        };
        let id = last_id + 1;
        let row_hash = chain_hash(&last_hash, id, &entry);
        diesel::insert_into(keymgr_audit_log::table)
            .values(AuditRow {
                id,
                event_time: entry.time.to_primitive(),
                actor: entry.actor,
                action: entry.action,
                app_id: entry.app_id,
                ref_id: entry.ref_id,
                key_alias: entry.key_alias,
                detail: entry.detail,
                prev_hash: Some(last_hash),
                row_hash: Some(row_hash.clone()),
            })
            .execute(conn)?;
        diesel::update(head)
            .set((keymgr_audit_head::last_id.eq(id), keymgr_audit_head::last_hash.eq(row_hash)))
            .execute(conn)?;
        Ok(())
    })
}

/// Where a chain is broken, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first row that does not fit (for the head, the last row's id).
    pub id: i64,
    /// What is wrong.
    pub reason: String,
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Chained rows read.
    pub rows: u64,
    /// Rows written before the log was chained (they come first and are not checked).
    pub unchained: u64,
    /// The chain's last row id and hash.
    pub last: (i64, String),
    /// The first break, if any.
    pub first_break: Option<AuditBreak>,
    /// The checkpoint rows: id, the hash before them, their signed detail.
    pub checkpoints: Vec<(i64, String, String)>,
}

impl Database {
    /// Appends an entry to the audit log.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<(), DbError> {
        audit(&mut *self.conn()?, entry.clone())
    }
}

impl super::Locked<'_> {
    /// Appends an entry to the audit log in the locked transaction: it commits with what the
    /// lock guarded, or not at all.
    pub fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), DbError> {
        audit(self.conn, entry.clone())
    }
}

impl Database {
    /// Appends a checkpoint: a row of action [`CHECKPOINT_ACTION`] whose detail `sign` makes
    /// from the id and hash of the row before it, under the head's lock (so that is exactly
    /// the chain it fixes).
    pub fn append_audit_checkpoint(
        &self,
        time: UtcTime,
        actor: &str,
        sign: impl FnOnce(i64, &str) -> Result<String, String>,
    ) -> Result<(), DbError> {
        let entry = AuditEntry {
            time,
            actor: actor.to_owned(),
            action: CHECKPOINT_ACTION.into(),
            app_id: None,
            ref_id: None,
            key_alias: None,
            detail: None,
        };
        audit_with(&mut *self.conn()?, entry, |id, hash| sign(id, hash).map(Some).map_err(DbError::Query))
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        let rows = keymgr_audit_log::table
            .select(AuditRow::as_select())
            .order(keymgr_audit_log::id.desc())
            .limit(limit)
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(|r| ChainedAudit::from(r).entry).collect())
    }

    /// Up to `limit` rows with ids above `after`, in id order, as stored.
    pub fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<ChainedAudit>, DbError> {
        let rows = keymgr_audit_log::table
            .filter(keymgr_audit_log::id.gt(after))
            .select(AuditRow::as_select())
            .order(keymgr_audit_log::id.asc())
            .limit(limit)
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(ChainedAudit::from).collect())
    }

    /// The chain's head: its last row's id and hash.
    pub fn audit_head(&self) -> Result<(i64, String), DbError> {
        Ok(keymgr_audit_head::table
            .filter(keymgr_audit_head::id.eq(1))
            .select((keymgr_audit_head::last_id, keymgr_audit_head::last_hash))
            .first(&mut *self.conn()?)?)
    }

    /// Walks the whole chain in id order (in batches) and says where it first breaks: a row
    /// whose hash is not its content's (edited), whose `prev_hash` is not the row before's or
    /// whose id does not follow it (deleted, inserted or reordered), an unchained row after the
    /// chain began, or a head that is not the last row (rows deleted or added at the end).
    pub fn verify_audit_chain(&self) -> Result<AuditCheck, DbError> {
        let mut check = AuditCheck {
            rows: 0,
            unchained: 0,
            last: (0, GENESIS_HASH.to_owned()),
            first_break: None,
            checkpoints: Vec::new(),
        };
        let mut after = i64::MIN;
        let mut started = false;
        'walk: loop {
            let batch = self.audit_rows(after, 1000)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for row in batch {
                let broken = |reason: &str| AuditBreak { id: row.id, reason: reason.to_owned() };
                let (Some(prev), Some(hash)) = (&row.prev_hash, &row.row_hash) else {
                    if started {
                        check.first_break = Some(broken("a row without a hash inside the chain (inserted)"));
                        break 'walk;
                    }
                    check.unchained += 1;
                    check.last.0 = row.id;
                    continue;
                };
                started = true;
                if *prev != check.last.1 {
                    check.first_break = Some(broken(
                        "its prev_hash is not the hash of the row before it (a row deleted, inserted or reordered)",
                    ));
                    break 'walk;
                }
                if row.id != check.last.0 + 1 {
                    check.first_break =
                        Some(broken("its id does not follow the row before it (a row deleted)"));
                    break 'walk;
                }
                if *hash != chain_hash(prev, row.id, &row.entry) {
                    check.first_break = Some(broken("its content is not what its hash says (edited)"));
                    break 'walk;
                }
                if row.entry.action == CHECKPOINT_ACTION {
                    check.checkpoints.push((
                        row.id,
                        prev.clone(),
                        row.entry.detail.clone().unwrap_or_default(),
                    ));
                }
                check.rows += 1;
                check.last = (row.id, hash.clone());
            }
        }
        if check.first_break.is_none() && self.audit_head()? != check.last {
            check.first_break = Some(AuditBreak {
                id: check.last.0,
                reason: "the chain's head is not its last row (rows deleted or added at the end)".into(),
            });
        }
        Ok(check)
    }
}
