//! Partner token ids (MOSIP's `/tokenid/{uin}/{partnercode}`): a value a partner can keep for a
//! resident without learning the UIN, the same for the same UIN and partner, different between
//! partners.
//!
//! `h1 = HEXUPPER(SHA-256(uin || uinSalt))`, `h2 = HEXUPPER(SHA-256(partnerSalt || partnerCode
//! || h1))`, and the token is the first `length` digits of the decimal value of the big-endian
//! integer whose bytes are the ASCII text of `h2` (MOSIP's `new BigInteger(h2.getBytes())`).

use keymgr_crypto::sha256;

use super::KeyManager;
use crate::KeymgrError;

/// The most digits a token can have: the integer of 64 ASCII hex digits has at least 152
/// decimal digits (its first byte is at least `0x30`).
pub const MAX_TOKEN_ID_LEN: usize = 152;

impl KeyManager {
    /// The token id of `uin` for `partner_code`, both trimmed as MOSIP does
    /// (`KER-TIG-010` when either is empty; `KER-UIG-005` when the salts are not configured).
    pub fn token_id(&self, uin: &str, partner_code: &str) -> Result<String, KeymgrError> {
        let (uin, partner_code) = (uin.trim(), partner_code.trim());
        if uin.is_empty() || partner_code.is_empty() {
            return Err(KeymgrError::EmptyUinOrPartnerCode);
        }
        let settings = &self.config.token_ids;
        let (Some(uin_salt), Some(partner_salt)) = (&settings.uin_salt, &settings.partner_code_salt) else {
            return Err(KeymgrError::TokenIdsNotConfigured);
        };
        Ok(token_id(uin, partner_code, uin_salt, partner_salt, settings.length))
    }
}

/// The derivation itself (see the module docs); `length` is at most [`MAX_TOKEN_ID_LEN`].
pub(crate) fn token_id(
    uin: &str,
    partner_code: &str,
    uin_salt: &str,
    partner_salt: &str,
    length: usize,
) -> String {
    let h1 = hex::encode_upper(sha256(format!("{uin}{uin_salt}").as_bytes()));
    let h2 = hex::encode_upper(sha256(format!("{partner_salt}{partner_code}{h1}").as_bytes()));
    let mut digits = decimal(h2.as_bytes());
    digits.truncate(length.min(MAX_TOKEN_ID_LEN));
    digits
}

/// The decimal digits of the unsigned big-endian integer `bytes`.
fn decimal(bytes: &[u8]) -> String {
    // Base 2^32 limbs, most significant first; divided by 10^9 until nothing is left.
    let mut limbs: Vec<u32> =
        bytes.rchunks(4).rev().map(|c| c.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b))).collect();
    let mut groups = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rest = 0u64;
        for limb in limbs.iter_mut() {
            let n = (rest << 32) | u64::from(*limb);
            *limb = (n / 1_000_000_000) as u32;
            rest = n % 1_000_000_000;
        }
        groups.push(rest as u32);
    }
    let mut out = groups.last().map(u32::to_string).unwrap_or_else(|| "0".into());
    for group in groups.iter().rev().skip(1) {
        out.push_str(&format!("{group:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_of_big_integers() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(decimal(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), "18446744073709551616");
        assert_eq!(decimal(&[0x3b, 0x9a, 0xca, 0x00]), "1000000000");
    }

    #[test]
    fn token_ids_depend_on_uin_partner_and_salts() {
        let t = token_id("1234", "1234", "uinsalt", "partnersalt", 36);
        assert_eq!(t.len(), 36);
        assert!(t.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(t, token_id("1234", "1234", "uinsalt", "partnersalt", 36));
        assert_ne!(t, token_id("1234", "1235", "uinsalt", "partnersalt", 36));
        assert_ne!(t, token_id("1235", "1234", "uinsalt", "partnersalt", 36));
        assert_ne!(t, token_id("1234", "1234", "uinsalt2", "partnersalt", 36));
        assert_eq!(token_id("1", "2", "a", "b", 500).len(), MAX_TOKEN_ID_LEN);
    }
}
