//! The base64 text layer, written for MOSIP's decoders.
//!
//! Writing: URL-safe alphabet, no padding, as MOSIP's `/encrypt` answers.
//!
//! Reading: what `java.util.Base64.getUrlDecoder()` accepts, falling back to `getDecoder()`
//! (MOSIP's `CryptomanagerUtils.decodeBase64Data`), in **one** pass over the text: either
//! alphabet but not both in one text, padding optional but exact when present, nothing after
//! it, no white space, no final group of one symbol, unused low bits ignored.

// Every index below is a `u8` into a 256-entry table, a value masked to 6 bits into the
// 64-symbol alphabet, or a remainder into a table of that modulus: none can be out of range.
#![allow(clippy::indexing_slicing)]

use crate::EnvelopeError;

/// Marks a byte outside both alphabets in [`DECODE`].
const INVALID: u16 = 0x100;
/// Marks `-` and `_`, only in the URL-safe alphabet.
const URL_ONLY: u16 = 0x200;
/// Marks `+` and `/`, only in the standard alphabet.
const STD_ONLY: u16 = 0x400;

/// Symbol value (low 6 bits) and class flags for every byte.
static DECODE: [u16; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u16;
        table[b'a' as usize + i] = 26 + i as u16;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 52 + d as u16;
        d += 1;
    }
    table[b'-' as usize] = 62 | URL_ONLY;
    table[b'_' as usize] = 63 | URL_ONLY;
    table[b'+' as usize] = 62 | STD_ONLY;
    table[b'/' as usize] = 63 | STD_ONLY;
    table
};

/// The URL-safe alphabet.
static ENCODE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Length of the unpadded URL-safe text of `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// Length of the bytes that unpadded text of `text_len` symbols decodes to (a final group of
/// one symbol, which is invalid, counts as nothing).
pub fn decoded_len(text_len: usize) -> usize {
    text_len / 4 * 3 + [0, 0, 1, 2][text_len % 4]
}

/// The URL-safe, unpadded base64 of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = vec![0u8; encoded_len(bytes.len())];
    let symbol = |n: u64, shift: u32| ENCODE[(n >> shift) as usize & 63];
    // Six bytes make eight symbols: one 48-bit load and eight table reads per step.
    let (wide, rest) = bytes.as_chunks::<6>();
    let (out_wide, out_rest) = text.split_at_mut(wide.len() * 8);
    for (src, dst) in wide.iter().zip(out_wide.as_chunks_mut::<8>().0) {
        let [a, b, c, d, e, f] = *src;
        let n = u64::from_be_bytes([a, b, c, d, e, f, 0, 0]);
        *dst = [
            symbol(n, 58),
            symbol(n, 52),
            symbol(n, 46),
            symbol(n, 40),
            symbol(n, 34),
            symbol(n, 28),
            symbol(n, 22),
            symbol(n, 16),
        ];
    }
    let (groups, tail) = rest.as_chunks::<3>();
    let (out_groups, out_tail) = out_rest.as_chunks_mut::<4>();
    for (&[a, b, c], dst) in groups.iter().zip(out_groups.iter_mut()) {
        let n = u64::from(a) << 16 | u64::from(b) << 8 | u64::from(c);
        *dst = [symbol(n, 18), symbol(n, 12), symbol(n, 6), symbol(n, 0)];
    }
    let n = tail.iter().enumerate().fold(0u64, |n, (i, &b)| n | u64::from(b) << (16 - 8 * i));
    for (i, dst) in out_tail.iter_mut().enumerate() {
        *dst = symbol(n, 18 - 6 * i as u32);
    }
    // Every byte written comes from the ASCII alphabet, so this never fails.
    String::from_utf8(text).unwrap_or_default()
}

/// Decodes base64 text as MOSIP's `/decrypt` does (see the module docs), refusing text that
/// would decode to more than `max_len` bytes before allocating anything.
pub fn decode(text: &[u8], max_len: usize) -> Result<Vec<u8>, EnvelopeError> {
    if text.is_empty() {
        return Err(EnvelopeError::EmptyInput);
    }
    let body = strip_padding(text)?;
    let out_len = decoded_len(body.len());
    if out_len > max_len {
        return Err(EnvelopeError::TooLarge { len: out_len, max: max_len });
    }
    let mut out = vec![0u8; out_len];
    let mut seen = 0u16;
    // Eight symbols make six bytes: eight table reads, one 48-bit store per step.
    let (wide, rest) = body.as_chunks::<8>();
    let (out_wide, out_rest) = out.split_at_mut(wide.len() * 6);
    for (src, dst) in wide.iter().zip(out_wide.as_chunks_mut::<6>().0) {
        let v = src.map(|c| DECODE[c as usize]);
        seen |= v[0] | v[1] | v[2] | v[3] | v[4] | v[5] | v[6] | v[7];
        let n = v.iter().fold(0u64, |n, &x| n << 6 | u64::from(x & 63));
        let [_, _, a, b, c, d, e, f] = n.to_be_bytes();
        *dst = [a, b, c, d, e, f];
    }
    let (groups, rest) = rest.as_chunks::<4>();
    let (out_groups, out_rest) = out_rest.as_chunks_mut::<3>();
    for (&[a, b, c, d], dst) in groups.iter().zip(out_groups.iter_mut()) {
        let (a, b, c, d) = (DECODE[a as usize], DECODE[b as usize], DECODE[c as usize], DECODE[d as usize]);
        seen |= a | b | c | d;
        let n =
            u32::from(a & 63) << 18 | u32::from(b & 63) << 12 | u32::from(c & 63) << 6 | u32::from(d & 63);
        *dst = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    let mut n = 0u32;
    for (i, &symbol) in rest.iter().enumerate() {
        let v = DECODE[symbol as usize];
        seen |= v;
        n |= u32::from(v & 63) << (18 - 6 * i);
    }
    for (i, dst) in out_rest.iter_mut().enumerate() {
        *dst = (n >> (16 - 8 * i)) as u8;
    }
    if seen & INVALID != 0 {
        return Err(EnvelopeError::InvalidBase64(describe_invalid(body)));
    }
    if seen & URL_ONLY != 0 && seen & STD_ONLY != 0 {
        return Err(EnvelopeError::InvalidBase64(
            "mixes the URL-safe ('-', '_') and standard ('+', '/') alphabets".into(),
        ));
    }
    Ok(out)
}

/// Removes exact trailing padding and checks the length of what is left.
fn strip_padding(text: &[u8]) -> Result<&[u8], EnvelopeError> {
    let pads = text.iter().rev().take_while(|&&c| c == b'=').count();
    let body = text.get(..text.len() - pads).unwrap_or_default();
    let ok = match pads {
        0 => body.len() % 4 != 1,
        1 => body.len() % 4 == 3,
        2 => body.len() % 4 == 2,
        _ => false,
    };
    if ok {
        Ok(body)
    } else if pads == 0 {
        Err(EnvelopeError::InvalidBase64("the last group has a single symbol".into()))
    } else {
        Err(EnvelopeError::InvalidBase64(format!("{pads} padding symbols after {} symbols", body.len())))
    }
}

/// Names the first offending byte; only called once decoding has failed.
fn describe_invalid(body: &[u8]) -> String {
    match body.iter().position(|&c| DECODE[c as usize] & INVALID != 0) {
        Some(at) if body.get(at) == Some(&b'=') => format!("padding inside the text at offset {at}"),
        Some(at) => {
            format!("byte 0x{:02x} at offset {at} is not a base64 symbol", body.get(at).copied().unwrap_or(0))
        }
        None => "invalid symbol".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::base64::Engine as _;
    use ::base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    const MAX: usize = usize::MAX;

    fn err(text: &str) -> String {
        match decode(text.as_bytes(), MAX) {
            Err(EnvelopeError::InvalidBase64(why)) => why,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn java_decoder_rules() {
        assert_eq!(decode(b"QQ", MAX).expect("unpadded"), b"A");
        assert_eq!(decode(b"QQ==", MAX).expect("padded"), b"A");
        assert_eq!(decode(b"QUI=", MAX).expect("padded"), b"AB");
        assert_eq!(decode(b"QR==", MAX).expect("low bits ignored"), b"A");
        assert_eq!(decode(b"-_8", MAX).expect("url"), decode(b"+/8", MAX).expect("std"));
        assert_eq!(decode(b"", MAX), Err(EnvelopeError::EmptyInput));
        err("QQ=");
        err("QUI==");
        err("QUJD=");
        err("QQ===");
        err("=");
        err("Q");
        err("QUJDR");
        err("QQ==QQ==");
        err("QU JD");
        err("QUJD\n");
        assert!(err("-+AA").contains("mixes"));
        assert!(err("QU\u{e9}").contains("offset 2"));
    }

    #[test]
    fn size_limit_is_checked_before_allocation() {
        assert_eq!(decode(b"QUJDREVG", 5), Err(EnvelopeError::TooLarge { len: 6, max: 5 }));
        assert_eq!(decode(b"QUJDREVG", 6).expect("fits"), b"ABCDEF");
    }

    proptest! {
        #[test]
        fn encode_matches_reference_crate(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
        }

        #[test]
        fn decodes_every_form_mosip_writes_or_reads(bytes in proptest::collection::vec(any::<u8>(), 1..600)) {
            for text in [URL_SAFE_NO_PAD.encode(&bytes), STANDARD.encode(&bytes), STANDARD_NO_PAD.encode(&bytes), ::base64::engine::general_purpose::URL_SAFE.encode(&bytes)] {
                prop_assert_eq!(decode(text.as_bytes(), MAX).expect("valid"), bytes.clone());
            }
        }

        #[test]
        fn arbitrary_text_never_panics_and_agrees_with_reference(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ours = decode(&text, MAX);
            // The reference crate with indifferent padding and ignored trailing bits, tried
            // with either alphabet, accepts exactly what the Java decoders accept.
            let config = ::base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(::base64::engine::DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true);
            let url = ::base64::engine::GeneralPurpose::new(&::base64::alphabet::URL_SAFE, config);
            let std = ::base64::engine::GeneralPurpose::new(&::base64::alphabet::STANDARD, config);
            let reference = url.decode(&text).or_else(|_| std.decode(&text));
            match (ours, reference) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                (Err(EnvelopeError::EmptyInput), Ok(b)) => prop_assert!(b.is_empty()),
                (a, b) => prop_assert!(false, "ours {:?} reference {:?}", a, b),
            }
        }
    }
}
