//! The whole text-to-plaintext open path with a fixed key. The key answers for every
//! thumbprint, so that mutations reach RSA-OAEP and AES-GCM and not only the thumbprint check.
#![no_main]

use std::sync::OnceLock;

use keymgr_crypto::{RsaPrivateKey, SecretBytes};
use keymgr_envelope::{Codec, EnvelopeError, KeyUnwrapper, OpenParams};
use keymgr_model::Thumbprint;
use libfuzzer_sys::fuzz_target;

struct AnyThumbprint(RsaPrivateKey);

impl KeyUnwrapper for AnyThumbprint {
    fn unwrap_data_key(&self, _: &Thumbprint, wrapped_key: &[u8]) -> Result<SecretBytes, EnvelopeError> {
        self.0.oaep_unwrap(wrapped_key).map_err(|_| EnvelopeError::KeyUnwrapFailed)
    }
}

fn key() -> &'static AnyThumbprint {
    static KEY: OnceLock<AnyThumbprint> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = include_bytes!("../../testdata/fixture-key.pem");
        AnyThumbprint(RsaPrivateKey::from_pkcs8_pem(pem).expect("fixture key"))
    })
}

fuzz_target!(|data: &[u8]| {
    let codec = Codec::default().with_max_envelope_len(1 << 20);
    // A fuzzer that forges a valid tag has broken AES-GCM; anything else must be refused.
    if let Ok(plain) = codec.open_text(data, key(), OpenParams::default()) {
        assert!(plain.len() <= data.len());
    }
    let _ = codec.open_text(data, key(), OpenParams { salt: Some(&[0; 12]), aad: b"" });
});
