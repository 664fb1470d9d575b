//! The attacks of the security review, each tried against the real server loop on loopback
//! (raw HTTP/1.1 over TCP, so that slow headers, stalled bodies and parallel floods are what
//! a hostile client would send), each named after what it stops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keymgr_core::{KeyManager, KeyManagerConfig, SystemClock};
use keymgr_crypto::password::Argon2Params;
use keymgr_db::Database;
use keymgr_envelope::{Recipient, seal_text};
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_http::auth::TokenConfig;
use keymgr_http::metrics::Metrics;
use keymgr_http::server::{ServerLimits, serve};
use keymgr_http::{AppState, Authenticator, Limits, router};
use keymgr_model::{AccessAllowed, AppId, RefId, UtcTime};
use keymgr_test_support::tokens::sha256_hex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token";
const READER: &str = "reader-token";

struct Service {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    km: Arc<KeyManager>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn token(t: &str, user: &str, roles: &[&str]) -> TokenConfig {
    TokenConfig {
        sha256: sha256_hex(t),
        user: user.into(),
        roles: roles.iter().map(|r| (*r).into()).collect(),
    }
}

/// A key manager on SQLite and the file keystore, served on a free loopback port.
async fn service(limits: Limits, server: ServerLimits, argon2: Argon2Params) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 4).unwrap();
    let config = KeyManagerConfig { argon2, pin_kdf_iterations: 1000, ..KeyManagerConfig::default() };
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), config));
    let k = Arc::clone(&km);
    tokio::task::spawn_blocking(move || k.run_keygen(&[])).await.unwrap().unwrap();
    let tokens =
        [token(ADMIN, "admin", &["KEY_ADMIN", "CRYPTO_USER"]), token(READER, "regproc", &["CRYPTO_USER"])];
    let auth = Authenticator::new(&tokens, &Default::default()).unwrap();
    let state = Arc::new(AppState::new(Arc::clone(&km), auth, limits, Arc::new(Metrics::default())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(state), server, async move {
        let _ = stopped.await;
    }));
    Service { _dir: dir, addr, km, _stop: stop }
}

async fn default_service() -> Service {
    service(
        Limits::default(),
        ServerLimits::default(),
        Argon2Params { iterations: 1, memory_kib: 64, parallelism: 1 },
    )
    .await
}

fn wrap(request: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": "mosip.keymanager", "version": "1.0", "requesttime": "2026-11-22T10:00:00.000Z", "request": request}))
        .unwrap()
}

/// The head of a request that closes its connection after the answer.
fn head(method: &str, path: &str, token: &str, content_length: usize) -> String {
    format!(
        "{method} /v1/keymanager{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    )
}

/// Reads a whole answer; its status and JSON body (`Value::Null` for none).
async fn answer(stream: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn send(addr: SocketAddr, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head(method, path, token, body.len()).as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    answer(&mut stream).await
}

async fn post(addr: SocketAddr, path: &str, token: &str, request: Value) -> (u16, Value) {
    send(addr, "POST", path, token, &wrap(request)).await
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or_else(|| panic!("no error in {body}"))
}

async fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8(raw).unwrap()
}

fn gauge(metrics: &str, name: &str) -> usize {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

fn counted(metrics: &str, endpoint: &str, outcome: &str) -> usize {
    let key = format!("keymgr_http_requests_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn now_text() -> String {
    UtcTime::now().to_mosip_string()
}

async fn open_access(km: &Arc<KeyManager>, app: &str) {
    let km = Arc::clone(km);
    let app = AppId::new(app).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut policy = km.database().policy(&app).unwrap().unwrap();
        policy.access_allowed = AccessAllowed::Anyone;
        km.set_policy(&policy).unwrap();
    })
    .await
    .unwrap();
}

/// Somebody who can read `key_store` and holds a decrypt token prepends the master's
/// thumbprint to a stored private key and asks `/decrypt` to open it. Also envelopes sealed
/// to ROOT and `KERNEL`/`SIGN`: keystore keys open nothing for callers.
#[tokio::test]
async fn decrypt_unwraps_key_store_attack_is_refused() {
    let s = default_service().await;
    let (status, body) = send(
        s.addr,
        "GET",
        "/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011",
        ADMIN,
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let km = Arc::clone(&s.km);
    let (row, master) = tokio::task::spawn_blocking(move || {
        let reg = AppId::new("REGISTRATION").unwrap();
        let base = km.get_certificate(&reg, &RefId::new("10001_110011").unwrap()).unwrap();
        let row = km.database().stored_key(&base.alias).unwrap().unwrap();
        (row, km.get_certificate(&reg, &RefId::new("").unwrap()).unwrap().certificate)
    })
    .await
    .unwrap();
    let mut forged = master.thumbprint().as_bytes().to_vec();
    forged.extend(keymgr_envelope::base64::decode(row.private_key.as_bytes(), 1 << 20).unwrap());
    let forged = keymgr_envelope::base64::encode(&forged);
    for reference in ["10001_110011", ""] {
        let (status, body) = post(
            s.addr,
            "/decrypt",
            READER,
            json!({"applicationId": "REGISTRATION", "referenceId": reference, "timeStamp": now_text(), "data": forged}),
        )
        .await;
        assert_eq!((status, error_code(&body)), (200, "KER-KMS-024"), "ref {reference:?}: {body}");
        assert_eq!(body["response"], Value::Null);
    }
    for (app, reference) in [("ROOT", ""), ("KERNEL", "SIGN")] {
        open_access(&s.km, app).await;
        let km = Arc::clone(&s.km);
        let cert = tokio::task::spawn_blocking(move || {
            km.get_certificate(&AppId::new(app).unwrap(), &RefId::new(reference).unwrap())
                .unwrap()
                .certificate
        })
        .await
        .unwrap();
        let sealed = seal_text(b"to a keystore key", &Recipient::from_certificate(&cert).unwrap()).unwrap();
        let (_, body) = post(
            s.addr,
            "/decrypt",
            ADMIN,
            json!({"applicationId": app, "referenceId": reference, "timeStamp": now_text(), "data": sealed}),
        )
        .await;
        assert_eq!(error_code(&body), "KER-KMS-024", "{app}/{reference}: {body}");
    }
}

/// 16 MiB of JSON deflates to a few KiB; `/jwtDecrypt` must stop inflating at its own limit.
#[tokio::test]
async fn jwe_bomb_is_refused() {
    let s = default_service().await;
    let km = Arc::clone(&s.km);
    let cert = tokio::task::spawn_blocking(move || {
        km.get_certificate(&AppId::new("REGISTRATION").unwrap(), &RefId::new("jwe").unwrap())
            .unwrap()
            .certificate
    })
    .await
    .unwrap();
    let options = keymgr_jose::JweOptions { compress: true, ..Default::default() };
    let json_of = |len: usize| format!("{{\"a\":\"{}\"}}", "0".repeat(len));
    let bomb = keymgr_jose::encrypt(json_of(16 << 20).as_bytes(), &cert, &options).unwrap();
    assert!(bomb.len() < 64 * 1024, "the bomb is small: {}", bomb.len());
    let decrypt = |token: String| {
        post(
            s.addr,
            "/jwtDecrypt",
            ADMIN,
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": token}),
        )
    };
    let (status, body) = decrypt(bomb).await;
    assert_eq!((status, error_code(&body)), (200, "KER-CRY-015"), "{body}");
    let fair = keymgr_jose::encrypt(json_of(1 << 20).as_bytes(), &cert, &options).unwrap();
    let (status, body) = decrypt(fair).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], Value::Null, "1 MiB inflates: {body}");
}

/// With a 1 MiB budget, one client has sent 600 KB of its body and stalls; five more announce
/// 600 KB each and are answered 503 on their `Content-Length`, before a byte of their bodies
/// is read. Announcing without sending holds nothing; one token cannot take every place.
#[tokio::test]
async fn parallel_large_body_flood_is_turned_away() {
    let limits = Limits {
        max_body_bytes: 1 << 20,
        max_in_flight_bytes: 1 << 20,
        max_in_flight_per_caller: 8,
        ..Limits::default()
    };
    let s = service(
        limits,
        ServerLimits::default(),
        Argon2Params { iterations: 1, memory_kib: 64, parallelism: 1 },
    )
    .await;
    let bytes_in_flight =
        |addr| async move { gauge(&metrics(addr).await, "keymgr_http_body_bytes_in_flight") };

    // Announcing a large body and sending nothing reserves nothing.
    let mut announcer = TcpStream::connect(s.addr).await.unwrap();
    announcer.write_all(head("POST", "/decrypt", READER, 900_000).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bytes_in_flight(s.addr).await, 0, "announced bytes are not reserved");
    drop(announcer);

    let mut holder = TcpStream::connect(s.addr).await.unwrap();
    holder.write_all(head("POST", "/decrypt", READER, 700_000).as_bytes()).await.unwrap();
    holder.write_all(&vec![b' '; 600_000]).await.unwrap();
    let mut reserved = 0;
    for _ in 0..200 {
        reserved = bytes_in_flight(s.addr).await;
        if reserved >= 600_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(reserved >= 600_000, "the sent bytes are reserved: {reserved}");

    let started = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(s.addr).await.unwrap();
        stream.write_all(head("POST", "/decrypt", READER, 600_000).as_bytes()).await.unwrap();
        flood.push(stream);
    }
    for mut stream in flood {
        let (status, body) =
            tokio::time::timeout(Duration::from_secs(10), answer(&mut stream)).await.unwrap();
        assert_eq!((status, error_code(&body)), (503, "KER-KMS-503"), "{body}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once, not after a wait");
    let m = metrics(s.addr).await;
    assert_eq!(counted(&m, "postdecrypt", "KER-KMS-503"), 5, "refusals are counted");
    drop(holder);

    // The budget comes back: a body of most of it is read again.
    let mut freed = false;
    for _ in 0..100 {
        if bytes_in_flight(s.addr).await == 0 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the dropped request gave its bytes back");
    let big = wrap(
        json!({"applicationId": "REGISTRATION", "referenceId": "x", "timeStamp": now_text(), "data": "A".repeat(700_000)}),
    );
    let (status, body) = send(s.addr, "POST", "/encrypt", ADMIN, &big).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], Value::Null, "{body}");

    // Over the body limit by Content-Length alone: 413 without a byte of body.
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(head("POST", "/decrypt", READER, 2 << 20).as_bytes()).await.unwrap();
    let (status, body) = answer(&mut stream).await;
    assert_eq!((status, error_code(&body)), (413, "KER-KMS-005"));

    // One token holds at most 8 places: the ninth stalled request of READER is refused, while
    // ADMIN still gets in.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(s.addr).await.unwrap();
        stream.write_all(head("POST", "/decrypt", READER, 10).as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    let mut ninth = None;
    for _ in 0..100 {
        let (status, body) = post(s.addr, "/decrypt", READER, json!({})).await;
        if status == 503 {
            ninth = Some(error_code(&body).to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ninth.as_deref(), Some("KER-KMS-503"), "the caller's share is taken");
    let (status, body) =
        send(s.addr, "GET", "/getCertificate?applicationId=REGISTRATION&referenceId=x", ADMIN, b"").await;
    assert_eq!(status, 200, "another caller is served: {body}");
    drop(stalled);
}

/// Argon2 takes 64 MiB a hash: one runs, one waits, the rest get 429 at once; a waiter whose
/// request times out (408 in MOSIP's wrapper) leaves the queue and its hash never runs.
#[tokio::test]
async fn argon2_queue_is_bounded_and_abandoned_on_timeout() {
    let limits = Limits {
        argon2_running: 1,
        argon2_waiting: 1,
        request_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    // Slow on purpose (64 MiB, 40 passes): the first hash must outlast the steps below.
    let slow = Argon2Params { iterations: 40, memory_kib: 64 * 1024, parallelism: 1 };
    let server = ServerLimits { idle_timeout: Duration::from_secs(30), ..ServerLimits::default() };
    let s = service(limits, server, slow).await;
    let hash = || post(s.addr, "/generateArgon2Hash", READER, json!({"inputData": "secret"}));
    let addr = s.addr;
    let first = tokio::spawn(async move {
        post(addr, "/generateArgon2Hash", READER, json!({"inputData": "secret"})).await
    });
    let wait_for = |running: usize, waiting: usize| async move {
        for _ in 0..400 {
            let m = metrics(addr).await;
            if gauge(&m, "keymgr_argon2_running") == running && gauge(&m, "keymgr_argon2_waiting") == waiting
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    };
    assert!(wait_for(1, 0).await, "the first hash runs");
    let started = Instant::now();
    let second = tokio::spawn(async move {
        post(addr, "/generateArgon2Hash", READER, json!({"inputData": "secret"})).await
    });
    assert!(wait_for(1, 1).await, "the second waits");
    let (status, body) = hash().await;
    assert_eq!((status, error_code(&body)), (429, "KER-KMS-429"), "the queue is full: {body}");
    let (status, body) = second.await.unwrap();
    assert_eq!((status, error_code(&body)), (408, "KER-KMS-408"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let m = metrics(addr).await;
    assert_eq!(gauge(&m, "keymgr_argon2_waiting"), 0, "the timed-out waiter left the queue");
    let _ = first.await.unwrap();
    assert!(wait_for(0, 0).await, "the first hash ends");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = metrics(addr).await;
    assert_eq!(gauge(&m, "keymgr_argon2_running"), 0, "the abandoned hash never started");
    assert_eq!(counted(&m, "postgenerateargon2hash", "KER-KMS-429"), 1);
    assert!(counted(&m, "postgenerateargon2hash", "KER-KMS-408") >= 1);
}

/// A client that sends half a request head and stops is cut off at the header-read timeout,
/// while other clients are served.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let server = ServerLimits { header_read_timeout: Duration::from_millis(500), ..ServerLimits::default() };
    let s =
        service(Limits::default(), server, Argon2Params { iterations: 1, memory_kib: 64, parallelism: 1 })
            .await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"POST /v1/keymanager/decrypt HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let started = Instant::now();
    let (status, _) =
        send(s.addr, "GET", "/getCertificate?applicationId=REGISTRATION&referenceId=a", ADMIN, b"").await;
    assert_eq!(status, 200, "others are served meanwhile");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was disconnected");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the timeout");
    let text = String::from_utf8_lossy(&rest);
    assert!(rest.is_empty() || text.starts_with("HTTP/1.1 408"), "no answer but a 408: {text}");
}

/// Connections over the cap wait in the backlog until one closes.
#[tokio::test]
async fn connections_over_the_cap_wait() {
    let server = ServerLimits { max_connections: 2, ..ServerLimits::default() };
    let s =
        service(Limits::default(), server, Argon2Params { iterations: 1, memory_kib: 64, parallelism: 1 })
            .await;
    let idle_one = TcpStream::connect(s.addr).await.unwrap();
    let _idle_two = TcpStream::connect(s.addr).await.unwrap();
    let addr = s.addr;
    let third = tokio::spawn(async move {
        send(addr, "GET", "/getCertificate?applicationId=REGISTRATION&referenceId=a", ADMIN, b"").await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "the third connection waits while two are open");
    drop(idle_one);
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), third).await.unwrap().unwrap();
    assert_eq!(status, 200, "served once a place is free");
}

/// `force=true` replaces a current key: a CRYPTO_USER token may read and create signing keys
/// but not rotate them.
#[tokio::test]
async fn crypto_user_force_rotation_is_refused() {
    let s = default_service().await;
    let request = |force: bool| json!({"applicationId": "REGISTRATION", "referenceId": "EC_SECP256R1_SIGN", "force": force});
    let (status, body) = post(s.addr, "/generateECSignKey/CERTIFICATE", READER, request(false)).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], Value::Null, "{body}");
    let (status, body) = post(s.addr, "/generateECSignKey/CERTIFICATE", READER, request(true)).await;
    assert_eq!((status, error_code(&body)), (403, "KER-ATH-403"), "{body}");
    let (status, body) = post(s.addr, "/generateECSignKey/CERTIFICATE", ADMIN, request(true)).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], Value::Null, "{body}");
}

/// `/jwtEncrypt` with a certificate that does not parse must not seal to the application's
/// own key instead.
#[tokio::test]
async fn jwt_encrypt_with_a_broken_certificate_is_an_error() {
    let s = default_service().await;
    let (_, body) = post(
        s.addr,
        "/jwtEncrypt",
        ADMIN,
        json!({"applicationId": "REGISTRATION", "referenceId": "x", "x509Certificate": "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----", "data": keymgr_envelope::base64::encode(b"{\"a\":1}")}),
    )
    .await;
    assert_eq!(error_code(&body), "KER-KMS-013", "{body}");
}

/// The health answer names components and their state, never an error text or a path.
#[tokio::test]
async fn health_says_up_or_down_only() {
    let s = default_service().await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(
            b"GET /v1/keymanager/actuator/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let (status, body) = answer(&mut stream).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "UP", "components": {"db": {"status": "UP"}, "hsm": {"status": "UP"}}})
    );
}

/// An unwrapped base key must leave memory at its time to live even if nobody asks for it
/// again (a lookup would drop it; the timer does without one).
#[tokio::test]
async fn expired_unwrapped_keys_leave_memory_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 4).unwrap();
    let config =
        KeyManagerConfig { base_key_cache_ttl: Duration::from_millis(300), ..KeyManagerConfig::default() };
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), config));
    let k = Arc::clone(&km);
    tokio::task::spawn_blocking(move || {
        k.run_keygen(&[]).unwrap();
        let (app, reference) = (AppId::new("REGISTRATION").unwrap(), RefId::new("p").unwrap());
        let sealed = k.encrypt(&app, &reference, b"x", None, None).unwrap();
        k.decrypt(&app, &reference, sealed.as_bytes(), None, None, "u").unwrap();
    })
    .await
    .unwrap();
    assert_eq!(km.cached_base_keys(), 1, "the key that made the envelope is cached");
    let auth = Authenticator::new(&[], &Default::default()).unwrap();
    let state =
        Arc::new(AppState::new(Arc::clone(&km), auth, Limits::default(), Arc::new(Metrics::default())));
    let timer = keymgr_http::start_housekeeping(&state, Duration::from_millis(100));
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if km.cached_base_keys() == 0 {
            gone = true;
            break;
        }
    }
    timer.abort();
    assert!(gone, "the expired key left the cache without a lookup");
}
