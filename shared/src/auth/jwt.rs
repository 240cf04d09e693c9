//! Access tokens: compact JWS with HMAC-SHA256 (RFC 7519, following the RFC 8725 JWT BCP).
//!
//! - The algorithm is pinned: only `HS256` is accepted; `none` and every other value are refused
//!   before any key is touched (RFC 8725 §3.1, §2.1).
//! - Every token names its key (`kid`); all keys in `JWT_SIGNING_KEYS` (current and previous
//!   secret versions) verify, the first one signs, so keys rotate without logging anyone out. A
//!   retired key verifies nothing.
//! - `iss`, `aud`, `exp`, `nbf` and `iat` are checked with at most 30 s of leeway (RFC 8725 §3.8,
//!   §3.9 for issuer and audience).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::crypto::{constant_time_eq, hmac_sha256, random_id};

pub const ISSUER: &str = "rampart";
pub const AUDIENCE: &str = "rampart-api";
/// Access token lifetime: 15 minutes.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Clock skew tolerated on `exp`/`nbf`/`iat`.
pub const LEEWAY_SECS: i64 = 30;
const ALG: &str = "HS256";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub sid: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer or audience")]
    Audience,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

pub fn claims_for(user_id: &str, session_id: &str, now: i64) -> Claims {
    Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user_id.into(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TTL_SECS,
        jti: random_id(),
        sid: session_id.into(),
    }
}

pub fn sign(claims: &Claims, kid: &str, key: &[u8]) -> String {
    let header = Header {
        alg: ALG.into(),
        typ: Some("JWT".into()),
        kid: Some(kid.into()),
    };
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(key, input.as_bytes()));
    format!("{input}.{sig}")
}

/// The `kid` a token names, after checking the algorithm: lets the caller fetch keys (and
/// refresh the secret early when the key id is new).
pub fn key_id(token: &str) -> Result<String, JwtError> {
    let header = token.split('.').next().ok_or(JwtError::Malformed)?;
    let raw = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed)?;
    let h: Header = serde_json::from_slice(&raw).map_err(|_| JwtError::Malformed)?;
    if h.alg != ALG {
        return Err(JwtError::Algorithm);
    }
    h.kid.filter(|k| !k.is_empty()).ok_or(JwtError::UnknownKey)
}

/// Verifies a token against the keys `(kid, key)` currently accepted.
pub fn verify(token: &str, keys: &[(String, String)], now: i64) -> Result<Claims, JwtError> {
    if token.len() > 4096 {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let kid = key_id(token)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let input = format!("{h}.{c}");
    let mut any_key = false;
    let mut valid = false;
    for (k, secret) in keys.iter().filter(|(k, _)| *k == kid) {
        any_key = true;
        let _ = k;
        valid |= constant_time_eq(&hmac_sha256(secret.as_bytes(), input.as_bytes()), &sig);
    }
    if !any_key {
        return Err(JwtError::UnknownKey);
    }
    if !valid {
        return Err(JwtError::Signature);
    }
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| JwtError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&raw).map_err(|_| JwtError::Malformed)?;
    if claims.iss != ISSUER || claims.aud != AUDIENCE {
        return Err(JwtError::Audience);
    }
    if claims.exp + LEEWAY_SECS <= now {
        return Err(JwtError::Expired);
    }
    if claims.nbf - LEEWAY_SECS > now || claims.iat - LEEWAY_SECS > now {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<(String, String)> {
        vec![
            ("k2".into(), "new-key-material-0123456789".into()),
            ("k1".into(), "old-key-material-0123456789".into()),
        ]
    }

    #[test]
    fn round_trip_and_rotation() {
        let c = claims_for("u1", "s1", 1000);
        let t = sign(&c, "k1", b"old-key-material-0123456789");
        assert_eq!(
            verify(&t, &keys(), 1000),
            Ok(c.clone()),
            "the previous key still verifies"
        );
        assert_eq!(
            verify(&t, &keys()[..1], 1000),
            Err(JwtError::UnknownKey),
            "a retired key does not"
        );
    }

    #[test]
    fn none_and_other_algorithms_are_refused() {
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims_for("u", "s", 1000)).unwrap());
        for alg in ["none", "None", "HS512", "RS256"] {
            let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#));
            assert_eq!(
                verify(&format!("{h}.{c}."), &keys(), 1000),
                Err(JwtError::Algorithm),
                "{alg}"
            );
        }
    }

    #[test]
    fn tampering_and_time() {
        let c = claims_for("u1", "s1", 1000);
        let t = sign(&c, "k2", b"new-key-material-0123456789");
        let mut forged = claims_for("admin", "s1", 1000);
        forged.jti = c.jti.clone();
        let parts: Vec<&str> = t.split('.').collect();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            verify(
                &format!("{}.{}.{}", parts[0], body, parts[2]),
                &keys(),
                1000
            ),
            Err(JwtError::Signature)
        );
        assert_eq!(
            verify(&t, &keys(), 1000 + ACCESS_TTL_SECS + LEEWAY_SECS),
            Err(JwtError::Expired)
        );
        assert!(
            verify(&t, &keys(), 1000 + ACCESS_TTL_SECS + LEEWAY_SECS - 1).is_ok(),
            "within leeway"
        );
        assert_eq!(
            verify(&t, &keys(), 1000 - LEEWAY_SECS - 1),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(verify("a.b", &keys(), 1000), Err(JwtError::Malformed));
    }
}
