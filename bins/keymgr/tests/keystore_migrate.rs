//! `keymgr keystore migrate` as an operator takes a pilot to production: a deployment on the
//! embedded file keystore (ROOT, masters, KERNEL/SIGN, the ZK master, base keys, ZK values,
//! packets) moves its keys into a SoftHSM2 token. The dry run imports nothing; the run imports
//! every key and leaves the file as it was; a second run finds them there; `--confirm` is
//! refused until the configuration names the token. The service on the token opens the old
//! packets and ZK values and makes new keys under the imported masters; then `--confirm`
//! destroys the file keystore and its PIN file, and the service still serves.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once per process: the service on the token runs in a child
//! process of this test (the test binary again, with the variable set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use keymgr_core::{KeyManager, ZkAttribute};
use keymgr_model::{AccessAllowed, AppId, RefId, UtcTime};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::softhsm;
use zeroize::Zeroizing;

const CHILD: &str = "KEYMGR_TEST_KEYSTORE_MIGRATE_CHILD";
const DIR: &str = "KEYMGR_TEST_KEYSTORE_MIGRATE_DIR";
const ID: &str = "4721098356";

fn keymgr(dir: &Path, conf: &Path, config: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .arg("--config")
        .arg(dir.join(config))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env(softhsm::CONF_VAR, conf)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .env_remove("KEYMGR_DATABASE_URL")
        .env("KEYMGR_OPERATOR", "test-operator")
        .env("KEYMGR_LOG", "warn")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn open(dir: &Path, config: &str) -> Arc<KeyManager> {
    let mut config = keymgr_service::ServiceConfig::load(Some(&dir.join(config))).unwrap();
    config.data_dir = Some(dir.join("data"));
    config.keys.keygen_on_start = false;
    keymgr_service::start(&config).unwrap().state.key_manager().clone()
}

fn digest(path: &Path) -> [u8; 32] {
    keymgr_core::sha256(&std::fs::read(path).unwrap())
}

#[test]
fn the_file_keystore_moves_to_a_token() {
    if std::env::var_os(CHILD).is_some() {
        return on_the_token(&PathBuf::from(std::env::var_os(DIR).unwrap()));
    }
    if !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("ks-migrate");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("file.toml"), "[zk]\nrandom_keys = 20\n").unwrap();
    std::fs::write(
        dir.join("token.toml"),
        format!(
            "[keystore]\ntype = \"pkcs11\"\nmodule = \"{}\"\ntoken_label = \"ks-migrate\"\n\n[zk]\nrandom_keys = 20\n",
            softhsm::MODULE
        ),
    )
    .unwrap();
    std::fs::write(dir.join("token.pin"), softhsm::PIN).unwrap();
    let conf = token.conf().to_owned();

    // The pilot: keys, a packet and ZK values on the file keystore.
    let out = keymgr(dir, &conf, "file.toml", &["keygen"]);
    assert!(out.status.success(), "{}", text(&out));
    {
        let km = open(dir, "file.toml");
        let reg = AppId::new("REGISTRATION").unwrap();
        let mut policy = km.database().policy(&reg).unwrap().unwrap();
        policy.access_allowed = AccessAllowed::Anyone;
        km.set_policy(&policy).unwrap();
        let packet =
            km.encrypt(&reg, &RefId::new("10001_110011").unwrap(), b"pilot packet", None, None).unwrap();
        std::fs::write(dir.join("packet"), packet).unwrap();
        let now = UtcTime::now();
        let ca = Authority::root(name("IDA CA", "IDA"), now.plus_days(-1), 365);
        let (_, ida) = ca.encryption_key(name("ida", "IDA"), now.plus_days(-1), 365);
        km.upload_other_domain_certificate(
            &AppId::new("IDA").unwrap(),
            &RefId::new("PUBLIC_KEY").unwrap(),
            &ida.to_pem(),
        )
        .unwrap();
        let identity = vec![ZkAttribute {
            identifier: "fullName".into(),
            value: Zeroizing::new("Asha Kulkarni".into()),
        }];
        let zk = km.zk_encrypt(ID, &identity).unwrap();
        std::fs::write(dir.join("zk"), zk.attributes[0].value.as_str()).unwrap();
        let master = km.get_certificate(&reg, &RefId::new("").unwrap()).unwrap();
        std::fs::write(dir.join("master"), master.certificate.thumbprint().to_hex()).unwrap();
    }
    let keystore = dir.join("data/keystore.kmks");
    let before = digest(&keystore);
    fn migrate<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["keystore", "migrate"];
        args.extend_from_slice(extra);
        args
    }
    let pin_file = dir.join("token.pin");
    let to_token = [
        "--module",
        softhsm::MODULE,
        "--token-label",
        "ks-migrate",
        "--token-pin-file",
        pin_file.to_str().unwrap(),
    ];

    // The dry run imports nothing.
    let out = keymgr(dir, &conf, "file.toml", &migrate(&[&to_token[..], &["--dry-run"]].concat()));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("would be imported") && !report.contains(": imported"), "{report}");
    println!("{report}");

    // The run imports every key; the file is as it was.
    let out = keymgr(dir, &conf, "file.toml", &migrate(&to_token));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    println!("{report}");
    let keys = report.lines().filter(|l| l.ends_with(": imported")).count();
    assert!(keys >= 10, "ROOT, the masters, KERNEL/SIGN, the ZK master: {report}");
    assert!(report.contains(&format!(
        "{keys} keys: {keys} imported, 0 on the token already, 0 to import, 0 not moved"
    )));
    assert_eq!(digest(&keystore), before, "the file keystore is left as it was");

    // A second run finds them there.
    let out = keymgr(dir, &conf, "file.toml", &migrate(&to_token));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{keys} keys: 0 imported, {keys} on the token already")),
        "{}",
        text(&out)
    );

    // --confirm needs the configuration switched to the token.
    let out = keymgr(dir, &conf, "file.toml", &migrate(&["--confirm"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(keystore.exists());

    // The service on the token.
    let child = |phase: &str| {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["the_file_keystore_moves_to_a_token", "--exact", "--nocapture"])
            .env(CHILD, phase)
            .env(DIR, dir)
            .env(softhsm::CONF_VAR, &conf)
            .env("KEYMGR_KEYSTORE_PIN", softhsm::PIN)
            .output()
            .unwrap();
        println!("{}", text(&out));
        assert!(out.status.success(), "the service on the token ({phase})");
        assert!(text(&out).contains("SERVED FROM THE TOKEN"), "{phase}");
    };
    child("before-confirm");

    // --confirm with the token's configuration: checked again, then the file is destroyed.
    let out = Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(["keystore", "migrate", "--confirm", "--config"])
        .arg(dir.join("token.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env(softhsm::CONF_VAR, &conf)
        .env("KEYMGR_KEYSTORE_PIN", softhsm::PIN)
        .env("KEYMGR_OPERATOR", "test-operator")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("destroyed"), "{}", text(&out));
    assert!(
        !keystore.exists() && !dir.join("data/keystore.pin").exists(),
        "the file keystore and its PIN are gone"
    );
    child("after-confirm");
}

/// In the child: the service on the token opens what the file keystore's keys sealed and makes
/// new keys under the imported masters.
fn on_the_token(dir: &Path) {
    let km = open(dir, "token.toml");
    let reg = AppId::new("REGISTRATION").unwrap();
    let pair = RefId::new("10001_110011").unwrap();
    let packet = std::fs::read_to_string(dir.join("packet")).unwrap();
    assert_eq!(&*km.decrypt(&reg, &pair, packet.as_bytes(), None, None, "u").unwrap(), b"pilot packet");
    let value = std::fs::read_to_string(dir.join("zk")).unwrap();
    let opened = km
        .zk_decrypt(ID, &[ZkAttribute { identifier: "fullName".into(), value: Zeroizing::new(value) }])
        .unwrap();
    assert_eq!(opened[0].value.as_str(), "Asha Kulkarni");
    let master = km.get_certificate(&reg, &RefId::new("").unwrap()).unwrap();
    assert_eq!(
        master.certificate.thumbprint().to_hex(),
        std::fs::read_to_string(dir.join("master")).unwrap()
    );
    // A new base key, wrapped by the imported master.
    let fresh = RefId::new(format!("fresh_{}", std::env::var(CHILD).unwrap().len())).unwrap();
    let sealed = km.encrypt(&reg, &fresh, b"after the move", None, None).unwrap();
    assert_eq!(&*km.decrypt(&reg, &fresh, sealed.as_bytes(), None, None, "u").unwrap(), b"after the move");
    assert!(km.verify_audit().unwrap().problem.is_none());
    let audit = km.database().audit_log(100).unwrap();
    assert!(audit.iter().any(|e| e.action == "keystore_migrated" && e.actor == "cli:test-operator"));
    println!("SERVED FROM THE TOKEN");
}
