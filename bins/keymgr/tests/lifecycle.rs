//! The lifecycle commands as an operator runs them on the embedded defaults: a compromise of a
//! master with 10,000 base keys, killed with SIGKILL midway and resumed to the same end state
//! (every key re-wrapped, every packet still opening, the old master's children at zero), and
//! the runbook's command blocks run in order on a fresh data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use keymgr_core::{KeyManager, KeyState};
use keymgr_model::{AccessAllowed, AppId, KeyRef};

fn keymgr(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .env("KEYMGR_OPERATOR", "test-operator")
        .output()
        .expect("keymgr runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn open(data: &Path) -> Arc<KeyManager> {
    let mut config = keymgr_service::ServiceConfig::load(None).unwrap();
    config.data_dir = Some(data.to_owned());
    config.keys.keygen_on_start = false;
    keymgr_service::start(&config).unwrap().state.key_manager().clone()
}

const KEYS: usize = 10_000;

#[test]
fn compromise_of_a_master_with_10000_base_keys_killed_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = keymgr(&data, &["keygen"]);
    assert!(out.status.success(), "{}", text(&out));
    let app = AppId::new("REGISTRATION").unwrap();
    let master_ref = KeyRef::master(app.clone());
    let (old_master, packets) = {
        let km = open(&data);
        let mut policy = km.database().policy(&app).unwrap().unwrap();
        policy.access_allowed = AccessAllowed::Anyone;
        km.set_policy(&policy).unwrap();
        let started = Instant::now();
        let packets = keymgr_benches::bulk_base_keys(&km, &app, KEYS, 16);
        println!("{KEYS} base keys made in {:?}", started.elapsed());
        (km.get_certificate(&app, &keymgr_model::RefId::new("").unwrap()).unwrap().alias, packets)
    };
    let config = dir.path().join("small-batches.toml");
    std::fs::write(&config, "[lifecycle]\nrewrap_batch = 100\n").unwrap();

    // The first run is killed (SIGKILL) once it has re-wrapped at least 2,000 keys.
    let mut child = Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(["compromise", "--app", "REGISTRATION", "--reason", "HSM backup tape lost"])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .env("KEYMGR_OPERATOR", "test-operator")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    let started = Instant::now();
    loop {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "the run ended before it was killed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        let done = seen
            .rsplit("re-wrapped ")
            .next()
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        if done >= 2_000 {
            child.kill().unwrap();
            break;
        }
    }
    let killed_at = started.elapsed();
    assert!(!child.wait().unwrap().success());
    {
        let km = open(&data);
        let left = km.database().live_children_counts().unwrap().get(&old_master).copied().unwrap_or(0);
        assert!(left > 0 && left < KEYS as i64, "killed midway: {left} left");
        let states = km.key_statuses(Some(&master_ref)).unwrap();
        assert_eq!(states.iter().find(|s| s.key.alias == old_master).unwrap().state, KeyState::Compromised);
        println!("killed after {killed_at:?} with {left} keys left under the old master");
    }

    // The second run resumes the same response and finishes it.
    let started = Instant::now();
    let out = keymgr(&data, &["compromise", "--app", "REGISTRATION", "--reason", "HSM backup tape lost"]);
    let resumed_in = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains(&format!("resumed the response to {old_master}")), "{report}");
    assert!(report.contains("0 left, 0 failed"), "{report}");
    assert!(
        report.contains(&format!(
            "pairs whose keys it certified (their private keys were readable with it): {KEYS}"
        )),
        "{report}"
    );
    println!("resumed run: {resumed_in:?}\n{report}");

    let km = open(&data);
    let counts = km.database().live_children_counts().unwrap();
    assert_eq!(counts.get(&old_master), None);
    let new_master = km.get_certificate(&app, &keymgr_model::RefId::new("").unwrap()).unwrap();
    assert_ne!(new_master.alias, old_master);
    assert_eq!(counts.get(&new_master.alias).copied(), Some(KEYS as i64));
    for (reference, packet, envelope) in &packets {
        let plain = km.decrypt(&app, reference, envelope.as_bytes(), None, None, "u").unwrap();
        assert_eq!(&*plain, &packet[..]);
    }
    // The file keystore belongs to one process at a time.
    drop(km);
    // A third run has nothing to resume: its dry run names the new current master.
    let out = keymgr(&data, &["compromise", "--app", "REGISTRATION", "--reason", "check", "--dry-run"]);
    assert!(
        out.status.success() && text(&out).contains(&format!("would mark {}", new_master.alias)),
        "{}",
        text(&out)
    );
    let out = keymgr(&data, &["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The fenced `sh` blocks of docs/RUNBOOK.md marked `runbook-test`, run in order by bash on a
/// fresh data directory, with `keymgr` being this build.
#[test]
fn the_runbook_commands_run_in_order() {
    let runbook =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/RUNBOOK.md")).unwrap();
    let mut script = String::from("set -euxo pipefail\n");
    let mut inside = false;
    let mut blocks = 0;
    for line in runbook.lines() {
        if line.trim() == "```sh runbook-test" {
            inside = true;
            blocks += 1;
        } else if inside && line.trim() == "```" {
            inside = false;
        } else if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(blocks >= 5, "the runbook has {blocks} tested blocks");
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_keymgr")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("KEYMGR_DATA_DIR", dir.path().join("keymgr-data"))
        .env("KEYMGR_OPERATOR", "runbook-test")
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // What the runbook did shows: the pair's keys deactivated, compromised, and rotated by the
    // master's compromise, then all destroyed by retire with a retention of 0 days.
    let data = dir.path().join("keymgr-data");
    let states = text(&keymgr(&data, &["key", "states", "--app", "REGISTRATION", "--ref", "10001_110011"]));
    let lines: Vec<Vec<&str>> = states.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{states}");
    assert_eq!(lines.iter().map(|l| l[3]).collect::<Vec<_>>(), ["destroyed"; 3], "{states}");
    assert!(lines.iter().all(|l| l[5].contains("retention ended")), "{states}");
    let masters = text(&keymgr(&data, &["key", "states", "--app", "REGISTRATION", "--ref", ""]));
    let states: Vec<&str> = masters.lines().map(|l| l.split('\t').nth(3).unwrap()).collect();
    assert_eq!(
        states,
        ["destroyed", "active"],
        "the compromised master retired once it wrapped nothing: {masters}"
    );
    assert!(text(&out).contains("pairs whose keys it certified"), "the compromise report was printed");
    let out = keymgr(&data, &["audit", "verify"]);
    assert!(out.status.success() && text(&out).contains("intact"), "{}", text(&out));
}
