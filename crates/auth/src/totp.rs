//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30-second
//! steps, the secret's base32 text and the `otpauth://` URI authenticator apps scan. These are
//! the parameters every common authenticator app assumes (RFC 6238 §4 and §5.2 defaults).

use hmac::{Hmac, Mac};
use sha1::Sha1;

use rampart_platform::crypto::constant_time_eq;

/// RFC 6238 §5.2: a 30-second time step.
pub const STEP_SECS: i64 = 30;
/// RFC 4226 §5.3: at least 6 digits.
pub const DIGITS: u32 = 6;
/// RFC 6238 §5.2 and §6: at most one step of clock drift either way is accepted.
pub const SKEW_STEPS: i64 = 1;
/// RFC 4226 §4 R6: 160 bits, the length of the HMAC-SHA1 key.
pub const SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show next to the account.
pub const ISSUER: &str = "Rampart";

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4226 §5.3: HOTP value of `counter`, `digits` long (dynamic truncation).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0f);
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    bin % 10u32.pow(digits)
}

/// The time step of `now_secs` (RFC 6238 §4.2, T0 = 0).
pub fn step_of(now_secs: i64) -> i64 {
    now_secs.div_euclid(STEP_SECS)
}

/// The 6-digit code of `step`.
pub fn code_at(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.max(0) as u64, DIGITS),
        width = DIGITS as usize
    )
}

/// The step `code` is the code of, among the current one and one either side, if any; the
/// caller refuses a step not later than the last one accepted (each code is used once).
pub fn matching_step(secret: &[u8], code: &str, now_secs: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_secs);
    // Every candidate is compared (constant time, no early exit) so timing says nothing about
    // which step matched.
    let mut found = None;
    for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
        if constant_time_eq(code_at(secret, step).as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32, upper case, without padding (what authenticator apps read).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(BASE32[((n >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

/// The `otpauth://` URI of a secret (Google Authenticator's Key Uri Format), for a QR code; the
/// algorithm, digits and period are the format's defaults, so they are left out.
pub fn otpauth_uri(email: &str, secret_b32: &str) -> String {
    let label = format!("{ISSUER}:{email}");
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z'
                | b'a'..=b'z'
                | b'0'..=b'9'
                | b'-'
                | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'@' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}?secret={secret_b32}&issuer={ISSUER}",
        enc(&label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits, seed "12345678901234567890").
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let seed = b"12345678901234567890";
        for (time, want) in [
            (59_i64, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(seed, step_of(time) as u64, 8), want, "T = {time}");
        }
    }

    #[test]
    fn codes_match_one_step_either_way_and_no_further() {
        let seed = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for d in -1..=1 {
            let code = code_at(seed, step + d);
            assert_eq!(matching_step(seed, &code, now), Some(step + d));
        }
        for d in [-2, 2] {
            assert_eq!(matching_step(seed, &code_at(seed, step + d), now), None);
        }
        assert_eq!(matching_step(seed, "12345", now), None);
        assert_eq!(matching_step(seed, "abcdef", now), None);
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; 20]).len(), 32);
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let uri = otpauth_uri("a+b@example.com", "MZXW6YTBOI");
        assert_eq!(
            uri,
            "otpauth://totp/Rampart:a%2Bb@example.com?secret=MZXW6YTBOI&issuer=Rampart"
        );
    }
}
