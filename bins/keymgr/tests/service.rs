//! The real `keymgr serve` binary against PostgreSQL and a SoftHSM2 token, over HTTP: the
//! registration-client flow end to end; two replicas on one database and one token making one
//! key per pair; and `kill -9` of one replica under load, which leaves the other serving and
//! no half-written key.
//!
//! Needs PostgreSQL (`KEYMGR_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432) and
//! SoftHSM2. Without them the tests say `SKIPPED`; with `KEYMGR_REQUIRE_PG=1` /
//! `KEYMGR_REQUIRE_HSM=1` (set by `.ci/run`) that is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use keymgr_crypto::Certificate;
use keymgr_model::KeyRef;
use keymgr_test_support::tokens::sha256_hex;
use keymgr_test_support::{postgres, softhsm};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-test-token";

/// The PostgreSQL server and the SoftHSM2 module, or `None` after saying what is missing.
fn services() -> Option<String> {
    let base = postgres::server_or_skip()?;
    softhsm::installed_or_skip().then_some(base)
}

/// A database, a SoftHSM2 token and a configuration file for the service; dropped after.
struct Deployment {
    db: postgres::TestDb,
    dir: tempfile::TempDir,
    softhsm_conf: PathBuf,
}

impl Deployment {
    fn new(base: &str, tag: &str) -> Self {
        let db = postgres::TestDb::create(base, &format!("keymgr_e2e_{tag}"));
        let dir = tempfile::tempdir().unwrap();
        let softhsm_conf = softhsm::init_token(dir.path(), "keymgr");
        let d = Self { db, dir, softhsm_conf };
        std::fs::write(
            d.dir.path().join("keymgr.toml"),
            format!(
                r#"
[database]
url = "{url}"
pool_size = 8

[keystore]
type = "pkcs11"
module = "{module}"
token_label = "keymgr"
sessions = 4

[[auth.tokens]]
sha256 = "{sha}"
user = "e2e"
roles = ["KEY_ADMIN", "CRYPTO_USER"]
"#,
                url = d.url(),
                module = softhsm::MODULE,
                sha = sha256_hex(TOKEN),
            ),
        )
        .unwrap();
        d
    }

    fn url(&self) -> String {
        self.db.url()
    }

    /// Starts `keymgr serve` on a free port and waits until it answers.
    fn start(&self, name: &str) -> Replica {
        let data = self.dir.path().join(name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_keymgr"))
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("keymgr.toml"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .env("SOFTHSM2_CONF", &self.softhsm_conf)
            .env("KEYMGR_KEYSTORE_PIN", softhsm::PIN)
            .env("KEYMGR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the service prints its URL").unwrap();
        let url =
            first.strip_prefix("keymgr serving http://").unwrap_or_else(|| panic!("unexpected: {first}"));
        let addr = url.split('/').next().unwrap().to_owned();
        // Keep reading its output so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        Replica { child, addr }
    }
}

struct Replica {
    child: Child,
    addr: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status and the JSON body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
    let head = format!(
        "{method} /v1/keymanager{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// `GET path` outside the API prefix, without a token: the status and the whole answer text.
fn get_page(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

fn get_certificate(addr: &str, app: &str, reference: &str) -> std::io::Result<(u16, Value)> {
    http(addr, "GET", &format!("/getCertificate?applicationId={app}&referenceId={reference}"), None)
}

#[test]
fn registration_client_flow_over_http_on_postgres_and_softhsm() {
    let Some(base) = services() else { return };
    let d = Deployment::new(&base, "flow");
    let replica = d.start("a");

    let (status, health) = http(&replica.addr, "GET", "/actuator/health", None).unwrap();
    assert_eq!((status, health["components"]["hsm"]["status"].as_str()), (200, Some("UP")), "{health}");

    let (status, cert) = get_certificate(&replica.addr, "REGISTRATION", "10001_110011").unwrap();
    assert_eq!(status, 200, "{cert}");
    let pem = cert["response"]["certificate"].as_str().unwrap_or_else(|| panic!("{cert}"));
    let cert = Certificate::from_pem(pem.as_bytes()).unwrap();
    let packet = b"<registration packet>".repeat(5000);
    let sealed =
        keymgr_envelope::seal_text(&packet, &keymgr_envelope::Recipient::from_certificate(&cert).unwrap())
            .unwrap();
    let request = json!({"request": {"applicationId": "REGISTRATION", "referenceId": "10001_110011",
        "timeStamp": "2026-11-22T10:00:00.000Z", "data": sealed}});
    let (status, opened) = http(&replica.addr, "POST", "/decrypt", Some(&request)).unwrap();
    assert_eq!(status, 200);
    assert_eq!(opened["errors"], Value::Null, "{opened}");
    assert_eq!(opened["response"]["data"], keymgr_envelope::base64::encode(&packet));

    // The binary serves the operator console beside the API.
    let (status, page) = get_page(&replica.addr, "/console/login").unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("keymgr_console_login=") && page.contains("name=\"token\""), "{page}");
    let (status, page) = get_page(&replica.addr, "/console/hierarchy").unwrap();
    assert!(status == 303 && page.contains("location: /console/login"), "{page}");

    // The master that wraps the base key is in the token; the chain ends at ROOT.
    let (_, chain) = http(
        &replica.addr,
        "GET",
        "/getCertificateChain?applicationId=REGISTRATION&referenceId=10001_110011",
        None,
    )
    .unwrap();
    assert!(
        chain["response"]["certificatesTrustPath"].as_str().unwrap().starts_with("-----BEGIN PKCS7-----")
    );
}

/// Rows of `key_store` without their `key_alias` row, and base aliases without `key_store`.
fn half_written(url: &str) -> (i64, i64) {
    let mut c = PgConnection::establish(url).unwrap();
    let count = |c: &mut PgConnection, sql: &str| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)).get_result(c).unwrap()
    };
    let store_only = count(
        &mut c,
        "(SELECT count(*) FROM keymgr.key_store s LEFT JOIN keymgr.key_alias a ON a.id = s.id WHERE a.id IS NULL)",
    );
    let alias_only = count(
        &mut c,
        "(SELECT count(*) FROM keymgr.key_alias a LEFT JOIN keymgr.key_store s ON s.id = a.id \
          WHERE s.id IS NULL AND a.ref_id <> '' \
          AND NOT (a.app_id = 'KERNEL' AND a.ref_id IN ('SIGN', 'IDENTITY_CACHE')))",
    );
    (store_only, alias_only)
}

#[test]
fn two_replicas_one_key_per_pair_and_kill_9_under_load() {
    let Some(base) = services() else { return };
    let d = Deployment::new(&base, "replicas");
    // A rolling start: the second replica finds the masters the first one made.
    let a = d.start("a");
    let b = d.start("b");
    let addrs = [a.addr.clone(), b.addr.clone()];

    // 16 threads, 8 fresh pairs, every pair asked of both replicas at once.
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            std::thread::spawn(move || {
                for p in 0..8 {
                    let (status, body) =
                        get_certificate(&addr, "REGISTRATION", &format!("race-{p}")).unwrap();
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["errors"], Value::Null, "{body}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let db = keymgr_db::Database::connect(&d.url(), 2).unwrap();
    for p in 0..8 {
        let key_ref = KeyRef::parse("REGISTRATION", &format!("race-{p}")).unwrap();
        assert_eq!(db.aliases_for(&key_ref).unwrap().len(), 1, "one key for {key_ref}");
    }

    // Load on both, then kill -9 of replica a: b keeps answering, nothing is half written.
    let stop = Arc::new(AtomicBool::new(false));
    let served_by_b = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (addr, stop, served) = (addrs[i % 2].clone(), Arc::clone(&stop), Arc::clone(&served_by_b));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let result = get_certificate(&addr, "REGISTRATION", &format!("load-{i}-{n}"));
                    if i % 2 == 1 {
                        let (status, body) = result.expect("replica b keeps serving");
                        assert_eq!(status, 200, "{body}");
                        assert_eq!(body["errors"], Value::Null, "{body}");
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    // Replica a's requests fail once it is killed; that is the point.
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut a = a;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let after_kill = served_by_b.load(Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(served_by_b.load(Ordering::Relaxed) > after_kill, "replica b served after the kill");
    assert_eq!(
        half_written(&d.url()),
        (0, 0),
        "no key_store row without its alias, no base alias without key_store"
    );
    let (status, _) = http(&b.addr, "GET", "/actuator/health", None).unwrap();
    assert_eq!(status, 200);
}
