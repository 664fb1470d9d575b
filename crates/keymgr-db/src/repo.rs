//! The repository: what the key hierarchy asks of the database, written once for both engines.
//! Keys, policies and the generation lock are here; the certificate stores are in `certs`, the
//! audit log in `audit`.

mod audit;
mod certs;
mod licenses;
mod lifecycle;
mod zk;

pub use audit::{AuditBreak, AuditCheck, CHECKPOINT_ACTION, ChainedAudit, GENESIS_HASH, chain_hash};
pub use certs::{CaCertQuery, CaCertSort};
pub use licenses::License;
pub use zk::ZK_KEY_ACTIVE;

use diesel::prelude::*;
use diesel::sql_types::Text;
use keymgr_model::{AppId, KeyAlias, KeyPolicy, KeyRef, Thumbprint, UtcTime};
use time::PrimitiveDateTime;

use self::audit::audit;
use crate::connection::{AnyConnection, ConnectionPool, open_pool};
use crate::records::{AuditEntry, NewKey, StoredKey};
use crate::schema::{key_alias, key_policy_def, key_store};
use crate::{Backend, DbError};

type AliasRow = (
    String,
    String,
    Option<String>,
    Option<PrimitiveDateTime>,
    Option<PrimitiveDateTime>,
    Option<String>,
    Option<String>,
);

type PolicyRow = (String, Option<i16>, bool, Option<i16>, Option<String>);

fn now() -> PrimitiveDateTime {
    UtcTime::now().to_primitive()
}

fn decode_alias(row: AliasRow) -> Result<KeyAlias, DbError> {
    let (id, app, reference, generated, expires, thumbprint, unique_ident) = row;
    let bad = |reason: String| DbError::BadRow { table: "key_alias", id: id.clone(), reason };
    let key_ref =
        KeyRef::parse(&app, reference.as_deref().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    let generated_at = generated.ok_or_else(|| bad("key_gen_dtimes is null".into()))?;
    let expires_at = expires.ok_or_else(|| bad("key_expire_dtimes is null".into()))?;
    let thumbprint = thumbprint
        .filter(|t| !t.is_empty())
        .map(|t| Thumbprint::from_hex(&t))
        .transpose()
        .map_err(|_| bad("cert_thumbprint is not 64 hex digits".into()))?;
    Ok(KeyAlias {
        alias: id.clone(),
        key_ref,
        generated_at: UtcTime::from_primitive(generated_at),
        expires_at: UtcTime::from_primitive(expires_at),
        thumbprint,
        unique_ident,
    })
}

fn decode_policy(row: PolicyRow) -> Result<KeyPolicy, DbError> {
    let (app, validity, active, pre_expire, access) = row;
    let bad = |reason: String| DbError::BadRow { table: "key_policy_def", id: app.clone(), reason };
    let app_id = AppId::new(app.clone()).map_err(|e| bad(e.to_string()))?;
    let validity = validity.ok_or_else(|| bad("key_validity_duration is null".into()))?;
    KeyPolicy::from_columns(app_id, validity, pre_expire.unwrap_or(0), active, access.as_deref())
        .map_err(|e| bad(e.to_string()))
}

fn alias_columns() -> (
    key_alias::id,
    key_alias::app_id,
    key_alias::ref_id,
    key_alias::key_gen_dtimes,
    key_alias::key_expire_dtimes,
    key_alias::cert_thumbprint,
    key_alias::uni_ident,
) {
    (
        key_alias::id,
        key_alias::app_id,
        key_alias::ref_id,
        key_alias::key_gen_dtimes,
        key_alias::key_expire_dtimes,
        key_alias::cert_thumbprint,
        key_alias::uni_ident,
    )
}

fn aliases_for(conn: &mut AnyConnection, key_ref: &KeyRef) -> Result<Vec<KeyAlias>, DbError> {
    let query = key_alias::table
        .filter(key_alias::app_id.eq(key_ref.app.as_str()))
        .select(alias_columns())
        .order((key_alias::key_gen_dtimes.asc(), key_alias::id.asc()));
    let rows: Vec<AliasRow> = if key_ref.reference.is_master() {
        // MOSIP writes "" for masters; rows from other tools may hold NULL.
        query.filter(key_alias::ref_id.eq("").or(key_alias::ref_id.is_null())).load(conn)?
    } else {
        query.filter(key_alias::ref_id.eq(key_ref.reference.as_str())).load(conn)?
    };
    rows.into_iter().map(decode_alias).collect()
}

fn insert_key(conn: &mut AnyConnection, new: &NewKey<'_>) -> Result<(), DbError> {
    let a = new.alias;
    let created = now();
    diesel::insert_into(key_alias::table)
        .values((
            key_alias::id.eq(&a.alias),
            key_alias::app_id.eq(a.key_ref.app.as_str()),
            key_alias::ref_id.eq(a.key_ref.reference.as_str()),
            key_alias::key_gen_dtimes.eq(a.generated_at.to_primitive()),
            key_alias::key_expire_dtimes.eq(a.expires_at.to_primitive()),
            key_alias::cert_thumbprint.eq(a.thumbprint.map(|t| t.to_hex())),
            key_alias::uni_ident.eq(&a.unique_ident),
            key_alias::cr_by.eq(new.actor),
            key_alias::cr_dtimes.eq(created),
            key_alias::is_deleted.eq(false),
        ))
        .execute(conn)?;
    if let Some(s) = new.stored {
        if s.alias != a.alias {
            return Err(DbError::Config("key_store row must carry the alias of its key_alias row".into()));
        }
        diesel::insert_into(key_store::table)
            .values((
                key_store::id.eq(&s.alias),
                key_store::master_key.eq(&s.master_alias),
                key_store::private_key.eq(&s.private_key),
                key_store::certificate_data.eq(&s.certificate),
                key_store::cr_by.eq(new.actor),
                key_store::cr_dtimes.eq(created),
                key_store::is_deleted.eq(false),
            ))
            .execute(conn)?;
    }
    audit(
        conn,
        AuditEntry {
            time: UtcTime::from_primitive(created),
            actor: new.actor.to_owned(),
            action: "key_created".into(),
            app_id: Some(a.key_ref.app.to_string()),
            ref_id: Some(a.key_ref.reference.to_string()),
            key_alias: Some(a.alias.clone()),
            detail: Some(format!("expires {}", a.expires_at)),
        },
    )
}

fn set_expiry(
    conn: &mut AnyConnection,
    alias: &str,
    expires_at: UtcTime,
    actor: &str,
) -> Result<(), DbError> {
    let changed = diesel::update(key_alias::table.filter(key_alias::id.eq(alias)))
        .set((
            key_alias::key_expire_dtimes.eq(expires_at.to_primitive()),
            key_alias::upd_by.eq(actor),
            key_alias::upd_dtimes.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound { table: "key_alias", id: alias.to_owned() });
    }
    audit(
        conn,
        AuditEntry {
            time: UtcTime::now(),
            actor: actor.to_owned(),
            action: "expiry_changed".into(),
            app_id: None,
            ref_id: None,
            key_alias: Some(alias.to_owned()),
            detail: Some(format!("expires {expires_at}")),
        },
    )
}

/// Installs a new certificate for an existing key (MOSIP's `uploadCertificate`): the alias row
/// takes the certificate's dates, thumbprint and a new `uni_ident`; a base key's `key_store`
/// row takes the PEM (`certificate_pem`), in the caller's transaction.
fn replace_certificate(
    conn: &mut AnyConnection,
    updated: &KeyAlias,
    certificate_pem: Option<&str>,
    actor: &str,
) -> Result<(), DbError> {
    let changed = diesel::update(key_alias::table.filter(key_alias::id.eq(&updated.alias)))
        .set((
            key_alias::key_gen_dtimes.eq(updated.generated_at.to_primitive()),
            key_alias::key_expire_dtimes.eq(updated.expires_at.to_primitive()),
            key_alias::cert_thumbprint.eq(updated.thumbprint.map(|t| t.to_hex())),
            key_alias::uni_ident.eq(&updated.unique_ident),
            key_alias::upd_by.eq(actor),
            key_alias::upd_dtimes.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound { table: "key_alias", id: updated.alias.clone() });
    }
    if let Some(pem) = certificate_pem {
        let changed = diesel::update(key_store::table.filter(key_store::id.eq(&updated.alias)))
            .set((
                key_store::certificate_data.eq(pem),
                key_store::upd_by.eq(actor),
                key_store::upd_dtimes.eq(now()),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(DbError::NotFound { table: "key_store", id: updated.alias.clone() });
        }
    }
    audit(
        conn,
        AuditEntry {
            time: UtcTime::now(),
            actor: actor.to_owned(),
            action: "certificate_replaced".into(),
            app_id: Some(updated.key_ref.app.to_string()),
            ref_id: Some(updated.key_ref.reference.to_string()),
            key_alias: Some(updated.alias.clone()),
            detail: updated.thumbprint.map(|t| format!("thumbprint {}", t.to_hex())),
        },
    )
}

fn stored_key(conn: &mut AnyConnection, alias: &str) -> Result<Option<StoredKey>, DbError> {
    let row: Option<(String, String, String, String)> = key_store::table
        .filter(key_store::id.eq(alias))
        .select((key_store::id, key_store::master_key, key_store::private_key, key_store::certificate_data))
        .first(conn)
        .optional()?;
    let Some((alias, master_alias, private_key, certificate)) = row else { return Ok(None) };
    let bad =
        |reason: &str| DbError::BadRow { table: "key_store", id: alias.clone(), reason: reason.to_owned() };
    if private_key != StoredKey::NO_PRIVATE_KEY
        && private_key != StoredKey::DESTROYED
        && !is_base64_text(&private_key)
    {
        return Err(bad("private_key is not base64"));
    }
    if !certificate.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("certificate_data holds no PEM certificate"));
    }
    Ok(Some(StoredKey { alias, master_alias, private_key, certificate }))
}

/// Whether `text` is base64 in one alphabet (URL-safe, or standard as in old MOSIP rows), with
/// at most two `=` of padding at the end. The key hierarchy decodes it; this only refuses rows
/// that cannot be a wrapped key, naming the row.
fn is_base64_text(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    let url = body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    let standard = body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/');
    !body.is_empty() && text.len() - body.len() <= 2 && (url || standard)
}

/// Takes the generation lock of `key_ref` inside the current transaction: an upsert of the
/// pair's lock row, whose row lock (PostgreSQL) or write lock (SQLite) is held until commit.
fn lock_pair(conn: &mut AnyConnection, key_ref: &KeyRef) -> Result<(), diesel::result::Error> {
    const SQLITE: &str = "INSERT INTO keymgr_generation_lock (app_id, ref_id, locked_at) \
        VALUES (?, ?, CURRENT_TIMESTAMP) ON CONFLICT (app_id, ref_id) DO UPDATE SET locked_at = excluded.locked_at";
    const POSTGRES: &str = "INSERT INTO keymgr_generation_lock (app_id, ref_id, locked_at) \
        VALUES ($1, $2, now() AT TIME ZONE 'UTC') ON CONFLICT (app_id, ref_id) DO UPDATE SET locked_at = excluded.locked_at";
    let (app, reference) = (key_ref.app.as_str(), key_ref.reference.as_str());
    match conn {
        AnyConnection::Sqlite(c) => {
            diesel::sql_query(SQLITE).bind::<Text, _>(app).bind::<Text, _>(reference).execute(c)?
        }
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(POSTGRES).bind::<Text, _>(app).bind::<Text, _>(reference).execute(c)?
        }
    };
    Ok(())
}

/// The database: a connection pool over SQLite or PostgreSQL and the repository operations.
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Database {
    pool: ConnectionPool,
    backend: Backend,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// The connection of a transaction that holds a pair's generation lock; see
/// [`Database::with_generation_lock`].
pub struct Locked<'a> {
    conn: &'a mut AnyConnection,
}

impl Locked<'_> {
    /// The pair's aliases in generation order, as committed by everyone before the lock.
    pub fn aliases_for(&mut self, key_ref: &KeyRef) -> Result<Vec<KeyAlias>, DbError> {
        aliases_for(self.conn, key_ref)
    }

    /// Records a new key (alias, `key_store` row, audit row) in the locked transaction.
    pub fn insert_key(&mut self, new: &NewKey<'_>) -> Result<(), DbError> {
        insert_key(self.conn, new)
    }

    /// Changes a key's expiry in the locked transaction.
    pub fn set_expiry(&mut self, alias: &str, expires_at: UtcTime, actor: &str) -> Result<(), DbError> {
        set_expiry(self.conn, alias, expires_at, actor)
    }

    /// The `key_store` row of `alias`.
    pub fn stored_key(&mut self, alias: &str) -> Result<Option<StoredKey>, DbError> {
        stored_key(self.conn, alias)
    }

    /// Installs a new certificate for an existing key in the locked transaction: the alias
    /// row's dates, thumbprint and `uni_ident` from `updated`, and, for a base key, the
    /// `key_store` row's PEM.
    pub fn replace_certificate(
        &mut self,
        updated: &KeyAlias,
        certificate_pem: Option<&str>,
        actor: &str,
    ) -> Result<(), DbError> {
        replace_certificate(self.conn, updated, certificate_pem, actor)
    }
}

/// A failure inside a locked transaction: the database's or the caller's.
enum TxError<E> {
    Db(diesel::result::Error),
    Caller(E),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

impl Database {
    /// Connects to `url` (`postgres://...`, `sqlite://PATH` or a file path) with a pool of
    /// `pool_size` connections and runs the embedded migrations.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, DbError> {
        let (pool, backend) = open_pool(url, pool_size)?;
        Ok(Self { pool, backend })
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn conn(
        &self,
    ) -> Result<diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<AnyConnection>>, DbError> {
        self.pool.get().map_err(|e| DbError::Connect(e.to_string()))
    }

    /// Checks that a connection answers.
    pub fn health_check(&self) -> Result<(), DbError> {
        diesel::sql_query("SELECT 1").execute(&mut *self.conn()?)?;
        Ok(())
    }

    /// The aliases of a pair in generation order (expired ones included).
    pub fn aliases_for(&self, key_ref: &KeyRef) -> Result<Vec<KeyAlias>, DbError> {
        aliases_for(&mut *self.conn()?, key_ref)
    }

    /// Every alias whose certificate has `thumbprint` (normally one).
    pub fn aliases_by_thumbprint(&self, thumbprint: &Thumbprint) -> Result<Vec<KeyAlias>, DbError> {
        let rows: Vec<AliasRow> = key_alias::table
            .filter(key_alias::cert_thumbprint.eq(thumbprint.to_hex()))
            .select(alias_columns())
            .order((key_alias::key_gen_dtimes.asc(), key_alias::id.asc()))
            .load(&mut *self.conn()?)?;
        rows.into_iter().map(decode_alias).collect()
    }

    /// The alias row `alias`.
    pub fn alias(&self, alias: &str) -> Result<Option<KeyAlias>, DbError> {
        let row: Option<AliasRow> = key_alias::table
            .filter(key_alias::id.eq(alias))
            .select(alias_columns())
            .first(&mut *self.conn()?)
            .optional()?;
        row.map(decode_alias).transpose()
    }

    /// Every alias, for reports (ordered by application, reference, generation).
    pub fn all_aliases(&self) -> Result<Vec<KeyAlias>, DbError> {
        let rows: Vec<AliasRow> = key_alias::table
            .select(alias_columns())
            .order((key_alias::app_id.asc(), key_alias::ref_id.asc(), key_alias::key_gen_dtimes.asc()))
            .load(&mut *self.conn()?)?;
        rows.into_iter().map(decode_alias).collect()
    }

    /// The aliases whose `key_store` row holds a certificate and no private key: other
    /// domains' certificates (`uploadOtherDomainCertificate`).
    pub fn certificate_only_aliases(&self) -> Result<Vec<String>, DbError> {
        Ok(key_store::table
            .filter(key_store::private_key.eq(StoredKey::NO_PRIVATE_KEY))
            .select(key_store::id)
            .load(&mut *self.conn()?)?)
    }

    /// Records a new key: its alias row, its `key_store` row if any, and an audit row, in one
    /// transaction.
    pub fn insert_key(&self, new: &NewKey<'_>) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| insert_key(conn, new))
    }

    /// Changes a key's expiry (revocation, forced rotation), with an audit row.
    pub fn set_expiry(&self, alias: &str, expires_at: UtcTime, actor: &str) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| set_expiry(conn, alias, expires_at, actor))
    }

    /// The `key_store` row of `alias`.
    pub fn stored_key(&self, alias: &str) -> Result<Option<StoredKey>, DbError> {
        stored_key(&mut *self.conn()?, alias)
    }

    /// The policy of `app`, if it has one.
    pub fn policy(&self, app: &AppId) -> Result<Option<KeyPolicy>, DbError> {
        let row: Option<PolicyRow> = key_policy_def::table
            .filter(key_policy_def::app_id.eq(app.as_str()))
            .select((
                key_policy_def::app_id,
                key_policy_def::key_validity_duration,
                key_policy_def::is_active,
                key_policy_def::pre_expire_days,
                key_policy_def::access_allowed,
            ))
            .first(&mut *self.conn()?)
            .optional()?;
        row.map(decode_policy).transpose()
    }

    /// Every policy, ordered by application.
    pub fn policies(&self) -> Result<Vec<KeyPolicy>, DbError> {
        let rows: Vec<PolicyRow> = key_policy_def::table
            .select((
                key_policy_def::app_id,
                key_policy_def::key_validity_duration,
                key_policy_def::is_active,
                key_policy_def::pre_expire_days,
                key_policy_def::access_allowed,
            ))
            .order(key_policy_def::app_id.asc())
            .load(&mut *self.conn()?)?;
        rows.into_iter().map(decode_policy).collect()
    }

    /// Creates or replaces the policy of `policy.app_id`.
    pub fn upsert_policy(&self, policy: &KeyPolicy, actor: &str) -> Result<(), DbError> {
        self.upsert_policy_noted(policy, actor, None)
    }

    /// [`Self::upsert_policy`], with `note` (why it was forced, say) in its audit row.
    pub fn upsert_policy_noted(
        &self,
        policy: &KeyPolicy,
        actor: &str,
        note: Option<&str>,
    ) -> Result<(), DbError> {
        let validity = i16::try_from(policy.validity_days)
            .map_err(|_| DbError::Config("key_validity_duration over 32767 days".into()))?;
        let pre_expire = i16::try_from(policy.pre_expire_days)
            .map_err(|_| DbError::Config("pre_expire_days over 32767 days".into()))?;
        let access = policy.access_allowed.to_column();
        self.conn()?.transaction(|conn| {
            let before: Option<PolicyRow> = key_policy_def::table
                .filter(key_policy_def::app_id.eq(policy.app_id.as_str()))
                .select((
                    key_policy_def::app_id,
                    key_policy_def::key_validity_duration,
                    key_policy_def::is_active,
                    key_policy_def::pre_expire_days,
                    key_policy_def::access_allowed,
                ))
                .first(conn)
                .optional()?;
            let describe = |validity: Option<i16>, active: bool, pre: Option<i16>, access: Option<&str>| {
                format!(
                    "validity_days={} pre_expire_days={} active={active} access_allowed={}",
                    validity.map_or("-".into(), |v| v.to_string()),
                    pre.map_or("-".into(), |v| v.to_string()),
                    access.unwrap_or("-")
                )
            };
            let mut detail = format!(
                "before: {}; after: {}",
                before.as_ref().map_or("none".into(), |(_, v, a, p, acc)| describe(
                    *v,
                    *a,
                    *p,
                    acc.as_deref()
                )),
                describe(Some(validity), policy.is_active, Some(pre_expire), Some(&access))
            );
            if let Some(note) = note {
                detail.push_str("; ");
                detail.push_str(note);
            }
            audit(
                conn,
                AuditEntry {
                    time: UtcTime::now(),
                    actor: actor.to_owned(),
                    action: "policy_changed".into(),
                    app_id: Some(policy.app_id.to_string()),
                    ref_id: None,
                    key_alias: None,
                    detail: Some(detail),
                },
            )?;
            let updated = diesel::update(
                key_policy_def::table.filter(key_policy_def::app_id.eq(policy.app_id.as_str())),
            )
            .set((
                key_policy_def::key_validity_duration.eq(validity),
                key_policy_def::pre_expire_days.eq(pre_expire),
                key_policy_def::is_active.eq(policy.is_active),
                key_policy_def::access_allowed.eq(&access),
                key_policy_def::upd_by.eq(actor),
                key_policy_def::upd_dtimes.eq(now()),
            ))
            .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(key_policy_def::table)
                    .values((
                        key_policy_def::app_id.eq(policy.app_id.as_str()),
                        key_policy_def::key_validity_duration.eq(validity),
                        key_policy_def::pre_expire_days.eq(pre_expire),
                        key_policy_def::is_active.eq(policy.is_active),
                        key_policy_def::access_allowed.eq(&access),
                        key_policy_def::cr_by.eq(actor),
                        key_policy_def::cr_dtimes.eq(now()),
                        key_policy_def::is_deleted.eq(false),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Runs `f` in a transaction that holds the generation lock of `key_ref`: callers that
    /// race to create the pair's current key, in any thread, process or replica, run one at a
    /// time, and each sees the keys the earlier ones committed. The transaction commits if `f`
    /// succeeds and rolls back if it fails.
    pub fn with_generation_lock<T, E: From<DbError>>(
        &self,
        key_ref: &KeyRef,
        f: impl FnOnce(&mut Locked<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn()?;
        let result = conn.transaction::<T, TxError<E>, _>(|conn| {
            lock_pair(conn, key_ref)?;
            f(&mut Locked { conn }).map_err(TxError::Caller)
        });
        result.map_err(|e| match e {
            TxError::Db(e) => E::from(DbError::from(e)),
            TxError::Caller(e) => e,
        })
    }
}
