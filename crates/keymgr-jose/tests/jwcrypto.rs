//! JWEs made by an independent implementation (Python jwcrypto, to the fixture certificate,
//! with and without `zip: DEF`) decrypt to the recorded plaintext.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keymgr_crypto::{Certificate, DataKey, RsaPrivateKey};

#[test]
fn jwcrypto_tokens_decrypt() {
    let vectors: serde_json::Value = serde_json::from_str(include_str!("vectors/jwcrypto.json")).unwrap();
    let key = RsaPrivateKey::from_pkcs8_pem(include_bytes!("../../../testdata/fixture-key.pem")).unwrap();
    let cert = Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).unwrap();
    let expected = URL_SAFE_NO_PAD.decode(vectors["plaintext_b64url"].as_str().unwrap()).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let parsed = keymgr_jose::parse(case["jwe"].as_str().unwrap(), 1 << 20).unwrap();
        assert_eq!(parsed.kid_thumbprint(), Some(cert.thumbprint()));
        let cek = key.oaep_unwrap(&parsed.encrypted_key).unwrap();
        let plain =
            keymgr_jose::decrypt(parsed, &DataKey::from_slice(cek.expose()).unwrap(), 1 << 20).unwrap();
        assert_eq!(plain.as_slice(), &expected[..], "zip {}", case["zip"]);
    }
}
