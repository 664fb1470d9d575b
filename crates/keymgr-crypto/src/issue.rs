//! Issuing X.509 certificates as MOSIP does (reference 3.4), signed through a callback so that
//! an issuer's private key never leaves its HSM.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use x509_parser::prelude::FromDer;

pub use crate::cert_spec::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, SignFn, issuer_of,
    subject_of,
};
use crate::cert_spec::{key_identifier, serial_bytes};
use crate::{Certificate, CryptoError};

/// The RDNs of `dn` in MOSIP's encoding order C, ST, L, O, OU, CN; C as PrintableString, the
/// others UTF8String.
fn rcgen_name(dn: &DistinguishedNameSpec) -> Result<DistinguishedName, CryptoError> {
    let mut name = DistinguishedName::new();
    if !dn.country.is_empty() {
        let country = rcgen::string::PrintableString::try_from(dn.country.as_str())
            .map_err(|_| CryptoError::Certificate("country must be printable ASCII".into()))?;
        name.push(DnType::CountryName, DnValue::PrintableString(country));
    }
    for (ty, value) in [
        (DnType::StateOrProvinceName, &dn.state),
        (DnType::LocalityName, &dn.locality),
        (DnType::OrganizationName, &dn.organization),
        (DnType::OrganizationalUnitName, &dn.organizational_unit),
        (DnType::CommonName, &dn.common_name),
    ] {
        if !value.is_empty() {
            name.push(ty, DnValue::Utf8String(value.clone()));
        }
    }
    Ok(name)
}

/// A public key in the form rcgen writes into certificates.
struct Spki {
    alg: &'static SignatureAlgorithm,
    key_bits: Vec<u8>,
}

impl Spki {
    fn parse(spki_der: &[u8]) -> Result<Self, CryptoError> {
        let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| CryptoError::Certificate(format!("public key: {e}")))?;
        if !rest.is_empty() {
            return Err(CryptoError::KeyRejected("trailing bytes after the public key"));
        }
        let oid = spki.algorithm.algorithm.to_id_string();
        let alg = match oid.as_str() {
            "1.2.840.113549.1.1.1" => &rcgen::PKCS_RSA_SHA256,
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => &rcgen::PKCS_ECDSA_P256_SHA256,
                    Some("1.3.132.0.34") => &rcgen::PKCS_ECDSA_P384_SHA384,
                    // rcgen cannot write secp256k1 keys into a certificate.
                    _ => {
                        return Err(CryptoError::KeyRejected(
                            "only RSA, P-256, P-384 and Ed25519 keys can be certified",
                        ));
                    }
                }
            }
            "1.3.101.112" => &rcgen::PKCS_ED25519,
            _ => return Err(CryptoError::KeyRejected("unsupported public key algorithm")),
        };
        Ok(Self { alg, key_bits: spki.subject_public_key.data.to_vec() })
    }
}

impl PublicKeyData for Spki {
    fn der_bytes(&self) -> &[u8] {
        &self.key_bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// A key whose private half is elsewhere (an HSM), reached through a signing function.
struct RemoteSigner<'a> {
    spki: Spki,
    /// The signature algorithm the function produces.
    alg: &'static SignatureAlgorithm,
    sign: &'a SignFn<'a>,
}

impl PublicKeyData for RemoteSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.spki.key_bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl SigningKey for RemoteSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature = (self.sign)(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
        if std::ptr::eq(self.alg, &rcgen::PKCS_ECDSA_P256_SHA256) && signature.len() == 64 {
            // Keystores sign ECDSA in the JWS form r || s; X.509 wants ECDSA-Sig-Value.
            let (r, s) = signature.split_at(32);
            return Ok(crate::der::ecdsa_der(r, s));
        }
        Ok(signature)
    }
}

fn serial() -> Result<SerialNumber, CryptoError> {
    Ok(SerialNumber::from_slice(&serial_bytes()?))
}

/// Whether a DER `SubjectPublicKeyInfo` holds an EC key on secp256k1.
fn is_secp256k1(spki_der: &[u8]) -> bool {
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der) else { return false };
    spki.algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1"
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string())
            .as_deref()
            == Some("1.3.132.0.10")
}

/// Issues a certificate for the key `subject_spki` (DER) as `spec` says, signed by `issuer`.
pub fn issue_certificate(
    spec: &CertificateSpec,
    subject_spki: &[u8],
    issuer: &CertificateIssuer<'_>,
) -> Result<Certificate, CryptoError> {
    if is_secp256k1(subject_spki) {
        // rcgen cannot write secp256k1 keys: our own encoder, same profile.
        return crate::k1_x509::issue(spec, subject_spki, issuer);
    }
    let subject_key = Spki::parse(subject_spki)?;
    let mut params = CertificateParams::default();
    params.not_before = spec.not_before.as_offset();
    params.not_after = spec.not_after.as_offset();
    params.serial_number = Some(serial()?);
    params.distinguished_name = rcgen_name(&spec.subject)?;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&subject_key.key_bits));
    let (is_ca, usages) = match spec.profile {
        CertificateProfile::Root => (
            IsCa::Ca(BasicConstraints::Constrained(2)),
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign],
        ),
        CertificateProfile::Intermediate => (
            IsCa::Ca(BasicConstraints::Constrained(1)),
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign],
        ),
        CertificateProfile::Encryption => (IsCa::ExplicitNoCa, vec![KeyUsagePurpose::KeyEncipherment]),
        CertificateProfile::Signing => (IsCa::ExplicitNoCa, vec![KeyUsagePurpose::DigitalSignature]),
        CertificateProfile::PartnerCa { key_encipherment } => {
            let mut usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
            if key_encipherment {
                usages.push(KeyUsagePurpose::KeyEncipherment);
            }
            (IsCa::Ca(BasicConstraints::Unconstrained), usages)
        }
    };
    params.is_ca = is_ca;
    params.key_usages = usages;
    params.use_authority_key_identifier_extension = issuer.certificate.is_some();

    // Issuers are RSA: MOSIP signs every certificate SHA256withRSA.
    let signer = RemoteSigner {
        spki: Spki::parse(issuer.public_key_spki)?,
        alg: &rcgen::PKCS_RSA_SHA256,
        sign: issuer.sign,
    };
    let failed = |e: rcgen::Error| CryptoError::Certificate(format!("cannot issue: {e}"));
    let cert = match issuer.certificate {
        None => params.self_signed(&signer).map_err(failed)?,
        Some(issuer_cert) => {
            let issuer =
                Issuer::from_ca_cert_der(&issuer_cert.der().to_vec().into(), &signer).map_err(failed)?;
            params.signed_by(&subject_key, &issuer).map_err(failed)?
        }
    };
    Certificate::from_der(cert.der())
}

/// A PKCS#10 certificate signing request (PEM) for the key `subject_spki`, signed by that
/// key through `sign` (SHA256withRSA for RSA keys, SHA256withECDSA for P-256), as MOSIP's
/// `generateCSR` makes for an existing key.
pub fn certificate_request(
    subject: &DistinguishedNameSpec,
    subject_spki: &[u8],
    sign: &SignFn<'_>,
) -> Result<String, CryptoError> {
    if is_secp256k1(subject_spki) {
        return crate::k1_x509::certificate_request(subject, subject_spki, sign);
    }
    let spki = Spki::parse(subject_spki)?;
    let alg = spki.alg;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen_name(subject)?;
    let signer = RemoteSigner { spki, alg, sign };
    let csr = params
        .serialize_request(&signer)
        .map_err(|e| CryptoError::Certificate(format!("cannot make the CSR: {e}")))?;
    csr.pem().map_err(|e| CryptoError::Certificate(format!("cannot encode the CSR: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsymmetricKind, SignAlgorithm, SigningKey as SoftKey};
    use keymgr_model::UtcTime;
    use x509_parser::prelude::{FromDer, X509Certificate};

    fn dn(cn: &str) -> DistinguishedNameSpec {
        DistinguishedNameSpec {
            common_name: cn.into(),
            organizational_unit: "MOSIP-TECH-CENTER".into(),
            organization: "IITB".into(),
            locality: "BANGALORE".into(),
            state: "KA".into(),
            country: "IN".into(),
        }
    }

    fn spec(cn: &str, profile: CertificateProfile) -> CertificateSpec {
        let now = UtcTime::from_unix_millis(1_750_000_000_000).expect("time");
        CertificateSpec { subject: dn(cn), not_before: now, not_after: now.plus_days(365), profile }
    }

    #[test]
    fn root_master_base_chain() {
        let root_key = SoftKey::generate(AsymmetricKind::Rsa2048).expect("root key");
        let root_spki = root_key.public_key_spki().expect("spki");
        let sign_root = |m: &[u8]| root_key.sign(SignAlgorithm::Rs256, m);
        let root = issue_certificate(
            &spec("www.mosip.io (ROOT)", CertificateProfile::Root),
            &root_spki,
            &CertificateIssuer { certificate: None, public_key_spki: &root_spki, sign: &sign_root },
        )
        .expect("root");
        assert!(root.is_signed_by(&root));
        assert_eq!(
            root.subject(),
            "C=IN, ST=KA, L=BANGALORE, O=IITB, OU=MOSIP-TECH-CENTER, CN=www.mosip.io (ROOT)"
        );

        let master_key = SoftKey::generate(AsymmetricKind::Rsa2048).expect("master key");
        let master_spki = master_key.public_key_spki().expect("spki");
        let master = issue_certificate(
            &spec("www.mosip.io (REGISTRATION)", CertificateProfile::Intermediate),
            &master_spki,
            &CertificateIssuer { certificate: Some(&root), public_key_spki: &root_spki, sign: &sign_root },
        )
        .expect("master");
        assert!(master.is_signed_by(&root));
        assert_eq!(master.issuer(), root.subject());

        let base_key = crate::RsaPrivateKey::generate_2048().expect("base key");
        let base_spki = base_key.public_key().expect("pk").spki_der().to_vec();
        let sign_master = |m: &[u8]| master_key.sign(SignAlgorithm::Rs256, m);
        let base = issue_certificate(
            &spec("REGISTRATION-10001_110011", CertificateProfile::Encryption),
            &base_spki,
            &CertificateIssuer {
                certificate: Some(&master),
                public_key_spki: &master_spki,
                sign: &sign_master,
            },
        )
        .expect("base");
        assert!(base.is_signed_by(&master));
        assert!(!base.is_signed_by(&root));
        assert_eq!(base.spki_der(), &base_spki[..]);

        for (cert, ca, path_len, cert_sign) in
            [(&root, true, Some(2), true), (&master, true, Some(1), true), (&base, false, None, false)]
        {
            let (_, x) = X509Certificate::from_der(cert.der()).expect("parses");
            let bc = x.basic_constraints().expect("ok").expect("present");
            assert!(bc.critical);
            assert_eq!(bc.value.ca, ca);
            assert_eq!(bc.value.path_len_constraint, path_len);
            let ku = x.key_usage().expect("ok").expect("present");
            assert!(ku.critical);
            assert_eq!(ku.value.key_cert_sign(), cert_sign);
            assert_eq!(ku.value.key_encipherment(), !ca);
            assert!(x.serial.bits() <= 63 && x.serial.bits() > 0, "positive 64-bit serial");
        }
    }

    #[test]
    fn subject_parts_read_back() {
        let key = SoftKey::generate(AsymmetricKind::Rsa2048).expect("key");
        let spki = key.public_key_spki().expect("spki");
        let sign = |m: &[u8]| key.sign(SignAlgorithm::Rs256, m);
        let mut name = dn("Some CA");
        name.locality = String::new();
        let cert = issue_certificate(
            &CertificateSpec { subject: name.clone(), ..spec("x", CertificateProfile::Root) },
            &spki,
            &CertificateIssuer { certificate: None, public_key_spki: &spki, sign: &sign },
        )
        .expect("cert");
        assert_eq!(subject_of(&cert).expect("parts"), name);
    }

    #[test]
    fn csr_is_signed_by_the_subject_key() {
        use x509_parser::certification_request::X509CertificationRequest;
        for (kind, alg) in
            [(AsymmetricKind::Rsa2048, SignAlgorithm::Rs256), (AsymmetricKind::EcP256, SignAlgorithm::Es256)]
        {
            let key = SoftKey::generate(kind).expect("key");
            let spki = key.public_key_spki().expect("spki");
            let sign = |m: &[u8]| key.sign(alg, m);
            let pem = certificate_request(&dn("www.mosip.io"), &spki, &sign).expect("csr");
            let der = crate::pem::decode_first(pem.as_bytes(), &["CERTIFICATE REQUEST"]).expect("pem");
            let (_, csr) = X509CertificationRequest::from_der(&der).expect("parses");
            csr.verify_signature().expect("self-signature verifies");
            assert_eq!(csr.certification_request_info.subject_pki.raw, &spki[..]);
            assert_eq!(
                csr.certification_request_info.subject.to_string(),
                "C=IN, ST=KA, L=BANGALORE, O=IITB, OU=MOSIP-TECH-CENTER, CN=www.mosip.io"
            );
        }
    }

    /// Runs `openssl` with `args` on files in a temporary folder; its success and output.
    fn openssl(files: &[(&str, &str)], args: &[&str]) -> (bool, String) {
        let dir =
            std::env::temp_dir().join(format!("keymgr-k1-{}-{}", std::process::id(), args.join("_").len()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("write");
        }
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("the openssl command-line tool checks the encoding independently");
        let _ = std::fs::remove_dir_all(&dir);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    #[test]
    fn secp256k1_keys_get_certificates_and_csrs_of_our_own_encoding() {
        let root_key = SoftKey::generate(AsymmetricKind::Rsa2048).expect("root key");
        let root_spki = root_key.public_key_spki().expect("spki");
        let sign_root = |m: &[u8]| root_key.sign(SignAlgorithm::Rs256, m);
        let root = issue_certificate(
            &spec("www.mosip.io (ROOT)", CertificateProfile::Root),
            &root_spki,
            &CertificateIssuer { certificate: None, public_key_spki: &root_spki, sign: &sign_root },
        )
        .expect("root");
        let k1 = SoftKey::generate(AsymmetricKind::EcSecp256k1).expect("key");
        let k1_spki = k1.public_key_spki().expect("spki");
        let cert = issue_certificate(
            &spec("www.mosip.io (RESIDENT-EC_SECP256K1_SIGN)", CertificateProfile::Intermediate),
            &k1_spki,
            &CertificateIssuer { certificate: Some(&root), public_key_spki: &root_spki, sign: &sign_root },
        )
        .expect("k1 certificate");
        assert!(cert.is_signed_by(&root));
        assert_eq!(cert.spki_der(), &k1_spki[..]);
        assert_eq!(cert.issuer(), root.subject());
        assert_eq!(subject_of(&cert).expect("parts"), dn("www.mosip.io (RESIDENT-EC_SECP256K1_SIGN)"));
        let (_, x) = X509Certificate::from_der(cert.der()).expect("parses");
        let bc = x.basic_constraints().expect("ok").expect("present");
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(1));
        let ku = x.key_usage().expect("ok").expect("present");
        assert!(ku.critical && ku.value.key_cert_sign() && ku.value.digital_signature());
        assert!(x.serial.bits() <= 63 && x.serial.bits() > 0);
        let (ok, out) = openssl(
            &[("root.pem", &root.to_pem()), ("k1.pem", &cert.to_pem())],
            &["verify", "-attime", "1750086400", "-CAfile", "root.pem", "k1.pem"],
        );
        assert!(ok, "openssl verify: {out}");

        let csr = certificate_request(&dn("www.mosip.io"), &k1_spki, &|m| k1.sign(SignAlgorithm::Es256K, m))
            .expect("csr");
        let (ok, out) =
            openssl(&[("k1.csr", &csr)], &["req", "-in", "k1.csr", "-verify", "-noout", "-subject"]);
        assert!(
            ok && (out.contains("CN=www.mosip.io") || out.contains("CN = www.mosip.io")),
            "openssl req -verify: {out}"
        );

        // A secp256k1 key cannot sign its own (RSA-signed) certificate.
        let sign = |_: &[u8]| Ok(Vec::new());
        assert!(
            issue_certificate(
                &spec("x", CertificateProfile::Root),
                &k1_spki,
                &CertificateIssuer { certificate: None, public_key_spki: &k1_spki, sign: &sign },
            )
            .is_err()
        );
    }
}
