//! A keystore wrapper that reports the latency of every call to an observer: the service
//! installs one that feeds its metrics (`keymgr_keystore_call_duration_seconds`), so that core
//! knows nothing of metrics and the HTTP layer nothing of keystores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keymgr_crypto::SecretBytes;
use keymgr_hsm::{HsmError, KeyKind, Keystore, SignAlgorithm};

/// Told how long each keystore call took, by operation name (`sign`, `rsa_oaep_unwrap`, ...).
pub trait KeystoreObserver: Send + Sync {
    /// One call of `operation` took `took`.
    fn keystore_call(&self, operation: &'static str, took: Duration);
}

/// `inner`, with the latency of each call reported to an observer.
pub struct ObservedKeystore {
    inner: Arc<dyn Keystore>,
    observer: Arc<dyn KeystoreObserver>,
}

impl ObservedKeystore {
    /// Wraps `inner`, reporting to `observer`.
    pub fn new(inner: Arc<dyn Keystore>, observer: Arc<dyn KeystoreObserver>) -> Self {
        Self { inner, observer }
    }

    fn timed<T>(&self, operation: &'static str, f: impl FnOnce(&dyn Keystore) -> T) -> T {
        let started = Instant::now();
        let out = f(self.inner.as_ref());
        self.observer.keystore_call(operation, started.elapsed());
        out
    }
}

impl Keystore for ObservedKeystore {
    fn generate(&self, alias: &str, kind: KeyKind) -> Result<Option<Vec<u8>>, HsmError> {
        self.timed("generate", |k| k.generate(alias, kind))
    }

    fn store_certificate(&self, alias: &str, cert_der: &[u8]) -> Result<(), HsmError> {
        self.timed("store_certificate", |k| k.store_certificate(alias, cert_der))
    }

    fn certificate(&self, alias: &str) -> Result<Option<Vec<u8>>, HsmError> {
        self.timed("certificate", |k| k.certificate(alias))
    }

    fn public_key(&self, alias: &str) -> Result<Vec<u8>, HsmError> {
        self.timed("public_key", |k| k.public_key(alias))
    }

    fn aliases(&self) -> Result<Vec<String>, HsmError> {
        self.timed("aliases", |k| k.aliases())
    }

    fn destroy(&self, alias: &str) -> Result<(), HsmError> {
        self.timed("destroy", |k| k.destroy(alias))
    }

    fn rsa_oaep_unwrap(&self, alias: &str, ciphertext: &[u8]) -> Result<SecretBytes, HsmError> {
        self.timed("rsa_oaep_unwrap", |k| k.rsa_oaep_unwrap(alias, ciphertext))
    }

    fn sign(&self, alias: &str, algorithm: SignAlgorithm, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.timed("sign", |k| k.sign(alias, algorithm, message))
    }

    fn aes_ecb_encrypt(&self, alias: &str, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.timed("aes_ecb_encrypt", |k| k.aes_ecb_encrypt(alias, data))
    }

    fn aes_ecb_decrypt(&self, alias: &str, data: &[u8]) -> Result<SecretBytes, HsmError> {
        self.timed("aes_ecb_decrypt", |k| k.aes_ecb_decrypt(alias, data))
    }

    fn health_check(&self) -> Result<(), HsmError> {
        self.timed("health_check", |k| k.health_check())
    }
}
