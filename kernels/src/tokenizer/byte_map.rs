//! GPT-2's reversible map between bytes and printable characters.
//!
//! Byte-level BPE vocabularies spell every byte as one visible character: the 188 printable
//! Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves and the other 68 bytes
//! (controls, space, DEL, the C1 block, NBSP, soft hyphen) are moved, in byte order, to
//! U+0100..U+0143. So a space is `Ġ` (U+0120) and a newline `Ċ` (U+010A).

/// The first character used for the bytes that are not printable.
const SHIFTED_BASE: u32 = 0x100;

/// Whether `byte` is one of the printable bytes that stand for themselves.
const fn is_printable(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The character of every byte, built once at compile time.
const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut shifted = 0;
    let mut byte = 0;
    while byte < 256 {
        let code = if is_printable(byte as u8) {
            byte as u32
        } else {
            shifted += 1;
            SHIFTED_BASE + shifted - 1
        };
        table[byte] = match char::from_u32(code) {
            Some(c) => c,
            None => panic!("byte map codes are valid characters"),
        };
        byte += 1;
    }
    table
};

/// The character that spells `byte` in a byte-level vocabulary.
pub(crate) fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[usize::from(byte)]
}

/// The byte that `c` spells, or `None` when `c` is not in the byte alphabet.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if let Ok(byte) = u8::try_from(code) {
        return is_printable(byte).then_some(byte);
    }
    // The shifted bytes, in order: 0x00..=0x20 (33), 0x7F..=0xA0 (34), 0xAD (1).
    match code.checked_sub(SHIFTED_BASE)? {
        n @ 0..=32 => Some(n as u8),
        n @ 33..=66 => Some(0x7F + (n - 33) as u8),
        67 => Some(0xAD),
        _ => None,
    }
}

/// Decodes a byte-level token text into its bytes, or `None` if a character is not in the
/// byte alphabet.
pub(crate) fn decode_text(text: &str) -> Option<Vec<u8>> {
    text.chars().map(char_to_byte).collect()
}

/// Spells `bytes` in the byte alphabet.
pub(crate) fn encode_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_and_characters_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for byte in 0..=255u8 {
            let c = byte_to_char(byte);
            assert!(seen.insert(c), "byte {byte:#04x} shares character {c:?}");
            assert_eq!(char_to_byte(c), Some(byte));
        }
    }

    #[test]
    fn known_characters() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'\t'), 'ĉ');
        assert_eq!(byte_to_char(b'a'), 'a');
        assert_eq!(byte_to_char(0x00), '\u{100}');
        assert_eq!(byte_to_char(0x7F), '\u{121}');
        assert_eq!(byte_to_char(0xAD), '\u{143}');
        assert_eq!(byte_to_char(0xE9), 'é');
    }

    #[test]
    fn characters_outside_the_alphabet_are_rejected() {
        assert_eq!(char_to_byte(' '), None);
        assert_eq!(char_to_byte('\n'), None);
        assert_eq!(char_to_byte('\u{AD}'), None);
        assert_eq!(char_to_byte('\u{144}'), None);
        assert_eq!(char_to_byte('中'), None);
        assert_eq!(decode_text("aĠb"), Some(b"a b".to_vec()));
        assert_eq!(decode_text("a b"), None);
    }
}
