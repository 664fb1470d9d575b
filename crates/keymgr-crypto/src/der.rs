//! A minimal DER writer for the structures rcgen cannot write (certs-only PKCS#7, and
//! certificates and CSRs for secp256k1 keys).

/// A TLV with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// `SEQUENCE` of the concatenated `parts`.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A non-negative `INTEGER` from big-endian magnitude bytes.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let v = match magnitude.iter().position(|b| *b != 0) {
        Some(i) => magnitude.get(i..).unwrap_or_default(),
        None => &[0][..],
    };
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    tlv(0x02, &content)
}

/// A `BIT STRING` with no unused bits.
pub(crate) fn bits(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

/// An `OBJECT IDENTIFIER` from its encoded arcs.
pub(crate) fn oid(encoded: &[u8]) -> Vec<u8> {
    tlv(0x06, encoded)
}

/// DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` from fixed-width `r` and `s`
/// (keystores sign ECDSA in the JWS form `r || s`; X.509 and PKCS#10 want this).
pub(crate) fn ecdsa_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    seq(&[&uint(r), &uint(s)])
}

/// A certificate validity time: `UTCTime` before 2050, `GeneralizedTime` from then (RFC 5280).
pub(crate) fn time(t: time::OffsetDateTime) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if (1950..2050).contains(&y) {
        tlv(0x17, format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100).as_bytes())
    } else {
        tlv(0x18, format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_integers_and_times() {
        assert_eq!(tlv(0x04, &[0; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
        assert_eq!(uint(&[0, 0, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(uint(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0, 0]), [0x02, 0x01, 0x00]);
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(time(t), tlv(0x17, b"260102030405Z"));
        let t = time::macros::datetime!(2051-01-02 03:04:05 UTC);
        assert_eq!(time(t), tlv(0x18, b"20510102030405Z"));
    }
}
