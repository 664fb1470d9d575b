//! MOSIP's base64 text layer with the envelope's errors. The codec itself lives in
//! [`keymgr_model::base64`], so that crates without the envelope (core, the REST layer) read and
//! write base64 by the same rules.

pub use keymgr_model::base64::{decoded_len, encode, encoded_len};

use crate::EnvelopeError;

/// Decodes `text` as MOSIP's decoders do ([`keymgr_model::base64::decode`]), refusing more
/// than `max_len` decoded bytes before allocating.
pub fn decode(text: &[u8], max_len: usize) -> Result<Vec<u8>, EnvelopeError> {
    keymgr_model::base64::decode(text, max_len).map_err(EnvelopeError::from)
}

/// [`decode`] into the text's own buffer ([`keymgr_model::base64::decode_in_place`]).
pub fn decode_in_place(text: Vec<u8>, max_len: usize) -> Result<Vec<u8>, EnvelopeError> {
    keymgr_model::base64::decode_in_place(text, max_len).map_err(EnvelopeError::from)
}
