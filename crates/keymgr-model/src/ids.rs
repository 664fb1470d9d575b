//! Identifiers of keys: application id, reference id, the pair, and the tier it implies.

use std::fmt;

use crate::ModelError;

/// Longest `app_id` the MOSIP `key_alias.app_id` column holds.
const APP_ID_MAX: usize = 36;
/// Longest `ref_id` the MOSIP `key_alias.ref_id` column holds.
const REF_ID_MAX: usize = 128;

fn check_chars(field: &'static str, value: &str) -> Result<(), ModelError> {
    if value.chars().any(char::is_control) || value.trim() != value {
        return Err(ModelError::BadCharacter { field });
    }
    Ok(())
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ModelError> {
    let len = value.chars().count();
    if len > max {
        return Err(ModelError::TooLong { field, len, max });
    }
    Ok(())
}

/// `Display` (the id as stored), `Debug` (`Name("...")`) and `FromStr` (through `new`, so
/// parsing validates) for a string newtype id.
macro_rules! text_id_impls {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

/// An application id (`key_alias.app_id`), such as `REGISTRATION` or `ROOT`.
///
/// Non-empty, at most 36 characters, no control characters and no surrounding white space.
/// Compared exactly, as MOSIP stores it; the few MOSIP rules that ignore case use
/// [`AppId::eq_ignore_case`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(String);

impl AppId {
    /// Validates `value` as an application id.
    pub fn new(value: impl Into<String>) -> Result<Self, ModelError> {
        let value = value.into();
        if value.is_empty() {
            return Err(ModelError::EmptyAppId);
        }
        check_len("app_id", &value, APP_ID_MAX)?;
        check_chars("app_id", &value)?;
        Ok(Self(value))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this id equals `other` ignoring ASCII case (MOSIP's rule for `KERNEL`, `ROOT`,
    /// `PARTNER`).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

text_id_impls!(AppId);

/// A reference id (`key_alias.ref_id`), such as `10001_110011` or `SIGN`.
///
/// At most 128 characters, no control characters and no surrounding white space. The empty
/// reference id names the master key of an application.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RefId(String);

impl RefId {
    /// The empty reference id: the application's master key.
    pub const MASTER: RefId = RefId(String::new());

    /// Validates `value` as a reference id.
    pub fn new(value: impl Into<String>) -> Result<Self, ModelError> {
        let value = value.into();
        check_len("ref_id", &value, REF_ID_MAX)?;
        check_chars("ref_id", &value)?;
        Ok(Self(value))
    }

    /// The id as stored (`""` for a master key).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the empty reference id of a master key.
    pub fn is_master(&self) -> bool {
        self.0.is_empty()
    }
}

text_id_impls!(RefId);

/// The identity of a key series: (application id, reference id). At any instant at most one
/// key of a series is current.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    /// The application id.
    pub app: AppId,
    /// The reference id (empty for a master key).
    pub reference: RefId,
}

impl KeyRef {
    /// Makes a key reference from its two parts.
    pub fn new(app: AppId, reference: RefId) -> Self {
        Self { app, reference }
    }

    /// Validates both parts and makes a key reference.
    pub fn parse(app: &str, reference: &str) -> Result<Self, ModelError> {
        Ok(Self::new(AppId::new(app)?, RefId::new(reference)?))
    }

    /// The master key of `app`.
    pub fn master(app: AppId) -> Self {
        Self::new(app, RefId::MASTER)
    }

    /// Where this key sits in the hierarchy, following MOSIP's routing rules.
    pub fn tier(&self) -> KeyTier {
        let app = &self.app;
        let reference = self.reference.as_str();
        if reference.is_empty() {
            if app.eq_ignore_case(WellKnown::ROOT_APP) { KeyTier::Root } else { KeyTier::ModuleMaster }
        } else if reference == WellKnown::ED25519_SIGN_REF {
            KeyTier::DatabaseSigning
        } else if (app.eq_ignore_case(WellKnown::KERNEL_APP) && reference == WellKnown::SIGN_REF)
            || WellKnown::EC_SIGN_REFS.contains(&reference)
        {
            KeyTier::Signing
        } else {
            KeyTier::Base
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {:?})", self.app, self.reference.as_str())
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where a key sits in the hierarchy, which decides where its private key lives and who signs
/// its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTier {
    /// The ROOT key: in the HSM, self-signed.
    Root,
    /// A module master key (APP, ""): in the HSM, signed by ROOT; wraps the module's base keys.
    ModuleMaster,
    /// A platform or EC signing key ((`KERNEL`, `SIGN`), (APP, `EC_SECP256R1_SIGN`), ...): in the
    /// HSM, signed by ROOT.
    Signing,
    /// An Ed25519 signing key (APP, `ED25519_SIGN`): made in software, in the database wrapped
    /// by the module master and certified by it, as MOSIP keeps them (PKCS#11 tokens have no
    /// Ed25519).
    DatabaseSigning,
    /// A base encryption key (APP, REF): in the database wrapped by the module master, signed by
    /// the module master.
    Base,
}

impl KeyTier {
    /// Whether the private key of this tier lives in the HSM (rather than the database).
    pub fn in_hsm(self) -> bool {
        !matches!(self, KeyTier::Base | KeyTier::DatabaseSigning)
    }

    /// Whether keys of this tier sign data (`/jwtSign`, `/signV2`, ...) rather than certify
    /// keys or decrypt.
    pub fn is_signing(self) -> bool {
        matches!(self, KeyTier::Signing | KeyTier::DatabaseSigning)
    }
}

/// The well-known ids MOSIP gives meaning to (reference section 4, "Special ids").
#[derive(Debug, Clone, Copy)]
pub struct WellKnown;

impl WellKnown {
    /// Application id of the ROOT key (`mosip.root.key.applicationid`).
    pub const ROOT_APP: &'static str = "ROOT";
    /// Application id of the platform signing key and the ZK master (`mosip.sign.applicationid`).
    pub const KERNEL_APP: &'static str = "KERNEL";
    /// Reference id of the platform signing key.
    pub const SIGN_REF: &'static str = "SIGN";
    /// Reference id of the zero-knowledge AES master key (under `KERNEL`).
    pub const IDENTITY_CACHE_REF: &'static str = "IDENTITY_CACHE";
    /// Application id whose rows are partner certificates; never generated.
    pub const PARTNER_APP: &'static str = "PARTNER";
    /// Policy-only application id whose `pre_expire_days` applies to base keys.
    pub const BASE_POLICY_APP: &'static str = "BASE";
    /// Reference ids of the EC and Ed25519 signing keys.
    pub const EC_SIGN_REFS: [&'static str; 3] = ["EC_SECP256K1_SIGN", "EC_SECP256R1_SIGN", "ED25519_SIGN"];
    /// Reference id of an application's Ed25519 signing key (kept in the database).
    pub const ED25519_SIGN_REF: &'static str = "ED25519_SIGN";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_limits() {
        assert!(AppId::new("REGISTRATION").is_ok());
        assert_eq!(AppId::new(""), Err(ModelError::EmptyAppId));
        assert!(AppId::new("A".repeat(36)).is_ok());
        assert!(matches!(AppId::new("A".repeat(37)), Err(ModelError::TooLong { max: 36, .. })));
        assert!(matches!(AppId::new("A\nB"), Err(ModelError::BadCharacter { .. })));
        assert!(matches!(AppId::new(" A"), Err(ModelError::BadCharacter { .. })));
        // Length is counted in characters, as the varchar column does.
        assert!(AppId::new("é".repeat(36)).is_ok());
    }

    #[test]
    fn ref_id_limits() {
        assert!(RefId::new("").expect("empty ref is valid").is_master());
        assert!(RefId::new("R".repeat(128)).is_ok());
        assert!(matches!(RefId::new("R".repeat(129)), Err(ModelError::TooLong { max: 128, .. })));
        assert!(matches!(RefId::new("a\u{0}b"), Err(ModelError::BadCharacter { .. })));
    }

    #[test]
    fn tiers_follow_mosip_routing() {
        let tier = |a: &str, r: &str| KeyRef::parse(a, r).map(|k| k.tier());
        assert_eq!(tier("ROOT", ""), Ok(KeyTier::Root));
        assert_eq!(tier("REGISTRATION", ""), Ok(KeyTier::ModuleMaster));
        assert_eq!(tier("KERNEL", "SIGN"), Ok(KeyTier::Signing));
        assert_eq!(tier("ID_REPO", "EC_SECP256R1_SIGN"), Ok(KeyTier::Signing));
        assert_eq!(tier("ID_REPO", "ED25519_SIGN"), Ok(KeyTier::DatabaseSigning));
        assert!(!KeyTier::DatabaseSigning.in_hsm() && KeyTier::DatabaseSigning.is_signing());
        assert_eq!(tier("REGISTRATION", "10001_110011"), Ok(KeyTier::Base));
        assert!(!KeyTier::Base.in_hsm());
        assert!(KeyTier::Root.in_hsm());
    }
}
