//! The PKCS#11 keystore, on `cryptoki`.
//!
//! Objects are named by the alias (reference 3.2): a key pair's private key, public key and
//! certificate made here all carry `CKA_LABEL` = alias and `CKA_ID` = the alias in UTF-8; a
//! secret key carries the same label. A token made by MOSIP's Java service (SunPKCS11's
//! keystore) names a key pair's private key by `CKA_ID` only, labels the certificate, and keeps
//! no public key object: keys are found by label or by id, and a public key without its object
//! is read from the certificate. Keys are generated in the token, private and secret keys
//! sensitive and not extractable.
//!
//! Sessions come from a pool of at most `pool_size`; object handles are cached per alias.
//! When the token drops sessions (`CKR_SESSION_HANDLE_INVALID`, `CKR_SESSION_CLOSED`,
//! `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT`, `CKR_CRYPTOKI_NOT_INITIALIZED`, ...), the
//! pool and the cache are dropped, the library is re-initialised if it has to be, the slot is
//! found again by token label (slot ids change), and the call is retried once.
//!
//! RSA-OAEP with SHA-256 is tried in the token first; a token that refuses the mechanism
//! (SoftHSM2 does) gets raw RSA (`CKM_RSA_X_509`) and the padding is removed in software by
//! [`keymgr_crypto::oaep_sha256_decode`], in constant time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use cryptoki::context::Pkcs11;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use cryptoki::session::Session;
use keymgr_crypto::spki::{P256_OID, SECP256K1_OID, ec_spki, rsa_spki};
use keymgr_crypto::{AsymmetricKind, Certificate, SecretBytes, SignAlgorithm, oaep_sha256_decode, sha256};
use zeroize::Zeroizing;

use crate::{HsmError, KeyKind, Keystore};

mod session;

use session::{
    Fail, KeyObject, OAEP_IN_SOFTWARE, OAEP_IN_TOKEN, OAEP_UNKNOWN, Pool, find_slot, initialize,
    is_recoverable, rv, token_error,
};

/// How to reach a PKCS#11 token.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label; the slot is found by it, since slot ids change.
    pub token_label: String,
    /// The user PIN.
    pub pin: Zeroizing<String>,
    /// Most sessions open at once.
    pub pool_size: usize,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// A PKCS#11 token as a [`Keystore`] (see the module docs).
pub struct Pkcs11Keystore {
    config: Pkcs11Config,
    ctx: Pkcs11,
    pool: Mutex<Pool>,
    available: Condvar,
    keys: Mutex<HashMap<(String, bool), KeyObject>>,
    oaep: AtomicU8,
    /// Serialises object creation and destruction: SoftHSM2's file store fails
    /// (`CKR_GENERAL_ERROR`) when two sessions create token objects at once, and key
    /// generation is rare enough that no token loses by it.
    object_writes: Mutex<()>,
}

impl std::fmt::Debug for Pkcs11Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Keystore").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Pkcs11Keystore {
    /// Loads the module, finds the token by label and logs in once to check the PIN.
    pub fn new(config: Pkcs11Config) -> Result<Self, HsmError> {
        if config.pool_size == 0 {
            return Err(HsmError::Config("pool_size must be at least 1".into()));
        }
        let ctx = Pkcs11::new(&config.module)
            .map_err(|e| HsmError::Config(format!("cannot load {}: {e}", config.module.display())))?;
        initialize(&ctx).map_err(token_error)?;
        let slot = find_slot(&ctx, &config.token_label)?;
        let keystore = Self {
            config,
            ctx,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                in_use: 0,
                generation: 0,
                logged_in_generation: None,
                slot,
            }),
            available: Condvar::new(),
            keys: Mutex::new(HashMap::new()),
            oaep: AtomicU8::new(OAEP_UNKNOWN),
            object_writes: Mutex::new(()),
        };
        keystore.health_check()?;
        Ok(keystore)
    }

    fn unwrap_in_token(
        &self,
        session: &Session,
        key: KeyObject,
        ciphertext: &[u8],
    ) -> Result<SecretBytes, Fail> {
        if self.oaep.load(Ordering::Relaxed) != OAEP_IN_SOFTWARE {
            let params =
                PkcsOaepParams::new(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, PkcsOaepSource::empty());
            match session.decrypt(&Mechanism::RsaPkcsOaep(params), key.handle, ciphertext) {
                Ok(plain) => {
                    self.oaep.store(OAEP_IN_TOKEN, Ordering::Relaxed);
                    return Ok(SecretBytes::new(plain));
                }
                Err(e)
                    if matches!(
                        rv(&e),
                        Some(
                            RvError::MechanismInvalid
                                | RvError::MechanismParamInvalid
                                | RvError::ArgumentsBad
                        )
                    ) =>
                {
                    self.oaep.store(OAEP_IN_SOFTWARE, Ordering::Relaxed);
                }
                Err(e) if is_recoverable(&e) => return Err(Fail::Token(e)),
                Err(_) => return Err(HsmError::UnwrapFailed.into()),
            }
        }
        let raw = match session.decrypt(&Mechanism::RsaX509, key.handle, ciphertext) {
            Ok(raw) => Zeroizing::new(raw),
            Err(e) if is_recoverable(&e) => return Err(Fail::Token(e)),
            Err(_) => return Err(HsmError::UnwrapFailed.into()),
        };
        // Left-pad to the modulus length: some tokens drop leading zero bytes.
        let mut em = Zeroizing::new(vec![0u8; key.modulus_len.saturating_sub(raw.len())]);
        em.extend_from_slice(&raw);
        oaep_sha256_decode(&em).map_err(|_| HsmError::UnwrapFailed.into())
    }

    fn public_key_of(&self, session: &Session, alias: &str) -> Result<Vec<u8>, Fail> {
        let template =
            [Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Label(alias.as_bytes().to_vec())];
        let Some(&handle) = session.find_objects(&template)?.first() else {
            // SunPKCS11 keystores keep only the private key and the certificate.
            let cert =
                certificate_of(session, alias)?.ok_or_else(|| HsmError::NoSuchAlias(alias.to_owned()))?;
            return Ok(Certificate::from_der(&cert).map_err(HsmError::from)?.spki_der().to_vec());
        };
        let attrs = session.get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )?;
        let (mut key_type, mut n, mut e, mut params, mut point) = (None, None, None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(v),
                _ => {}
            }
        }
        match (key_type, n, e, params, point) {
            (Some(KeyType::RSA), Some(n), Some(e), _, _) => Ok(rsa_spki(&n, &e)),
            (Some(KeyType::EC), _, _, Some(params), Some(point)) => {
                let kind = if params == P256_OID {
                    AsymmetricKind::EcP256
                } else if params == SECP256K1_OID {
                    AsymmetricKind::EcSecp256k1
                } else {
                    return Err(HsmError::Pkcs11(format!("{alias}: unsupported curve")).into());
                };
                // CKA_EC_POINT is a DER OCTET STRING holding the point.
                let raw = match point.as_slice() {
                    [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
                    other => other,
                };
                Ok(ec_spki(kind, raw).map_err(HsmError::from)?)
            }
            _ => {
                Err(HsmError::WrongKeyKind { alias: alias.to_owned(), operation: "have a public key" }.into())
            }
        }
    }
}

fn certificate_of(session: &Session, alias: &str) -> Result<Option<Vec<u8>>, Fail> {
    let template = [Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Label(alias.as_bytes().to_vec())];
    let Some(&handle) = session.find_objects(&template)?.first() else { return Ok(None) };
    for a in session.get_attributes(handle, &[AttributeType::Value])? {
        if let Attribute::Value(v) = a {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The objects named `alias` (of `class`, if given): by `CKA_LABEL`, as this keystore and
/// SunPKCS11 name secret keys and certificates, or by `CKA_ID`, as SunPKCS11 names the private
/// keys of MOSIP's key pairs (they carry no label).
fn objects_named(
    session: &Session,
    alias: &str,
    class: Option<ObjectClass>,
) -> Result<Vec<cryptoki::object::ObjectHandle>, Fail> {
    let mut found = Vec::new();
    for name in [Attribute::Label(alias.as_bytes().to_vec()), Attribute::Id(alias.as_bytes().to_vec())] {
        let mut template = vec![name];
        template.extend(class.map(Attribute::Class));
        for handle in session.find_objects(&template)? {
            if !found.contains(&handle) {
                found.push(handle);
            }
        }
    }
    Ok(found)
}

fn label_exists(session: &Session, alias: &str) -> Result<bool, Fail> {
    Ok(!objects_named(session, alias, None)?.is_empty())
}

fn wrong_kind(alias: &str, operation: &'static str) -> Fail {
    Fail::Keystore(HsmError::WrongKeyKind { alias: alias.to_owned(), operation })
}

impl Keystore for Pkcs11Keystore {
    fn generate(&self, alias: &str, kind: KeyKind) -> Result<Option<Vec<u8>>, HsmError> {
        let label = Attribute::Label(alias.as_bytes().to_vec());
        let id = Attribute::Id(alias.as_bytes().to_vec());
        let _writing = self.object_writes.lock().unwrap_or_else(PoisonError::into_inner);
        self.call(|session| {
            if label_exists(session, alias)? {
                return Err(HsmError::AliasExists(alias.to_owned()).into());
            }
            let private_common = vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                label.clone(),
                id.clone(),
            ];
            match kind {
                KeyKind::Aes256 => {
                    let mut template = private_common;
                    template.extend([
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32.into()),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                    ]);
                    session.generate_key(&Mechanism::AesKeyGen, &template)?;
                    Ok(None)
                }
                KeyKind::Asymmetric(AsymmetricKind::Rsa2048) => {
                    let public = [
                        Attribute::Token(true),
                        Attribute::Private(false),
                        Attribute::ModulusBits(2048.into()),
                        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                        Attribute::Encrypt(true),
                        Attribute::Verify(true),
                        label.clone(),
                        id.clone(),
                    ];
                    let mut private = private_common;
                    private.extend([Attribute::Decrypt(true), Attribute::Sign(true)]);
                    session.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)?;
                    self.public_key_of(session, alias).map(Some)
                }
                // MOSIP keeps Ed25519 keys in software, wrapped by their master; tokens differ
                // in their EdDSA support, so none is made here.
                KeyKind::Asymmetric(AsymmetricKind::Ed25519) => Err(Fail::Keystore(HsmError::Config(
                    "Ed25519 keys are not made in the PKCS#11 keystore (MOSIP keeps them in software)".into(),
                ))),
                KeyKind::Asymmetric(curve) => {
                    let params = if curve == AsymmetricKind::EcP256 { P256_OID } else { SECP256K1_OID };
                    let public = [
                        Attribute::Token(true),
                        Attribute::Private(false),
                        Attribute::EcParams(params.to_vec()),
                        Attribute::Verify(true),
                        label.clone(),
                        id.clone(),
                    ];
                    let mut private = private_common;
                    private.push(Attribute::Sign(true));
                    session.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)?;
                    self.public_key_of(session, alias).map(Some)
                }
            }
        })
    }

    fn store_certificate(&self, alias: &str, cert_der: &[u8]) -> Result<(), HsmError> {
        let cert = Certificate::from_der(cert_der)?;
        let _writing = self.object_writes.lock().unwrap_or_else(PoisonError::into_inner);
        self.call(|session| {
            self.key(session, alias, ObjectClass::PRIVATE_KEY)?;
            let template =
                [Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Label(alias.as_bytes().to_vec())];
            let old = session.find_objects(&template)?;
            session.create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Label(alias.as_bytes().to_vec()),
                Attribute::Id(alias.as_bytes().to_vec()),
                Attribute::Subject(cert.subject_der().to_vec()),
                Attribute::Value(cert.der().to_vec()),
            ])?;
            for handle in old {
                session.destroy_object(handle)?;
            }
            Ok(())
        })
    }

    fn certificate(&self, alias: &str) -> Result<Option<Vec<u8>>, HsmError> {
        self.call(|session| {
            let cert = certificate_of(session, alias)?;
            if cert.is_none() && !label_exists(session, alias)? {
                return Err(HsmError::NoSuchAlias(alias.to_owned()).into());
            }
            Ok(cert)
        })
    }

    fn public_key(&self, alias: &str) -> Result<Vec<u8>, HsmError> {
        self.call(|session| self.public_key_of(session, alias))
    }

    fn aliases(&self) -> Result<Vec<String>, HsmError> {
        self.call(|session| {
            let mut aliases = Vec::new();
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::SECRET_KEY] {
                for handle in session.find_objects(&[Attribute::Token(true), Attribute::Class(class)])? {
                    let mut name = None;
                    for a in session.get_attributes(handle, &[AttributeType::Label, AttributeType::Id])? {
                        match a {
                            Attribute::Label(l) if !l.is_empty() => name = Some(l),
                            // SunPKCS11's private keys: named by CKA_ID only.
                            Attribute::Id(id) if name.is_none() && !id.is_empty() => name = Some(id),
                            _ => {}
                        }
                    }
                    if let Some(name) = name {
                        aliases.push(String::from_utf8_lossy(&name).into_owned());
                    }
                }
            }
            aliases.sort();
            aliases.dedup();
            Ok(aliases)
        })
    }

    fn destroy(&self, alias: &str) -> Result<(), HsmError> {
        let _writing = self.object_writes.lock().unwrap_or_else(PoisonError::into_inner);
        let result = self.call(|session| {
            let objects = objects_named(session, alias, None)?;
            if objects.is_empty() {
                return Err(HsmError::NoSuchAlias(alias.to_owned()).into());
            }
            for handle in objects {
                session.destroy_object(handle)?;
            }
            Ok(())
        });
        self.forget(alias);
        result
    }

    fn rsa_oaep_unwrap(&self, alias: &str, ciphertext: &[u8]) -> Result<SecretBytes, HsmError> {
        self.call(|session| {
            let key = self.key(session, alias, ObjectClass::PRIVATE_KEY)?;
            if key.key_type != KeyType::RSA {
                return Err(wrong_kind(alias, "RSA-OAEP decrypt"));
            }
            if ciphertext.len() != key.modulus_len {
                return Err(HsmError::UnwrapFailed.into());
            }
            self.unwrap_in_token(session, key, ciphertext)
        })
    }

    fn sign(&self, alias: &str, algorithm: SignAlgorithm, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.call(|session| {
            let key = self.key(session, alias, ObjectClass::PRIVATE_KEY)?;
            let (mechanism, data, needs) = match algorithm {
                SignAlgorithm::Rs256 => (Mechanism::Sha256RsaPkcs, message.to_vec(), KeyType::RSA),
                SignAlgorithm::Ps256 => (
                    Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                        hash_alg: MechanismType::SHA256,
                        mgf: PkcsMgfType::MGF1_SHA256,
                        s_len: 32.into(),
                    }),
                    message.to_vec(),
                    KeyType::RSA,
                ),
                // CKM_ECDSA signs a digest and answers r || s.
                SignAlgorithm::Es256 | SignAlgorithm::Es256K => {
                    (Mechanism::Ecdsa, sha256(message).to_vec(), KeyType::EC)
                }
                SignAlgorithm::EdDsa => return Err(wrong_kind(alias, "sign with EdDSA")),
            };
            if key.key_type != needs {
                return Err(wrong_kind(alias, "sign with this algorithm"));
            }
            if needs == KeyType::EC {
                let spki = self.public_key_of(session, alias)?;
                let curve_ok = match algorithm {
                    SignAlgorithm::Es256 => spki.windows(P256_OID.len()).any(|w| w == P256_OID),
                    _ => spki.windows(SECP256K1_OID.len()).any(|w| w == SECP256K1_OID),
                };
                if !curve_ok {
                    return Err(wrong_kind(alias, "sign with this algorithm"));
                }
            }
            Ok(session.sign(&mechanism, key.handle, &data)?)
        })
    }

    fn aes_ecb_encrypt(&self, alias: &str, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        check_blocks(data)?;
        self.call(|session| {
            let key = self.secret_key(session, alias)?;
            Ok(session.encrypt(&Mechanism::AesEcb, key.handle, data)?)
        })
    }

    fn aes_ecb_decrypt(&self, alias: &str, data: &[u8]) -> Result<SecretBytes, HsmError> {
        check_blocks(data)?;
        self.call(|session| {
            let key = self.secret_key(session, alias)?;
            Ok(SecretBytes::new(session.decrypt(&Mechanism::AesEcb, key.handle, data)?))
        })
    }

    fn health_check(&self) -> Result<(), HsmError> {
        self.call(|session| Ok(session.get_session_info().map(drop)?))
    }
}

impl Pkcs11Keystore {
    /// Takes in a key made elsewhere under `alias` (`keymgr keystore migrate`, from the file
    /// keystore): `secret` is the PKCS#8 of an RSA or EC key pair, or the raw AES-256 key. The
    /// objects are those [`Keystore::generate`] makes (private and secret parts sensitive and
    /// not extractable, MOSIP's labels), the public key object beside the private key. The
    /// template's copies of the secret are zeroed once the token has them. Ed25519 is refused,
    /// as by `generate`. Returns the public key's DER `SubjectPublicKeyInfo` (`None` for AES).
    pub fn import(
        &self,
        alias: &str,
        kind: KeyKind,
        secret: &SecretBytes,
    ) -> Result<Option<Vec<u8>>, HsmError> {
        let label = Attribute::Label(alias.as_bytes().to_vec());
        let id = Attribute::Id(alias.as_bytes().to_vec());
        let private_common = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            label.clone(),
            id.clone(),
        ];
        let public_common = [
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Token(true),
            Attribute::Private(false),
            label,
            id,
        ];
        let (mut private, public) = match kind {
            KeyKind::Aes256 => {
                if secret.len() != 32 {
                    return Err(HsmError::Config(format!("{alias}: an AES-256 key is 32 bytes")));
                }
                let mut t = private_common.to_vec();
                t.extend([
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Value(secret.expose().to_vec()),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ]);
                (SecretTemplate(t), None)
            }
            KeyKind::Asymmetric(AsymmetricKind::Rsa2048) => {
                let p = keymgr_crypto::key_parts::rsa_private_parts(secret)?;
                let mut t = private_common.to_vec();
                t.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Decrypt(true),
                    Attribute::Sign(true),
                    Attribute::Modulus(p.modulus.clone()),
                    Attribute::PublicExponent(p.public_exponent.clone()),
                    Attribute::PrivateExponent(p.private_exponent.to_vec()),
                    Attribute::Prime1(p.prime1.to_vec()),
                    Attribute::Prime2(p.prime2.to_vec()),
                    Attribute::Exponent1(p.exponent1.to_vec()),
                    Attribute::Exponent2(p.exponent2.to_vec()),
                    Attribute::Coefficient(p.coefficient.to_vec()),
                ]);
                let mut public = public_common.to_vec();
                public.extend([
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Encrypt(true),
                    Attribute::Verify(true),
                    Attribute::Modulus(p.modulus.clone()),
                    Attribute::PublicExponent(p.public_exponent.clone()),
                ]);
                (SecretTemplate(t), Some(public))
            }
            KeyKind::Asymmetric(AsymmetricKind::Ed25519) => {
                return Err(HsmError::Config(
                    "Ed25519 keys are not kept in the PKCS#11 keystore (MOSIP keeps them in software)".into(),
                ));
            }
            KeyKind::Asymmetric(curve) => {
                let p = keymgr_crypto::key_parts::ec_private_parts(secret)?;
                if p.kind != curve {
                    return Err(HsmError::Config(format!("{alias}: the key is not on the curve named")));
                }
                // The public point, from the key itself.
                let spki = keymgr_crypto::SigningKey::from_pkcs8(curve, secret.clone())?.public_key_spki()?;
                let point = spki.get(spki.len().saturating_sub(65)..).unwrap_or_default();
                let mut encoded_point = vec![0x04, 65];
                encoded_point.extend_from_slice(point);
                let mut t = private_common.to_vec();
                t.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(p.curve_oid.to_vec()),
                    Attribute::Value(p.scalar.to_vec()),
                    Attribute::Sign(true),
                ]);
                let mut public = public_common.to_vec();
                public.extend([
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(p.curve_oid.to_vec()),
                    Attribute::EcPoint(encoded_point),
                    Attribute::Verify(true),
                ]);
                (SecretTemplate(t), Some(public))
            }
        };
        let _writing = self.object_writes.lock().unwrap_or_else(PoisonError::into_inner);
        let result = self.call(|session| {
            if label_exists(session, alias)? {
                return Err(HsmError::AliasExists(alias.to_owned()).into());
            }
            let private_handle = session.create_object(&private.0)?;
            if let Some(public) = &public
                && let Err(e) = session.create_object(public)
            {
                let _ = session.destroy_object(private_handle);
                return Err(e.into());
            }
            match kind {
                KeyKind::Aes256 => Ok(None),
                KeyKind::Asymmetric(_) => self.public_key_of(session, alias).map(Some),
            }
        });
        private.wipe();
        self.forget(alias);
        result
    }

    /// Whether the private or secret key under `alias` is sensitive and not extractable, as
    /// the keys this keystore makes and imports are.
    pub fn is_protected(&self, alias: &str, kind: KeyKind) -> Result<bool, HsmError> {
        let class = if kind == KeyKind::Aes256 { ObjectClass::SECRET_KEY } else { ObjectClass::PRIVATE_KEY };
        self.call(|session| {
            let key = self.key(session, alias, class)?;
            let attributes = session
                .get_attributes(key.handle, &[AttributeType::Sensitive, AttributeType::Extractable])?;
            Ok(attributes.contains(&Attribute::Sensitive(true))
                && attributes.contains(&Attribute::Extractable(false)))
        })
    }

    fn secret_key(&self, session: &Session, alias: &str) -> Result<KeyObject, Fail> {
        match self.key(session, alias, ObjectClass::SECRET_KEY) {
            Ok(k) if k.key_type == KeyType::AES => Ok(k),
            Ok(_) => Err(wrong_kind(alias, "AES-encrypt")),
            Err(Fail::Keystore(HsmError::NoSuchAlias(_))) if label_exists(session, alias)? => {
                Err(wrong_kind(alias, "AES-encrypt"))
            }
            Err(e) => Err(e),
        }
    }
}

/// A key template holding secret components, zeroed when dropped.
struct SecretTemplate(Vec<Attribute>);

impl SecretTemplate {
    fn wipe(&mut self) {
        use zeroize::Zeroize as _;
        for attribute in &mut self.0 {
            match attribute {
                Attribute::Value(v)
                | Attribute::PrivateExponent(v)
                | Attribute::Prime1(v)
                | Attribute::Prime2(v)
                | Attribute::Exponent1(v)
                | Attribute::Exponent2(v)
                | Attribute::Coefficient(v) => v.zeroize(),
                _ => {}
            }
        }
    }
}

impl Drop for SecretTemplate {
    fn drop(&mut self) {
        self.wipe();
    }
}

fn check_blocks(data: &[u8]) -> Result<(), HsmError> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(keymgr_crypto::CryptoError::BadLength {
            what: "AES-ECB data",
            expected: "a non-zero multiple of 16 bytes",
            got: data.len(),
        }
        .into());
    }
    Ok(())
}
