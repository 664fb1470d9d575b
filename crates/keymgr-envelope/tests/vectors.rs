//! Conformance: every vector of `../shared/vectors/envelope/manifest.json`, read at run time.
//!
//! Each `ok` vector must open to exactly `plain.bin`; each negative vector must fail with
//! exactly its error kind, whole and streamed. `KEYMGR_VECTORS_DIR` overrides where the manifest is looked for.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use keymgr_crypto::{Certificate, RsaPrivateKey, sha256};
use keymgr_envelope::{Codec, OpenParams, Recipient, RecipientKey, SealMode, StagedFile};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    error_kinds: std::collections::BTreeMap<String, String>,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    variant: String,
    cert: String,
    key: String,
    plaintext: String,
    envelope: String,
    expected: String,
    plaintext_sha256: String,
}

fn vectors_dir() -> PathBuf {
    std::env::var_os("KEYMGR_VECTORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/envelope"))
}

fn load() -> (PathBuf, Manifest) {
    let dir = vectors_dir();
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap_or_else(|e| {
        panic!(
            "cannot read {}/manifest.json ({e}); check out ../shared beside the project or set KEYMGR_VECTORS_DIR",
            dir.display()
        )
    });
    (dir, serde_json::from_str(&text).expect("manifest is JSON of the documented shape"))
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_vector_gives_its_expected_outcome() {
    let (dir, manifest) = load();
    assert!(manifest.vectors.len() >= 20, "the public set has at least 20 vectors");
    let codec = Codec::default();
    let mut failures = Vec::new();
    let (mut ok, mut negative) = (0, 0);
    for v in &manifest.vectors {
        assert!(
            v.expected == "ok" || manifest.error_kinds.contains_key(&v.expected),
            "{}: unknown kind",
            v.name
        );
        let cert = Certificate::from_pem(&read(&dir, &v.cert)).expect("vector certificate parses");
        let key = RsaPrivateKey::from_pkcs8_pem(&read(&dir, &v.key)).expect("vector key parses");
        let keys = RecipientKey::new(key, &cert).expect("key matches certificate");
        let plain = read(&dir, &v.plaintext);
        assert_eq!(hex::encode(sha256(&plain)), v.plaintext_sha256, "{}: plain.bin hash", v.name);
        let outcome = codec.open_text(&read(&dir, &v.envelope), &keys, OpenParams::default());
        // The owned path (decoded and opened in the text's own buffer) gives the same outcome.
        let owned = codec.open_text_owned(read(&dir, &v.envelope), &keys, OpenParams::default());
        match (&outcome, &owned) {
            (Ok(a), Ok(b)) if **a == **b => {}
            (Err(a), Err(b)) if a == b => {}
            _ => failures.push(format!("{}: open_text_owned differs from open_text", v.name)),
        }
        // So does the streaming codec, staging to a file that must vanish on a refusal.
        let out_dir = tempfile::tempdir().expect("temporary folder");
        let out = out_dir.path().join("plain.bin");
        let staged = StagedFile::beside(&out).expect("staging file");
        let streamed = codec.open_stream(&read(&dir, &v.envelope)[..], staged, &keys, OpenParams::default());
        let left = std::fs::read_dir(out_dir.path()).expect("list").count();
        match (&outcome, streamed) {
            (Ok(a), Ok(_)) if **a == std::fs::read(&out).expect("streamed output")[..] && left == 1 => {}
            (Err(a), Err(b)) if a.kind() == b.kind() && left == 0 => {}
            (_, b) => {
                failures.push(format!("{}: the streaming codec differs: {b:?}, {left} files left", v.name))
            }
        }
        match (v.expected.as_str(), outcome) {
            ("ok", Ok(opened)) if *opened == *plain => ok += 1,
            ("ok", Ok(_)) => failures.push(format!("{}: opened to different bytes", v.name)),
            (want, Err(e)) if e.kind() == want => negative += 1,
            (want, Err(e)) => {
                failures.push(format!("{} ({}): want {want}, got {}: {e}", v.name, v.variant, e.kind()))
            }
            (want, Ok(_)) => failures.push(format!("{}: want {want}, but it opened", v.name)),
        }
    }
    assert!(failures.is_empty(), "vectors failed:\n{}", failures.join("\n"));
    assert!(ok > 0 && negative > 0, "both positive ({ok}) and negative ({negative}) vectors ran");
    println!("{} passed, 0 failed: {ok} ok vectors, {negative} negative vectors", ok + negative);
}

/// The other direction: our envelopes for each vector's certificate open with its key, in
/// both layouts, and have the lengths the format gives.
#[test]
fn our_envelopes_for_vector_keys_round_trip() {
    let (dir, manifest) = load();
    let codec = Codec::default();
    for v in manifest.vectors.iter().filter(|v| v.expected == "ok") {
        let cert = Certificate::from_pem(&read(&dir, &v.cert)).expect("certificate");
        let keys = RecipientKey::new(RsaPrivateKey::from_pkcs8_pem(&read(&dir, &v.key)).expect("key"), &cert)
            .expect("pair");
        let recipient = Recipient::from_certificate(&cert).expect("recipient");
        let plain = read(&dir, &v.plaintext);
        for (mode, overhead) in [(SealMode::VerR2, 356), (SealMode::Legacy { aad: b"" }, 334)] {
            let bytes = codec.seal(&plain, &recipient, mode).expect("seal");
            assert_eq!(bytes.len(), plain.len() + overhead, "{}: {mode:?}", v.name);
            let opened = codec.open(bytes, &keys, OpenParams::default()).expect("open");
            assert_eq!(*opened, *plain, "{}: {mode:?}", v.name);
        }
    }
}
