//! MOSIP's `data_encrypt_keystore`: the random keys of zero-knowledge encryption, each wrapped
//! by the ZK master (standard base64 of AES-ECB, 44 characters), ids from 0, status `Active`.

use diesel::prelude::*;

use super::{Database, Locked, now};
use crate::DbError;
use crate::connection::AnyConnection;
use crate::schema::data_encrypt_keystore;

/// The status of a random key in use (MOSIP's `key_status`).
pub const ZK_KEY_ACTIVE: &str = "Active";

impl Database {
    /// The ids of the active random keys, in order.
    pub fn zk_active_ids(&self) -> Result<Vec<i64>, DbError> {
        Ok(data_encrypt_keystore::table
            .filter(data_encrypt_keystore::key_status.eq(ZK_KEY_ACTIVE))
            .select(data_encrypt_keystore::id)
            .order(data_encrypt_keystore::id.asc())
            .load(&mut *self.conn()?)?)
    }

    /// The wrapped random key `id`.
    pub fn zk_key(&self, id: i64) -> Result<Option<String>, DbError> {
        Ok(data_encrypt_keystore::table
            .filter(data_encrypt_keystore::id.eq(id))
            .select(data_encrypt_keystore::key)
            .first(&mut *self.conn()?)
            .optional()?)
    }

    /// How many random keys there are, whatever their status.
    pub fn zk_count(&self) -> Result<usize, DbError> {
        let n: i64 = data_encrypt_keystore::table.count().get_result(&mut *self.conn()?)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` random keys `(id, wrapped key)` with ids above `after`, in id order,
    /// whatever their status (what a migration moves).
    pub fn zk_keys_after(&self, after: Option<i64>, limit: i64) -> Result<Vec<(i64, String)>, DbError> {
        Ok(data_encrypt_keystore::table
            .filter(data_encrypt_keystore::id.gt(after.unwrap_or(-1)))
            .select((data_encrypt_keystore::id, data_encrypt_keystore::key))
            .order(data_encrypt_keystore::id.asc())
            .limit(limit)
            .load(&mut *self.conn()?)?)
    }

    /// The highest id, if any key exists.
    pub fn zk_max_id(&self) -> Result<Option<i64>, DbError> {
        zk_max_id(&mut *self.conn()?)
    }

    /// Stores wrapped random keys `(id, key)` as active, made by `actor`, in one transaction.
    pub fn insert_zk_keys(&self, keys: &[(i64, String)], actor: &str) -> Result<(), DbError> {
        self.conn()?.transaction(|conn| insert_zk_keys(conn, keys, actor))
    }
}

impl Locked<'_> {
    /// The wrapped random key `id`, read in the locked transaction.
    pub fn zk_key(&mut self, id: i64) -> Result<Option<String>, DbError> {
        Ok(data_encrypt_keystore::table
            .filter(data_encrypt_keystore::id.eq(id))
            .select(data_encrypt_keystore::key)
            .first(self.conn)
            .optional()?)
    }

    /// The highest id, read in the locked transaction.
    pub fn zk_max_id(&mut self) -> Result<Option<i64>, DbError> {
        zk_max_id(self.conn)
    }

    /// Stores wrapped random keys in the locked transaction.
    pub fn insert_zk_keys(&mut self, keys: &[(i64, String)], actor: &str) -> Result<(), DbError> {
        insert_zk_keys(self.conn, keys, actor)
    }
}

fn zk_max_id(conn: &mut AnyConnection) -> Result<Option<i64>, DbError> {
    Ok(data_encrypt_keystore::table.select(diesel::dsl::max(data_encrypt_keystore::id)).first(conn)?)
}

/// One statement per row: batch inserts are not available over both engines at once.
fn insert_zk_keys(conn: &mut AnyConnection, keys: &[(i64, String)], actor: &str) -> Result<(), DbError> {
    let created = now();
    for (id, key) in keys {
        diesel::insert_into(data_encrypt_keystore::table)
            .values((
                data_encrypt_keystore::id.eq(*id),
                data_encrypt_keystore::key.eq(key.as_str()),
                data_encrypt_keystore::key_status.eq(ZK_KEY_ACTIVE),
                data_encrypt_keystore::cr_by.eq(actor),
                data_encrypt_keystore::cr_dtimes.eq(created),
            ))
            .execute(conn)?;
    }
    Ok(())
}
