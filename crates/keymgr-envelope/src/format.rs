//! The byte layout of an envelope, and a parser that finds its fields without copying.
//!
//! ```text
//! KEYPART  = ["VER_R2"] || thumbprint (32) || RSA-OAEP(data key) (256)
//! envelope = KEYPART || splitter || DATAPART
//! DATAPART, by mode:
//!   VER_R2       aad (32 random; nonce = aad[..12]) || ct || tag (16)
//!   legacy       ct || tag (16) || IV (16)            GCM aad = the caller's aad, often empty
//!   caller salt  ct || tag (16)                       nonce = caller's salt, aad = caller's
//! ```

use std::ops::Range;

use keymgr_crypto::aead::{LEGACY_IV_LEN, TAG_LEN};
use keymgr_model::Thumbprint;

use crate::EnvelopeError;

/// The ASCII header of a VER_R2 envelope.
pub const VER_R2: &[u8; 6] = b"VER_R2";
/// MOSIP's splitter (`mosip.kernel.data-key-splitter`), used unless configured otherwise.
pub const DEFAULT_SPLITTER: &[u8] = b"#KEY_SPLITTER#";
/// Length of the wrapped data key: one RSA-2048 block.
pub const WRAPPED_KEY_LEN: usize = keymgr_crypto::RSA_2048_MODULUS_LEN;
/// Length of the random aad of a VER_R2 envelope.
pub const R2_AAD_LEN: usize = 32;
/// Length of the GCM nonce taken from the front of the VER_R2 aad.
pub const R2_NONCE_LEN: usize = keymgr_crypto::aead::NONCE_LEN;
/// Key part length after the optional header: thumbprint and wrapped key.
pub const KEY_PART_LEN: usize = Thumbprint::LEN + WRAPPED_KEY_LEN;

/// How the data part of an envelope is laid out (MOSIP's modes A, B and C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `VER_R2`: random 32-byte aad in front, nonce = its first 12 bytes (mode A, the default).
    VerR2,
    /// No header: 16-byte IV after the tag; GCM aad supplied by the caller (mode B).
    Legacy,
    /// The caller keeps the nonce (salt) and aad; the data part is `ct || tag` (mode C).
    CallerSalt,
}

/// Where every field of an envelope lies in its bytes. Made by [`parse`]; the ranges are
/// always within the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The data part's layout.
    pub format: Format,
    /// Whether the key part began with `VER_R2`.
    pub has_header: bool,
    /// The certificate thumbprint; `None` for a key part without one (clients before MOSIP
    /// 1.1.5), which only [`parse_allowing_no_thumbprint`] accepts.
    pub thumbprint: Option<Thumbprint>,
    /// The RSA-OAEP-wrapped data key.
    pub wrapped_key: Range<usize>,
    /// The GCM nonce inside the envelope (empty for [`Format::CallerSalt`]).
    pub nonce: Range<usize>,
    /// The GCM associated data inside the envelope (empty unless [`Format::VerR2`]).
    pub aad: Range<usize>,
    /// The ciphertext.
    pub ciphertext: Range<usize>,
    /// The 16-byte tag.
    pub tag: Range<usize>,
}

/// The index of the first occurrence of `splitter` in `bytes`.
pub fn find_splitter(bytes: &[u8], splitter: &[u8]) -> Option<usize> {
    let (&first, rest) = splitter.split_first()?;
    let mut from = 0;
    while let Some(window) = bytes.get(from..) {
        let at = from + window.iter().position(|&b| b == first)?;
        if bytes.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Finds the fields of an envelope in `bytes` with the checks of the format, in MOSIP's order:
/// splitter, header, key part length, data part length. The thumbprint and the cryptography
/// are left to the opener.
///
/// `caller_salt` says that the caller supplies the nonce (mode C), which MOSIP decides by the
/// request, not by the bytes. Never panics and never copies the payload.
pub fn parse(bytes: &[u8], splitter: &[u8], caller_salt: bool) -> Result<Layout, EnvelopeError> {
    parse_key_part(bytes, splitter, caller_salt, false)
}

/// [`parse`], also accepting a key part that is only the wrapped key ([`WRAPPED_KEY_LEN`]
/// bytes, after an optional `VER_R2`): what registration clients before MOSIP 1.1.5 wrote.
/// Such a layout has no thumbprint, and the opener must find the key another way. A key part
/// shorter than the wrapped key is truncated; one between the two lengths, or longer, has a
/// bad length.
pub fn parse_allowing_no_thumbprint(
    bytes: &[u8],
    splitter: &[u8],
    caller_salt: bool,
) -> Result<Layout, EnvelopeError> {
    parse_key_part(bytes, splitter, caller_salt, true)
}

fn parse_key_part(
    bytes: &[u8],
    splitter: &[u8],
    caller_salt: bool,
    thumbprint_optional: bool,
) -> Result<Layout, EnvelopeError> {
    if bytes.is_empty() {
        return Err(EnvelopeError::EmptyInput);
    }
    let split = find_splitter(bytes, splitter).ok_or(EnvelopeError::MissingSplitter)?;
    let has_header = bytes.starts_with(VER_R2) && split >= VER_R2.len();
    let key_start = if has_header { VER_R2.len() } else { 0 };
    let key_len = split - key_start;
    let thumbprint = if thumbprint_optional && key_len == WRAPPED_KEY_LEN {
        None
    } else {
        let min = if thumbprint_optional { WRAPPED_KEY_LEN } else { KEY_PART_LEN };
        if key_len < min {
            return Err(EnvelopeError::Truncated { part: "key part", len: key_len, min });
        }
        if key_len != KEY_PART_LEN {
            return Err(EnvelopeError::BadWrappedKeyLength { len: key_len, expected: KEY_PART_LEN });
        }
        let thumbprint = bytes
            .get(key_start..key_start + Thumbprint::LEN)
            .and_then(Thumbprint::from_slice)
            .ok_or(EnvelopeError::MissingSplitter)?;
        Some(thumbprint)
    };
    let wrapped_key = split - WRAPPED_KEY_LEN..split;

    let data = split + splitter.len();
    let data_len = bytes.len() - data;
    let format = match (caller_salt, has_header) {
        (true, _) => Format::CallerSalt,
        (false, true) => Format::VerR2,
        (false, false) => Format::Legacy,
    };
    let min = match format {
        Format::VerR2 => R2_AAD_LEN + TAG_LEN,
        Format::Legacy => TAG_LEN + LEGACY_IV_LEN,
        Format::CallerSalt => TAG_LEN,
    };
    if data_len < min {
        return Err(EnvelopeError::Truncated { part: "data part", len: data_len, min });
    }
    let end = bytes.len();
    let layout = match format {
        Format::VerR2 => Layout {
            format,
            has_header,
            thumbprint,
            wrapped_key,
            nonce: data..data + R2_NONCE_LEN,
            aad: data..data + R2_AAD_LEN,
            ciphertext: data + R2_AAD_LEN..end - TAG_LEN,
            tag: end - TAG_LEN..end,
        },
        Format::Legacy => Layout {
            format,
            has_header,
            thumbprint,
            wrapped_key,
            nonce: end - LEGACY_IV_LEN..end,
            aad: data..data,
            ciphertext: data..end - LEGACY_IV_LEN - TAG_LEN,
            tag: end - LEGACY_IV_LEN - TAG_LEN..end - LEGACY_IV_LEN,
        },
        Format::CallerSalt => Layout {
            format,
            has_header,
            thumbprint,
            wrapped_key,
            nonce: data..data,
            aad: data..data,
            ciphertext: data..end - TAG_LEN,
            tag: end - TAG_LEN..end,
        },
    };
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn envelope(header: bool, key_len: usize, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if header {
            out.extend_from_slice(VER_R2);
        }
        out.extend(std::iter::repeat_n(0xAB, key_len));
        out.extend_from_slice(DEFAULT_SPLITTER);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn finds_fields_of_each_format() {
        let bytes = envelope(true, KEY_PART_LEN, &[1; 48 + 5]);
        let layout = parse(&bytes, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!(layout.format, Format::VerR2);
        assert_eq!(layout.wrapped_key, 38..294);
        assert_eq!(layout.aad, 308..340);
        assert_eq!(layout.nonce, 308..320);
        assert_eq!(layout.ciphertext, 340..345);
        assert_eq!(layout.tag, 345..361);

        let bytes = envelope(false, KEY_PART_LEN, &[1; 32]);
        let layout = parse(&bytes, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!(layout.format, Format::Legacy);
        assert_eq!(layout.ciphertext, 302..302);
        assert_eq!(layout.tag, 302..318);
        assert_eq!(layout.nonce, 318..334);

        let layout = parse(&bytes, DEFAULT_SPLITTER, true).expect("valid");
        assert_eq!(layout.format, Format::CallerSalt);
        assert_eq!(layout.ciphertext, 302..318);
    }

    #[test]
    fn structural_errors() {
        let kind = |b: &[u8]| parse(b, DEFAULT_SPLITTER, false).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind(b""), Err("empty_input"));
        assert_eq!(kind(&[0x41; 400]), Err("missing_splitter"));
        assert_eq!(kind(&envelope(true, KEY_PART_LEN - 1, &[0; 48])), Err("truncated"));
        assert_eq!(kind(&envelope(true, KEY_PART_LEN + 1, &[0; 48])), Err("bad_wrapped_key_length"));
        assert_eq!(kind(&envelope(true, KEY_PART_LEN, &[0; 47])), Err("truncated"));
        assert_eq!(kind(&envelope(false, KEY_PART_LEN, &[0; 31])), Err("truncated"));
        assert_eq!(kind(&envelope(false, KEY_PART_LEN, &[0; 32])), Ok(()));
    }

    #[test]
    fn a_key_part_without_thumbprint_only_when_allowed() {
        let legacy = envelope(false, WRAPPED_KEY_LEN, &[7; 40]);
        let strict = parse(&legacy, DEFAULT_SPLITTER, false).map_err(|e| e.kind());
        assert_eq!(strict, Err("truncated"), "the conformance rule stays the default");

        let layout = parse_allowing_no_thumbprint(&legacy, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!(layout.thumbprint, None);
        assert_eq!(layout.wrapped_key, 0..WRAPPED_KEY_LEN);
        assert_eq!(layout.format, Format::Legacy);

        let r2 = envelope(true, WRAPPED_KEY_LEN, &[7; 48]);
        let layout = parse_allowing_no_thumbprint(&r2, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!((layout.thumbprint, layout.format), (None, Format::VerR2));
        assert_eq!(layout.wrapped_key, 6..6 + WRAPPED_KEY_LEN);

        let with = envelope(true, KEY_PART_LEN, &[7; 48]);
        let layout = parse_allowing_no_thumbprint(&with, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!(layout.thumbprint, Thumbprint::from_slice(&[0xAB; 32]));
        assert_eq!(layout, parse(&with, DEFAULT_SPLITTER, false).expect("valid"));

        let kind = |b: &[u8]| {
            parse_allowing_no_thumbprint(b, DEFAULT_SPLITTER, false).map(|_| ()).map_err(|e| e.kind())
        };
        assert_eq!(kind(&envelope(false, WRAPPED_KEY_LEN - 1, &[0; 40])), Err("truncated"));
        assert_eq!(kind(&envelope(false, WRAPPED_KEY_LEN + 1, &[0; 40])), Err("bad_wrapped_key_length"));
        assert_eq!(kind(&envelope(false, KEY_PART_LEN + 1, &[0; 40])), Err("bad_wrapped_key_length"));
    }

    #[test]
    fn first_splitter_wins() {
        let mut data = vec![0; 48];
        data.extend_from_slice(DEFAULT_SPLITTER);
        let bytes = envelope(true, KEY_PART_LEN, &data);
        let layout = parse(&bytes, DEFAULT_SPLITTER, false).expect("valid");
        assert_eq!(layout.tag.end, bytes.len());
        assert_eq!(find_splitter(b"##KEY_SPLITTER#", DEFAULT_SPLITTER), Some(1));
        assert_eq!(find_splitter(b"#KEY_SPLITTER", DEFAULT_SPLITTER), None);
        assert_eq!(find_splitter(b"abc", b""), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_ranges_stay_inside(bytes in proptest::collection::vec(any::<u8>(), 0..700), header in any::<bool>(), salt in any::<bool>(), cut in 0usize..400) {
            // Mostly-valid shapes reach the deeper checks; raw bytes exercise the rest.
            let mut shaped = envelope(header, KEY_PART_LEN, &bytes);
            shaped.truncate(shaped.len().saturating_sub(cut));
            let mut shaped_short = envelope(header, WRAPPED_KEY_LEN, &bytes);
            shaped_short.truncate(shaped_short.len().saturating_sub(cut));
            for input in [&bytes[..], &shaped[..], &shaped_short[..]] {
                let strict = parse(input, DEFAULT_SPLITTER, salt);
                let lenient = parse_allowing_no_thumbprint(input, DEFAULT_SPLITTER, salt);
                if let Ok(l) = &strict {
                    prop_assert!(l.thumbprint.is_some());
                    prop_assert_eq!(Some(l), lenient.as_ref().ok(), "lenient accepts all strict does, alike");
                }
                for l in [strict.ok(), lenient.ok()].into_iter().flatten() {
                    for r in [&l.wrapped_key, &l.nonce, &l.aad, &l.ciphertext, &l.tag] {
                        prop_assert!(r.start <= r.end && r.end <= input.len());
                    }
                    prop_assert_eq!(l.tag.len(), TAG_LEN);
                    prop_assert_eq!(l.wrapped_key.len(), WRAPPED_KEY_LEN);
                }
            }
        }
    }
}
