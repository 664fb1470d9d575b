//! The partner trust store with 10,000 CA certificates in the domain: validating a 3-level
//! chain (target, intermediate, root) in the library (`keymgr-trust`, warm), building the store
//! from the certificates (cold), and `KeyManager::verify_certificate_trust` on SQLite with the
//! store cached (warm) and read from the database (cold: a new key manager).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use keymgr_core::{KeyManager, KeyManagerConfig, PartnerSettings, SystemClock};
use keymgr_crypto::issue::CertificateProfile;
use keymgr_crypto::{Certificate, pkcs7};
use keymgr_db::Database;
use keymgr_model::UtcTime;
use keymgr_test_support::pki::{Authority, name};
use keymgr_trust::TrustStore;

const FILLER: usize = 10_000;

struct Fixture {
    root: Certificate,
    inter: Certificate,
    target: Certificate,
    filler: Vec<Certificate>,
}

/// A 3-level chain, and 10,000 other CA certificates (one key, other names) from another root.
fn fixture() -> Fixture {
    let now = UtcTime::now();
    let root = Authority::root(name("Bench Root", "Bench"), now, 3650);
    let inter = root.sub_ca(name("Bench CA", "Bench"), now, 3000);
    let target = inter.partner(name("Bench Device", "Bench"), now, 700);
    let other = Authority::root(name("Filler Root", "Filler"), now, 3650);
    let spki = keymgr_test_support::pki::rsa_key().public_key_spki().unwrap();
    let mut filler = vec![other.certificate.clone()];
    for i in 1..FILLER {
        filler.push(other.issue(
            &spki,
            name(&format!("Filler CA {i}"), "Filler"),
            CertificateProfile::Intermediate,
            now,
            3000,
        ));
    }
    Fixture { root: root.certificate, inter: inter.certificate, target: target.certificate, filler }
}

fn store(f: &Fixture) -> TrustStore {
    let mut store = TrustStore::new();
    for c in f.filler.iter().chain([&f.root, &f.inter]) {
        store.add(c.der()).unwrap();
    }
    store
}

fn trust(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("trust");
    let warm = store(&f);
    assert_eq!(warm.len(), FILLER + 2);
    assert_eq!(warm.validate(f.target.der(), UtcTime::now()).unwrap().len(), 3);
    group.bench_function("validate_3_levels_10k_store", |b| {
        b.iter(|| warm.validate(f.target.der(), UtcTime::now()).unwrap())
    });
    group.sample_size(10);
    group.bench_function("build_store_10k", |b| b.iter(|| store(&f)));

    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("trust.db").to_string_lossy().into_owned();
    let keystore = Arc::new(keymgr_benches::file_keystore(dir.path()));
    let config = || KeyManagerConfig {
        partners: PartnerSettings {
            store_check_interval: Duration::from_secs(3600),
            ..PartnerSettings::default()
        },
        ..KeyManagerConfig::default()
    };
    let km = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore.clone(),
        Arc::new(SystemClock),
        config(),
    );
    for chunk in f.filler.chunks(100) {
        km.upload_ca_certificate(
            &keymgr_model::base64::encode(&pkcs7::certs_only_der(chunk).unwrap()),
            "DEVICE",
        )
        .unwrap();
    }
    km.upload_ca_certificate(&f.root.to_pem(), "DEVICE").unwrap();
    km.upload_ca_certificate(&f.inter.to_pem(), "DEVICE").unwrap();
    let pem = f.target.to_pem();
    assert!(km.verify_certificate_trust(&pem, "DEVICE").unwrap());
    group.sample_size(100);
    group.bench_function("verify_certificate_trust_warm", |b| {
        b.iter(|| assert!(km.verify_certificate_trust(&pem, "DEVICE").unwrap()))
    });
    group.sample_size(10);
    group.bench_function("verify_certificate_trust_cold_10k_rows", |b| {
        b.iter(|| {
            let fresh = KeyManager::new(
                Database::connect(&url, 1).unwrap(),
                keystore.clone(),
                Arc::new(SystemClock),
                config(),
            );
            assert!(fresh.verify_certificate_trust(&pem, "DEVICE").unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, trust);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
