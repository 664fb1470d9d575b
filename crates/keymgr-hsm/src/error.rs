//! The one error type of this crate. No variant carries key material or a PIN.

/// A keystore failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HsmError {
    /// No key is stored under the alias (MOSIP `KER-KMA-004`).
    #[error("no key under alias {0:?}")]
    NoSuchAlias(String),
    /// A key is already stored under the alias.
    #[error("a key already exists under alias {0:?}")]
    AliasExists(String),
    /// The key under the alias is of another kind than the operation needs.
    #[error("the key under alias {alias:?} cannot {operation}")]
    WrongKeyKind {
        /// The alias.
        alias: String,
        /// What was asked of it.
        operation: &'static str,
    },
    /// The PIN is wrong (MOSIP `KER-KMA-007`).
    #[error("wrong keystore PIN")]
    WrongPin,
    /// The keystore file is damaged or not a keystore.
    #[error("keystore file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process has the keystore file open.
    #[error("keystore file {0} is in use by another process")]
    InUse(String),
    /// RSA-OAEP decryption failed; deliberately without detail.
    #[error("RSA-OAEP decryption failed")]
    UnwrapFailed,
    /// The configuration is unusable (no such module, no token with that label, ...),
    /// MOSIP `KER-KMA-001`.
    #[error("keystore configuration: {0}")]
    Config(String),
    /// The token or the file system failed.
    #[error("keystore I/O: {0}")]
    Io(String),
    /// The PKCS#11 module returned an error.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// A cryptographic operation in software failed.
    #[error(transparent)]
    Crypto(#[from] keymgr_crypto::CryptoError),
}
