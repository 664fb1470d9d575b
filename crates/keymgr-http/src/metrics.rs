//! Prometheus metrics in the text exposition format: requests and latency per endpoint,
//! keystore (HSM) call latency per operation, cache counters, and keys expiring within 30
//! days.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use keymgr_core::KeyManager;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, label: &str, value: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{label}=\"{value}\",le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{label}=\"{value}\",le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{label}=\"{value}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{label}=\"{value}\"}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    /// (endpoint, MOSIP error code or "ok") -> requests.
    requests: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    /// Keystore operation -> latency.
    keystore: BTreeMap<&'static str, Histogram>,
}

/// How long the count of expiring keys is reused: a scrape must not scan `key_alias`.
const EXPIRING_REFRESH: Duration = Duration::from_secs(300);

/// Request counters and latency histograms.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// The count of keys expiring within 30 days, and when it was taken.
    expiring: Mutex<Option<(Instant, usize)>>,
}

/// A gauge read at render time: name, help text, value.
pub type Gauge = (&'static str, &'static str, usize);

/// The endpoint label of a request path, as [`Metrics::record`] names endpoints (MOSIP's role
/// property names); `other` for a path that is not an endpoint.
pub fn endpoint_label(path: &str) -> &'static str {
    let rest = path.strip_prefix(crate::PREFIX).unwrap_or(path);
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or_default();
    match first {
        "generateMasterKey" => "postgeneratemasterkeyobjecttype",
        "generateECSignKey" | "getCertificate" | "getAllCertificates" => "getgetcertificate",
        "getCertificateChain" => "getcertificatechain",
        "generateCSR" => "postgeneratecsr",
        "uploadCertificate" => "postuploadcertificate",
        "uploadOtherDomainCertificate" => "postuploadotherdomaincertificate",
        "generateSymmetricKey" => "postgeneratesymmetrickey",
        "revokeKey" => "putrevokekey",
        "encrypt" => "postencrypt",
        "decrypt" => "postdecrypt",
        "encryptWithPin" => "postencryptwithpin",
        "decryptWithPin" => "postdecryptwithpin",
        "jwtEncrypt" => "postjwtencrypt",
        "jwtDecrypt" => "postjwtdecrypt",
        "generateArgon2Hash" => "postgenerateargon2hash",
        "actuator" => "actuator",
        "metrics" => "metrics",
        _ => "other",
    }
}

impl Metrics {
    /// Records one request of `endpoint` with `outcome` ("ok" or an error code).
    pub fn record(&self, endpoint: &'static str, outcome: &'static str, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *inner.requests.entry((endpoint, outcome)).or_default() += 1;
        inner.latency.entry(endpoint).or_default().observe(took);
    }

    /// Requests so far by (endpoint, outcome), the same counters as
    /// `keymgr_http_requests_total`.
    pub fn request_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.requests.iter().map(|((e, o), n)| (*e, *o, *n)).collect()
    }

    /// The count of keys expiring within 30 days, taken at most every few minutes.
    fn expiring_keys(&self, km: &KeyManager) -> Option<usize> {
        let mut cached = self.expiring.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((taken, n)) = *cached
            && taken.elapsed() < EXPIRING_REFRESH
        {
            return Some(n);
        }
        match km.keys_expiring_within(30) {
            Ok(keys) => {
                *cached = Some((Instant::now(), keys.len()));
                Some(keys.len())
            }
            Err(e) => {
                tracing::warn!("metrics: cannot count expiring keys: {e}");
                None
            }
        }
    }

    /// The exposition text, with the key manager's cache counters, expiring keys and the
    /// `gauges` of the HTTP layer (requests and bytes in flight, Argon2 queue).
    pub fn render(&self, km: &KeyManager, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        {
            let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            out.push_str("# HELP keymgr_http_requests_total Requests by endpoint and outcome (ok or MOSIP error code).\n");
            out.push_str("# TYPE keymgr_http_requests_total counter\n");
            for ((endpoint, outcome), n) in &inner.requests {
                let _ = writeln!(
                    out,
                    "keymgr_http_requests_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {n}"
                );
            }
            out.push_str("# HELP keymgr_http_request_duration_seconds Request latency by endpoint.\n");
            out.push_str("# TYPE keymgr_http_request_duration_seconds histogram\n");
            for (endpoint, h) in &inner.latency {
                h.render(&mut out, "keymgr_http_request_duration_seconds", "endpoint", endpoint);
            }
            out.push_str(
                "# HELP keymgr_keystore_call_duration_seconds Keystore (HSM) call latency by operation.\n",
            );
            out.push_str("# TYPE keymgr_keystore_call_duration_seconds histogram\n");
            for (operation, h) in &inner.keystore {
                h.render(&mut out, "keymgr_keystore_call_duration_seconds", "operation", operation);
            }
        }
        out.push_str("# HELP keymgr_cache_hits_total Cache lookups answered from memory.\n# TYPE keymgr_cache_hits_total counter\n");
        let stats = km.cache_stats();
        for s in &stats {
            let _ = writeln!(out, "keymgr_cache_hits_total{{cache=\"{}\"}} {}", s.name, s.hits);
        }
        out.push_str("# HELP keymgr_cache_misses_total Cache lookups that went to the database or keystore.\n# TYPE keymgr_cache_misses_total counter\n");
        for s in &stats {
            let _ = writeln!(out, "keymgr_cache_misses_total{{cache=\"{}\"}} {}", s.name, s.misses);
        }
        out.push_str(
            "# HELP keymgr_cache_entries Entries held by each cache.\n# TYPE keymgr_cache_entries gauge\n",
        );
        for s in &stats {
            let _ = writeln!(out, "keymgr_cache_entries{{cache=\"{}\"}} {}", s.name, s.entries);
        }
        out.push_str("# HELP keymgr_keys_expiring_30d Keys whose expiry falls within the next 30 days.\n# TYPE keymgr_keys_expiring_30d gauge\n");
        if let Some(n) = self.expiring_keys(km) {
            let _ = writeln!(out, "keymgr_keys_expiring_30d {n}");
        }
        out
    }
}

impl keymgr_core::KeystoreObserver for Metrics {
    /// Records one keystore call of `operation` (`keymgr_keystore_call_duration_seconds`).
    fn keystore_call(&self, operation: &'static str, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.keystore.entry(operation).or_default().observe(took);
    }
}
