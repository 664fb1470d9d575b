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
        assert!(r["seal_stream"]["ops"].as_u64().expect("ops") > 0);
        assert!(r["open_stream"]["mb_per_sec"].as_f64().expect("rate") > 0.0);
    }
}

/// Runs `keymgr` and samples its peak resident memory (`VmHWM`) until it exits.
fn keymgr_peak_rss(args: &[&str]) -> (std::process::ExitStatus, u64, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keymgr runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).expect("stderr");
    (status, peak_kib * 1024, err)
}

/// Whether two files hold the same bytes, read a piece at a time.
fn same_contents(a: &str, b: &str) -> bool {
    let (mut fa, mut fb) = (std::fs::File::open(a).expect("open"), std::fs::File::open(b).expect("open"));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = std::io::Read::read(&mut fa, &mut ba).expect("read");
        if na == 0 {
            return std::io::Read::read(&mut fb, &mut bb).expect("read") == 0;
        }
        if std::io::Read::read_exact(&mut fb, &mut bb[..na]).is_err() || ba[..na] != bb[..na] {
            return false;
        }
    }
}

/// A packet larger than the whole-buffer codec's 128 MiB limit seals and opens through the
/// streaming codec in bounded memory (`KEYMGR_STREAM_TEST_MIB` sets the size: 200 by default;
/// docs/PERFORMANCE.md records a 4096 MiB run). A damaged copy is refused, and neither the
/// output nor a staging file is left behind.
#[test]
fn packets_larger_than_memory_stream_in_bounded_memory() {
    let mib: usize = std::env::var("KEYMGR_STREAM_TEST_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let plain = path(&dir, "plain.bin");
    {
        let mut block = vec![0u8; 1 << 20];
        let mut file = std::io::BufWriter::new(std::fs::File::create(&plain).expect("create"));
        for i in 0..mib {
            block.iter_mut().enumerate().for_each(|(j, b)| *b = (i * 31 + j * 7 + j / 4096) as u8);
            std::io::Write::write_all(&mut file, &block).expect("write");
        }
    }
    let (env, opened) = (path(&dir, "env.b64"), path(&dir, "opened.bin"));
    let cert = fixture("fixture-cert.pem");
    let key = fixture("fixture-key.pem");
    let limit = 64 << 20;

    let (status, peak, err) =
        keymgr_peak_rss(&["envelope", "seal", "--cert", &cert, "--in", &plain, "--out", &env]);
    assert!(status.success(), "{err}");
    assert!(peak < limit, "seal peaked at {} MiB", peak >> 20);
    let text_len = std::fs::metadata(&env).expect("envelope").len();
    assert_eq!(text_len, ((6 + 32 + 256 + 14 + 32 + (mib << 20) + 16) as u64 * 4).div_ceil(3));

    let (status, peak, err) = keymgr_peak_rss(&[
        "envelope", "open", "--key", &key, "--cert", &cert, "--in", &env, "--out", &opened,
    ]);
    assert!(status.success(), "{err}");
    assert!(peak < limit, "open peaked at {} MiB", peak >> 20);
    assert!(same_contents(&opened, &plain), "opened bytes differ");
    std::fs::remove_file(&opened).expect("remove");

    // One symbol changed in the middle: refused, and nothing is left behind.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&env).expect("open");
        file.seek(SeekFrom::Start(text_len / 2)).expect("seek");
        let mut symbol = [0u8; 1];
        std::io::Read::read_exact(&mut file, &mut symbol).expect("read");
        file.seek(SeekFrom::Start(text_len / 2)).expect("seek");
        file.write_all(if symbol[0] == b'A' { b"B" } else { b"A" }).expect("write");
    }
    let before: Vec<_> =
        std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
    let (status, _, err) = keymgr_peak_rss(&[
        "envelope", "open", "--key", &key, "--cert", &cert, "--in", &env, "--out", &opened,
    ]);
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.starts_with("rejected: auth_failed: "), "{err}");
    let after: Vec<_> =
        std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(after, before, "no output and no staging file left");
}
