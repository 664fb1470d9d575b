//! The components of a private key, read from its PKCS#8: what a PKCS#11 token needs to take a
//! key in (`C_CreateObject` with `CKA_MODULUS`, `CKA_PRIVATE_EXPONENT`, ... for RSA,
//! `CKA_EC_PARAMS` and `CKA_VALUE` for EC), when keys move from the file keystore to a token.
//! Secret components are zeroized when dropped; none of these types prints them.

use std::fmt;

use zeroize::Zeroizing;

use crate::der_read::read_tlv;
use crate::spki::{P256_OID, SECP256K1_OID};
use crate::{AsymmetricKind, CryptoError, SecretBytes};

/// An RSA private key's components, unsigned big-endian without leading zeros (PKCS#11's
/// big integers).
pub struct RsaPrivateParts {
    /// `n`.
    pub modulus: Vec<u8>,
    /// `e`.
    pub public_exponent: Vec<u8>,
    /// `d`.
    pub private_exponent: Zeroizing<Vec<u8>>,
    /// `p`.
    pub prime1: Zeroizing<Vec<u8>>,
    /// `q`.
    pub prime2: Zeroizing<Vec<u8>>,
    /// `d mod (p-1)`.
    pub exponent1: Zeroizing<Vec<u8>>,
    /// `d mod (q-1)`.
    pub exponent2: Zeroizing<Vec<u8>>,
    /// `q^-1 mod p`.
    pub coefficient: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for RsaPrivateParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateParts")
            .field("modulus_bits", &(self.modulus.len() * 8))
            .finish_non_exhaustive()
    }
}

/// An EC private key's scalar and its curve.
pub struct EcPrivateParts {
    /// The curve.
    pub kind: AsymmetricKind,
    /// The DER `OBJECT IDENTIFIER` of the curve (`CKA_EC_PARAMS`).
    pub curve_oid: &'static [u8],
    /// The private scalar, 32 bytes (`CKA_VALUE`).
    pub scalar: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for EcPrivateParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcPrivateParts").field("kind", &self.kind).finish_non_exhaustive()
    }
}

const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn rejected() -> CryptoError {
    CryptoError::KeyRejected("not a PKCS#8 private key of the expected kind")
}

/// `PrivateKeyInfo`: the algorithm OID, its parameters (the rest of the identifier) and the
/// contents of the `privateKey` OCTET STRING.
fn private_key_info(pkcs8: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (0x30, body, []) = read_tlv(pkcs8)? else { return None };
    let (0x02, _version, body) = read_tlv(body)? else { return None };
    let (0x30, algorithm, body) = read_tlv(body)? else { return None };
    let (0x06, oid, parameters) = read_tlv(algorithm)? else { return None };
    let (0x04, private_key, _attributes) = read_tlv(body)? else { return None };
    Some((oid, parameters, private_key))
}

fn unsigned(integer: &[u8]) -> Vec<u8> {
    let start = integer.iter().position(|b| *b != 0).unwrap_or(integer.len().saturating_sub(1));
    integer.get(start..).unwrap_or_default().to_vec()
}

/// The components of an RSA key's PKCS#8 (`RSAPrivateKey`, RFC 8017 A.1.2, two primes).
pub fn rsa_private_parts(pkcs8: &SecretBytes) -> Result<RsaPrivateParts, CryptoError> {
    let parse = || -> Option<RsaPrivateParts> {
        let (oid, _, private_key) = private_key_info(pkcs8.expose())?;
        if oid != RSA_ENCRYPTION {
            return None;
        }
        let (0x30, mut body, []) = read_tlv(private_key)? else { return None };
        let mut next = || -> Option<Vec<u8>> {
            let (0x02, value, rest) = read_tlv(body)? else { return None };
            body = rest;
            Some(unsigned(value))
        };
        let version = next()?;
        if version != [0] {
            return None; // multi-prime keys have version 1
        }
        let modulus = next()?;
        let public_exponent = next()?;
        let parts = RsaPrivateParts {
            modulus,
            public_exponent,
            private_exponent: Zeroizing::new(next()?),
            prime1: Zeroizing::new(next()?),
            prime2: Zeroizing::new(next()?),
            exponent1: Zeroizing::new(next()?),
            exponent2: Zeroizing::new(next()?),
            coefficient: Zeroizing::new(next()?),
        };
        body.is_empty().then_some(parts)
    };
    parse().ok_or_else(rejected)
}

/// The curve and scalar of an EC key's PKCS#8 (`ECPrivateKey`, RFC 5915), P-256 or secp256k1.
pub fn ec_private_parts(pkcs8: &SecretBytes) -> Result<EcPrivateParts, CryptoError> {
    let parse = || -> Option<EcPrivateParts> {
        let (oid, parameters, private_key) = private_key_info(pkcs8.expose())?;
        if oid != EC_PUBLIC_KEY {
            return None;
        }
        let (kind, curve_oid) = if parameters.starts_with(P256_OID) {
            (AsymmetricKind::EcP256, P256_OID)
        } else if parameters.starts_with(SECP256K1_OID) {
            (AsymmetricKind::EcSecp256k1, SECP256K1_OID)
        } else {
            return None;
        };
        let (0x30, body, []) = read_tlv(private_key)? else { return None };
        let (0x02, [1], body) = read_tlv(body)? else { return None };
        let (0x04, scalar, _) = read_tlv(body)? else { return None };
        (scalar.len() == 32).then(|| EcPrivateParts {
            kind,
            curve_oid,
            scalar: Zeroizing::new(scalar.to_vec()),
        })
    };
    parse().ok_or_else(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spki::rsa_spki;
    use crate::{RsaPrivateKey, SigningKey};

    #[test]
    fn rsa_components_give_back_the_public_key() {
        let key = RsaPrivateKey::generate_2048().expect("rsa");
        let parts = rsa_private_parts(&key.to_pkcs8_der().expect("pkcs8")).expect("parts");
        let public = key.public_key().expect("public");
        assert_eq!(rsa_spki(&parts.modulus, &parts.public_exponent), public.spki_der());
        assert_eq!(parts.modulus.len(), 256);
        assert_eq!(parts.public_exponent, [1, 0, 1]);
        assert_eq!((parts.prime1.len(), parts.prime2.len()), (128, 128));
        assert!(!format!("{parts:?}").contains(&format!("{:?}", parts.private_exponent.get(..4))));
    }

    #[test]
    fn ec_scalars_are_read_for_both_curves() {
        for kind in [AsymmetricKind::EcP256, AsymmetricKind::EcSecp256k1] {
            let key = SigningKey::generate(kind).expect("ec");
            let parts = ec_private_parts(key.pkcs8()).expect("parts");
            assert_eq!(parts.kind, kind);
            assert_eq!(parts.scalar.len(), 32);
            assert!(key.pkcs8().expose().windows(32).any(|w| w == parts.scalar.as_slice()));
        }
    }

    #[test]
    fn other_keys_and_bytes_are_refused() {
        let ec = SigningKey::generate(AsymmetricKind::EcP256).expect("ec");
        assert!(rsa_private_parts(ec.pkcs8()).is_err());
        let rsa = RsaPrivateKey::generate_2048().expect("rsa").to_pkcs8_der().expect("pkcs8");
        assert!(ec_private_parts(&rsa).is_err());
        let ed = SigningKey::generate(AsymmetricKind::Ed25519).expect("ed");
        assert!(ec_private_parts(ed.pkcs8()).is_err() && rsa_private_parts(ed.pkcs8()).is_err());
        for junk in [&b""[..], b"\x30\x00", &rsa.expose()[..rsa.len() - 1]] {
            assert!(rsa_private_parts(&SecretBytes::new(junk.to_vec())).is_err());
            assert!(ec_private_parts(&SecretBytes::new(junk.to_vec())).is_err());
        }
    }
}
