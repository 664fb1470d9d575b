//! The harness of the HTTP tests: a key manager on a file keystore and SQLite in a temporary
//! folder, behind the router with three static tokens, and MOSIP's request wrapper.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use keymgr_core::{KeyManager, KeyManagerConfig, KeystoreObserver, ObservedKeystore, SystemClock};
use keymgr_crypto::password::Argon2Params;
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_http::auth::TokenConfig;
use keymgr_http::metrics::Metrics;
use keymgr_http::{AppState, Authenticator, Limits, router};
use keymgr_model::{AppId, KeyPolicy, UtcTime};
use keymgr_test_support::tokens::sha256_hex;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token";
pub const READER: &str = "reader-token";
pub const OUTSIDER: &str = "outsider-token";
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct Api {
    pub dir: tempfile::TempDir,
    pub router: Router,
    pub km: Arc<KeyManager>,
}

pub fn token(t: &str, user: &str, roles: &[&str]) -> TokenConfig {
    TokenConfig {
        sha256: sha256_hex(t),
        user: user.into(),
        roles: roles.iter().map(|r| (*r).into()).collect(),
    }
}

pub fn api_with(dev: bool) -> Api {
    api_configured(dev, |_| {})
}

/// [`api_with`] with the key manager's configuration changed by `configure` first.
pub fn api_configured(dev: bool, configure: impl FnOnce(&mut KeyManagerConfig)) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 4).unwrap();
    let clock = Arc::new(SystemClock);
    let mut config = KeyManagerConfig {
        argon2: Argon2Params { iterations: 2, memory_kib: 64, parallelism: 1 },
        pin_kdf_iterations: 1000,
        ..KeyManagerConfig::default()
    };
    configure(&mut config);
    let metrics = Arc::new(Metrics::default());
    let keystore =
        Arc::new(ObservedKeystore::new(keystore, Arc::clone(&metrics) as Arc<dyn KeystoreObserver>));
    let km = Arc::new(KeyManager::new(db, keystore, clock, config));
    km.run_keygen(&[]).unwrap();
    // RESIDENT may only be decrypted by "resident-service".
    km.set_policy(
        &KeyPolicy::from_columns(AppId::new("RESIDENT").unwrap(), 1095, 60, true, Some("resident-service"))
            .unwrap(),
    )
    .unwrap();
    let tokens = [
        token(ADMIN, "admin", &["KEY_ADMIN", "CRYPTO_USER"]),
        token(READER, "regproc", &["CRYPTO_USER"]),
        token(OUTSIDER, "nobody", &["SOMETHING_ELSE"]),
    ];
    let mut auth = Authenticator::new(&tokens, &Default::default()).unwrap();
    if dev {
        auth = auth.development_without_auth();
    }
    let limits = Limits { max_body_bytes: BODY_LIMIT, ..Limits::default() };
    let router = router(Arc::new(AppState::new(Arc::clone(&km), auth, limits, metrics)));
    Api { dir, router, km }
}

pub fn api() -> Api {
    api_with(false)
}

impl Api {
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = self.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, bytes.to_vec())
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let (status, out) = self.raw(method, &format!("/v1/keymanager{path}"), token, bytes).await;
        (status, serde_json::from_slice(&out).unwrap_or(Value::Null))
    }

    /// POST/PUT `request` wrapped as MOSIP clients send it; the `response` or panics.
    pub async fn ok(&self, method: &str, path: &str, request: Value) -> Value {
        let (status, body) = self.call(method, path, Some(ADMIN), Some(wrap(request))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["errors"], Value::Null, "{path}: {body}");
        assert_eq!(body["id"], "mosip.keymanager", "id is echoed");
        body["response"].clone()
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["errors"], Value::Null, "{path}: {body}");
        body["response"].clone()
    }

    /// The single error code of a failed call, with the HTTP status.
    pub async fn error(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let (status, body) = self.call(method, path, token, body).await;
        assert_eq!(body["response"], Value::Null, "{path}: {body}");
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{path}: no errors in {body}"));
        assert_eq!(errors.len(), 1);
        assert!(!errors[0]["message"].as_str().unwrap().is_empty());
        (status, errors[0]["errorCode"].as_str().unwrap().to_owned())
    }
}

pub fn wrap(request: Value) -> Value {
    json!({"id": "mosip.keymanager", "version": "1.0", "requesttime": "2026-11-22T10:00:00.000Z", "metadata": {}, "request": request})
}

pub fn now_text() -> String {
    UtcTime::now().to_mosip_string()
}

pub fn b64(bytes: &[u8]) -> String {
    keymgr_envelope::base64::encode(bytes)
}
