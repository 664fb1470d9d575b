//! Zero-knowledge encryption: the key generator's random keys, round trips, MOSIP's refusals
//! (`ZK-DEC-001`, `KER-ZKC-001/002/003/004/006`), `zkReEncryptRandomKey`, and the format proven
//! by a second implementation (Python `cryptography`): it recovers the random key with the
//! IDA private key it owns, derives the resident's key and opens the values; values it seals
//! open here. On SQLite and PostgreSQL with the file keystore, and on a SoftHSM2 token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use keymgr_core::{KeyManager, KeyManagerConfig, KeymgrError, SystemClock, ZkAttribute};
use keymgr_crypto::RsaPrivateKey;
use keymgr_db::{Database, NewKey};
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, KeyAlias, KeyRef, RefId, UtcTime, base64};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::{postgres, python, softhsm};
use zeroize::Zeroizing;

const ON_SOFTHSM: &str = "KEYMGR_ZK_ON_SOFTHSM";

/// Runs every other test of this file again with the keystore on a SoftHSM2 token.
#[test]
fn the_suite_on_softhsm() {
    if std::env::var_os(ON_SOFTHSM).is_some() || !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("zk");
    let out = token.run_current_exe(ON_SOFTHSM, &["--test-threads=1", "--skip", "the_suite_on_softhsm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the suite failed on SoftHSM2");
    assert!(text.contains("test result: ok") && !text.contains(" 0 passed"), "the suite ran");
}

fn keystore(dir: &std::path::Path) -> Arc<dyn Keystore> {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        Arc::new(
            Pkcs11Keystore::new(Pkcs11Config {
                module: softhsm::MODULE.into(),
                token_label: "zk".into(),
                pin: Zeroizing::new(softhsm::PIN.into()),
                pool_size: 4,
            })
            .unwrap(),
        )
    } else {
        Arc::new(
            FileKeystore::open_or_create(dir.join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
                .unwrap(),
        )
    }
}

fn attributes(pairs: &[(&str, &str)]) -> Vec<ZkAttribute> {
    pairs
        .iter()
        .map(|(i, v)| ZkAttribute { identifier: (*i).to_owned(), value: Zeroizing::new((*v).to_owned()) })
        .collect()
}

fn code<T>(r: Result<T, KeymgrError>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "ok")
}

/// The IDA key pair the test owns, its certificate uploaded as IDA/PUBLIC_KEY.
fn ida_key(km: &KeyManager) -> RsaPrivateKey {
    let now = UtcTime::now();
    let ca = Authority::root(name("IDA CA", "IDA"), now.plus_days(-1), 365);
    let (key, cert) = ca.encryption_key(name("IDA-PUBLIC_KEY", "IDA"), now.plus_days(-1), 365);
    km.upload_other_domain_certificate(
        &AppId::new("IDA").unwrap(),
        &RefId::new("PUBLIC_KEY").unwrap(),
        &cert.to_pem(),
    )
    .unwrap();
    key
}

const OPEN_IN_PYTHON: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def b64(t):
    return base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))

job = json.load(sys.stdin)
key = serialization.load_der_private_key(b64(job["key"]), password=None)
part = b64(job["encryptedRandomKey"].split(".")[0])
random_key = key.decrypt(part[32:], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
ecb = Cipher(algorithms.AES(random_key), modes.ECB()).encryptor()
derived = ecb.update(hashlib.sha256(job["id"].encode("utf-8")).digest()) + ecb.finalize()
out = {"opened": {}, "sealed": {}}
for name, value in job["values"].items():
    raw = b64(value)
    assert int.from_bytes(raw[:4], "big") == int(job["index"])
    out["opened"][name] = AESGCM(derived).decrypt(raw[4:16], raw[48:], raw[16:48]).decode("utf-8")
import os
for name, plain in job["toSeal"].items():
    nonce, aad = os.urandom(12), os.urandom(32)
    ct = AESGCM(derived).encrypt(nonce, plain.encode("utf-8"), aad)
    out["sealed"][name] = base64.urlsafe_b64encode(int(job["index"]).to_bytes(4, "big") + nonce + aad + ct).decode().rstrip("=")
print(json.dumps(out))
"#;

fn zk_end_to_end(url: &str, dir: &std::path::Path) {
    let km = KeyManager::new(
        Database::connect(url, 4).unwrap(),
        keystore(dir),
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    km.run_keygen(&[]).unwrap();
    let id = "4721098356";
    let identity = attributes(&[
        ("fullName", "Asha Kulkarni"),
        ("dateOfBirth", "1990/01/31"),
        ("city", "Bengaluru ಬೆಂಗಳೂರು"),
    ]);
    // Before the key generator made random keys: a clear refusal, not a crash.
    assert_eq!(code(km.zk_encrypt(id, &identity)), "KER-ZKC-001");

    let progress = std::sync::Mutex::new(Vec::new());
    let prepared = km.prepare_zk(2500, &|made, total| progress.lock().unwrap().push((made, total))).unwrap();
    assert_eq!((prepared.existing, prepared.made), (0, 2500));
    assert_eq!(progress.lock().unwrap().last(), Some(&(2500, 2500)));
    let again = km.prepare_zk(2500, &|_, _| {}).unwrap();
    assert_eq!((again.existing, again.made), (2500, 0), "idempotent");
    let stored = km.database().zk_key(0).unwrap().unwrap();
    assert_eq!(stored.len(), 44, "standard base64 of 32 bytes, padded: {stored}");

    // Without an IDA/PUBLIC_KEY certificate the random key cannot be sealed for IDA.
    assert_eq!(code(km.zk_encrypt(id, &identity)), "KER-ZKC-002");
    let ida = ida_key(&km);

    let sealed = km.zk_encrypt(id, &identity).unwrap();
    assert_eq!(sealed.attributes.len(), 3);
    assert!((0..2500).contains(&sealed.random_key_index));
    let opened = km.zk_decrypt(id, &sealed.attributes).unwrap();
    for (a, b) in opened.iter().zip(&identity) {
        assert_eq!((a.identifier.as_str(), a.value.as_str()), (b.identifier.as_str(), b.value.as_str()));
    }
    // Requests choose their random keys at random.
    let indexes: std::collections::HashSet<i64> =
        (0..20).map(|_| km.zk_encrypt(id, &identity[..1]).unwrap().random_key_index).collect();
    assert!(indexes.len() > 10, "{indexes:?}");

    // Refusals: another id, a changed byte, a short value, an unknown key index, no attributes.
    assert_eq!(code(km.zk_decrypt("4721098357", &sealed.attributes)), "KER-ZKC-004");
    let mut raw = base64::decode(sealed.attributes[0].value.as_bytes(), 1 << 20).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = attributes(&[("fullName", &base64::encode(&raw))]);
    assert_eq!(code(km.zk_decrypt(id, &tampered)), "KER-ZKC-004");
    let short = attributes(&[("fullName", &base64::encode(&raw[..48]))]);
    assert_eq!(code(km.zk_decrypt(id, &short)), "ZK-DEC-001");
    assert_eq!(code(km.zk_decrypt(id, &attributes(&[("x", "not base64!")]))), "ZK-DEC-001");
    let mut unknown = raw.clone();
    unknown[..4].copy_from_slice(&9_999_999u32.to_be_bytes());
    assert_eq!(code(km.zk_decrypt(id, &attributes(&[("x", &base64::encode(&unknown))]))), "KER-ZKC-001");
    assert_eq!(code(km.zk_decrypt(id, &[])), "KER-ZKC-003");
    assert_eq!(code(km.zk_encrypt(" ", &identity)), "KER-KMS-005");

    // The random key, recovered with the IDA private key, is the one the index names.
    let part =
        base64::decode(sealed.encrypted_random_key.split('.').next().unwrap().as_bytes(), 4096).unwrap();
    let cert = km.get_certificate(&AppId::new("IDA").unwrap(), &RefId::new("PUBLIC_KEY").unwrap()).unwrap();
    assert_eq!(&part[..32], cert.certificate.thumbprint().as_bytes());
    let random = ida.oaep_unwrap(&part[32..]).unwrap();
    assert_eq!(random.len(), 32);

    // zkReEncryptRandomKey needs IDA's private key here: this deployment holds only its
    // certificate, so it refuses (KER-KMS-018); a part naming no key is KER-ZKC-006.
    assert_eq!(code(km.zk_reencrypt_random_key(&sealed.encrypted_random_key, "ida")), "KER-KMS-018");
    assert_eq!(code(km.zk_reencrypt_random_key("AAAA.BBBB", "ida")), "KER-ZKC-006");
    assert_eq!(code(km.zk_reencrypt_random_key("", "ida")), "KER-ZKC-006");

    // A second current ZK master is KER-ZKC-002.
    let now = km.now();
    let twin = KeyAlias {
        alias: "00000000-0000-0000-0000-00000000zk02".into(),
        key_ref: KeyRef::new(AppId::new("KERNEL").unwrap(), RefId::new("IDENTITY_CACHE").unwrap()),
        generated_at: now.plus_days(-1),
        expires_at: now.plus_days(100),
        thumbprint: None,
        unique_ident: None,
    };

    // The independent implementation: it opens our values and seals values we open.
    if python::ready(&["cryptography"]) {
        let values: serde_json::Map<String, serde_json::Value> = sealed
            .attributes
            .iter()
            .map(|a| (a.identifier.clone(), serde_json::Value::String(a.value.to_string())))
            .collect();
        let job = serde_json::json!({
            "key": base64::encode(ida.to_pkcs8_der().unwrap().expose()),
            "encryptedRandomKey": sealed.encrypted_random_key,
            "id": id,
            "index": sealed.random_key_index,
            "values": values,
            "toSeal": {"fullName": "Ravi Menon", "address": "12 MG Road, ಮೈಸೂರು"},
        });
        let out = python::run(OPEN_IN_PYTHON, &[], job.to_string().as_bytes());
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for a in &identity {
            assert_eq!(out["opened"][&a.identifier], a.value.as_str(), "Python opened {}", a.identifier);
        }
        let theirs: Vec<ZkAttribute> = out["sealed"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| ZkAttribute {
                identifier: k.clone(),
                value: Zeroizing::new(v.as_str().unwrap().to_owned()),
            })
            .collect();
        let opened = km.zk_decrypt(id, &theirs).unwrap();
        let by_name = |n: &str| opened.iter().find(|a| a.identifier == n).unwrap().value.to_string();
        assert_eq!(by_name("fullName"), "Ravi Menon");
        assert_eq!(by_name("address"), "12 MG Road, ಮೈಸೂರು");
    }

    // The ZK master is never replaced while random keys exist: a successor would turn every
    // value into garbage (AES-ECB has no integrity).
    let (kernel, cache) = (AppId::new("KERNEL").unwrap(), RefId::new("IDENTITY_CACHE").unwrap());
    assert_eq!(code(km.generate_symmetric_key(&kernel, &cache, true)), "KER-KMS-016");
    assert_eq!(km.zk_decrypt(id, &sealed.attributes).unwrap()[0].value.as_str(), "Asha Kulkarni");

    km.database().insert_key(&NewKey { alias: &twin, stored: None, actor: "test" }).unwrap();
    assert_eq!(code(km.zk_encrypt(id, &identity)), "KER-ZKC-002");
    assert_eq!(code(km.zk_decrypt(id, &sealed.attributes)), "KER-ZKC-002");
}

#[test]
fn zk_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    zk_end_to_end(&dir.path().join("k.db").to_string_lossy(), dir.path());
}

#[test]
fn zk_on_postgres() {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        return;
    }
    let Some(server) = postgres::server_or_skip() else { return };
    let db = postgres::TestDb::create(&server, "keymgr_zk");
    let dir = tempfile::tempdir().unwrap();
    zk_end_to_end(&db.url(), dir.path());
}

/// zkReEncryptRandomKey where IDA's private key lives: the random key comes back wrapped by
/// this deployment's ZK master (standard base64), and it is the same random key.
#[test]
fn reencrypt_where_the_ida_key_lives() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("k.db").to_string_lossy().into_owned();
    let ks = keystore(dir.path());
    let km = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        Arc::clone(&ks),
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    km.run_keygen(&[]).unwrap();
    km.prepare_zk(50, &|_, _| {}).unwrap();
    // This deployment is IDA's: IDA/PUBLIC_KEY is its own base key.
    let mut policy = km.database().policy(&AppId::new("IDA").unwrap()).unwrap().unwrap_or_else(|| {
        keymgr_model::KeyPolicy::from_columns(AppId::new("IDA").unwrap(), 1095, 60, true, Some("NA")).unwrap()
    });
    policy.is_active = true;
    km.set_policy(&policy).unwrap();
    km.run_keygen(&[AppId::new("IDA").unwrap()]).unwrap();
    km.get_certificate(&AppId::new("IDA").unwrap(), &RefId::new("PUBLIC_KEY").unwrap()).unwrap();
    let sealed = km.zk_encrypt("id-1", &attributes(&[("a", "b")])).unwrap();
    let rewrapped = km.zk_reencrypt_random_key(&sealed.encrypted_random_key, "ida").unwrap();
    assert_eq!(rewrapped.len(), 44);
    assert!(rewrapped.ends_with('='), "standard base64 with padding: {rewrapped}");
    let stored = km.database().zk_key(sealed.random_key_index).unwrap().unwrap();
    // The same master wraps the same random key to the same ECB block.
    assert_eq!(rewrapped, stored);
}
