//! Client crypto over HTTP, each byte format checked by an independent implementation:
//! Python's `cryptography` for LOCAL and ANDROID clients and for the server's own key, and a
//! software TPM (swtpm with tpm2-tools) for TPM clients: MOSIP's key templates, a signature
//! made in the TPM, and a wrapped key the TPM decrypts. Then every bad input and the roles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_crypto::DataKey;
use keymgr_test_support::{python, swtpm::Swtpm};
use serde_json::{Value, json};

const CLIENT: &str = r#"
import base64, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
def d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def e(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def oaep(mgf): return padding.OAEP(mgf=padding.MGF1(mgf), algorithm=hashes.SHA256(), label=None)
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "keygen":  # pem path, data[, bits] -> SPKI, signature
    k = rsa.generate_private_key(public_exponent=65537, key_size=int(args[2]) if len(args) > 2 else 2048)
    open(args[0], "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    spki = k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(e(spki)); print(e(k.sign(d(args[1]), padding.PKCS1v15(), hashes.SHA256())))
elif cmd == "open":  # pem path, sha1|sha256, value -> plaintext
    k = serialization.load_pem_private_key(open(args[0], "rb").read(), None)
    v = d(args[2])
    key = k.decrypt(v[:256], oaep(hashes.SHA1() if args[1] == "sha1" else hashes.SHA256()))
    print(e(AESGCM(key).decrypt(v[256:268], v[300:], v[268:300])))
elif cmd == "seal":  # server SPKI, plaintext, new|old -> value
    pub = serialization.load_der_public_key(d(args[0]))
    key = os.urandom(32)
    iv, aad = (os.urandom(12), os.urandom(32)) if args[2] == "new" else (os.urandom(16), os.urandom(12))
    print(e(pub.encrypt(key, oaep(hashes.SHA256())) + iv + aad + AESGCM(key).encrypt(iv, d(args[1]), aad)))
elif cmd == "verify":  # server SPKI, data, signature -> ok
    serialization.load_der_public_key(d(args[0])).verify(d(args[2]), d(args[1]), padding.PKCS1v15(), hashes.SHA256())
    print("ok")
"#;

fn py(args: &[&str]) -> Vec<String> {
    let out = python::run(CLIENT, args, b"");
    String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
}

fn d(text: &str) -> Vec<u8> {
    keymgr_envelope::base64::decode(text.as_bytes(), usize::MAX).unwrap()
}

#[tokio::test]
async fn local_and_android_clients_and_the_server_key_against_python() {
    if !python::ready(&["cryptography"]) {
        return;
    }
    let api = api();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("client.pem");
    let pem = pem.to_str().unwrap();
    let data = b64(b"registration client data");
    let client = py(&["keygen", pem, &data]);
    let (spki, signature) = (&client[0], &client[1]);

    // The client's signature holds (LOCAL and ANDROID verify alike); altered data does not.
    for kind in [json!(null), json!("LOCAL"), json!("ANDROID")] {
        let request = json!({"data": data, "signature": signature, "publicKey": spki, "clientType": kind});
        assert_eq!(api.ok("POST", "/csverifysign", request).await, json!({"verified": true}));
    }
    let other = json!({"data": b64(b"other"), "signature": signature, "publicKey": spki});
    assert_eq!(api.ok("POST", "/csverifysign", other).await, json!({"verified": false}));
    // Standard base64 with padding is read too, as MOSIP reads it.
    let std_sig = base64_std(&d(signature));
    let request = json!({"data": data, "signature": std_sig, "publicKey": spki, "isTpm": false});
    assert_eq!(api.ok("POST", "/csverifysign", request).await, json!({"verified": true}));

    // Encrypted for the client: Python opens LOCAL with MGF1-SHA-256, ANDROID with MGF1-SHA-1.
    let secret = b64(b"for the client only");
    for (kind, mgf) in [("LOCAL", "sha256"), ("ANDROID", "sha1")] {
        let sealed = api
            .ok("POST", "/tpmencrypt", json!({"value": secret, "publicKey": spki, "clientType": kind}))
            .await;
        let value = sealed["value"].as_str().unwrap();
        assert_eq!(d(value).len(), 256 + 12 + 32 + 19 + 16, "wrapped || iv || aad || ct || tag");
        assert_eq!(py(&["open", pem, mgf, value]), vec![secret.clone()], "{kind}");
    }

    // The server's key: one key signs and decrypts; Python checks and seals.
    let signing = api.ok("POST", "/tpmsigning/publickey", json!({"serverProfile": "PROD"})).await;
    let encryption = api.ok("POST", "/tpmencryption/publickey", json!({"serverProfile": "DEV"})).await;
    assert_eq!(signing, encryption);
    let server = signing["publicKey"].as_str().unwrap().to_owned();
    let signed = api.ok("POST", "/cssign", json!({"data": data})).await;
    assert_eq!(py(&["verify", &server, &data, signed["data"].as_str().unwrap()]), vec!["ok"]);
    for layout in ["new", "old"] {
        let value = py(&["seal", &server, &secret, layout]).remove(0);
        let opened = api.ok("POST", "/tpmdecrypt", json!({"value": value, "publicKey": server})).await;
        assert_eq!(opened, json!({"value": secret}), "{layout} layout");
    }
    // A 4096-bit client key cannot take MOSIP's 256-byte layout.
    let big = py(&["keygen", pem, &data, "4096"]).remove(0);
    let request = json!({"value": secret, "publicKey": big});
    let (_, code) = api.error("POST", "/tpmencrypt", Some(ADMIN), Some(wrap(request))).await;
    assert_eq!(code, "KER-CC-004");
    // The key lives in the keystore, made once.
    let again = api.ok("POST", "/tpmsigning/publickey", json!({"serverProfile": "PROD"})).await;
    assert_eq!(again["publicKey"].as_str().unwrap(), server);
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn tpm_clients_against_a_software_tpm() {
    let Some(tpm) = Swtpm::start_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let api = api();

    // MOSIP's signing template: nameAlg SHA-1, RSASSA SHA-256, restricted to signing.
    let signing = tpm.persistent_primary(
        dir.path(),
        "0x81000010",
        "sha1",
        "rsa2048:rsassa-sha256:null",
        "fixedtpm|fixedparent|sign|sensitivedataorigin|userwithauth",
    );
    let data = dir.path().join("data.bin");
    let sig = dir.path().join("sig.bin");
    std::fs::write(&data, b"signed inside the TPM").unwrap();
    tpm.tool(
        "tpm2_sign",
        &[
            "-c",
            "0x81000010",
            "-g",
            "sha256",
            "-s",
            "rsassa",
            "-f",
            "plain",
            "-o",
            sig.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    let signature = std::fs::read(&sig).unwrap();
    // A TPM key is a TPM key whatever clientType says.
    for kind in [json!("TPM"), json!("LOCAL"), json!(null)] {
        let request = json!({"data": b64(b"signed inside the TPM"), "signature": b64(&signature), "publicKey": b64(&signing), "clientType": kind});
        assert_eq!(api.ok("POST", "/csverifysign", request).await, json!({"verified": true}), "{kind}");
    }
    let request = json!({"data": b64(b"signed elsewhere"), "signature": b64(&signature), "publicKey": b64(&signing), "clientType": "TPM"});
    assert_eq!(api.ok("POST", "/csverifysign", request).await, json!({"verified": false}));

    // An encryption key with an OAEP SHA-256 scheme (MOSIP's template has nameAlg SHA-256
    // too). The TPM opens the wrapped key with the label "\0" (tpm2_rsadecrypt -l "" appends
    // the NUL), as MOSIP's clients do.
    let encryption = tpm.persistent_primary(
        dir.path(),
        "0x81000011",
        "sha1", // not the scheme's hash: the TPM pads with the scheme's
        "rsa2048:oaep-sha256:null",
        "fixedtpm|fixedparent|decrypt|sensitivedataorigin|userwithauth",
    );
    let sealed = api
        .ok(
            "POST",
            "/tpmencrypt",
            json!({"value": b64(b"for the TPM"), "publicKey": b64(&encryption), "clientType": "TPM"}),
        )
        .await;
    let value = d(sealed["value"].as_str().unwrap());
    let wrapped = dir.path().join("wrapped.bin");
    let key = dir.path().join("key.bin");
    std::fs::write(&wrapped, &value[..256]).unwrap();
    tpm.tool(
        "tpm2_rsadecrypt",
        &["-c", "0x81000011", "-s", "oaep", "-l", "", "-o", key.to_str().unwrap(), wrapped.to_str().unwrap()],
    );
    let key = DataKey::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    let (iv, rest) = value[256..].split_at(12);
    let (aad, sealed) = rest.split_at(32);
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let mut plain = ciphertext.to_vec();
    keymgr_crypto::aead::open_in_place(&key, iv, aad, &mut plain, tag.try_into().unwrap()).unwrap();
    assert_eq!(plain, b"for the TPM");
}

#[tokio::test]
async fn bad_inputs_and_roles() {
    let api = api();
    let spki =
        api.ok("POST", "/tpmencryption/publickey", json!({"serverProfile": "x"})).await["publicKey"].clone();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/cssign", json!({}), "KER-KMS-005"),
        ("/cssign", json!({"data": "  "}), "KER-KMS-005"),
        ("/cssign", json!({"data": "%%%"}), "KER-CRY-003"),
        ("/csverifysign", json!({"data": "AA", "signature": "AA"}), "KER-KMS-005"),
        ("/csverifysign", json!({"data": "AA", "signature": "AA", "publicKey": "AAAA"}), "KER-CC-004"),
        (
            "/csverifysign",
            json!({"data": "AA", "signature": "AA", "publicKey": spki, "clientType": "IOS"}),
            "KER-KMS-005",
        ),
        ("/tpmencrypt", json!({"publicKey": spki}), "KER-KMS-005"),
        ("/tpmencrypt", json!({"value": "AA", "publicKey": "AAAA"}), "KER-CC-004"),
        ("/tpmdecrypt", json!({"value": "AA"}), "KER-KMS-005"),
        ("/tpmdecrypt", json!({"value": "AA", "publicKey": spki}), "KER-CC-004"),
        ("/tpmdecrypt", json!({"value": b64(&[7; 400]), "publicKey": spki}), "KER-CC-004"),
        ("/tpmsigning/publickey", json!({}), "KER-KMS-005"),
        ("/tpmencryption/publickey", json!({"serverProfile": ""}), "KER-KMS-005"),
    ];
    for (path, request, expected) in cases {
        let (status, code) = api.error("POST", path, Some(ADMIN), Some(wrap(request.clone()))).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{path} {request}");
    }
    for path in [
        "/cssign",
        "/csverifysign",
        "/tpmencrypt",
        "/tpmdecrypt",
        "/tpmsigning/publickey",
        "/tpmencryption/publickey",
    ] {
        let (status, _) = api.call("POST", path, None, Some(wrap(json!({})))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = api.call("POST", path, Some(OUTSIDER), Some(wrap(json!({})))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, body) = api.call("POST", path, Some(READER), Some(wrap(json!({})))).await;
        assert_eq!(
            (status, body["errors"][0]["errorCode"].as_str()),
            (StatusCode::OK, Some("KER-KMS-005")),
            "{path}"
        );
    }
}
