//! Licence keys of TSPs (MOSIP's `/license/generate` and `/license/permission`): a random key
//! held by a TSP until it expires, and the permissions mapped to it.
//!
//! Unlike MOSIP, keys come from the operating system's CSPRNG (MOSIP uses a non-cryptographic
//! generator), a permission must equal one of the configured permissions exactly (MOSIP accepts
//! any string that contains one), mapping the same permission twice stores it once, and an
//! expired licence takes no new permissions.

use keymgr_crypto::fill_random;
use keymgr_db::{AuditEntry, DbError, License};
use keymgr_model::UtcTime;

use super::KeyManager;
use crate::KeymgrError;

/// What `/license/permission` answers when the permissions are stored (MOSIP's text).
pub const LICENSE_MAPPED_STATUS: &str = "Mapped License with the permissions";
/// Longest licence key: `licensekey_list.license_key` is `varchar(255)`.
pub const MAX_LICENSE_KEY_LEN: usize = 255;
/// Longest TSP id: `tsp_licensekey_map.tsp_id` is `varchar(36)`.
pub const MAX_TSP_ID_LEN: usize = 36;
/// Longest stored permission list: `licensekey_permission.permission` is `varchar(512)`.
pub const MAX_PERMISSIONS_LEN: usize = 512;

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl KeyManager {
    /// Makes a licence key for `tsp_id` that expires at `expires_at` (`KER-LKM-001` for a
    /// blank TSP id, `KER-LKM-008` unless the expiry is ahead of now), stored with its TSP
    /// mapping and an audit row by `actor` in one transaction.
    pub fn generate_license(
        &self,
        tsp_id: &str,
        expires_at: Option<UtcTime>,
        actor: &str,
    ) -> Result<String, KeymgrError> {
        let tsp_id = checked_tsp_id(tsp_id)?;
        let now = self.clock.now();
        let expires_at = expires_at.filter(|t| *t > now).ok_or(KeymgrError::LicenseExpiryNotAhead)?;
        let settings = &self.config.licenses;
        // A collision of 16 random alphanumerics is not expected; one retry covers it.
        for _ in 0..2 {
            let license_key = random_alphanumeric(settings.key_length)?;
            let license = License {
                license_key: license_key.clone(),
                tsp_id: tsp_id.to_owned(),
                created_at: Some(now),
                expires_at: Some(expires_at),
            };
            let entry = AuditEntry {
                time: now,
                actor: actor.to_owned(),
                action: "license_generated".into(),
                app_id: None,
                ref_id: None,
                key_alias: None,
                detail: Some(format!("TSP {tsp_id}, expires {expires_at}")),
            };
            match self.db.insert_license(&license, entry) {
                Ok(()) => return Ok(license_key),
                Err(DbError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(KeymgrError::Crypto("two random licence keys in a row already existed".into()))
    }

    /// Maps `permissions` to the licence `license_key` of `tsp_id`, adding them to those it
    /// has; each must be one of the configured permissions, exactly. Errors: `KER-LKM-001`
    /// blank TSP, `KER-LKM-006` blank key, `KER-LKM-007` no or a blank permission,
    /// `KER-LKM-003` a permission not configured, `KER-LKM-004` no such licence for the TSP,
    /// `KER-LKM-005` an expired licence.
    pub fn map_license_permissions(
        &self,
        tsp_id: &str,
        license_key: &str,
        permissions: &[String],
        actor: &str,
    ) -> Result<&'static str, KeymgrError> {
        let (tsp_id, license_key) = (checked_tsp_id(tsp_id)?, checked_license_key(license_key)?);
        if permissions.is_empty() || permissions.iter().any(|p| p.trim().is_empty()) {
            return Err(KeymgrError::LicensePermissionBlank);
        }
        let allowed = &self.config.licenses.permissions;
        if let Some(unknown) = permissions.iter().find(|p| !allowed.contains(p)) {
            return Err(KeymgrError::LicensePermissionNotAccepted(unknown.clone()));
        }
        let entry = AuditEntry {
            time: self.clock.now(),
            actor: actor.to_owned(),
            action: "license_permissions_mapped".into(),
            app_id: None,
            ref_id: None,
            key_alias: None,
            detail: Some(format!("TSP {tsp_id}: {}", permissions.join(", "))),
        };
        let now = self.clock.now();
        self.db.update_license_permissions(
            tsp_id,
            license_key,
            |license, stored| {
                // Checked under the licence's lock: an expiry or a revocation in between counts.
                if license.expires_at.is_none_or(|t| t <= now) {
                    return Err(KeymgrError::LicenseExpired);
                }
                let mut merged: Vec<&str> =
                    stored.unwrap_or_default().split(',').filter(|p| !p.is_empty()).collect();
                for p in permissions {
                    if !merged.contains(&p.as_str()) {
                        merged.push(p);
                    }
                }
                let joined = merged.join(",");
                if joined.len() > MAX_PERMISSIONS_LEN {
                    return Err(KeymgrError::InvalidRequest(format!(
                        "the licence's permissions would take {} characters; at most {MAX_PERMISSIONS_LEN} fit",
                        joined.len()
                    )));
                }
                Ok(joined)
            },
            entry,
        )
        .map_err(|e| match e {
            KeymgrError::Database(DbError::NotFound { .. }) => KeymgrError::LicenseNotFound,
            other => other,
        })?;
        Ok(LICENSE_MAPPED_STATUS)
    }

    /// The permissions mapped to the licence `license_key` of `tsp_id`, in the order they were
    /// mapped. Errors: `KER-LKM-001`, `KER-LKM-006` blanks, `KER-LKM-004` no such licence for
    /// the TSP, `KER-LKM-005` expired, `KER-LKM-009` no permission mapped.
    pub fn license_permissions(&self, tsp_id: &str, license_key: &str) -> Result<Vec<String>, KeymgrError> {
        let (tsp_id, license_key) = (checked_tsp_id(tsp_id)?, checked_license_key(license_key)?);
        self.live_license(tsp_id, license_key)?;
        let stored = self.db.license_permissions(license_key)?.unwrap_or_default();
        let permissions: Vec<String> =
            stored.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect();
        if permissions.is_empty() {
            return Err(KeymgrError::LicenseNoPermissions);
        }
        Ok(permissions)
    }

    /// The licence, refused when the TSP does not hold it or it has expired.
    fn live_license(&self, tsp_id: &str, license_key: &str) -> Result<License, KeymgrError> {
        let license = self.db.tsp_license(tsp_id, license_key)?.ok_or(KeymgrError::LicenseNotFound)?;
        match license.expires_at {
            Some(t) if t > self.clock.now() => Ok(license),
            _ => Err(KeymgrError::LicenseExpired),
        }
    }
}

fn checked_tsp_id(tsp_id: &str) -> Result<&str, KeymgrError> {
    match tsp_id.trim() {
        "" => Err(KeymgrError::LicenseTspBlank),
        t if t.len() > MAX_TSP_ID_LEN => {
            Err(KeymgrError::InvalidRequest(format!("tspId is longer than {MAX_TSP_ID_LEN} characters")))
        }
        t => Ok(t),
    }
}

fn checked_license_key(license_key: &str) -> Result<&str, KeymgrError> {
    match license_key.trim() {
        "" => Err(KeymgrError::LicenseKeyBlank),
        k if k.len() > MAX_LICENSE_KEY_LEN => Err(KeymgrError::LicenseNotFound),
        k => Ok(k),
    }
}

/// `len` characters drawn uniformly from A-Z, a-z and 0-9 with the operating system's CSPRNG
/// (rejection sampling: bytes of 248 and above, which would favour the first letters, are
/// drawn again).
fn random_alphanumeric(len: usize) -> Result<String, KeymgrError> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill_random(&mut buf)?;
        for &b in &buf {
            if out.len() == len {
                break;
            }
            if usize::from(b) < ALPHANUMERIC.len() * 4 {
                let c = ALPHANUMERIC.get(usize::from(b) % ALPHANUMERIC.len()).copied().unwrap_or(b'A');
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_are_alphanumeric_of_the_length_and_spread_evenly() {
        for len in [0, 1, 16, 100] {
            let key = random_alphanumeric(len).expect("random");
            assert_eq!(key.len(), len);
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        // 62,000 characters: each of the 62 should appear about 1,000 times.
        let many = random_alphanumeric(62_000).expect("random");
        for c in ALPHANUMERIC {
            let n = many.bytes().filter(|b| b == c).count();
            assert!((700..1300).contains(&n), "{} appeared {n} times", char::from(*c));
        }
        assert_ne!(random_alphanumeric(16).expect("random"), random_alphanumeric(16).expect("random"));
    }

    #[test]
    fn identifiers_are_trimmed_and_bounded() {
        assert_eq!(checked_tsp_id("  TSP1 "), Ok("TSP1"));
        assert_eq!(checked_tsp_id(" ").map_err(|e| e.code()), Err("KER-LKM-001"));
        assert_eq!(checked_tsp_id(&"x".repeat(37)).map_err(|e| e.code()), Err("KER-KMS-005"));
        assert_eq!(checked_license_key("").map_err(|e| e.code()), Err("KER-LKM-006"));
        assert_eq!(checked_license_key(&"k".repeat(300)).map_err(|e| e.code()), Err("KER-LKM-004"));
    }
}
