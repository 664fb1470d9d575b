//! RSA-OAEP decoding in software (RFC 8017 section 7.1.2), for HSMs that do raw RSA but refuse
//! OAEP with SHA-256 (SoftHSM2 among them): the token computes `m = c^d mod n` with
//! `CKM_RSA_X_509` and this module strips the padding, in constant time.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::{CryptoError, SecretBytes, sha256};

const HASH_LEN: usize = 32;
/// SHA-256 of the empty label.
const EMPTY_LABEL_HASH: [u8; HASH_LEN] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
    0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// XORs MGF1(`seed`) with the hash `digest` into `out` (RFC 8017 B.2.1): here with SHA-256,
/// and with SHA-1 for Android clients' OAEP (`client_keys`).
pub(crate) fn mgf1_xor<const N: usize>(digest: fn(&[u8]) -> [u8; N], seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(N).enumerate() {
        let mut input = Vec::with_capacity(seed.len() + 4);
        input.extend_from_slice(seed);
        input.extend_from_slice(&(counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(digest(&input)) {
            *o ^= m;
        }
    }
}

/// Decodes an OAEP-encoded block (SHA-256, MGF1-SHA-256, empty label). `em` is the raw RSA
/// output, left-padded with zeros to the modulus length.
///
/// Whether the padding is good is computed without branches or memory accesses that depend on
/// the secret block; every failure is the same [`CryptoError::UnwrapFailed`]. Only the length
/// of a *valid* message shows in the final copy.
pub fn oaep_sha256_decode(em: &[u8]) -> Result<SecretBytes, CryptoError> {
    let k = em.len();
    if k < 2 * HASH_LEN + 2 {
        return Err(CryptoError::UnwrapFailed);
    }
    let mut block = SecretBytes::new(em.to_vec());
    let buf = block.expose_mut();
    let (y, rest) = buf.split_at_mut(1);
    let (masked_seed, masked_db) = rest.split_at_mut(HASH_LEN);
    mgf1_xor(sha256, masked_db, masked_seed);
    mgf1_xor(sha256, masked_seed, masked_db);
    let (l_hash, tail) = masked_db.split_at(HASH_LEN);

    let mut good = y.first().copied().unwrap_or(1).ct_eq(&0) & l_hash.ct_eq(&EMPTY_LABEL_HASH);
    let mut looking = Choice::from(1u8);
    let mut index = 0u32;
    let mut bad_byte = Choice::from(0u8);
    for (i, &b) in tail.iter().enumerate() {
        let is_zero = b.ct_eq(&0);
        let is_one = b.ct_eq(&1);
        index.conditional_assign(&(i as u32), looking & is_one);
        bad_byte |= looking & !is_zero & !is_one;
        looking &= !is_one;
    }
    good &= !bad_byte & !looking;
    if !bool::from(good) {
        return Err(CryptoError::UnwrapFailed);
    }
    let start = index as usize + 1;
    Ok(SecretBytes::new(tail.get(start..).unwrap_or_default().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes like RFC 8017 7.1.1, for the tests.
    fn encode(msg: &[u8], seed: [u8; HASH_LEN], k: usize) -> Vec<u8> {
        let mut db = EMPTY_LABEL_HASH.to_vec();
        db.resize(k - msg.len() - HASH_LEN - 2, 0);
        db.push(1);
        db.extend_from_slice(msg);
        let mut seed = seed.to_vec();
        mgf1_xor(sha256, &seed, &mut db);
        mgf1_xor(sha256, &db, &mut seed);
        let mut em = vec![0u8];
        em.extend(seed);
        em.extend(db);
        em
    }

    #[test]
    fn decodes_what_encodes_and_refuses_damage() {
        for len in [0, 1, 32, 190] {
            let msg: Vec<u8> = (0..len as u8).collect();
            let em = encode(&msg, [7; HASH_LEN], 256);
            assert_eq!(oaep_sha256_decode(&em).expect("valid").expose(), &msg[..]);
            for at in [0, 1, 40, 70, 255] {
                let mut bad = em.clone();
                bad[at] ^= 0x80;
                assert_eq!(oaep_sha256_decode(&bad).map(|_| ()), Err(CryptoError::UnwrapFailed), "byte {at}");
            }
        }
        assert!(oaep_sha256_decode(&[0; 10]).is_err());
    }
}
