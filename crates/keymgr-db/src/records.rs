//! Rows the repository reads and writes, beyond the model's `KeyAlias` and `KeyPolicy`.

use keymgr_model::{KeyAlias, UtcTime};

/// A base key's `key_store` row: the private key wrapped by the module master (MOSIP's
/// format, reference 3.3, as text) and the certificate. Other-domain certificates have
/// `private_key` `"NA"` and `master_alias` equal to their own alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's alias (`key_store.id` = `key_alias.id`).
    pub alias: String,
    /// The alias of the master key that wraps it (`master_key`).
    pub master_alias: String,
    /// The wrapped private key as stored (`private_key`).
    pub private_key: String,
    /// The certificate, PEM (`certificate_data`).
    pub certificate: String,
}

impl StoredKey {
    /// The `private_key` of rows that hold only a certificate (other-domain keys).
    pub const NO_PRIVATE_KEY: &'static str = "NA";
    /// The `private_key` of a destroyed key: the wrapped key overwritten (crypto-shredded),
    /// the row kept as a tombstone with its certificate.
    pub const DESTROYED: &'static str = "DESTROYED";

    /// Whether the row holds a wrapped private key (not another domain's certificate, not a
    /// tombstone).
    pub fn holds_private_key(&self) -> bool {
        self.private_key != Self::NO_PRIVATE_KEY && self.private_key != Self::DESTROYED
    }
}

/// A state an operator gave a key (`keymgr_key_state`); keys without one take their state
/// from their dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStateRecord {
    /// The key's alias.
    pub alias: String,
    /// The state.
    pub state: keymgr_model::KeyState,
    /// Why (the operator's words).
    pub reason: Option<String>,
    /// For a compromised key: whether its compromise response finished.
    pub response_complete: bool,
    /// Until when a compromised key may still decrypt (each use audited).
    pub recovery_until: Option<UtcTime>,
    /// The certificate (PEM) of a destroyed keystore key, kept as its tombstone.
    pub certificate: Option<String>,
    /// Who set it.
    pub updated_by: String,
    /// When.
    pub updated_at: UtcTime,
}

/// A child key re-wrapped for a new master: what [`crate::Database::rewrap_children`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrapped {
    /// The child's alias.
    pub alias: String,
    /// The master it was wrapped by (the row is left alone if that changed meanwhile).
    pub old_master: String,
    /// The master it is wrapped by now.
    pub new_master: String,
    /// The private key wrapped for `new_master`, MOSIP's format.
    pub private_key: String,
}

/// A new key to record: its alias row, its `key_store` row for base keys (none for HSM keys),
/// and who made it, written in one transaction with an audit row.
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    /// The `key_alias` row.
    pub alias: &'a KeyAlias,
    /// The `key_store` row, for keys whose private key is in the database.
    pub stored: Option<&'a StoredKey>,
    /// Who made the key (`cr_by`; MOSIP writes `SYSTEM`).
    pub actor: &'a str,
}

/// A row of `ca_cert_store`: a CA or sub-CA certificate of a partner domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// `cert_id`, a UUID.
    pub cert_id: String,
    /// Subject DN (`cert_subject`).
    pub subject: String,
    /// Issuer DN (`cert_issuer`).
    pub issuer: String,
    /// `cert_id` of the issuing CA row (`issuer_id`); its own id for a root.
    pub issuer_id: String,
    /// Start of validity.
    pub not_before: Option<UtcTime>,
    /// End of validity.
    pub not_after: Option<UtcTime>,
    /// CRL distribution point (`crl_uri`).
    pub crl_uri: Option<String>,
    /// The certificate, PEM (`cert_data`).
    pub cert_data: Option<String>,
    /// Lowercase SHA-1 hex of the DER, as MOSIP's partner stores keep it.
    pub thumbprint: Option<String>,
    /// Serial number (`cert_serial_no`).
    pub serial_no: Option<String>,
    /// Partner domain, upper case (`AUTH`, `DEVICE`, `FTM`, ...).
    pub partner_domain: Option<String>,
    /// `ROOT` or `INTERMEDIATE` (`ca_cert_type`).
    pub ca_cert_type: Option<String>,
}

/// A row of `partner_cert_store`: a partner's certificate and its re-signed copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerCertRecord {
    /// `cert_id`, a UUID.
    pub cert_id: String,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// `cert_id` of the issuing CA row.
    pub issuer_id: String,
    /// Start of validity.
    pub not_before: Option<UtcTime>,
    /// End of validity.
    pub not_after: Option<UtcTime>,
    /// Partner domain.
    pub partner_domain: Option<String>,
    /// The partner's certificate, PEM.
    pub cert_data: Option<String>,
    /// Key usage text (MOSIP writes "").
    pub key_usage: Option<String>,
    /// The partner's organisation.
    pub organization_name: Option<String>,
    /// Lowercase SHA-1 hex of the DER.
    pub thumbprint: Option<String>,
    /// Serial number, decimal.
    pub serial_no: Option<String>,
    /// The certificate re-signed by the PMS master, PEM.
    pub signed_cert_data: Option<String>,
}

/// A row of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When it happened.
    pub time: UtcTime,
    /// Who did it.
    pub actor: String,
    /// What happened (`key_generated`, `expiry_changed`, ...).
    pub action: String,
    /// The application id concerned.
    pub app_id: Option<String>,
    /// The reference id concerned.
    pub ref_id: Option<String>,
    /// The key alias concerned.
    pub key_alias: Option<String>,
    /// Free text.
    pub detail: Option<String>,
}
