//! The records of the MOSIP `key_alias` and `key_policy_def` tables.

use crate::{KeyRef, ModelError, Thumbprint, UtcTime};

/// One key of the hierarchy: a row of `key_alias`.
///
/// The alias (`id`) is a random UUID that also names the key's HSM objects; the validity is
/// what decides whether the key is current (see the policy engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAlias {
    /// The alias, a UUID string (`key_alias.id`).
    pub alias: String,
    /// The key series this key belongs to.
    pub key_ref: KeyRef,
    /// When the key was generated (`key_gen_dtimes`).
    pub generated_at: UtcTime,
    /// When the key stops being current (`key_expire_dtimes`).
    pub expires_at: UtcTime,
    /// SHA-256 of the key's certificate; `None` for symmetric keys.
    pub thumbprint: Option<Thumbprint>,
    /// MOSIP's unique identifier of the key (`uni_ident`); `None` for symmetric keys.
    pub unique_ident: Option<String>,
}

/// Who may decrypt with an application's keys (`key_policy_def.access_allowed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessAllowed {
    /// `NA`: any authenticated caller.
    Anyone,
    /// A comma list of user names, compared ignoring case.
    Users(Vec<String>),
    /// Empty: nobody.
    Nobody,
}

impl AccessAllowed {
    /// Reads the column value as MOSIP does.
    pub fn parse(column: Option<&str>) -> Self {
        match column.map(str::trim) {
            None | Some("") => Self::Nobody,
            Some(v) if v.eq_ignore_ascii_case("NA") => Self::Anyone,
            Some(v) => Self::Users(
                v.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect(),
            ),
        }
    }

    /// Whether the caller with preferred user name `user` may decrypt.
    pub fn allows(&self, user: &str) -> bool {
        match self {
            Self::Anyone => true,
            Self::Nobody => false,
            Self::Users(users) => users.iter().any(|u| u.eq_ignore_ascii_case(user)),
        }
    }

    /// The column value to store.
    pub fn to_column(&self) -> String {
        match self {
            Self::Anyone => "NA".to_owned(),
            Self::Nobody => String::new(),
            Self::Users(users) => users.join(","),
        }
    }
}

/// An application's key policy: a row of `key_policy_def`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The application the policy is for (`app_id`).
    pub app_id: crate::AppId,
    /// How long a new key of the application is valid, in days (`key_validity_duration`).
    pub validity_days: u16,
    /// How many days before expiry a successor is made (`pre_expire_days`).
    pub pre_expire_days: u16,
    /// Whether the policy is in force (`is_active`).
    pub is_active: bool,
    /// Who may decrypt (`access_allowed`).
    pub access_allowed: AccessAllowed,
}

impl KeyPolicy {
    /// Makes a policy from the signed `smallint` columns, refusing negative values.
    pub fn from_columns(
        app_id: crate::AppId,
        validity_days: i16,
        pre_expire_days: i16,
        is_active: bool,
        access_allowed: Option<&str>,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            app_id,
            validity_days: u16::try_from(validity_days)
                .map_err(|_| ModelError::BadPolicy("key_validity_duration is negative"))?,
            pre_expire_days: u16::try_from(pre_expire_days)
                .map_err(|_| ModelError::BadPolicy("pre_expire_days is negative"))?,
            is_active,
            access_allowed: AccessAllowed::parse(access_allowed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppId;

    #[test]
    fn access_allowed_follows_mosip() {
        assert!(AccessAllowed::parse(Some("NA")).allows("anyone"));
        assert!(!AccessAllowed::parse(Some("")).allows("anyone"));
        assert!(!AccessAllowed::parse(None).allows("anyone"));
        let users = AccessAllowed::parse(Some("alice, Bob"));
        assert!(users.allows("ALICE"));
        assert!(users.allows("bob"));
        assert!(!users.allows("carol"));
        assert_eq!(users.to_column(), "alice,Bob");
    }

    #[test]
    fn policy_rejects_negative_columns() {
        let app = AppId::new("REGISTRATION").expect("valid");
        assert!(KeyPolicy::from_columns(app.clone(), 1095, 60, true, Some("NA")).is_ok());
        assert!(KeyPolicy::from_columns(app.clone(), -1, 60, true, None).is_err());
        assert!(KeyPolicy::from_columns(app, 1095, -60, true, None).is_err());
    }
}
