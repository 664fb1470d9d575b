//! The SIMD base64 path against the scalar codec it must agree with: for any text, the same
//! bytes or the same error; for any bytes, the same text. The streaming decoder and encoder,
//! fed the text in pieces cut where its first byte says, agree with them too (same bytes, or a
//! refusal of the same kind).
#![no_main]

use keymgr_model::{ModelError, base64};
use libfuzzer_sys::fuzz_target;

fn kind(r: &Result<Vec<u8>, ModelError>) -> Result<&[u8], std::mem::Discriminant<ModelError>> {
    r.as_deref().map_err(std::mem::discriminant)
}

fuzz_target!(|data: &[u8]| {
    let whole = base64::decode(data, 1 << 20);
    assert_eq!(whole, base64::decode_scalar(data, 1 << 20));
    assert_eq!(base64::encode(data), base64::encode_scalar(data));

    let step = usize::from(data.first().copied().unwrap_or(0) % 16) + 1;
    let mut decoder = base64::StreamDecoder::new(1 << 20);
    let mut encoder = base64::StreamEncoder::new();
    let (mut bytes, mut text) = (Vec::new(), Vec::new());
    let streamed = data
        .chunks(step)
        .try_for_each(|piece| decoder.update(piece, &mut bytes))
        .and_then(|()| decoder.finish(&mut bytes))
        .map(|()| bytes);
    assert_eq!(kind(&streamed), kind(&whole));
    data.chunks(step).for_each(|piece| encoder.update(piece, &mut text));
    encoder.finish(&mut text);
    assert_eq!(text, base64::encode(data).into_bytes());
});
