//! The splitter parser (strict, and accepting key parts without a thumbprint) and the base64 text layer on arbitrary bytes: no panic, and every
//! range of a successful parse lies inside the input.
#![no_main]

use keymgr_envelope::{base64, format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let caller_salt = data.first().is_some_and(|b| b & 1 == 1);
    for splitter in [format::DEFAULT_SPLITTER, b"#".as_slice()] {
        let strict = format::parse(data, splitter, caller_salt).ok();
        let lenient = format::parse_allowing_no_thumbprint(data, splitter, caller_salt).ok();
        if strict.is_some() {
            // What the strict parser accepts, the lenient one finds the same way.
            assert_eq!(strict, lenient);
        }
        for layout in [strict, lenient].into_iter().flatten() {
            for range in [&layout.wrapped_key, &layout.nonce, &layout.aad, &layout.ciphertext, &layout.tag] {
                assert!(range.start <= range.end && range.end <= data.len());
            }
        }
        if let Some(at) = format::find_splitter(data, splitter) {
            assert_eq!(data.get(at..at + splitter.len()), Some(splitter));
        }
    }
    if let Ok(decoded) = base64::decode(data, 1 << 20) {
        // What decodes re-encodes to the same bytes, whatever alphabet or padding was used.
        assert_eq!(base64::decode(base64::encode(&decoded).as_bytes(), 1 << 20).ok(), Some(decoded));
    }
});
