//! `[auth.oidc]` from the configuration file to a request: the service starts with a JWKS
//! URL served on loopback, a provider's token opens an endpoint through the router, the admin
//! token still does; and the starts that must be refused say why before a keystore is made
//! (both or neither key source, a set without a usable key, a provider that does not answer).
//! The provider's keys and tokens are made here with the key manager's own crates: the
//! tokens of an independent implementation are in `oidc_provider.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keymgr_crypto::{AsymmetricKind, SigningKey};
use keymgr_jose::JoseError;
use keymgr_jose::jws::{self, JwsAlgorithm, JwsHeader};
use keymgr_service::{ADMIN_TOKEN_FILE, PIN_FILE, ServiceConfig, ServiceError, start};
use serde_json::json;
use tower::ServiceExt;

const ISSUER: &str = "https://iam.example/realms/mosip";

struct Site {
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Site {
    fn new() -> Self {
        assert!(std::env::var_os("KEYMGR_KEYSTORE_PIN").is_none(), "unset KEYMGR_KEYSTORE_PIN");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::DirBuilder::new().mode(0o700).create(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let pin = data.join(PIN_FILE);
        std::fs::write(&pin, "a-long-enough-pin\n").unwrap();
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { dir, data }
    }

    /// The configuration with `[auth.oidc]` lines `oidc`.
    fn config(&self, oidc: &str) -> ServiceConfig {
        let text = format!(
            "[keys]\nkeygen_apps = [\"REGISTRATION\"]\n[auth.oidc]\nissuer = \"{ISSUER}\"\naudience = \"keymgr\"\n{oidc}"
        );
        let mut config: ServiceConfig = toml::from_str(&text).unwrap();
        config.data_dir = Some(self.data.clone());
        config
    }

    fn refused(&self, oidc: &str) -> String {
        match start(&self.config(oidc)) {
            Ok(_) => panic!("the start was not refused"),
            Err(ServiceError::Config(message)) => message,
            Err(other) => panic!("not a configuration error: {other}"),
        }
    }
}

/// An Ed25519 provider key and its JWKS document.
fn provider() -> (SigningKey, String) {
    let key = SigningKey::generate(AsymmetricKind::Ed25519).unwrap();
    let spki = key.public_key_spki().unwrap();
    let x = URL_SAFE_NO_PAD.encode(&spki[spki.len() - 32..]);
    let jwks = json!({"keys": [
        {"kid": "enc", "kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
        {"kid": "ed", "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "x": x},
    ]});
    (key, jwks.to_string())
}

fn token(key: &SigningKey, roles: &[&str]) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": ISSUER, "aud": "keymgr", "exp": now + 300, "iat": now,
                        "preferred_username": "regproc", "realm_access": {"roles": roles}});
    let header =
        JwsHeader { kid: Some("ed".into()), typ: Some("JWT".into()), ..JwsHeader::new(JwsAlgorithm::EdDsa) };
    jws::sign(&header, claims.to_string().as_bytes(), false, &|m| {
        key.sign(JwsAlgorithm::EdDsa.sign_algorithm(), m).map_err(JoseError::from)
    })
    .unwrap()
}

/// Serves `body` as the JWKS on loopback from a thread; counts the requests.
fn serve(status: u16, body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/realms/mosip/protocol/openid-connect/certs", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_provider_token_opens_an_endpoint() {
    let site = Site::new();
    let (key, jwks) = provider();
    let (url, fetches) = serve(200, jwks);
    let started = start(&site.config(&format!("jwks_url = \"{url}\"\nrefresh_secs = 3600"))).unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "fetched at start");
    let admin = std::fs::read_to_string(site.data.join(ADMIN_TOKEN_FILE)).unwrap();
    let app = keymgr_http::router(started.state);
    let get = |token: String| {
        let app = app.clone();
        async move {
            let req = Request::get("/v1/keymanager/getCertificate?applicationId=REGISTRATION&referenceId=")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(get(token(&key, &["CRYPTO_USER"])).await, StatusCode::OK);
    assert_eq!(get(token(&key, &["offline_access"])).await, StatusCode::FORBIDDEN);
    let other = SigningKey::generate(AsymmetricKind::Ed25519).unwrap();
    assert_eq!(get(token(&other, &["CRYPTO_USER"])).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(admin.trim().to_owned()).await, StatusCode::OK, "the admin token still works");
}

#[test]
fn oidc_starts_that_are_refused() {
    let site = Site::new();
    let (_, jwks) = provider();
    let file = site.dir.path().join("jwks.json");
    std::fs::write(&file, &jwks).unwrap();
    let file_line = format!("jwks_file = \"{}\"", file.display());

    let both = site.refused(&format!("{file_line}\njwks_url = \"https://iam.example/certs\""));
    assert!(both.contains("not both"), "{both}");
    let neither = site.refused("");
    assert!(neither.contains("jwks_url") && neither.contains("jwks_file"), "{neither}");
    let unusable = site.dir.path().join("enc-only.json");
    std::fs::write(&unusable, r#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#).unwrap();
    let err = site.refused(&format!("jwks_file = \"{}\"", unusable.display()));
    assert!(err.contains("no usable signature key"), "{err}");
    // Plain http to another host: refused before anything is fetched, unless allowed.
    let err = site.refused("jwks_url = \"http://iam.example/realms/mosip/protocol/openid-connect/certs\"");
    assert!(err.contains("allow_insecure_http"), "{err}");
    let err = site.refused("jwks_file = \"/nonexistent/jwks.json\"");
    assert!(err.contains("/nonexistent/jwks.json"), "{err}");
    let (url, _) = serve(503, "down".into());
    let err = site.refused(&format!("jwks_url = \"{url}\""));
    assert!(err.contains("auth.oidc.jwks_url") && err.contains("503"), "{err}");
    assert!(
        !site.data.join("keystore.kmks").exists(),
        "refused before a keystore was made: the key source is checked first"
    );

    // A file source starts.
    start(&site.config(&file_line)).unwrap();
}
