//! Recognising a private key by its shape: the guard that keeps keystore keys from handing
//! out PKCS#8 private keys (see `keymgr-core`'s decryption scope).

use crate::der_read::read_tlv;

/// Whether `bytes` is shaped like a PKCS#8 `PrivateKeyInfo` or `OneAsymmetricKey` (RFC 5958):
/// one `SEQUENCE` spanning all of it, holding `INTEGER` version 0 or 1, an
/// `AlgorithmIdentifier` `SEQUENCE` that starts with an `OBJECT IDENTIFIER`, and an
/// `OCTET STRING`. A shape check, not a parse: it says "this is a private key" for any
/// algorithm, which is what a guard against handing out private keys needs.
pub fn is_private_key_info(bytes: &[u8]) -> bool {
    let shaped = || -> Option<bool> {
        let (0x30, body, []) = read_tlv(bytes)? else { return Some(false) };
        let (0x02, version, body) = read_tlv(body)? else { return Some(false) };
        if version != [0] && version != [1] {
            return Some(false);
        }
        let (0x30, algorithm, body) = read_tlv(body)? else { return Some(false) };
        let (0x06, _, _) = read_tlv(algorithm)? else { return Some(false) };
        let (0x04, _, _) = read_tlv(body)? else { return Some(false) };
        Some(true)
    };
    shaped().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_infos_are_recognised_and_other_bytes_are_not() {
        let rsa = crate::RsaPrivateKey::generate_2048().expect("rsa");
        assert!(is_private_key_info(rsa.to_pkcs8_der().expect("pkcs8").expose()));
        for kind in [crate::AsymmetricKind::EcP256, crate::AsymmetricKind::EcSecp256k1] {
            let ec = crate::SigningKey::generate(kind).expect("ec");
            assert!(is_private_key_info(ec.pkcs8().expose()), "{kind:?}");
        }
        // An Ed25519 OneAsymmetricKey (RFC 8410 example).
        let ed = hex_bytes(
            "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
        );
        assert!(is_private_key_info(&ed));
        let cert =
            crate::pem::decode_first(include_bytes!("../../../testdata/fixture-cert.pem"), &["CERTIFICATE"])
                .expect("pem");
        assert!(!is_private_key_info(&cert), "a certificate");
        for other in [&b""[..], b"0", b"hello world", &[0x30, 0x03, 0x02, 0x01, 0x00], &ed[..ed.len() - 1]] {
            assert!(!is_private_key_info(other), "{other:?}");
        }
        let mut trailing = ed.clone();
        trailing.push(0);
        assert!(!is_private_key_info(&trailing), "bytes after the SEQUENCE");
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }
}
