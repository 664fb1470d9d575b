//! Bearer JWTs of an OpenID Connect provider, minted by an independent implementation:
//! Python's `cryptography` makes the keys, `joserfc` writes the JWKS (as Keycloak does, with an
//! `RSA-OAEP` encryption key beside the signature keys) and signs RS256, ES256 and EdDSA
//! tokens; the attacks it refuses to make (`alg: none`, HS256) are made by hand. Checked: valid tokens give their user and roles; expired,
//! not yet valid, wrong issuer or audience, unknown `kid`, `alg: none`, HS256 keyed with the
//! RSA public key and tampered tokens are 401; a missing role is 403; static tokens (one with
//! dots among them) still work. The URL source is served by a small HTTP server (and an https
//! one with its own CA) in the test: refresh on an unknown `kid` is rate-limited, a rotation is
//! picked up, failed fetches keep the keys, the task ends with its verifier. Says `SKIPPED`
//! when python3 with `cryptography` is not there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use keymgr_core::{KeyManager, KeyManagerConfig, KeystoreObserver, ObservedKeystore, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_http::auth::TokenConfig;
use keymgr_http::metrics::Metrics;
use keymgr_http::{ApiError, AppState, Authenticator, Limits, Principal, router};
use keymgr_model::AppId;
use keymgr_oidc::{JwksFetcher, OidcSettings, OidcVerifier, RefreshTimes};
use keymgr_service::OidcBearer;
use keymgr_test_support::python;
use keymgr_test_support::tokens::sha256_hex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

const ISSUER: &str = "https://iam.example/realms/mosip";
const AUDIENCE: &str = "mosip-keymanager";

/// `keys DIR`: makes the keys (PEM files) and `jwks.json` (rsa, ec, ed and Keycloak's RSA-OAEP
/// encryption key) and `jwks2.json` (after a rotation: rsa2 and ec), the JWKs exported by
/// joserfc. `mint DIR SPEC`: one token a line for each entry of the JSON list SPEC: `{"key",
/// "header", "claims", "mode"}` with mode `sign` (joserfc's `jwt.encode`), `hs256` (HMAC keyed
/// with the RSA public key's PEM, by hand: joserfc refuses it), `none` (`h.p.`), `none-sig`
/// (`alg: none` with some signature) or `tamper` (signed, then the payload replaced by
/// `forged`).
const PYTHON: &str = r#"
import base64, hashlib, hmac, json, os, sys, warnings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import import_key

warnings.simplefilter("ignore")

def b64e(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def part(obj): return b64e(json.dumps(obj, separators=(",", ":")).encode())

def pem_of(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())

def kty(key):
    if isinstance(key, rsa.RSAPrivateKey): return "RSA", "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey): return "EC", "ES256"
    return "OKP", "EdDSA"

def load(d, name):
    key = serialization.load_pem_private_key(open(os.path.join(d, name + ".pem"), "rb").read(), None)
    return key, import_key(pem_of(key), kty(key)[0])

def jwk(name, key):
    family, alg = kty(key)
    out = import_key(pem_of(key), family).as_dict(private=False)
    out.update({"kid": name, "alg": alg, "use": "sig"})
    return out

mode, d = sys.argv[1], sys.argv[2]
if mode == "keys":
    keys = {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "enc": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec": ec.generate_private_key(ec.SECP256R1()),
            "ed": ed25519.Ed25519PrivateKey.generate()}
    for name, key in keys.items():
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        open(os.path.join(d, name + ".pem"), "wb").write(pem)
    enc = jwk("enc", keys["enc"])
    enc.update({"use": "enc", "alg": "RSA-OAEP"})
    first = [jwk(n, keys[n]) for n in ("rsa", "ec", "ed")] + [enc]
    open(os.path.join(d, "jwks.json"), "w").write(json.dumps({"keys": first}))
    open(os.path.join(d, "jwks2.json"), "w").write(json.dumps({"keys": [jwk("rsa2", keys["rsa2"]), jwk("ec", keys["ec"])]}))
else:
    for spec in json.load(open(sys.argv[3])):
        key, joserfc_key = load(d, spec["key"])
        header, claims, how = spec["header"], spec["claims"], spec.get("mode", "sign")
        h, p = part(header), part(claims)
        data = (h + "." + p).encode()
        if how == "hs256":
            secret = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
            token = h + "." + p + "." + b64e(hmac.new(secret, data, hashlib.sha256).digest())
        elif how == "none":
            token = h + "." + p + "."
        elif how == "none-sig":
            token = h + "." + p + "." + b64e(b"signature")
        else:
            token = jwt.encode(header, claims, joserfc_key, algorithms=[header["alg"]])
            if how == "tamper":
                token = h + "." + part(spec["forged"]) + "." + token.split(".")[2]
        print(token)
"#;

/// The keys and JWKS files Python made, and the minting script.
struct Idp {
    dir: tempfile::TempDir,
    script: PathBuf,
}

impl Idp {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("idp.py");
        std::fs::write(&script, PYTHON).unwrap();
        let out = Command::new("python3").arg(&script).arg("keys").arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self { dir, script }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One token per spec, in order.
    fn mint(&self, specs: &[Value]) -> Vec<String> {
        let spec_file = self.path("spec.json");
        std::fs::write(&spec_file, serde_json::to_vec(specs).unwrap()).unwrap();
        let out = Command::new("python3")
            .arg(&self.script)
            .arg("mint")
            .arg(self.dir.path())
            .arg(&spec_file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tokens: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(tokens.len(), specs.len());
        tokens
    }

    fn one(&self, spec: Value) -> String {
        self.mint(&[spec]).remove(0)
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims as Keycloak writes them for a service account with realm roles.
fn claims(user: &str, roles: &[&str]) -> Value {
    json!({
        "exp": now() + 300, "iat": now() - 5, "jti": "7c1f", "iss": ISSUER,
        "aud": [AUDIENCE, "account"], "sub": "0b5ad1c2-8d5e-4c4e-9d57-0d6c2f7a1b11", "typ": "Bearer",
        "azp": "mosip-regproc-client", "preferred_username": user,
        "realm_access": {"roles": roles}, "scope": "profile email",
    })
}

fn spec(key: &str, alg: &str, claims: Value) -> Value {
    json!({"key": key, "header": {"alg": alg, "typ": "JWT", "kid": key}, "claims": claims})
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn settings() -> OidcSettings {
    OidcSettings::new(ISSUER, vec![AUDIENCE.into()])
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    h
}

/// Static tokens: a plain one and one shaped like a JWT (three base64url parts).
const STATIC: &str = "static-admin-token";
const DOTTED_STATIC: &str = "abc.def.ghi";

fn authenticator(verifier: Arc<OidcVerifier>) -> Authenticator {
    let tokens = [
        TokenConfig { sha256: sha256_hex(STATIC), user: "admin".into(), roles: vec!["KEY_ADMIN".into()] },
        TokenConfig {
            sha256: sha256_hex(DOTTED_STATIC),
            user: "dotted".into(),
            roles: vec!["CRYPTO_USER".into()],
        },
    ];
    Authenticator::new(&tokens, &Default::default()).unwrap().with_verifier(Arc::new(OidcBearer(verifier)))
}

fn authorize(auth: &Authenticator, token: &str, endpoint: &str) -> Result<Principal, ApiError> {
    auth.authorize(&bearer(token), endpoint)
}

#[test]
fn tokens_from_a_jwks_file() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    let verifier = Arc::new(OidcVerifier::from_file(settings(), &idp.path("jwks.json")).unwrap());
    assert_eq!(verifier.key_set().len(), 3, "rsa, ec and ed; the RSA-OAEP encryption key is skipped");
    let auth = authenticator(Arc::clone(&verifier));
    let t = now();
    let user = claims("regproc", &["CRYPTO_USER", "offline_access"]);

    // Valid tokens of each algorithm: the user and roles of their claims.
    let valid = idp.mint(&[
        spec("rsa", "RS256", user.clone()),
        spec("ec", "ES256", user.clone()),
        spec("ed", "EdDSA", user.clone()),
        spec("rsa", "RS256", claims("regadmin", &["KEY_ADMIN"])),
    ]);
    for token in &valid[..3] {
        let who = authorize(&auth, token, "postdecrypt").unwrap();
        assert_eq!(who.user, "regproc");
        assert_eq!(who.roles, ["CRYPTO_USER", "offline_access"]);
    }
    assert_eq!(authorize(&auth, &valid[3], "putrevokekey").unwrap().user, "regadmin");

    // A role missing: authenticated, then 403.
    assert!(matches!(authorize(&auth, &valid[0], "putrevokekey"), Err(ApiError::Forbidden(_))));
    let no_role = idp.one(spec("rsa", "RS256", claims("nobody", &["offline_access"])));
    assert!(matches!(authorize(&auth, &no_role, "postdecrypt"), Err(ApiError::Forbidden(_))));

    // Every refusal is 401, whatever the reason.
    let refused = [
        ("expired", spec("rsa", "RS256", with(user.clone(), "exp", json!(t - 120)))),
        ("not valid yet", spec("ec", "ES256", with(user.clone(), "nbf", json!(t + 600)))),
        ("issued in the future", spec("ed", "EdDSA", with(user.clone(), "iat", json!(t + 600)))),
        ("wrong issuer", spec("rsa", "RS256", with(user.clone(), "iss", json!("https://evil/realms/mosip")))),
        ("wrong audience", spec("rsa", "RS256", with(user.clone(), "aud", json!("account")))),
        (
            "no exp",
            spec("rsa", "RS256", {
                let mut c = user.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "unknown kid",
            json!({"key": "rsa", "header": {"alg": "RS256", "kid": "rotated-away"}, "claims": user}),
        ),
        ("signed by a key not in the set", spec("rsa2", "RS256", user.clone())),
        (
            "an ES256 token naming the RSA key",
            json!({"key": "ec", "header": {"alg": "ES256", "kid": "rsa"}, "claims": user}),
        ),
        (
            "alg none",
            json!({"key": "rsa", "header": {"alg": "none", "kid": "rsa"}, "claims": user, "mode": "none"}),
        ),
        (
            "alg none, signed",
            json!({"key": "rsa", "header": {"alg": "none", "kid": "rsa"}, "claims": user, "mode": "none-sig"}),
        ),
        (
            "HS256 keyed with the RSA public key",
            json!({"key": "rsa", "header": {"alg": "HS256", "kid": "rsa"}, "claims": user, "mode": "hs256"}),
        ),
        (
            "HS256 without kid",
            json!({"key": "rsa", "header": {"alg": "HS256"}, "claims": user, "mode": "hs256"}),
        ),
        (
            "tampered payload",
            json!({"key": "rsa", "header": {"alg": "RS256", "kid": "rsa"}, "claims": user, "mode": "tamper",
                                     "forged": claims("regproc", &["KEY_ADMIN"])}),
        ),
        (
            "an EdDSA token naming the RSA key",
            json!({"key": "ed", "header": {"alg": "EdDSA", "kid": "rsa"}, "claims": user}),
        ),
    ];
    let specs: Vec<Value> = refused.iter().map(|(_, s)| s.clone()).collect();
    for ((what, _), token) in refused.iter().zip(idp.mint(&specs)) {
        assert!(
            matches!(authorize(&auth, &token, "postdecrypt"), Err(ApiError::Unauthenticated)),
            "{what} must be 401"
        );
    }
    // A file source has no refresher to wake.
    assert_eq!(verifier.unknown_kid_asks(), 0);

    // Static tokens still work beside the verifier, also one shaped like a JWT.
    assert_eq!(authorize(&auth, STATIC, "putrevokekey").unwrap().user, "admin");
    assert_eq!(authorize(&auth, DOTTED_STATIC, "postdecrypt").unwrap().user, "dotted");
    for other in ["unknown-static", "x.y.z", "a.b", ""] {
        assert!(matches!(authorize(&auth, other, "postdecrypt"), Err(ApiError::Unauthenticated)), "{other}");
    }
    // Without the verifier, the same JWT is only an unknown static token.
    let plain = Authenticator::new(&[], &Default::default()).unwrap();
    assert!(matches!(plain.authorize(&bearer(&valid[0]), "postdecrypt"), Err(ApiError::Unauthenticated)));
}

#[test]
fn audience_by_azp_and_other_claim_paths() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    // Keycloak's client-credentials token: aud "account" only, azp the calling client.
    let c = json!({
        "exp": now() + 300, "iss": ISSUER, "aud": "account", "azp": "mosip-regproc-client",
        "typ": "Bearer", "sub": "5e1d", "clientId": "mosip-regproc-client",
        "preferred_username": "service-account-mosip-regproc-client",
        "resource_access": {"mosip.regproc": {"roles": ["kc-crypto"]}},
    });
    let token = idp.one(spec("ec", "ES256", c));
    let strict = OidcVerifier::from_file(
        OidcSettings::new(ISSUER, vec!["mosip-regproc-client".into()]),
        &idp.path("jwks.json"),
    )
    .unwrap();
    assert!(strict.verify(&token).is_err(), "azp is not an audience unless configured");
    let mut s = OidcSettings::new(ISSUER, vec!["mosip-regproc-client".into(), "mosip-ida-client".into()]);
    s.accept_azp = true;
    s.token_type = Some("Bearer".into());
    s.user_claim = vec!["clientId".into()];
    s.roles_claim = vec!["resource_access".into(), "mosip.regproc".into(), "roles".into()];
    s.role_map.insert("kc-crypto".into(), vec!["CRYPTO_USER".into()]);
    let lenient = Arc::new(OidcVerifier::from_file(s, &idp.path("jwks.json")).unwrap());
    let auth = authenticator(lenient);
    let who = authorize(&auth, &token, "postencrypt").unwrap();
    assert_eq!(who, Principal { user: "mosip-regproc-client".into(), roles: vec!["CRYPTO_USER".into()] });
    assert!(matches!(authorize(&auth, &token, "putrevokekey"), Err(ApiError::Forbidden(_))));
}

/// The whole router: a JWT opens an endpoint (200), an expired one is 401, a missing role 403,
/// with MOSIP's error codes.
#[tokio::test]
async fn through_the_router() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 4).unwrap();
    let metrics = Arc::new(Metrics::default());
    let keystore =
        Arc::new(ObservedKeystore::new(keystore, Arc::clone(&metrics) as Arc<dyn KeystoreObserver>));
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), KeyManagerConfig::default()));
    km.run_keygen(&[AppId::new("REGISTRATION").unwrap()]).unwrap();
    let verifier = Arc::new(OidcVerifier::from_file(settings(), &idp.path("jwks.json")).unwrap());
    let app = router(Arc::new(AppState::new(km, authenticator(verifier), Limits::default(), metrics)));
    let tokens = idp.mint(&[
        spec("rsa", "RS256", claims("regproc", &["CRYPTO_USER"])),
        spec("rsa", "RS256", with(claims("regproc", &["CRYPTO_USER"]), "exp", json!(now() - 3600))),
        spec("ed", "EdDSA", claims("nobody", &["offline_access"])),
    ]);
    let get = |token: String| {
        let app = app.clone();
        async move {
            let req = Request::get("/v1/keymanager/getCertificate?applicationId=REGISTRATION&referenceId=")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (status, body) = get(tokens[0].clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["response"]["certificate"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    let (status, body) = get(tokens[1].clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["errorCode"], "KER-ATH-401");
    assert!(!body.to_string().contains("exp"), "no reason is given: {body}");
    let (status, body) = get(tokens[2].clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["errors"][0]["errorCode"], "KER-ATH-403");
    let (status, _) = get(STATIC.into()).await;
    assert_eq!(status, StatusCode::OK, "static tokens still open endpoints");
}

/// A JWKS server on loopback: serves what `doc` holds (or `status` with no key set), counts
/// requests. With `tls`, speaks https with that server configuration.
#[derive(Clone)]
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    doc: Arc<Mutex<(u16, Vec<u8>)>>,
}

impl JwksServer {
    async fn start(doc: Vec<u8>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let scheme = if tls.is_some() { "https://localhost" } else { "http://127.0.0.1" };
        let server = Self {
            url: format!("{scheme}:{port}/realms/mosip/protocol/openid-connect/certs"),
            fetches: Arc::new(AtomicUsize::new(0)),
            doc: Arc::new(Mutex::new((200, doc))),
        };
        let (fetches, doc) = (Arc::clone(&server.fetches), Arc::clone(&server.doc));
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (fetches, doc, acceptor) = (Arc::clone(&fetches), Arc::clone(&doc), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(s) = a.accept(tcp).await {
                                answer(s, &fetches, &doc).await;
                            }
                        }
                        None => answer(tcp, &fetches, &doc).await,
                    }
                });
            }
        });
        server
    }

    fn serve(&self, status: u16, body: Vec<u8>) {
        *self.doc.lock().unwrap() = (status, body);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    fetches: &AtomicUsize,
    doc: &Mutex<(u16, Vec<u8>)>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    assert!(head.starts_with(b"GET /realms/mosip/protocol/openid-connect/certs HTTP/1.1\r\n"));
    fetches.fetch_add(1, Ordering::SeqCst);
    let (status, body) = doc.lock().unwrap().clone();
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(&body).await;
    let _ = s.shutdown().await;
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Polls `f` every 50 ms for up to `secs` seconds.
async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 20 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_url_refresh_rotation_and_failures() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    let server = JwksServer::start(read(&idp.path("jwks.json")), None).await;
    let fetcher = JwksFetcher::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let min_gap = Duration::from_millis(1000);
    let times = RefreshTimes { every: Duration::from_secs(3600), min_gap };
    let t0 = tokio::time::Instant::now();
    let (verifier, refresher) = OidcVerifier::connect(settings(), fetcher.clone(), times).await.unwrap();
    let task = tokio::spawn(refresher.run());
    assert_eq!(server.fetches(), 1, "fetched once at start");
    let auth = authenticator(Arc::clone(&verifier));
    let user = claims("regproc", &["CRYPTO_USER"]);
    let ok = idp.one(spec("rsa", "RS256", user.clone()));
    assert!(authorize(&auth, &ok, "postdecrypt").is_ok());

    // A flood of invented key ids for 2.5 s: every one refused, and fetches at most one per
    // minimum gap (without the gap, each would be a fetch: the server answers in a moment).
    let specs: Vec<Value> = (0..5)
        .map(|i| json!({"key": "ec", "header": {"alg": "ES256", "kid": format!("random-{i}")}, "claims": user}))
        .collect();
    let flood = idp.mint(&specs);
    let started = tokio::time::Instant::now();
    let mut asked = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        for token in &flood {
            assert!(matches!(authorize(&auth, token, "postdecrypt"), Err(ApiError::Unauthenticated)));
            asked += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(verifier.unknown_kid_asks(), asked);
    // The flood can leave one fetch waiting for its gap and one more asked for meanwhile:
    // both are done within two gaps of its end.
    tokio::time::sleep(2 * min_gap + Duration::from_millis(500)).await;
    let after_flood = server.fetches();
    // Each fetch after the first waits a gap from the end of the one before.
    let allowed = 1 + (t0.elapsed().as_millis() / min_gap.as_millis()) as usize;
    println!("{asked} unknown kids in {:?}: {after_flood} fetches (at most {allowed})", started.elapsed());
    assert!((3..=allowed).contains(&after_flood), "{after_flood} fetches for {asked} unknown kids");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.fetches(), after_flood, "no fetch without a reason until the interval");
    assert!(authorize(&auth, &ok, "postdecrypt").is_ok(), "the keys are still there");

    // A rotation: the new key's first token asks for a fetch and is refused; once fetched it
    // is accepted, and the removed key's tokens are not.
    server.serve(200, read(&idp.path("jwks2.json")));
    let rotated = idp.one(spec("rsa2", "RS256", user.clone()));
    assert!(matches!(authorize(&auth, &rotated, "postdecrypt"), Err(ApiError::Unauthenticated)));
    assert!(
        eventually(5, || verifier.key_set().has_kid("rsa2")).await,
        "rotation picked up after an unknown kid"
    );
    assert_eq!(authorize(&auth, &rotated, "postdecrypt").unwrap().user, "regproc");
    assert!(authorize(&auth, &ok, "postdecrypt").is_err(), "the rotated-away key no longer verifies");
    tokio::time::sleep(min_gap + Duration::from_millis(200)).await;

    // Failed fetches (an error status, an answer over 1 MiB, a set without usable keys) keep
    // the keys in use.
    let oversized = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(1024 * 1024 + 10)).into_bytes();
    let no_keys = br#"{"keys":[{"kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}]}"#.to_vec();
    for (status, body) in
        [(500, b"oops".to_vec()), (200, oversized), (200, no_keys), (200, b"<html>".to_vec())]
    {
        server.serve(status, body);
        let before = server.fetches();
        let unknown =
            idp.one(json!({"key": "ec", "header": {"alg": "ES256", "kid": "again"}, "claims": user}));
        assert!(authorize(&auth, &unknown, "postdecrypt").is_err());
        assert!(eventually(5, || server.fetches() > before).await, "a fetch after an unknown kid");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(authorize(&auth, &rotated, "postdecrypt").unwrap().user, "regproc", "{status}");
        tokio::time::sleep(min_gap).await;
    }
    assert!(fetcher.fetch().await.is_err());

    // The task ends once the verifier is gone (it wakes on its next deadline: the retry gap
    // after the last failure).
    drop(auth);
    drop(verifier);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("refresher ended").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_url_regular_refresh_and_start_failures() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    let server = JwksServer::start(read(&idp.path("jwks.json")), None).await;
    let fetcher = JwksFetcher::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let times = RefreshTimes { every: Duration::from_millis(500), min_gap: Duration::from_millis(500) };
    let (verifier, refresher) = OidcVerifier::connect(settings(), fetcher, times).await.unwrap();
    let task = tokio::spawn(refresher.run());
    server.serve(200, read(&idp.path("jwks2.json")));
    assert!(eventually(5, || verifier.key_set().has_kid("rsa2")).await, "picked up on the interval");
    assert_eq!(verifier.unknown_kid_asks(), 0);
    assert!(server.fetches() >= 2);
    drop(verifier);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("refresher ended").unwrap();

    // At start, a fetch that fails is an error (the service does not start).
    server.serve(404, b"not found".to_vec());
    let fetcher = JwksFetcher::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let err = OidcVerifier::connect(settings(), fetcher, RefreshTimes::default()).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fetcher =
        JwksFetcher::new(&format!("http://127.0.0.1:{port}/certs"), None, Duration::from_secs(2)).unwrap();
    assert!(OidcVerifier::connect(settings(), fetcher, RefreshTimes::default()).await.is_err());

    // A server that accepts and never answers: the fetch gives up at its time limit.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let fetcher = JwksFetcher::new(&url, None, Duration::from_millis(500)).unwrap();
    let started = tokio::time::Instant::now();
    assert!(fetcher.fetch().await.unwrap_err().contains("within"));
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

/// https with the provider's own CA (`ca_file`): accepted with that CA, refused with
/// Mozilla's roots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_url_over_https_with_a_ca_file() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let idp = Idp::new();
    let pki = r#"
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (x509.CertificateBuilder().subject_name(name("Test IdP CA")).issuer_name(name("Test IdP CA"))
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .sign(ca_key, hashes.SHA256()))
key = ec.generate_private_key(ec.SECP256R1())
leaf = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256()))
open(d + "/ca.pem", "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(d + "/server.pem", "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(d + "/server.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;
    let out = Command::new("python3").args(["-c", pki]).arg(idp.dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_file(idp.path("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(idp.path("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let server = JwksServer::start(read(&idp.path("jwks.json")), Some(Arc::new(config))).await;

    let ca = read(&idp.path("ca.pem"));
    let fetcher = JwksFetcher::new(&server.url, Some(&ca), Duration::from_secs(5)).unwrap();
    let (verifier, _refresher) =
        OidcVerifier::connect(settings(), fetcher, RefreshTimes::default()).await.unwrap();
    let token = idp.one(spec("ed", "EdDSA", claims("regproc", &["CRYPTO_USER"])));
    assert_eq!(authenticator(verifier).authorize(&bearer(&token), "postdecrypt").unwrap().user, "regproc");

    let untrusted = JwksFetcher::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let err = untrusted.fetch().await.unwrap_err();
    assert!(err.contains("TLS"), "{err}");
    assert_eq!(server.fetches(), 1, "nothing was asked of an untrusted server");
}
