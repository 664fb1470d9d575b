//! The SIMD base64 path against the scalar codec it must agree with: for any text, the same
//! bytes or the same error; for any bytes, the same text.
#![no_main]

use keymgr_model::base64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert_eq!(base64::decode(data, 1 << 20), base64::decode_scalar(data, 1 << 20));
    assert_eq!(base64::encode(data), base64::encode_scalar(data));
});
