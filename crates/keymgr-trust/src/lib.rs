//! Certificate path validation for the partner trust store: given a domain's CA certificates
//! (self-signed ones are the anchors, the others intermediates), a certificate and a time, build
//! a path from the certificate to an anchor and validate it. Pure: no database, no keystore, no
//! clock of its own (the caller gives the time).
//!
//! Rules (RFC 5280 section 6, revocation off as in MOSIP):
//! * every certificate of the path is within its validity at the given time;
//! * the target may itself be a CA (MOSIP validates uploaded sub-CA certificates and partner
//!   certificates that are CAs), or a v1 certificate (as Java's PKIX and OpenSSL accept; the
//!   upload endpoints refuse v1 with MOSIP's code); a v1 issuer has no basicConstraints, so it
//!   is no CA;
//! * each issuer is a CA (basicConstraints) whose keyUsage, when present, has keyCertSign, and
//!   whose pathLenConstraint is not exceeded by the non-self-issued intermediates below it;
//! * names chain (the issuer's subject is the certificate's issuer, compared after the
//!   normalisation of RFC 5280 section 7.1: case and spaces of string values), each signature
//!   verifies under an allow-list of algorithms ([`keymgr_crypto::x509_signature`]: no SHA-1,
//!   no RSA under 2048 bits) and the target's own key is strong enough;
//! * unknown critical extensions are refused; a path holds at most [`MAX_INTERMEDIATES`]
//!   intermediates (Java's default, which MOSIP uses), revisits no certificate (loops), and
//!   the search stops after [`SIGNATURE_BUDGET`] signature checks.
//!
//! Why not `rustls-webpki`: it refuses a CA certificate as the target (`CaUsedAsEndEntity`, in
//! every release), does not check keyCertSign in its releases, and has fixed depth limits;
//! MOSIP's trust store must validate CA certificates. This crate parses with `x509-parser` and
//! checks signatures through `keymgr-crypto` (aws-lc-rs).
//!
//! The store is indexed by normalised subject name, so a domain with tens of thousands of CA
//! certificates validates in time proportional to the path, not to the store; the authority
//! and subject key identifiers order the candidates when several share a name.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use keymgr_crypto::CryptoError;
use keymgr_crypto::der_read::split_tlv as tlv;
use keymgr_crypto::x509_signature::{PublicKeyStrength, algorithm_name, public_key_strength, verify_signed};
use keymgr_model::UtcTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509Name, X509Version};

/// The most intermediates a path may hold (Java's `PKIXBuilderParameters` default, 5).
pub const MAX_INTERMEDIATES: usize = 5;
/// The most signature checks one validation may make while searching for a path.
pub const SIGNATURE_BUDGET: usize = 64;
/// The largest certificate read, in bytes of DER.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;
/// The longest serial number read, in bytes (RFC 5280 allows 20; some issuers write a little
/// more).
pub const MAX_SERIAL_LEN: usize = 32;

/// Why a certificate does not validate, or cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Not a DER X.509 certificate, or too long.
    #[error("not a certificate: {0}")]
    Malformed(String),
    /// A certificate of the path has expired at the time of validation.
    #[error("{subject}: expired at {not_after}")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Its notAfter, in MOSIP's format.
        not_after: String,
    },
    /// A certificate of the path is not yet valid at the time of validation.
    #[error("{subject}: not valid before {not_before}")]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Its notBefore, in MOSIP's format.
        not_before: String,
    },
    /// A key that is too weak or of a type not accepted.
    #[error("{subject}: {reason}")]
    WeakKey {
        /// The certificate's subject.
        subject: String,
        /// What is wrong with the key.
        reason: String,
    },
    /// A signature algorithm that is refused (SHA-1, MD5) or unknown.
    #[error("{subject}: {reason}")]
    SignatureAlgorithm {
        /// The certificate's subject.
        subject: String,
        /// The algorithm's name or what is wrong with it.
        reason: String,
    },
    /// No certificate of the store has the name of the certificate's issuer.
    #[error("no issuer of {subject} ({issuer}) in the trust store")]
    IssuerNotFound {
        /// The certificate's subject.
        subject: String,
        /// Its issuer's name.
        issuer: String,
    },
    /// The certificate's signature does not verify with its issuer's key.
    #[error("the signature of {subject} does not verify with the key of {issuer}")]
    BadSignature {
        /// The certificate's subject.
        subject: String,
        /// The issuer tried.
        issuer: String,
    },
    /// An issuer that is not a CA.
    #[error("{subject} is not a CA (basicConstraints)")]
    NotCa {
        /// The issuer's subject.
        subject: String,
    },
    /// An issuer whose keyUsage does not allow signing certificates.
    #[error("{subject} may not sign certificates (keyUsage without keyCertSign)")]
    NoKeyCertSign {
        /// The issuer's subject.
        subject: String,
    },
    /// An issuer's pathLenConstraint is exceeded.
    #[error("{subject}: path length constraint {path_len} exceeded")]
    PathLenExceeded {
        /// The issuer's subject.
        subject: String,
        /// Its pathLenConstraint.
        path_len: u32,
    },
    /// A critical extension this validator does not process.
    #[error("{subject}: unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's OID.
        oid: String,
    },
    /// No path to an anchor within [`MAX_INTERMEDIATES`] intermediates.
    #[error("no path to a trust anchor within {max} intermediates")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The search made [`SIGNATURE_BUDGET`] signature checks without finding a path.
    #[error("no path found within {0} signature checks")]
    BudgetExhausted(usize),
}

/// A name as compared for chaining: its RDNs in order, each a sorted list of (attribute OID,
/// value normalised per RFC 5280 section 7.1, or the raw value for non-string types).
type NameKey = Vec<Vec<(String, String)>>;

fn name_key(name: &X509Name<'_>) -> NameKey {
    name.iter_rdn()
        .map(|rdn| {
            let mut attributes: Vec<(String, String)> = rdn
                .iter()
                .map(|a| {
                    let value = match a.as_str() {
                        Ok(text) => text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase(),
                        Err(_) => a.as_slice().iter().map(|b| format!("{b:02x}")).collect(),
                    };
                    (a.attr_type().to_id_string(), value)
                })
                .collect();
            attributes.sort();
            attributes
        })
        .collect()
}

/// At most 200 characters of a name, for messages.
fn display(name: &X509Name<'_>) -> String {
    name.to_string().chars().take(200).collect()
}

/// A certificate read once: what validation needs, owned.
#[derive(Debug, Clone)]
pub struct ParsedCertificate {
    der: Vec<u8>,
    fingerprint: [u8; 32],
    serial: String,
    subject: String,
    subject_key: NameKey,
    issuer: String,
    issuer_key: NameKey,
    version: u32,
    not_before: UtcTime,
    not_after: UtcTime,
    ca: bool,
    path_len: Option<u32>,
    /// `None` when the certificate has no keyUsage extension.
    key_cert_sign: Option<bool>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    unknown_critical: Option<String>,
    self_signed: bool,
    key: Result<PublicKeyStrength, String>,
    tbs: Range<usize>,
    signature_algorithm: Range<usize>,
    signature: Range<usize>,
    spki: Range<usize>,
}

/// The byte range of `part` inside `whole` (a sub-slice of it).
fn range_in(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// The decimal text of a DER INTEGER's content, two's complement.
fn signed_decimal(raw: &[u8]) -> String {
    use x509_parser::num_bigint::BigUint;
    let magnitude = BigUint::from_bytes_be(raw);
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        let modulus = BigUint::from(1u8) << (8 * raw.len());
        format!("-{}", modulus - magnitude)
    } else {
        magnitude.to_string()
    }
}

/// A UTC time from an X.509 time (seconds since 1970).
fn utc(seconds: i64) -> Result<UtcTime, TrustError> {
    UtcTime::from_unix_millis(seconds.saturating_mul(1000))
        .map_err(|_| TrustError::Malformed("a validity date out of range".into()))
}

impl ParsedCertificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, TrustError> {
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(TrustError::Malformed(format!("longer than {MAX_CERTIFICATE_LEN} bytes")));
        }
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| TrustError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(TrustError::Malformed("bytes after the certificate".into()));
        }
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, read
        // as raw TLVs so the signed bytes and the algorithm are exactly as encoded.
        let malformed = || TrustError::Malformed("not a SEQUENCE of three parts".into());
        let (_, body, _) = tlv(der).ok_or_else(malformed)?;
        let (tbs, _, rest) = tlv(body).ok_or_else(malformed)?;
        let (algorithm, _, rest) = tlv(rest).ok_or_else(malformed)?;
        let (_, bits, _) = tlv(rest).ok_or_else(malformed)?;
        let signature = bits.get(1..).ok_or_else(malformed)?;
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        let mut unknown_critical = None;
        for extension in cert.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                ParsedExtension::BasicConstraints(_)
                | ParsedExtension::KeyUsage(_)
                | ParsedExtension::ExtendedKeyUsage(_)
                | ParsedExtension::SubjectAlternativeName(_)
                | ParsedExtension::IssuerAlternativeName(_)
                | ParsedExtension::CertificatePolicies(_)
                | ParsedExtension::CRLDistributionPoints(_)
                | ParsedExtension::AuthorityInfoAccess(_)
                | ParsedExtension::SubjectInfoAccess(_) => {}
                _ if extension.critical => unknown_critical = Some(extension.oid.to_id_string()),
                _ => {}
            }
        }
        let basic =
            cert.basic_constraints().map_err(|e| TrustError::Malformed(format!("basicConstraints: {e}")))?;
        let usage = cert.key_usage().map_err(|e| TrustError::Malformed(format!("keyUsage: {e}")))?;
        let validity = cert.validity();
        let spki_raw = cert.public_key().raw;
        let range = |part: &[u8]| range_in(der, part).ok_or_else(malformed);
        // RFC 5280 4.1.1.2: the signed algorithm must be the one the signature claims.
        if cert.signature_algorithm != cert.tbs_certificate.signature {
            return Err(TrustError::Malformed("signatureAlgorithm differs from the signed one".into()));
        }
        if cert.raw_serial().len() > MAX_SERIAL_LEN {
            return Err(TrustError::Malformed(format!(
                "a serial number of more than {MAX_SERIAL_LEN} bytes"
            )));
        }
        let mut parsed = Self {
            self_signed: false,
            fingerprint: keymgr_crypto::sha256(der),
            serial: signed_decimal(cert.raw_serial()),
            subject: display(cert.subject()),
            subject_key: name_key(cert.subject()),
            issuer: display(cert.issuer()),
            issuer_key: name_key(cert.issuer()),
            version: match cert.version() {
                X509Version::V1 => 1,
                X509Version::V2 => 2,
                X509Version::V3 => 3,
                X509Version(other) => other.saturating_add(1),
            },
            not_before: utc(validity.not_before.timestamp())?,
            not_after: utc(validity.not_after.timestamp())?,
            ca: basic.as_ref().is_some_and(|b| b.value.ca),
            path_len: basic.and_then(|b| b.value.path_len_constraint),
            key_cert_sign: usage.map(|u| u.value.key_cert_sign()),
            subject_key_id,
            authority_key_id,
            unknown_critical,
            key: public_key_strength(spki_raw).map_err(|e| e.to_string()),
            tbs: range(tbs)?,
            signature_algorithm: range(algorithm)?,
            signature: range(signature)?,
            spki: range(spki_raw)?,
            der: der.to_vec(),
        };
        parsed.self_signed = parsed.is_self_issued() && parsed.signed_by(&parsed).is_ok();
        Ok(parsed)
    }

    /// The DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number in decimal, read as the signed integer DER encodes (so a serial whose
    /// first bit is set is negative, as Java's `BigInteger` reads it).
    pub fn serial_decimal(&self) -> &str {
        &self.serial
    }

    /// The Java name of the signature algorithm (`SHA256withRSA`, ...), as MOSIP checks it.
    pub fn signature_algorithm_name(&self) -> String {
        algorithm_name(self.slice(&self.signature_algorithm))
    }

    /// The subject's public key: its kind and size, or why it cannot be read.
    pub fn public_key(&self) -> Result<PublicKeyStrength, &str> {
        self.key.as_ref().copied().map_err(String::as_str)
    }

    /// The subject, for messages.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether subject and issuer are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.subject_key == self.issuer_key
    }

    /// Whether the certificate is self-issued and its signature verifies with its own key: a
    /// root, a trust anchor of its domain.
    pub fn is_self_signed(&self) -> bool {
        self.self_signed
    }

    /// The X.509 version (1, 2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Start of validity.
    pub fn not_before(&self) -> UtcTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> UtcTime {
        self.not_after
    }

    fn slice(&self, range: &Range<usize>) -> &[u8] {
        self.der.get(range.clone()).unwrap_or_default()
    }

    /// Checks that `issuer`'s key made this certificate's signature.
    fn signed_by(&self, issuer: &ParsedCertificate) -> Result<(), TrustError> {
        let spki = issuer.slice(&issuer.spki);
        verify_signed(
            self.slice(&self.signature_algorithm),
            spki,
            self.slice(&self.tbs),
            self.slice(&self.signature),
        )
        .map_err(|e| match e {
            CryptoError::BadSignature => {
                TrustError::BadSignature { subject: self.subject.clone(), issuer: issuer.subject.clone() }
            }
            CryptoError::SignatureAlgorithm(reason) => {
                TrustError::SignatureAlgorithm { subject: self.subject.clone(), reason }
            }
            other => TrustError::WeakKey { subject: issuer.subject.clone(), reason: other.to_string() },
        })
    }

    /// Validity at `at`, a strong key and no unknown critical extension: what every
    /// certificate of a path must have.
    fn check_own(&self, at: UtcTime) -> Result<(), TrustError> {
        if at < self.not_before {
            return Err(TrustError::NotYetValid {
                subject: self.subject.clone(),
                not_before: self.not_before.to_mosip_string(),
            });
        }
        if at > self.not_after {
            return Err(TrustError::Expired {
                subject: self.subject.clone(),
                not_after: self.not_after.to_mosip_string(),
            });
        }
        match &self.key {
            Ok(key) if key.is_acceptable() => {}
            Ok(key) => {
                return Err(TrustError::WeakKey {
                    subject: self.subject.clone(),
                    reason: format!("{key:?} is too weak"),
                });
            }
            Err(reason) => {
                return Err(TrustError::WeakKey { subject: self.subject.clone(), reason: reason.clone() });
            }
        }
        if let Some(oid) = &self.unknown_critical {
            return Err(TrustError::UnknownCriticalExtension {
                subject: self.subject.clone(),
                oid: oid.clone(),
            });
        }
        Ok(())
    }

    /// What an issuer must be: a CA allowed to sign certificates, with room for `below`
    /// non-self-issued intermediates under it.
    fn check_issuer(&self, below: usize) -> Result<(), TrustError> {
        if !self.ca {
            return Err(TrustError::NotCa { subject: self.subject.clone() });
        }
        if self.key_cert_sign == Some(false) {
            return Err(TrustError::NoKeyCertSign { subject: self.subject.clone() });
        }
        if let Some(path_len) = self.path_len
            && below > path_len as usize
        {
            return Err(TrustError::PathLenExceeded { subject: self.subject.clone(), path_len });
        }
        Ok(())
    }
}

/// A validated path: the target first, the anchor last.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    certificates: Vec<Arc<ParsedCertificate>>,
}

impl ValidatedPath {
    /// The certificates of the path, target first, anchor last.
    pub fn certificates(&self) -> impl Iterator<Item = &ParsedCertificate> {
        self.certificates.iter().map(Arc::as_ref)
    }

    /// How many certificates the path holds.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Whether the path is empty (never, for a validated one).
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }
}

/// The CA certificates of one domain, indexed by subject name.
#[derive(Debug, Default, Clone)]
pub struct TrustStore {
    certificates: Vec<Arc<ParsedCertificate>>,
    by_subject: HashMap<NameKey, Vec<usize>>,
    fingerprints: HashSet<[u8; 32]>,
    anchors: HashSet<[u8; 32]>,
}

/// The state of one search for a path.
struct Search<'a> {
    at: UtcTime,
    extra: &'a [Arc<ParsedCertificate>],
    visited: Vec<[u8; 32]>,
    signatures: usize,
    /// The most informative refusal seen: from the deepest level reached.
    best: Option<(usize, TrustError)>,
}

impl Search<'_> {
    fn note(&mut self, depth: usize, error: TrustError) {
        if self.best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            self.best = Some((depth, error));
        }
    }
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CA certificate (DER); a self-signed one becomes an anchor. A certificate already
    /// in the store is not added twice. Returns whether it was added.
    pub fn add(&mut self, der: &[u8]) -> Result<bool, TrustError> {
        Ok(self.add_parsed(ParsedCertificate::from_der(der)?))
    }

    /// Adds a certificate read with [`ParsedCertificate::from_der`]; returns whether it was
    /// added (not already there).
    pub fn add_parsed(&mut self, cert: ParsedCertificate) -> bool {
        if !self.fingerprints.insert(cert.fingerprint) {
            return false;
        }
        if cert.is_self_signed() {
            self.anchors.insert(cert.fingerprint);
        }
        let at = self.certificates.len();
        self.by_subject.entry(cert.subject_key.clone()).or_default().push(at);
        self.certificates.push(Arc::new(cert));
        true
    }

    /// How many certificates the store holds.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// How many certificates of the store have `cert`'s subject name.
    pub fn count_named_like(&self, cert: &ParsedCertificate) -> usize {
        self.by_subject.get(&cert.subject_key).map_or(0, Vec::len)
    }

    /// How many anchors (self-signed certificates) the store holds.
    pub fn anchor_count(&self) -> usize {
        self.anchors.len()
    }

    /// Validates `target` (DER) at `at`: a path to one of the store's anchors, or why there is
    /// none.
    pub fn validate(&self, target: &[u8], at: UtcTime) -> Result<ValidatedPath, TrustError> {
        self.validate_with(ParsedCertificate::from_der(target)?, Vec::new(), at)
    }

    /// Validates `target` at `at`, with `extra` certificates (a token's `x5c` chain, say) as
    /// further intermediates, never as anchors.
    pub fn validate_with(
        &self,
        target: ParsedCertificate,
        extra: Vec<ParsedCertificate>,
        at: UtcTime,
    ) -> Result<ValidatedPath, TrustError> {
        let target = Arc::new(target);
        target.check_own(at)?;
        if self.anchors.contains(&target.fingerprint) {
            return Ok(ValidatedPath { certificates: vec![target] });
        }
        let extra: Vec<Arc<ParsedCertificate>> =
            extra.into_iter().filter(|c| !self.fingerprints.contains(&c.fingerprint)).map(Arc::new).collect();
        let mut search =
            Search { at, extra: &extra, visited: vec![target.fingerprint], signatures: 0, best: None };
        match self.extend(&target, 0, 0, &mut search) {
            Some(mut rest) => {
                rest.reverse();
                rest.insert(0, target);
                Ok(ValidatedPath { certificates: rest })
            }
            None => Err(search.best.map_or_else(
                || TrustError::IssuerNotFound {
                    subject: target.subject.clone(),
                    issuer: target.issuer.clone(),
                },
                |(_, e)| e,
            )),
        }
    }

    /// The certificates whose subject is `cert`'s issuer: the store's in the order they were
    /// added, then the extra ones; those whose key identifier matches `cert`'s authority key
    /// identifier first.
    fn candidates(
        &self,
        cert: &ParsedCertificate,
        extra: &[Arc<ParsedCertificate>],
    ) -> Vec<Arc<ParsedCertificate>> {
        let mut found: Vec<Arc<ParsedCertificate>> = self
            .by_subject
            .get(&cert.issuer_key)
            .into_iter()
            .flatten()
            .filter_map(|i| self.certificates.get(*i).cloned())
            .chain(extra.iter().filter(|c| c.subject_key == cert.issuer_key).cloned())
            .collect();
        // Stable: among those whose key identifier matches (and then the others), the order
        // they were added in, so certificates uploaded later under a known name (decoys that
        // copy a CA's name and key identifier) are tried after the ones already trusted.
        found
            .sort_by_key(|c| !(cert.authority_key_id.is_some() && c.subject_key_id == cert.authority_key_id));
        found
    }

    /// Extends a path at `cert` (with `below` non-self-issued intermediates under it and
    /// `depth` intermediates so far) to an anchor: the rest of the path, anchor first.
    fn extend(
        &self,
        cert: &ParsedCertificate,
        below: usize,
        depth: usize,
        search: &mut Search<'_>,
    ) -> Option<Vec<Arc<ParsedCertificate>>> {
        let candidates = self.candidates(cert, search.extra);
        if candidates.is_empty() {
            search.note(
                depth,
                TrustError::IssuerNotFound { subject: cert.subject.clone(), issuer: cert.issuer.clone() },
            );
            return None;
        }
        for issuer in candidates {
            if search.visited.contains(&issuer.fingerprint) {
                continue;
            }
            let anchor = self.anchors.contains(&issuer.fingerprint);
            if !anchor && depth >= MAX_INTERMEDIATES {
                search.note(depth + 1, TrustError::TooDeep { max: MAX_INTERMEDIATES });
                continue;
            }
            if let Err(e) = issuer.check_own(search.at).and_then(|()| issuer.check_issuer(below)) {
                search.note(depth + 1, e);
                continue;
            }
            if search.signatures >= SIGNATURE_BUDGET {
                search.note(usize::MAX, TrustError::BudgetExhausted(SIGNATURE_BUDGET));
                return None;
            }
            search.signatures += 1;
            if let Err(e) = cert.signed_by(&issuer) {
                search.note(depth + 1, e);
                continue;
            }
            if anchor {
                return Some(vec![issuer]);
            }
            search.visited.push(issuer.fingerprint);
            let next_below = below + usize::from(!issuer.is_self_issued());
            if let Some(mut rest) = self.extend(&issuer, next_below, depth + 1, search) {
                rest.push(issuer);
                return Some(rest);
            }
            search.visited.pop();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outer_algorithm_must_be_the_signed_one() {
        let now = UtcTime::now();
        let root =
            keymgr_test_support::pki::Authority::root(keymgr_test_support::pki::name("Alg", "Org"), now, 30);
        let der = root.certificate.der().to_vec();
        assert!(ParsedCertificate::from_der(&der).is_ok());
        let sha256_rsa = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let outer = der.windows(sha256_rsa.len()).rposition(|w| w == sha256_rsa).unwrap();
        let mut changed = der.clone();
        changed[outer + sha256_rsa.len() - 1] = 0x0c; // sha384WithRSAEncryption
        assert!(matches!(ParsedCertificate::from_der(&changed), Err(TrustError::Malformed(_))));
    }

    #[test]
    fn serials_read_as_java_reads_them() {
        assert_eq!(signed_decimal(&[0x01]), "1");
        assert_eq!(signed_decimal(&[0x00, 0xff]), "255");
        assert_eq!(signed_decimal(&[0xff]), "-1");
        assert_eq!(signed_decimal(&[0x80, 0x00]), "-32768");
        assert_eq!(signed_decimal(&[0x4d, 0x6f, 0x53, 0x49, 0x50]), "332580211024");
    }
}
