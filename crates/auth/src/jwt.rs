//! Access tokens: compact JWS with HMAC-SHA256 (RFC 7519, following the RFC 8725 JWT BCP),
//! signed and verified by the `jsonwebtoken` crate; this file holds the policy around it.
//!
//! - The algorithm is pinned: only `HS256` is accepted; `none` and every other value are refused
//!   before any key is touched (RFC 8725 §3.1, §2.1), and the crate is told HS256 only.
//! - Every token names its key (`kid`); all keys in `JWT_SIGNING_KEYS` (current and previous
//!   secret versions) verify, the first one signs, so keys rotate without logging anyone out. A
//!   retired key verifies nothing.
//! - Explicit typing (RFC 8725 §3.11): access tokens carry `typ: at+jwt` (the media type RFC 9068
//!   §2.1 registers for JWT access tokens) and nothing else is taken for one, so another JWT
//!   signed with the same key can never pass as an access token.
//! - A header with `crit` is refused: we implement no JWS extension, and a recipient must reject
//!   critical extensions it does not understand (RFC 7515 §4.1.11; the crate ignores the member).
//! - `iss`, `aud`, `exp`, `nbf` and `iat` are checked with at most 30 s of leeway (RFC 8725 §3.8,
//!   §3.9 for issuer and audience). The crate checks issuer, audience and that the claims are
//!   present; `exp`/`nbf`/`iat` are compared here with the service clock, because the crate reads
//!   the system clock and ours is injected (tests move it; a Lambda's is the system's anyway).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use rampart_platform::crypto::random_id;

pub const ISSUER: &str = "rampart";
pub const AUDIENCE: &str = "rampart-api";
/// Longest access token lifetime: 15 minutes (`session::issue` cuts it to `ACCESS_TOKEN_TTL_SECS`).
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Clock skew tolerated on `exp`/`nbf`/`iat`.
pub const LEEWAY_SECS: i64 = 30;
const ALG: &str = "HS256";
/// The `typ` header of an access token (RFC 8725 §3.11 explicit typing; RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";
/// Longer than any token we issue: refused before any parsing.
const MAX_LEN: usize = 4096;

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

/// The header fields read before the crate parses the token: the crate's own header type has no
/// `none` algorithm, so it would call such a token malformed; we want to say "algorithm".
#[derive(Debug, Deserialize)]
struct Peek {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Present at all (even empty): refused, see the module comment.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("not an access token (typ)")]
    Type,
    #[error("critical header extension not understood")]
    Critical,
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

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature => JwtError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => JwtError::Algorithm,
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => JwtError::Audience,
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            _ => JwtError::Malformed,
        }
    }
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

/// Signs `claims` with HS256 under key `kid`, typed `at+jwt`.
pub fn sign(claims: &Claims, kid: &str, key: &[u8]) -> Result<String, JwtError> {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(TYP.into());
    header.kid = Some(kid.into());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(key),
    )?)
}

/// The `kid` a token names, after checking the algorithm: lets the caller fetch keys (and
/// refresh the secret early when the key id is new).
pub fn key_id(token: &str) -> Result<String, JwtError> {
    Ok(peek(token)?.kid.unwrap_or_default())
}

fn peek(token: &str) -> Result<Peek, JwtError> {
    let header = token.split('.').next().ok_or(JwtError::Malformed)?;
    let raw = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed)?;
    let h: Peek = serde_json::from_slice(&raw).map_err(|_| JwtError::Malformed)?;
    if h.alg != ALG {
        return Err(JwtError::Algorithm);
    }
    if h.crit.is_some() {
        return Err(JwtError::Critical);
    }
    if h.kid.as_deref().is_none_or(str::is_empty) {
        return Err(JwtError::UnknownKey);
    }
    Ok(h)
}

/// What the crate checks: HS256 only, our issuer and audience, every time claim present. Time
/// itself is compared in `verify` with the service clock (see the module comment).
fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = LEEWAY_SECS as u64;
    v
}

/// Verifies a token against the keys `(kid, key)` currently accepted.
pub fn verify(token: &str, keys: &[(String, String)], now: i64) -> Result<Claims, JwtError> {
    if token.len() > MAX_LEN || token.split('.').count() != 3 {
        return Err(JwtError::Malformed);
    }
    let header = peek(token)?;
    // Media types compare case-insensitively (RFC 8725 §3.11, RFC 7515 §4.1.9).
    if !header.typ.is_some_and(|t| t.eq_ignore_ascii_case(TYP)) {
        return Err(JwtError::Type);
    }
    let kid = header.kid.unwrap_or_default();
    let validation = validation();
    let mut outcome = Err(JwtError::UnknownKey);
    for (_, secret) in keys.iter().filter(|(k, _)| *k == kid) {
        outcome = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .map(|data| data.claims)
        .map_err(JwtError::from);
        if outcome.is_ok() {
            break;
        }
    }
    let claims = outcome?;
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
        let t = sign(&c, "k1", b"old-key-material-0123456789").unwrap();
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
        let t = sign(&c, "k2", b"new-key-material-0123456789").unwrap();
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

    fn hand_signed(header: &str, claims: &Claims, key: &[u8]) -> String {
        let h = URL_SAFE_NO_PAD.encode(header);
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let sig = rampart_platform::crypto::hmac_sha256(key, format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn a_token_of_another_type_is_not_an_access_token() {
        // RFC 8725 §3.11: same key, same claims, but not typed as an access token.
        let key = b"new-key-material-0123456789";
        let c = claims_for("u1", "s1", 1000);
        for header in [
            r#"{"alg":"HS256","typ":"JWT","kid":"k2"}"#,
            r#"{"alg":"HS256","kid":"k2"}"#,
        ] {
            assert_eq!(
                verify(&hand_signed(header, &c, key), &keys(), 1000),
                Err(JwtError::Type),
                "{header}"
            );
        }
        let typed = hand_signed(r#"{"alg":"HS256","typ":"AT+JWT","kid":"k2"}"#, &c, key);
        assert_eq!(
            verify(&typed, &keys(), 1000),
            Ok(c),
            "media types ignore case"
        );
    }

    #[test]
    fn a_critical_header_extension_is_refused() {
        // RFC 7515 §4.1.11: we understand no extension, so any `crit` makes the token invalid.
        let key = b"new-key-material-0123456789";
        let c = claims_for("u1", "s1", 1000);
        for header in [
            r#"{"alg":"HS256","typ":"at+jwt","kid":"k2","crit":["exp"]}"#,
            r#"{"alg":"HS256","typ":"at+jwt","kid":"k2","crit":["x-ext"],"x-ext":"on"}"#,
            r#"{"alg":"HS256","typ":"at+jwt","kid":"k2","crit":[]}"#,
        ] {
            assert_eq!(
                verify(&hand_signed(header, &c, key), &keys(), 1000),
                Err(JwtError::Critical),
                "{header}"
            );
        }
    }

    #[test]
    fn another_issuer_or_audience_is_refused() {
        let key = b"new-key-material-0123456789";
        let mut c = claims_for("u1", "s1", 1000);
        c.aud = "someone-else".into();
        assert_eq!(
            verify(&sign(&c, "k2", key).unwrap(), &keys(), 1000),
            Err(JwtError::Audience)
        );
        let mut c = claims_for("u1", "s1", 1000);
        c.iss = "evil".into();
        assert_eq!(
            verify(&sign(&c, "k2", key).unwrap(), &keys(), 1000),
            Err(JwtError::Audience)
        );
    }
}
