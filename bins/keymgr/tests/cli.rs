//! The `keymgr` binary as an operator uses it: exit codes, messages, files written or not.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn keymgr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr")).args(args).output().expect("keymgr runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name).to_string_lossy().into_owned()
}

fn path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn seal_then_open_round_trips_in_both_layouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = path(&dir, "plain.bin");
    std::fs::write(&plain, b"packet bytes #KEY_SPLITTER# and more").expect("write");
    let cert = fixture("fixture-cert.pem");
    for legacy in [false, true] {
        let env = path(&dir, "env.b64");
        let mut args = vec!["envelope", "seal", "--cert", &cert, "--in", &plain, "--out", &env];
        if legacy {
            args.push("--legacy");
        }
        let out = keymgr(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read(&env).expect("envelope written");
        assert!(
            text.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'),
            "base64url, no newline"
        );

        let back = path(&dir, "back.bin");
        let out = keymgr(&[
            "envelope",
            "open",
            "--key",
            &fixture("fixture-key.pem"),
            "--cert",
            &fixture("fixture-cert.pem"),
            "--in",
            &env,
            "--out",
            &back,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(std::fs::read(&back).expect("plaintext written"), std::fs::read(&plain).expect("read"));
    }
}

#[test]
fn rejected_envelope_exits_3_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = path(&dir, "plain.bin");
    let env = path(&dir, "env.b64");
    std::fs::write(&plain, b"secret").expect("write");
    assert!(
        keymgr(&["envelope", "seal", "--cert", &fixture("fixture-cert.pem"), "--in", &plain, "--out", &env])
            .status
            .success()
    );
    // Change a symbol inside the GCM tag. Not the last one: its low bits can be unused, so
    // changing them would leave the bytes as they were.
    let mut text = std::fs::read_to_string(&env).expect("read").into_bytes();
    let at = text.len() - 8;
    text[at] = if text[at] == b'A' { b'g' } else { b'A' };
    std::fs::write(&env, text).expect("write");

    let back = path(&dir, "back.bin");
    let out = keymgr(&[
        "envelope",
        "open",
        "--key",
        &fixture("fixture-key.pem"),
        "--cert",
        &fixture("fixture-cert.pem"),
        "--in",
        &env,
        "--out",
        &back,
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).starts_with("rejected: auth_failed: "), "{}", stderr(&out));
    assert!(!Path::new(&back).exists(), "nothing written on rejection");
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2, "no temporary file left behind");
}

#[test]
fn usage_and_key_file_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = path(&dir, "plain.bin");
    std::fs::write(&plain, b"x").expect("write");
    let out = keymgr(&[
        "envelope",
        "seal",
        "--cert",
        &path(&dir, "missing.pem"),
        "--in",
        &plain,
        "--out",
        &path(&dir, "o"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = keymgr(&["envelope", "seal", "--cert", &plain, "--in", &plain, "--out", &path(&dir, "o")]);
    assert_eq!(out.status.code(), Some(2), "not a certificate: {}", stderr(&out));
    let out = keymgr(&[
        "envelope",
        "open",
        "--key",
        &fixture("fixture-cert.pem"),
        "--cert",
        &fixture("fixture-cert.pem"),
        "--in",
        &plain,
        "--out",
        &path(&dir, "o"),
    ]);
    assert_eq!(out.status.code(), Some(2), "certificate given as key: {}", stderr(&out));
    assert_eq!(keymgr(&["envelope", "seal"]).status.code(), Some(2));
    assert_eq!(keymgr(&["speed", "--seconds", "0"]).status.code(), Some(2));
    let empty = path(&dir, "empty.bin");
    std::fs::write(&empty, b"").expect("write");
    let out = keymgr(&[
        "envelope",
        "seal",
        "--cert",
        &fixture("fixture-cert.pem"),
        "--in",
        &empty,
        "--out",
        &path(&dir, "o"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-empty"));
    let out = keymgr(&[
        "envelope",
        "seal",
        "--allow-empty",
        "--cert",
        &fixture("fixture-cert.pem"),
        "--in",
        &empty,
        "--out",
        &path(&dir, "o"),
    ]);
    assert!(out.status.success());
}

#[test]
fn oversized_envelope_is_rejected_before_reading_it_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = path(&dir, "big.b64");
    std::fs::write(&env, vec![b'A'; 10_000]).expect("write");
    let out = keymgr(&[
        "envelope",
        "open",
        "--max-size",
        "1000",
        "--key",
        &fixture("fixture-key.pem"),
        "--cert",
        &fixture("fixture-cert.pem"),
        "--in",
        &env,
        "--out",
        &path(&dir, "o"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).starts_with("rejected: too_large: "), "{}", stderr(&out));
}

/// The manifest's open contract, through the binary: `open KEY CERT ENVELOPE OUT`.
#[test]
fn every_conformance_vector_through_the_binary() {
    let dir = PathBuf::from(std::env::var_os("KEYMGR_VECTORS_DIR").unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/envelope").into_os_string()
    }));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).expect("manifest (../shared beside the project)"),
    )
    .expect("json");
    let vectors = manifest["vectors"].as_array().expect("vectors list");
    assert!(!vectors.is_empty());
    let out_dir = tempfile::tempdir().expect("tempdir");
    for v in vectors {
        let get = |k: &str| dir.join(v[k].as_str().expect("string field")).to_string_lossy().into_owned();
        let name = v["name"].as_str().expect("name");
        let expected = v["expected"].as_str().expect("expected");
        let out_path = path(&out_dir, name);
        let out = keymgr(&[
            "envelope",
            "open",
            "--key",
            &get("key"),
            "--cert",
            &get("cert"),
            "--in",
            &get("envelope"),
            "--out",
            &out_path,
        ]);
        if expected == "ok" {
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            assert_eq!(
                std::fs::read(&out_path).expect("written"),
                std::fs::read(get("plaintext")).expect("plain"),
                "{name}"
            );
        } else {
            assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
            assert!(stderr(&out).starts_with(&format!("rejected: {expected}: ")), "{name}: {}", stderr(&out));
            assert!(!Path::new(&out_path).exists(), "{name}: nothing written");
        }
    }
}

#[test]
fn speed_reports_json() {
    let out = keymgr(&["speed", "--seconds", "0.05", "--sizes", "16,1024", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(r["seal"]["ops"].as_u64().expect("ops") > 0);
        assert!(r["open"]["ops_per_sec"].as_f64().expect("rate") > 0.0);
    }
}
