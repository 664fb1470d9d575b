//! Signing keys held in software: RSA (PKCS#1 v1.5 and PSS with SHA-256), ECDSA P-256 and
//! secp256k1 with SHA-256, Ed25519. HSM keys sign inside the token; these serve the embedded keystore.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair};

use crate::{CryptoError, SecretBytes};

/// The kinds of asymmetric key the key hierarchy makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsymmetricKind {
    /// RSA with a 2048-bit modulus: ROOT, module masters, `KERNEL`/`SIGN`, base keys.
    Rsa2048,
    /// ECDSA on NIST P-256 (`EC_SECP256R1_SIGN`).
    EcP256,
    /// ECDSA on secp256k1 (`EC_SECP256K1_SIGN`).
    EcSecp256k1,
    /// Ed25519 (`ED25519_SIGN`); MOSIP keeps these in software, wrapped by the app master.
    Ed25519,
}

/// Signature algorithms, named as in JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Ps256,
    /// ECDSA P-256 with SHA-256; fixed-length `r || s` (64 bytes).
    Es256,
    /// ECDSA secp256k1 with SHA-256; fixed-length `r || s` (64 bytes).
    Es256K,
    /// Ed25519 (RFC 8032), 64-byte signatures; JWS `EdDSA`.
    EdDsa,
}

impl SignAlgorithm {
    /// The key kind this algorithm signs with.
    pub fn key_kind(self) -> AsymmetricKind {
        match self {
            Self::Rs256 | Self::Ps256 => AsymmetricKind::Rsa2048,
            Self::Es256 => AsymmetricKind::EcP256,
            Self::Es256K => AsymmetricKind::EcSecp256k1,
            Self::EdDsa => AsymmetricKind::Ed25519,
        }
    }
}

fn ec_alg(kind: AsymmetricKind) -> Option<&'static EcdsaSigningAlgorithm> {
    match kind {
        AsymmetricKind::EcP256 => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        AsymmetricKind::EcSecp256k1 => Some(&signature::ECDSA_P256K1_SHA256_FIXED_SIGNING),
        AsymmetricKind::Rsa2048 | AsymmetricKind::Ed25519 => None,
    }
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key in software, kept with its PKCS#8 encoding (zeroized on drop).
pub struct SigningKey {
    kind: AsymmetricKind,
    inner: Inner,
    pkcs8: SecretBytes,
}

impl SigningKey {
    /// Generates a fresh key of `kind`.
    pub fn generate(kind: AsymmetricKind) -> Result<Self, CryptoError> {
        if kind == AsymmetricKind::Ed25519 {
            let pair = Ed25519KeyPair::generate().map_err(|_| CryptoError::Random)?;
            let doc = pair.to_pkcs8v1().map_err(|_| CryptoError::KeyRejected("cannot encode key"))?;
            return Self::from_pkcs8(kind, SecretBytes::new(doc.as_ref().to_vec()));
        }
        let pkcs8 = match ec_alg(kind) {
            None => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::Random)?;
                let der: Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|_| CryptoError::KeyRejected("cannot encode key"))?;
                SecretBytes::new(der.as_ref().to_vec())
            }
            Some(alg) => {
                let pair = EcdsaKeyPair::generate(alg).map_err(|_| CryptoError::Random)?;
                let doc = pair.to_pkcs8v1().map_err(|_| CryptoError::KeyRejected("cannot encode key"))?;
                SecretBytes::new(doc.as_ref().to_vec())
            }
        };
        Self::from_pkcs8(kind, pkcs8)
    }

    /// Reads a PKCS#8 key of `kind`.
    pub fn from_pkcs8(kind: AsymmetricKind, pkcs8: SecretBytes) -> Result<Self, CryptoError> {
        let inner = match ec_alg(kind) {
            None if kind == AsymmetricKind::Ed25519 => Inner::Ed(
                Ed25519KeyPair::from_pkcs8(pkcs8.expose())
                    .map_err(|_| CryptoError::KeyRejected("not an Ed25519 PKCS#8 key"))?,
            ),
            None => Inner::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8.expose())
                    .map_err(|_| CryptoError::KeyRejected("not an RSA PKCS#8 key"))?,
            ),
            Some(alg) => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(alg, pkcs8.expose())
                    .map_err(|_| CryptoError::KeyRejected("not a PKCS#8 key of this curve"))?,
            ),
        };
        Ok(Self { kind, inner, pkcs8 })
    }

    /// The key's kind.
    pub fn kind(&self) -> AsymmetricKind {
        self.kind
    }

    /// The PKCS#8 encoding.
    pub fn pkcs8(&self) -> &SecretBytes {
        &self.pkcs8
    }

    /// The DER `SubjectPublicKeyInfo` of the public half.
    pub fn public_key_spki(&self) -> Result<Vec<u8>, CryptoError> {
        let der: PublicKeyX509Der<'static> = match &self.inner {
            Inner::Rsa(k) => k.public_key().as_der(),
            Inner::Ec(k) => k.public_key().as_der(),
            Inner::Ed(k) => k.public_key().as_der(),
        }
        .map_err(|_| CryptoError::KeyRejected("cannot encode public key"))?;
        Ok(der.as_ref().to_vec())
    }

    /// Signs `message` with `algorithm`, which must suit the key's kind.
    pub fn sign(&self, algorithm: SignAlgorithm, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if algorithm.key_kind() != self.kind {
            return Err(CryptoError::KeyRejected("signature algorithm does not suit the key"));
        }
        let rng = SystemRandom::new();
        match (&self.inner, algorithm) {
            (Inner::Rsa(k), SignAlgorithm::Rs256 | SignAlgorithm::Ps256) => {
                let padding: &'static dyn signature::RsaEncoding = if algorithm == SignAlgorithm::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut sig).map_err(|_| CryptoError::SignFailed)?;
                Ok(sig)
            }
            (Inner::Ec(k), _) => {
                Ok(k.sign(&rng, message).map_err(|_| CryptoError::SignFailed)?.as_ref().to_vec())
            }
            (Inner::Ed(k), _) => Ok(k.sign(message).as_ref().to_vec()),
            (Inner::Rsa(_), _) => Err(CryptoError::KeyRejected("signature algorithm does not suit the key")),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?}, <redacted>)", self.kind)
    }
}

/// Verifies `signature` over `message` with the DER `SubjectPublicKeyInfo` `spki`.
pub fn verify(
    algorithm: SignAlgorithm,
    spki: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let alg: &'static dyn signature::VerificationAlgorithm = match algorithm {
        SignAlgorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SignAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        SignAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        SignAlgorithm::Es256K => &signature::ECDSA_P256K1_SHA256_FIXED,
        SignAlgorithm::EdDsa => &signature::ED25519,
    };
    let key =
        signature::ParsedPublicKey::new(alg, spki).map_err(|_| CryptoError::KeyRejected("public key"))?;
    key.verify_sig(message, signature).map_err(|_| CryptoError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in [
            SignAlgorithm::Rs256,
            SignAlgorithm::Ps256,
            SignAlgorithm::Es256,
            SignAlgorithm::Es256K,
            SignAlgorithm::EdDsa,
        ] {
            let key = SigningKey::generate(alg.key_kind()).expect("generate");
            let again = SigningKey::from_pkcs8(key.kind(), key.pkcs8().clone()).expect("reload");
            let spki = again.public_key_spki().expect("spki");
            let sig = again.sign(alg, b"message").expect("sign");
            verify(alg, &spki, b"message", &sig).expect("verifies");
            assert_eq!(verify(alg, &spki, b"other", &sig), Err(CryptoError::BadSignature), "{alg:?}");
            if alg != SignAlgorithm::Rs256 && alg != SignAlgorithm::Ps256 {
                assert_eq!(sig.len(), 64, "fixed r||s");
            }
            assert!(format!("{again:?}").contains("redacted"));
        }
        let ec = SigningKey::generate(AsymmetricKind::EcP256).expect("generate");
        assert!(ec.sign(SignAlgorithm::Rs256, b"m").is_err());
    }
}
