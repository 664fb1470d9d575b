//! Base58 with the Bitcoin alphabet, and the multibase `base58btc` form MOSIP's `/signV2` and
//! `/signRawData` answer with (`z` followed by the Base58-BTC text).

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58-BTC text of `bytes`: each leading zero byte is a `1`, the rest the big-endian number
/// in base 58. Quadratic in the length, meant for signatures (at most a few hundred bytes).
pub fn encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    // Little-endian base-58 digits of the number.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in bytes.iter().skip(zeros) {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut text = String::with_capacity(zeros + digits.len());
    text.extend(std::iter::repeat_n('1', zeros));
    text.extend(
        digits.iter().rev().map(|d| char::from(ALPHABET.get(usize::from(*d)).copied().unwrap_or(b'1'))),
    );
    text
}

/// Decodes Base58-BTC text; `None` for a character outside the alphabet.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let zeros = text.bytes().take_while(|c| *c == b'1').count();
    // Little-endian base-256 bytes of the number.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let mut carry = ALPHABET.iter().position(|a| *a == c)? as u32;
        for byte in bytes.iter_mut() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

/// The multibase `base58btc` text of `bytes`: `z` and the Base58-BTC encoding.
pub fn multibase_encode(bytes: &[u8]) -> String {
    format!("z{}", encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // From the IETF base58 draft (draft-msporny-base58) and Bitcoin's test vectors.
        assert_eq!(encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(
            encode(b"The quick brown fox jumps over the lazy dog."),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
        );
        assert_eq!(encode(&[0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd]), "11233QC4");
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0]), "1");
        assert_eq!(multibase_encode(b"Hello World!"), "z2NEpo7TZRRrLZSi2U");
    }

    #[test]
    fn round_trips() {
        for len in [0usize, 1, 2, 31, 64, 256] {
            for fill in [0u8, 1, 0xff] {
                let mut bytes = vec![fill; len];
                if len > 3 {
                    bytes[0] = 0;
                    bytes[len - 1] = 0x5a;
                }
                assert_eq!(decode(&encode(&bytes)).as_deref(), Some(bytes.as_slice()));
            }
        }
        assert_eq!(decode("0OIl"), None);
    }
}
