//! Governed policy changes (issue #11): a policy changes only through
//! [`KeyManager::change_policy`] (the admin endpoint and `keymgr policy set`), which runs the
//! policy lint on the policies as they would be and refuses a change that adds findings unless
//! it is forced with a reason; the change, its before and after, and the reason are audited in
//! the same transaction.

use keymgr_model::KeyPolicy;
use keymgr_policy::{Finding, Severity};

use super::KeyManager;
use crate::KeymgrError;

/// What a policy change did.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    /// The findings the change adds (empty when the lint is content; present when forced).
    pub findings: Vec<Finding>,
}

impl KeyManager {
    /// Every application's policy, as stored.
    pub fn policies(&self) -> Result<Vec<KeyPolicy>, KeymgrError> {
        Ok(self.db.policies()?)
    }

    /// Sets `policy` as `actor`: the lint's findings on the policies as they would be, less
    /// those already there, refuse it (`KER-KMS-422`) unless `force_reason` says why it is
    /// wanted anyway. Audited with before, after and the reason.
    pub fn change_policy(
        &self,
        policy: &KeyPolicy,
        actor: &str,
        force_reason: Option<&str>,
    ) -> Result<PolicyChange, KeymgrError> {
        let findings = self.policy_change_findings(policy)?;
        let reason = force_reason.map(str::trim).filter(|r| !r.is_empty());
        if !findings.is_empty() && reason.is_none() {
            let text = findings
                .iter()
                .map(|f| {
                    let level = if f.severity == Severity::Error { "error" } else { "warning" };
                    format!("{level}: {}: {}", f.app_id, f.message)
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(KeymgrError::PolicyLintFailed(text));
        }
        let note = reason.map(|r| {
            format!("forced over {} findings: {}", findings.len(), r.chars().take(500).collect::<String>())
        });
        self.db.upsert_policy_noted(policy, actor, note.as_deref())?;
        self.policies.remove(&policy.app_id);
        Ok(PolicyChange { findings })
    }
}
