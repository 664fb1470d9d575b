//! DER `SubjectPublicKeyInfo` from raw key components, for HSMs that hand out a modulus and
//! exponent (RSA) or a curve point (EC) instead of an encoded public key, and for JSON Web
//! Keys (RSA `n`/`e`, EC `x`/`y`, OKP Ed25519 `x`).

use crate::{AsymmetricKind, CryptoError};

/// DER of the rsaEncryption AlgorithmIdentifier (OID 1.2.840.113549.1.1.1, NULL parameters).
const RSA_ALGORITHM: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
/// DER of id-ecPublicKey (OID 1.2.840.10045.2.1).
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of the prime256v1 (P-256) curve OID, 1.2.840.10045.3.1.7.
pub const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the secp256k1 curve OID, 1.3.132.0.10.
pub const SECP256K1_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from unsigned big-endian bytes (leading zeros dropped, a zero added when the
/// top bit is set).
fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let trimmed = bytes.get(skip..).unwrap_or_default();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

/// The SPKI of an RSA key from its modulus and public exponent (unsigned big-endian).
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut key = unsigned_integer(modulus);
    key.extend(unsigned_integer(exponent));
    let mut content = RSA_ALGORITHM.to_vec();
    content.extend(bit_string(&tlv(0x30, &key)));
    tlv(0x30, &content)
}

/// The modulus and public exponent of an RSA key (unsigned big-endian, without leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicParts {
    /// The modulus `n`.
    pub modulus: Vec<u8>,
    /// The public exponent `e`.
    pub exponent: Vec<u8>,
}

/// The components of the RSA key in a DER `SubjectPublicKeyInfo`; `None` when it is not one.
pub fn rsa_public_parts(spki_der: &[u8]) -> Option<RsaPublicParts> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let (rest, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let strip = |b: &[u8]| b.iter().position(|&x| x != 0).map(|at| b.get(at..).unwrap_or_default().to_vec());
    match info.parsed().ok()? {
        PublicKey::RSA(key) => {
            Some(RsaPublicParts { modulus: strip(key.modulus)?, exponent: strip(key.exponent)? })
        }
        _ => None,
    }
}

/// The SPKI of an EC key from its curve and uncompressed point (`04 || x || y`).
pub fn ec_spki(kind: AsymmetricKind, point: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let curve = match kind {
        AsymmetricKind::EcP256 => P256_OID,
        AsymmetricKind::EcSecp256k1 => SECP256K1_OID,
        AsymmetricKind::Rsa2048 | AsymmetricKind::Ed25519 => {
            return Err(CryptoError::KeyRejected("not an EC key kind"));
        }
    };
    if point.len() != 65 || point.first() != Some(&0x04) {
        return Err(CryptoError::KeyRejected("EC point must be 65 bytes, uncompressed"));
    }
    let mut algorithm = EC_PUBLIC_KEY_OID.to_vec();
    algorithm.extend_from_slice(curve);
    let mut content = tlv(0x30, &algorithm);
    content.extend(bit_string(point));
    Ok(tlv(0x30, &content))
}

/// The SPKI of an Ed25519 key from its 32-byte public key (RFC 8410).
pub fn ed25519_spki(public: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if public.len() != 32 {
        return Err(CryptoError::KeyRejected("an Ed25519 public key is 32 bytes"));
    }
    let mut content = tlv(0x30, ED25519_OID);
    content.extend(bit_string(public));
    Ok(tlv(0x30, &content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    /// Re-encoding the components of generated keys gives back aws-lc's own SPKI bytes.
    #[test]
    fn matches_aws_lc_encoding() {
        for kind in [AsymmetricKind::EcP256, AsymmetricKind::EcSecp256k1] {
            let key = SigningKey::generate(kind).expect("generate");
            let spki = key.public_key_spki().expect("spki");
            let point = &spki[spki.len() - 65..];
            assert_eq!(ec_spki(kind, point).expect("encode"), spki, "{kind:?}");
        }
        let rsa = crate::RsaPrivateKey::generate_2048().expect("generate");
        let spki = rsa.public_key().expect("public").spki_der().to_vec();
        // RSAPublicKey inside the BIT STRING: 30 82 01 0a 02 82 01 01 00 <256-byte modulus> 02 03 <e>
        let body = &spki[spki.len() - 270..];
        let modulus = &body[9..265];
        let exponent = &body[267..];
        assert_eq!(rsa_spki(modulus, exponent), spki);
        assert!(ec_spki(AsymmetricKind::EcP256, &[4; 64]).is_err());
        let ed = SigningKey::generate(AsymmetricKind::Ed25519).expect("generate");
        let spki = ed.public_key_spki().expect("spki");
        assert_eq!(ed25519_spki(&spki[spki.len() - 32..]).expect("encode"), spki);
        assert_eq!(key_kind(&spki), Some(AsymmetricKind::Ed25519));
        assert!(ed25519_spki(&[0; 31]).is_err());
    }
}

/// `id-Ed25519` (1.3.101.112) as an encoded OID (RFC 8410).
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The kind of key a DER `SubjectPublicKeyInfo` holds, read from its `AlgorithmIdentifier`
/// (`Rsa2048` stands for any RSA key here: verification accepts 2048 to 8192 bits); `None`
/// for any other algorithm or curve.
pub fn key_kind(spki: &[u8]) -> Option<AsymmetricKind> {
    // SEQUENCE { SEQUENCE { OID, parameters }, BIT STRING }: the identifier sits in the first
    // bytes, after two tag-length headers of at most 4 bytes each.
    let head = spki.get(..spki.len().min(40))?;
    let starts_at = |oid: &[u8]| head.windows(oid.len()).position(|w| w == oid);
    if starts_at(RSA_ALGORITHM).is_some_and(|at| at <= 6) {
        return Some(AsymmetricKind::Rsa2048);
    }
    if starts_at(ED25519_OID).is_some_and(|at| at <= 6) {
        return Some(AsymmetricKind::Ed25519);
    }
    let ec = starts_at(EC_PUBLIC_KEY_OID).filter(|at| *at <= 8)?;
    let curve = head.get(ec + EC_PUBLIC_KEY_OID.len()..)?;
    if curve.starts_with(P256_OID) {
        Some(AsymmetricKind::EcP256)
    } else if curve.starts_with(SECP256K1_OID) {
        Some(AsymmetricKind::EcSecp256k1)
    } else {
        None
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn the_kind_of_every_key_we_make_is_read_back() {
        for kind in [
            AsymmetricKind::Rsa2048,
            AsymmetricKind::EcP256,
            AsymmetricKind::EcSecp256k1,
            AsymmetricKind::Ed25519,
        ] {
            let key = crate::SigningKey::generate(kind).expect("key");
            assert_eq!(key_kind(&key.public_key_spki().expect("spki")), Some(kind));
        }
        assert_eq!(key_kind(b""), None);
        assert_eq!(key_kind(&[0x30, 0x03, 0x06, 0x01, 0x00]), None);
    }
}
