//! Zero-knowledge encryption of a 10-attribute identity: `zk_encrypt` (a random key read from
//! the database and unwrapped in the keystore, the resident's key derived, ten AES-GCM seals,
//! the random key sealed to IDA's RSA key) and `zk_decrypt` (the same key unwrapped once, ten
//! opens), on the file keystore and on SoftHSM2, SQLite.
//!
//! As in `keystores.rs`, without `SOFTHSM2_CONF` this makes a SoftHSM token in a temporary
//! folder and re-runs itself; the SoftHSM group is skipped with a notice without SoftHSM2.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use keymgr_core::{KeyManager, KeyManagerConfig, SystemClock, ZkAttribute};
use keymgr_db::Database;
use keymgr_hsm::{Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, RefId, UtcTime};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::softhsm;
use zeroize::Zeroizing;

const TOKEN: &str = "keymgr-zk-bench";

/// A resident's identity as ID repository stores it: ten attributes.
const IDENTITY: [(&str, &str); 10] = [
    ("fullName", "Asha Kulkarni"),
    ("dateOfBirth", "1990/01/31"),
    ("gender", "Female"),
    ("addressLine1", "12 MG Road"),
    ("addressLine2", "Indiranagar"),
    ("city", "Bengaluru"),
    ("province", "Karnataka"),
    ("postalCode", "560038"),
    ("phone", "+91 98450 00000"),
    ("email", "asha.kulkarni@example.org"),
];

fn paths(c: &mut Criterion, name_: &str, keystore: Arc<dyn Keystore>, dir: &Path) {
    let url = dir.join(format!("{name_}.db")).to_string_lossy().into_owned();
    let km = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore,
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    km.run_keygen(&[]).unwrap();
    km.prepare_zk(1000, &|_, _| {}).unwrap();
    let now = UtcTime::now();
    let ca = Authority::root(name("IDA CA", "IDA"), now.plus_days(-1), 365);
    let (_, cert) = ca.encryption_key(name("IDA", "IDA"), now.plus_days(-1), 365);
    km.upload_other_domain_certificate(
        &AppId::new("IDA").unwrap(),
        &RefId::new("PUBLIC_KEY").unwrap(),
        &cert.to_pem(),
    )
    .unwrap();
    let identity: Vec<ZkAttribute> = IDENTITY
        .iter()
        .map(|(i, v)| ZkAttribute { identifier: (*i).to_owned(), value: Zeroizing::new((*v).to_owned()) })
        .collect();
    let id = "4721098356";
    let sealed = km.zk_encrypt(id, &identity).unwrap();
    let mut group = c.benchmark_group(format!("zk/{name_}"));
    group.bench_function("zk_encrypt_10_attributes", |b| b.iter(|| km.zk_encrypt(id, &identity).unwrap()));
    group.bench_function("zk_decrypt_10_attributes", |b| {
        b.iter(|| km.zk_decrypt(id, &sealed.attributes).unwrap())
    });
    group.finish();
}

fn file_keystore(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    paths(c, "file", Arc::new(keymgr_benches::file_keystore(dir.path())), dir.path());
}

fn softhsm(c: &mut Criterion) {
    if std::env::var_os("SOFTHSM2_CONF").is_none() {
        println!("SKIPPED zk/softhsm: SoftHSM2 not installed or SOFTHSM2_CONF not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: TOKEN.into(),
        pin: Zeroizing::new(softhsm::PIN.into()),
        pool_size: 4,
    };
    paths(c, "softhsm", Arc::new(Pkcs11Keystore::new(config).unwrap()), dir.path());
}

criterion_group!(benches, file_keystore, softhsm);

fn main() {
    softhsm::rerun_with_token(TOKEN);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
