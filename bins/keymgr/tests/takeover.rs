//! Taking over a database that MOSIP's own scripts made: the schema, MOSIP's DDL, its grants to
//! the application role and its seed rows, built from `testdata/mosip_keymgr` as MOSIP's
//! `deploy.sh` builds them. As the application role (no DDL rights) the service refuses to
//! start until the schema owner ran `keymgr migrate`, saying so; `keymgr migrate` as the owner
//! keeps MOSIP's tables and rows and adds this service's, twice without harm; then the service
//! runs as the application role, and the rows it writes have MOSIP's shapes.
//!
//! A second test takes over keys MOSIP's Java service made: rows written as its JPA entities
//! write them (upper-case thumbprints, SHA-1 unique identifiers, a NULL `is_deleted`, a stored
//! key in standard base64) and a SoftHSM2 token laid out as SunPKCS11 leaves it (private keys
//! named by `CKA_ID` only, no public key objects). The service starts on them, opens a packet
//! sealed before, validates a new key's chain to MOSIP's ROOT, and writes MOSIP's shapes.
//!
//! Needs PostgreSQL (`KEYMGR_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432); without
//! it the test says `SKIPPED`, with `KEYMGR_REQUIRE_PG=1` it fails. The second needs SoftHSM2
//! likewise (`KEYMGR_REQUIRE_HSM=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use keymgr_model::{AccessAllowed, AppId, RefId};
use keymgr_test_support::postgres;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/mosip_keymgr");

fn keymgr(data: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("KEYMGR_DATABASE_URL", url)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .output()
        .expect("keymgr runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The statements of a MOSIP script without its psql meta-commands (`\c`, `\ir`, `\COPY`).
fn sql(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURE}/{path}"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds the MOSIP database in `db` (as the superuser): MOSIP's db.sql from the schema on, the
/// DDL in ddl.sql's order, grants.sql for `role`, and dml.sql's seed rows from the CSV.
fn mosip_database(url: &str, name: &str, role: &str) {
    let mut c = PgConnection::establish(url).unwrap();
    let schema = sql("db.sql");
    let schema = schema.get(schema.find("DROP SCHEMA").unwrap()..).unwrap().replace("mosip_keymgr", name);
    c.batch_execute(&schema).unwrap();
    let order = std::fs::read_to_string(format!("{FIXTURE}/ddl.sql")).unwrap();
    for line in order.lines().filter_map(|l| l.trim().strip_prefix("\\ir ")) {
        c.batch_execute(&sql(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    c.batch_execute(&sql("grants.sql").replace("keymgruser", role).replace("mosip_keymgr", name)).unwrap();
    let csv = std::fs::read_to_string(format!("{FIXTURE}/dml/keymgr-key_policy_def.csv")).unwrap();
    for row in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = row.split(',').collect();
        c.batch_execute(&format!(
            "INSERT INTO keymgr.key_policy_def (app_id,key_validity_duration,is_active,cr_by,cr_dtimes,pre_expire_days,access_allowed) \
             VALUES ('{}',{},{},'{}',now(),{},'{}')",
            f[0], f[1], f[2], f[3], f[5], f[6]
        ))
        .unwrap();
    }
}

/// A database made by MOSIP's scripts and its application role (without DDL rights); dropped at
/// the end, the database first (the role holds privileges in it).
struct MosipDb {
    db: Option<postgres::TestDb>,
    admin: PgConnection,
    role: String,
    owner_url: String,
    app_url: String,
}

impl MosipDb {
    fn create(server: &str, name: &str, role: &str) -> Self {
        let db = postgres::TestDb::create(server, name);
        let role = format!("{role}_{}", std::process::id());
        let mut admin = postgres::connect_admin(server).unwrap();
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} WITH INHERIT LOGIN"))
            .unwrap();
        let owner_url = db.url();
        mosip_database(&owner_url, db.name(), &role);
        let (scheme_host, _) = owner_url.rsplit_once('/').unwrap();
        let host =
            scheme_host.rsplit_once('@').map_or(scheme_host.trim_start_matches("postgres://"), |(_, h)| h);
        let app_url = format!("postgres://{role}@{host}/{}", db.name());
        Self { db: Some(db), admin, role, owner_url, app_url }
    }
}

impl Drop for MosipDb {
    fn drop(&mut self) {
        drop(self.db.take());
        let _ = self.admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

fn count(c: &mut PgConnection, query: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(query)).get_result(c).unwrap()
}

fn text_of(c: &mut PgConnection, query: &str) -> String {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(query)).get_result(c).unwrap()
}

#[test]
fn serves_a_database_made_by_mosips_scripts() {
    let Some(server) = postgres::server_or_skip() else { return };
    let mosip = MosipDb::create(&server, "keymgr_takeover", "keymgruser");
    let (owner_url, app_url) = (mosip.owner_url.clone(), mosip.app_url.clone());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // As the application role, before the owner migrated: refused, naming the step.
    let out = keymgr(&data, &app_url, &["keygen"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("keymgr migrate"), "{}", text(&out));

    // The owner's step, twice.
    for _ in 0..2 {
        let out = keymgr(&data, &owner_url, &["migrate"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut c = PgConnection::establish(&owner_url).unwrap();
    // MOSIP's tables and seed rows kept as they were: its constraint names, its 12 policies.
    assert_eq!(count(&mut c, "(SELECT count(*) FROM pg_constraint WHERE conname = 'pk_keymals_id')"), 1);
    assert_eq!(count(&mut c, "(SELECT count(*) FROM keymgr.key_policy_def)"), 12);
    assert_eq!(count(&mut c, "(SELECT count(*) FROM keymgr.licensekey_list)"), 0);

    // Now the application role serves: the key generator, a base key, a packet round trip.
    let out = keymgr(&data, &app_url, &["keygen"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ZK random keys: 0 existed, 10000 made"), "{}", text(&out));
    let mut config = keymgr_service::ServiceConfig::load(None).unwrap();
    config.data_dir = Some(data.clone());
    config.database.url = Some(app_url.clone());
    config.keys.keygen_on_start = false;
    let km = keymgr_service::start(&config).unwrap().state.key_manager().clone();
    let (app, pair) = (AppId::new("REGISTRATION").unwrap(), RefId::new("10001_110011").unwrap());
    let mut policy = km.database().policy(&app).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Anyone;
    km.set_policy(&policy).unwrap();
    let base = km.get_certificate(&app, &pair).unwrap();
    let packet = km.encrypt(&app, &pair, b"registration packet", None, None).unwrap();
    assert_eq!(
        &*km.decrypt(&app, &pair, packet.as_bytes(), None, None, "u").unwrap(),
        b"registration packet"
    );
    assert!(km.verify_audit().unwrap().problem.is_none());

    // The rows have MOSIP's shapes.
    let alias = &base.alias;
    assert_eq!(
        text_of(&mut c, &format!("(SELECT cert_thumbprint FROM keymgr.key_alias WHERE id = '{alias}')")),
        base.certificate.thumbprint().to_hex()
    );
    let uni = text_of(&mut c, &format!("(SELECT uni_ident FROM keymgr.key_alias WHERE id = '{alias}')"));
    assert!(
        uni.len() == 40 && uni.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_lowercase()),
        "{uni}"
    );
    assert_eq!(
        count(
            &mut c,
            &format!(
                "(SELECT count(*) FROM keymgr.key_alias WHERE id = '{alias}' AND is_deleted = false AND ref_id = '10001_110011')"
            )
        ),
        1
    );
    let master =
        text_of(&mut c, "(SELECT id FROM keymgr.key_alias WHERE app_id = 'REGISTRATION' AND ref_id = '')");
    assert_eq!(
        text_of(&mut c, &format!("(SELECT master_key FROM keymgr.key_store WHERE id = '{alias}')")),
        master
    );
    let wrapped =
        text_of(&mut c, &format!("(SELECT private_key FROM keymgr.key_store WHERE id = '{alias}')"));
    assert!(wrapped.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "base64url");
    assert!(
        text_of(&mut c, &format!("(SELECT certificate_data FROM keymgr.key_store WHERE id = '{alias}')"))
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(
        count(
            &mut c,
            "(SELECT count(*) FROM keymgr.data_encrypt_keystore WHERE length(key) = 44 AND key_status = 'Active' AND cr_by = 'System')"
        ),
        10_000
    );
    // The masters are in the keystore, not in key_store, as MOSIP keeps them.
    assert_eq!(count(&mut c, &format!("(SELECT count(*) FROM keymgr.key_store WHERE id = '{master}')")), 0);
    drop(km);
    drop(c);
    drop(mosip);
}

const CHILD: &str = "KEYMGR_TEST_TAKEOVER_CHILD";

#[test]
fn serves_keys_mosips_java_service_made() {
    if std::env::var_os(CHILD).is_some() {
        return java_made_keys_served();
    }
    let Some(server) = postgres::server_or_skip() else { return };
    if !keymgr_test_support::softhsm::installed_or_skip() {
        return;
    }
    let mosip = MosipDb::create(&server, "keymgr_takeover_java", "keymgruser_java");
    let (owner_url, app_url) = (mosip.owner_url.clone(), mosip.app_url.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = keymgr(&dir.path().join("owner"), &owner_url, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));

    let token = keymgr_test_support::softhsm::Token::new("mosip-takeover");
    let out = token_child(&token, dir.path(), &owner_url, &app_url);
    let log = text(&out);
    println!("{log}");
    assert!(out.status.success(), "the child failed");
    assert!(log.contains("JAVA-MADE KEYS SERVED"), "the child ran");
    drop(mosip);
}

fn token_child(token: &keymgr_test_support::softhsm::Token, dir: &Path, owner: &str, app: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["serves_keys_mosips_java_service_made", "--exact", "--nocapture"])
        .env(CHILD, "1")
        .env(keymgr_test_support::softhsm::CONF_VAR, token.conf())
        .env("KEYMGR_KEYSTORE_PIN", keymgr_test_support::softhsm::PIN)
        .env("TAKEOVER_DIR", dir)
        .env("TAKEOVER_OWNER_URL", owner)
        .env("TAKEOVER_APP_URL", app)
        .output()
        .unwrap()
}

/// MOSIP's `uni_ident`: upper-case hex SHA-1 of `APP_REF_timestamp`.
fn mosip_unique_ident(app: &str, reference: &str, at: &str) -> String {
    keymgr_crypto::sha1_hex_upper(format!("{app}_{reference}_{at}").as_bytes())
}

/// In the child (SoftHSM2 configured): MOSIP's keys made as its Java service makes them, then
/// served.
fn java_made_keys_served() {
    use cryptoki::object::{Attribute, ObjectClass};
    use keymgr_crypto::issue::CertificateProfile;
    use keymgr_crypto::{AsymmetricKind, RsaPrivateKey, SigningKey};
    use keymgr_hsm::{KeyKind, Keystore as _, Pkcs11Config, Pkcs11Keystore};
    use keymgr_test_support::pki::{Authority, name};
    use keymgr_test_support::softhsm;

    let dir = PathBuf::from(std::env::var("TAKEOVER_DIR").unwrap());
    let owner_url = std::env::var("TAKEOVER_OWNER_URL").unwrap();
    let app_url = std::env::var("TAKEOVER_APP_URL").unwrap();
    let now = keymgr_model::UtcTime::now();
    let made = now.plus_days(-10);

    // ROOT and the REGISTRATION master, as MOSIP's key generator made them, in the token.
    let root = Authority::root(name("www.mosip.io", "IITB"), made, 1825);
    let master_key = SigningKey::generate(AsymmetricKind::Rsa2048).unwrap();
    let master_cert = root.issue(
        &master_key.public_key_spki().unwrap(),
        name("REGISTRATION", "IITB"),
        CertificateProfile::Intermediate,
        made,
        1825,
    );
    let master = Authority { key: master_key, certificate: master_cert };
    let (root_alias, master_alias, base_alias) = (random_alias(), random_alias(), random_alias());
    let token = Pkcs11Keystore::new(Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: "mosip-takeover".into(),
        pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
        pool_size: 2,
    })
    .unwrap();
    for (alias, authority) in [(&root_alias, &root), (&master_alias, &master)] {
        token.import(alias, KeyKind::Asymmetric(AsymmetricKind::Rsa2048), authority.key.pkcs8()).unwrap();
        token.store_certificate(alias, authority.certificate.der()).unwrap();
    }
    drop(token);
    // Reshaped as SunPKCS11 leaves them: private keys named by CKA_ID only, no public key objects.
    let pkcs11 = cryptoki::context::Pkcs11::new(softhsm::MODULE).unwrap();
    pkcs11
        .initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let session = pkcs11.open_rw_session(slot).unwrap();
    session
        .login(cryptoki::session::UserType::User, Some(&cryptoki::types::AuthPin::new(softhsm::PIN.into())))
        .unwrap();
    for alias in [&root_alias, &master_alias] {
        let label = Attribute::Label(alias.as_bytes().to_vec());
        for private in
            session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), label.clone()]).unwrap()
        {
            session.update_attributes(private, &[Attribute::Label(Vec::new())]).unwrap();
        }
        for public in session.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), label]).unwrap() {
            session.destroy_object(public).unwrap();
        }
    }
    session.logout().unwrap();
    drop(session);
    pkcs11.finalize().unwrap();

    // A base key of REGISTRATION/10001_110011 in key_store, wrapped by the master (reference
    // 3.3) in standard base64 as older rows are, its certificate signed by the master.
    let base_key = RsaPrivateKey::generate_2048().unwrap();
    let base_cert = master.issue(
        base_key.public_key().unwrap().spki_der(),
        name("REGISTRATION-10001_110011", "IITB"),
        CertificateProfile::Encryption,
        made,
        365,
    );
    let wrapped = keymgr_core::wrap_private_key_for_store(
        &base_key.to_pkcs8_der().unwrap(),
        &master.certificate.rsa_public_key().unwrap(),
    )
    .unwrap();
    let wrapped = keymgr_model::base64::encode_standard(
        &keymgr_model::base64::decode(wrapped.as_bytes(), 8192).unwrap(),
    );
    let stamp = |days: i64| now.plus_days(days).to_mosip_string().trim_end_matches('Z').replace('T', " ");
    let mut c = PgConnection::establish(&owner_url).unwrap();
    let alias_row = |alias: &str,
                     app: &str,
                     reference: &str,
                     cert: &keymgr_crypto::Certificate,
                     days: i64,
                     deleted: &str| {
        format!(
            "INSERT INTO keymgr.key_alias (id, app_id, ref_id, key_gen_dtimes, key_expire_dtimes, cert_thumbprint, uni_ident, cr_by, cr_dtimes, is_deleted) \
             VALUES ('{alias}', '{app}', '{reference}', '{}', '{}', '{}', '{}', 'SYSTEM', now(), {deleted});",
            stamp(-10),
            stamp(days - 10),
            cert.thumbprint().to_hex(),
            mosip_unique_ident(app, reference, &stamp(-10)),
        )
    };
    c.batch_execute(&format!(
        "{}{}{}INSERT INTO keymgr.key_store (id, master_key, private_key, certificate_data, cr_by, cr_dtimes, is_deleted) \
         VALUES ('{base_alias}', '{master_alias}', '{wrapped}', '{}', 'SYSTEM', now(), false);",
        alias_row(&root_alias, "ROOT", "", &root.certificate, 1825, "false"),
        alias_row(&master_alias, "REGISTRATION", "", &master.certificate, 1825, "NULL"),
        alias_row(&base_alias, "REGISTRATION", "10001_110011", &base_cert, 365, "false"),
        base_cert.to_pem(),
    ))
    .unwrap();
    let packet = keymgr_envelope::Codec::default()
        .seal_text(
            b"a packet a MOSIP client sealed",
            &keymgr_envelope::Recipient::from_certificate(&base_cert).unwrap(),
            keymgr_envelope::SealMode::VerR2,
        )
        .unwrap();

    // The service, as MOSIP's application role, on MOSIP's token.
    let config_path = dir.join("takeover.toml");
    std::fs::write(
        &config_path,
        format!(
            "[database]\nurl = \"{app_url}\"\n\n[keystore]\ntype = \"pkcs11\"\nmodule = \"{}\"\ntoken_label = \"mosip-takeover\"\n\n[keys]\nkeygen_on_start = false\n",
            softhsm::MODULE
        ),
    )
    .unwrap();
    let mut config = keymgr_service::ServiceConfig::load(Some(&config_path)).unwrap();
    config.data_dir = Some(dir.join("data"));
    let km = keymgr_service::start(&config).unwrap().state.key_manager().clone();
    let reg = AppId::new("REGISTRATION").unwrap();
    let mut policy = km.database().policy(&reg).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Anyone;
    km.set_policy(&policy).unwrap();
    let pair = RefId::new("10001_110011").unwrap();
    assert_eq!(
        &*km.decrypt(&reg, &pair, packet.as_bytes(), None, None, "u").unwrap(),
        b"a packet a MOSIP client sealed",
        "a packet sealed to MOSIP's key opens"
    );
    assert_eq!(km.get_certificate(&reg, &pair).unwrap().alias, base_alias, "MOSIP's key is the current key");
    assert_eq!(km.get_certificate(&reg, &RefId::new("").unwrap()).unwrap().alias, master_alias);

    // A new key, made under MOSIP's master, chained to MOSIP's ROOT, in MOSIP's shapes.
    let fresh_pair = RefId::new("10002_110012").unwrap();
    let fresh = km.get_certificate(&reg, &fresh_pair).unwrap();
    let sealed = km.encrypt(&reg, &fresh_pair, b"after the take-over", None, None).unwrap();
    assert_eq!(
        &*km.decrypt(&reg, &fresh_pair, sealed.as_bytes(), None, None, "u").unwrap(),
        b"after the take-over"
    );
    let chain = km.get_certificate_chain(&reg, &fresh_pair).unwrap();
    assert_eq!(chain.len(), 3, "leaf, MOSIP's master, MOSIP's ROOT");
    assert_eq!(chain[2].thumbprint(), root.certificate.thumbprint());
    let stored = |q: &str| format!("(SELECT {q} FROM keymgr.key_store WHERE id = '{}')", fresh.alias);
    assert_eq!(text_of(&mut c, &stored("master_key")), master_alias);
    assert!(text_of(&mut c, &stored("certificate_data")).starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        text_of(
            &mut c,
            &format!("(SELECT cert_thumbprint FROM keymgr.key_alias WHERE id = '{}')", fresh.alias)
        ),
        fresh.certificate.thumbprint().to_hex()
    );
    println!("JAVA-MADE KEYS SERVED");
}

/// A fresh alias (MOSIP's are random UUIDs).
fn random_alias() -> String {
    let mut bytes = [0u8; 16];
    keymgr_crypto::fill_random(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}
