//! `keymgr audit` as an operator uses it on the embedded defaults: verify answers `intact` and
//! exits 0, checkpoint and export work, and a row edited with plain SQL (Python's sqlite3
//! around the append-only trigger) makes verify exit 4 naming that row.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::{Command, Output};

fn keymgr(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .output()
        .expect("keymgr runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn verify_checkpoint_export_and_a_tampered_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = keymgr(&data, &["keygen"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = keymgr(&data, &["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("intact"), "{}", text(&out));
    let out = keymgr(&data, &["audit", "checkpoint"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = keymgr(&data, &["audit", "verify"]);
    assert!(text(&out).contains("1 signed checkpoints"), "{}", text(&out));
    // Policies change through the lint: refused (exit 2) unless forced with a reason.
    let set =
        ["policy", "set", "--app", "REGISTRATION", "--validity-days", "730", "--pre-expire-days", "900"];
    let out = keymgr(&data, &set);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("KER-KMS-422") || text(&out).contains("lint"), "{}", text(&out));
    let out = keymgr(&data, &[&set[..], &["--force", "pilot ends in May"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("forced over"), "{}", text(&out));
    let export = dir.path().join("audit.jsonl");
    let out = keymgr(&data, &["audit", "export", "--out", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&export).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 4);
    assert!(lines.iter().any(|l| l["action"] == "audit_checkpoint"));
    assert!(
        lines.iter().any(|l| l["action"] == "policy_changed"
            && l["detail"].as_str().unwrap().contains("pilot ends in May"))
    );
    assert!(lines.iter().all(|l| l["row_hash"].as_str().is_some_and(|h| h.len() == 64)));

    if Command::new("python3").arg("--version").output().is_err() {
        println!("SKIPPED: no python3 to edit the database with");
        return;
    }
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  c.execute('DROP TRIGGER keymgr_audit_log_no_update')\n\
                  c.execute(\"UPDATE keymgr_audit_log SET actor = 'nobody' WHERE id = 2\")\n\
                  c.commit()";
    let db = data.join("keymgr.db");
    let edited = Command::new("python3").args(["-c", script]).arg(&db).output().unwrap();
    assert!(edited.status.success(), "{}", text(&edited));
    let out = keymgr(&data, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("row 2") && text(&out).contains("edited"), "{}", text(&out));
}
