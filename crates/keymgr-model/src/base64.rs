//! The base64 text layer, written for MOSIP's decoders. It lives here, below every crate that
//! reads or writes MOSIP's base64 (the envelope codec, core, the REST layer), so that all of
//! them apply the same rules.
//!
//! Writing: URL-safe alphabet, no padding, as MOSIP's `/encrypt` answers.
//!
//! Reading: what `java.util.Base64.getUrlDecoder()` accepts, falling back to `getDecoder()`
//! (MOSIP's `CryptomanagerUtils.decodeBase64Data`): either alphabet but not both in one text,
//! padding optional but exact when present, nothing after it, no white space, no final group
//! of one symbol, unused low bits ignored.
//!
//! Streams: [`StreamEncoder`] and [`StreamDecoder`] do the same a piece at a time, for
//! packets larger than memory, with the same SIMD paths and the same refusals.
//!
//! Speed: [`encode`] and [`decode`] run on `base64-simd` (AVX2, SSE4.1 or NEON, chosen at run
//! time). Its decoder is strict (one alphabet, canonical final bits), so whatever it accepts
//! the rules above accept with the same bytes; whatever it refuses goes to the scalar codec,
//! [`decode_scalar`], which decides and names the fault. The scalar codec ([`encode_scalar`],
//! [`decode_scalar`]) is the oracle: property tests and a fuzz target check that both agree
//! on every input, valid or not.

// Every index below is a `u8` into a 256-entry table, a value masked to 6 bits into the
// 64-symbol alphabet, a 12-bit half of a 24-bit group into the 4096-entry pair table, or a
// remainder into a table of that modulus: none can be out of range.
#![allow(clippy::indexing_slicing)]

use crate::ModelError;

/// Marks a byte outside both alphabets in [`DECODE`] (bit 24 of the table entries).
const INVALID: u32 = 1 << 24;
/// Marks `-` and `_`, only in the URL-safe alphabet.
const URL_ONLY: u32 = 1 << 25;
/// Marks `+` and `/`, only in the standard alphabet.
const STD_ONLY: u32 = 1 << 26;

/// The 6-bit value of every byte (`INVALID` for none) and its alphabet class.
const fn symbol_table() -> [u32; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u32;
        table[b'a' as usize + i] = 26 + i as u32;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 52 + d as u32;
        d += 1;
    }
    table[b'-' as usize] = 62 | URL_ONLY;
    table[b'_' as usize] = 63 | URL_ONLY;
    table[b'+' as usize] = 62 | STD_ONLY;
    table[b'/' as usize] = 63 | STD_ONLY;
    table
}

/// The symbol table with each value pre-shifted to its place in a 4-symbol group, so that a
/// group decodes as four loads OR-ed together; the class bits (24 and up) are not shifted.
const fn shifted(shift: u32) -> [u32; 256] {
    let base = symbol_table();
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ((base[i] & 63) << shift) | (base[i] & !63);
        i += 1;
    }
    table
}

static DECODE: [u32; 256] = symbol_table();
static DECODE_0: [u32; 256] = shifted(18);
static DECODE_1: [u32; 256] = shifted(12);
static DECODE_2: [u32; 256] = shifted(6);
static DECODE_3: [u32; 256] = shifted(0);

/// The URL-safe alphabet.
static ENCODE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Two symbols for every 12-bit value: a 3-byte group encodes with two loads.
static ENCODE_PAIRS: [[u8; 2]; 4096] = {
    let mut table = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = [ENCODE[i >> 6], ENCODE[i & 63]];
        i += 1;
    }
    table
};

/// Length of the unpadded URL-safe text of `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// Length of the bytes that unpadded text of `text_len` symbols decodes to (a final group of
/// one symbol, which is invalid, counts as nothing).
pub fn decoded_len(text_len: usize) -> usize {
    text_len / 4 * 3 + [0, 0, 1, 2][text_len % 4]
}

/// The URL-safe, unpadded base64 of `bytes` (SIMD).
pub fn encode(bytes: &[u8]) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes)
}

/// [`encode`] in scalar code, one 3-byte group at a time: the oracle of the SIMD path.
pub fn encode_scalar(bytes: &[u8]) -> String {
    let mut text = vec![0u8; encoded_len(bytes.len())];
    let (groups, tail) = bytes.as_chunks::<3>();
    let (out_groups, out_tail) = text.as_chunks_mut::<4>();
    for (&[a, b, c], dst) in groups.iter().zip(out_groups.iter_mut()) {
        let n = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let [s0, s1] = ENCODE_PAIRS[n >> 12];
        let [s2, s3] = ENCODE_PAIRS[n & 0xfff];
        *dst = [s0, s1, s2, s3];
    }
    let n = tail.iter().enumerate().fold(0usize, |n, (i, &b)| n | usize::from(b) << (16 - 8 * i));
    for (i, dst) in out_tail.iter_mut().enumerate() {
        *dst = ENCODE[(n >> (18 - 6 * i)) & 63];
    }
    // Every byte written comes from the ASCII alphabet, so this never fails.
    String::from_utf8(text).unwrap_or_default()
}

/// The standard-alphabet, padded base64 of `bytes` (`java.util.Base64.getEncoder()`), which
/// MOSIP writes for ZK key wraps.
pub fn encode_standard(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Decodes base64 text as MOSIP's `/decrypt` does (see the module docs), refusing text that
/// would decode to more than `max_len` bytes before allocating anything. The SIMD decoder
/// takes what it can; the rest, and every refusal, is [`decode_scalar`]'s.
pub fn decode(text: &[u8], max_len: usize) -> Result<Vec<u8>, ModelError> {
    let body = checked_body(text, max_len)?;
    // URL-safe first: what MOSIP's /encrypt writes, and what this service writes.
    for engine in [base64_simd::URL_SAFE_NO_PAD, base64_simd::STANDARD_NO_PAD] {
        if let Ok(bytes) = engine.decode_to_vec(body)
            && bytes.len() == decoded_len(body.len())
        {
            return Ok(bytes);
        }
    }
    decode_body(body)
}

/// [`decode`] into the text's own buffer: no second buffer, no page faults for one, which is
/// most of what decoding a 16 MiB packet costs after SIMD. The SIMD decoder writes only once
/// its check has passed on the whole text; text it refuses is decoded by the scalar codec
/// from the untouched buffer, so the result (bytes or error) is always [`decode`]'s.
pub fn decode_in_place(mut text: Vec<u8>, max_len: usize) -> Result<Vec<u8>, ModelError> {
    let body_len = checked_body(&text, max_len)?.len();
    let body = text.get_mut(..body_len).unwrap_or_default();
    for engine in [base64_simd::URL_SAFE_NO_PAD, base64_simd::STANDARD_NO_PAD] {
        if engine.check(body).is_ok() {
            let decoded = engine.decode_inplace(body).map(|d| d.len());
            if let Ok(len) = decoded
                && len == decoded_len(body_len)
            {
                text.truncate(len);
                return Ok(text);
            }
            // Checked but not decoded: never seen; the buffer may be overwritten, so stop.
            return Err(ModelError::InvalidBase64("the text did not decode after its check".into()));
        }
    }
    decode_body(body)
}

/// [`decode`] in scalar code, one 4-symbol group at a time: the oracle of the SIMD path, and
/// the code that names what is wrong with refused text.
pub fn decode_scalar(text: &[u8], max_len: usize) -> Result<Vec<u8>, ModelError> {
    decode_body(checked_body(text, max_len)?)
}

/// The text without its padding, once the padding, the length and the size limit are checked.
fn checked_body(text: &[u8], max_len: usize) -> Result<&[u8], ModelError> {
    if text.is_empty() {
        return Err(ModelError::EmptyBase64);
    }
    let body = strip_padding(text)?;
    let out_len = decoded_len(body.len());
    if out_len > max_len {
        return Err(ModelError::Base64TooLarge { len: out_len, max: max_len });
    }
    Ok(body)
}

/// Decodes unpadded text whose length is checked.
fn decode_body(body: &[u8]) -> Result<Vec<u8>, ModelError> {
    let mut out = vec![0u8; decoded_len(body.len())];
    let seen = decode_into(body, &mut out);
    check_seen(seen, body)?;
    Ok(out)
}

/// Decodes `body` (any length but 1 mod 4) into `out` (exactly [`decoded_len`] bytes) and
/// answers the symbol classes seen, for [`check_seen`].
fn decode_into(body: &[u8], out: &mut [u8]) -> u32 {
    let mut seen = 0u32;
    let (groups, rest) = body.as_chunks::<4>();
    let (out_groups, out_rest) = out.as_chunks_mut::<3>();
    for (&[a, b, c, d], dst) in groups.iter().zip(out_groups.iter_mut()) {
        let n = DECODE_0[a as usize] | DECODE_1[b as usize] | DECODE_2[c as usize] | DECODE_3[d as usize];
        seen |= n;
        *dst = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    let mut n = 0u32;
    for (i, &symbol) in rest.iter().enumerate() {
        let v = DECODE[symbol as usize];
        seen |= v;
        n |= (v & 63) << (18 - 6 * i);
    }
    for (i, dst) in out_rest.iter_mut().enumerate() {
        *dst = (n >> (16 - 8 * i)) as u8;
    }
    seen
}

/// Refuses a symbol outside both alphabets (named from `body`) or both alphabets at once.
fn check_seen(seen: u32, body: &[u8]) -> Result<(), ModelError> {
    if seen & INVALID != 0 {
        return Err(ModelError::InvalidBase64(describe_invalid(body)));
    }
    if seen & URL_ONLY != 0 && seen & STD_ONLY != 0 {
        return Err(mixed_alphabets());
    }
    Ok(())
}

fn mixed_alphabets() -> ModelError {
    ModelError::InvalidBase64("mixes the URL-safe ('-', '_') and standard ('+', '/') alphabets".into())
}

/// Decodes base64 text that arrives in pieces (a packet larger than memory), by exactly the
/// rules of [`decode`]: the same bytes for text [`decode`] accepts, and a refusal of the same
/// kind for text it refuses. Feed the pieces to [`StreamDecoder::update`], then call
/// [`StreamDecoder::finish`], which checks the padding and decodes the last group.
///
/// One difference, because a stream cannot be measured before it is read: text that would
/// decode to more than `max_len` bytes is refused with [`ModelError::Base64TooLarge`] as soon
/// as it passes the limit, unless a fault was found earlier, where [`decode`] would name a
/// fault in the padding first.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    max_len: usize,
    /// Symbols of an unfinished group (fewer than 4).
    carry: [u8; 4],
    carry_len: usize,
    /// Trailing `=` seen so far: padding if nothing else follows.
    pads: usize,
    /// Symbols before the padding.
    symbols: usize,
    /// Which alphabet the text has shown (`URL_ONLY`, `STD_ONLY` or 0).
    alphabet: u32,
    empty: bool,
}

impl StreamDecoder {
    /// A decoder refusing text that decodes to more than `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self { max_len, carry: [0; 4], carry_len: 0, pads: 0, symbols: 0, alphabet: 0, empty: true }
    }

    /// Decodes the next piece of text, appending its bytes to `out` (a final group of fewer
    /// than four symbols waits for the next piece or for [`StreamDecoder::finish`]).
    pub fn update(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), ModelError> {
        if text.is_empty() {
            return Ok(());
        }
        self.empty = false;
        if self.pads > 0 {
            // After padding only padding may follow, and at most two in all.
            if text.iter().any(|&c| c != b'=') {
                return Err(ModelError::InvalidBase64(format!(
                    "padding inside the text after {} symbols",
                    self.symbols
                )));
            }
            return self.add_padding(text.len());
        }
        let pads = text.iter().rev().take_while(|&&c| c == b'=').count();
        let mut body = text.get(..text.len() - pads).unwrap_or_default();
        self.symbols = self.symbols.saturating_add(body.len());
        let out_len = decoded_len(self.symbols);
        if out_len > self.max_len {
            return Err(ModelError::Base64TooLarge { len: out_len, max: self.max_len });
        }
        if self.carry_len > 0 {
            let take = (4 - self.carry_len).min(body.len());
            let (head, rest) = body.split_at(take);
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(head);
            self.carry_len += take;
            body = rest;
            if self.carry_len < 4 {
                // The piece ended inside the group.
                return self.add_padding(pads);
            }
            let group = self.carry;
            self.carry_len = 0;
            self.decode_groups(&group, out)?;
        }
        let whole = body.len() - body.len() % 4;
        let (groups, rest) = body.split_at(whole);
        self.decode_groups(groups, out)?;
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
        self.add_padding(pads)
    }

    /// Ends the text: checks its padding and length as [`decode`] does and decodes the last
    /// group.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), ModelError> {
        if self.empty {
            return Err(ModelError::EmptyBase64);
        }
        let ok = match self.pads {
            0 => self.symbols % 4 != 1,
            1 => self.symbols % 4 == 3,
            2 => self.symbols % 4 == 2,
            _ => false,
        };
        if !ok {
            return Err(if self.pads == 0 {
                ModelError::InvalidBase64("the last group has a single symbol".into())
            } else {
                ModelError::InvalidBase64(format!(
                    "{} padding symbols after {} symbols",
                    self.pads, self.symbols
                ))
            });
        }
        let group = self.carry;
        let group = &group[..self.carry_len];
        let start = out.len();
        out.resize(start + decoded_len(group.len()), 0);
        let seen = decode_into(group, &mut out[start..]);
        self.note(seen, group)
    }

    fn add_padding(&mut self, pads: usize) -> Result<(), ModelError> {
        self.pads += pads;
        if self.pads > 2 {
            return Err(ModelError::InvalidBase64(format!(
                "{} padding symbols after {} symbols",
                self.pads, self.symbols
            )));
        }
        Ok(())
    }

    /// Decodes whole 4-symbol groups: SIMD in the alphabet the text has shown, the scalar codec
    /// for whatever the SIMD decoders refuse (it names the fault).
    fn decode_groups(&mut self, groups: &[u8], out: &mut Vec<u8>) -> Result<(), ModelError> {
        if groups.is_empty() {
            return Ok(());
        }
        let start = out.len();
        out.resize(start + groups.len() / 4 * 3, 0);
        let dst = &mut out[start..];
        let url = base64_simd::URL_SAFE_NO_PAD;
        let std = base64_simd::STANDARD_NO_PAD;
        let decoded = match self.alphabet {
            URL_ONLY => url.decode(groups, base64_simd::Out::from_slice(dst)).is_ok(),
            STD_ONLY => std.decode(groups, base64_simd::Out::from_slice(dst)).is_ok(),
            _ if url.check(groups).is_ok() => {
                if std.check(groups).is_err() {
                    self.alphabet = URL_ONLY;
                }
                url.decode(groups, base64_simd::Out::from_slice(dst)).is_ok()
            }
            _ if std.check(groups).is_ok() => {
                self.alphabet = STD_ONLY;
                std.decode(groups, base64_simd::Out::from_slice(dst)).is_ok()
            }
            _ => false,
        };
        if decoded {
            return Ok(());
        }
        let seen = decode_into(groups, dst);
        self.note(seen, groups)
    }

    /// Records the alphabet of symbols just decoded, refusing a second alphabet.
    fn note(&mut self, seen: u32, body: &[u8]) -> Result<(), ModelError> {
        check_seen(seen | self.alphabet, body)?;
        self.alphabet |= seen & (URL_ONLY | STD_ONLY);
        Ok(())
    }
}

/// Encodes bytes that arrive in pieces as [`encode`] encodes them whole: URL-safe, unpadded.
#[derive(Debug, Clone, Default)]
pub struct StreamEncoder {
    carry: [u8; 3],
    carry_len: usize,
}

impl StreamEncoder {
    /// A fresh encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes the next piece of bytes, appending text to `out` (up to two bytes wait for the
    /// next piece or for [`StreamEncoder::finish`]).
    pub fn update(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        if self.carry_len > 0 {
            let take = (3 - self.carry_len).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(head);
            self.carry_len += take;
            bytes = rest;
            if self.carry_len < 3 {
                return;
            }
            let group = self.carry;
            self.carry_len = 0;
            encode_append(&group, out);
        }
        let whole = bytes.len() - bytes.len() % 3;
        let (groups, rest) = bytes.split_at(whole);
        encode_append(groups, out);
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    /// Encodes the last bytes.
    pub fn finish(self, out: &mut Vec<u8>) {
        encode_append(&self.carry[..self.carry_len], out);
    }
}

/// Appends the URL-safe, unpadded base64 of `bytes` to `out` ([`encode`] without a `String`
/// of its own: a response body is written in place).
pub fn encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    let _text = base64_simd::URL_SAFE_NO_PAD.encode(bytes, base64_simd::Out::from_slice(&mut out[start..]));
}

/// Removes exact trailing padding and checks the length of what is left.
fn strip_padding(text: &[u8]) -> Result<&[u8], ModelError> {
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
        Err(ModelError::InvalidBase64("the last group has a single symbol".into()))
    } else {
        Err(ModelError::InvalidBase64(format!("{pads} padding symbols after {} symbols", body.len())))
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
            Err(ModelError::InvalidBase64(why)) => why,
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
        assert_eq!(decode(b"", MAX), Err(ModelError::EmptyBase64));
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
        assert_eq!(decode(b"QUJDREVG", 5), Err(ModelError::Base64TooLarge { len: 6, max: 5 }));
        assert_eq!(decode(b"QUJDREVG", 6).expect("fits"), b"ABCDEF");
    }

    /// Decodes `text` in pieces cut at `cuts` with the streaming decoder.
    fn stream_decode(text: &[u8], cuts: &[usize], max: usize) -> Result<Vec<u8>, ModelError> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
        at.push(text.len());
        at.sort_unstable();
        let mut decoder = StreamDecoder::new(max);
        let mut out = Vec::new();
        let mut from = 0;
        for cut in at {
            decoder.update(&text[from..cut], &mut out)?;
            from = cut;
        }
        decoder.finish(&mut out)?;
        Ok(out)
    }

    fn kind(r: &Result<Vec<u8>, ModelError>) -> Result<&[u8], &'static str> {
        match r {
            Ok(b) => Ok(b),
            Err(ModelError::EmptyBase64) => Err("empty"),
            Err(ModelError::InvalidBase64(_)) => Err("invalid"),
            Err(ModelError::Base64TooLarge { .. }) => Err("too_large"),
            Err(_) => Err("other"),
        }
    }

    #[test]
    fn streaming_decoder_follows_the_java_rules_across_pieces() {
        for (text, cuts) in
            [("QUJD", &[1usize, 2][..]), ("QQ==", &[2, 3]), ("QUI=", &[3]), ("-_8", &[1]), ("+/8", &[2])]
        {
            assert_eq!(stream_decode(text.as_bytes(), cuts, MAX), decode(text.as_bytes(), MAX), "{text}");
        }
        for (text, cuts) in [
            ("QQ=", &[2usize][..]),
            ("QQ===", &[3, 4]),
            ("QQ==QQ==", &[2, 4]),
            ("-AAA+AAA", &[4]),
            ("QU JD", &[2]),
            ("Q", &[]),
        ] {
            assert_eq!(kind(&stream_decode(text.as_bytes(), cuts, MAX)), Err("invalid"), "{text}");
        }
        assert_eq!(stream_decode(b"", &[], MAX), Err(ModelError::EmptyBase64));
        assert_eq!(kind(&stream_decode(b"QUJDREVG", &[3], 5)), Err("too_large"));
    }

    #[test]
    fn streaming_encoder_writes_what_encode_writes() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for piece in [1, 2, 3, 4, 5, 64, 999] {
            let mut encoder = StreamEncoder::new();
            let mut text = Vec::new();
            bytes.chunks(piece).for_each(|c| encoder.update(c, &mut text));
            encoder.finish(&mut text);
            assert_eq!(text, encode(&bytes).into_bytes(), "pieces of {piece}");
        }
    }

    proptest! {
        /// Any text, cut anywhere: the streaming decoder gives [`decode`]'s bytes, or an error
        /// of the same kind, within the limit.
        #[test]
        fn streaming_and_whole_decoders_agree(
            text in proptest::collection::vec(
                prop_oneof![
                    20 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".to_vec()),
                    1 => proptest::sample::select(b"-_+/= \n\0\xff".to_vec()),
                ],
                0..300,
            ),
            valid in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..5),
            alphabet in 0usize..4,
        ) {
            let whole = decode(&text, MAX);
            let streamed = stream_decode(&text, &cuts, MAX);
            prop_assert_eq!(kind(&streamed), kind(&whole));
            let valid_text = match alphabet {
                0 => URL_SAFE_NO_PAD.encode(&valid),
                1 => STANDARD.encode(&valid),
                2 => STANDARD_NO_PAD.encode(&valid),
                _ => ::base64::engine::general_purpose::URL_SAFE.encode(&valid),
            };
            prop_assert_eq!(stream_decode(valid_text.as_bytes(), &cuts, MAX), decode(valid_text.as_bytes(), MAX));
            prop_assert_eq!(stream_decode(&text, &cuts, 10).is_ok(), decode(&text, 10).is_ok());
        }

        #[test]
        fn streaming_encoder_agrees(bytes in proptest::collection::vec(any::<u8>(), 0..700), cuts in proptest::collection::vec(any::<usize>(), 0..5)) {
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            at.push(bytes.len());
            at.sort_unstable();
            let mut encoder = StreamEncoder::new();
            let mut text = Vec::new();
            let mut from = 0;
            for cut in at {
                encoder.update(&bytes[from..cut], &mut text);
                from = cut;
            }
            encoder.finish(&mut text);
            prop_assert_eq!(text, encode(&bytes).into_bytes());
        }

        #[test]
        fn encode_matches_reference_crate(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
            prop_assert_eq!(encode_standard(&bytes), STANDARD.encode(&bytes));
        }

        #[test]
        fn decodes_every_form_mosip_writes_or_reads(bytes in proptest::collection::vec(any::<u8>(), 1..600)) {
            for text in [URL_SAFE_NO_PAD.encode(&bytes), STANDARD.encode(&bytes), STANDARD_NO_PAD.encode(&bytes), ::base64::engine::general_purpose::URL_SAFE.encode(&bytes)] {
                prop_assert_eq!(decode(text.as_bytes(), MAX).expect("valid"), bytes.clone());
            }
        }

        #[test]
        fn decoding_in_place_agrees(
            text in proptest::collection::vec(
                prop_oneof![
                    20 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".to_vec()),
                    1 => proptest::sample::select(b"-_+/= \n\0\xff".to_vec()),
                ],
                0..300,
            ),
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            prop_assert_eq!(decode_in_place(text.clone(), MAX), decode_scalar(&text, MAX));
            prop_assert_eq!(decode_in_place(text.clone(), 10), decode_scalar(&text, 10));
            // Empty bytes encode to empty text, which MOSIP refuses.
            for valid in [URL_SAFE_NO_PAD.encode(&bytes), STANDARD.encode(&bytes)].into_iter().filter(|t| !t.is_empty()) {
                prop_assert_eq!(decode_in_place(valid.clone().into_bytes(), MAX), Ok(bytes.clone()));
            }
        }

        #[test]
        fn simd_and_scalar_encoders_agree(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(encode(&bytes), encode_scalar(&bytes));
        }

        /// Text made of base64 symbols of both alphabets, padding, and a few other bytes, at
        /// every length around the SIMD block sizes: the same bytes or the same error.
        #[test]
        fn simd_and_scalar_decoders_agree(
            text in proptest::collection::vec(
                prop_oneof![
                    20 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".to_vec()),
                    1 => proptest::sample::select(b"-_+/= \n\0\xff".to_vec()),
                ],
                0..300,
            )
        ) {
            prop_assert_eq!(decode(&text, MAX), decode_scalar(&text, MAX));
            prop_assert_eq!(decode(&text, 10), decode_scalar(&text, 10));
        }

        #[test]
        fn simd_and_scalar_decoders_agree_on_valid_text(bytes in proptest::collection::vec(any::<u8>(), 0..3000), tweak in 0usize..4) {
            let mut text = match tweak {
                0 => URL_SAFE_NO_PAD.encode(&bytes),
                1 => STANDARD.encode(&bytes),
                2 => STANDARD_NO_PAD.encode(&bytes),
                _ => ::base64::engine::general_purpose::URL_SAFE.encode(&bytes),
            }.into_bytes();
            prop_assert_eq!(decode(&text, MAX), decode_scalar(&text, MAX));
            // The last symbol's unused bits set: refused by the SIMD decoder, accepted here.
            if let Some(last) = text.iter().rposition(|&c| c != b'=') {
                text[last] = match text[last] { b'A' => b'B', b'Q' => b'R', b'g' => b'h', b'w' => b'x', c => c };
            }
            prop_assert_eq!(decode(&text, MAX), decode_scalar(&text, MAX));
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
                (Err(ModelError::EmptyBase64), Ok(b)) => prop_assert!(b.is_empty()),
                (a, b) => prop_assert!(false, "ours {:?} reference {:?}", a, b),
            }
        }
    }
}
