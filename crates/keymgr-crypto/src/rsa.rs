//! RSA key pairs and RSA-OAEP with SHA-256, MGF1-SHA-256 and an empty label, through
//! `aws-lc-rs` (constant-time; never the `rsa` crate).

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes, pem};

/// Length in bytes of an RSA-2048 modulus, and so of every RSA-2048 ciphertext.
pub const RSA_2048_MODULUS_LEN: usize = 256;

/// Smallest modulus accepted from outside, in bits.
const MIN_BITS: usize = 2048;
/// Largest modulus accepted from outside, in bits.
const MAX_BITS: usize = 4096;

/// An RSA private key that can unwrap (RSA-OAEP decrypt) data keys.
///
/// Cheap to clone (the key material is shared and reference-counted inside aws-lc); its
/// `Debug` shows only the modulus size. aws-lc frees and cleanses the key when the last
/// clone is dropped.
#[derive(Clone)]
pub struct RsaPrivateKey {
    key: PrivateDecryptingKey,
    oaep: std::sync::Arc<OaepPrivateDecryptingKey>,
}

impl RsaPrivateKey {
    /// Generates a fresh RSA-2048 key pair in software.
    pub fn generate_2048() -> Result<Self, CryptoError> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| CryptoError::Random)?;
        Self::from_key(key)
    }

    fn from_key(key: PrivateDecryptingKey) -> Result<Self, CryptoError> {
        let bits = key.key_size_bits();
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(CryptoError::KeyRejected("RSA modulus must be 2048 to 4096 bits"));
        }
        let oaep = OaepPrivateDecryptingKey::new(key.clone())
            .map_err(|_| CryptoError::KeyRejected("key cannot do RSA-OAEP"))?;
        Ok(Self { key, oaep: std::sync::Arc::new(oaep) })
    }

    /// Reads an unencrypted PKCS#8 `PrivateKeyInfo` (DER).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|_| CryptoError::KeyRejected("not an RSA PKCS#8 private key"))?;
        Self::from_key(key)
    }

    /// Reads the first `PRIVATE KEY` object of PEM text (unencrypted PKCS#8).
    pub fn from_pkcs8_pem(text: &[u8]) -> Result<Self, CryptoError> {
        let der = pem::decode_secret(text, "PRIVATE KEY")?;
        Self::from_pkcs8_der(der.expose())
    }

    /// The key as PKCS#8 DER, in bytes zeroized on drop.
    pub fn to_pkcs8_der(&self) -> Result<SecretBytes, CryptoError> {
        let der: Pkcs8V1Der<'static> =
            self.key.as_der().map_err(|_| CryptoError::KeyRejected("cannot encode key"))?;
        Ok(SecretBytes::new(der.as_ref().to_vec()))
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), in a string zeroized on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        let der = self.to_pkcs8_der()?;
        Ok(Zeroizing::new(pem::encode("PRIVATE KEY", der.expose())))
    }

    /// The public half.
    pub fn public_key(&self) -> Result<RsaPublicKey, CryptoError> {
        RsaPublicKey::from_key(self.key.public_key())
    }

    /// Modulus length in bytes (256 for RSA-2048).
    pub fn modulus_len(&self) -> usize {
        self.key.key_size_bytes()
    }

    /// RSA-OAEP-decrypts `ciphertext` (SHA-256, MGF1-SHA-256, empty label).
    ///
    /// The ciphertext must be exactly the modulus length. Every failure is the same
    /// [`CryptoError::UnwrapFailed`], whatever its cause, so that callers cannot become a
    /// padding oracle.
    pub fn oaep_unwrap(&self, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        if ciphertext.len() != self.modulus_len() {
            return Err(CryptoError::UnwrapFailed);
        }
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .map_err(|_| CryptoError::UnwrapFailed)?
            .len();
        out.truncate(len);
        Ok(SecretBytes::new(std::mem::take(&mut *out)))
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey(<{} bits, redacted>)", self.key.key_size_bits())
    }
}

/// An RSA public key that can wrap (RSA-OAEP encrypt) data keys.
#[derive(Clone)]
pub struct RsaPublicKey {
    oaep: std::sync::Arc<OaepPublicEncryptingKey>,
    spki_der: Vec<u8>,
}

impl RsaPublicKey {
    fn from_key(key: PublicEncryptingKey) -> Result<Self, CryptoError> {
        let bits = key.key_size_bits();
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(CryptoError::KeyRejected("RSA modulus must be 2048 to 4096 bits"));
        }
        let spki: PublicKeyX509Der<'static> =
            key.as_der().map_err(|_| CryptoError::KeyRejected("cannot encode public key"))?;
        let spki_der = spki.as_ref().to_vec();
        let oaep = OaepPublicEncryptingKey::new(key)
            .map_err(|_| CryptoError::KeyRejected("key cannot do RSA-OAEP"))?;
        Ok(Self { oaep: std::sync::Arc::new(oaep), spki_der })
    }

    /// Reads a DER `SubjectPublicKeyInfo` holding an RSA key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key = PublicEncryptingKey::from_der(der)
            .map_err(|_| CryptoError::KeyRejected("not an RSA SubjectPublicKeyInfo"))?;
        Self::from_key(key)
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Modulus length in bytes (256 for RSA-2048); every ciphertext has this length.
    pub fn modulus_len(&self) -> usize {
        self.oaep.ciphertext_size()
    }

    /// RSA-OAEP-encrypts `plaintext` (SHA-256, MGF1-SHA-256, empty label) into `out`, which
    /// must be exactly [`Self::modulus_len`] bytes; the ciphertext fills it, leading zero
    /// bytes included.
    pub fn oaep_wrap_into(&self, plaintext: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        if out.len() != self.modulus_len() {
            return Err(CryptoError::BadLength {
                what: "RSA-OAEP output buffer",
                expected: "the modulus length",
                got: out.len(),
            });
        }
        let written = self
            .oaep
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, out, None)
            .map_err(|_| CryptoError::WrapFailed)?
            .len();
        if written != self.modulus_len() {
            return Err(CryptoError::WrapFailed);
        }
        Ok(())
    }

    /// RSA-OAEP-encrypts `plaintext` into a new buffer of the modulus length.
    pub fn oaep_wrap(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = vec![0u8; self.modulus_len()];
        self.oaep_wrap_into(plaintext, &mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.modulus_len() * 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oaep_round_trip_and_failures_look_alike() {
        let key = RsaPrivateKey::generate_2048().expect("keygen");
        let public = key.public_key().expect("public");
        assert_eq!(public.modulus_len(), RSA_2048_MODULUS_LEN);
        let wrapped = public.oaep_wrap(&[7u8; 32]).expect("wrap");
        assert_eq!(wrapped.len(), 256);
        assert_eq!(key.oaep_unwrap(&wrapped).expect("unwrap").expose(), &[7u8; 32]);

        let mut tampered = wrapped.clone();
        tampered[100] ^= 1;
        assert_eq!(key.oaep_unwrap(&tampered).map(|_| ()), Err(CryptoError::UnwrapFailed));
        assert_eq!(key.oaep_unwrap(&wrapped[1..]).map(|_| ()), Err(CryptoError::UnwrapFailed));
        assert!(public.oaep_wrap(&[0u8; 200]).is_err());
    }

    #[test]
    fn pkcs8_round_trip_and_debug_redacts() {
        let key = RsaPrivateKey::generate_2048().expect("keygen");
        let pem_text = key.to_pkcs8_pem().expect("pem");
        let again = RsaPrivateKey::from_pkcs8_pem(pem_text.as_bytes()).expect("parse");
        assert_eq!(again.public_key().expect("pk").spki_der(), key.public_key().expect("pk").spki_der());
        assert_eq!(format!("{key:?}"), "RsaPrivateKey(<2048 bits, redacted>)");
        assert!(RsaPrivateKey::from_pkcs8_der(b"junk").is_err());
        assert!(RsaPublicKey::from_spki_der(b"junk").is_err());
    }
}
