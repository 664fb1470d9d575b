//! `keymgr migrate-keys` as an operator runs it between two deployments: the source on the
//! embedded defaults (SQLite, file keystore) with 1,200 base keys, a PARTNER certificate, a
//! compromised key and 1,200 ZK random keys; the target a `keymgr serve` process (on
//! PostgreSQL when it runs, SQLite otherwise) with its own masters and no ZK keys. A dry run
//! sends nothing; the first run is killed with SIGKILL midway, the second resumes to the end,
//! a third has nothing left, and a run with a new journal finds every key there already
//! (`Migration Not Allowed. Valid Key Exists.`) and changes nothing. Packets and ZK values
//! sealed before the move open on the target after it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use keymgr_core::{CompromiseRequest, KeyManager, ZkAttribute};
use keymgr_model::{AccessAllowed, AppId, KeyRef, RefId, UtcTime};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::postgres;
use zeroize::Zeroizing;

/// `KEYMGR_MIGRATE_KEYS` overrides it (docs/PERFORMANCE.md measures 10,000).
fn base_keys() -> usize {
    std::env::var("KEYMGR_MIGRATE_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_200)
}
const ZK_KEYS: usize = 1_200;

fn keymgr(data: &Path, config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keymgr"));
    c.args(args)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .env_remove("KEYMGR_DATABASE_URL")
        .env("KEYMGR_OPERATOR", "test-operator")
        .env("KEYMGR_LOG", "warn");
    c
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn open(data: &Path, config: &Path) -> Arc<KeyManager> {
    let mut config = keymgr_service::ServiceConfig::load(Some(config)).unwrap();
    config.data_dir = Some(data.to_owned());
    config.keys.keygen_on_start = false;
    keymgr_service::start(&config).unwrap().state.key_manager().clone()
}

struct Target {
    child: Child,
    url: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, config: &Path) -> Target {
    let mut child = keymgr(data, config, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the service prints its URL").unwrap();
    let url = first.strip_prefix("keymgr serving ").unwrap_or_else(|| panic!("unexpected: {first}"));
    let url = url.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
    std::thread::spawn(move || for _ in lines {});
    Target { child, url }
}

fn summary_number(report: &str, label: &str) -> usize {
    let at = report.find(label).unwrap_or_else(|| panic!("{label:?} in {report}"));
    report[at + label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn keys_move_to_another_deployment_killed_and_resumed() {
    let base_keys = base_keys();
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = (dir.path().join("source"), dir.path().join("target"));
    let source_config = dir.path().join("source.toml");
    std::fs::write(&source_config, format!("[zk]\nrandom_keys = {ZK_KEYS}\n")).unwrap();
    let pg =
        postgres::server_or_skip().map(|server| postgres::TestDb::create(&server, "keymgr_migrate_keys"));
    let target_config = dir.path().join("target.toml");
    let database = pg.as_ref().map_or_else(String::new, |db| format!("[database]\nurl = \"{}\"\n", db.url()));
    std::fs::write(&target_config, format!("{database}[zk]\nrandom_keys = 0\n")).unwrap();
    println!("target database: {}", if pg.is_some() { "PostgreSQL" } else { "SQLite" });

    // The source: base keys with a packet each, a PARTNER certificate, a compromised key,
    // ZK values.
    let out = keymgr(&source, &source_config, &["keygen"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let reg = AppId::new("REGISTRATION").unwrap();
    let now = UtcTime::now();
    let ca = Authority::root(name("Partner CA", "Partner"), now.plus_days(-1), 365);
    let (_, partner) = ca.encryption_key(name("mpartner", "Partner"), now.plus_days(-1), 365);
    let id = "4721098356";
    let identity =
        vec![ZkAttribute { identifier: "fullName".into(), value: Zeroizing::new("Asha Kulkarni".into()) }];
    let (packets, zk_values, compromised, outgoing) = {
        let km = open(&source, &source_config);
        let mut policy = km.database().policy(&reg).unwrap().unwrap();
        policy.access_allowed = AccessAllowed::Anyone;
        km.set_policy(&policy).unwrap();
        let packets = keymgr_benches::bulk_base_keys(&km, &reg, base_keys, 8);
        km.upload_other_domain_certificate(
            &AppId::new("PARTNER").unwrap(),
            &RefId::new("mpartner-default-auth").unwrap(),
            &partner.to_pem(),
        )
        .unwrap();
        km.upload_other_domain_certificate(
            &AppId::new("IDA").unwrap(),
            &RefId::new("PUBLIC_KEY").unwrap(),
            &partner.to_pem(),
        )
        .unwrap();
        let resident = AppId::new("RESIDENT").unwrap();
        let exposed = km.get_certificate(&resident, &RefId::new("exposed").unwrap()).unwrap();
        km.compromise(&CompromiseRequest {
            key_ref: KeyRef::new(resident, RefId::new("exposed").unwrap()),
            alias: None,
            reason: "laptop stolen".into(),
            who: "test".into(),
            dry_run: false,
            rotate_children: false,
            recovery_until: None,
            progress: None,
        })
        .unwrap();
        // The bulk keys and the key generator's RESIDENT/mpartner-default-resident.
        let outgoing = km.migration_inventory().unwrap().base_keys.len();
        assert_eq!(outgoing, base_keys + 1);
        (packets, km.zk_encrypt(id, &identity).unwrap(), exposed.certificate.thumbprint(), outgoing)
    };

    // The target: its own masters, no ZK keys, serving.
    let out = keymgr(&target, &target_config, &["keygen"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let server = serve(&target, &target_config);
    let token_file = target.join("admin.token");
    let journal = dir.path().join("migrate.journal");
    let migrate = |journal: &Path, extra: &[&str]| {
        let mut args = vec!["migrate-keys", "--to", server.url.as_str(), "--token-file"];
        args.push(token_file.to_str().unwrap());
        args.push("--journal");
        args.push(journal.to_str().unwrap());
        args.extend_from_slice(extra);
        keymgr(&source, &source_config, &args)
    };

    // A dry run: the plan, the target's master, nothing sent, no journal.
    let out = migrate(&journal, &["--dry-run"]).output().unwrap();
    let plan = text(&out);
    assert!(out.status.success(), "{plan}");
    let line = plan.lines().find(|l| l.trim_start().starts_with("REGISTRATION ")).unwrap_or_default();
    assert!(line.contains(&format!("{base_keys} base keys (0 done before)  target master")), "{plan}");
    assert!(plan.contains("1 certificates") && plan.contains(&format!("{ZK_KEYS} random keys")), "{plan}");
    assert!(plan.contains("compromised: the target would take it for a good key"), "{plan}");
    assert!(!journal.exists(), "a dry run writes no journal");
    println!("{plan}");

    // The first run, killed once the target has taken at least 500 keys.
    let mut child = migrate(&journal, &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    let started = Instant::now();
    let sent = |seen: &str| {
        seen.rsplit("base keys: ")
            .next()
            .and_then(|t| t.split('/').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    while sent(&seen).is_none_or(|n| n < 500) {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "the run ended before it was killed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    println!("killed after {:?}: {seen}", started.elapsed());

    // The second run resumes and finishes.
    let started = Instant::now();
    let out = migrate(&journal, &[]).output().unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    println!("resumed in {:?}:\n{report}", started.elapsed());
    assert!(report.contains(&format!("base keys {outgoing}/{outgoing}")), "{report}");
    assert!(
        report.contains("partner certificates 1/1")
            && report.contains(&format!("ZK keys {ZK_KEYS}/{ZK_KEYS}"))
    );
    assert!(report.contains(", 0 failed"), "{report}");
    let moved_second = summary_number(&report, &format!("base keys {outgoing}/{outgoing} ("));
    assert!(moved_second < outgoing, "the first run's keys were not sent again: {report}");

    // A third run: nothing left.
    let out = migrate(&journal, &["--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let third: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(third["baseKeys"]["doneBefore"], outgoing);
    assert_eq!(third["baseKeys"]["moved"], 0);
    assert_eq!(third["zkKeys"]["doneBefore"], ZK_KEYS);

    // Without the journal every key is there already, and nothing changes on the target.
    let out = migrate(&dir.path().join("fresh.journal"), &["--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["baseKeys"]["thereAlready"], outgoing, "{again:#}");
    assert_eq!(again["partnerCertificates"]["thereAlready"], 1, "{again:#}");
    assert_eq!(again["baseKeys"]["failed"].as_array().unwrap().len(), 0);

    // Plain http to another host is refused: the keys would be wrapped for whatever
    // certificate a man in the middle answers.
    let out = keymgr(
        &source,
        &source_config,
        &[
            "migrate-keys",
            "--to",
            "http://192.0.2.1/v1/keymanager",
            "--token-file",
            token_file.to_str().unwrap(),
            "--dry-run",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("plain http"), "{}", text(&out));

    // A journal of another target is refused.
    let out = keymgr(
        &source,
        &source_config,
        &[
            "migrate-keys",
            "--to",
            "http://127.0.0.1:9/v1/keymanager",
            "--token-file",
            token_file.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("belongs to another target"), "{}", text(&out));

    // On the target, after the move: every packet and the ZK values open; one key per pair;
    // the compromised key stayed behind.
    drop(server);
    let km = open(&target, &target_config);
    for (reference, packet, envelope) in &packets {
        let plain = km.decrypt(&reg, reference, envelope.as_bytes(), None, None, "u").unwrap();
        assert_eq!(&*plain, &packet[..]);
    }
    let opened = km.zk_decrypt(id, &zk_values.attributes).unwrap();
    assert_eq!(opened[0].value.as_str(), "Asha Kulkarni");
    let all = km.database().all_aliases().unwrap();
    let registration_base =
        all.iter().filter(|a| a.key_ref.app == reg && !a.key_ref.reference.is_master()).count();
    assert_eq!(registration_base, base_keys, "each key once");
    assert!(all.iter().all(|a| a.thumbprint != Some(compromised)), "the compromised key stayed");
    assert_eq!(km.database().zk_count().unwrap(), ZK_KEYS);
    drop(km);
    let source_km = open(&source, &source_config);
    let audit = source_km.database().audit_log(50).unwrap();
    assert!(audit.iter().any(|e| e.action == "keys_migrated_out" && e.actor == "cli:test-operator"));
}
