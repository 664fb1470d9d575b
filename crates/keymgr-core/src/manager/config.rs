//! Configuration of the [`KeyManager`]: its settings and their defaults (MOSIP's where MOSIP
//! has one), which keys may open caller bytes ([`DecryptionScope`]), and the limits on making
//! first keys of new pairs ([`NewPairLimits`]).

use std::time::Duration;

use keymgr_crypto::issue::DistinguishedNameSpec;
use keymgr_envelope::Codec;
use keymgr_model::{AppId, KeyRef};

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
    /// JWS/JWT signing and verification settings.
    pub signing: SigningSettings,
    /// The partner trust store.
    pub partners: PartnerSettings,
    /// How often the service appends a signed audit checkpoint when rows were added (`None`:
    /// never on its own; `keymgr audit checkpoint` still does).
    pub audit_checkpoint_interval: Option<Duration>,
    /// Key lifecycle: retention, how often key states are re-read, rewrap batches.
    pub lifecycle: LifecycleSettings,
    /// Zero-knowledge encryption.
    pub zk: ZkSettings,
    /// Partner token ids (`mosip.kernel.tokenid.*`).
    pub token_ids: TokenIdSettings,
    /// TSP licence keys (`mosip.kernel.licensekey.*`).
    pub licenses: LicenseSettings,
}

/// Settings of TSP licence keys (MOSIP's `mosip.kernel.licensekey.*`).
#[derive(Debug, Clone)]
pub struct LicenseSettings {
    /// `mosip.kernel.licensekey.length`: characters in a key (16).
    pub key_length: usize,
    /// `mosip.kernel.licensekey.permissions`: the permissions a licence may be given; a
    /// mapped permission must equal one of them.
    pub permissions: Vec<String>,
}

impl LicenseSettings {
    /// MOSIP's permissions (`application-local.properties`).
    pub const MOSIP_PERMISSIONS: [&str; 13] = [
        "OTP Trigger",
        "OTP Authentication",
        "Demo Authentication - Identity Data Match",
        "Demo Authentication - Address Data Match",
        "Demo Authentication - Full Address Data Match",
        "Demo Authentication - Secondary Language Match",
        "Biometric Authentication - FMR Data Match",
        "Biometric Authentication - IIR Data Match",
        "Biometric Authentication - FID Data Match",
        "Static Pin Authentication",
        "eKYC - limited",
        "eKYC - Full",
        "eKYC - No",
    ];
}

impl Default for LicenseSettings {
    fn default() -> Self {
        Self {
            key_length: 16,
            permissions: Self::MOSIP_PERMISSIONS.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// Settings of partner token ids (MOSIP's `mosip.kernel.tokenid.*`). Without both salts,
/// `/tokenid` answers `KER-UIG-005`. `Debug` shows whether the salts are set, never their value.
#[derive(Clone)]
pub struct TokenIdSettings {
    /// `mosip.kernel.tokenid.uin.salt`.
    pub uin_salt: Option<String>,
    /// `mosip.kernel.tokenid.partnercode.salt`.
    pub partner_code_salt: Option<String>,
    /// `mosip.kernel.tokenid.length`: digits in a token (36; at most 152).
    pub length: usize,
}

impl Default for TokenIdSettings {
    fn default() -> Self {
        Self { uin_salt: None, partner_code_salt: None, length: 36 }
    }
}

impl std::fmt::Debug for TokenIdSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIdSettings")
            .field("uin_salt", &self.uin_salt.as_ref().map(|_| "<set>"))
            .field("partner_code_salt", &self.partner_code_salt.as_ref().map(|_| "<set>"))
            .field("length", &self.length)
            .finish()
    }
}

/// Settings of zero-knowledge encryption (MOSIP's `mosip.kernel.zkcrypto.*`).
#[derive(Debug, Clone)]
pub struct ZkSettings {
    /// The application and reference of the AES master in the keystore (`masterkey.*`;
    /// KERNEL, IDENTITY_CACHE).
    pub master: (String, String),
    /// The application whose keys the random key is also sealed to (`publickey.application.id`;
    /// IDA).
    pub public_key_app: String,
    /// Its references (`publickey.reference.id`, comma-separated in MOSIP; PUBLIC_KEY).
    pub public_key_references: Vec<String>,
    /// How many random keys the key generator keeps in `data_encrypt_keystore`
    /// (`random.key.generate.count`; 10,000).
    pub random_keys: u32,
}

impl Default for ZkSettings {
    fn default() -> Self {
        Self {
            master: ("KERNEL".into(), "IDENTITY_CACHE".into()),
            public_key_app: "IDA".into(),
            public_key_references: vec!["PUBLIC_KEY".into()],
            random_keys: 10_000,
        }
    }
}

/// Settings of the key lifecycle (`[lifecycle]` in the service's configuration).
#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// Days an expired key is kept before `keymgr retire` may destroy it, for applications
    /// without a row in `keymgr_retention_policy` (default 3650: packets are reprocessed
    /// years after they were sealed).
    pub default_retention_days: u32,
    /// How often a manager checks whether another replica changed a key state (default 2 s);
    /// its own changes apply at once.
    pub state_check_interval: Duration,
    /// Children re-wrapped per transaction during a compromise response (default 200).
    pub rewrap_batch: usize,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self { default_retention_days: 3650, state_check_interval: Duration::from_secs(2), rewrap_batch: 200 }
    }
}

/// The partner certificate manager's settings (MOSIP's `mosip.kernel.partner.*`).
#[derive(Debug, Clone)]
pub struct PartnerSettings {
    /// Partner domains, upper case (`allowed.domains`: AUTH, DEVICE, FTM, TRUST_CA).
    pub allowed_domains: Vec<String>,
    /// A CA certificate must be valid at least this many months more
    /// (`cacertificate.upload.minimumvalidity.month`, 12).
    pub ca_min_validity_months: u32,
    /// Years a re-signed partner certificate is valid (`issuer.certificate.duration.years`, 1).
    pub partner_validity_years: u32,
    /// Days a partner certificate may fall short of that (`allowed.grace.duration`, 30).
    pub partner_grace_days: u32,
    /// Re-sign FTM partners' certificates too (`resign.ftm.domain.certs`, false: FTM partners
    /// get their own trust path back).
    pub resign_ftm_certificates: bool,
    /// The application whose master re-signs partner certificates (`sign.masterkey.application.id`,
    /// PMS).
    pub sign_application: String,
    /// How often a replica asks the database whether a domain's CA certificates changed before
    /// it trusts its cached store again.
    pub store_check_interval: Duration,
}

impl Default for PartnerSettings {
    fn default() -> Self {
        Self {
            allowed_domains: ["AUTH", "DEVICE", "FTM", "TRUST_CA"].map(String::from).to_vec(),
            ca_min_validity_months: 12,
            partner_validity_years: 1,
            partner_grace_days: 30,
            resign_ftm_certificates: false,
            sign_application: "PMS".into(),
            store_check_interval: Duration::from_secs(5),
        }
    }
}

/// How signatures are made and checked (MOSIP's `mosip.kernel.keymanager.jwtsign.*` and
/// `mosip.kernel.keymanager.signature.*` properties).
#[derive(Debug, Clone)]
pub struct SigningSettings {
    /// Put a `kid` in signed headers: the prefix and MOSIP's key id
    /// (`mosip.kernel.keymanager.jwtsign.include.keyid`, true).
    pub include_key_id: bool,
    /// The `kid` prefix (`mosip.kernel.keymanager.signature.kid.prepend`, empty);
    /// `PAYLOAD_ISSUER` takes the payload's `iss` and `#`.
    pub kid_prepend: String,
    /// `/jwtSign` requires JSON data (`mosip.kernel.keymanager.jwtsign.validate.json`, true).
    pub jwt_validate_json: bool,
    /// The algorithm of the deprecated `/sign` (`mosip.kernel.crypto.sign-algorithm-name`,
    /// RS256).
    pub legacy_algorithm: keymgr_jose::jws::JwsAlgorithm,
    /// Longest token `/jwtVerify` reads, in bytes.
    pub max_token_len: usize,
}

impl Default for SigningSettings {
    fn default() -> Self {
        Self {
            include_key_id: true,
            kid_prepend: String::new(),
            jwt_validate_json: true,
            legacy_algorithm: keymgr_jose::jws::JwsAlgorithm::Rs256,
            max_token_len: 16 * 1024 * 1024,
        }
    }
}

/// Which keys may open envelopes (`/decrypt`) and JWEs (`/jwtDecrypt`).
///
/// By default only the base keys of the requested (application, reference) pair do: keys held
/// in the keystore (ROOT, module masters, `KERNEL`/`SIGN`) never open caller bytes, because
/// `key_store` rows are themselves envelopes sealed to the masters, and a master that opens an
/// envelope would hand a base private key to whoever can read the database and holds a
/// decrypt token.
#[derive(Debug, Clone)]
pub struct DecryptionScope {
    /// Any base key of the requested application opens, not only the requested pair's:
    /// MOSIP's rule (reference section 1, step 3). Off by default.
    pub same_application: bool,
    /// Keystore keys that may open envelopes (never JWEs) for requests of their own
    /// application, for deployments whose clients seal to a master certificate. Even then a
    /// plaintext shaped like a PKCS#8 private key is refused.
    pub keystore_keys: Vec<KeyRef>,
    /// How many of the requested pair's newest keys an envelope without a thumbprint
    /// (registration clients before MOSIP 1.1.5) is tried with; every one of them is tried
    /// every time, and one error answers for all. 0 refuses such envelopes as truncated.
    pub thumbprintless_keys: usize,
}

impl DecryptionScope {
    /// [`DecryptionScope::thumbprintless_keys`] by default: the current key and the two
    /// before it, enough for packets sealed before the last two rotations.
    pub const DEFAULT_THUMBPRINTLESS_KEYS: usize = 3;
}

impl Default for DecryptionScope {
    fn default() -> Self {
        Self {
            same_application: false,
            keystore_keys: Vec::new(),
            thumbprintless_keys: Self::DEFAULT_THUMBPRINTLESS_KEYS,
        }
    }
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
            signing: SigningSettings::default(),
            partners: PartnerSettings::default(),
            audit_checkpoint_interval: Some(Duration::from_secs(3600)),
            lifecycle: LifecycleSettings::default(),
            zk: ZkSettings::default(),
            token_ids: TokenIdSettings::default(),
            licenses: LicenseSettings::default(),
        }
    }
}
