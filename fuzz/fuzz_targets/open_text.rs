//! The whole text-to-plaintext open path with a fixed key. The key answers for every
//! thumbprint, so that mutations reach RSA-OAEP and AES-GCM and not only the thumbprint check.
#![no_main]

use keymgr_envelope::{Codec, OpenParams};
use libfuzzer_sys::fuzz_target;

#[path = "fixture_key.rs"]
mod fixture_key;
use fixture_key::key;

fuzz_target!(|data: &[u8]| {
    let codec = Codec::default().with_max_envelope_len(1 << 20);
    // A fuzzer that forges a valid tag has broken AES-GCM; anything else must be refused.
    if let Ok(plain) = codec.open_text(data, key(), OpenParams::default()) {
        assert!(plain.len() <= data.len());
    }
    let _ = codec.open_text(data, key(), OpenParams { salt: Some(&[0; 12]), aad: b"" });
});
