//! The audit trail end to end on SQLite with the file keystore: key generation writes chained
//! rows, a checkpoint signed by `KERNEL`/`SIGN` fixes them, and a rewrite of the whole chain
//! with plain SQL (every hash recomputed, as anyone who may write the table can) is caught by
//! the checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use keymgr_core::{KeyManager, KeyManagerConfig, SystemClock};
use keymgr_db::{AuditEntry, Database, GENESIS_HASH, chain_hash};
use keymgr_hsm::{FileKeystore, KdfParams};

fn manager(dir: &tempfile::TempDir) -> KeyManager {
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("keys.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&url(dir), 4).unwrap();
    KeyManager::new(db, keystore, Arc::new(SystemClock), KeyManagerConfig::default())
}

fn url(dir: &tempfile::TempDir) -> String {
    dir.path().join("keymgr.db").to_string_lossy().into_owned()
}

fn sql(dir: &tempfile::TempDir, text: &str) {
    let mut c = SqliteConnection::establish(&url(dir)).unwrap();
    c.batch_execute(text).unwrap();
}

/// Rewrites the whole chain as an attacker with write access would: `edit` changes the entry of
/// row `at`, then every hash from there on and the head are recomputed.
fn rewrite(dir: &tempfile::TempDir, db: &Database, at: i64, edit: impl Fn(&mut AuditEntry)) {
    sql(dir, "DROP TRIGGER IF EXISTS keymgr_audit_log_no_update");
    let mut prev = GENESIS_HASH.to_owned();
    let mut last = 0;
    for mut row in db.audit_rows(0, 100_000).unwrap() {
        if row.id == at {
            edit(&mut row.entry);
        }
        let hash = chain_hash(&prev, row.id, &row.entry);
        let detail =
            row.entry.detail.as_deref().map_or("NULL".to_owned(), |d| format!("'{}'", d.replace('\'', "''")));
        sql(
            dir,
            &format!(
                "UPDATE keymgr_audit_log SET actor = '{}', detail = {detail}, prev_hash = '{prev}', row_hash = '{hash}' WHERE id = {}",
                row.entry.actor, row.id
            ),
        );
        prev = hash;
        last = row.id;
    }
    sql(dir, &format!("UPDATE keymgr_audit_head SET last_id = {last}, last_hash = '{prev}'"));
}

#[test]
fn checkpoints_catch_a_rewritten_chain() {
    let dir = tempfile::tempdir().unwrap();
    let km = manager(&dir);
    km.run_keygen(&[]).unwrap();
    let report = km.verify_audit().unwrap();
    assert_eq!(report.problem, None);
    assert!(report.rows >= 3, "the key generator's rows: {report:?}");
    assert_eq!(report.checkpoints, 0);

    // Policy changes (before and after) and certificate uploads are in the trail too.
    km.set_policy(
        &keymgr_model::KeyPolicy::from_columns(
            keymgr_model::AppId::new("RESIDENT").unwrap(),
            365,
            30,
            true,
            Some("resident"),
        )
        .unwrap(),
    )
    .unwrap();
    let ca = keymgr_test_support::pki::Authority::root(
        keymgr_test_support::pki::name("Audit CA", "Org"),
        keymgr_model::UtcTime::now(),
        3650,
    );
    km.upload_ca_certificate(&ca.certificate.to_pem(), "AUTH").unwrap();
    let log = km.database().audit_log(10).unwrap();
    let policy = log.iter().find(|e| e.action == "policy_changed").expect("policy change audited");
    assert_eq!(policy.app_id.as_deref(), Some("RESIDENT"));
    let detail = policy.detail.as_deref().unwrap();
    assert!(
        detail.contains("before: validity_days=1095") && detail.contains("after: validity_days=365"),
        "{detail}"
    );
    assert!(
        log.iter()
            .any(|e| e.action == "ca_certificate_stored"
                && e.detail.as_deref().unwrap().contains("domain=AUTH"))
    );

    km.audit_checkpoint().unwrap();
    km.run_keygen(&[]).unwrap();
    km.audit_checkpoint().unwrap();
    let report = km.verify_audit().unwrap();
    assert_eq!((report.problem.clone(), report.checkpoints), (None, 2), "{report:?}");

    // Rewriting a row before the first checkpoint, every hash recomputed: the chain holds, the
    // checkpoint does not.
    let db = km.database();
    rewrite(&dir, db, 2, |e| e.actor = "someone-else".into());
    assert_eq!(db.verify_audit_chain().unwrap().first_break, None, "a consistent rewrite");
    let problem = km.verify_audit().unwrap().problem.expect("caught");
    assert!(problem.reason.contains("audit_checkpoint"), "{problem:?}");

    // A checkpoint replaced by one signed with another key (chain rewritten around it).
    let dir2 = tempfile::tempdir().unwrap();
    let km2 = manager(&dir2);
    km2.run_keygen(&[]).unwrap();
    km2.audit_checkpoint().unwrap();
    let rows = km2.database().audit_rows(0, 1000).unwrap();
    let checkpoint = rows.iter().find(|r| r.entry.action == "audit_checkpoint").unwrap().id;
    let forged = km.database().audit_rows(0, 1000).unwrap();
    let other = forged.iter().find(|r| r.entry.action == "audit_checkpoint").unwrap().entry.detail.clone();
    rewrite(&dir2, km2.database(), checkpoint, |e| e.detail = other.clone());
    let problem = km2.verify_audit().unwrap().problem.expect("caught");
    assert_eq!(problem.id, checkpoint);
}

#[test]
fn the_service_checkpoints_when_rows_were_added() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("keys.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let config = KeyManagerConfig {
        audit_checkpoint_interval: Some(std::time::Duration::ZERO),
        ..KeyManagerConfig::default()
    };
    let km = KeyManager::new(
        Database::connect(&url(&dir), 4).unwrap(),
        keystore.clone(),
        Arc::new(SystemClock),
        config,
    );
    km.run_keygen(&[]).unwrap();
    assert!(km.checkpoint_audit_if_due().unwrap(), "rows since none: a checkpoint");
    assert!(!km.checkpoint_audit_if_due().unwrap(), "nothing new: none");
    km.run_keygen(&[keymgr_model::AppId::new("RESIDENT").unwrap()]).unwrap();
    km.get_certificate(
        &keymgr_model::AppId::new("RESIDENT").unwrap(),
        &keymgr_model::RefId::new("resident-1").unwrap(),
    )
    .unwrap();
    assert!(km.checkpoint_audit_if_due().unwrap(), "a key was made: a checkpoint");
    let report = km.verify_audit().unwrap();
    assert_eq!((report.problem, report.checkpoints), (None, 2));
    let off = KeyManager::new(
        Database::connect(&url(&dir), 1).unwrap(),
        keystore,
        Arc::new(SystemClock),
        KeyManagerConfig { audit_checkpoint_interval: None, ..KeyManagerConfig::default() },
    );
    assert!(!off.checkpoint_audit_if_due().unwrap());
}
