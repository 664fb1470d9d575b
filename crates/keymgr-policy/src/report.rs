//! The forecast of rotations and the lint of policies.

use keymgr_model::{AppId, KeyAlias, KeyPolicy, KeyRef, UtcTime, WellKnown};

use crate::{Decision, decide, pre_expire_days, rotation_instant};

/// A key that expires or rotates within the forecast's horizon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastItem {
    /// The key.
    pub alias: String,
    /// Its pair.
    pub key_ref: KeyRef,
    /// When it stops being current and a successor is made: the successor is made lazily, by
    /// the first request for the pair at or after this instant (MOSIP has no scheduler), or by
    /// the key generator job.
    pub rotates_at: UtcTime,
    /// When it expires.
    pub expires_at: UtcTime,
    /// The pre-expiry that applies to it, in days.
    pub pre_expire_days: u16,
}

fn policy_of<'a>(policies: &'a [KeyPolicy], app: &str) -> Option<&'a KeyPolicy> {
    policies.iter().find(|p| p.app_id.as_str() == app && p.is_active)
}

/// Every key that is current at `now` and rotates or expires within `horizon_days`, soonest
/// rotation first. `keys` may hold many pairs.
pub fn forecast(
    keys: &[KeyAlias],
    policies: &[KeyPolicy],
    now: UtcTime,
    horizon_days: u32,
) -> Vec<ForecastItem> {
    let horizon = now.plus_days(i64::from(horizon_days));
    let base = policy_of(policies, WellKnown::BASE_POLICY_APP);
    let mut pairs: Vec<&KeyRef> = keys.iter().map(|k| &k.key_ref).collect();
    pairs.sort();
    pairs.dedup();
    let mut items = Vec::new();
    for pair in pairs {
        let pre = pre_expire_days(pair, policy_of(policies, pair.app.as_str()), base);
        let of_pair: Vec<KeyAlias> = keys.iter().filter(|k| &k.key_ref == pair).cloned().collect();
        if let Decision::Use(current) = decide(&of_pair, now, pre) {
            let rotates_at = rotation_instant(&current, pre);
            if rotates_at <= horizon || current.expires_at <= horizon {
                items.push(ForecastItem {
                    alias: current.alias.clone(),
                    key_ref: current.key_ref.clone(),
                    rotates_at,
                    expires_at: current.expires_at,
                    pre_expire_days: pre,
                });
            }
        }
    }
    items.sort_by(|a, b| a.rotates_at.cmp(&b.rotates_at).then_with(|| a.alias.cmp(&b.alias)));
    items
}

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Works, but probably not as meant.
    Warning,
    /// Will fail or churn keys.
    Error,
}

/// One problem found in the policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// The application concerned.
    pub app_id: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Checks the policies, given the applications that have keys (`apps_in_use`):
/// pre-expiry not shorter than validity, a module valid longer than ROOT (its keys get clamped),
/// an application whose masters rotate later than its base keys would, and an application in
/// use with no policy or an inactive one.
pub fn lint(policies: &[KeyPolicy], apps_in_use: &[AppId]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut add = |severity, app: &str, message: String| {
        findings.push(Finding { severity, app_id: app.to_owned(), message });
    };
    let root = policy_of(policies, WellKnown::ROOT_APP);
    let base = policy_of(policies, WellKnown::BASE_POLICY_APP);
    for p in policies {
        let app = p.app_id.as_str();
        if p.validity_days == 0 {
            add(
                Severity::Error,
                app,
                "key_validity_duration is 0 days: every key expires as it is made".into(),
            );
        } else if p.pre_expire_days >= p.validity_days && app != WellKnown::BASE_POLICY_APP {
            add(
                Severity::Error,
                app,
                format!(
                    "pre_expire_days ({}) is not shorter than key_validity_duration ({}): keys rotate as soon as they are made",
                    p.pre_expire_days, p.validity_days
                ),
            );
        }
        let is_module = app != WellKnown::ROOT_APP && app != WellKnown::BASE_POLICY_APP;
        if let (Some(root), true) = (root, is_module)
            && p.validity_days > root.validity_days
        {
            add(
                Severity::Warning,
                app,
                format!(
                    "keys are valid {} days, longer than ROOT's {}: they will be clamped to the expiry of the ROOT certificate that signs them",
                    p.validity_days, root.validity_days
                ),
            );
        }
        if let (Some(base), true) = (base, is_module)
            && p.pre_expire_days < base.pre_expire_days
        {
            add(
                Severity::Warning,
                app,
                format!(
                    "the master rotates {} days before expiry, later than base keys' {} days: base keys made late in the master's life get short, clamped lives",
                    p.pre_expire_days, base.pre_expire_days
                ),
            );
        }
    }
    for app in apps_in_use {
        match policies.iter().find(|p| &p.app_id == app) {
            None => add(
                Severity::Error,
                app.as_str(),
                "has keys but no key policy: no key can be made or rotated (KER-KMS-002)".into(),
            ),
            Some(p) if !p.is_active => add(
                Severity::Error,
                app.as_str(),
                "has keys but its key policy is inactive: no key can be made or rotated".into(),
            ),
            Some(_) => {}
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.app_id.cmp(&b.app_id)));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_model::AccessAllowed;

    fn t(days: i64) -> UtcTime {
        UtcTime::from_unix_millis(1_700_000_000_000 + days * 86_400_000).expect("in range")
    }

    fn policy(app: &str, validity: u16, pre: u16) -> KeyPolicy {
        KeyPolicy {
            app_id: AppId::new(app).expect("valid"),
            validity_days: validity,
            pre_expire_days: pre,
            is_active: true,
            access_allowed: AccessAllowed::Anyone,
        }
    }

    fn key(app: &str, reference: &str, generated: i64, expires: i64) -> KeyAlias {
        KeyAlias {
            alias: format!("{app}-{reference}-{generated}"),
            key_ref: KeyRef::parse(app, reference).expect("valid"),
            generated_at: t(generated),
            expires_at: t(expires),
            thumbprint: None,
            unique_ident: None,
        }
    }

    #[test]
    fn forecast_lists_rotations_within_the_horizon() {
        let policies =
            [policy("REGISTRATION", 1095, 60), policy("BASE", 730, 30), policy("ROOT", 2920, 1125)];
        let keys = [
            key("REGISTRATION", "", 0, 1095),
            key("REGISTRATION", "10001", 0, 730),
            key("ROOT", "", 0, 2920),
            key("REGISTRATION", "old", -800, -70),
        ];
        let items = forecast(&keys, &policies, t(650), 60);
        let names: Vec<&str> = items.iter().map(|i| i.alias.as_str()).collect();
        assert_eq!(
            names,
            ["REGISTRATION-10001-0"],
            "base key rotates at day 700; master at 1035 and ROOT at 1795 are beyond"
        );
        assert_eq!(items[0].rotates_at, t(700));
        assert_eq!(items[0].pre_expire_days, 30);
        let later = forecast(&keys, &policies, t(650), 400);
        assert_eq!(later.len(), 2);
        assert_eq!(later[1].alias, "REGISTRATION--0");
    }

    #[test]
    fn lint_finds_what_will_misbehave() {
        let policies = [
            policy("ROOT", 2920, 1125),
            policy("BASE", 730, 30),
            policy("REGISTRATION", 1095, 60),
            policy("LONG", 4000, 60),
            policy("CHURN", 30, 30),
            policy("LATE", 1095, 10),
            KeyPolicy { is_active: false, ..policy("SLEEPY", 1095, 60) },
        ];
        let in_use = [
            AppId::new("REGISTRATION").expect("v"),
            AppId::new("IDA").expect("v"),
            AppId::new("SLEEPY").expect("v"),
        ];
        let findings = lint(&policies, &in_use);
        let has = |app: &str, sev: Severity, word: &str| {
            findings.iter().any(|f| f.app_id == app && f.severity == sev && f.message.contains(word))
        };
        assert!(has("CHURN", Severity::Error, "not shorter"));
        assert!(has("LONG", Severity::Warning, "longer than ROOT"));
        assert!(has("LATE", Severity::Warning, "later than base keys"));
        assert!(has("IDA", Severity::Error, "no key policy"));
        assert!(has("SLEEPY", Severity::Error, "inactive"));
        assert!(!findings.iter().any(|f| f.app_id == "REGISTRATION" || f.app_id == "ROOT"), "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Error, "errors first");
        // MOSIP's seed policies are clean.
        let seed = [
            policy("ROOT", 2920, 1125),
            policy("BASE", 730, 30),
            policy("PMS", 1460, 395),
            policy("KERNEL", 1095, 60),
        ];
        assert!(lint(&seed, &[]).is_empty());
    }
}
