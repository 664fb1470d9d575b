//! The behaviour suite every [`Keystore`] must pass, written once and run against each backend.

use keymgr_crypto::{AsymmetricKind, Certificate, RsaPublicKey, SignAlgorithm, verify};
use keymgr_hsm::{HsmError, KeyKind, Keystore};

/// A throw-away DER certificate to store (the keystore does not check what it holds).
pub fn some_certificate() -> Vec<u8> {
    Certificate::from_pem(include_bytes!("../../../../testdata/fixture-cert.pem"))
        .expect("fixture")
        .der()
        .to_vec()
}

/// Runs every behaviour check against `ks`, which must start empty of the aliases used here.
pub fn behaviour_suite(ks: &dyn Keystore, prefix: &str) {
    let alias = |name: &str| format!("{prefix}-{name}");
    ks.health_check().expect("healthy");

    // RSA: generate, public key, OAEP unwrap, both RSA signatures, certificate.
    let rsa = alias("rsa");
    let spki =
        ks.generate(&rsa, KeyKind::Asymmetric(AsymmetricKind::Rsa2048)).expect("rsa").expect("public key");
    assert_eq!(ks.public_key(&rsa).expect("public key"), spki);
    assert_eq!(
        ks.generate(&rsa, KeyKind::Asymmetric(AsymmetricKind::Rsa2048)),
        Err(HsmError::AliasExists(rsa.clone()))
    );
    let public = RsaPublicKey::from_spki_der(&spki).expect("RSA SPKI");
    let wrapped = public.oaep_wrap(&[0x42; 32]).expect("wrap");
    assert_eq!(ks.rsa_oaep_unwrap(&rsa, &wrapped).expect("unwrap").expose(), &[0x42; 32]);
    let mut tampered = wrapped.clone();
    tampered[7] ^= 1;
    assert_eq!(ks.rsa_oaep_unwrap(&rsa, &tampered).map(|_| ()), Err(HsmError::UnwrapFailed));
    assert_eq!(ks.rsa_oaep_unwrap(&rsa, &wrapped[1..]).map(|_| ()), Err(HsmError::UnwrapFailed));
    for alg in [SignAlgorithm::Rs256, SignAlgorithm::Ps256] {
        let sig = ks.sign(&rsa, alg, b"to be signed").expect("sign");
        verify(alg, &spki, b"to be signed", &sig).expect("RSA signature verifies");
    }
    assert_eq!(ks.certificate(&rsa).expect("read"), None);
    let cert = some_certificate();
    ks.store_certificate(&rsa, &cert).expect("store certificate");
    assert_eq!(ks.certificate(&rsa).expect("read").as_deref(), Some(&cert[..]));

    // EC keys sign with fixed-length r || s.
    for (name, kind, alg) in [
        ("p256", AsymmetricKind::EcP256, SignAlgorithm::Es256),
        ("k256", AsymmetricKind::EcSecp256k1, SignAlgorithm::Es256K),
    ] {
        let a = alias(name);
        let spki = ks.generate(&a, KeyKind::Asymmetric(kind)).expect("ec").expect("public key");
        let sig = ks.sign(&a, alg, b"ec message").expect("sign");
        assert_eq!(sig.len(), 64, "{name}");
        verify(alg, &spki, b"ec message", &sig).expect("EC signature verifies");
        assert!(matches!(ks.sign(&a, SignAlgorithm::Rs256, b"m"), Err(HsmError::WrongKeyKind { .. })));
        assert!(matches!(ks.rsa_oaep_unwrap(&a, &wrapped), Err(HsmError::WrongKeyKind { .. })));
    }

    // AES for zero-knowledge key wrapping.
    let aes = alias("aes");
    assert_eq!(ks.generate(&aes, KeyKind::Aes256).expect("aes"), None);
    let random_key = [0x17u8; 32];
    let wrapped_key = ks.aes_ecb_encrypt(&aes, &random_key).expect("encrypt");
    assert_eq!(wrapped_key.len(), 32);
    assert_ne!(wrapped_key, random_key);
    assert_eq!(ks.aes_ecb_decrypt(&aes, &wrapped_key).expect("decrypt").expose(), &random_key);
    assert!(ks.aes_ecb_encrypt(&aes, &[0; 15]).is_err());
    assert!(matches!(ks.aes_ecb_encrypt(&rsa, &random_key), Err(HsmError::WrongKeyKind { .. })));

    // Listing and destroying.
    let listed = ks.aliases().expect("aliases");
    for a in [&rsa, &aes, &alias("p256"), &alias("k256")] {
        assert!(listed.contains(a), "{a} listed");
    }
    ks.destroy(&aes).expect("destroy");
    assert!(!ks.aliases().expect("aliases").contains(&aes));
    assert_eq!(ks.destroy(&aes), Err(HsmError::NoSuchAlias(aes.clone())));
    assert_eq!(
        ks.rsa_oaep_unwrap(&alias("missing"), &wrapped).map(|_| ()),
        Err(HsmError::NoSuchAlias(alias("missing")))
    );
    assert!(matches!(ks.certificate(&alias("missing")), Err(HsmError::NoSuchAlias(_))));
}
