//! Ed25519 public keys of small order ("weak" keys), which no honest key generation yields.
//!
//! NEAR's `ed25519_verify` (ed25519-dalek's non-strict `verify`) accepts, for a key of small
//! order, signatures that verify for *every* message: a node registered with such a key could
//! attest to any result without running the model, and copy any revealed answer. The oracle
//! contract refuses them at registration, and the SDK refuses attestations checked against one.

/// Every 32-byte encoding that ed25519 decoding maps to a point of small order (the eight
/// points of the curve's torsion subgroup): for each point its canonical encoding with either
/// sign bit, and the non-canonical ones (`y + p` for `y` = 0 and 1) with either sign bit. The
/// test below derives this list with curve25519-dalek.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 14] = [
    // y = 0 (order 4), and its non-canonical y = p.
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    // y = 1 (the identity, order 1), and its non-canonical y = p + 1.
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("0100000000000000000000000000000000000000000000000000000000000080"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    // y = p − 1 (order 2).
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    // The two y of the four points of order 8.
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
];

/// Whether `key` encodes a point of small order: a key no signature check can trust.
pub fn is_weak_ed25519_key(key: &[u8; 32]) -> bool {
    SMALL_ORDER_ENCODINGS.contains(key)
}

/// Decodes 64 hex digits at compile time.
const fn hex32(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let text = text.as_bytes();
    assert!(text.len() == 64, "64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use std::collections::BTreeSet;

    /// p = 2^255 − 19, little-endian.
    const P: [u8; 32] = hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

    /// `a + b` over 256 bits, little-endian (no overflow for the values used here).
    fn add(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        out
    }

    /// Every encoding whose y is `y` modulo p: `y` and, when it fits in 255 bits, `y + p`,
    /// each with either sign bit.
    fn encodings_of(y: [u8; 32]) -> Vec<[u8; 32]> {
        let mut ys = vec![y];
        let shifted = add(&y, &P);
        if shifted[31] & 0x80 == 0 {
            ys.push(shifted);
        }
        ys.into_iter()
            .flat_map(|y| {
                [y, {
                    let mut signed = y;
                    signed[31] |= 0x80;
                    signed
                }]
            })
            .collect()
    }

    #[test]
    fn the_list_is_exactly_the_encodings_of_small_order_points() {
        let mut derived = BTreeSet::new();
        for point in EIGHT_TORSION {
            let mut y = point.compress().to_bytes();
            y[31] &= 0x7f;
            for encoding in encodings_of(y) {
                if let Some(decoded) = CompressedEdwardsY(encoding).decompress() {
                    if decoded.is_small_order() {
                        derived.insert(encoding);
                    }
                }
            }
        }
        let listed: BTreeSet<[u8; 32]> = SMALL_ORDER_ENCODINGS.into_iter().collect();
        let show = |set: &BTreeSet<[u8; 32]>| set.iter().map(hex::encode).collect::<Vec<_>>();
        assert_eq!(show(&listed), show(&derived));
        assert_eq!(listed.len(), SMALL_ORDER_ENCODINGS.len(), "no duplicates");
    }

    #[test]
    fn generated_keys_are_not_weak() {
        for seed in 0..64u8 {
            let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
            assert!(!is_weak_ed25519_key(key.as_bytes()));
        }
    }

    #[test]
    fn a_weak_key_signature_verifies_for_any_message() {
        // Why they are refused: the identity key and the signature (R = identity, S = 0) pass
        // ed25519-dalek's `verify`, which NEAR's host function uses, for every message.
        let identity = SMALL_ORDER_ENCODINGS[4];
        assert!(is_weak_ed25519_key(&identity));
        let key = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&identity);
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        use ed25519_dalek::Verifier;
        for message in [&b"request 1: Paris"[..], b"request 2: anything"] {
            assert!(key.verify(message, &signature).is_ok());
        }
    }
}
