//! Governed policy changes: the lint refuses a change that adds findings, a reason forces it,
//! and each change is audited with before, after and the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use keymgr_core::{KeyManager, KeyManagerConfig, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_model::{AppId, KeyPolicy};

fn policy(app: &str, validity: i16, pre: i16) -> KeyPolicy {
    KeyPolicy::from_columns(AppId::new(app).unwrap(), validity, pre, true, Some("NA")).unwrap()
}

#[test]
fn the_lint_governs_policy_changes() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 2).unwrap();
    let km = KeyManager::new(db, keystore, Arc::new(SystemClock), KeyManagerConfig::default());
    km.run_keygen(&[]).unwrap();
    let stored = |app: &str| km.database().policy(&AppId::new(app).unwrap()).unwrap().unwrap();

    // A sound change goes through, audited with before and after.
    let change = km.change_policy(&policy("REGISTRATION", 730, 60), "custodian", None).unwrap();
    assert!(change.findings.is_empty());
    assert_eq!(stored("REGISTRATION").validity_days, 730);
    let row = km.database().audit_log(5).unwrap().into_iter().find(|e| e.action == "policy_changed").unwrap();
    assert_eq!(row.actor, "custodian");
    let detail = row.detail.unwrap();
    assert!(
        detail.contains("before: validity_days=1095") && detail.contains("after: validity_days=730"),
        "{detail}"
    );

    // Pre-expiry not shorter than validity: refused, nothing changed.
    let err = km.change_policy(&policy("REGISTRATION", 730, 800), "custodian", None).unwrap_err();
    assert_eq!(err.code(), "KER-KMS-422");
    assert!(err.to_string().contains("pre_expire_days"), "{err}");
    assert_eq!(stored("REGISTRATION").pre_expire_days, 60);
    // Longer than ROOT: a warning, refused too; a blank reason does not force.
    let err = km.change_policy(&policy("RESIDENT", 9000, 60), "custodian", Some("  ")).unwrap_err();
    assert_eq!(err.code(), "KER-KMS-422");
    // Forced with a reason: applied, the findings answered and the reason audited.
    let forced = km
        .change_policy(&policy("RESIDENT", 9000, 60), "custodian", Some("ticket 42: long-lived pilot"))
        .unwrap();
    assert_eq!(forced.findings.len(), 1);
    assert_eq!(stored("RESIDENT").validity_days, 9000);
    let row = km.database().audit_log(5).unwrap().into_iter().find(|e| e.action == "policy_changed").unwrap();
    assert!(row.detail.unwrap().contains("forced over 1 findings: ticket 42"));
    assert!(km.verify_audit().unwrap().problem.is_none());
}
