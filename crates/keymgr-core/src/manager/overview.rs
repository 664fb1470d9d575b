//! Read models for operators (the console, reports): the rotation outlook with the policy
//! lint, a policy change's findings before it is saved, the audit trail page by page, the
//! partner certificates and the trust domains, and one key's certificate.

use keymgr_db::{CertRecord, ChainedAudit, PartnerCertRecord};
use keymgr_model::{AppId, KeyAlias, KeyPolicy, KeyRef, UtcTime};
use keymgr_policy::{Finding, ForecastItem, forecast, lint};

use super::lifecycle::dated_state;
use super::{KeyManager, current_keys};
use crate::{KeyStatus, KeymgrError};

/// What rotates or expires within a horizon, and what the policy lint says.
#[derive(Debug, Clone)]
pub struct Outlook {
    /// When the outlook was taken.
    pub now: UtcTime,
    /// Its horizon in days.
    pub horizon_days: u32,
    /// Keys that are current now and rotate or expire within the horizon, soonest first.
    pub forecast: Vec<ForecastItem>,
    /// The lint's findings on the stored policies.
    pub findings: Vec<Finding>,
    /// How many keys there are in all.
    pub keys: usize,
}

/// The most rows one [`KeyManager::audit_trail`] call reads.
pub const MAX_AUDIT_PAGE: i64 = 1000;

impl KeyManager {
    /// The keys that rotate or expire within `horizon_days` and the lint's findings.
    pub fn outlook(&self, horizon_days: u32) -> Result<Outlook, KeymgrError> {
        let keys = self.db.all_aliases()?;
        let policies = self.db.policies()?;
        let now = self.clock.now();
        let items = forecast(&keys, &policies, now, horizon_days);
        let findings = lint(&policies, &apps_of(&keys));
        Ok(Outlook { now, horizon_days, forecast: items, findings, keys: keys.len() })
    }

    /// The findings `policy` would add to the lint if it were saved now (those already there
    /// are left out). Changes nothing; [`Self::change_policy`] refuses the same findings.
    pub fn policy_change_findings(&self, policy: &KeyPolicy) -> Result<Vec<Finding>, KeymgrError> {
        let before = self.db.policies()?;
        let mut after: Vec<KeyPolicy> =
            before.iter().filter(|p| p.app_id != policy.app_id).cloned().collect();
        after.push(policy.clone());
        let apps = apps_of(&self.db.all_aliases()?);
        let old = lint(&before, &apps);
        Ok(lint(&after, &apps)
            .into_iter()
            .filter(|f| !old.iter().any(|o| o.app_id == f.app_id && o.message == f.message))
            .collect())
    }

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) audit rows with ids above `after`, oldest
    /// first.
    pub fn audit_trail(&self, after: i64, limit: i64) -> Result<Vec<ChainedAudit>, KeymgrError> {
        Ok(self.db.audit_rows(after, limit.clamp(1, MAX_AUDIT_PAGE))?)
    }

    /// The id of the audit trail's last row (0 when it is empty).
    pub fn audit_head_id(&self) -> Result<i64, KeymgrError> {
        Ok(self.db.audit_head()?.0)
    }

    /// The partner domains a CA or partner certificate may be uploaded to.
    pub fn trust_domains(&self) -> Vec<String> {
        self.config.partners.allowed_domains.iter().map(|d| d.to_ascii_uppercase()).collect()
    }

    /// Every CA certificate of `domain` (one of [`Self::trust_domains`]).
    pub fn domain_ca_certificates(&self, domain: &str) -> Result<Vec<CertRecord>, KeymgrError> {
        let domain = self.partner_domain(domain)?;
        Ok(self.db.ca_certs(&domain)?)
    }

    /// Up to `limit` partner certificates with ids after `after`, in id order.
    pub fn partner_certificates(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<PartnerCertRecord>, KeymgrError> {
        Ok(self.db.partner_certs_after(after, limit.clamp(1, MAX_AUDIT_PAGE))?)
    }

    /// The keys of `key_ref` that are current now, by the rule every operation uses (dates and
    /// the pair's pre-expiry): the one a revocation expires, the one a rotation replaces.
    pub fn current_keys_of(&self, key_ref: &KeyRef) -> Result<Vec<KeyAlias>, KeymgrError> {
        let pre = self.pre_expire(key_ref)?;
        let aliases = self.db.aliases_for(key_ref)?;
        Ok(current_keys(&aliases, self.clock.now(), pre).into_iter().cloned().collect())
    }

    /// The aliases that are other domains' certificates (no private key anywhere).
    pub fn certificate_only_aliases(&self) -> Result<std::collections::HashSet<String>, KeymgrError> {
        Ok(self.db.certificate_only_aliases()?.into_iter().collect())
    }

    /// The key `alias` and where it stands.
    pub fn key_status(&self, alias: &str) -> Result<KeyStatus, KeymgrError> {
        let key = self.key_by_alias(alias)?;
        let record = self.stored_states()?.states.get(&key.alias).cloned();
        let state = record.as_ref().map_or_else(|| dated_state(&key, self.clock.now()), |r| r.state);
        Ok(KeyStatus { key, state, record })
    }

    /// The certificate of the key `alias` (`None` for a symmetric key).
    pub fn key_certificate(&self, alias: &str) -> Result<Option<keymgr_crypto::Certificate>, KeymgrError> {
        let key = self.key_by_alias(alias)?;
        if key.thumbprint.is_none() {
            return Ok(None);
        }
        self.certificate_of(&key).map(Some)
    }
}

fn apps_of(keys: &[keymgr_model::KeyAlias]) -> Vec<AppId> {
    let mut apps: Vec<AppId> = keys.iter().map(|a| a.key_ref.app.clone()).collect();
    apps.sort();
    apps.dedup();
    apps
}
