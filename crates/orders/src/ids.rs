//! Identifiers of the shop: order, payment and eSIM ids (time-ordered, unguessable), ICCIDs
//! with their Luhn check digit, and activation codes (UUID v4).

use rampart_platform::crypto::random_bytes;

/// What an id names; each kind has its own prefix so an id can never be taken for another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Order,
    Payment,
    Esim,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::Order => "ord_",
            IdKind::Payment => "pay_",
            IdKind::Esim => "esim_",
        }
    }
}

/// Hex digits of the creation time (milliseconds; 12 digits last until the year 10889).
const TIME_HEX: usize = 12;
/// Random bytes after the time: 80 bits, so ids cannot be guessed (OWASP ASVS V8.3: object
/// references a caller cannot enumerate, on top of the per-user partition).
const RANDOM_BYTES: usize = 10;
const ID_HEX: usize = TIME_HEX + RANDOM_BYTES * 2;

/// A fresh id: prefix, creation time, randomness. Ids of one user sort by creation time.
pub fn new_id(kind: IdKind, now_ms: i64) -> String {
    format!(
        "{}{:012x}{}",
        kind.prefix(),
        now_ms.clamp(0, 0xffff_ffff_ffff),
        hex::encode(random_bytes(RANDOM_BYTES))
    )
}

/// Whether `id` is an id of `kind` as `new_id` makes them. Checked before any lookup, so no
/// client-chosen text ever reaches a key.
pub fn is_id(kind: IdKind, id: &str) -> bool {
    id.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == ID_HEX
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The Luhn check digit (ISO/IEC 7812-1 Annex B) over `digits`, most significant first.
pub fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            // Doubled from the right-most digit, since the check digit will follow it.
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A 19-digit ICCID (ITU-T E.118): `89` (telecom), 16 random digits, Luhn check digit.
pub fn new_iccid() -> String {
    let mut digits = vec![8u8, 9];
    while digits.len() < 18 {
        for b in random_bytes(16) {
            // Rejection sampling: 250 is the largest multiple of 10 in a byte, so every digit
            // is equally likely.
            if b < 250 && digits.len() < 18 {
                digits.push(b % 10);
            }
        }
    }
    digits.push(luhn_digit(&digits));
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// An activation code: a random (version 4) UUID, 122 bits from the OS generator.
pub fn new_activation_code() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_kind_and_sort_by_time() {
        let a = new_id(IdKind::Order, 1_767_225_600_000);
        let b = new_id(IdKind::Order, 1_767_225_600_001);
        assert!(is_id(IdKind::Order, &a));
        assert!(!is_id(IdKind::Payment, &a));
        assert!(a < b);
        assert_ne!(new_id(IdKind::Esim, 1), new_id(IdKind::Esim, 1));
        for bad in [
            "",
            "ord_",
            "ord_xyz",
            &a.to_uppercase(),
            &format!("{a}0"),
            "../x",
        ] {
            assert!(!is_id(IdKind::Order, bad), "{bad}");
        }
    }

    #[test]
    fn luhn_matches_known_numbers() {
        // The classic example of ISO/IEC 7812: 7992739871 has check digit 3.
        assert_eq!(luhn_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
        // A sample ICCID, 8944500102198304826 (check digit 6, verified independently in Python).
        let d: Vec<u8> = "894450010219830482".bytes().map(|b| b - b'0').collect();
        assert_eq!(luhn_digit(&d), 6);
    }

    #[test]
    fn iccids_are_19_digits_from_89_with_a_valid_check_digit() {
        for _ in 0..200 {
            let iccid = new_iccid();
            assert_eq!(iccid.len(), 19);
            assert!(iccid.starts_with("89"));
            let d: Vec<u8> = iccid.bytes().map(|b| b - b'0').collect();
            assert_eq!(luhn_digit(&d[..18]), d[18]);
        }
    }
}
