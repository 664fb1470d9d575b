//! Compact JWE with RSA-OAEP-256 and A256GCM.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keymgr_crypto::aead::{NONCE_LEN, TAG_LEN, open_in_place, seal_in_place};
use keymgr_crypto::{Certificate, DataKey, RsaPublicKey, fill_random};
use keymgr_model::Thumbprint;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::JoseError;

/// Options of `/jwtEncrypt` (MOSIP's defaults: compression on, the rest off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JweOptions {
    /// `zip: "DEF"`: DEFLATE the plaintext before encryption.
    pub compress: bool,
    /// `x5c`: the recipient certificate (standard base64 DER).
    pub include_certificate: bool,
    /// `x5t#S256`: the certificate's SHA-256 thumbprint (same value as `kid`).
    pub include_cert_hash: bool,
    /// `jku`.
    pub jwk_set_url: Option<String>,
}

impl Default for JweOptions {
    fn default() -> Self {
        Self { compress: true, include_certificate: false, include_cert_hash: false, jwk_set_url: None }
    }
}

/// The protected header, in MOSIP's parameter order.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    alg: String,
    enc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5c: Option<Vec<String>>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jku: Option<String>,
}

const ALG: &str = "RSA-OAEP-256";
const ENC: &str = "A256GCM";
const ZIP: &str = "DEF";

/// Encrypts `plaintext` for the RSA key of `recipient` as MOSIP's `/jwtEncrypt` does.
pub fn encrypt(plaintext: &[u8], recipient: &Certificate, options: &JweOptions) -> Result<String, JoseError> {
    let public: RsaPublicKey = recipient.rsa_public_key()?;
    let kid = URL_SAFE_NO_PAD.encode(recipient.thumbprint().as_bytes());
    let header = Header {
        cty: Some("JWT".into()),
        typ: Some("JWT".into()),
        alg: ALG.into(),
        enc: ENC.into(),
        kid: Some(kid.clone()),
        zip: options.compress.then(|| ZIP.into()),
        x5c: options.include_certificate.then(|| vec![STANDARD.encode(recipient.der())]),
        x5t_s256: options.include_cert_hash.then_some(kid),
        jku: options.jwk_set_url.clone(),
    };
    let header_json = serde_json::to_vec(&header).map_err(|e| JoseError::Crypto(e.to_string()))?;
    let protected = URL_SAFE_NO_PAD.encode(header_json);

    let cek = DataKey::generate()?;
    let encrypted_key = public.oaep_wrap(cek.expose())?;
    let mut iv = [0u8; NONCE_LEN];
    fill_random(&mut iv)?;
    let mut content = Zeroizing::new(if options.compress {
        miniz_oxide::deflate::compress_to_vec(plaintext, 6)
    } else {
        plaintext.to_vec()
    });
    let tag = seal_in_place(&cek, &iv, protected.as_bytes(), content.as_mut_slice())?;
    Ok([
        protected.as_str(),
        &URL_SAFE_NO_PAD.encode(&encrypted_key),
        &URL_SAFE_NO_PAD.encode(iv),
        &URL_SAFE_NO_PAD.encode(content.as_slice()),
        &URL_SAFE_NO_PAD.encode(tag),
    ]
    .join("."))
}

/// A compact JWE, read but not yet decrypted.
#[derive(Debug, Clone)]
pub struct ParsedJwe {
    protected: String,
    header: Header,
    /// The RSA-OAEP-wrapped content key.
    pub encrypted_key: Vec<u8>,
    iv: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl ParsedJwe {
    /// The recipient key's thumbprint from `kid`, when `kid` is a base64url SHA-256.
    pub fn kid_thumbprint(&self) -> Option<Thumbprint> {
        let kid = self.header.kid.as_deref()?;
        Thumbprint::from_slice(&URL_SAFE_NO_PAD.decode(kid).ok()?)
    }
}

fn part(text: &str, what: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JoseError::Malformed(format!("{what} is not base64url")))
}

/// Reads a compact JWE with `alg` RSA-OAEP-256 and `enc` A256GCM; ciphertexts longer than
/// `max_len` are refused before decoding.
pub fn parse(compact: &str, max_len: usize) -> Result<ParsedJwe, JoseError> {
    if compact.len() / 4 * 3 > max_len.saturating_mul(2) {
        return Err(JoseError::TooLarge { max: max_len });
    }
    let parts: Vec<&str> = compact.trim().split('.').collect();
    let [protected, key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(JoseError::Malformed(format!("{} parts, a compact JWE has 5", parts.len())));
    };
    let header: Header = serde_json::from_slice(&part(protected, "the header")?)
        .map_err(|e| JoseError::Malformed(format!("header: {e}")))?;
    if header.alg != ALG {
        return Err(JoseError::Unsupported { what: "alg", value: header.alg });
    }
    if header.enc != ENC {
        return Err(JoseError::Unsupported { what: "enc", value: header.enc });
    }
    if let Some(z) = &header.zip
        && z != ZIP
    {
        return Err(JoseError::Unsupported { what: "zip", value: z.clone() });
    }
    let iv: [u8; NONCE_LEN] =
        part(iv, "the IV")?.try_into().map_err(|_| JoseError::Malformed("the IV must be 12 bytes".into()))?;
    let tag: [u8; TAG_LEN] = part(tag, "the tag")?
        .try_into()
        .map_err(|_| JoseError::Malformed("the tag must be 16 bytes".into()))?;
    Ok(ParsedJwe {
        protected: (*protected).to_owned(),
        header,
        encrypted_key: part(key, "the encrypted key")?,
        iv,
        ciphertext: part(ciphertext, "the ciphertext")?,
        tag,
    })
}

/// DEFLATE's largest expansion: a 258-byte match costs at least two bits, about 1032 to 1.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Decrypts `jwe` with its unwrapped content key; inflates DEFLATE content up to `max_len`.
pub fn decrypt(jwe: ParsedJwe, cek: &DataKey, max_len: usize) -> Result<Zeroizing<Vec<u8>>, JoseError> {
    let mut content = Zeroizing::new(jwe.ciphertext);
    open_in_place(cek, &jwe.iv, jwe.protected.as_bytes(), content.as_mut_slice(), &jwe.tag)
        .map_err(|_| JoseError::DecryptFailed)?;
    if jwe.header.zip.is_none() {
        return Ok(content);
    }
    // Inflate into one zeroizing buffer (a growing vector would leave copies of the plaintext
    // in freed memory), one byte over what can come out: the limit, or what DEFLATE can
    // expand this content to (at most 1032 to 1), whichever is smaller, so that a small token
    // does not cost a buffer of the whole limit. The extra byte tells an overflow.
    let can_inflate_to = content.len().saturating_mul(MAX_DEFLATE_RATIO).saturating_add(MAX_DEFLATE_RATIO);
    let mut plain = Zeroizing::new(vec![0u8; max_len.min(can_inflate_to).saturating_add(1)]);
    match miniz_oxide::inflate::decompress_slice_iter_to_slice(
        &mut plain,
        std::iter::once(&content[..]),
        false,
        true,
    ) {
        Ok(len) if len <= max_len && len < plain.len() => {
            plain.truncate(len);
            Ok(plain)
        }
        Ok(_) | Err(miniz_oxide::inflate::TINFLStatus::HasMoreOutput) => {
            Err(JoseError::TooLarge { max: max_len })
        }
        Err(_) => Err(JoseError::DecryptFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_crypto::RsaPrivateKey;

    fn fixture() -> (RsaPrivateKey, Certificate) {
        let key = RsaPrivateKey::from_pkcs8_pem(include_bytes!("../../../testdata/fixture-key.pem")).unwrap();
        let cert = Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).unwrap();
        (key, cert)
    }

    fn open(token: &str, key: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let parsed = parse(token, 1 << 20)?;
        let cek = key.oaep_unwrap(&parsed.encrypted_key).map_err(|_| JoseError::DecryptFailed)?;
        decrypt(parsed, &DataKey::from_slice(cek.expose()).unwrap(), 1 << 20)
    }

    #[test]
    fn round_trip_with_and_without_compression_and_header_order() {
        let (key, cert) = fixture();
        let plain = br#"{"claim":"value","n":[1,2,3]}"#.repeat(20);
        for compress in [true, false] {
            let opts = JweOptions {
                compress,
                include_certificate: true,
                include_cert_hash: true,
                jwk_set_url: Some("https://x/jwks".into()),
            };
            let token = encrypt(&plain, &cert, &opts).unwrap();
            assert_eq!(open(&token, &key).unwrap().as_slice(), &plain[..]);
            let header =
                String::from_utf8(URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
            let expected_start = r#"{"cty":"JWT","typ":"JWT","alg":"RSA-OAEP-256","enc":"A256GCM","kid":""#;
            assert!(header.starts_with(expected_start), "{header}");
            assert_eq!(header.contains(r#""zip":"DEF""#), compress);
            let parsed = parse(&token, 1 << 20).unwrap();
            assert_eq!(parsed.kid_thumbprint(), Some(cert.thumbprint()));
        }
    }

    #[test]
    fn damage_and_malformed_tokens_are_refused() {
        let (key, cert) = fixture();
        let token = encrypt(b"hello", &cert, &JweOptions::default()).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut ct = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        ct[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(ct);
        assert_eq!(open(&parts.join("."), &key).unwrap_err(), JoseError::DecryptFailed);
        assert!(matches!(parse("a.b.c", 100), Err(JoseError::Malformed(_))));
        assert!(matches!(parse("!!.b.c.d.e", 100), Err(JoseError::Malformed(_))));
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RSA1_5","enc":"A256GCM"}"#);
        assert!(matches!(
            parse(&format!("{header}.a.a.a.a"), 100),
            Err(JoseError::Unsupported { what: "alg", .. })
        ));
    }

    #[test]
    fn inflation_is_bounded() {
        let (key, cert) = fixture();
        let bomb = vec![0u8; 1 << 20];
        let token = encrypt(&bomb, &cert, &JweOptions::default()).unwrap();
        assert!(token.len() < 20_000, "a megabyte of zeros deflates small");
        let parsed = parse(&token, 1 << 20).unwrap();
        let cek = key.oaep_unwrap(&parsed.encrypted_key).unwrap();
        let cek = DataKey::from_slice(cek.expose()).unwrap();
        assert_eq!(decrypt(parsed, &cek, 1000).unwrap_err(), JoseError::TooLarge { max: 1000 });
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text, 1 << 20);
        }
    }
}
