//! The audit trail's signed checkpoints and its verification (issue #11). The log itself is a
//! hash chain kept by `keymgr-db`; a hash chain alone takes no secret, so whoever may write the
//! table could rewrite it whole. A checkpoint fixes it: a JWS by `KERNEL`/`SIGN` over the id and
//! hash of the last row, appended as a row of its own under the chain's lock. Rewriting anything
//! before a checkpoint then needs the platform's signing key.

use keymgr_crypto::Certificate;
use keymgr_db::CHECKPOINT_ACTION;
use keymgr_jose::jws::{self, JwsAlgorithm, JwsHeader, VerifyingKey};
use keymgr_model::{AppId, KeyRef, RefId, WellKnown};
use serde_json::json;

use super::KeyManager;
use crate::KeymgrError;

/// The first thing wrong with the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProblem {
    /// The row.
    pub id: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// What verifying the trail found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Chained rows checked.
    pub rows: u64,
    /// Rows from before the log was chained (not checked).
    pub unchained: u64,
    /// The last row's id.
    pub last_id: i64,
    /// Signed checkpoints that verified.
    pub checkpoints: u64,
    /// The first problem, or `None` when the trail is intact.
    pub problem: Option<AuditProblem>,
}

impl KeyManager {
    /// Records one use of an administrative endpoint: who called `endpoint` and how it ended
    /// (`ok` or the error code), in the audit trail.
    pub fn audit_admin_call(&self, who: &str, endpoint: &str, outcome: &str) -> Result<(), KeymgrError> {
        self.db.append_audit(&keymgr_db::AuditEntry {
            time: self.clock.now(),
            actor: who.to_owned(),
            action: "admin_call".into(),
            app_id: None,
            ref_id: None,
            key_alias: None,
            detail: Some(format!("{endpoint}: {outcome}")),
        })?;
        Ok(())
    }

    /// Appends a checkpoint signed by `KERNEL`/`SIGN` (RS256, its certificate named by
    /// `x5t#S256`) over `{"lastId", "lastHash"}` of the row before it.
    pub fn audit_checkpoint(&self) -> Result<(), KeymgrError> {
        let signer = self.signer(None, None)?;
        let header = JwsHeader {
            x5t_s256: Some(jws::x5t_s256(signer.certificate().der())),
            ..JwsHeader::new(JwsAlgorithm::Rs256)
        };
        let sign = |id: i64, hash: &str| {
            let payload = json!({ "lastId": id, "lastHash": hash }).to_string();
            self.sign_jws(&signer, &header, payload.as_bytes(), false).map_err(|e| e.to_string())
        };
        Ok(self.db.append_audit_checkpoint(self.clock.now(), &self.config.actor, sign)?)
    }

    /// Appends a checkpoint when `audit_checkpoint_interval` has passed since this manager's
    /// last one and rows were added since (the service's housekeeping calls this). Returns
    /// whether it did.
    pub fn checkpoint_audit_if_due(&self) -> Result<bool, KeymgrError> {
        let Some(interval) = self.config.audit_checkpoint_interval else { return Ok(false) };
        let mut last = self.last_checkpoint.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|(at, _)| at.elapsed() < interval) {
            return Ok(false);
        }
        let (head, _) = self.db.audit_head()?;
        if last.is_some_and(|(_, id)| id == head) {
            *last = Some((std::time::Instant::now(), head));
            return Ok(false);
        }
        self.audit_checkpoint()?;
        *last = Some((std::time::Instant::now(), self.db.audit_head()?.0));
        Ok(true)
    }

    /// Walks the trail: the hash chain (edited, deleted, inserted or reordered rows, the head),
    /// then every checkpoint: signed by a `KERNEL`/`SIGN` key, over exactly the row before it.
    pub fn verify_audit(&self) -> Result<AuditReport, KeymgrError> {
        let check = self.db.verify_audit_chain()?;
        let mut report = AuditReport {
            rows: check.rows,
            unchained: check.unchained,
            last_id: check.last.0,
            checkpoints: 0,
            problem: check.first_break.map(|b| AuditProblem { id: b.id, reason: b.reason }),
        };
        let sign_key = KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?);
        let mut certificates: Vec<Certificate> = Vec::new();
        for alias in self.db.aliases_for(&sign_key)? {
            certificates.push(self.hsm_certificate(&alias.alias)?);
        }
        for (id, prev_hash, detail) in check.checkpoints {
            let expected = json!({ "lastId": id - 1, "lastHash": prev_hash });
            match checkpoint_holds(&detail, &expected, &certificates) {
                Ok(()) => report.checkpoints += 1,
                Err(reason) => {
                    if report.problem.as_ref().is_none_or(|p| id < p.id) {
                        report.problem =
                            Some(AuditProblem { id, reason: format!("{CHECKPOINT_ACTION}: {reason}") });
                    }
                    break;
                }
            }
        }
        Ok(report)
    }
}

/// Whether `token` is a JWS by one of `certificates` over `expected`.
fn checkpoint_holds(
    token: &str,
    expected: &serde_json::Value,
    certificates: &[Certificate],
) -> Result<(), String> {
    let (_, header) = jws::peek_header(token, 64 * 1024).map_err(|e| format!("not a JWS: {e}"))?;
    let thumbprint = header.get("x5t#S256").and_then(|v| v.as_str()).ok_or("no x5t#S256")?;
    let cert = certificates
        .iter()
        .find(|c| jws::x5t_s256(c.der()) == thumbprint)
        .ok_or("signed by no KERNEL/SIGN certificate of this key manager")?;
    let key = VerifyingKey::from_spki(cert.spki_der()).map_err(|e| e.to_string())?;
    let verified = jws::verify(token, None, &key, 64 * 1024).map_err(|e| e.to_string())?;
    if !verified.signature_valid {
        return Err("the signature does not hold".into());
    }
    let payload: serde_json::Value = serde_json::from_slice(&verified.payload).map_err(|e| e.to_string())?;
    if payload != *expected {
        return Err("it does not sign the row before it".into());
    }
    Ok(())
}
