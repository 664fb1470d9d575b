//! Property tests of the codec: round trips of every mode and size, plaintexts holding the
//! splitter, and arbitrary input that must be refused without a panic.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::OnceLock;

use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_envelope::{Codec, EnvelopeError, OpenParams, Recipient, RecipientKey, SealMode, base64, format};
use proptest::prelude::*;

struct Fixture {
    recipient: Recipient,
    keys: RecipientKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let cert = Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).expect("cert");
        let key =
            RsaPrivateKey::from_pkcs8_pem(include_bytes!("../../../testdata/fixture-key.pem")).expect("key");
        Fixture {
            recipient: Recipient::from_certificate(&cert).expect("recipient"),
            keys: RecipientKey::new(key, &cert).expect("pair"),
        }
    })
}

/// Plaintexts from 0 bytes to 1 MiB, many of them holding the splitter somewhere.
fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    let small = proptest::collection::vec(any::<u8>(), 0..2048);
    let large = (0usize..=1 << 20, any::<u8>())
        .prop_map(|(len, fill)| (0..len).map(|i| fill.wrapping_add((i as u8).wrapping_mul(31))).collect());
    (prop_oneof![4 => small, 1 => large], any::<prop::sample::Index>(), any::<bool>()).prop_map(
        |(mut data, at, splice)| {
            if splice {
                let at = at.index(data.len() + 1);
                data.splice(at..at, format::DEFAULT_SPLITTER.iter().copied());
            }
            data
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_mode_round_trips(plain in plaintext(), salt16 in any::<bool>(), aad in proptest::collection::vec(any::<u8>(), 0..40)) {
        let f = fixture();
        let codec = Codec::default();
        let salt = if salt16 { [5u8; 16].to_vec() } else { [5u8; 12].to_vec() };
        let cases = [
            (SealMode::VerR2, OpenParams::default()),
            (SealMode::Legacy { aad: &aad }, OpenParams { salt: None, aad: &aad }),
            (SealMode::CallerSalt { salt: &salt, aad: &aad }, OpenParams { salt: Some(&salt), aad: &aad }),
        ];
        for (mode, params) in cases {
            let text = codec.seal_text(&plain, &f.recipient, mode).expect("seal");
            prop_assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
            let opened = codec.open_text(text.as_bytes(), &f.keys, params).expect("open");
            prop_assert_eq!(&*opened, &plain[..]);
            let owned = codec.open_text_owned(text.clone().into_bytes(), &f.keys, params).expect("open owned");
            prop_assert_eq!(&*owned, &plain[..]);
            prop_assert_eq!(opened.into_vec().to_vec(), plain.clone());
        }
    }

    #[test]
    fn wrong_aad_or_salt_is_auth_failed(plain in proptest::collection::vec(any::<u8>(), 0..256)) {
        let f = fixture();
        let codec = Codec::default();
        let text = codec.seal_text(&plain, &f.recipient, SealMode::Legacy { aad: b"right" }).expect("seal");
        let err = codec.open_text(text.as_bytes(), &f.keys, OpenParams { salt: None, aad: b"wrong" }).expect_err("must fail");
        prop_assert_eq!(err, EnvelopeError::AuthFailed);
        let text = codec.seal_text(&plain, &f.recipient, SealMode::CallerSalt { salt: &[1; 12], aad: b"" }).expect("seal");
        let err = codec.open_text(text.as_bytes(), &f.keys, OpenParams { salt: Some(&[2; 12]), aad: b"" }).expect_err("must fail");
        prop_assert_eq!(err, EnvelopeError::AuthFailed);
    }

    #[test]
    fn arbitrary_text_is_refused_without_panic(text in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let codec = Codec::default();
        let borrowed = codec.open_text(&text, &fixture().keys, OpenParams::default());
        let owned = codec.open_text_owned(text.clone(), &fixture().keys, OpenParams::default());
        prop_assert!(borrowed.is_err());
        prop_assert_eq!(borrowed.err(), owned.err());
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200), salt in any::<bool>()) {
        let params = OpenParams { salt: salt.then_some(&[0u8; 12][..]), aad: b"" };
        prop_assert!(Codec::default().open(bytes, &fixture().keys, params).is_err());
    }

    #[test]
    fn single_byte_damage_never_yields_plaintext(plain in proptest::collection::vec(any::<u8>(), 1..300), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let f = fixture();
        let codec = Codec::default();
        let mut bytes = codec.seal(&plain, &f.recipient, SealMode::VerR2).expect("seal");
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(codec.open(bytes, &f.keys, OpenParams::default()).is_err());
    }
}

#[test]
fn size_limit_and_parameters() {
    let f = fixture();
    let small = Codec::default().with_max_envelope_len(1000);
    let text = small.seal_text(&[0u8; 1000], &f.recipient, SealMode::VerR2).expect("seal has no limit");
    assert!(matches!(
        small.open_text(text.as_bytes(), &f.keys, OpenParams::default()),
        Err(EnvelopeError::TooLarge { .. })
    ));
    assert!(matches!(
        Codec::default().seal(b"x", &f.recipient, SealMode::CallerSalt { salt: &[0; 8], aad: b"" }),
        Err(EnvelopeError::InvalidParameter(_))
    ));
    assert!(Codec::default().with_splitter(b"").is_err());
}

#[test]
fn custom_splitter_is_used_both_ways() {
    let f = fixture();
    let codec = Codec::default().with_splitter(b"||").expect("valid splitter");
    let bytes = codec.seal(b"hello", &f.recipient, SealMode::VerR2).expect("seal");
    assert_eq!(bytes.get(294..296), Some(&b"||"[..]));
    assert_eq!(&*codec.open(bytes.clone(), &f.keys, OpenParams::default()).expect("open"), b"hello");
    assert_eq!(
        Codec::default().open(bytes, &f.keys, OpenParams::default()).map(|_| ()),
        Err(EnvelopeError::MissingSplitter)
    );
}

#[test]
fn text_layer_accepts_padded_and_standard_forms() {
    let f = fixture();
    let codec = Codec::default();
    let bytes = codec.seal(b"any form", &f.recipient, SealMode::VerR2).expect("seal");
    let url = base64::encode(&bytes);
    let std_padded = {
        let mut s = url.replace('-', "+").replace('_', "/");
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        s
    };
    for text in [url, std_padded] {
        assert_eq!(
            &*codec.open_text(text.as_bytes(), &f.keys, OpenParams::default()).expect("open"),
            b"any form"
        );
    }
}
