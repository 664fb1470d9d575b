//! The KeyManager's service paths on the embedded backends and on SoftHSM2: `get_certificate`
//! of an existing pair, and `decrypt` of a 1 KiB packet with the unwrapped-key cache warm and
//! turned off.
//!
//! As in `keystores.rs`, without `SOFTHSM2_CONF` this makes a SoftHSM token in a temporary
//! folder and re-runs itself; the SoftHSM group is skipped with a notice without SoftHSM2.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group};
use keymgr_core::{KeyManager, KeyManagerConfig, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, RefId};
use keymgr_test_support::softhsm;

const TOKEN: &str = "keymgr-core-bench";

fn paths(c: &mut Criterion, name: &str, keystore: Arc<dyn Keystore>, dir: &Path) {
    let url = dir.join(format!("{name}.db")).to_string_lossy().into_owned();
    let warm = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore.clone(),
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    warm.run_keygen(&[AppId::new("REGISTRATION").unwrap()]).unwrap();
    let cold = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore,
        Arc::new(SystemClock),
        KeyManagerConfig { base_key_cache_size: 0, ..KeyManagerConfig::default() },
    );
    let (app, pair) = (AppId::new("REGISTRATION").unwrap(), RefId::new("10001_110011").unwrap());
    let packet = warm.encrypt(&app, &pair, &[0x42; 1024], None, None).unwrap();
    let mut group = c.benchmark_group(format!("core/{name}"));
    group.bench_function("get_certificate_existing", |b| {
        b.iter(|| warm.get_certificate(&app, &pair).unwrap())
    });
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("decrypt_1KiB_warm", |b| {
        b.iter(|| warm.decrypt(&app, &pair, packet.as_bytes(), None, None, "bench").unwrap())
    });
    group.bench_function("decrypt_1KiB_cache_off", |b| {
        b.iter(|| cold.decrypt(&app, &pair, packet.as_bytes(), None, None, "bench").unwrap())
    });
    group.bench_function("encrypt_1KiB", |b| {
        b.iter(|| warm.encrypt(&app, &pair, &[0x42; 1024], None, None).unwrap())
    });
    group.finish();
}

fn file_keystore(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    paths(c, "file", Arc::new(keymgr_benches::file_keystore(dir.path())), dir.path());
}

fn softhsm(c: &mut Criterion) {
    if std::env::var_os("SOFTHSM2_CONF").is_none() {
        println!("SKIPPED core/softhsm: SoftHSM2 not installed or SOFTHSM2_CONF not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: TOKEN.into(),
        pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
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
