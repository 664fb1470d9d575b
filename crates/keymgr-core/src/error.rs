//! The one error type of this crate, with MOSIP's error codes (reference section 13).

use keymgr_db::DbError;
use keymgr_envelope::EnvelopeError;
use keymgr_hsm::HsmError;
use keymgr_policy::PolicyError;

/// A failed key operation. [`KeymgrError::code`] is the MOSIP error code the REST layer puts
/// in its `errors` list; the message is for a person and carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymgrError {
    /// A request field is missing, blank or malformed (`KER-KMS-005`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The application has no active key policy (`KER-KMS-002`).
    #[error("application {0} not found in key policy")]
    NoPolicy(String),
    /// Zero or several current keys where one is needed (`KER-KMS-003`).
    #[error("no unique alias found: {0}")]
    NoUniqueAlias(String),
    /// The reference id is not allowed for this application and operation (`KER-KMS-010`).
    #[error("reference id {0:?} not supported for this application")]
    RefIdNotSupported(String),
    /// No current ROOT key to sign with (`KER-KMS-011`).
    #[error("root key not available; run the key generator first")]
    RootKeyNotAvailable,
    /// A master key was never generated for the application (`KER-KMS-012`).
    #[error("key generation process not completed for {0}")]
    KeyGenerationNotCompleted(String),
    /// Generating a key for this pair is not allowed (`KER-KMS-016`).
    #[error("not allowed to generate key pair ({0})")]
    GenerationNotAllowed(String),
    /// Decryption with a key that holds no private key (`KER-KMS-018`).
    #[error("decryption is not allowed with this key ({0})")]
    DecryptNotAllowedWithKey(String),
    /// The envelope could not be decrypted (`KER-KMS-019`). Deliberately one answer for a
    /// failed key unwrap, a wrong key length and a failed tag.
    #[error("data could not be decrypted")]
    DecryptionFailed,
    /// `objectType` is neither `CERTIFICATE` nor `CSR` (`KER-KMS-009`).
    #[error("invalid response object type {0:?}: use CERTIFICATE or CSR")]
    InvalidObjectType(String),
    /// A certificate could not be read (`KER-KMS-013`).
    #[error("certificate parsing error: {0}")]
    CertificateParse(String),
    /// An uploaded certificate is not for the key it should certify (`KER-KMS-014`).
    #[error("certificate key is not matching the stored key")]
    CertificateKeyMismatch,
    /// A CSR is not allowed for this pair (`KER-KMS-022`).
    #[error("CSR generation not allowed for {0}")]
    CsrNotAllowed(String),
    /// The reference id names a signing key this operation does not take (`KER-KMS-030`).
    #[error("reference id {0:?} not supported for this operation")]
    SigningRefNotSupported(String),
    /// `KERNEL`/`SIGN` takes no uploaded certificate of another domain (`KER-KMS-031`).
    #[error("uploading a certificate for KERNEL/SIGN is not allowed")]
    KernelSignUploadNotAllowed,
    /// The pair has a key of this service, so no other domain's certificate can take its place
    /// (`KER-KMS-032`).
    #[error("a key of this key manager exists for {0}")]
    OwnKeyExists(String),
    /// The pair's current key has no `key_store` row (`KER-KMS-033`).
    #[error("the other-domain key of {0} is missing")]
    OtherDomainKeyMissing(String),
    /// The pair's current key holds a private key, not another domain's certificate
    /// (`KER-KMS-034`).
    #[error("the current key of {0} holds a private key")]
    PrivateKeyPresent(String),
    /// The same certificate is already the pair's current one (`KER-KMS-035`).
    #[error("the same certificate is already current")]
    SameCertificateExists,
    /// PIN-encrypted data failed authentication: a wrong PIN or damaged data (`KER-FSE-004`).
    #[error("data could not be decrypted with this PIN")]
    PinDecryptionFailed,
    /// Revocation is not allowed for this pair (`KER-KMS-021`).
    #[error("key revocation not allowed for {0}")]
    RevocationNotAllowed(String),
    /// Several keys share the envelope's thumbprint (`KER-KMS-023`).
    #[error("more than one key found for the thumbprint")]
    SeveralKeysForThumbprint,
    /// The envelope's key belongs to another application or reference (`KER-KMS-024`).
    #[error("application id and reference id do not match the key of the thumbprint")]
    ThumbprintNotForPair,
    /// No key has the envelope's thumbprint (`KER-KMS-025`).
    #[error("no key found for the thumbprint")]
    UnknownThumbprint,
    /// Data is not base64, has no splitter, or is cut short (`KER-CRY-003`).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// Data to encrypt is empty (`KER-CRY-004`).
    #[error("data should not be null or empty")]
    EmptyData,
    /// Encryption with a master key or an unsuitable key (`KER-CRY-011`).
    #[error("encryption not allowed: {0}")]
    EncryptNotAllowed(String),
    /// The caller may not decrypt with this application's keys (`KER-CRY-012`).
    #[error("decryption not allowed for this user")]
    DecryptNotAllowed,
    /// JWE data that should be JSON is not (`KER-CRY-013`).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A JWE could not be made (`KER-CRY-014`).
    #[error("JWE encryption failed: {0}")]
    JweEncrypt(String),
    /// A JWE could not be read or decrypted (`KER-CRY-015`); cryptographic failures are one
    /// answer.
    #[error("JWE decryption failed: {0}")]
    JweDecrypt(String),
    /// Too many first keys of new pairs in the last minute (`KER-KMS-429`, ours: MOSIP has no
    /// limit).
    #[error("too many new keys: the key creation limit is reached, try again later")]
    KeyCreationRateLimited,
    /// Signing is not allowed with the key of this application and reference: ROOT, a
    /// reference that is not a signing key, or a raw signature with a key that certifies keys
    /// (`KER-KMS-020`).
    #[error("signing not allowed with this key: {0}")]
    SigningNotAllowed(String),
    /// The signing key's certificate is not valid now (`KER-KMA-005`).
    #[error("the signing certificate is not valid now: {0}")]
    SigningCertificateNotValid(String),
    /// The data to sign is missing or not base64url (`KER-JWS-102`).
    #[error("data to sign is not valid: {0}")]
    InvalidDataToSign(String),
    /// The data to sign is not JSON where JSON is required (`KER-JWS-103`).
    #[error("data to sign is not valid JSON")]
    DataToSignNotJson,
    /// The signature could not be made (`KER-JWS-104`): the algorithm does not suit the key,
    /// or the keystore failed to sign.
    #[error("unable to sign the data: {0}")]
    SignFailed(String),
    /// The token to verify is not a well-formed JWS, or names a refused algorithm
    /// (`KER-JWS-105`).
    #[error("unable to verify the data: {0}")]
    VerifyFailed(String),
    /// The token or certificate to verify with cannot be read (`KER-JWS-106`).
    #[error("signature data to verify is not valid: {0}")]
    InvalidVerifyInput(String),
    /// The certificate to verify with is not valid now (`KER-JWS-107`).
    #[error("signature verification certificate not valid")]
    VerifyCertificateNotValid,
    /// The caller may not sign with the keys of this application (`access_allowed`,
    /// `KER-JWS-108`).
    #[error("signing data not allowed for the authenticated token")]
    SignNotAllowed,
    /// A signature encoding other than `base58btc` and `base64url` (`KER-KMS-036`).
    #[error("unsupported signature encoding {0:?}: use base58btc or base64url")]
    UnsupportedSignatureFormat(String),
    /// The legacy `/validate` found no `KERNEL`/`SIGN` key whose signature holds
    /// (`KER-CSS-101`).
    #[error("validation unsuccessful")]
    SignatureValidationFailed,
    /// An uploaded certificate or bundle that cannot be read, or is blank (`KER-PCM-001`).
    #[error("invalid certificate uploaded: {0}")]
    InvalidCertificate(String),
    /// The certificate is already in the domain's store (`KER-PCM-003`).
    #[error("certificate already exists in the store")]
    CertificateExists,
    /// The certificate is not valid now (`KER-PCM-004`).
    #[error("certificate dates are not valid: {0}")]
    CertificateDatesNotValid(String),
    /// A CA certificate that is not self-signed has no path to a root of its domain
    /// (`KER-PCM-005`).
    #[error("root CA certificate not found: {0}")]
    RootCaNotFound(String),
    /// A partner certificate has no path to a CA of its domain (`KER-PCM-006`).
    #[error("root CA / intermediate CA certificates not found: {0}")]
    TrustPathNotFound(String),
    /// Not an X.509 v3 certificate (`KER-PCM-007`).
    #[error("certificate version not supported: v{0}")]
    CertificateVersion(u32),
    /// The partner certificate's organisation is not the one named (`KER-PCM-008`).
    #[error("partner organization name not matched")]
    OrganizationMismatch,
    /// A blank certificate id (`KER-PCM-010`).
    #[error("invalid certificate id")]
    InvalidCertificateId,
    /// A partner domain that is not allowed (`KER-PCM-011`).
    #[error("invalid partner domain {0:?}")]
    InvalidPartnerDomain(String),
    /// No partner certificate has the id (`KER-PCM-012`).
    #[error("partner certificate not found for the given id")]
    PartnerCertificateNotFound,
    /// A partner RSA key under 2048 bits (`KER-PCM-013`).
    #[error("partner certificate key size is less than allowed size")]
    PartnerKeyTooSmall,
    /// A partner certificate not signed with a SHA-2 algorithm (`KER-PCM-014`).
    #[error("partner certificate signature algorithm {0} not supported")]
    PartnerSignatureAlgorithm(String),
    /// A self-signed certificate offered as a partner's (`KER-PCM-015`).
    #[error("self-signed certificate not allowed as partner")]
    SelfSignedPartner,
    /// The caller may not have certificates re-signed by the PMS master (`KER-PCM-016`).
    #[error("sign certificate not allowed for the authenticated token")]
    PartnerSignNotAllowed,
    /// A CA certificate that expires too soon (`KER-PCM-017`).
    #[error("the CA certificate validity is less than the required minimum of {0} months")]
    CaValidityTooShort(u32),
    /// `caCertificateType` other than ROOT or INTERMEDIATE (`KER-PCM-018`).
    #[error("invalid certificate type {0:?}")]
    InvalidCaType(String),
    /// No CA certificate has the id (`KER-PMS-019`).
    #[error("CA certificate not found for the given id")]
    CaCertificateNotFound,
    /// A certificate whose validity starts after today (`KER-PMS-020`).
    #[error("future dated certificate not allowed to upload")]
    FutureDatedCertificate,
    /// A partner certificate that expires before the re-signed one would (`KER-KMS-021`, as
    /// MOSIP answers it).
    #[error("the partner certificate validity is less than the required minimum ({0} days)")]
    PartnerValidityTooShort(i64),
    /// A policy change the lint finds fault with, not forced (`KER-KMS-422`, ours: MOSIP
    /// has no governed policy changes). The findings are the message.
    #[error("the policy change was refused by the lint (force it with a reason): {0}")]
    PolicyLintFailed(String),
    /// The key that would open the data was compromised; only an operator's recovery
    /// window lets it decrypt (`KER-KMS-423`, ours).
    #[error("the key of this data is compromised; decryption needs an operator's recovery window")]
    KeyCompromised,
    /// The key that would open the data was destroyed by retirement (`KER-KMS-410`, ours).
    #[error("the key of this data was destroyed; the data cannot be opened any more")]
    KeyDestroyed,
    /// A lifecycle transition the key's state does not allow (`KER-KMS-409`, ours).
    #[error("key state transition not allowed: {0}")]
    StateTransitionNotAllowed(String),
    /// The master a new key was to be wrapped by changed state meanwhile; the caller retries
    /// with the current master (`KER-KMS-412`, ours).
    #[error("the master key changed while a key was being made: {0}")]
    MasterChanged(String),
    /// A ZK random key could not be found or unwrapped (`KER-ZKC-001`).
    #[error("failed to encrypt/decrypt the random key: {0}")]
    ZkRandomKey(String),
    /// The ZK master, or a public key the random key is sealed to, is not one current key
    /// (`KER-ZKC-002`).
    #[error("no unique alias is found: {0}")]
    ZkNoUniqueAlias(String),
    /// A ZK request without attributes (`KER-ZKC-003`).
    #[error("data attributes empty")]
    ZkEmptyData,
    /// A ZK value did not open under the key derived for the id (`KER-ZKC-004`): another id,
    /// or a changed byte. One answer for every such failure.
    #[error("data encryption/decryption error")]
    ZkDataCipher,
    /// The resident's key could not be derived (`KER-ZKC-005`).
    #[error("error in key derivation")]
    ZkDerivation,
    /// `zkReEncryptRandomKey` got no part sealed to a key held here (`KER-ZKC-006`).
    #[error("invalid encrypted random key")]
    ZkInvalidRandomKey,
    /// A ZK value that is not base64 or too short to hold ciphertext (`ZK-DEC-001`).
    #[error("invalid encrypted data format: {0}")]
    ZkMalformedValue(String),
    /// `/tokenid` with a blank UIN or partner code (`KER-TIG-010`).
    #[error("UIN and partner code cannot be empty")]
    EmptyUinOrPartnerCode,
    /// `/tokenid` without its salts configured (`KER-UIG-005`).
    #[error("token ids are not configured: set tokenid.uin_salt and tokenid.partner_code_salt")]
    TokenIdsNotConfigured,
    /// A licence request without a TSP id (`KER-LKM-001`).
    #[error("TSP entered is null or empty")]
    LicenseTspBlank,
    /// A permission that is not one of the configured licence permissions (`KER-LKM-003`).
    #[error("permission value entered is not accepted: {0:?}")]
    LicensePermissionNotAccepted(String),
    /// The TSP holds no such licence key (`KER-LKM-004`).
    #[error("license key not found")]
    LicenseNotFound,
    /// The licence key has expired (`KER-LKM-005`).
    #[error("license key expired")]
    LicenseExpired,
    /// A licence request without a licence key (`KER-LKM-006`).
    #[error("license key entered is null or empty")]
    LicenseKeyBlank,
    /// No permission, or a blank one, to map (`KER-LKM-007`).
    #[error("permission entered is an empty string, or no permission was given")]
    LicensePermissionBlank,
    /// A licence expiry that is missing or not ahead of now (`KER-LKM-008`).
    #[error("expiry date-time should be ahead of the current date-time")]
    LicenseExpiryNotAhead,
    /// No permission is mapped to the licence (`KER-LKM-009`).
    #[error("no permissions have been mapped to the entered TSP-license key pair")]
    LicenseNoPermissions,
    /// A client-crypto operation failed: a client key that cannot be read or is not
    /// RSA-2048, a value that does not decrypt (`KER-CC-004`, one answer for all).
    #[error("failed crypto operation: {0}")]
    ClientCrypto(String),
    /// The keystore failed (`KER-KMA-*`).
    #[error("keystore: {0}")]
    Keystore(HsmError),
    /// The database failed (`KER-KMS-500`).
    #[error("database: {0}")]
    Database(DbError),
    /// A stored key or certificate is damaged (`KER-KMS-007`).
    #[error("crypto library error: {0}")]
    Crypto(String),
}

impl KeymgrError {
    /// The MOSIP error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "KER-KMS-005",
            Self::NoPolicy(_) => "KER-KMS-002",
            Self::NoUniqueAlias(_) => "KER-KMS-003",
            Self::RefIdNotSupported(_) => "KER-KMS-010",
            Self::RootKeyNotAvailable => "KER-KMS-011",
            Self::KeyGenerationNotCompleted(_) => "KER-KMS-012",
            Self::GenerationNotAllowed(_) => "KER-KMS-016",
            Self::DecryptNotAllowedWithKey(_) => "KER-KMS-018",
            Self::DecryptionFailed => "KER-KMS-019",
            Self::InvalidObjectType(_) => "KER-KMS-009",
            Self::CertificateParse(_) => "KER-KMS-013",
            Self::CertificateKeyMismatch => "KER-KMS-014",
            Self::CsrNotAllowed(_) => "KER-KMS-022",
            Self::SigningRefNotSupported(_) => "KER-KMS-030",
            Self::KernelSignUploadNotAllowed => "KER-KMS-031",
            Self::OwnKeyExists(_) => "KER-KMS-032",
            Self::OtherDomainKeyMissing(_) => "KER-KMS-033",
            Self::PrivateKeyPresent(_) => "KER-KMS-034",
            Self::SameCertificateExists => "KER-KMS-035",
            Self::PinDecryptionFailed => "KER-FSE-004",
            Self::RevocationNotAllowed(_) => "KER-KMS-021",
            Self::SeveralKeysForThumbprint => "KER-KMS-023",
            Self::ThumbprintNotForPair => "KER-KMS-024",
            Self::UnknownThumbprint => "KER-KMS-025",
            Self::KeyCreationRateLimited => "KER-KMS-429",
            Self::InvalidData(_) => "KER-CRY-003",
            Self::EmptyData => "KER-CRY-004",
            Self::EncryptNotAllowed(_) => "KER-CRY-011",
            Self::DecryptNotAllowed => "KER-CRY-012",
            Self::InvalidJson(_) => "KER-CRY-013",
            Self::JweEncrypt(_) => "KER-CRY-014",
            Self::JweDecrypt(_) => "KER-CRY-015",
            Self::SigningNotAllowed(_) => "KER-KMS-020",
            Self::SigningCertificateNotValid(_) => "KER-KMA-005",
            Self::InvalidDataToSign(_) => "KER-JWS-102",
            Self::DataToSignNotJson => "KER-JWS-103",
            Self::SignFailed(_) => "KER-JWS-104",
            Self::VerifyFailed(_) => "KER-JWS-105",
            Self::InvalidVerifyInput(_) => "KER-JWS-106",
            Self::VerifyCertificateNotValid => "KER-JWS-107",
            Self::SignNotAllowed => "KER-JWS-108",
            Self::UnsupportedSignatureFormat(_) => "KER-KMS-036",
            Self::SignatureValidationFailed => "KER-CSS-101",
            Self::PolicyLintFailed(_) => "KER-KMS-422",
            Self::KeyCompromised => "KER-KMS-423",
            Self::KeyDestroyed => "KER-KMS-410",
            Self::StateTransitionNotAllowed(_) => "KER-KMS-409",
            Self::MasterChanged(_) => "KER-KMS-412",
            Self::ZkRandomKey(_) => "KER-ZKC-001",
            Self::ZkNoUniqueAlias(_) => "KER-ZKC-002",
            Self::ZkEmptyData => "KER-ZKC-003",
            Self::EmptyUinOrPartnerCode => "KER-TIG-010",
            Self::TokenIdsNotConfigured => "KER-UIG-005",
            Self::ClientCrypto(_) => "KER-CC-004",
            Self::LicenseTspBlank => "KER-LKM-001",
            Self::LicensePermissionNotAccepted(_) => "KER-LKM-003",
            Self::LicenseNotFound => "KER-LKM-004",
            Self::LicenseExpired => "KER-LKM-005",
            Self::LicenseKeyBlank => "KER-LKM-006",
            Self::LicensePermissionBlank => "KER-LKM-007",
            Self::LicenseExpiryNotAhead => "KER-LKM-008",
            Self::LicenseNoPermissions => "KER-LKM-009",
            Self::ZkDataCipher => "KER-ZKC-004",
            Self::ZkDerivation => "KER-ZKC-005",
            Self::ZkInvalidRandomKey => "KER-ZKC-006",
            Self::ZkMalformedValue(_) => "ZK-DEC-001",
            Self::InvalidCertificate(_) => "KER-PCM-001",
            Self::CertificateExists => "KER-PCM-003",
            Self::CertificateDatesNotValid(_) => "KER-PCM-004",
            Self::RootCaNotFound(_) => "KER-PCM-005",
            Self::TrustPathNotFound(_) => "KER-PCM-006",
            Self::CertificateVersion(_) => "KER-PCM-007",
            Self::OrganizationMismatch => "KER-PCM-008",
            Self::InvalidCertificateId => "KER-PCM-010",
            Self::InvalidPartnerDomain(_) => "KER-PCM-011",
            Self::PartnerCertificateNotFound => "KER-PCM-012",
            Self::PartnerKeyTooSmall => "KER-PCM-013",
            Self::PartnerSignatureAlgorithm(_) => "KER-PCM-014",
            Self::SelfSignedPartner => "KER-PCM-015",
            Self::PartnerSignNotAllowed => "KER-PCM-016",
            Self::CaValidityTooShort(_) => "KER-PCM-017",
            Self::InvalidCaType(_) => "KER-PCM-018",
            Self::CaCertificateNotFound => "KER-PMS-019",
            Self::FutureDatedCertificate => "KER-PMS-020",
            Self::PartnerValidityTooShort(_) => "KER-KMS-021",
            Self::Keystore(HsmError::NoSuchAlias(_)) => "KER-KMA-004",
            Self::Keystore(HsmError::WrongPin) => "KER-KMA-007",
            Self::Keystore(HsmError::Config(_)) => "KER-KMA-001",
            Self::Keystore(_) => "KER-KMA-003",
            Self::Database(_) => "KER-KMS-500",
            Self::Crypto(_) => "KER-KMS-007",
        }
    }
}

impl From<HsmError> for KeymgrError {
    fn from(e: HsmError) -> Self {
        Self::Keystore(e)
    }
}

impl From<DbError> for KeymgrError {
    fn from(e: DbError) -> Self {
        Self::Database(e)
    }
}

impl From<keymgr_crypto::CryptoError> for KeymgrError {
    fn from(e: keymgr_crypto::CryptoError) -> Self {
        Self::Crypto(e.to_string())
    }
}

impl From<keymgr_model::ModelError> for KeymgrError {
    fn from(e: keymgr_model::ModelError) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

impl From<PolicyError> for KeymgrError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::NoPolicy(app) => Self::NoPolicy(app),
            other => Self::NoUniqueAlias(other.to_string()),
        }
    }
}

impl From<EnvelopeError> for KeymgrError {
    /// Structural faults are the caller's data; cryptographic ones are one answer.
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::EmptyInput => Self::EmptyData,
            EnvelopeError::ThumbprintMismatch(_) => Self::UnknownThumbprint,
            EnvelopeError::KeyUnwrapFailed
            | EnvelopeError::BadDataKeyLength(_)
            | EnvelopeError::AuthFailed => Self::DecryptionFailed,
            EnvelopeError::Crypto(c) => Self::Crypto(c.to_string()),
            // Only the streaming codec reads and writes; the service opens whole buffers.
            EnvelopeError::Io(why) => Self::Crypto(format!("envelope stream: {why}")),
            other => Self::InvalidData(other.to_string()),
        }
    }
}
