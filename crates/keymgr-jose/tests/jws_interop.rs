//! JWS against an independent implementation: Python's `cryptography` (OpenSSL underneath)
//! verifies every token this crate signs, for each algorithm, attached, detached and
//! unencoded, and signs tokens this crate verifies. Says `SKIPPED` when python3 with
//! `cryptography` is not there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::Command;

use keymgr_crypto::{SigningKey, pem};
use keymgr_jose::JoseError;
use keymgr_jose::jws::{JwsAlgorithm, JwsHeader, VerifyingKey, sign, verify};
use keymgr_test_support::python;

/// Verifies (`verify`) or signs (`sign`) compact JWS with `cryptography`, by hand from the RFC:
/// the signing input is `header.payload` as it stands in the token (or the detached payload,
/// base64url-encoded unless `b64` is false); ES256/ES256K signatures are `r || s`.
const PYTHON: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, utils

def b64d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def b64e(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def check(key, alg, sig, data):
    if alg == "RS256":
        key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        key.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "EdDSA":
        key.verify(sig, data)
    else:
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))

mode = sys.argv[1]
if mode == "verify":
    key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
    for line in open(sys.argv[3]):
        token, detached = line.rstrip("\n").split("\t", 1)
        h, p, s = token.split(".")
        header = json.loads(b64d(h))
        if p == "":
            raw = bytes.fromhex(detached)
            p = b64e(raw) if header.get("b64", True) else raw.decode()
        check(key, header["alg"], b64d(s), (h + "." + p).encode())
    print("all verified")
else:
    alg, curve = sys.argv[2], sys.argv[3]
    if alg in ("RS256", "PS256"):
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = ec.generate_private_key(ec.SECP256K1() if curve == "k1" else ec.SECP256R1())
    h = b64e(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64e(b'{"from":"python"}')
    data = (h + "." + p).encode()
    if alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        sig = key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "EdDSA":
        sig = key.sign(data)
    else:
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(h + "." + p + "." + b64e(sig), spki.hex())
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

const ALGORITHMS: [JwsAlgorithm; 5] = [
    JwsAlgorithm::Rs256,
    JwsAlgorithm::Ps256,
    JwsAlgorithm::Es256,
    JwsAlgorithm::Es256K,
    JwsAlgorithm::EdDsa,
];

#[test]
fn python_verifies_what_we_sign() {
    if !python::ready(&["cryptography"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("jws.py");
    std::fs::write(&script, PYTHON).unwrap();
    for alg in ALGORITHMS {
        let key = SigningKey::generate(alg.key_kind()).unwrap();
        let spki = key.public_key_spki().unwrap();
        let pem_path = dir.path().join("key.pem");
        std::fs::write(&pem_path, pem::encode("PUBLIC KEY", &spki)).unwrap();
        let signer = |m: &[u8]| key.sign(alg.sign_algorithm(), m).map_err(JoseError::from);
        let mut lines = String::new();
        for (b64, detached, payload) in [
            (true, false, &b"{\"sub\":\"resident\"}"[..]),
            (true, true, &b"packet \x00\xff bytes"[..]),
            (false, true, &b"unencoded $.02"[..]),
            (false, false, &b"unencoded, attached"[..]),
        ] {
            let header = JwsHeader { b64, kid: Some("kid-1".into()), ..JwsHeader::new(alg) };
            let token = sign(&header, payload, detached, &signer).unwrap();
            lines.push_str(&format!("{token}\t{}\n", if detached { hex(payload) } else { String::new() }));
        }
        let tokens = dir.path().join("tokens.txt");
        std::fs::write(&tokens, lines).unwrap();
        let out =
            Command::new("python3").arg(&script).arg("verify").arg(&pem_path).arg(&tokens).output().unwrap();
        assert!(
            out.status.success(),
            "{alg:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn we_verify_what_python_signs() {
    if !python::ready(&["cryptography"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("jws.py");
    std::fs::write(&script, PYTHON).unwrap();
    for (alg, curve) in [("RS256", "-"), ("PS256", "-"), ("ES256", "p256"), ("ES256K", "k1"), ("EdDSA", "-")]
    {
        let out = Command::new("python3").arg(&script).args(["sign", alg, curve]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let (token, spki) = text.trim().split_once(' ').unwrap();
        let key = VerifyingKey::from_spki(&unhex(spki)).unwrap();
        let verified = verify(token, None, &key, 1 << 20).unwrap();
        assert!(verified.signature_valid, "{alg}");
        assert_eq!(verified.alg.name(), alg);
        assert_eq!(verified.payload, br#"{"from":"python"}"#);
        // The same token with one payload byte changed no longer verifies.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].replace('I', "J");
        let tampered = parts.join(".");
        assert!(!verify(&tampered, None, &key, 1 << 20).unwrap().signature_valid, "{alg}");
    }
}
