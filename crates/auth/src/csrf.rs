//! CSRF protection for cookie-authenticated requests: the signed double-submit cookie pattern
//! (OWASP CSRF Prevention Cheat Sheet). The `csrf_token` cookie is an HMAC of the session id, so
//! a token planted from another session (or forged) does not verify; the request must echo it
//! in `X-CSRF-Token`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use rampart_platform::crypto::{constant_time_eq, hmac_sha256};

fn key(pepper: &[u8]) -> [u8; 32] {
    hmac_sha256(pepper, b"rampart csrf key v1")
}

pub fn token(pepper: &[u8], session_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(
        &key(pepper),
        format!("csrf:{session_id}").as_bytes(),
    ))
}

/// Header and cookie must be equal and be this session's token.
pub fn verify(pepper: &[u8], session_id: &str, header: Option<&str>, cookie: Option<&str>) -> bool {
    let (Some(h), Some(c)) = (header, cookie) else {
        return false;
    };
    let expected = token(pepper, session_id);
    constant_time_eq(h.as_bytes(), c.as_bytes())
        && constant_time_eq(h.as_bytes(), expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_session() {
        let t = token(b"pepper", "s1");
        assert!(verify(b"pepper", "s1", Some(&t), Some(&t)));
        assert!(
            !verify(b"pepper", "s2", Some(&t), Some(&t)),
            "another session's token"
        );
        assert!(!verify(b"pepper", "s1", Some(&t), Some("x")), "mismatch");
        assert!(!verify(b"pepper", "s1", None, Some(&t)), "missing header");
    }
}
