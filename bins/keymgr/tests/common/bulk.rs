//! Many base keys quickly, for the compromise test and the rewrap benchmark: each key gets its
//! own certificate (signed by the application's master in the keystore, so its own thumbprint)
//! and its own `key_store` row wrapped for the master in MOSIP's format, as the key manager
//! makes them; the RSA key pairs under them are drawn from a small pool, since generating
//! 10,000 RSA keys would take longer than everything else together.

use keymgr_core::{KeyManager, wrap_private_key_for_store};
use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
};
use keymgr_crypto::{RsaPrivateKey, SignAlgorithm};
use keymgr_db::{NewKey, StoredKey};
use keymgr_envelope::{Recipient, seal_text};
use keymgr_model::{AppId, KeyAlias, KeyRef, RefId};

/// Makes `count` base keys of `app` (references `bulk00000`, ...) under its current master,
/// with `distinct` RSA key pairs, and seals one packet to each; returns (reference, packet,
/// envelope).
pub fn populate(
    km: &KeyManager,
    app: &AppId,
    count: usize,
    distinct: usize,
) -> Vec<(RefId, Vec<u8>, String)> {
    let master = km.get_certificate(app, &RefId::new("").unwrap()).unwrap();
    let master_public = master.certificate.rsa_public_key().unwrap();
    let pool: Vec<RsaPrivateKey> = (0..distinct).map(|_| RsaPrivateKey::generate_2048().unwrap()).collect();
    let now = km.now();
    let expires_at = now.plus(time::Duration::days(365)).min(master.expires_at);
    let sign = |m: &[u8]| {
        km.keystore()
            .sign(&master.alias, SignAlgorithm::Rs256, m)
            .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
    };
    let issuer = CertificateIssuer {
        certificate: Some(&master.certificate),
        public_key_spki: master.certificate.spki_der(),
        sign: &sign,
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let key = &pool[i % distinct];
        let reference = RefId::new(format!("bulk{i:05}")).unwrap();
        let spec = CertificateSpec {
            subject: DistinguishedNameSpec {
                common_name: format!("{app}-{reference}"),
                ..Default::default()
            },
            not_before: now,
            not_after: expires_at,
            profile: CertificateProfile::Encryption,
        };
        let spki = key.public_key().unwrap().spki_der().to_vec();
        let cert = issue_certificate(&spec, &spki, &issuer).unwrap();
        let mut id = [0u8; 16];
        keymgr_crypto::fill_random(&mut id).unwrap();
        let alias_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let alias = KeyAlias {
            alias: alias_id.clone(),
            key_ref: KeyRef::new(app.clone(), reference.clone()),
            generated_at: now,
            expires_at,
            thumbprint: Some(cert.thumbprint()),
            unique_ident: Some(alias_id.clone()),
        };
        let stored = StoredKey {
            alias: alias_id,
            master_alias: master.alias.clone(),
            private_key: wrap_private_key_for_store(&key.to_pkcs8_der().unwrap(), &master_public).unwrap(),
            certificate: cert.to_pem(),
        };
        km.database().insert_key(&NewKey { alias: &alias, stored: Some(&stored), actor: "bulk" }).unwrap();
        let packet = format!("packet {i} of {count}").into_bytes();
        let envelope = seal_text(&packet, &Recipient::from_certificate(&cert).unwrap()).unwrap();
        out.push((reference, packet, envelope));
    }
    out
}
