//! MOSIP's `key_store.private_key` format (reference 3.3): a base key's PKCS#8, encrypted
//! under a fresh AES key that is RSA-OAEP-wrapped for the module master.
//!
//! ```text
//! base64url( RSA-OAEP-SHA256(masterPub, K) || "#KEY_SPLITTER#" || AES-GCM_K(PKCS8) || tag (16) || IV (16) )
//! ```

use keymgr_crypto::aead::{LEGACY_IV_LEN, TAG_LEN};
use keymgr_crypto::{DataKey, RsaPublicKey, SecretBytes, aead, fill_random};
use keymgr_envelope::base64;
use keymgr_envelope::format::{DEFAULT_SPLITTER, find_splitter};
use zeroize::Zeroizing;

use crate::KeymgrError;

/// Largest stored key text read (the column holds 2,500 characters).
const MAX_STORED_LEN: usize = 8 * 1024;

/// Encrypts `pkcs8` for the master whose public key is `master`, in MOSIP's format.
pub fn wrap_private_key_for_store(pkcs8: &SecretBytes, master: &RsaPublicKey) -> Result<String, KeymgrError> {
    let key = DataKey::generate()?;
    let mut iv = [0u8; LEGACY_IV_LEN];
    fill_random(&mut iv)?;
    let wrapped = master.oaep_wrap(key.expose())?;
    let mut out =
        Zeroizing::new(Vec::with_capacity(wrapped.len() + DEFAULT_SPLITTER.len() + pkcs8.len() + 32));
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(DEFAULT_SPLITTER);
    let start = out.len();
    out.extend_from_slice(pkcs8.expose());
    let tag = aead::seal_in_place(&key, &iv, b"", out.get_mut(start..).unwrap_or_default())?;
    out.extend_from_slice(&tag);
    out.extend_from_slice(&iv);
    Ok(base64::encode(&out))
}

/// Decrypts a stored key: `unwrap` RSA-OAEP-decrypts the wrapped AES key with the master's
/// private key (in the HSM). Accepts the padded standard base64 of old rows.
pub fn unwrap_stored_private_key(
    text: &str,
    modulus_len: usize,
    unwrap: impl FnOnce(&[u8]) -> Result<SecretBytes, KeymgrError>,
) -> Result<SecretBytes, KeymgrError> {
    let bad = |why: &str| KeymgrError::Crypto(format!("stored private key: {why}"));
    let bytes =
        Zeroizing::new(base64::decode(text.as_bytes(), MAX_STORED_LEN).map_err(|e| bad(&e.to_string()))?);
    // The wrapped key is one RSA block; look for the splitter there first, since the random
    // wrapped key may itself contain the splitter's bytes.
    let split = if bytes.get(modulus_len..modulus_len + DEFAULT_SPLITTER.len()) == Some(DEFAULT_SPLITTER) {
        modulus_len
    } else {
        find_splitter(&bytes, DEFAULT_SPLITTER).ok_or_else(|| bad("no splitter"))?
    };
    let (wrapped, rest) = bytes.split_at(split);
    let data = rest.get(DEFAULT_SPLITTER.len()..).unwrap_or_default();
    let body_len = data.len().checked_sub(TAG_LEN + LEGACY_IV_LEN).ok_or_else(|| bad("truncated"))?;
    let (ciphertext, tail) = data.split_at(body_len);
    let (tag, iv) = tail.split_at(TAG_LEN);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| bad("truncated"))?;
    let key = unwrap(wrapped)?;
    let key = DataKey::from_slice(key.expose()).map_err(|_| bad("wrapped key is not AES-256"))?;
    let mut plain = SecretBytes::new(ciphertext.to_vec());
    aead::open_in_place(&key, iv, b"", plain.expose_mut(), &tag).map_err(|_| bad("authentication failed"))?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_crypto::RsaPrivateKey;

    #[test]
    fn round_trip_and_damage() {
        let master = RsaPrivateKey::generate_2048().expect("master");
        let base = RsaPrivateKey::generate_2048().expect("base");
        let pkcs8 = base.to_pkcs8_der().expect("pkcs8");
        let text = wrap_private_key_for_store(&pkcs8, &master.public_key().expect("pk")).expect("wrap");
        assert!(text.len() < 2500, "fits the key_store column: {}", text.len());
        let unwrap = |w: &[u8]| master.oaep_unwrap(w).map_err(KeymgrError::from);
        let back = unwrap_stored_private_key(&text, 256, unwrap).expect("unwrap");
        assert_eq!(back.expose(), pkcs8.expose());

        let mut damaged = text.clone().into_bytes();
        let i = damaged.len() - 30;
        damaged[i] = if damaged[i] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(damaged).expect("ascii");
        assert!(
            unwrap_stored_private_key(&damaged, 256, |w| master.oaep_unwrap(w).map_err(KeymgrError::from))
                .is_err()
        );
        assert!(
            unwrap_stored_private_key("not base64!", 256, |_| Err(KeymgrError::DecryptionFailed)).is_err()
        );
        assert!(unwrap_stored_private_key("QUJD", 256, |_| Err(KeymgrError::DecryptionFailed)).is_err());
    }
}
