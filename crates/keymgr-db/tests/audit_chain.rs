//! The audit log's hash chain on SQLite and PostgreSQL: intact after writes from two database
//! handles (as two replicas) at once, and broken, at the right row, by an edit, a deletion, a
//! reordering or an insertion made with plain SQL around the append-only triggers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use keymgr_db::{AuditEntry, Database};
use keymgr_model::UtcTime;
use keymgr_test_support::postgres;

/// Runs raw SQL on the database with the append-only triggers off.
fn tamper(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let mut c = PgConnection::establish(url).unwrap();
        c.batch_execute(&format!(
            "SET search_path TO keymgr; ALTER TABLE keymgr_audit_log DISABLE TRIGGER keymgr_audit_log_append_only; {sql}"
        ))
        .unwrap();
    } else {
        let mut c = SqliteConnection::establish(url).unwrap();
        c.batch_execute(&format!(
            "DROP TRIGGER IF EXISTS keymgr_audit_log_no_update; DROP TRIGGER IF EXISTS keymgr_audit_log_no_delete; {sql}"
        ))
        .unwrap();
    }
}

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        time: UtcTime::now(),
        actor: format!("actor-{}", n % 3),
        action: "key_created".into(),
        app_id: n.is_multiple_of(2).then(|| "REGISTRATION".into()),
        ref_id: None,
        key_alias: Some(format!("alias-{n}")),
        detail: n.is_multiple_of(5).then(|| format!("detail {n}")),
    }
}

/// A database with `n` chained rows.
fn filled(url: &str, n: usize) -> Database {
    let db = Database::connect(url, 4).unwrap();
    for i in 0..n {
        db.append_audit(&entry(i)).unwrap();
    }
    db
}

/// The id and reason of the first break after `sql`, on a fresh database made by `fresh`.
fn broken_by(fresh: &dyn Fn() -> String, sql: &str) -> (i64, String) {
    let url = fresh();
    let db = filled(&url, 20);
    assert!(db.verify_audit_chain().unwrap().first_break.is_none());
    tamper(&url, sql);
    let b = db.verify_audit_chain().unwrap().first_break.expect("the change is found");
    (b.id, b.reason)
}

fn suite(fresh: &dyn Fn() -> String) {
    // Two handles on one database, four writers each, at once: one chain without gaps.
    let url = fresh();
    let a = filled(&url, 10);
    let b = Database::connect(&url, 4).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let db = if t % 2 == 0 { &a } else { &b };
            s.spawn(move || {
                for i in 0..25 {
                    db.append_audit(&entry(t * 100 + i)).unwrap();
                }
            });
        }
    });
    let check = a.verify_audit_chain().unwrap();
    assert_eq!(check.first_break, None);
    assert_eq!((check.rows, check.unchained), (210, 0));
    assert_eq!(check.last, b.audit_head().unwrap());
    assert_eq!(a.audit_rows(0, 1000).unwrap().len(), 210);

    let (id, why) = broken_by(fresh, "UPDATE keymgr_audit_log SET detail = 'quietly changed' WHERE id = 7");
    assert_eq!(id, 7);
    assert!(why.contains("edited"), "{why}");
    let (id, why) = broken_by(fresh, "DELETE FROM keymgr_audit_log WHERE id = 7");
    assert_eq!(id, 8, "the row after the deleted one");
    assert!(why.contains("deleted"), "{why}");
    let (id, _) = broken_by(
        fresh,
        "UPDATE keymgr_audit_log SET id = 1000 WHERE id = 7; UPDATE keymgr_audit_log SET id = 7 WHERE id = 8; \
         UPDATE keymgr_audit_log SET id = 8 WHERE id = 1000",
    );
    assert_eq!(id, 7, "reordered rows");
    let (id, why) = broken_by(fresh, "DELETE FROM keymgr_audit_log WHERE id = 20");
    assert_eq!(id, 19);
    assert!(why.contains("head"), "the last row deleted: {why}");
    let (id, why) = broken_by(
        fresh,
        "INSERT INTO keymgr_audit_log (id, event_time, actor, action) VALUES (21, '2026-01-01 00:00:00', 'x', 'forged')",
    );
    assert_eq!(id, 21);
    assert!(why.contains("without a hash"), "{why}");
    let (id, why) = broken_by(
        fresh,
        "INSERT INTO keymgr_audit_log (id, event_time, actor, action, prev_hash, row_hash) \
         SELECT 21, event_time, actor, action, row_hash, row_hash FROM keymgr_audit_log WHERE id = 20",
    );
    assert_eq!(id, 21, "a row appended with a made-up hash: {why}");
}

#[test]
fn audit_chain_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    suite(&|| {
        n.set(n.get() + 1);
        dir.path().join(format!("audit-{}.db", n.get())).to_string_lossy().into_owned()
    });
}

#[test]
fn audit_chain_on_postgres() {
    let Some(server) = postgres::server_or_skip() else { return };
    let dbs = std::cell::RefCell::new(Vec::new());
    suite(&|| {
        let db = postgres::TestDb::create(&server, "keymgr_test_audit");
        let url = db.url();
        dbs.borrow_mut().push(db);
        url
    });
}
