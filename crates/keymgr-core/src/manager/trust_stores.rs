//! The partner trust store of each domain (reference section 7): its `ca_cert_store` rows read
//! into a `keymgr-trust` store (self-signed certificates are the anchors, the others
//! intermediates), cached per domain, and validation against it (`verifyCertificateTrust`,
//! `/jwtVerify`'s `validateTrust`, uploads).
//!
//! The cache stays coherent across replicas: a store is used as it is for
//! `store_check_interval`; after that one cheap query (the domain's row count and newest row)
//! says whether another replica changed the domain, and only then is it read again. An upload
//! on this replica drops the domain's store at once. MOSIP keeps stores for two hours and purges
//! only its own replica's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use keymgr_crypto::{Certificate, sha1_hex_upper};
use keymgr_model::UtcTime;
use keymgr_trust::{ParsedCertificate, TrustError, TrustStore, ValidatedPath};

use super::KeyManager;
use crate::KeymgrError;

/// A domain's store and what it was read from.
pub(super) struct DomainStore {
    /// The certificates, indexed for path building.
    pub(super) store: TrustStore,
    /// `cert_id` of each row by its SHA-1 thumbprint (lowercase hex), as MOSIP keys them.
    pub(super) ids: HashMap<String, String>,
    /// The domain's version when read: row count and newest row.
    version: (i64, Option<UtcTime>),
}

/// A domain's cache entry: its store and when its version was last checked, and a generation
/// that every local change moves on, so that a load begun before the change is not cached.
#[derive(Default)]
pub(super) struct CachedStore {
    store: Option<(Arc<DomainStore>, Instant)>,
    generation: u64,
}

/// MOSIP's thumbprint of the CA and partner stores: lowercase hex SHA-1 of the DER.
pub(super) fn sha1_thumbprint(der: &[u8]) -> String {
    sha1_hex_upper(der).to_ascii_lowercase()
}

impl KeyManager {
    /// The configured spelling of `domain` (compared without regard to case), or
    /// `KER-PCM-011`.
    pub(super) fn partner_domain(&self, domain: &str) -> Result<String, KeymgrError> {
        let wanted = domain.trim();
        self.config
            .partners
            .allowed_domains
            .iter()
            .find(|d| d.eq_ignore_ascii_case(wanted))
            .map(|d| d.to_ascii_uppercase())
            .ok_or_else(|| KeymgrError::InvalidPartnerDomain(wanted.chars().take(64).collect()))
    }

    /// The trust store of `domain` (allowed, upper case), from the cache while it is current.
    pub(super) fn domain_store(&self, domain: &str) -> Result<Arc<DomainStore>, KeymgrError> {
        let interval = self.config.partners.store_check_interval;
        let (cached, generation) = {
            let stores = self.trust_stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match stores.get(domain) {
                Some(entry) => (entry.store.clone(), entry.generation),
                None => (None, 0),
            }
        };
        if let Some((store, checked)) = &cached
            && checked.elapsed() < interval
        {
            return Ok(Arc::clone(store));
        }
        let version = self.db.ca_store_version(domain)?;
        let store = match cached {
            Some((store, _)) if store.version == version => store,
            _ => Arc::new(self.load_domain(domain, version)?),
        };
        let mut stores = self.trust_stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = stores.entry(domain.to_owned()).or_default();
        // A change made here while this store was read: it may predate it, so it is used for
        // this call only.
        if entry.generation == generation {
            entry.store = Some((Arc::clone(&store), Instant::now()));
        }
        Ok(store)
    }

    /// Reads every CA row of `domain` into a store. Rows that do not parse are skipped with a
    /// warning (a certificate MOSIP stored that this service refuses to read, say).
    fn load_domain(&self, domain: &str, version: (i64, Option<UtcTime>)) -> Result<DomainStore, KeymgrError> {
        let mut store = TrustStore::new();
        let mut ids = HashMap::new();
        for row in self.db.ca_certs(domain)? {
            let parsed = row
                .cert_data
                .as_deref()
                .ok_or_else(|| "no cert_data".to_owned())
                .and_then(|pem| Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string()))
                .and_then(|cert| ParsedCertificate::from_der(cert.der()).map_err(|e| e.to_string()));
            match parsed {
                Ok(cert) => {
                    ids.insert(sha1_thumbprint(cert.der()), row.cert_id.clone());
                    store.add_parsed(cert);
                }
                Err(e) => tracing::warn!("ca_cert_store row {} of {domain} skipped: {e}", row.cert_id),
            }
        }
        Ok(DomainStore { store, ids, version })
    }

    /// Drops the cached store of `domain`, after this replica changed it; a load already under
    /// way is not cached either.
    pub(super) fn forget_domain(&self, domain: &str) {
        let mut stores = self.trust_stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = stores.entry(domain.to_owned()).or_default();
        entry.store = None;
        entry.generation += 1;
    }

    /// The path of `certificate` to an anchor of `domain` at the manager's time, with `extra`
    /// certificates as further intermediates.
    pub(super) fn trust_path(
        &self,
        domain: &str,
        certificate: ParsedCertificate,
        extra: Vec<ParsedCertificate>,
    ) -> Result<Result<ValidatedPath, TrustError>, KeymgrError> {
        let store = self.domain_store(domain)?;
        Ok(store.store.validate_with(certificate, extra, self.clock.now()))
    }

    /// MOSIP's `verifyCertificateTrust`: whether the PEM certificate has a valid path to an
    /// anchor of `domain` now. Blank is `KER-PCM-001`, not a certificate `KER-KMS-013`, an
    /// unknown domain `KER-PCM-011`.
    pub fn verify_certificate_trust(&self, pem: &str, domain: &str) -> Result<bool, KeymgrError> {
        if pem.trim().is_empty() {
            return Err(KeymgrError::InvalidCertificate(
                "certificateData should not be null or empty".into(),
            ));
        }
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| KeymgrError::CertificateParse(e.to_string()))?;
        let domain = self.partner_domain(domain)?;
        let parsed = parse(&cert)?;
        Ok(self.trust_path(&domain, parsed, Vec::new())?.is_ok())
    }
}

/// A certificate read for path validation; one this service cannot read is `KER-KMS-013`.
pub(super) fn parse(cert: &Certificate) -> Result<ParsedCertificate, KeymgrError> {
    ParsedCertificate::from_der(cert.der()).map_err(|e| KeymgrError::CertificateParse(e.to_string()))
}
