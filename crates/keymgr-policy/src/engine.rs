//! Which key is current, when to make one, how long a new one lives.

use keymgr_model::{KeyAlias, KeyPolicy, KeyRef, UtcTime, WellKnown};
use time::Duration;

use crate::PolicyError;

/// `pre_expire_days` used when the `BASE` policy is missing, as MOSIP does.
const DEFAULT_BASE_PRE_EXPIRE_DAYS: u16 = 30;

/// MOSIP's rule (reference section 4) for the pre-expiry of `key_ref`:
/// no policy for the application -> 0; a master key (empty ref), or `KERNEL` with `SIGN` or
/// `IDENTITY_CACHE` -> the application's `pre_expire_days`; any other ref -> the `BASE`
/// policy's (30 without one).
pub fn pre_expire_days(
    key_ref: &KeyRef,
    app_policy: Option<&KeyPolicy>,
    base_policy: Option<&KeyPolicy>,
) -> u16 {
    let Some(app) = app_policy else { return 0 };
    let reference = key_ref.reference.as_str();
    let kernel_special = key_ref.app.eq_ignore_case(WellKnown::KERNEL_APP)
        && (reference == WellKnown::SIGN_REF || reference == WellKnown::IDENTITY_CACHE_REF);
    if key_ref.reference.is_master() || kernel_special {
        app.pre_expire_days
    } else {
        base_policy.map_or(DEFAULT_BASE_PRE_EXPIRE_DAYS, |p| p.pre_expire_days)
    }
}

/// The instant from which `key` is no longer current and a successor is made:
/// `pre_expire_days` before its expiry.
pub fn rotation_instant(key: &KeyAlias, pre_expire_days: u16) -> UtcTime {
    key.expires_at.plus(-Duration::days(i64::from(pre_expire_days)))
}

/// MOSIP's predicate: `key` is current at `at` iff `at == generated`, or `at == expires`, or
/// `generated < at < expires - pre_expire_days`; with one addition: a key whose expiry lies
/// before its generation (revoked in the minute it was made) is never current, where MOSIP's
/// `at == generated` clause would keep it current for that one millisecond.
pub fn is_current(key: &KeyAlias, at: UtcTime, pre_expire_days: u16) -> bool {
    key.generated_at <= key.expires_at
        && (at == key.generated_at
            || at == key.expires_at
            || (key.generated_at < at && at < rotation_instant(key, pre_expire_days)))
}

/// What to do for a pair at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Use this key.
    Use(KeyAlias),
    /// No key is current: make one.
    Generate,
    /// More than one key is current (MOSIP `KER-KMS-003`); only data made outside this engine
    /// (or by MOSIP) can get here.
    Ambiguous(Vec<KeyAlias>),
}

/// Decides for the pair whose keys are `keys` at `at`.
///
/// MOSIP's predicate makes two keys current at the one millisecond where an old key's
/// `at == expires` clause meets its successor, and MOSIP then answers `KER-KMS-003`. This
/// engine prefers the key inside its normal window (`generated <= at < expires - pre`) when
/// exactly one is, and reports ambiguity only otherwise.
pub fn decide(keys: &[KeyAlias], at: UtcTime, pre_expire_days: u16) -> Decision {
    let current: Vec<&KeyAlias> = keys.iter().filter(|k| is_current(k, at, pre_expire_days)).collect();
    match current.as_slice() {
        [] => Decision::Generate,
        [one] => Decision::Use((*one).clone()),
        several => {
            let in_window: Vec<&&KeyAlias> = several
                .iter()
                .filter(|k| {
                    k.generated_at <= at
                        && (at < rotation_instant(k, pre_expire_days) || at == k.generated_at)
                })
                .collect();
            match in_window.as_slice() {
                [one] => Decision::Use((**one).clone()),
                _ => Decision::Ambiguous(several.iter().map(|k| (*k).clone()).collect()),
            }
        }
    }
}

/// The expiry of a key made at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewKeyExpiry {
    /// When the new key expires.
    pub expires_at: UtcTime,
    /// Whether it was cut short to the signer's expiry (say so in the key's record and the
    /// report).
    pub clamped: bool,
}

/// Now plus the application's validity, never past `signer_expires` (the expiry of the key
/// that signs the new key's certificate; `None` for a self-signed ROOT).
///
/// Refuses ([`PolicyError::SignerExpiresTooSoon`]) when the clamped key would already be past
/// its rotation instant: the caller must rotate the signer first, or the new key would be
/// replaced on every call.
pub fn new_key_expiry(
    now: UtcTime,
    policy: &KeyPolicy,
    pre_expire_days: u16,
    signer_expires: Option<UtcTime>,
) -> Result<NewKeyExpiry, PolicyError> {
    if !policy.is_active {
        return Err(PolicyError::NoPolicy(policy.app_id.to_string()));
    }
    let wanted = now.plus_days(i64::from(policy.validity_days));
    let (expires_at, clamped) = match signer_expires {
        Some(limit) if limit < wanted => (limit, true),
        _ => (wanted, false),
    };
    let rotates = expires_at.plus(-Duration::days(i64::from(pre_expire_days)));
    if clamped && rotates <= now {
        return Err(PolicyError::SignerExpiresTooSoon { signer_expires: expires_at, pre_expire_days });
    }
    Ok(NewKeyExpiry { expires_at, clamped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_model::AppId;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;

    fn t(days: i64) -> UtcTime {
        UtcTime::from_unix_millis(1_700_000_000_000 + days * DAY).expect("in range")
    }

    fn policy(app: &str, validity: u16, pre: u16) -> KeyPolicy {
        KeyPolicy {
            app_id: AppId::new(app).expect("valid"),
            validity_days: validity,
            pre_expire_days: pre,
            is_active: true,
            access_allowed: keymgr_model::AccessAllowed::Anyone,
        }
    }

    fn key(generated: UtcTime, expires: UtcTime) -> KeyAlias {
        KeyAlias {
            alias: format!("k{}", generated.unix_millis()),
            key_ref: KeyRef::parse("REGISTRATION", "10001_110011").expect("valid"),
            generated_at: generated,
            expires_at: expires,
            thumbprint: None,
            unique_ident: None,
        }
    }

    #[test]
    fn pre_expire_sources_follow_mosip() {
        let reg = policy("REGISTRATION", 1095, 60);
        let base = policy("BASE", 730, 30);
        let r = |a: &str, r: &str| KeyRef::parse(a, r).expect("valid");
        assert_eq!(pre_expire_days(&r("REGISTRATION", ""), Some(&reg), Some(&base)), 60);
        assert_eq!(pre_expire_days(&r("REGISTRATION", "10001"), Some(&reg), Some(&base)), 30);
        assert_eq!(pre_expire_days(&r("REGISTRATION", "10001"), Some(&reg), None), 30);
        assert_eq!(
            pre_expire_days(&r("REGISTRATION", "10001"), Some(&reg), Some(&policy("BASE", 730, 12))),
            12
        );
        assert_eq!(pre_expire_days(&r("KERNEL", "SIGN"), Some(&policy("KERNEL", 1095, 45)), Some(&base)), 45);
        assert_eq!(
            pre_expire_days(&r("KERNEL", "IDENTITY_CACHE"), Some(&policy("KERNEL", 1095, 45)), Some(&base)),
            45
        );
        assert_eq!(pre_expire_days(&r("IDA", ""), None, Some(&base)), 0);
    }

    #[test]
    fn mosip_predicate_edges() {
        let k = key(t(0), t(100));
        assert!(is_current(&k, t(0), 10));
        assert!(is_current(&k, t(50), 10));
        assert!(is_current(&k, t(90).plus(-Duration::milliseconds(1)), 10));
        assert!(!is_current(&k, t(90), 10), "rotation instant");
        assert!(!is_current(&k, t(95), 10));
        assert!(is_current(&k, t(100), 10), "MOSIP's at == expiry clause");
        assert!(!is_current(&k, t(101), 10));
        assert!(!is_current(&k, t(-1), 10));
        let revoked_at_birth = key(t(0), t(0).plus(-Duration::minutes(1)));
        assert!(!is_current(&revoked_at_birth, t(0), 10));
    }

    #[test]
    fn decide_resolves_the_expiry_instant_tie() {
        let old = key(t(0), t(100));
        let new = key(t(90), t(190));
        assert_eq!(decide(&[old.clone(), new.clone()], t(100), 10), Decision::Use(new.clone()));
        assert_eq!(decide(std::slice::from_ref(&old), t(95), 10), Decision::Generate);
        let twin = key(t(1), t(100));
        assert!(matches!(decide(&[old, twin], t(50), 10), Decision::Ambiguous(v) if v.len() == 2));
    }

    #[test]
    fn expiry_is_clamped_to_the_signer() {
        let p = policy("REGISTRATION", 1095, 60);
        assert_eq!(
            new_key_expiry(t(0), &p, 30, None),
            Ok(NewKeyExpiry { expires_at: t(1095), clamped: false })
        );
        assert_eq!(
            new_key_expiry(t(0), &p, 30, Some(t(2000))),
            Ok(NewKeyExpiry { expires_at: t(1095), clamped: false })
        );
        assert_eq!(
            new_key_expiry(t(0), &p, 30, Some(t(500))),
            Ok(NewKeyExpiry { expires_at: t(500), clamped: true })
        );
        assert!(matches!(
            new_key_expiry(t(0), &p, 30, Some(t(20))),
            Err(PolicyError::SignerExpiresTooSoon { .. })
        ));
        let mut inactive = p;
        inactive.is_active = false;
        assert!(matches!(new_key_expiry(t(0), &inactive, 30, None), Err(PolicyError::NoPolicy(_))));
    }

    proptest! {
        /// Walk a pair through time, generating whenever the engine says so: the engine never
        /// sees two current keys, every key is current when made, and rotation comes exactly
        /// `pre` days before expiry.
        #[test]
        fn engine_decisions_never_leave_two_current_keys(
            validity in 1u16..2000,
            pre_frac in 0u16..100,
            steps in proptest::collection::vec(1i64..(400 * DAY), 1..60),
        ) {
            let pre = (u32::from(validity) * u32::from(pre_frac) / 100) as u16;
            let p = policy("REGISTRATION", validity, pre);
            let mut keys: Vec<KeyAlias> = Vec::new();
            let mut now = t(0);
            for step in steps {
                match decide(&keys, now, pre) {
                    Decision::Use(k) => prop_assert!(is_current(&k, now, pre)),
                    Decision::Generate => {
                        let e = new_key_expiry(now, &p, pre, None).expect("no signer limit");
                        let k = key(now, e.expires_at);
                        prop_assert!(is_current(&k, now, pre), "a key made at T is current at T");
                        if k.generated_at < rotation_instant(&k, pre) {
                            let before = rotation_instant(&k, pre).plus(-Duration::milliseconds(1));
                            prop_assert!(is_current(&k, before, pre));
                            prop_assert!(!is_current(&k, rotation_instant(&k, pre), pre) || rotation_instant(&k, pre) == k.expires_at);
                        }
                        keys.push(k);
                    }
                    Decision::Ambiguous(v) => prop_assert!(false, "ambiguous: {v:?}"),
                }
                // Probe the instants where MOSIP's clauses meet, too.
                for probe in keys.iter().flat_map(|k| [k.generated_at, k.expires_at, rotation_instant(k, pre)]) {
                    prop_assert!(!matches!(decide(&keys, probe, pre), Decision::Ambiguous(_)), "ambiguous at {probe:?}");
                }
                now = now.plus(Duration::milliseconds(step));
            }
        }

        /// Expiry never passes the signer's, and a clamped key is said to be clamped.
        #[test]
        fn expiry_never_passes_the_signer(validity in 1u16..4000, pre in 0u16..400, signer_days in 0i64..5000) {
            let p = policy("REGISTRATION", validity, pre);
            let signer = t(signer_days);
            match new_key_expiry(t(0), &p, pre, Some(signer)) {
                Ok(e) => {
                    prop_assert!(e.expires_at <= signer);
                    prop_assert_eq!(e.clamped, t(i64::from(validity)) > signer);
                    prop_assert!(e.expires_at > t(0) || pre == 0);
                }
                Err(PolicyError::SignerExpiresTooSoon { .. }) => prop_assert!(signer.plus_days(-i64::from(pre)) <= t(0)),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
