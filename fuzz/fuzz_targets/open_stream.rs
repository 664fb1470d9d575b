//! The streaming open against the whole-buffer open it must agree with: for any text, read in
//! pieces of sizes the input also chooses, the same plaintext or a refusal of the same kind.
//! The key answers for every thumbprint, so that mutations reach RSA-OAEP and AES-GCM.
#![no_main]

use std::io::Read;

use keymgr_envelope::{Codec, OpenParams, StagedBuffer};
use libfuzzer_sys::fuzz_target;

#[path = "fixture_key.rs"]
mod fixture_key;
use fixture_key::key;

/// Hands out the text in pieces of 1 to 256 bytes, the sizes taken from the text's own bytes.
struct Pieces<'a> {
    text: &'a [u8],
    turn: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = usize::from(self.text.get(self.turn % self.text.len().max(1)).copied().unwrap_or(0)) + 1;
        self.turn += 1;
        let n = size.min(buf.len()).min(self.text.len());
        buf[..n].copy_from_slice(&self.text[..n]);
        self.text = &self.text[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let codec = Codec::default().with_max_envelope_len(1 << 20);
    for params in [OpenParams::default(), OpenParams { salt: Some(&[0; 12]), aad: b"" }] {
        let whole = codec.open_text(data, key(), params).map(|p| p.to_vec()).map_err(|e| e.kind());
        let streamed = codec
            .open_stream(Pieces { text: data, turn: 0 }, StagedBuffer::default(), key(), params)
            .map(|p| p.to_vec())
            .map_err(|e| e.kind());
        assert_eq!(streamed, whole);
    }
});
