//! The fixture key the envelope targets open with. It answers for every thumbprint, so that
//! mutations reach RSA-OAEP and AES-GCM and not only the thumbprint check.

use std::sync::OnceLock;

use keymgr_crypto::{RsaPrivateKey, SecretBytes};
use keymgr_envelope::{EnvelopeError, KeyUnwrapper};
use keymgr_model::Thumbprint;

pub struct AnyThumbprint(RsaPrivateKey);

impl KeyUnwrapper for AnyThumbprint {
    fn unwrap_data_key(&self, _: &Thumbprint, wrapped_key: &[u8]) -> Result<SecretBytes, EnvelopeError> {
        self.0.oaep_unwrap(wrapped_key).map_err(|_| EnvelopeError::KeyUnwrapFailed)
    }
}

pub fn key() -> &'static AnyThumbprint {
    static KEY: OnceLock<AnyThumbprint> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = include_bytes!("../../testdata/fixture-key.pem");
        AnyThumbprint(RsaPrivateKey::from_pkcs8_pem(pem).expect("fixture key"))
    })
}
