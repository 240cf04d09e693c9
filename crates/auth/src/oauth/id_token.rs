//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7, RFC 8725): RS256 only (`none`, HS*
//! and every other `alg` refused, RFC 8725 §3.1: the algorithm is ours to pin, not the token's to
//! name), a `kid` the provider publishes, the signature verified with ring's RSA PKCS#1 v1.5
//! SHA-256 (2048 to 8192-bit keys), then the claims: `iss` exactly the issuer, `aud` containing
//! our client id (and `azp` our client id when present or when there are several audiences),
//! `exp` in the future and `iat` not in it (a minute of clock skew either way), the `nonce`
//! the browser's flow cookie holds, and a `sub`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::discovery::RsaKey;
use rampart_platform::crypto::constant_time_eq;

/// Clock skew allowed on `exp` and `iat`: a minute (OIDC Core §3.1.3.7 leaves it to us; RFC 7519
/// §4.1.4 "a few minutes" at most).
pub const LEEWAY_SECS: i64 = 60;
/// An ID token fresh from the token endpoint was issued moments ago; one issued longer ago than
/// this is refused (OIDC Core §3.1.3.7 item 10 lets the client bound `iat`).
pub const MAX_AGE_SECS: i64 = 600;

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
}

/// The claims a sign-in uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// A token's header, read before its key is looked up.
pub struct Header {
    pub kid: String,
}

fn part(raw: &str) -> Result<Value, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| "a part is not base64url")?;
    serde_json::from_slice(&bytes).map_err(|_| "a part is not JSON")
}

/// The header, when it asks for RS256 with a key id and no extension.
pub fn header(token: &str) -> Result<Header, &'static str> {
    let mut parts = token.split('.');
    let h = part(parts.next().unwrap_or_default())?;
    if token.split('.').count() != 3 {
        return Err("not a JWS in compact form");
    }
    if h.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("alg is not RS256");
    }
    // RFC 7515 §4.1.11: no extension is understood here, so none may be critical.
    if h.get("crit").is_some() {
        return Err("crit header");
    }
    let kid = h
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("no kid")?
        .to_string();
    Ok(Header { kid })
}

/// The signature over the first two parts, with `key`.
pub fn signature_holds(token: &str, key: &RsaKey) -> bool {
    let Some((signed, sig)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let public = ring::signature::RsaPublicKeyComponents {
        n: &key.n,
        e: &key.e,
    };
    public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &sig,
        )
        .is_ok()
}

/// The claims, when every check holds (the signature already verified).
pub fn claims(token: &str, want: &Expected<'_>) -> Result<Claims, &'static str> {
    let payload = token.split('.').nth(1).ok_or("no payload")?;
    check(&part(payload)?, want)
}

fn check(c: &Value, want: &Expected<'_>) -> Result<Claims, &'static str> {
    let s = |n: &str| c.get(n).and_then(Value::as_str);
    let n = |n: &str| c.get(n).and_then(Value::as_i64);
    if s("iss") != Some(want.issuer) {
        return Err("iss is not the issuer");
    }
    let audiences: Vec<&str> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err("no aud"),
    };
    if !audiences.contains(&want.client_id) {
        return Err("aud is not this client");
    }
    match s("azp") {
        Some(azp) if azp != want.client_id => return Err("azp is another client"),
        None if audiences.len() > 1 => return Err("several audiences and no azp"),
        _ => {}
    }
    let exp = n("exp").ok_or("no exp")?;
    if exp + LEEWAY_SECS <= want.now {
        return Err("expired");
    }
    let iat = n("iat").ok_or("no iat")?;
    if iat > want.now + LEEWAY_SECS || iat < want.now - MAX_AGE_SECS {
        return Err("iat out of range");
    }
    let nonce = s("nonce").ok_or("no nonce")?;
    if !constant_time_eq(nonce.as_bytes(), want.nonce.as_bytes()) {
        return Err("nonce is not the flow's");
    }
    let sub = s("sub").filter(|v| !v.is_empty() && v.len() <= 255);
    // Google sends a boolean; some providers send the string "true".
    let email_verified = matches!(c.get("email_verified"), Some(Value::Bool(true)))
        || s("email_verified") == Some("true");
    Ok(Claims {
        sub: sub.ok_or("no sub")?.to_string(),
        email: s("email").map(str::to_string),
        email_verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://accounts.google.com",
            client_id: "me",
            nonce: "n1",
            now: 10_000,
        }
    }

    fn good() -> Value {
        json!({"iss": "https://accounts.google.com", "aud": "me", "exp": 10_300, "iat": 9_990,
               "nonce": "n1", "sub": "1099", "email": "a@example.com", "email_verified": true})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = good();
        c[k] = v;
        c
    }

    #[test]
    fn every_claim_is_checked() {
        assert_eq!(
            check(&good(), &want()),
            Ok(Claims {
                sub: "1099".into(),
                email: Some("a@example.com".into()),
                email_verified: true
            })
        );
        for (k, v, why) in [
            (
                "iss",
                json!("https://accounts.google.com/"),
                "iss is not the issuer",
            ),
            ("aud", json!("another"), "aud is not this client"),
            (
                "aud",
                json!(["another", "me"]),
                "several audiences and no azp",
            ),
            ("azp", json!("another"), "azp is another client"),
            ("exp", json!(9_940), "expired"),
            ("iat", json!(10_061), "iat out of range"),
            ("iat", json!(9_399), "iat out of range"),
            ("nonce", json!("n2"), "nonce is not the flow's"),
            ("sub", json!(""), "no sub"),
        ] {
            assert_eq!(check(&with(k, v), &want()), Err(why), "{k}");
        }
        let mut multi = with("aud", json!(["another", "me"]));
        multi["azp"] = json!("me");
        assert!(check(&multi, &want()).is_ok());
        let unverified = check(&with("email_verified", json!("false")), &want()).unwrap();
        assert!(!unverified.email_verified);
    }

    #[test]
    fn only_rs256_with_a_kid_is_accepted() {
        let enc = |h: Value| {
            format!(
                "{}.e30.c2ln",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap())
            )
        };
        assert!(header(&enc(json!({"alg": "RS256", "kid": "k"}))).is_ok());
        for h in [
            json!({"alg": "none", "kid": "k"}),
            json!({"alg": "HS256", "kid": "k"}),
            json!({"alg": "RS256"}),
            json!({"alg": "RS256", "kid": "k", "crit": ["exp"]}),
        ] {
            assert!(header(&enc(h.clone())).is_err(), "{h}");
        }
        assert!(header("e30.e30").is_err(), "two parts");
    }
}
