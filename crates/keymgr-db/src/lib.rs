//! The key manager's SQL store: MOSIP's `mosip_keymgr` tables through diesel, on SQLite (the
//! embedded default, one file in WAL mode) or PostgreSQL (production, schema `keymgr`, shared
//! by many replicas), with one code path for both.
//!
//! * [`Database::connect`] opens a connection pool and runs the embedded migrations, which
//!   create MOSIP's tables with MOSIP's column names (so data moves between this service and a
//!   MOSIP deployment) and seed `key_policy_def` with MOSIP's default rows.
//! * The repository methods are what the key hierarchy asks: aliases of a pair in generation
//!   order, aliases by thumbprint, a new key's `key_alias` and `key_store` rows (and an audit
//!   row) in one transaction, expiry changes, policies, CA and partner certificate rows.
//! * [`Database::with_generation_lock`] serialises key generation for one (app, ref) pair
//!   across threads, processes and replicas, so racing callers end with exactly one key.
//!
//! Our additions are new tables (`keymgr_generation_lock`, the append-only
//! `keymgr_audit_log`), never new meanings for MOSIP columns. A row that does not decode is an
//! error naming its table and id, never a panic.

#![forbid(unsafe_code)]

mod connection;
mod error;
mod records;
mod repo;
mod schema;

pub use connection::Backend;
pub use error::DbError;
pub use records::{AuditEntry, CertRecord, KeyStateRecord, NewKey, PartnerCertRecord, Rewrapped, StoredKey};
pub use repo::{
    AuditBreak, AuditCheck, CHECKPOINT_ACTION, CaCertQuery, CaCertSort, ChainedAudit, Database, GENESIS_HASH,
    License, Locked, ZK_KEY_ACTIVE, chain_hash,
};
