//! The `KeyManager`: the key hierarchy and its lifecycle, composed from the crates below it
//! (keystore, database, policy engine, crypto, envelope), with MOSIP's behaviour and error
//! codes, as a library other Rust services link.
//!
//! What is here so far: master keys (ROOT self-signed, module masters and `KERNEL`/`SIGN`
//! signed by ROOT, `force` semantics, lazy renewal), base keys made lazily under a
//! cross-replica lock (RSA-2048 in software, wrapped for `key_store` in MOSIP's format,
//! certified by the master in the HSM), `encrypt`/`decrypt` by (app, ref) with MOSIP's
//! thumbprint lookup and access rule, revocation, the key generator job, and bounded caches
//! (current certificate per pair, thumbprint to alias, unwrapped base keys); CSRs, CA-signed
//! certificate upload, other domains' certificates, certificate lists and PKCS#7 chains; HSM
//! symmetric keys, PIN encryption and the Argon2 hash; signing (JWS/JWT, raw signatures,
//! verification) with the key MOSIP's rules choose, Ed25519 signing keys kept in the database.
//! Time comes from an injected [`Clock`].

#![forbid(unsafe_code)]

mod cache;
mod clock;
mod error;
mod manager;
mod observed;
mod rate;
mod slots;
mod stored_key;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::KeymgrError;
/// Re-exported for the REST layer, which depends on core and the model only: request subject
/// fields, token hashing, JWE options.
pub use keymgr_crypto::client_keys::ClientKind;
pub use keymgr_crypto::{ct_eq, fill_random, issue::DistinguishedNameSpec, sha256};
/// Key states, as the lifecycle operations answer them.
/// Rows the operator console shows as stored: CA and partner certificates, audit rows.
pub use keymgr_db::{AuditEntry, CertRecord, ChainedAudit, PartnerCertRecord};
pub use keymgr_jose::JweOptions;
pub use keymgr_jose::jws::JwsAlgorithm;
pub use keymgr_model::KeyState;
pub use keymgr_pdf::Placement;
/// The policy lint's findings, as a governed policy change answers them.
pub use keymgr_policy::{Finding, ForecastItem, Severity};
pub use manager::{
    Argon2Hash, AuditProblem, AuditReport, CLIENT_CRYPTO_ALIAS, CaCertificateEntry, CaCertificateFilter,
    CaCertificatePage, CaUploadStatus, CacheStats, CertificateInHeader, CertificateInfo, CertificateRecord,
    CompromiseReport, CompromiseRequest, CsrInfo, DecryptionScope, Dependent, Health, JwsSignRequest,
    KeyManager, KeyManagerConfig, KeyStatus, KeygenReport, LicenseSettings, LifecycleSettings,
    MAX_AUDIT_PAGE, MAX_LICENSE_KEY_LEN, MAX_TOKEN_ID_LEN, MAX_ZK_ATTRIBUTES, MAX_ZK_MIGRATE_KEYS,
    MigratedBaseKey, MigrationInventory, MigrationStatus, NewPairLimits, OutgoingKey, Outlook,
    PartnerSettings, PartnerUpload, PdfSignRequest, PolicyChange, RawSignature, RetireCandidate,
    RetireReport, RewrapOutcome, SignatureEncoding, SigningSettings, StayingKey, SymmetricKeyStatus,
    TokenIdSettings, TrustStatus, VerifyRequest, VerifyResult, ZkAttribute, ZkEncrypted, ZkPrepared,
    ZkSettings, dated_state, mosip_dn, transition_allowed,
};
pub use observed::{KeystoreObserver, ObservedKeystore};
pub use stored_key::{unwrap_stored_private_key, wrap_private_key_for_store};
