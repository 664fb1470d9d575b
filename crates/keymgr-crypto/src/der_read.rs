//! Reading definite-length DER, one TLV at a time: the few structures the key manager reads
//! by hand (the shape of a private key, an `AlgorithmIdentifier`, the three parts of a signed
//! certificate), where a full ASN.1 parser would be more than the job.

/// One TLV at the front of `input`: its tag, its contents and what follows. `None` for
/// anything that is not a definite-length DER TLV (lengths of at most 4 bytes).
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// [`read_tlv`] with the whole TLV (tag, length and contents) instead of the tag.
pub fn split_tlv(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (_, content, rest) = read_tlv(input)?;
    let whole = input.get(..input.len() - rest.len())?;
    Some((whole, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        assert_eq!(read_tlv(&[0x04, 0x02, 1, 2, 9]), Some((0x04, &[1u8, 2][..], &[9u8][..])));
        let long = [&[0x30, 0x81, 0x80][..], &[7; 0x80]].concat();
        assert_eq!(read_tlv(&long).map(|(t, c, r)| (t, c.len(), r.len())), Some((0x30, 0x80, 0)));
        assert_eq!(split_tlv(&[0x05, 0x00, 0xff]), Some((&[0x05u8, 0x00][..], &[][..], &[0xffu8][..])));
        for bad in [&[][..], &[0x30], &[0x30, 0x80], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x03, 1]] {
            assert_eq!(read_tlv(bad), None, "{bad:?}");
        }
    }
}
