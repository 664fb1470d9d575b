//! Public keys of registration clients, as MOSIP's client crypto takes them: an RSA
//! `SubjectPublicKeyInfo` (LOCAL and ANDROID clients) or a TPM 2.0 `TPMT_PUBLIC` RSA key (TPM
//! clients), with the key wrap and the signature check each kind uses.
//!
//! | kind | wrap (RSA-OAEP) | signature |
//! |---|---|---|
//! | LOCAL | SHA-256, MGF1-SHA-256, empty label | PKCS#1 v1.5, SHA-256 |
//! | ANDROID | SHA-256, MGF1-SHA-1, empty label (Android's `OAEPWithSHA-256AndMGF1Padding`) | PKCS#1 v1.5, SHA-256 |
//! | TPM | the hash of the key's OAEP scheme (of its `nameAlg` without a scheme) for both, label `"\0"` | RSASSA with the key's scheme hash |
//!
//! aws-lc-rs offers OAEP only with the same hash for MGF1, so Android's padding is encoded here
//! (RFC 8017 section 7.1.1) and raised to the public exponent with `crypto-bigint`'s
//! constant-time Montgomery arithmetic; no private key is involved.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, VerificationAlgorithm};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};

use crate::oaep::mgf1_xor;
use crate::{CryptoError, fill_random, sha256, spki};

/// How a client holds its keys (MOSIP's `ClientType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A TPM 2.0; its public keys are `TPMT_PUBLIC` structures.
    Tpm,
    /// An Android keystore.
    Android,
    /// Keys in files on the client (no TPM).
    Local,
}

/// A TPM 2.0 algorithm identifier of a hash (`TPM_ALG_ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmHash {
    /// `TPM_ALG_SHA1` (0x0004).
    Sha1,
    /// `TPM_ALG_SHA256` (0x000B).
    Sha256,
    /// `TPM_ALG_SHA384` (0x000C).
    Sha384,
    /// `TPM_ALG_SHA512` (0x000D).
    Sha512,
}

impl TpmHash {
    fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0004 => Some(Self::Sha1),
            0x000B => Some(Self::Sha256),
            0x000C => Some(Self::Sha384),
            0x000D => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// The RSA signing scheme of a TPM key (`TPMT_RSA_SCHEME`), where it names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmRsaScheme {
    /// `TPM_ALG_NULL`: the key fixes no scheme.
    Null,
    /// `TPM_ALG_RSASSA` (PKCS#1 v1.5) with its hash.
    Rsassa(TpmHash),
    /// `TPM_ALG_RSAPSS` with its hash.
    Rsapss(TpmHash),
    /// `TPM_ALG_OAEP` with its hash (a decryption key).
    Oaep(TpmHash),
    /// `TPM_ALG_RSAES` (PKCS#1 v1.5 encryption).
    Rsaes,
}

/// An RSA key as a TPM describes it (`TPMT_PUBLIC` of type `TPM_ALG_RSA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmRsaPublic {
    /// `nameAlg`: the hash of the key's name, and of OAEP when the key encrypts.
    pub name_alg: TpmHash,
    /// `objectAttributes`.
    pub attributes: u32,
    /// The signing or encryption scheme.
    pub scheme: TpmRsaScheme,
    /// `keyBits`.
    pub key_bits: u16,
    /// The public exponent (0 in the structure means 65537).
    pub exponent: u32,
    /// The modulus, big-endian.
    pub modulus: Vec<u8>,
}

/// Reads big-endian fields of a TPM structure, refusing to read past its end.
struct TpmReader<'a> {
    bytes: &'a [u8],
}

impl<'a> TpmReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        let (head, rest) =
            self.bytes.split_at_checked(n).ok_or(CryptoError::KeyRejected("TPMT_PUBLIC is cut short"))?;
        self.bytes = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, CryptoError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]))
    }

    fn u32(&mut self) -> Result<u32, CryptoError> {
        Ok((u32::from(self.u16()?) << 16) | u32::from(self.u16()?))
    }

    fn sized(&mut self) -> Result<&'a [u8], CryptoError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_RSASSA: u16 = 0x0014;
const TPM_ALG_RSAES: u16 = 0x0015;
const TPM_ALG_RSAPSS: u16 = 0x0016;
const TPM_ALG_OAEP: u16 = 0x0017;
/// `TPMA_OBJECT.decrypt`: the key may decrypt.
const TPMA_OBJECT_DECRYPT: u32 = 1 << 17;

impl TpmRsaPublic {
    /// Parses a marshalled `TPMT_PUBLIC` (TPM 2.0 Part 2, 12.2.4) of an RSA key, every byte of
    /// it; a `TPM2B_PUBLIC` (the same with a 2-byte size in front) is accepted too.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        match Self::parse_exact(bytes) {
            Ok(key) => Ok(key),
            Err(e) => match bytes.split_first_chunk::<2>() {
                Some((size, rest)) if usize::from(u16::from_be_bytes(*size)) == rest.len() => {
                    Self::parse_exact(rest).map_err(|_| e)
                }
                _ => Err(e),
            },
        }
    }

    fn parse_exact(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = TpmReader { bytes };
        if r.u16()? != TPM_ALG_RSA {
            return Err(CryptoError::KeyRejected("not a TPM RSA key (TPMT_PUBLIC type)"));
        }
        let name_alg =
            TpmHash::from_id(r.u16()?).ok_or(CryptoError::KeyRejected("TPM nameAlg is not a hash"))?;
        let attributes = r.u32()?;
        r.sized()?; // authPolicy
        // TPMT_SYM_DEF_OBJECT: algorithm, then key bits and mode unless NULL.
        if r.u16()? != TPM_ALG_NULL {
            r.u16()?;
            r.u16()?;
        }
        let scheme_id = r.u16()?;
        let hash = |r: &mut TpmReader<'_>| -> Result<TpmHash, CryptoError> {
            TpmHash::from_id(r.u16()?).ok_or(CryptoError::KeyRejected("TPM scheme hash is not a hash"))
        };
        let scheme = match scheme_id {
            TPM_ALG_NULL => TpmRsaScheme::Null,
            TPM_ALG_RSASSA => TpmRsaScheme::Rsassa(hash(&mut r)?),
            TPM_ALG_RSAPSS => TpmRsaScheme::Rsapss(hash(&mut r)?),
            TPM_ALG_OAEP => TpmRsaScheme::Oaep(hash(&mut r)?),
            TPM_ALG_RSAES => TpmRsaScheme::Rsaes,
            _ => return Err(CryptoError::KeyRejected("TPM RSA scheme not supported")),
        };
        let key_bits = r.u16()?;
        let exponent = r.u32()?;
        let modulus = r.sized()?.to_vec();
        if !r.bytes.is_empty() {
            return Err(CryptoError::KeyRejected("bytes after the TPMT_PUBLIC"));
        }
        if modulus.len() * 8 != usize::from(key_bits) || modulus.first().is_none_or(|&b| b < 0x80) {
            return Err(CryptoError::KeyRejected("TPM RSA modulus does not have keyBits bits"));
        }
        Ok(Self { name_alg, attributes, scheme, key_bits, exponent, modulus })
    }

    /// The public exponent as a TPM means it (0 is 65537).
    pub fn effective_exponent(&self) -> u32 {
        if self.exponent == 0 { 65537 } else { self.exponent }
    }

    /// The key as a DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> Vec<u8> {
        spki::rsa_spki(&self.modulus, &self.effective_exponent().to_be_bytes())
    }
}

/// A client's public key: what `/tpmencrypt` wraps for and `/csverifysign` checks with.
#[derive(Debug, Clone)]
pub struct ClientPublicKey {
    kind: ClientKind,
    spki_der: Vec<u8>,
    tpm: Option<TpmRsaPublic>,
}

impl ClientPublicKey {
    /// Reads `bytes` as MOSIP does: a `TPMT_PUBLIC` makes a TPM key whatever `declared` says;
    /// otherwise an RSA `SubjectPublicKeyInfo` of the declared kind (LOCAL when it says TPM).
    pub fn parse(bytes: &[u8], declared: ClientKind) -> Result<Self, CryptoError> {
        if let Ok(tpm) = TpmRsaPublic::parse(bytes) {
            let spki_der = tpm.spki_der();
            PublicEncryptingKey::from_der(&spki_der).map_err(|_| CryptoError::KeyRejected("TPM RSA key"))?;
            return Ok(Self { kind: ClientKind::Tpm, spki_der, tpm: Some(tpm) });
        }
        PublicEncryptingKey::from_der(bytes).map_err(|_| {
            CryptoError::KeyRejected("neither a TPM key (TPMT_PUBLIC) nor an RSA SubjectPublicKeyInfo")
        })?;
        let kind = if declared == ClientKind::Android { ClientKind::Android } else { ClientKind::Local };
        Ok(Self { kind, spki_der: bytes.to_vec(), tpm: None })
    }

    /// The kind the key was read as.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The key as a DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The modulus length in bytes: the length of every wrapped key.
    pub fn modulus_len(&self) -> Result<usize, CryptoError> {
        let key =
            PublicEncryptingKey::from_der(&self.spki_der).map_err(|_| CryptoError::KeyRejected("RSA key"))?;
        Ok(key.key_size_bytes())
    }

    /// RSA-OAEP-encrypts `key` with the padding of the client's kind (see the module table).
    pub fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match (&self.tpm, self.kind) {
            (Some(tpm), _) => {
                if tpm.attributes & TPMA_OBJECT_DECRYPT == 0 {
                    return Err(CryptoError::KeyRejected("the TPM key is not a decryption key"));
                }
                // The TPM pads with its OAEP scheme's hash; a key without a scheme, with the
                // hash of its name (as TSS.Java encrypts for it).
                let hash = match tpm.scheme {
                    TpmRsaScheme::Oaep(hash) => hash,
                    TpmRsaScheme::Null => tpm.name_alg,
                    _ => return Err(CryptoError::KeyRejected("the TPM key's scheme is not OAEP")),
                };
                let algorithm: &OaepAlgorithm = match hash {
                    TpmHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
                    TpmHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
                    TpmHash::Sha384 => &OAEP_SHA384_MGF1SHA384,
                    TpmHash::Sha512 => &OAEP_SHA512_MGF1SHA512,
                };
                oaep_aws_lc(&self.spki_der, algorithm, key, Some(&[0]))
            }
            (None, ClientKind::Android) => oaep_sha256_mgf1_sha1(&self.spki_der, key),
            (None, _) => oaep_aws_lc(&self.spki_der, &OAEP_SHA256_MGF1SHA256, key, None),
        }
    }

    /// Whether `signature` is the client's signature of `data`: PKCS#1 v1.5 with SHA-256, or
    /// for a TPM key the hash its RSASSA scheme names. A key whose scheme cannot sign that way
    /// is an error; a signature that does not hold is `false`.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
        let algorithm: &'static dyn VerificationAlgorithm = match self.tpm.as_ref().map(|t| t.scheme) {
            None | Some(TpmRsaScheme::Rsassa(TpmHash::Sha256)) => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some(TpmRsaScheme::Rsassa(TpmHash::Sha384)) => &signature::RSA_PKCS1_2048_8192_SHA384,
            Some(TpmRsaScheme::Rsassa(TpmHash::Sha512)) => &signature::RSA_PKCS1_2048_8192_SHA512,
            Some(_) => {
                return Err(CryptoError::KeyRejected("the TPM key is not an RSASSA SHA-2 signing key"));
            }
        };
        let key = signature::ParsedPublicKey::new(algorithm, &self.spki_der)
            .map_err(|_| CryptoError::KeyRejected("RSA public key"))?;
        Ok(key.verify_sig(data, signature).is_ok())
    }
}

fn oaep_aws_lc(
    spki_der: &[u8],
    algorithm: &'static OaepAlgorithm,
    plaintext: &[u8],
    label: Option<&[u8]>,
) -> Result<Vec<u8>, CryptoError> {
    let key = PublicEncryptingKey::from_der(spki_der).map_err(|_| CryptoError::KeyRejected("RSA key"))?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| CryptoError::KeyRejected("RSA key"))?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let written =
        key.encrypt(algorithm, plaintext, &mut out, label).map_err(|_| CryptoError::WrapFailed)?.len();
    out.truncate(written);
    Ok(out)
}

const SHA1_LEN: usize = 20;

fn sha1(data: &[u8]) -> [u8; SHA1_LEN] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; SHA1_LEN];
    out.copy_from_slice(d.as_ref());
    out
}

/// RSAES-OAEP-ENCRYPT (RFC 8017 7.1.1) with SHA-256 as the label hash, MGF1 with SHA-1 and an
/// empty label: what Android's keystore decrypts for "RSA/ECB/OAEPWithSHA-256AndMGF1Padding".
fn oaep_sha256_mgf1_sha1(spki_der: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    oaep_sha256(sha1, spki_der, message)
}

/// RSAES-OAEP-ENCRYPT with SHA-256 as the label hash, an empty label and MGF1 with `mgf`.
fn oaep_sha256<const N: usize>(
    mgf: fn(&[u8]) -> [u8; N],
    spki_der: &[u8],
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    const H: usize = 32;
    let parts =
        spki::rsa_public_parts(spki_der).ok_or(CryptoError::KeyRejected("RSA SubjectPublicKeyInfo"))?;
    let k = parts.modulus.len();
    if k < 2 * H + 2 || message.len() > k - 2 * H - 2 {
        return Err(CryptoError::WrapFailed);
    }
    // EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M.
    let mut em = zeroize::Zeroizing::new(vec![0u8; k]);
    let (seed, db) = em.get_mut(1..).ok_or(CryptoError::WrapFailed)?.split_at_mut(H);
    fill_random(seed)?;
    db.get_mut(..H).ok_or(CryptoError::WrapFailed)?.copy_from_slice(&sha256(b""));
    let one_at = db.len() - message.len() - 1;
    *db.get_mut(one_at).ok_or(CryptoError::WrapFailed)? = 0x01;
    db.get_mut(one_at + 1..).ok_or(CryptoError::WrapFailed)?.copy_from_slice(message);
    mgf1_xor(mgf, seed, db);
    mgf1_xor(mgf, db, seed);
    rsa_public_op(&parts.modulus, &parts.exponent, &em)
}

/// `m^e mod n` in constant time, as `n`'s length in bytes.
fn rsa_public_op(modulus: &[u8], exponent: &[u8], m: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let bits = u32::try_from(modulus.len() * 8).map_err(|_| CryptoError::KeyRejected("RSA modulus"))?;
    let n = BoxedUint::from_be_slice(modulus, bits).map_err(|_| CryptoError::KeyRejected("RSA modulus"))?;
    let n =
        Option::<Odd<BoxedUint>>::from(Odd::new(n)).ok_or(CryptoError::KeyRejected("RSA modulus is even"))?;
    let e = BoxedUint::from_be_slice(exponent, bits).map_err(|_| CryptoError::KeyRejected("RSA exponent"))?;
    let m = BoxedUint::from_be_slice(m, bits).map_err(|_| CryptoError::WrapFailed)?;
    let params = BoxedMontyParams::new(n);
    let c = BoxedMontyForm::new(m, params).pow(&e).retrieve();
    let bytes = c.to_be_bytes();
    let out = bytes.get(bytes.len().saturating_sub(modulus.len())..).ok_or(CryptoError::WrapFailed)?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RsaPrivateKey;

    /// A signing key made by swtpm 0.7.1 (libtpms) through tpm2-tools 5.4 with MOSIP's template
    /// (endorsement hierarchy, nameAlg SHA-1, RSASSA SHA-256, exponent 0), as `TPM2B_PUBLIC`,
    /// and its signature of "hello tpm" (`tpm2_sign -g sha256 -s rsassa -f plain`).
    const SWTPM_SIGNING_KEY: &str = "01180001000400040072000000100014000b0800000000000100e8b34bb6b4b9675996889bfd6fa774d20d6cf43ab87176234f414fdd24dddc133501f54d91071fc7035f97a7a257f21a64ac881d91c011f1f40d62bc15c84548cd0c83a7ef1ed22e69414a646d8a6fac6e3d49e692bc98a3b952ef07acab627f1774219902bd9416a863031b03e75bcbbed3553dc225e9daa1868cdd9a3b1b1f4b55666a3556e365b77011b5efce1621bb46a365ad0178604834a115f59076c47879e465aff86f66386aaeb2c1dbae8bd7ccfa411062437b3bc6589173b4c6fb89e8185a9566ce7c1f24e061b4f8b304193814ed94b5908db636ebb74ca58f694db17a521a6c60ecf96f39143bb12594b4660795ccb13903941d800c8ef4b99d";
    const SWTPM_SIGNATURE: &str = "61342c6c77d8f4aeded9588c4587740e3bef6c6795127cf5183baf7f3af1fc87db12c3b3bb3234633fdb1eb6728897c7204af211daf3a964c71aac759bdcbc5c915eca4a4ef83abc5c18361084135231749048b3690041d5e168d33a4533d483dd098076ebebe9f661f3de9d58445684a86dcc361d1b4822e1fc5e52ebdc025757f6083866bafb799a920e8687f82e9ecadc79ed878490e7f7d33be59eb02550aa8a47fd2797f1ec86804d6fe6095ccb100050f97c71ca1111c5e79c19080bdbb05dfce3d00160dd1a8d77fe4cfe362e35d55dcab51294253664705ec9b8cc0ab0e974a2cef671e5eb8b29470759b1d6665f96a5f49217b6c5eee628fa66900b";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
    }

    /// A `TPMT_PUBLIC` of `modulus` with MOSIP's encryption template (OAEP SHA-256).
    fn tpmt_public(modulus: &[u8], scheme: &[u8]) -> Vec<u8> {
        let mut out = vec![0x00, 0x01, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x72, 0x00, 0x00, 0x00, 0x10]; // decrypt set
        out.extend_from_slice(scheme);
        out.extend_from_slice(&((modulus.len() * 8) as u16).to_be_bytes());
        out.extend_from_slice(&65537u32.to_be_bytes());
        out.extend_from_slice(&(modulus.len() as u16).to_be_bytes());
        out.extend_from_slice(modulus);
        out
    }

    #[test]
    fn a_real_tpm_key_and_signature() {
        let blob = unhex(SWTPM_SIGNING_KEY);
        let tpm = TpmRsaPublic::parse(&blob).expect("TPM2B_PUBLIC");
        assert_eq!(
            (tpm.name_alg, tpm.scheme, tpm.key_bits),
            (TpmHash::Sha1, TpmRsaScheme::Rsassa(TpmHash::Sha256), 2048)
        );
        assert_eq!((tpm.exponent, tpm.effective_exponent(), tpm.attributes), (0, 65537, 0x0004_0072));
        assert_eq!(TpmRsaPublic::parse(&blob[2..]), Ok(tpm), "the TPMT_PUBLIC alone");
        // Whatever the caller declares, a TPM structure is a TPM key.
        let key = ClientPublicKey::parse(&blob[2..], ClientKind::Local).expect("key");
        assert_eq!(key.kind(), ClientKind::Tpm);
        let signature = unhex(SWTPM_SIGNATURE);
        assert_eq!(key.verify(b"hello tpm", &signature), Ok(true));
        assert_eq!(key.verify(b"hello TPM", &signature), Ok(false));
        assert_eq!(key.verify(b"hello tpm", &signature[1..]), Ok(false));
    }

    #[test]
    fn malformed_tpm_structures_are_refused() {
        let blob = unhex(SWTPM_SIGNING_KEY);
        let tpmt = &blob[2..];
        for cut in [1, 2, 10, 20, tpmt.len() - 1] {
            assert!(TpmRsaPublic::parse(&tpmt[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = tpmt.to_vec();
        longer.push(0);
        assert!(TpmRsaPublic::parse(&longer).is_err(), "a byte after the structure");
        let mut ecc = tpmt.to_vec();
        ecc[1] = 0x23;
        assert!(TpmRsaPublic::parse(&ecc).is_err(), "an ECC key");
        let mut bits = tpmt.to_vec();
        bits[16] = 0x04; // keyBits 1024 for a 256-byte modulus
        assert!(TpmRsaPublic::parse(&bits).is_err(), "keyBits that do not match");
        assert!(ClientPublicKey::parse(b"not a key", ClientKind::Local).is_err());
        // An OAEP key does not sign.
        let rsa = RsaPrivateKey::generate_2048().expect("key");
        let parts = spki::rsa_public_parts(rsa.public_key().expect("public").spki_der()).expect("parts");
        let oaep =
            ClientPublicKey::parse(&tpmt_public(&parts.modulus, &[0x00, 0x17, 0x00, 0x0b]), ClientKind::Tpm)
                .expect("key");
        assert!(oaep.verify(b"x", &[0; 256]).is_err());
    }

    #[test]
    fn spki_keys_and_the_constant_time_public_operation() {
        let rsa = RsaPrivateKey::generate_2048().expect("key");
        let spki_der = rsa.public_key().expect("public").spki_der().to_vec();
        let local = ClientPublicKey::parse(&spki_der, ClientKind::Local).expect("key");
        assert_eq!((local.kind(), local.modulus_len()), (ClientKind::Local, Ok(256)));
        let wrapped = local.wrap(&[7; 32]).expect("wrap");
        assert_eq!(rsa.oaep_unwrap(&wrapped).expect("unwrap").expose(), &[7; 32]);
        assert_eq!(
            ClientPublicKey::parse(&spki_der, ClientKind::Tpm).expect("key").kind(),
            ClientKind::Local
        );
        assert_eq!(
            ClientPublicKey::parse(&spki_der, ClientKind::Android).expect("key").kind(),
            ClientKind::Android
        );

        // The hand-made OAEP and modular exponentiation, with MGF1-SHA-256, opens with aws-lc.
        for message in [&[][..], &[1; 32][..], &[0xff; 190][..]] {
            let c = oaep_sha256(sha256, &spki_der, message).expect("encrypt");
            assert_eq!(c.len(), 256);
            assert_eq!(rsa.oaep_unwrap(&c).expect("unwrap").expose(), message);
        }
        assert!(oaep_sha256(sha256, &spki_der, &[0; 191]).is_err(), "too long for the key");
        let a = oaep_sha256_mgf1_sha1(&spki_der, &[9; 32]).expect("android");
        let b = oaep_sha256_mgf1_sha1(&spki_der, &[9; 32]).expect("android");
        assert!(a.len() == 256 && a != b, "random seeds");
        assert!(rsa.oaep_unwrap(&a).is_err(), "MGF1-SHA-1 is not what aws-lc's OAEP-SHA-256 reads");
    }

    #[test]
    fn tpm_wrap_uses_the_nul_label() {
        let rsa = RsaPrivateKey::generate_2048().expect("key");
        let parts = spki::rsa_public_parts(rsa.public_key().expect("public").spki_der()).expect("parts");
        let key = ClientPublicKey::parse(
            &tpmt_public(&parts.modulus, &[0x00, 0x17, 0x00, 0x0b]),
            ClientKind::Local,
        )
        .expect("key");
        let wrapped = key.wrap(&[5; 32]).expect("wrap");
        // aws-lc's decryption with an empty label refuses it: the label is "\0".
        assert!(rsa.oaep_unwrap(&wrapped).is_err());
        // A signing key, or an RSAES one, is no key to wrap for.
        let signing = ClientPublicKey::parse(&unhex(SWTPM_SIGNING_KEY), ClientKind::Tpm).expect("key");
        assert!(signing.wrap(&[5; 32]).is_err());
        let rsaes = ClientPublicKey::parse(&tpmt_public(&parts.modulus, &[0x00, 0x15]), ClientKind::Tpm)
            .expect("key");
        assert!(rsaes.wrap(&[5; 32]).is_err());
    }
}
