//! JWS compact serialisation (RFC 7515), as MOSIP's `/jwsSign` and `/jwtSign` make it and
//! `/jwtVerify` reads it: RS256, PS256 (salt 32), ES256 and ES256K (fixed 64-byte `r || s`,
//! not DER), EdDSA (Ed25519); attached or detached payloads; RFC 7797 unencoded payloads (`"b64": false` with
//! `"crit": ["b64"]`). The header is written in MOSIP's order (`alg`, `x5c`, `x5t#S256`, `x5u`,
//! `kid`, additional v2 parameters, `typ`, `jku`, `cty`, `b64`, `crit`).
//!
//! Signing takes the private key as a callback, so this crate never sees a keystore.
//! Verification refuses, each with its own [`JoseError`]: `alg: none`, HMAC algorithms (no
//! shared secret exists here, so an HMAC `alg` with a public key is always a confusion
//! attempt), an `alg` that does not match the key's type, unknown `crit` parameters, malformed
//! parts and tokens over the size limit. A signature that does not verify is not an error:
//! [`Verified::signature_valid`] is `false`.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keymgr_crypto::{AsymmetricKind, SignAlgorithm};
use serde_json::{Map, Value};

use crate::JoseError;

/// The JWS algorithms this key manager signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Ps256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA secp256k1 with SHA-256 (RFC 8812).
    Es256K,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl JwsAlgorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::Es256K => "ES256K",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `alg`, refusing `none`, HMAC and anything unknown.
    pub fn from_name(alg: &str) -> Result<Self, JoseError> {
        match alg {
            "RS256" => Ok(Self::Rs256),
            "PS256" => Ok(Self::Ps256),
            "ES256" => Ok(Self::Es256),
            "ES256K" => Ok(Self::Es256K),
            "EdDSA" => Ok(Self::EdDsa),
            "none" | "None" | "NONE" => {
                Err(JoseError::AlgorithmRefused("alg none: an unsigned token".into()))
            }
            a if a.starts_with("HS") => Err(JoseError::AlgorithmRefused(format!(
                "{:?}: an HMAC algorithm, never accepted with a public key",
                short(a)
            ))),
            other => Err(JoseError::Unsupported { what: "JWS alg", value: format!("{:?}", short(other)) }),
        }
    }

    /// The signature primitive.
    pub fn sign_algorithm(self) -> SignAlgorithm {
        match self {
            Self::Rs256 => SignAlgorithm::Rs256,
            Self::Ps256 => SignAlgorithm::Ps256,
            Self::Es256 => SignAlgorithm::Es256,
            Self::Es256K => SignAlgorithm::Es256K,
            Self::EdDsa => SignAlgorithm::EdDsa,
        }
    }

    /// The kind of key that signs with this algorithm.
    pub fn key_kind(self) -> AsymmetricKind {
        self.sign_algorithm().key_kind()
    }
}

/// The header parameters of a JWS this key manager writes, in MOSIP's order.
#[derive(Debug, Clone, PartialEq)]
pub struct JwsHeader {
    /// `alg`.
    pub alg: JwsAlgorithm,
    /// `x5c`: the signer's certificate chain, standard base64 DER, leaf first.
    pub x5c: Option<Vec<String>>,
    /// `x5t#S256`: base64url of the SHA-256 of the signer certificate's DER.
    pub x5t_s256: Option<String>,
    /// `x5u`.
    pub x5u: Option<String>,
    /// `kid`.
    pub kid: Option<String>,
    /// Additional parameters (`/jwsSign/v2`), written after `kid`; names must not clash.
    pub additional: Vec<(String, Value)>,
    /// `typ`.
    pub typ: Option<String>,
    /// `jku`.
    pub jku: Option<String>,
    /// `cty`.
    pub cty: Option<String>,
    /// RFC 7797: `false` signs the payload as it is (`"b64": false`, `"crit": ["b64"]`).
    pub b64: bool,
    /// Further critical parameters (`/jwsSign/v2`'s `crit`): each must be one of
    /// [`Self::additional`]. `b64` is added by [`Self::b64`], not here.
    pub crit: Vec<String>,
}

impl JwsHeader {
    /// A header with `alg` only and an encoded payload.
    pub fn new(alg: JwsAlgorithm) -> Self {
        Self {
            alg,
            x5c: None,
            x5t_s256: None,
            x5u: None,
            kid: None,
            additional: Vec::new(),
            typ: None,
            jku: None,
            cty: None,
            b64: true,
            crit: Vec::new(),
        }
    }

    /// The header as JSON, parameters in MOSIP's order. At most [`MAX_EXTRA_PARAMETERS`]
    /// additional and critical parameters each, and [`MAX_HEADER_BYTES`] in all.
    pub fn to_json(&self) -> Result<String, JoseError> {
        if self.additional.len() > MAX_EXTRA_PARAMETERS || self.crit.len() > MAX_EXTRA_PARAMETERS {
            return Err(JoseError::Malformed(format!(
                "at most {MAX_EXTRA_PARAMETERS} additional and {MAX_EXTRA_PARAMETERS} critical header parameters"
            )));
        }
        let mut parts: Vec<(String, Value)> = vec![("alg".into(), Value::from(self.alg.name()))];
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
        if let Some(chain) = &self.x5c {
            parts.push(("x5c".into(), Value::from(chain.clone())));
        }
        for (name, value) in
            [("x5t#S256", text(&self.x5t_s256)), ("x5u", text(&self.x5u)), ("kid", text(&self.kid))]
        {
            if let Some(v) = value {
                parts.push((name.into(), v));
            }
        }
        let mut seen: HashSet<&str> = HashSet::with_capacity(self.additional.len());
        for (name, value) in &self.additional {
            if RESERVED.contains(&name.as_str()) || !seen.insert(name) {
                return Err(JoseError::Malformed(format!(
                    "additional header {:?} clashes with a JWS parameter",
                    short(name)
                )));
            }
            parts.push((name.clone(), value.clone()));
        }
        for (name, value) in [("typ", text(&self.typ)), ("jku", text(&self.jku)), ("cty", text(&self.cty))] {
            if let Some(v) = value {
                parts.push((name.into(), v));
            }
        }
        let mut crit: Vec<&str> = Vec::new();
        if !self.b64 {
            parts.push(("b64".into(), Value::Bool(false)));
            crit.push("b64");
        }
        for name in &self.crit {
            if !seen.contains(name.as_str()) {
                return Err(JoseError::Malformed(format!(
                    "crit names {:?}, which is not an additional header of this token",
                    short(name)
                )));
            }
            if !crit.contains(&name.as_str()) {
                crit.push(name);
            }
        }
        if !crit.is_empty() {
            parts.push(("crit".into(), Value::from(crit)));
        }
        let mut out = String::from("{");
        for (i, (name, value)) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(name).map_err(|e| JoseError::Malformed(e.to_string()))?);
            out.push(':');
            out.push_str(&serde_json::to_string(value).map_err(|e| JoseError::Malformed(e.to_string()))?);
        }
        out.push('}');
        if out.len() > MAX_HEADER_BYTES {
            return Err(JoseError::TooLarge { max: MAX_HEADER_BYTES });
        }
        Ok(out)
    }
}

/// The most additional (and, separately, critical) parameters a header written here holds.
pub const MAX_EXTRA_PARAMETERS: usize = 32;
/// The largest header written here, in bytes of JSON (room for a certificate chain in `x5c`).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// At most 64 characters of caller text, for an error message.
fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A certificate as an `x5c` entry: standard base64 (with padding) of its DER (RFC 7515,
/// section 4.1.6).
pub fn x5c_entry(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The DER of an `x5c` entry, at most `max_len` bytes.
pub fn x5c_der(entry: &str, max_len: usize) -> Result<Vec<u8>, JoseError> {
    if entry.len() / 4 * 3 > max_len {
        return Err(JoseError::TooLarge { max: max_len });
    }
    base64::engine::general_purpose::STANDARD
        .decode(entry)
        .map_err(|_| JoseError::Malformed("an x5c entry is not standard base64".into()))
}

/// The `x5t#S256` of a certificate: base64url of the SHA-256 of its DER.
pub fn x5t_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(keymgr_crypto::sha256(der))
}

/// Header names the standard owns; additional parameters may not use them.
/// `jwk` among them: a key in the header would invite verifiers to trust it.
pub const RESERVED: [&str; 12] =
    ["alg", "x5c", "x5t#S256", "x5t", "x5u", "kid", "typ", "jku", "jwk", "cty", "b64", "crit"];

/// The signing callback: the raw signature over the signing input, made wherever the private
/// key lives (the keystore, or a software key).
pub type SignFn<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, JoseError> + 'a;

/// Signs `payload` into a compact JWS: `header.payload.signature`, or `header..signature` when
/// `detached`. `sign` makes the raw signature (for ES256/ES256K the 64-byte `r || s`) over the
/// signing input. An unencoded payload (`b64: false`) that is attached must not contain `.`.
pub fn sign(
    header: &JwsHeader,
    payload: &[u8],
    detached: bool,
    sign: &SignFn<'_>,
) -> Result<String, JoseError> {
    if !header.b64 && !detached {
        if payload.contains(&b'.') {
            return Err(JoseError::Malformed("an attached unencoded payload must not contain '.'".into()));
        }
        if std::str::from_utf8(payload).is_err() {
            return Err(JoseError::Malformed("an attached unencoded payload must be UTF-8 text".into()));
        }
    }
    let protected = URL_SAFE_NO_PAD.encode(header.to_json()?);
    let payload_part: Vec<u8> =
        if header.b64 { URL_SAFE_NO_PAD.encode(payload).into_bytes() } else { payload.to_vec() };
    let mut input = Vec::with_capacity(protected.len() + 1 + payload_part.len());
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    input.extend_from_slice(&payload_part);
    let signature = sign(&input)?;
    let expected = match header.alg {
        JwsAlgorithm::Es256 | JwsAlgorithm::Es256K | JwsAlgorithm::EdDsa => Some(64),
        JwsAlgorithm::Rs256 | JwsAlgorithm::Ps256 => None,
    };
    if expected.is_some_and(|n| n != signature.len()) {
        return Err(JoseError::Crypto(format!(
            "{} signatures are 64 bytes, not {}",
            header.alg.name(),
            signature.len()
        )));
    }
    let middle = if detached {
        String::new()
    } else {
        // base64url text, or an unencoded payload checked as UTF-8 above.
        String::from_utf8(payload_part)
            .map_err(|_| JoseError::Malformed("an attached unencoded payload must be UTF-8 text".into()))?
    };
    Ok(format!("{protected}.{middle}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A public key a JWS is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    kind: AsymmetricKind,
    spki: Vec<u8>,
}

impl VerifyingKey {
    /// The key of a DER `SubjectPublicKeyInfo` (RSA, P-256 or secp256k1).
    pub fn from_spki(spki: &[u8]) -> Result<Self, JoseError> {
        let kind = keymgr_crypto::spki::key_kind(spki).ok_or_else(|| JoseError::Unsupported {
            what: "verification key",
            value: "not RSA, P-256 or secp256k1".into(),
        })?;
        Ok(Self { kind, spki: spki.to_vec() })
    }

    /// The key's type.
    pub fn kind(&self) -> AsymmetricKind {
        self.kind
    }
}

/// A well-formed JWS and whether its signature holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The algorithm it names.
    pub alg: JwsAlgorithm,
    /// The protected header, parsed.
    pub header: Map<String, Value>,
    /// The payload: decoded, or as it stands for `b64: false`, or the detached one given.
    pub payload: Vec<u8>,
    /// Whether the signature verifies with the key.
    pub signature_valid: bool,
}

/// The parsed header of a compact JWS, without checking the signature: for choosing the
/// verification key (`kid`, `x5c`, `x5t#S256`). The same refusals as [`verify`] apply.
pub fn peek_header(token: &str, max_len: usize) -> Result<(JwsAlgorithm, Map<String, Value>), JoseError> {
    let (protected, _, _) = split(token, max_len)?;
    read_header(protected)
}

/// Verifies a compact JWS with `key`. `detached` is the payload of a `header..signature`
/// token (given beside an attached payload, it must be the same one). Malformed tokens, refused algorithms, an `alg` that does not fit `key`, unknown
/// critical parameters and tokens over `max_len` bytes are errors; a signature that does not
/// verify is `Ok` with `signature_valid: false`.
pub fn verify(
    token: &str,
    detached: Option<&[u8]>,
    key: &VerifyingKey,
    max_len: usize,
) -> Result<Verified, JoseError> {
    let (protected, payload_part, signature_part) = split(token, max_len)?;
    let (alg, header) = read_header(protected)?;
    if alg.key_kind() != key.kind {
        return Err(JoseError::AlgorithmRefused(format!("{} does not fit a {:?} key", alg.name(), key.kind)));
    }
    let b64 = match header.get("b64") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(JoseError::Malformed("b64 must be a boolean".into())),
    };
    let (signed_payload, payload): (Vec<u8>, Vec<u8>) = match (payload_part.is_empty(), detached) {
        (true, Some(given)) => {
            let signed = if b64 { URL_SAFE_NO_PAD.encode(given).into_bytes() } else { given.to_vec() };
            (signed, given.to_vec())
        }
        // An empty payload part and no detached payload: the payload is empty (RFC 7515).
        (true, None) => (Vec::new(), Vec::new()),
        // Attached and given (MOSIP's `actualData` beside an attached token): they must be
        // the same payload, so no caller reads an attached payload nobody checked.
        (false, Some(given)) => {
            let same = if b64 {
                decode(payload_part, "the payload")? == given
            } else {
                payload_part.as_bytes() == given
            };
            if !same {
                return Err(JoseError::Malformed("the attached payload is not the one given".into()));
            }
            (payload_part.as_bytes().to_vec(), given.to_vec())
        }
        (false, None) => {
            let payload =
                if b64 { decode(payload_part, "the payload")? } else { payload_part.as_bytes().to_vec() };
            (payload_part.as_bytes().to_vec(), payload)
        }
    };
    // A signature part that is empty or not base64url is a signature that does not hold.
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature_part) else {
        return Ok(Verified { alg, header, payload, signature_valid: false });
    };
    let mut input = Vec::with_capacity(protected.len() + 1 + signed_payload.len());
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    input.extend_from_slice(&signed_payload);
    let signature_valid = keymgr_crypto::verify(alg.sign_algorithm(), &key.spki, &input, &signature).is_ok();
    Ok(Verified { alg, header, payload, signature_valid })
}

/// The three parts of a compact JWS, within `max_len`.
fn split(token: &str, max_len: usize) -> Result<(&str, &str, &str), JoseError> {
    if token.len() > max_len {
        return Err(JoseError::TooLarge { max: max_len });
    }
    let mut parts = token.trim().split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() => Ok((h, p, s)),
        _ => Err(JoseError::Malformed("a compact JWS has three parts: header.payload.signature".into())),
    }
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| JoseError::Malformed(format!("{what} is not base64url")))
}

/// The protected header: JSON object, a known `alg`, and `crit` naming only `b64`.
fn read_header(protected: &str) -> Result<(JwsAlgorithm, Map<String, Value>), JoseError> {
    let bytes = decode(protected, "the header")?;
    let Value::Object(header) = serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| JoseError::Malformed(format!("the header is not JSON: {e}")))?
    else {
        return Err(JoseError::Malformed("the header is not a JSON object".into()));
    };
    let alg = match header.get("alg") {
        Some(Value::String(a)) => JwsAlgorithm::from_name(a)?,
        _ => return Err(JoseError::Malformed("the header has no alg".into())),
    };
    match header.get("crit") {
        None if header.contains_key("b64") => {
            return Err(JoseError::Malformed("b64 must be listed in crit (RFC 7797)".into()));
        }
        None => {}
        Some(Value::Array(names)) if !names.is_empty() => {
            for name in names {
                match name.as_str() {
                    Some("b64") if header.contains_key("b64") => {}
                    Some(other) => {
                        return Err(JoseError::Unsupported {
                            what: "critical header",
                            value: format!("{:?}", short(other)),
                        });
                    }
                    None => return Err(JoseError::Malformed("crit lists a non-string".into())),
                }
            }
        }
        Some(_) => return Err(JoseError::Malformed("crit must be a non-empty array".into())),
    }
    Ok((alg, header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_crypto::SigningKey;

    const MAX: usize = 1 << 20;

    fn signer(alg: JwsAlgorithm) -> (SigningKey, VerifyingKey) {
        let key = SigningKey::generate(alg.key_kind()).expect("key");
        let public = VerifyingKey::from_spki(&key.public_key_spki().expect("spki")).expect("verifying key");
        (key, public)
    }

    fn signed(header: &JwsHeader, key: &SigningKey, payload: &[u8], detached: bool) -> String {
        let alg = header.alg.sign_algorithm();
        sign(header, payload, detached, &|m| key.sign(alg, m).map_err(JoseError::from)).expect("sign")
    }

    #[test]
    fn every_algorithm_attached_detached_and_unencoded() {
        for alg in [
            JwsAlgorithm::Rs256,
            JwsAlgorithm::Ps256,
            JwsAlgorithm::Es256,
            JwsAlgorithm::Es256K,
            JwsAlgorithm::EdDsa,
        ] {
            let (key, public) = signer(alg);
            let header = JwsHeader { kid: Some("k1".into()), typ: Some("JWT".into()), ..JwsHeader::new(alg) };
            let token = signed(&header, &key, br#"{"sub":"x"}"#, false);
            let v = verify(&token, None, &public, MAX).expect("verify");
            assert!(v.signature_valid, "{alg:?}");
            assert_eq!(v.payload, br#"{"sub":"x"}"#);
            assert_eq!(v.header["kid"], "k1");

            let detached = signed(&header, &key, b"packet bytes", true);
            assert!(detached.contains(".."));
            assert!(verify(&detached, Some(b"packet bytes"), &public, MAX).expect("verify").signature_valid);
            assert!(!verify(&detached, Some(b"other bytes"), &public, MAX).expect("verify").signature_valid);

            let unencoded = JwsHeader { b64: false, ..JwsHeader::new(alg) };
            let token = signed(&unencoded, &key, b"$.02 raw", true);
            assert!(verify(&token, Some(b"$.02 raw"), &public, MAX).expect("verify").signature_valid);
            let attached = signed(&unencoded, &key, b"no dots here", false);
            let v = verify(&attached, None, &public, MAX).expect("verify");
            assert!(v.signature_valid);
            assert_eq!(v.payload, b"no dots here");
        }
    }

    #[test]
    fn header_order_is_mosips() {
        let header = JwsHeader {
            x5c: Some(vec!["MIIB".into()]),
            x5t_s256: Some("t".into()),
            kid: Some("k".into()),
            additional: vec![("iat".into(), Value::from(1))],
            typ: Some("JWT".into()),
            b64: false,
            ..JwsHeader::new(JwsAlgorithm::Rs256)
        };
        assert_eq!(
            header.to_json().expect("json"),
            r#"{"alg":"RS256","x5c":["MIIB"],"x5t#S256":"t","kid":"k","iat":1,"typ":"JWT","b64":false,"crit":["b64"]}"#
        );
        let with_crit = JwsHeader { crit: vec!["iat".into()], ..header.clone() };
        assert!(with_crit.to_json().expect("json").ends_with(r#""b64":false,"crit":["b64","iat"]}"#));
        let unknown_crit = JwsHeader { crit: vec!["exp".into()], ..header.clone() };
        assert!(matches!(unknown_crit.to_json(), Err(JoseError::Malformed(_))));
        // Bounded: parameters by count, the whole header by size.
        let many = |n: usize, len: usize| JwsHeader {
            additional: (0..n).map(|i| (format!("p{i}"), Value::from("v".repeat(len)))).collect(),
            ..JwsHeader::new(JwsAlgorithm::Rs256)
        };
        assert!(many(MAX_EXTRA_PARAMETERS, 8).to_json().is_ok());
        assert!(matches!(many(MAX_EXTRA_PARAMETERS + 1, 8).to_json(), Err(JoseError::Malformed(_))));
        assert!(matches!(many(4, MAX_HEADER_BYTES / 4).to_json(), Err(JoseError::TooLarge { .. })));
        let twice = JwsHeader {
            additional: vec![("p".into(), Value::from("1")), ("p".into(), Value::from("2"))],
            ..JwsHeader::new(JwsAlgorithm::Rs256)
        };
        assert!(matches!(twice.to_json(), Err(JoseError::Malformed(_))));
        let clash = JwsHeader { additional: vec![("kid".into(), Value::from("x"))], ..header };
        assert!(matches!(clash.to_json(), Err(JoseError::Malformed(_))));
    }

    #[test]
    fn a_bad_signature_is_not_an_error() {
        let (key, public) = signer(JwsAlgorithm::Rs256);
        let token = signed(&JwsHeader::new(JwsAlgorithm::Rs256), &key, b"{}", false);
        let (head, _) = token.rsplit_once('.').expect("parts");
        let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]));
        assert!(!verify(&forged, None, &public, MAX).expect("well formed").signature_valid);
        let (_, other) = signer(JwsAlgorithm::Rs256);
        assert!(!verify(&token, None, &other, MAX).expect("well formed").signature_valid);
    }

    fn token_with_header(header: &str, payload: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn refusals() {
        let (_, rsa) = signer(JwsAlgorithm::Rs256);
        let (_, ec) = signer(JwsAlgorithm::Es256);
        let refused = |t: &str, k: &VerifyingKey| verify(t, None, k, MAX).expect_err(t);
        for alg in ["none", "HS256", "HS512"] {
            let t = token_with_header(&format!(r#"{{"alg":"{alg}"}}"#), "{}", b"sig");
            assert!(matches!(refused(&t, &rsa), JoseError::AlgorithmRefused(_)), "{alg}");
        }
        // alg none with an empty signature part is refused for its alg.
        let unsigned =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode("{}"));
        assert!(matches!(refused(&unsigned, &rsa), JoseError::AlgorithmRefused(_)));
        // An empty signature part, or one that is not base64url, is a signature that does not
        // hold (as MOSIP answers), not a malformed token.
        for signature in ["", "!!", "c2ln="] {
            let t = format!("{}.e30.{signature}", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#));
            assert!(!verify(&t, None, &rsa, MAX).expect("well-formed").signature_valid, "{signature:?}");
        }
        // An alg that does not fit the key: RS256 against an EC key, ES256 against RSA.
        let rs = token_with_header(r#"{"alg":"RS256"}"#, "{}", b"sig");
        assert!(matches!(refused(&rs, &ec), JoseError::AlgorithmRefused(_)));
        let es = token_with_header(r#"{"alg":"ES256"}"#, "{}", b"sig");
        assert!(matches!(refused(&es, &rsa), JoseError::AlgorithmRefused(_)));
        assert!(matches!(
            refused(&token_with_header(r#"{"alg":"EdDSA"}"#, "{}", b"s"), &rsa),
            JoseError::AlgorithmRefused(_)
        ));
        let rs512 = token_with_header(r#"{"alg":"RS512"}"#, "{}", b"s");
        assert!(matches!(refused(&rs512, &rsa), JoseError::Unsupported { .. }));
        let crit = token_with_header(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}", b"s");
        assert!(matches!(refused(&crit, &rsa), JoseError::Unsupported { .. }));
        let b64_no_crit = token_with_header(r#"{"alg":"RS256","b64":false}"#, "{}", b"s");
        assert!(matches!(refused(&b64_no_crit, &rsa), JoseError::Malformed(_)));
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.c2ln", "e30.e30.c2ln", "W10.e30.c2ln"] {
            assert!(matches!(refused(bad, &rsa), JoseError::Malformed(_)), "{bad:?}");
        }
        // A payload given beside an attached one must be the same payload.
        let (key, public) = signer(JwsAlgorithm::Es256);
        let attached = signed(&JwsHeader::new(JwsAlgorithm::Es256), &key, b"{}", false);
        assert!(verify(&attached, Some(b"{}"), &public, MAX).expect("same payload").signature_valid);
        assert!(matches!(verify(&attached, Some(b"[]"), &public, MAX), Err(JoseError::Malformed(_))));
        let big = "a".repeat(100);
        assert!(matches!(verify(&big, None, &rsa, 10), Err(JoseError::TooLarge { max: 10 })));
        let dotted = JwsHeader { b64: false, ..JwsHeader::new(JwsAlgorithm::Rs256) };
        assert!(sign(&dotted, b"a.b", false, &|_| Ok(vec![0; 256])).is_err());
    }
}
