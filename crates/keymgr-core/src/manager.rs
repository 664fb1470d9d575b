//! The `KeyManager` and its operations.

use std::sync::Arc;
use std::time::Duration;

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
    subject_of,
};
use keymgr_crypto::{AsymmetricKind, Certificate, RsaPrivateKey, SecretBytes, SignAlgorithm, sha1_hex_upper};
use keymgr_db::{Database, Locked, NewKey, StoredKey};
use keymgr_envelope::{Codec, EnvelopeError, KeyUnwrapper, OpenParams, Plaintext, Recipient, SealMode};
use keymgr_hsm::{KeyKind, Keystore};
use keymgr_model::{AppId, KeyAlias, KeyPolicy, KeyRef, KeyTier, RefId, Thumbprint, UtcTime, WellKnown};
use keymgr_policy::{Decision, decide, is_current, new_key_expiry, pre_expire_days, rotation_instant};

use crate::cache::BoundedCache;
use crate::stored_key::{unwrap_stored_private_key, wrap_private_key_for_store};
use crate::{Clock, KeymgrError};

mod certificates;
mod jwe;
mod secrets;

pub use certificates::{CertificateRecord, CsrInfo};
pub use secrets::{Argon2Hash, SymmetricKeyStatus};

use crate::rate::TokenBucket;

/// How far back a revoked or force-replaced key's expiry is set, as MOSIP does.
const EXPIRE_NOW: time::Duration = time::Duration::minutes(1);

/// Settings of a [`KeyManager`].
#[derive(Debug, Clone)]
pub struct KeyManagerConfig {
    /// Default subject parts (`mosip.kernel.keymanager.certificate.default.*`); the common
    /// name becomes `"<cn> (<APP>)"` for masters.
    pub default_subject: DistinguishedNameSpec,
    /// Most unwrapped base private keys kept in memory; 0 turns the cache off (MOSIP keeps
    /// none and pays an HSM unwrap on every decrypt).
    pub base_key_cache_size: usize,
    /// Longest an unwrapped base key stays in memory.
    pub base_key_cache_ttl: Duration,
    /// Longest a current certificate is cached; bounds how late a replica sees another's
    /// revocation.
    pub certificate_cache_ttl: Duration,
    /// The envelope codec (splitter, size limit).
    pub codec: Codec,
    /// Written as `cr_by` / `upd_by` (MOSIP writes `SYSTEM`).
    pub actor: String,
    /// PBKDF2 iterations of PIN encryption (MOSIP: 100000; both sides must agree).
    pub pin_kdf_iterations: u32,
    /// Argon2id parameters of `argon2_hash` (MOSIP: t=10, m=64 MiB, p=2).
    pub argon2: keymgr_crypto::password::Argon2Params,
    /// Most Argon2 hashes computed at once (each takes `argon2.memory_kib`); more wait.
    pub argon2_concurrency: usize,
    /// Which keys may open envelopes and JWEs beyond the requested pair's own base keys.
    pub decryption: DecryptionScope,
    /// Largest plaintext a compressed JWE may inflate to (`zip: DEF`); a few KiB of DEFLATE
    /// can otherwise claim hundreds of MiB.
    pub jwe_max_inflated_len: usize,
    /// Limits on making the first key of a pair nobody asked for before.
    pub new_pairs: NewPairLimits,
}

/// Which keys may open envelopes (`/decrypt`) and JWEs (`/jwtDecrypt`).
///
/// By default only the base keys of the requested (application, reference) pair do: keys held
/// in the keystore (ROOT, module masters, `KERNEL`/`SIGN`) never open caller bytes, because
/// `key_store` rows are themselves envelopes sealed to the masters, and a master that opens an
/// envelope would hand a base private key to whoever can read the database and holds a
/// decrypt token.
#[derive(Debug, Clone, Default)]
pub struct DecryptionScope {
    /// Any base key of the requested application opens, not only the requested pair's:
    /// MOSIP's rule (reference section 1, step 3). Off by default.
    pub same_application: bool,
    /// Keystore keys that may open envelopes (never JWEs) for requests of their own
    /// application, for deployments whose clients seal to a master certificate. Even then a
    /// plaintext shaped like a PKCS#8 private key is refused.
    pub keystore_keys: Vec<KeyRef>,
}

/// Limits on making the first key of a pair: by default none, as in MOSIP, where any new
/// `referenceId` on `getCertificate` or `/encrypt` makes an RSA key and a database row.
#[derive(Debug, Clone, Default)]
pub struct NewPairLimits {
    /// Most first keys of new pairs made per minute by this instance (a token bucket with
    /// that burst); `None` for no limit. Rotations of existing pairs are never limited.
    pub per_minute: Option<u32>,
    /// Per application, the references a new pair may have (a regular expression matched
    /// against the whole reference); applications not listed take any reference.
    pub reference_patterns: Vec<(AppId, regex::Regex)>,
}

impl Default for KeyManagerConfig {
    fn default() -> Self {
        Self {
            default_subject: DistinguishedNameSpec {
                common_name: "www.mosip.io".into(),
                organizational_unit: "MOSIP-TECH-CENTER".into(),
                organization: "IITB".into(),
                locality: "BANGALORE".into(),
                state: "KA".into(),
                country: "IN".into(),
            },
            base_key_cache_size: 1024,
            base_key_cache_ttl: Duration::from_secs(600),
            certificate_cache_ttl: Duration::from_secs(60),
            codec: Codec::default(),
            actor: "SYSTEM".into(),
            pin_kdf_iterations: keymgr_crypto::password::PIN_KDF_ITERATIONS,
            argon2: keymgr_crypto::password::Argon2Params::MOSIP,
            argon2_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            decryption: DecryptionScope::default(),
            jwe_max_inflated_len: 4 * 1024 * 1024,
            new_pairs: NewPairLimits::default(),
        }
    }
}

/// A key's certificate and validity, as `getCertificate` answers.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// The key's alias.
    pub alias: String,
    /// The certificate.
    pub certificate: Certificate,
    /// When the key was made (`key_gen_dtimes`).
    pub issued_at: UtcTime,
    /// When it expires (`key_expire_dtimes`).
    pub expires_at: UtcTime,
}

/// Counters of one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// Which cache.
    pub name: &'static str,
    /// Entries held now.
    pub entries: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the database or keystore.
    pub misses: u64,
}

/// The outcome of [`KeyManager::health`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The database answered.
    pub database: Result<(), String>,
    /// The keystore answered.
    pub keystore: Result<(), String>,
}

impl Health {
    /// Whether every part is up.
    pub fn is_up(&self) -> bool {
        self.database.is_ok() && self.keystore.is_ok()
    }
}

/// What the key generator job found and made.
#[derive(Debug, Clone, Default)]
pub struct KeygenReport {
    /// Keys that already had a current key.
    pub existing: Vec<(KeyRef, String)>,
    /// Keys made by this run.
    pub created: Vec<(KeyRef, String)>,
}

/// The current key of a pair, as cached.
struct Current {
    alias: KeyAlias,
    certificate: Certificate,
    recipient: Option<Recipient>,
    /// The cache entry is good until the key's rotation instant.
    valid_until: UtcTime,
}

/// The key manager (see the crate docs). Share it between threads; several instances (in one
/// process or on several replicas) may share one database and one keystore.
pub struct KeyManager {
    db: Database,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    config: KeyManagerConfig,
    current: BoundedCache<KeyRef, Arc<Current>>,
    by_thumbprint: BoundedCache<Thumbprint, Vec<KeyAlias>>,
    base_keys: BoundedCache<String, RsaPrivateKey>,
    policies: BoundedCache<AppId, Option<KeyPolicy>>,
    argon2_slots: Slots,
    new_pair_budget: Option<TokenBucket>,
}

/// A counting semaphore for blocking threads: at most `n` holders at once.
struct Slots {
    free: std::sync::Mutex<usize>,
    released: std::sync::Condvar,
}

/// A held slot, given back on drop.
struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Self {
        Self { free: std::sync::Mutex::new(n.max(1)), released: std::sync::Condvar::new() }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.released.notify_one();
    }
}

/// An already-unwrapped data key, handed to the codec after the key manager unwrapped it with
/// its own error handling.
struct Unwrapped(SecretBytes);

impl KeyUnwrapper for Unwrapped {
    fn unwrap_data_key(&self, _: &Thumbprint, _: &[u8]) -> Result<SecretBytes, EnvelopeError> {
        Ok(self.0.clone())
    }
}

/// Where the private key that opens caller bytes is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// A base key: `key_store`, wrapped by its master.
    Database,
    /// A key inside the keystore (only when [`DecryptionScope::keystore_keys`] lists it).
    Keystore,
}

/// `requested` when it names anything (a request's subject fields), else `None`.
fn named(requested: &DistinguishedNameSpec) -> Option<&DistinguishedNameSpec> {
    (requested != &DistinguishedNameSpec::default()).then_some(requested)
}

/// The keys of `aliases` that are current at `now` under pre-expiry `pre`.
fn current_keys(aliases: &[KeyAlias], now: UtcTime, pre: u16) -> Vec<&KeyAlias> {
    aliases.iter().filter(|a| is_current(a, now, pre)).collect()
}

/// `KER-KMS-003` for a pair with `count` current keys where one is needed.
fn not_unique(key_ref: &KeyRef, count: usize) -> KeymgrError {
    KeymgrError::NoUniqueAlias(format!("{count} current keys for {key_ref}"))
}

/// The curve of an EC signing reference (`EC_SECP256R1_SIGN`, `EC_SECP256K1_SIGN`).
fn ec_kind(reference: &RefId) -> Option<AsymmetricKind> {
    match reference.as_str() {
        "EC_SECP256R1_SIGN" => Some(AsymmetricKind::EcP256),
        "EC_SECP256K1_SIGN" => Some(AsymmetricKind::EcSecp256k1),
        _ => None,
    }
}

/// The signature algorithm a key of `reference` signs with (CSRs of HSM keys).
fn signing_algorithm(reference: &RefId) -> SignAlgorithm {
    match ec_kind(reference) {
        Some(AsymmetricKind::EcP256) => SignAlgorithm::Es256,
        Some(AsymmetricKind::EcSecp256k1) => SignAlgorithm::Es256K,
        _ => SignAlgorithm::Rs256,
    }
}

/// MOSIP's `uni_ident` is the uppercase SHA-1 hex of `APP_REF_MM-dd-yyyy`, which collides when a
/// pair gets two keys on one day (reference section 14). The alias is added to the source
/// string, so it is unique and keeps MOSIP's form.
fn unique_ident(key_ref: &KeyRef, at: UtcTime, alias: &str) -> String {
    let date = at.as_offset();
    sha1_hex_upper(
        format!(
            "{}_{}_{:02}-{:02}-{:04}_{alias}",
            key_ref.app,
            key_ref.reference,
            u8::from(date.month()),
            date.day(),
            date.year()
        )
        .as_bytes(),
    )
}

impl KeyManager {
    /// A key manager over `db` and `keystore`, reading time from `clock`.
    pub fn new(
        db: Database,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        config: KeyManagerConfig,
    ) -> Self {
        let cert_ttl = config.certificate_cache_ttl;
        Self {
            current: BoundedCache::new(4096, cert_ttl),
            by_thumbprint: BoundedCache::new(4096, Duration::from_secs(3600)),
            base_keys: BoundedCache::new(config.base_key_cache_size, config.base_key_cache_ttl),
            policies: BoundedCache::new(1024, cert_ttl),
            argon2_slots: Slots::new(config.argon2_concurrency),
            new_pair_budget: config.new_pairs.per_minute.map(TokenBucket::new),
            db,
            keystore,
            clock,
            config,
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The policy of `app`, cached for `certificate_cache_ttl` (MOSIP caches policies for good).
    fn policy(&self, app: &AppId) -> Result<Option<KeyPolicy>, KeymgrError> {
        if let Some(p) = self.policies.get(app) {
            return Ok(p);
        }
        let p = self.db.policy(app)?;
        self.policies.insert(app.clone(), p.clone());
        Ok(p)
    }

    /// Creates or replaces an application's policy and drops the cached copy.
    pub fn set_policy(&self, policy: &KeyPolicy) -> Result<(), KeymgrError> {
        self.db.upsert_policy(policy, &self.config.actor)?;
        self.policies.remove(&policy.app_id);
        Ok(())
    }

    fn active_policy(&self, app: &AppId) -> Result<KeyPolicy, KeymgrError> {
        match self.policy(app)? {
            Some(p) if p.is_active => Ok(p),
            _ => Err(KeymgrError::NoPolicy(app.to_string())),
        }
    }

    fn pre_expire(&self, key_ref: &KeyRef) -> Result<u16, KeymgrError> {
        let app = self.policy(&key_ref.app)?;
        let base = self.policy(&AppId::new(WellKnown::BASE_POLICY_APP)?)?;
        Ok(pre_expire_days(key_ref, app.as_ref(), base.as_ref()))
    }

    fn hsm_certificate(&self, alias: &str) -> Result<Certificate, KeymgrError> {
        let der = self
            .keystore
            .certificate(alias)?
            .ok_or_else(|| KeymgrError::Crypto(format!("no certificate in the keystore for {alias}")))?;
        Ok(Certificate::from_der(&der)?)
    }

    fn certificate_of(&self, alias: &KeyAlias) -> Result<Certificate, KeymgrError> {
        if alias.key_ref.tier().in_hsm() {
            return self.hsm_certificate(&alias.alias);
        }
        let row = self
            .db
            .stored_key(&alias.alias)?
            .ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key_store row for {}", alias.alias)))?;
        Ok(Certificate::from_pem(row.certificate.as_bytes())?)
    }

    fn forget_pair(&self, key_ref: &KeyRef) {
        self.current.remove(key_ref);
        self.by_thumbprint.retain(|_, aliases| aliases.iter().all(|a| &a.key_ref != key_ref));
    }

    /// Caches and returns the current key of `key_ref`, which `alias` is.
    fn remember(
        &self,
        key_ref: &KeyRef,
        alias: KeyAlias,
        certificate: Certificate,
        pre: u16,
    ) -> Arc<Current> {
        let recipient = Recipient::from_certificate(&certificate).ok();
        let valid_until = rotation_instant(&alias, pre).min(alias.expires_at);
        let current = Arc::new(Current { alias, certificate, recipient, valid_until });
        self.current.insert(key_ref.clone(), Arc::clone(&current));
        current
    }

    fn info(current: &Current) -> CertificateInfo {
        CertificateInfo {
            alias: current.alias.alias.clone(),
            certificate: current.certificate.clone(),
            issued_at: current.alias.generated_at,
            expires_at: current.alias.expires_at,
        }
    }

    /// The current ROOT key and certificate (`KER-KMS-011` if there is none).
    fn current_root(&self) -> Result<Arc<Current>, KeymgrError> {
        let root = KeyRef::master(AppId::new(WellKnown::ROOT_APP)?);
        self.current_hsm_key(&root, false)
    }

    /// Generates (or, unless `force`, returns the current) HSM key of a master pair:
    /// ROOT, a module master or `KERNEL`/`SIGN`. MOSIP's `generateMasterKey`.
    pub fn generate_master_key(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
    ) -> Result<CertificateInfo, KeymgrError> {
        self.generate_master_key_named(app, reference, force, &DistinguishedNameSpec::default())
    }

    /// [`Self::generate_master_key`] with the request's subject parts: a key made by this call
    /// takes the non-blank parts of `requested` (its common name as `<cn> (<APP>)`) over the
    /// configured defaults, as MOSIP's request fields do. Without any, a successor takes the DN
    /// of the pair's oldest certificate.
    pub fn generate_master_key_named(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
        requested: &DistinguishedNameSpec,
    ) -> Result<CertificateInfo, KeymgrError> {
        let kernel_sign =
            app.eq_ignore_case(WellKnown::KERNEL_APP) && reference.as_str() == WellKnown::SIGN_REF;
        if !reference.is_master() && !kernel_sign {
            return Err(KeymgrError::RefIdNotSupported(reference.to_string()));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.ensure_hsm_key(&key_ref, force, true, named(requested)).map(|c| Self::info(&c))
    }

    /// Generates (or, unless `force`, returns the current) EC signing key of (app, ref) in the
    /// keystore, certified by ROOT: `EC_SECP256R1_SIGN` (P-256) or `EC_SECP256K1_SIGN`
    /// (secp256k1). MOSIP's `generateECSignKey`; `ED25519_SIGN` is not available in this
    /// version and, like ROOT and other references, is `KER-KMS-030`.
    pub fn generate_ec_sign_key(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
        requested: &DistinguishedNameSpec,
    ) -> Result<CertificateInfo, KeymgrError> {
        if app.eq_ignore_case(WellKnown::ROOT_APP) {
            return Err(KeymgrError::SigningRefNotSupported(format!("{reference} for ROOT")));
        }
        if ec_kind(reference).is_none() {
            return Err(KeymgrError::SigningRefNotSupported(format!(
                "{reference}: use EC_SECP256R1_SIGN or EC_SECP256K1_SIGN (Ed25519 keys are not available in this version)"
            )));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.ensure_hsm_key(&key_ref, force, true, named(requested)).map(|c| Self::info(&c))
    }

    /// The current key of an HSM pair, from the cache or by [`Self::ensure_hsm_key`].
    fn current_hsm_key(&self, key_ref: &KeyRef, allow_first: bool) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
        {
            return Ok(c);
        }
        if key_ref.app.eq_ignore_case(WellKnown::ROOT_APP) && !allow_first {
            // ROOT is renewed lazily like any master, but a missing ROOT is KER-KMS-011.
            return match self.ensure_hsm_key(key_ref, false, false, None) {
                Err(KeymgrError::KeyGenerationNotCompleted(_)) => Err(KeymgrError::RootKeyNotAvailable),
                other => other,
            };
        }
        self.ensure_hsm_key(key_ref, false, allow_first, None)
    }

    fn ensure_hsm_key(
        &self,
        key_ref: &KeyRef,
        force: bool,
        allow_first: bool,
        requested: Option<&DistinguishedNameSpec>,
    ) -> Result<Arc<Current>, KeymgrError> {
        let policy = self.active_policy(&key_ref.app)?;
        let pre = self.pre_expire(key_ref)?;
        if !allow_first && self.db.aliases_for(key_ref)?.is_empty() {
            // Masters are first made by generateMasterKey or the key generator, never lazily.
            return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
        }
        let is_root = key_ref.tier() == KeyTier::Root;
        // The signer is resolved before the pair's lock is taken (never two locks at once).
        let root = if is_root { None } else { Some(self.current_root()?) };
        let result = self.db.with_generation_lock(key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(key_ref)?;
            if force {
                for a in current_keys(&aliases, now, pre) {
                    tx.set_expiry(&a.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                }
            } else {
                match decide(&aliases, now, pre) {
                    Decision::Use(a) => {
                        let cert = self.hsm_certificate(&a.alias)?;
                        return Ok((a, cert));
                    }
                    Decision::Ambiguous(v) => {
                        return Err(not_unique(key_ref, v.len()));
                    }
                    Decision::Generate if aliases.is_empty() && !allow_first => {
                        return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
                    }
                    Decision::Generate => {}
                }
            }
            // A successor carries the DN of the pair's oldest certificate, as MOSIP's do,
            // unless the request names one.
            let name = match requested {
                Some(r) => self.hsm_subject(key_ref, r),
                None => aliases
                    .first()
                    .and_then(|oldest| self.hsm_certificate(&oldest.alias).ok())
                    .and_then(|c| subject_of(&c).ok())
                    .unwrap_or_else(|| self.hsm_subject(key_ref, &DistinguishedNameSpec::default())),
            };
            self.make_hsm_key(tx, key_ref, &policy, pre, root.as_deref(), name, now)
        });
        self.forget_pair(key_ref);
        let (alias, cert) = result?;
        Ok(self.remember(key_ref, alias, cert, pre))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the locked transaction, the pair and its rules, the signer and the name"
    )]
    fn make_hsm_key(
        &self,
        tx: &mut Locked<'_>,
        key_ref: &KeyRef,
        policy: &KeyPolicy,
        pre: u16,
        root: Option<&Current>,
        name: DistinguishedNameSpec,
        now: UtcTime,
    ) -> Result<(KeyAlias, Certificate), KeymgrError> {
        let expiry = new_key_expiry(now, policy, pre, root.map(|r| r.alias.expires_at))?;
        let alias = uuid::Uuid::new_v4().to_string();
        let kind = ec_kind(&key_ref.reference).unwrap_or(AsymmetricKind::Rsa2048);
        let spki = self
            .keystore
            .generate(&alias, KeyKind::Asymmetric(kind))?
            .ok_or_else(|| KeymgrError::Crypto("the keystore returned no public key".into()))?;
        let made = (|| {
            let spec = CertificateSpec {
                subject: name,
                not_before: now,
                not_after: expiry.expires_at,
                profile: if root.is_none() {
                    CertificateProfile::Root
                } else {
                    CertificateProfile::Intermediate
                },
            };
            let (signer_alias, signer_cert, signer_spki) = match root {
                Some(r) => (r.alias.alias.as_str(), Some(&r.certificate), r.certificate.spki_der().to_vec()),
                None => (alias.as_str(), None, spki.clone()),
            };
            let sign = |m: &[u8]| {
                self.keystore
                    .sign(signer_alias, SignAlgorithm::Rs256, m)
                    .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
            };
            let cert = issue_certificate(
                &spec,
                &spki,
                &CertificateIssuer { certificate: signer_cert, public_key_spki: &signer_spki, sign: &sign },
            )?;
            self.keystore.store_certificate(&alias, cert.der())?;
            let record = KeyAlias {
                alias: alias.clone(),
                key_ref: key_ref.clone(),
                generated_at: now,
                expires_at: expiry.expires_at,
                thumbprint: Some(cert.thumbprint()),
                unique_ident: Some(unique_ident(key_ref, now, &alias)),
            };
            tx.insert_key(&NewKey { alias: &record, stored: None, actor: &self.config.actor })?;
            Ok((record, cert))
        })();
        if made.is_err() {
            // Leave no orphan key in the HSM; the transaction rolls the rows back.
            let _ = self.keystore.destroy(&alias);
        }
        made
    }

    /// The current certificate of (app, ref): the master in the HSM for an empty ref (and the
    /// signing refs), else the base key, made on first use. MOSIP's `getCertificate`.
    pub fn get_certificate(&self, app: &AppId, reference: &RefId) -> Result<CertificateInfo, KeymgrError> {
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.current_key(&key_ref).map(|c| Self::info(&c))
    }

    fn current_key(&self, key_ref: &KeyRef) -> Result<Arc<Current>, KeymgrError> {
        if key_ref.tier().in_hsm() {
            self.current_hsm_key(key_ref, false)
        } else {
            self.current_base_key(key_ref)
        }
    }

    fn current_base_key(&self, key_ref: &KeyRef) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
        {
            return Ok(c);
        }
        let app = &key_ref.app;
        let pre = self.pre_expire(key_ref)?;
        // Read without the lock first: the common case is a key that exists. Other domains'
        // certificates (PARTNER, IDA) are read here too; their applications need no policy.
        let existing = self.db.aliases_for(key_ref)?;
        if let Decision::Use(a) = decide(&existing, now, pre) {
            let cert = self.certificate_of(&a)?;
            return Ok(self.remember(key_ref, a, cert, pre));
        }
        for refused in [WellKnown::ROOT_APP, WellKnown::KERNEL_APP, WellKnown::PARTNER_APP] {
            if app.eq_ignore_case(refused) {
                return Err(KeymgrError::GenerationNotAllowed(format!("base keys of {app}")));
            }
        }
        let policy = self.active_policy(app)?;
        if existing.is_empty() {
            self.admit_new_pair(key_ref)?;
        }
        let master = self.current_hsm_key(&KeyRef::master(app.clone()), false)?;
        let result = self.db.with_generation_lock(key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(key_ref)?;
            match decide(&aliases, now, pre) {
                Decision::Use(a) => {
                    // Through the locked connection: a second pooled connection here could
                    // wait on the pool while holding the lock.
                    let row = tx.stored_key(&a.alias)?.ok_or_else(|| {
                        KeymgrError::NoUniqueAlias(format!("no key_store row for {}", a.alias))
                    })?;
                    let cert = Certificate::from_pem(row.certificate.as_bytes())?;
                    return Ok((a, cert));
                }
                Decision::Ambiguous(v) => {
                    return Err(not_unique(key_ref, v.len()));
                }
                Decision::Generate => {}
            }
            for a in &aliases {
                if tx.stored_key(&a.alias)?.is_some_and(|s| s.private_key == StoredKey::NO_PRIVATE_KEY) {
                    return Err(KeymgrError::GenerationNotAllowed(format!(
                        "{key_ref} holds another domain's certificate"
                    )));
                }
            }
            // A successor carries the DN of the pair's oldest certificate; a first key takes
            // CN "<APP>-<REF>" and the other parts from its master's subject (MOSIP).
            let inherited = match aliases.first() {
                Some(oldest) => tx
                    .stored_key(&oldest.alias)?
                    .and_then(|row| Certificate::from_pem(row.certificate.as_bytes()).ok())
                    .and_then(|c| subject_of(&c).ok()),
                None => None,
            };
            let name = inherited.unwrap_or_else(|| self.base_subject(key_ref, &master.certificate));
            self.make_base_key(tx, key_ref, &policy, pre, &master, name, now)
        });
        self.forget_pair(key_ref);
        let (alias, cert) = result?;
        Ok(self.remember(key_ref, alias, cert, pre))
    }

    /// Whether a first key may be made for `key_ref` under [`NewPairLimits`]: its reference
    /// must match its application's pattern (`KER-KMS-010`), and the per-minute budget must
    /// have a token (`KER-KMS-429`).
    fn admit_new_pair(&self, key_ref: &KeyRef) -> Result<(), KeymgrError> {
        let patterns = &self.config.new_pairs.reference_patterns;
        if let Some((_, pattern)) = patterns.iter().find(|(app, _)| app.eq_ignore_case(key_ref.app.as_str()))
            && !pattern.is_match(key_ref.reference.as_str())
        {
            return Err(KeymgrError::RefIdNotSupported(key_ref.reference.to_string()));
        }
        if let Some(budget) = &self.new_pair_budget
            && !budget.try_take()
        {
            return Err(KeymgrError::KeyCreationRateLimited);
        }
        Ok(())
    }

    /// The subject of a new HSM key: MOSIP's common name `<cn> (ROOT)`, `<cn> (<APP>)` or
    /// `<cn> (<APP>-<REF>)`, `<cn>` and the other parts from `requested` where not blank, else
    /// from the configured defaults.
    fn hsm_subject(&self, key_ref: &KeyRef, requested: &DistinguishedNameSpec) -> DistinguishedNameSpec {
        let d = &self.config.default_subject;
        let pick = |r: &String, d: &String| if r.trim().is_empty() { d.clone() } else { r.clone() };
        let cn = pick(&requested.common_name, &d.common_name);
        let common_name = match key_ref.tier() {
            KeyTier::Root => format!("{cn} (ROOT)"),
            _ if key_ref.reference.is_master() => format!("{cn} ({})", key_ref.app),
            _ => format!("{cn} ({}-{})", key_ref.app, key_ref.reference.as_str().to_uppercase()),
        };
        DistinguishedNameSpec {
            common_name,
            organizational_unit: pick(&requested.organizational_unit, &d.organizational_unit),
            organization: pick(&requested.organization, &d.organization),
            locality: pick(&requested.locality, &d.locality),
            state: pick(&requested.state, &d.state),
            country: pick(&requested.country, &d.country),
        }
    }

    /// The subject of a pair's first base key: CN `<APP>-<REF>`, the other parts from the
    /// master's subject, the configured defaults where the master has none.
    fn base_subject(&self, key_ref: &KeyRef, master: &Certificate) -> DistinguishedNameSpec {
        let defaults = &self.config.default_subject;
        let from_master = subject_of(master).unwrap_or_default();
        let pick = |m: String, d: &String| if m.is_empty() { d.clone() } else { m };
        DistinguishedNameSpec {
            common_name: format!("{}-{}", key_ref.app, key_ref.reference),
            organizational_unit: pick(from_master.organizational_unit, &defaults.organizational_unit),
            organization: pick(from_master.organization, &defaults.organization),
            locality: pick(from_master.locality, &defaults.locality),
            state: pick(from_master.state, &defaults.state),
            country: pick(from_master.country, &defaults.country),
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the locked transaction, the pair and its rules, the signer and the name"
    )]
    fn make_base_key(
        &self,
        tx: &mut Locked<'_>,
        key_ref: &KeyRef,
        policy: &KeyPolicy,
        pre: u16,
        master: &Current,
        name: DistinguishedNameSpec,
        now: UtcTime,
    ) -> Result<(KeyAlias, Certificate), KeymgrError> {
        let expiry = new_key_expiry(now, policy, pre, Some(master.alias.expires_at))?;
        let key = RsaPrivateKey::generate_2048()?;
        let public = key.public_key()?;
        let master_public = master.certificate.rsa_public_key()?;
        let wrapped = wrap_private_key_for_store(&key.to_pkcs8_der()?, &master_public)?;
        let spec = CertificateSpec {
            subject: name,
            not_before: now,
            not_after: expiry.expires_at,
            profile: CertificateProfile::Encryption,
        };
        let sign = |m: &[u8]| {
            self.keystore
                .sign(&master.alias.alias, SignAlgorithm::Rs256, m)
                .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
        };
        let cert = issue_certificate(
            &spec,
            public.spki_der(),
            &CertificateIssuer {
                certificate: Some(&master.certificate),
                public_key_spki: master.certificate.spki_der(),
                sign: &sign,
            },
        )?;
        let alias = uuid::Uuid::new_v4().to_string();
        let record = KeyAlias {
            alias: alias.clone(),
            key_ref: key_ref.clone(),
            generated_at: now,
            expires_at: expiry.expires_at,
            thumbprint: Some(cert.thumbprint()),
            unique_ident: Some(unique_ident(key_ref, now, &alias)),
        };
        let stored = StoredKey {
            alias: alias.clone(),
            master_alias: master.alias.alias.clone(),
            private_key: wrapped,
            certificate: cert.to_pem(),
        };
        tx.insert_key(&NewKey { alias: &record, stored: Some(&stored), actor: &self.config.actor })?;
        self.base_keys.insert(alias, key);
        Ok((record, cert))
    }

    /// Expires the current key of a base pair now, so the next request makes a new one.
    /// Masters and `KERNEL`/`SIGN` cannot be revoked. MOSIP's `revokeKey`.
    pub fn revoke_key(&self, app: &AppId, reference: &RefId) -> Result<(), KeymgrError> {
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        if key_ref.tier().in_hsm() {
            return Err(KeymgrError::RevocationNotAllowed(key_ref.to_string()));
        }
        let pre = self.pre_expire(&key_ref)?;
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            let current = current_keys(&aliases, now, pre);
            match current.as_slice() {
                [one] => {
                    tx.set_expiry(&one.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                    Ok(one.alias.clone())
                }
                other => Err(not_unique(&key_ref, other.len())),
            }
        });
        self.forget_pair(&key_ref);
        let revoked = result?;
        self.base_keys.remove(&revoked);
        Ok(())
    }

    /// Seals `data` for the current key of (app, ref). Modes as MOSIP: a salt selects the
    /// caller-salt mode, else an aad the legacy mode, else VER_R2. MOSIP's `/encrypt`.
    pub fn encrypt(
        &self,
        app: &AppId,
        reference: &RefId,
        data: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
    ) -> Result<String, KeymgrError> {
        if data.is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let current = self.encryption_key(app, reference)?;
        let recipient = current.recipient.as_ref().ok_or_else(|| {
            KeymgrError::EncryptNotAllowed("the current certificate is not an RSA-2048 key".into())
        })?;
        let mode = match (salt.filter(|s| !s.is_empty()), aad.filter(|a| !a.is_empty())) {
            (Some(salt), aad) => SealMode::CallerSalt { salt, aad: aad.unwrap_or_default() },
            (None, Some(aad)) => SealMode::Legacy { aad },
            (None, None) => SealMode::VerR2,
        };
        Ok(self.config.codec.seal_text(data, recipient, mode)?)
    }

    /// The current key `/encrypt` seals to: never a master, `KERNEL`/`SIGN` or
    /// `KERNEL`/`IDENTITY_CACHE` (`KER-CRY-011`).
    fn encryption_key(&self, app: &AppId, reference: &RefId) -> Result<Arc<Current>, KeymgrError> {
        if reference.is_master() {
            return Err(KeymgrError::InvalidRequest("referenceId must not be blank".into()));
        }
        if app.eq_ignore_case(WellKnown::KERNEL_APP)
            && (reference.as_str() == WellKnown::SIGN_REF
                || reference.as_str() == WellKnown::IDENTITY_CACHE_REF)
        {
            return Err(KeymgrError::EncryptNotAllowed(format!(
                "{app}/{reference} is not an encryption key"
            )));
        }
        self.current_key(&KeyRef::new(app.clone(), reference.clone()))
    }

    /// Opens an envelope sealed for a key of (app, ref), MOSIP's `/decrypt`: the caller
    /// (`user`, the token's preferred user name) must be allowed by the application's
    /// `access_allowed`; the thumbprint selects the key, which must be a base key of the pair
    /// (or another key [`DecryptionScope`] admits). A key held in the keystore answers as a
    /// key of another pair (`KER-KMS-024`): `key_store` rows are envelopes sealed to masters.
    pub fn decrypt(
        &self,
        app: &AppId,
        reference: &RefId,
        text: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
        user: &str,
    ) -> Result<Plaintext, KeymgrError> {
        self.check_decrypt_access(app, user)?;
        let codec = &self.config.codec;
        let bytes = keymgr_envelope::base64::decode(text, codec.max_envelope_len())?;
        let salt = salt.filter(|s| !s.is_empty());
        let layout = codec.parse(&bytes, salt.is_some())?;
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let (key, holder) = self.decryption_key(&layout.thumbprint, &key_ref)?;
        let wrapped = bytes.get(layout.wrapped_key.clone()).unwrap_or_default();
        let data_key = self.unwrap_data_key(&key, holder, wrapped)?;
        let params = OpenParams { salt, aad: aad.unwrap_or_default() };
        let plain = codec.open(bytes, &Unwrapped(data_key), params)?;
        if holder == Holder::Keystore && keymgr_crypto::is_private_key_info(&plain) {
            return Err(KeymgrError::DecryptNotAllowedWithKey(
                "a keystore key does not open private keys".into(),
            ));
        }
        Ok(plain)
    }

    /// MOSIP's decrypt access rule: the application's `access_allowed` must admit `user`.
    fn check_decrypt_access(&self, app: &AppId, user: &str) -> Result<(), KeymgrError> {
        match self.policy(app)? {
            Some(p) if p.access_allowed.allows(user) => Ok(()),
            _ => Err(KeymgrError::DecryptNotAllowed),
        }
    }

    /// MOSIP's thumbprint lookup: the key with that thumbprint, narrowed to the pair when
    /// several share it, which must be a key of the requested application.
    fn key_for_thumbprint(&self, thumbprint: &Thumbprint, key_ref: &KeyRef) -> Result<KeyAlias, KeymgrError> {
        let aliases = match self.by_thumbprint.get(thumbprint) {
            Some(a) => a,
            None => {
                let found = self.db.aliases_by_thumbprint(thumbprint)?;
                if !found.is_empty() {
                    self.by_thumbprint.insert(*thumbprint, found.clone());
                }
                found
            }
        };
        let chosen = match aliases.as_slice() {
            [] => return Err(KeymgrError::UnknownThumbprint),
            [one] => one.clone(),
            several => {
                let mine: Vec<&KeyAlias> = several.iter().filter(|a| &a.key_ref == key_ref).collect();
                match mine.as_slice() {
                    [one] => (*one).clone(),
                    _ => return Err(KeymgrError::SeveralKeysForThumbprint),
                }
            }
        };
        if chosen.key_ref.app != key_ref.app {
            return Err(KeymgrError::ThumbprintNotForPair);
        }
        Ok(chosen)
    }

    /// The key that opens an envelope sealed to `thumbprint` for a request naming `key_ref`,
    /// and where it is held: a base key of the pair (of the application, with
    /// [`DecryptionScope::same_application`]), or a keystore key listed in
    /// [`DecryptionScope::keystore_keys`]. Anything else is `KER-KMS-024`.
    fn decryption_key(
        &self,
        thumbprint: &Thumbprint,
        key_ref: &KeyRef,
    ) -> Result<(KeyAlias, Holder), KeymgrError> {
        let key = self.key_for_thumbprint(thumbprint, key_ref)?;
        let scope = &self.config.decryption;
        if key.key_ref.tier().in_hsm() {
            return if scope.keystore_keys.contains(&key.key_ref) {
                Ok((key, Holder::Keystore))
            } else {
                Err(KeymgrError::ThumbprintNotForPair)
            };
        }
        self.require_pair(&key, key_ref)?;
        Ok((key, Holder::Database))
    }

    /// A base key opens only for its own pair, or for its application with
    /// [`DecryptionScope::same_application`].
    fn require_pair(&self, key: &KeyAlias, key_ref: &KeyRef) -> Result<(), KeymgrError> {
        if &key.key_ref == key_ref
            || (self.config.decryption.same_application && key.key_ref.app == key_ref.app)
        {
            Ok(())
        } else {
            Err(KeymgrError::ThumbprintNotForPair)
        }
    }

    /// RSA-OAEP-unwraps an envelope's data key with `key`: a base key (from the cache, or from
    /// `key_store` unwrapped by its master in the HSM), or a keystore key that
    /// [`Self::decryption_key`] admitted.
    fn unwrap_data_key(
        &self,
        key: &KeyAlias,
        holder: Holder,
        wrapped: &[u8],
    ) -> Result<SecretBytes, KeymgrError> {
        match holder {
            Holder::Database => {
                self.base_private_key(key)?.oaep_unwrap(wrapped).map_err(|_| KeymgrError::DecryptionFailed)
            }
            Holder::Keystore => self.keystore.rsa_oaep_unwrap(&key.alias, wrapped).map_err(|e| match e {
                keymgr_hsm::HsmError::UnwrapFailed => KeymgrError::DecryptionFailed,
                other => KeymgrError::Keystore(other),
            }),
        }
    }

    /// The private key of a base key, from the cache or unwrapped from its `key_store` row by
    /// its master in the HSM (then cached).
    fn base_private_key(&self, key: &KeyAlias) -> Result<RsaPrivateKey, KeymgrError> {
        if let Some(private) = self.base_keys.get(&key.alias) {
            return Ok(private);
        }
        let row = self
            .db
            .stored_key(&key.alias)?
            .ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key_store row for {}", key.alias)))?;
        if row.private_key == StoredKey::NO_PRIVATE_KEY || row.master_alias == row.alias {
            return Err(KeymgrError::DecryptNotAllowedWithKey("a certificate of another domain".into()));
        }
        let master_cert = self.hsm_certificate(&row.master_alias)?;
        let modulus_len = master_cert.rsa_public_key()?.modulus_len();
        let pkcs8 = unwrap_stored_private_key(&row.private_key, modulus_len, |w| {
            self.keystore.rsa_oaep_unwrap(&row.master_alias, w).map_err(KeymgrError::Keystore)
        })?;
        let private = RsaPrivateKey::from_pkcs8_der(pkcs8.expose())?;
        self.base_keys.insert(key.alias.clone(), private.clone());
        Ok(private)
    }

    /// The key generator job: ROOT, then the master of every application in `apps` (every
    /// application with an active policy but `ROOT` and `BASE` when empty), then
    /// `KERNEL`/`SIGN`. Idempotent: a second run makes nothing.
    pub fn run_keygen(&self, apps: &[AppId]) -> Result<KeygenReport, KeymgrError> {
        let mut targets = vec![KeyRef::master(AppId::new(WellKnown::ROOT_APP)?)];
        let apps: Vec<AppId> = if apps.is_empty() {
            self.db.policies()?.into_iter().filter(|p| p.is_active).map(|p| p.app_id).collect()
        } else {
            apps.to_vec()
        };
        for app in apps {
            if !app.eq_ignore_case(WellKnown::ROOT_APP) && !app.eq_ignore_case(WellKnown::BASE_POLICY_APP) {
                targets.push(KeyRef::master(app));
            }
        }
        targets.push(KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?));
        let mut report = KeygenReport::default();
        for key_ref in targets {
            let now = self.clock.now();
            let pre = self.pre_expire(&key_ref)?;
            let existed = matches!(decide(&self.db.aliases_for(&key_ref)?, now, pre), Decision::Use(_));
            let info = self.generate_master_key(&key_ref.app, &key_ref.reference, false)?;
            if existed {
                report.existing.push((key_ref, info.alias));
            } else {
                report.created.push((key_ref, info.alias));
            }
        }
        Ok(report)
    }

    /// Drops cache entries past their time to live, above all unwrapped base private keys,
    /// so that a key not asked for again leaves memory on time rather than at the next lookup.
    /// The service calls this on a timer; returns how many base keys were dropped.
    pub fn evict_expired(&self) -> usize {
        self.current.evict_expired();
        self.by_thumbprint.evict_expired();
        self.policies.evict_expired();
        self.base_keys.evict_expired()
    }

    /// How many unwrapped base keys are cached (for metrics and tests).
    pub fn cached_base_keys(&self) -> usize {
        self.base_keys.len()
    }

    /// Counters of the caches, for metrics.
    pub fn cache_stats(&self) -> Vec<CacheStats> {
        let stat = |name: &'static str, entries: usize, (hits, misses): (u64, u64)| CacheStats {
            name,
            entries,
            hits,
            misses,
        };
        vec![
            stat("current_certificate", self.current.len(), self.current.hits_and_misses()),
            stat("thumbprint", self.by_thumbprint.len(), self.by_thumbprint.hits_and_misses()),
            stat("base_private_key", self.base_keys.len(), self.base_keys.hits_and_misses()),
            stat("policy", self.policies.len(), self.policies.hits_and_misses()),
        ]
    }

    /// Checks the database and the keystore, as MOSIP's health check does; each part is `Ok`
    /// or a message for the operator.
    pub fn health(&self) -> Health {
        Health {
            database: self.db.health_check().map_err(|e| e.to_string()),
            keystore: self.keystore.health_check().map_err(|e| e.to_string()),
        }
    }

    /// Every key that expires, or reaches its rotation instant, before `now + days`, for
    /// metrics and the operator's report.
    pub fn keys_expiring_within(&self, days: i64) -> Result<Vec<KeyAlias>, KeymgrError> {
        let now = self.clock.now();
        let horizon = now.plus_days(days);
        Ok(self
            .db
            .all_aliases()?
            .into_iter()
            .filter(|a| a.expires_at > now && a.expires_at <= horizon)
            .collect())
    }

    /// The current time of the manager's clock.
    pub fn now(&self) -> UtcTime {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn slots_bound_how_many_hold_at_once() {
        let slots = Arc::new(Slots::new(2));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (slots, now, most) = (Arc::clone(&slots), Arc::clone(&now), Arc::clone(&most));
                std::thread::spawn(move || {
                    let _slot = slots.acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Never more than two at once (how often two overlap depends on the scheduler).
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} held at once");
    }
}
