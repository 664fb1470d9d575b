//! The `KeyManager` and its operations, one module ("room") per capability:
//!
//! * `config`: settings and defaults; `stats`: health, cache counters, expiring keys.
//! * `hierarchy`: ROOT, module masters, `KERNEL`/`SIGN`, EC signing keys, the key generator.
//! * `base_keys`: base keys per (application, reference): lazy generation, rotation,
//!   revocation, the limits on new pairs.
//! * `data`: `/encrypt` and `/decrypt`, the decryption scope.
//! * `certificates`: CSRs, certificate upload, other domains' certificates, lists and chains.
//! * `jwe`: `/jwtEncrypt` and `/jwtDecrypt`; `secrets`: symmetric keys, PIN encryption, Argon2.
//!
//! * `signing`: the signing key choice, JWS/JWT signatures, raw signatures; `verification`:
//!   `/jwtVerify` and `/validate`. Ed25519 signing keys live with the other database keys in
//!   `base_keys`.
//!
//! * `trust_stores`: each partner domain's trust store, cached and kept coherent across
//!   replicas; `partners`: CA and partner certificate uploads, lists and trust paths.
//!
//! * `lifecycle`: key states and transitions; `compromise`: compromise response with the
//!   re-wrap of a master's children and its report; `rewrap`: envelopes re-sealed to a pair's
//!   current key; `retention`: retention periods and retirement; `audit`: checkpoints and
//!   verification of the audit chain; `policies`: governed policy changes.
//!
//! * `zk`: zero-knowledge encryption of identity data; `migration`: keys migrated in from
//!   another deployment (MOSIP's migration job).
//!
//! Each room adds an `impl KeyManager` block in its own file and uses this module's shared
//! helpers.

use std::sync::Arc;
use std::time::Duration;

use keymgr_crypto::issue::DistinguishedNameSpec;
use keymgr_crypto::{AsymmetricKind, Certificate, RsaPrivateKey, SignAlgorithm, SigningKey, sha1_hex_upper};
use keymgr_db::Database;
use keymgr_envelope::Recipient;
use keymgr_hsm::Keystore;
use keymgr_model::{AppId, KeyAlias, KeyPolicy, KeyRef, RefId, Thumbprint, UtcTime, WellKnown};
use keymgr_policy::{is_current, pre_expire_days, rotation_instant};

use crate::cache::BoundedCache;
use crate::{Clock, KeymgrError};

mod audit;
mod base_keys;
mod certificates;
mod client_crypto;
mod compromise;
mod config;
mod data;
mod export;
mod hierarchy;
mod jwe;
mod licenses;
mod lifecycle;
mod migration;
mod overview;
mod partner_queries;
mod partners;
mod pdf_signing;
mod policies;
mod retention;
mod rewrap;
mod secrets;
mod signing;
mod stats;
mod token_ids;
mod trust_stores;
mod verification;
mod zk;

pub use audit::{AuditProblem, AuditReport};
pub use certificates::{CertificateRecord, CsrInfo};
pub use client_crypto::CLIENT_CRYPTO_ALIAS;
pub use compromise::{CompromiseReport, CompromiseRequest, Dependent};
pub use config::{
    DecryptionScope, KeyManagerConfig, LicenseSettings, LifecycleSettings, NewPairLimits, PartnerSettings,
    SigningSettings, TokenIdSettings, ZkSettings,
};
pub use export::{MigrationInventory, OutgoingKey, StayingKey};
pub use hierarchy::KeygenReport;
pub use licenses::MAX_LICENSE_KEY_LEN;
pub use lifecycle::{KeyStatus, dated_state, transition_allowed};
pub use migration::{MAX_ZK_MIGRATE_KEYS, MigratedBaseKey, MigrationStatus};
pub use overview::{MAX_AUDIT_PAGE, Outlook};
pub use partner_queries::{CaCertificateEntry, CaCertificateFilter, CaCertificatePage};
pub use partners::{CaUploadStatus, PartnerUpload, mosip_dn};
pub use pdf_signing::PdfSignRequest;
pub use policies::PolicyChange;
pub use retention::{RetireCandidate, RetireReport};
pub use rewrap::RewrapOutcome;
pub use secrets::{Argon2Hash, SymmetricKeyStatus};
pub use signing::{CertificateInHeader, JwsSignRequest, RawSignature, SignatureEncoding};
pub use stats::{CacheStats, Health};
pub use token_ids::MAX_TOKEN_ID_LEN;
pub use verification::{TrustStatus, VerifyRequest, VerifyResult};
pub use zk::{MAX_ZK_ATTRIBUTES, ZkAttribute, ZkEncrypted, ZkPrepared};

use crate::rate::TokenBucket;
use crate::slots::Slots;
use data::Holder;

/// How far back a revoked or force-replaced key's expiry is set, as MOSIP does.
const EXPIRE_NOW: time::Duration = time::Duration::minutes(1);

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
    signing_keys: BoundedCache<String, Arc<SigningKey>>,
    policies: BoundedCache<AppId, Option<KeyPolicy>>,
    trust_stores: std::sync::Mutex<std::collections::HashMap<String, trust_stores::CachedStore>>,
    /// When this manager last appended an audit checkpoint, and the row it covered.
    last_checkpoint: std::sync::Mutex<Option<(std::time::Instant, i64)>>,
    /// The active ZK random key ids, as last read (see `zk`).
    zk_ids: std::sync::Mutex<zk::ZkIds>,
    /// The stored key states, as last read (see `lifecycle`).
    key_states: std::sync::Mutex<lifecycle::StateCache>,
    argon2_slots: Slots,
    new_pair_budget: Option<TokenBucket>,
}

/// What making a new key of a pair takes, besides the locked transaction and the key that
/// signs its certificate: the pair, its policy and pre-expiry, its subject, and the instant.
struct NewKeyPlan<'a> {
    key_ref: &'a KeyRef,
    policy: &'a KeyPolicy,
    pre: u16,
    name: DistinguishedNameSpec,
    now: UtcTime,
}

impl NewKeyPlan<'_> {
    /// The `key_alias` row of the key `alias` this plan made, certified by `cert`.
    fn alias_record(&self, alias: &str, expires_at: UtcTime, cert: &Certificate) -> KeyAlias {
        KeyAlias {
            alias: alias.to_owned(),
            key_ref: self.key_ref.clone(),
            generated_at: self.now,
            expires_at,
            thumbprint: Some(cert.thumbprint()),
            unique_ident: Some(unique_ident(self.key_ref, self.now, alias)),
        }
    }
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
            signing_keys: BoundedCache::new(config.base_key_cache_size, config.base_key_cache_ttl),
            policies: BoundedCache::new(1024, cert_ttl),
            trust_stores: std::sync::Mutex::new(std::collections::HashMap::new()),
            last_checkpoint: std::sync::Mutex::new(None),
            key_states: std::sync::Mutex::new(lifecycle::StateCache::default()),
            zk_ids: std::sync::Mutex::new(None),
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

    /// The keystore.
    pub fn keystore(&self) -> &Arc<dyn Keystore> {
        &self.keystore
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

    /// The certificate of a keystore key: from the keystore, or, for a destroyed key whose
    /// objects are gone, from its tombstone in `keymgr_key_state`.
    fn hsm_certificate(&self, alias: &str) -> Result<Certificate, KeymgrError> {
        let missing = match self.keystore.certificate(alias) {
            Ok(Some(der)) => return Ok(Certificate::from_der(&der)?),
            Ok(None) => KeymgrError::Crypto(format!("no certificate in the keystore for {alias}")),
            Err(e @ keymgr_hsm::HsmError::NoSuchAlias(_)) => e.into(),
            Err(e) => return Err(e.into()),
        };
        match self.stored_states()?.states.get(alias).and_then(|r| r.certificate.clone()) {
            Some(pem) => Ok(Certificate::from_pem(pem.as_bytes())?),
            None => Err(missing),
        }
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

    /// Drops every in-memory cache (current keys, thumbprints, unwrapped base and signing
    /// keys, policies, trust stores, key states), so that the next requests read the database
    /// and the keystore again: what an operator asks after changing rows by hand (MOSIP's
    /// `/actuator/refresh`). Answers the names of the caches dropped.
    pub fn refresh_caches(&self) -> Vec<&'static str> {
        self.current.retain(|_, _| false);
        self.by_thumbprint.retain(|_, _| false);
        self.base_keys.retain(|_, _| false);
        self.signing_keys.retain(|_, _| false);
        self.policies.retain(|_, _| false);
        self.trust_stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner).expire();
        vec![
            "current keys",
            "thumbprints",
            "base keys",
            "signing keys",
            "policies",
            "trust stores",
            "key states",
        ]
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

    /// The current time of the manager's clock.
    pub fn now(&self) -> UtcTime {
        self.clock.now()
    }
}
