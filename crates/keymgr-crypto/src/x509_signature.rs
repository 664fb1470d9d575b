//! Signatures of X.509 certificates (and other `SIGNED{}` structures) checked by their
//! `signatureAlgorithm`, for path validation: an allow-list of exact algorithm identifiers,
//! each mapped to one `aws-lc-rs` verification algorithm, and the strength of a public key.
//!
//! Accepted: RSA PKCS#1 v1.5 with SHA-256/384/512, RSA-PSS with SHA-256/384/512 (MGF1 with
//! the same hash, salt the hash's length, trailer 1), ECDSA with SHA-256/384 on P-256 and P-384
//! and with SHA-256 on secp256k1 (DER signatures), Ed25519. RSA keys of 2048 to 8192 bits only.
//! Everything else is refused, SHA-1 and MD5 signatures by name.

use aws_lc_rs::signature::{self, VerificationAlgorithm};

use crate::CryptoError;
use crate::der_read::read_tlv as tlv;

/// What a subject public key is, for strength checks and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyStrength {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
    /// ECDSA on secp256k1.
    EcSecp256k1,
    /// Ed25519.
    Ed25519,
}

impl PublicKeyStrength {
    /// Whether the key is strong enough to sign or be certified in a trust path: RSA of 2048
    /// to 8192 bits, P-256, P-384, secp256k1 or Ed25519.
    pub fn is_acceptable(self) -> bool {
        match self {
            Self::Rsa { bits } => (2048..=8192).contains(&bits),
            Self::EcP256 | Self::EcP384 | Self::EcSecp256k1 | Self::Ed25519 => true,
        }
    }
}

impl std::fmt::Display for PublicKeyStrength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "an RSA key of {bits} bits"),
            Self::EcP256 => f.write_str("an EC P-256 key"),
            Self::EcP384 => f.write_str("an EC P-384 key"),
            Self::EcSecp256k1 => f.write_str("an EC secp256k1 key"),
            Self::Ed25519 => f.write_str("an Ed25519 key"),
        }
    }
}

/// Content bytes of `rsaEncryption`, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-ecPublicKey`, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1, 1.2.840.10045.3.1.7.
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1, 1.3.132.0.34.
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// secp256k1, 1.3.132.0.10.
const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
/// id-Ed25519, 1.3.101.112.
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The kind and size of the key in a DER `SubjectPublicKeyInfo`.
pub fn public_key_strength(spki: &[u8]) -> Result<PublicKeyStrength, CryptoError> {
    let bad = || CryptoError::KeyRejected("not a SubjectPublicKeyInfo this service reads");
    let (0x30, body, []) = tlv(spki).ok_or_else(bad)? else { return Err(bad()) };
    let (0x30, algorithm, rest) = tlv(body).ok_or_else(bad)? else { return Err(bad()) };
    let (0x03, bits, []) = tlv(rest).ok_or_else(bad)? else { return Err(bad()) };
    let (0x06, oid, params) = tlv(algorithm).ok_or_else(bad)? else { return Err(bad()) };
    match oid {
        RSA_ENCRYPTION => {
            // BIT STRING: unused-bits byte, then RSAPublicKey { modulus, exponent }.
            let key = bits.get(1..).ok_or_else(bad)?;
            let (0x30, key, _) = tlv(key).ok_or_else(bad)? else { return Err(bad()) };
            let (0x02, modulus, _) = tlv(key).ok_or_else(bad)? else { return Err(bad()) };
            let significant: &[u8] = match modulus.iter().position(|b| *b != 0) {
                Some(at) => modulus.get(at..).unwrap_or_default(),
                None => &[],
            };
            let bits = match significant.first() {
                Some(top) => (significant.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
                None => 0,
            };
            Ok(PublicKeyStrength::Rsa { bits })
        }
        EC_PUBLIC_KEY => match tlv(params) {
            Some((0x06, P256, _)) => Ok(PublicKeyStrength::EcP256),
            Some((0x06, P384, _)) => Ok(PublicKeyStrength::EcP384),
            Some((0x06, SECP256K1, _)) => Ok(PublicKeyStrength::EcSecp256k1),
            _ => Err(CryptoError::KeyRejected("an EC key on a curve other than P-256, P-384 or secp256k1")),
        },
        ED25519 => Ok(PublicKeyStrength::Ed25519),
        _ => Err(CryptoError::KeyRejected("a key type other than RSA, EC or Ed25519")),
    }
}

/// Signature algorithm OIDs (content bytes) and their names.
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const SHA384_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const SHA512_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
/// Refused by name.
const WEAK: [(&[u8], &str); 5] = [
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], "sha1WithRSAEncryption"),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], "md5WithRSAEncryption"),
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], "ecdsa-with-SHA1"),
    (&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03], "dsa-with-SHA1"),
    (&[0x2b, 0x0e, 0x03, 0x02, 0x1d], "sha1WithRSA (OIW)"),
];

/// SHA-256, SHA-384, SHA-512 OIDs (2.16.840.1.101.3.4.2.1-3), content bytes.
const SHA2: [&[u8]; 3] = [
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
];
/// id-mgf1, 1.2.840.113549.1.1.8.
const MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];

/// Which SHA-2 hash a DER `AlgorithmIdentifier` content names (NULL parameters or none).
fn sha2_of(algorithm_identifier: &[u8]) -> Option<usize> {
    let (0x06, oid, params) = tlv(algorithm_identifier)? else { return None };
    if !(params.is_empty() || params == [0x05, 0x00]) {
        return None;
    }
    SHA2.iter().position(|h| *h == oid)
}

/// The hash (0 = SHA-256, 1 = SHA-384, 2 = SHA-512) of `RSASSA-PSS-params` that use it for
/// both the message and MGF1 with a salt of its length and trailer 1; `None` for any other
/// parameter set (including the SHA-1 defaults of an absent field).
fn pss_hash(params: &[u8]) -> Option<usize> {
    let (0x30, mut fields, []) = tlv(params)? else { return None };
    let (0xa0, hash, rest) = tlv(fields)? else { return None };
    let (0x30, hash, []) = tlv(hash)? else { return None };
    let hash = sha2_of(hash)?;
    fields = rest;
    let (0xa1, mgf, rest) = tlv(fields)? else { return None };
    let (0x30, mgf, []) = tlv(mgf)? else { return None };
    let (0x06, MGF1, mgf_hash) = tlv(mgf)? else { return None };
    let (0x30, mgf_hash, []) = tlv(mgf_hash)? else { return None };
    if sha2_of(mgf_hash)? != hash {
        return None;
    }
    fields = rest;
    let (0xa2, salt, rest) = tlv(fields)? else { return None };
    let (0x02, salt, []) = tlv(salt)? else { return None };
    let expected_salt = [32u8, 48, 64].get(hash).copied()?;
    if salt != [expected_salt] {
        return None;
    }
    // trailerField, when present, must be 1.
    match tlv(rest) {
        None if rest.is_empty() => Some(hash),
        Some((0xa3, trailer, [])) if tlv(trailer) == Some((0x02, &[1], &[])) => Some(hash),
        _ => None,
    }
}

/// The Java name of a `signatureAlgorithm` (DER `AlgorithmIdentifier`), as MOSIP compares it
/// (`SHA256withRSA`, `SHA384withECDSA`, `RSASSA-PSS`, `Ed25519`, `SHA1withRSA`, ...), or its
/// OID in dotted form when unknown.
pub fn algorithm_name(algorithm: &[u8]) -> String {
    let oid = tlv(algorithm).and_then(|(_, body, _)| tlv(body)).map(|(_, oid, _)| oid).unwrap_or_default();
    let known: [(&[u8], &str); 11] = [
        (SHA256_WITH_RSA, "SHA256withRSA"),
        (SHA384_WITH_RSA, "SHA384withRSA"),
        (SHA512_WITH_RSA, "SHA512withRSA"),
        (RSASSA_PSS, "RSASSA-PSS"),
        (ECDSA_SHA256, "SHA256withECDSA"),
        (ECDSA_SHA384, "SHA384withECDSA"),
        (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04], "SHA512withECDSA"),
        (ED25519, "Ed25519"),
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], "SHA1withRSA"),
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], "MD5withRSA"),
        (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], "SHA1withECDSA"),
    ];
    match known.iter().find(|(o, _)| *o == oid) {
        Some((_, name)) => (*name).to_owned(),
        None => oid_text(oid),
    }
}

/// The dotted form of OID content bytes.
fn oid_text(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// Verifies `signature` over `signed` (a `TBSCertificate`, say) made with the algorithm of
/// `algorithm` (the DER of the `signatureAlgorithm` `AlgorithmIdentifier`) by the key of
/// `issuer_spki`. A refused algorithm or key is [`CryptoError::SignatureAlgorithm`] or
/// [`CryptoError::KeyRejected`]; a signature that does not hold [`CryptoError::BadSignature`].
pub fn verify_signed(
    algorithm: &[u8],
    issuer_spki: &[u8],
    signed: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let refused = |what: &str| CryptoError::SignatureAlgorithm(what.to_owned());
    let (0x30, algorithm, []) = tlv(algorithm).ok_or_else(|| refused("not an AlgorithmIdentifier"))? else {
        return Err(refused("not an AlgorithmIdentifier"));
    };
    let (0x06, oid, params) = tlv(algorithm).ok_or_else(|| refused("not an AlgorithmIdentifier"))? else {
        return Err(refused("not an AlgorithmIdentifier"));
    };
    if let Some((_, name)) = WEAK.iter().find(|(weak, _)| *weak == oid) {
        return Err(refused(name));
    }
    let key = public_key_strength(issuer_spki)?;
    if !key.is_acceptable() {
        return Err(CryptoError::KeyRejected("an RSA key under 2048 (or over 8192) bits"));
    }
    let null_or_absent = params.is_empty() || params == [0x05, 0x00];
    let alg: &'static dyn VerificationAlgorithm = match (oid, key) {
        (SHA256_WITH_RSA, PublicKeyStrength::Rsa { .. }) if null_or_absent => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        (SHA384_WITH_RSA, PublicKeyStrength::Rsa { .. }) if null_or_absent => {
            &signature::RSA_PKCS1_2048_8192_SHA384
        }
        (SHA512_WITH_RSA, PublicKeyStrength::Rsa { .. }) if null_or_absent => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        (RSASSA_PSS, PublicKeyStrength::Rsa { .. }) => match pss_hash(params) {
            Some(0) => &signature::RSA_PSS_2048_8192_SHA256,
            Some(1) => &signature::RSA_PSS_2048_8192_SHA384,
            Some(2) => &signature::RSA_PSS_2048_8192_SHA512,
            _ => {
                return Err(refused(
                    "RSASSA-PSS with parameters other than SHA-2, MGF1 of the same hash and a salt of its length",
                ));
            }
        },
        (ECDSA_SHA256, PublicKeyStrength::EcP256) if params.is_empty() => &signature::ECDSA_P256_SHA256_ASN1,
        (ECDSA_SHA384, PublicKeyStrength::EcP256) if params.is_empty() => &signature::ECDSA_P256_SHA384_ASN1,
        (ECDSA_SHA256, PublicKeyStrength::EcP384) if params.is_empty() => &signature::ECDSA_P384_SHA256_ASN1,
        (ECDSA_SHA384, PublicKeyStrength::EcP384) if params.is_empty() => &signature::ECDSA_P384_SHA384_ASN1,
        (ECDSA_SHA256, PublicKeyStrength::EcSecp256k1) if params.is_empty() => {
            &signature::ECDSA_P256K1_SHA256_ASN1
        }
        (ED25519, PublicKeyStrength::Ed25519) if params.is_empty() => &signature::ED25519,
        _ => {
            return Err(refused(
                "an algorithm this service does not accept, or one that does not fit the issuer's key",
            ));
        }
    };
    let key = signature::ParsedPublicKey::new(alg, issuer_spki)
        .map_err(|_| CryptoError::KeyRejected("the issuer's public key"))?;
    key.verify_sig(signed, signature).map_err(|_| CryptoError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsymmetricKind, SignAlgorithm, SigningKey};

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(algorithm_name(&hex("300d06092a864886f70d01010b0500")), "SHA256withRSA");
        assert_eq!(algorithm_name(&hex("300d06092a864886f70d0101050500")), "SHA1withRSA");
        assert_eq!(algorithm_name(&hex("300a06082a8648ce3d040302")), "SHA256withECDSA");
        assert_eq!(algorithm_name(&hex("300506032b6570")), "Ed25519");
        assert_eq!(algorithm_name(&hex("300506032a0304")), "1.2.3.4");
    }

    #[test]
    fn key_strengths() {
        for (kind, strength) in [
            (AsymmetricKind::Rsa2048, PublicKeyStrength::Rsa { bits: 2048 }),
            (AsymmetricKind::EcP256, PublicKeyStrength::EcP256),
            (AsymmetricKind::EcSecp256k1, PublicKeyStrength::EcSecp256k1),
            (AsymmetricKind::Ed25519, PublicKeyStrength::Ed25519),
        ] {
            let spki = SigningKey::generate(kind).expect("key").public_key_spki().expect("spki");
            assert_eq!(public_key_strength(&spki).expect("read"), strength);
            assert!(strength.is_acceptable());
        }
        assert!(!PublicKeyStrength::Rsa { bits: 1024 }.is_acceptable());
        assert!(public_key_strength(b"not der").is_err());
    }

    #[test]
    fn algorithms_by_identifier() {
        let rsa = SigningKey::generate(AsymmetricKind::Rsa2048).expect("rsa");
        let spki = rsa.public_key_spki().expect("spki");
        let message = b"tbs";
        let pkcs1 = rsa.sign(SignAlgorithm::Rs256, message).expect("sign");
        let sha256_rsa = hex("300d06092a864886f70d01010b0500");
        verify_signed(&sha256_rsa, &spki, message, &pkcs1).expect("PKCS#1 v1.5");
        assert!(matches!(
            verify_signed(&sha256_rsa, &spki, b"other", &pkcs1),
            Err(CryptoError::BadSignature)
        ));
        // PSS with SHA-256 parameters, with and without the NULLs in the hash identifiers.
        let pss = rsa.sign(SignAlgorithm::Ps256, message).expect("sign");
        let with_nulls = hex(
            "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120",
        );
        let without = hex(
            "303d06092a864886f70d01010a3030a00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201a203020120",
        );
        verify_signed(&with_nulls, &spki, message, &pss).expect("PSS");
        verify_signed(&without, &spki, message, &pss).expect("PSS without NULLs");
        // PSS with the SHA-1 defaults (empty parameters) is refused.
        let pss_defaults = hex("300f06092a864886f70d01010a3002");
        assert!(matches!(
            verify_signed(&pss_defaults, &spki, message, &pss),
            Err(CryptoError::SignatureAlgorithm(_))
        ));
        // SHA-1 and MD5 are refused by name.
        let sha1 = hex("300d06092a864886f70d0101050500");
        let err = verify_signed(&sha1, &spki, message, &pkcs1).expect_err("sha1");
        assert!(err.to_string().contains("sha1WithRSAEncryption"), "{err}");
        // ECDSA P-256 with SHA-256 (DER signature); the algorithm must fit the key.
        let ec = SigningKey::generate(AsymmetricKind::EcP256).expect("ec");
        let ec_spki = ec.public_key_spki().expect("spki");
        let fixed = ec.sign(SignAlgorithm::Es256, message).expect("sign");
        let der = {
            let int = |b: &[u8]| {
                let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len() - 1)..];
                let mut out = vec![0x02];
                let pad = b[0] & 0x80 != 0;
                out.push((b.len() + usize::from(pad)) as u8);
                if pad {
                    out.push(0);
                }
                out.extend_from_slice(b);
                out
            };
            let body = [int(&fixed[..32]), int(&fixed[32..])].concat();
            [vec![0x30, body.len() as u8], body].concat()
        };
        let ecdsa_sha256 = hex("300a06082a8648ce3d040302");
        verify_signed(&ecdsa_sha256, &ec_spki, message, &der).expect("ECDSA");
        assert!(matches!(
            verify_signed(&ecdsa_sha256, &spki, message, &der),
            Err(CryptoError::SignatureAlgorithm(_))
        ));
        // Ed25519.
        let ed = SigningKey::generate(AsymmetricKind::Ed25519).expect("ed");
        let ed_sig = ed.sign(SignAlgorithm::EdDsa, message).expect("sign");
        verify_signed(&hex("300506032b6570"), &ed.public_key_spki().expect("spki"), message, &ed_sig)
            .expect("Ed25519");
    }
}
