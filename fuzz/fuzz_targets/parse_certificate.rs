//! Certificate parsing on arbitrary DER and PEM: no panic, and what parses re-encodes.
#![no_main]

use keymgr_crypto::Certificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        assert_eq!(cert.der(), data);
        assert_eq!(Certificate::from_pem(cert.to_pem().as_bytes()).ok().as_ref(), Some(&cert));
        let _ = cert.rsa_public_key();
    }
    let _ = Certificate::from_pem(data);
});
