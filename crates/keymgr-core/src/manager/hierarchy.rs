//! The keys held in the keystore: ROOT, the module masters, `KERNEL`/`SIGN` and the EC
//! signing keys; their current key under MOSIP's rule, generation (`force` semantics, lazy
//! renewal under the cross-replica lock), the subjects they are named with, and the key
//! generator job that makes them all.

use std::sync::Arc;

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
    subject_of,
};
use keymgr_crypto::{AsymmetricKind, Certificate, SignAlgorithm};
use keymgr_db::{Locked, NewKey};
use keymgr_hsm::KeyKind;
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyTier, RefId, WellKnown};
use keymgr_policy::{Decision, decide, new_key_expiry};

use super::{
    CertificateInfo, Current, EXPIRE_NOW, KeyManager, NewKeyPlan, current_keys, ec_kind, named, not_unique,
};
use crate::KeymgrError;

/// What the key generator job found and made.
#[derive(Debug, Clone, Default)]
pub struct KeygenReport {
    /// Keys that already had a current key.
    pub existing: Vec<(KeyRef, String)>,
    /// Keys made by this run.
    pub created: Vec<(KeyRef, String)>,
}

impl KeyManager {
    /// The current ROOT key and certificate (`KER-KMS-011` if there is none).
    pub(super) fn current_root(&self) -> Result<Arc<Current>, KeymgrError> {
        let root = KeyRef::master(AppId::new(WellKnown::ROOT_APP)?);
        self.current_hsm_key(&root, false)
    }

    /// Generates (or, unless `force`, returns the current) HSM key of a master pair:
    /// ROOT, a module master or `KERNEL`/`SIGN`. MOSIP's `generateMasterKey`.
    pub fn generate_master_key(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
    ) -> Result<CertificateInfo, KeymgrError> {
        self.generate_master_key_named(app, reference, force, &DistinguishedNameSpec::default())
    }

    /// [`Self::generate_master_key`] with the request's subject parts: a key made by this call
    /// takes the non-blank parts of `requested` (its common name as `<cn> (<APP>)`) over the
    /// configured defaults, as MOSIP's request fields do. Without any, a successor takes the DN
    /// of the pair's oldest certificate.
    pub fn generate_master_key_named(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
        requested: &DistinguishedNameSpec,
    ) -> Result<CertificateInfo, KeymgrError> {
        let kernel_sign =
            app.eq_ignore_case(WellKnown::KERNEL_APP) && reference.as_str() == WellKnown::SIGN_REF;
        if !reference.is_master() && !kernel_sign {
            return Err(KeymgrError::RefIdNotSupported(reference.to_string()));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.ensure_hsm_key(&key_ref, force, true, named(requested)).map(|c| Self::info(&c))
    }

    /// Generates (or, unless `force`, returns the current) signing key of (app, ref), MOSIP's
    /// `generateECSignKey`: `EC_SECP256R1_SIGN` (P-256) and `EC_SECP256K1_SIGN` (secp256k1) in
    /// the keystore, certified by ROOT; `ED25519_SIGN` in software, wrapped in the database by
    /// the application's master and certified by it, as MOSIP keeps them. ROOT and other
    /// references are `KER-KMS-030`.
    pub fn generate_ec_sign_key(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
        requested: &DistinguishedNameSpec,
    ) -> Result<CertificateInfo, KeymgrError> {
        if app.eq_ignore_case(WellKnown::ROOT_APP) {
            return Err(KeymgrError::SigningRefNotSupported(format!("{reference} for ROOT")));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        if key_ref.tier() == KeyTier::DatabaseSigning {
            return self
                .ensure_database_signing_key(&key_ref, force, true, named(requested))
                .map(|c| Self::info(&c));
        }
        if ec_kind(reference).is_none() {
            return Err(KeymgrError::SigningRefNotSupported(format!(
                "{reference}: use EC_SECP256R1_SIGN, EC_SECP256K1_SIGN or ED25519_SIGN"
            )));
        }
        self.ensure_hsm_key(&key_ref, force, true, named(requested)).map(|c| Self::info(&c))
    }

    /// The current key of an HSM pair, from the cache or by [`Self::ensure_hsm_key`].
    pub(super) fn current_hsm_key(
        &self,
        key_ref: &KeyRef,
        allow_first: bool,
    ) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
            && self.usable_for_new_data(&c.alias.alias)
        {
            return Ok(c);
        }
        if key_ref.app.eq_ignore_case(WellKnown::ROOT_APP) && !allow_first {
            // ROOT is renewed lazily like any master, but a missing ROOT is KER-KMS-011.
            return match self.ensure_hsm_key(key_ref, false, false, None) {
                Err(KeymgrError::KeyGenerationNotCompleted(_)) => Err(KeymgrError::RootKeyNotAvailable),
                other => other,
            };
        }
        self.ensure_hsm_key(key_ref, false, allow_first, None)
    }

    pub(super) fn ensure_hsm_key(
        &self,
        key_ref: &KeyRef,
        force: bool,
        allow_first: bool,
        requested: Option<&DistinguishedNameSpec>,
    ) -> Result<Arc<Current>, KeymgrError> {
        let policy = self.active_policy(&key_ref.app)?;
        let pre = self.pre_expire(key_ref)?;
        if !allow_first && self.db.aliases_for(key_ref)?.is_empty() {
            // Masters are first made by generateMasterKey or the key generator, never lazily.
            return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
        }
        let is_root = key_ref.tier() == KeyTier::Root;
        // The signer is resolved before the pair's lock is taken (never two locks at once).
        let root = if is_root { None } else { Some(self.current_root()?) };
        let result = self.db.with_generation_lock(key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(key_ref)?;
            if force {
                for a in current_keys(&aliases, now, pre) {
                    tx.set_expiry(&a.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                }
            } else {
                match decide(&aliases, now, pre) {
                    Decision::Use(a) => {
                        let cert = self.hsm_certificate(&a.alias)?;
                        return Ok((a, cert));
                    }
                    Decision::Ambiguous(v) => {
                        return Err(not_unique(key_ref, v.len()));
                    }
                    Decision::Generate if aliases.is_empty() && !allow_first => {
                        return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
                    }
                    Decision::Generate => {}
                }
            }
            // A successor carries the DN of the pair's oldest certificate, as MOSIP's do,
            // unless the request names one.
            let name = match requested {
                Some(r) => self.hsm_subject(key_ref, r),
                None => aliases
                    .first()
                    .and_then(|oldest| self.hsm_certificate(&oldest.alias).ok())
                    .and_then(|c| subject_of(&c).ok())
                    .unwrap_or_else(|| self.hsm_subject(key_ref, &DistinguishedNameSpec::default())),
            };
            let plan = NewKeyPlan { key_ref, policy: &policy, pre, name, now };
            self.make_hsm_key(tx, &plan, root.as_deref())
        });
        self.forget_pair(key_ref);
        let (alias, cert) = result?;
        Ok(self.remember(key_ref, alias, cert, pre))
    }

    /// Makes a key for `plan` in the keystore under the pair's lock, certified by `root` (by
    /// itself when there is none: ROOT). A failure leaves no key in the keystore.
    pub(super) fn make_hsm_key(
        &self,
        tx: &mut Locked<'_>,
        plan: &NewKeyPlan<'_>,
        root: Option<&Current>,
    ) -> Result<(KeyAlias, Certificate), KeymgrError> {
        let NewKeyPlan { key_ref, policy, pre, ref name, now } = *plan;
        let expiry = new_key_expiry(now, policy, pre, root.map(|r| r.alias.expires_at))?;
        let alias = uuid::Uuid::new_v4().to_string();
        let kind = ec_kind(&key_ref.reference).unwrap_or(AsymmetricKind::Rsa2048);
        let spki = self
            .keystore
            .generate(&alias, KeyKind::Asymmetric(kind))?
            .ok_or_else(|| KeymgrError::Crypto("the keystore returned no public key".into()))?;
        let made = (|| {
            let spec = CertificateSpec {
                subject: name.clone(),
                not_before: now,
                not_after: expiry.expires_at,
                profile: match key_ref.tier() {
                    KeyTier::Root => CertificateProfile::Root,
                    // Signing keys never certify: a raw signature of theirs cannot be a
                    // certificate (MOSIP issues them CA certificates).
                    KeyTier::Signing => CertificateProfile::Signing,
                    _ => CertificateProfile::Intermediate,
                },
            };
            let (signer_alias, signer_cert, signer_spki) = match root {
                Some(r) => (r.alias.alias.as_str(), Some(&r.certificate), r.certificate.spki_der().to_vec()),
                None => (alias.as_str(), None, spki.clone()),
            };
            let sign = |m: &[u8]| {
                self.keystore
                    .sign(signer_alias, SignAlgorithm::Rs256, m)
                    .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
            };
            let cert = issue_certificate(
                &spec,
                &spki,
                &CertificateIssuer { certificate: signer_cert, public_key_spki: &signer_spki, sign: &sign },
            )?;
            self.keystore.store_certificate(&alias, cert.der())?;
            let record = plan.alias_record(&alias, expiry.expires_at, &cert);
            tx.insert_key(&NewKey { alias: &record, stored: None, actor: &self.config.actor })?;
            Ok((record, cert))
        })();
        if made.is_err() {
            // Leave no orphan key in the HSM; the transaction rolls the rows back.
            let _ = self.keystore.destroy(&alias);
        }
        made
    }

    /// The subject of a new HSM key: MOSIP's common name `<cn> (ROOT)`, `<cn> (<APP>)` or
    /// `<cn> (<APP>-<REF>)`, `<cn>` and the other parts from `requested` where not blank, else
    /// from the configured defaults.
    pub(super) fn hsm_subject(
        &self,
        key_ref: &KeyRef,
        requested: &DistinguishedNameSpec,
    ) -> DistinguishedNameSpec {
        let d = &self.config.default_subject;
        let pick = |r: &String, d: &String| if r.trim().is_empty() { d.clone() } else { r.clone() };
        let cn = pick(&requested.common_name, &d.common_name);
        let common_name = match key_ref.tier() {
            KeyTier::Root => format!("{cn} (ROOT)"),
            _ if key_ref.reference.is_master() => format!("{cn} ({})", key_ref.app),
            _ => format!("{cn} ({}-{})", key_ref.app, key_ref.reference.as_str().to_uppercase()),
        };
        DistinguishedNameSpec {
            common_name,
            organizational_unit: pick(&requested.organizational_unit, &d.organizational_unit),
            organization: pick(&requested.organization, &d.organization),
            locality: pick(&requested.locality, &d.locality),
            state: pick(&requested.state, &d.state),
            country: pick(&requested.country, &d.country),
        }
    }

    /// The key generator job: ROOT, then the master of every application in `apps` (every
    /// application with an active policy but `ROOT` and `BASE` when empty), then
    /// `KERNEL`/`SIGN`. Idempotent: a second run makes nothing.
    pub fn run_keygen(&self, apps: &[AppId]) -> Result<KeygenReport, KeymgrError> {
        let mut targets = vec![KeyRef::master(AppId::new(WellKnown::ROOT_APP)?)];
        let apps: Vec<AppId> = if apps.is_empty() {
            self.db.policies()?.into_iter().filter(|p| p.is_active).map(|p| p.app_id).collect()
        } else {
            apps.to_vec()
        };
        for app in apps {
            if !app.eq_ignore_case(WellKnown::ROOT_APP) && !app.eq_ignore_case(WellKnown::BASE_POLICY_APP) {
                targets.push(KeyRef::master(app));
            }
        }
        targets.push(KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?));
        let mut report = KeygenReport::default();
        for key_ref in targets {
            let now = self.clock.now();
            let pre = self.pre_expire(&key_ref)?;
            let existed = matches!(decide(&self.db.aliases_for(&key_ref)?, now, pre), Decision::Use(_));
            let info = self.generate_master_key(&key_ref.app, &key_ref.reference, false)?;
            if existed {
                report.existing.push((key_ref, info.alias));
            } else {
                report.created.push((key_ref, info.alias));
            }
        }
        Ok(report)
    }
}
