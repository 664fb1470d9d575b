//! AES-256-GCM over data that does not fit in memory, a piece at a time.
//!
//! [`crate::aead`] seals and opens whole buffers; a packet of gigabytes goes through here
//! instead, in pieces of any size, and produces exactly the same ciphertext and tag (the tests
//! check it against `ring` and `aes-gcm` on every length around the block size). GCM is
//! assembled from its two halves (NIST SP 800-38D): AES-256 in 32-bit counter mode from `J0 + 1`
//! and GHASH over `aad || ciphertext || lengths`, the tag being `GHASH ^ AES(J0)`. Both halves
//! are RustCrypto's (`aes` with AES-NI, `ctr`, `ghash` with CLMUL), the crates `aes-gcm` is made
//! of, and are zeroized on drop.
//!
//! Three shapes, for the three places a nonce can be:
//!
//! * [`GcmSealer`]: nonce known first; encrypts in place, then the tag.
//! * [`GcmOpener`]: nonce known first; decrypts in place as data arrives. What it returns is
//!   **not authentic** until [`GcmOpener::finish`] accepts the tag: the caller keeps it out of
//!   reach (a temporary file, removed on failure) until then.
//! * [`GcmVerifier`]: the nonce comes after the ciphertext (MOSIP's legacy envelope puts its IV
//!   last). It authenticates the ciphertext first; only a verified tag yields the
//!   [`GcmKeystream`] that decrypts it, in a second pass. No plaintext exists before the check.

use aes::Aes256;
use aes::cipher::{BlockEncrypt, InnerIvInit, KeyInit, StreamCipher};
use ctr::Ctr32BE;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use zeroize::Zeroizing;

use crate::aead::{LEGACY_IV_LEN, NONCE_LEN, TAG_LEN};
use crate::{CryptoError, DataKey, ct_eq};

/// The most data one GCM message may hold: 2^32 - 2 blocks (NIST SP 800-38D, 5.2.1.1).
pub const MAX_MESSAGE_LEN: u64 = ((1u64 << 32) - 2) * 16;

const BLOCK: usize = 16;

fn too_long(got: u64) -> CryptoError {
    CryptoError::BadLength {
        what: "GCM message",
        expected: "at most 64 GiB",
        got: usize::try_from(got).unwrap_or(usize::MAX),
    }
}

fn bad_nonce(got: usize) -> CryptoError {
    CryptoError::BadLength { what: "GCM nonce", expected: "12 or 16 bytes", got }
}

/// The block cipher under the key, and GHASH's key `H = AES(0)`.
fn key_schedule(key: &DataKey) -> Result<(Aes256, GHash), CryptoError> {
    let aes = Aes256::new_from_slice(key.expose()).map_err(|_| CryptoError::KeyRejected("AES-256 key"))?;
    let mut h = Zeroizing::new([0u8; BLOCK]);
    aes.encrypt_block(h.as_mut().into());
    let ghash = GHash::new(h.as_ref().into());
    Ok((aes, ghash))
}

/// The pre-counter block `J0` of a 12-byte nonce (`nonce || 1`) or a 16-byte IV (its GHASH).
fn pre_counter_block(ghash_key: &GHash, nonce: &[u8]) -> Result<[u8; BLOCK], CryptoError> {
    let mut j0 = [0u8; BLOCK];
    match nonce.len() {
        NONCE_LEN => {
            j0.get_mut(..NONCE_LEN).unwrap_or_default().copy_from_slice(nonce);
            if let Some(last) = j0.last_mut() {
                *last = 1;
            }
        }
        LEGACY_IV_LEN => {
            // `ghash_key` has absorbed nothing: a copy hashes the IV under the same H.
            let mut g = ghash_key.clone();
            g.update_padded(nonce);
            let mut lengths = [0u8; BLOCK];
            lengths
                .get_mut(8..)
                .unwrap_or_default()
                .copy_from_slice(&(LEGACY_IV_LEN as u64 * 8).to_be_bytes());
            g.update_padded(&lengths);
            j0.copy_from_slice(&g.finalize());
        }
        n => return Err(bad_nonce(n)),
    }
    Ok(j0)
}

/// The counter-mode keystream from `inc32(J0)`, and the tag mask `AES(J0)`.
fn keystream(aes: &Aes256, j0: &[u8; BLOCK]) -> (Ctr32BE<Aes256>, Zeroizing<[u8; BLOCK]>) {
    let mut mask = Zeroizing::new(*j0);
    aes.encrypt_block(mask.as_mut().into());
    let (fixed, counter) = j0.split_at(BLOCK - 4);
    let low = counter.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)).wrapping_add(1);
    let mut first = [0u8; BLOCK];
    first.get_mut(..BLOCK - 4).unwrap_or_default().copy_from_slice(fixed);
    first.get_mut(BLOCK - 4..).unwrap_or_default().copy_from_slice(&low.to_be_bytes());
    let core = ctr::CtrCore::<Aes256, ctr::flavors::Ctr32BE>::inner_iv_init(aes.clone(), (&first).into());
    (Ctr32BE::<Aes256>::from_core(core), mask)
}

/// What a message with its nonce known first starts from: the keystream, the tag mask and
/// GHASH over the associated data.
type Started = (Ctr32BE<Aes256>, Zeroizing<[u8; BLOCK]>, Authenticator);

fn start(key: &DataKey, nonce: &[u8], aad: &[u8]) -> Result<Started, CryptoError> {
    let (aes, ghash) = key_schedule(key)?;
    let j0 = pre_counter_block(&ghash, nonce)?;
    let (ctr, mask) = keystream(&aes, &j0);
    Ok((ctr, mask, Authenticator::new(ghash, aad)))
}

/// GHASH over the associated data, then the ciphertext as it passes, in whole blocks.
struct Authenticator {
    ghash: GHash,
    partial: [u8; BLOCK],
    partial_len: usize,
    aad_len: u64,
    data_len: u64,
}

impl Authenticator {
    fn new(mut ghash: GHash, aad: &[u8]) -> Self {
        ghash.update_padded(aad);
        Self { ghash, partial: [0; BLOCK], partial_len: 0, aad_len: aad.len() as u64, data_len: 0 }
    }

    /// Counts `len` more bytes, refusing a message GCM cannot hold.
    fn reserve(&mut self, len: usize) -> Result<(), CryptoError> {
        let total = self.data_len.saturating_add(len as u64);
        if total > MAX_MESSAGE_LEN {
            return Err(too_long(total));
        }
        self.data_len = total;
        Ok(())
    }

    fn absorb(&mut self, mut ciphertext: &[u8]) {
        if self.partial_len > 0 {
            let take = (BLOCK - self.partial_len).min(ciphertext.len());
            let (head, rest) = ciphertext.split_at(take);
            self.partial
                .get_mut(self.partial_len..self.partial_len + take)
                .unwrap_or_default()
                .copy_from_slice(head);
            self.partial_len += take;
            ciphertext = rest;
            if self.partial_len < BLOCK {
                return;
            }
            self.ghash.update_padded(&self.partial);
            self.partial_len = 0;
        }
        let whole = ciphertext.len() - ciphertext.len() % BLOCK;
        let (blocks, tail) = ciphertext.split_at(whole);
        self.ghash.update_padded(blocks);
        self.partial.get_mut(..tail.len()).unwrap_or_default().copy_from_slice(tail);
        self.partial_len = tail.len();
    }

    /// `GHASH(aad, ciphertext)` with the length block, masked into the tag.
    fn tag(mut self, mask: &[u8; BLOCK]) -> [u8; TAG_LEN] {
        self.ghash.update_padded(self.partial.get(..self.partial_len).unwrap_or_default());
        let mut lengths = [0u8; BLOCK];
        lengths.get_mut(..8).unwrap_or_default().copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths.get_mut(8..).unwrap_or_default().copy_from_slice(&(self.data_len * 8).to_be_bytes());
        self.ghash.update_padded(&lengths);
        let mut tag: [u8; TAG_LEN] = self.ghash.finalize().into();
        tag.iter_mut().zip(mask).for_each(|(t, m)| *t ^= m);
        tag
    }
}

/// Encrypts a message a piece at a time; [`GcmSealer::finish`] gives the tag. The pieces may
/// have any length; the result is [`crate::aead::seal_in_place`]'s for the whole message.
pub struct GcmSealer {
    ctr: Ctr32BE<Aes256>,
    mask: Zeroizing<[u8; BLOCK]>,
    auth: Authenticator,
}

impl GcmSealer {
    /// Starts a message under `key` with a 12- or 16-byte `nonce` (never repeated for a key)
    /// and associated data `aad`.
    pub fn new(key: &DataKey, nonce: &[u8], aad: &[u8]) -> Result<Self, CryptoError> {
        let (ctr, mask, auth) = start(key, nonce, aad)?;
        Ok(Self { ctr, mask, auth })
    }

    /// Encrypts the next piece of the message in place.
    pub fn encrypt(&mut self, in_out: &mut [u8]) -> Result<(), CryptoError> {
        self.auth.reserve(in_out.len())?;
        self.ctr.apply_keystream(in_out);
        self.auth.absorb(in_out);
        Ok(())
    }

    /// Ends the message and returns its tag.
    pub fn finish(self) -> [u8; TAG_LEN] {
        self.auth.tag(&self.mask)
    }
}

/// Decrypts a message a piece at a time, for a nonce known before the data.
///
/// What [`GcmOpener::decrypt`] leaves in the buffer is **not authentic** until
/// [`GcmOpener::finish`] accepts the tag; a caller must not release it before then, and must
/// destroy it when the tag is refused.
pub struct GcmOpener {
    ctr: Ctr32BE<Aes256>,
    mask: Zeroizing<[u8; BLOCK]>,
    auth: Authenticator,
}

impl GcmOpener {
    /// Starts a message under `key` with its 12- or 16-byte `nonce` and associated data.
    pub fn new(key: &DataKey, nonce: &[u8], aad: &[u8]) -> Result<Self, CryptoError> {
        let (ctr, mask, auth) = start(key, nonce, aad)?;
        Ok(Self { ctr, mask, auth })
    }

    /// Decrypts the next piece of ciphertext in place (unverified; see the type's docs).
    pub fn decrypt(&mut self, in_out: &mut [u8]) -> Result<(), CryptoError> {
        self.auth.reserve(in_out.len())?;
        self.auth.absorb(in_out);
        self.ctr.apply_keystream(in_out);
        Ok(())
    }

    /// Checks `tag`, in constant time, against the message decrypted so far.
    pub fn finish(self, tag: &[u8; TAG_LEN]) -> Result<(), CryptoError> {
        let expected = self.auth.tag(&self.mask);
        if ct_eq(&expected, tag) { Ok(()) } else { Err(CryptoError::AuthFailed) }
    }
}

/// Authenticates a ciphertext whose nonce is only known after it (the legacy envelope, whose
/// IV follows the tag). Only a verified tag gives the keystream that decrypts it, so no
/// plaintext exists before the check.
pub struct GcmVerifier {
    aes: Aes256,
    /// GHASH keyed but unused, for the counter block of a 16-byte IV.
    fresh: GHash,
    auth: Authenticator,
}

impl GcmVerifier {
    /// Starts authenticating a message under `key` with associated data `aad`.
    pub fn new(key: &DataKey, aad: &[u8]) -> Result<Self, CryptoError> {
        let (aes, ghash) = key_schedule(key)?;
        Ok(Self { aes, fresh: ghash.clone(), auth: Authenticator::new(ghash, aad) })
    }

    /// Takes the next piece of ciphertext.
    pub fn absorb(&mut self, ciphertext: &[u8]) -> Result<(), CryptoError> {
        self.auth.reserve(ciphertext.len())?;
        self.auth.absorb(ciphertext);
        Ok(())
    }

    /// Checks `tag` for the ciphertext absorbed under `nonce` (12 or 16 bytes), in constant
    /// time; on success, the keystream that decrypts that ciphertext from its first byte.
    pub fn verify(self, nonce: &[u8], tag: &[u8; TAG_LEN]) -> Result<GcmKeystream, CryptoError> {
        let j0 = pre_counter_block(&self.fresh, nonce)?;
        let (ctr, mask) = keystream(&self.aes, &j0);
        let expected = self.auth.tag(&mask);
        if ct_eq(&expected, tag) { Ok(GcmKeystream { ctr }) } else { Err(CryptoError::AuthFailed) }
    }
}

/// The keystream of a message whose tag [`GcmVerifier::verify`] accepted.
pub struct GcmKeystream {
    ctr: Ctr32BE<Aes256>,
}

impl GcmKeystream {
    /// Decrypts the next piece of the verified ciphertext in place.
    pub fn decrypt(&mut self, in_out: &mut [u8]) {
        self.ctr.apply_keystream(in_out);
    }
}

macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), " { .. }"))
            }
        }
    )*};
}
opaque_debug!(GcmSealer, GcmOpener, GcmVerifier, GcmKeystream);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::{open_in_place, seal_in_place};
    use proptest::prelude::*;

    fn key(byte: u8) -> DataKey {
        DataKey::from_slice(&[byte; 32]).expect("32 bytes")
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    /// Seals `plain` in pieces cut at `cuts` (offsets, any order).
    fn seal_pieces(
        key: &DataKey,
        nonce: &[u8],
        aad: &[u8],
        plain: &[u8],
        cuts: &[usize],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut buf = plain.to_vec();
        let mut sealer = GcmSealer::new(key, nonce, aad).expect("nonce");
        for piece in pieces(&mut buf, cuts) {
            sealer.encrypt(piece).expect("within limits");
        }
        (buf, sealer.finish())
    }

    fn pieces<'a>(buf: &'a mut [u8], cuts: &[usize]) -> Vec<&'a mut [u8]> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut out = Vec::new();
        let mut rest = buf;
        let mut done = 0;
        for cut in at {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(cut - done);
            out.push(head);
            rest = tail;
            done = cut;
        }
        out.push(rest);
        out
    }

    /// NIST GCM test case 16 (AES-256, 12-byte IV, aad), in pieces of 7 bytes.
    #[test]
    fn nist_test_case_16_in_pieces() {
        let k = DataKey::from_slice(&hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
            .expect("key");
        let iv = hex("cafebabefacedbaddecaf888");
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let cuts: Vec<usize> = (7..pt.len()).step_by(7).collect();
        let (ct, tag) = seal_pieces(&k, &iv, &aad, &pt, &cuts);
        assert_eq!(
            ct,
            hex(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            )
        );
        assert_eq!(tag.to_vec(), hex("76fc6ece0f4e1768cddf8853bb2d551b"));
    }

    /// NIST GCM test case 15 (AES-256, 12-byte IV, no aad) and the empty message (case 13).
    #[test]
    fn nist_test_cases_13_and_15() {
        let (ct, tag) = seal_pieces(&key(0), &[0; 12], b"", b"", &[]);
        assert!(ct.is_empty());
        assert_eq!(tag.to_vec(), hex("530f8afbc74536b9a963b4f1c4cb738b"));

        let k = DataKey::from_slice(&hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
            .expect("key");
        let pt = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        );
        let (ct, tag) = seal_pieces(&k, &hex("cafebabefacedbaddecaf888"), b"", &pt, &[1, 17, 40]);
        assert_eq!(
            ct,
            hex(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
            )
        );
        assert_eq!(tag.to_vec(), hex("b094dac5d93471bdec1a502270e3cc6c"));
    }

    /// 16-byte IVs (whose counter block is a GHASH) agree with `aes-gcm` over 40 blocks.
    #[test]
    fn sixteen_byte_ivs_agree_with_the_whole_buffer_codec() {
        let plain = vec![0x5a; 16 * 40];
        for iv_byte in 0..=255u8 {
            let iv = [iv_byte; 16];
            let mut whole = plain.clone();
            let whole_tag = seal_in_place(&key(3), &iv, b"x", &mut whole).expect("seal");
            let (ct, tag) = seal_pieces(&key(3), &iv, b"x", &plain, &[33, 100]);
            assert_eq!((ct, tag), (whole, whole_tag), "IV byte {iv_byte}");
        }
    }

    /// The counter is 32 bits and wraps inside the block (GCM's inc32): from a `J0` whose low
    /// word is `0xFFFFFFFE`, block i is `AES(J0 with low word 0xFFFFFFFF + i, mod 2^32)`.
    /// (No IV reaches such a `J0` in a test's time, so the keystream is checked directly.)
    #[test]
    fn counter_wraps_within_its_32_bits() {
        let (aes, _) = key_schedule(&key(4)).expect("key");
        let mut j0 = [0x42u8; BLOCK];
        j0[12..].copy_from_slice(&0xFFFF_FFFEu32.to_be_bytes());
        let (mut ctr, _) = keystream(&aes, &j0);
        let mut stream = vec![0u8; 4 * BLOCK];
        ctr.apply_keystream(&mut stream);
        for (i, block) in stream.chunks(BLOCK).enumerate() {
            let mut counter = j0;
            counter[12..].copy_from_slice(&0xFFFF_FFFFu32.wrapping_add(i as u32).to_be_bytes());
            aes.encrypt_block((&mut counter).into());
            assert_eq!(block, counter, "block {i}");
        }
    }

    #[test]
    fn refused_tag_and_wrong_nonce_length() {
        let (mut ct, mut tag) = seal_pieces(&key(1), &[2; 12], b"", b"some data", &[]);
        tag[15] ^= 1;
        let mut opener = GcmOpener::new(&key(1), &[2; 12], b"").expect("nonce");
        opener.decrypt(&mut ct).expect("within limits");
        assert_eq!(opener.finish(&tag), Err(CryptoError::AuthFailed));
        assert!(GcmSealer::new(&key(1), &[0; 13], b"").is_err());
        assert!(GcmVerifier::new(&key(1), b"").expect("key").verify(&[0; 8], &tag).is_err());
    }

    #[test]
    fn debug_shows_no_state() {
        let sealer = GcmSealer::new(&key(7), &[0; 12], b"").expect("nonce");
        assert_eq!(format!("{sealer:?}"), "GcmSealer { .. }");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Every length around the block size, cut anywhere, both nonce lengths: the same
        /// bytes as the whole-buffer AEAD, and each streaming shape opens what it seals.
        #[test]
        fn agrees_with_the_whole_buffer_aead(
            len in 0usize..200,
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            long_nonce in any::<bool>(),
            seed in any::<u8>(),
        ) {
            let plain: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let nonce = if long_nonce { vec![seed; 16] } else { vec![seed; 12] };
            let k = key(seed);

            let mut whole = plain.clone();
            let whole_tag = seal_in_place(&k, &nonce, &aad, &mut whole).expect("seal");
            let (ct, tag) = seal_pieces(&k, &nonce, &aad, &plain, &cuts);
            prop_assert_eq!(&ct, &whole);
            prop_assert_eq!(tag, whole_tag);

            let mut opened = ct.clone();
            let mut opener = GcmOpener::new(&k, &nonce, &aad).expect("nonce");
            for piece in pieces(&mut opened, &cuts) {
                opener.decrypt(piece).expect("within limits");
            }
            prop_assert!(opener.finish(&tag).is_ok());
            prop_assert_eq!(&opened, &plain);

            let mut verifier = GcmVerifier::new(&k, &aad).expect("key");
            let mut second = ct.clone();
            for piece in pieces(&mut second, &cuts) {
                verifier.absorb(piece).expect("within limits");
            }
            let mut stream = verifier.verify(&nonce, &tag).expect("verified");
            for piece in pieces(&mut second, &cuts) {
                stream.decrypt(piece);
            }
            prop_assert_eq!(&second, &plain);

            let mut check = ct.clone();
            open_in_place(&k, &nonce, &aad, &mut check, &tag).expect("whole-buffer open");
            prop_assert_eq!(check, plain);
        }
    }
}
