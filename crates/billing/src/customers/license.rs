//! Licenses an instance verifies offline: a JWT signed with Ed25519 (JWS `EdDSA`, RFC 8037)
//! under a key of its own, `LICENSE_SIGNING_KEY`, never the session JWT keys. A leaked session
//! key therefore cannot mint licenses, and a license can never pass as an access token
//! (another algorithm, another key). The public keys are served as a JWKS for instances to pin.
//!
//! `LICENSE_SIGNING_KEY` is `kid:seed[,kid:seed]`, each seed 32 random bytes in unpadded
//! base64url. The first key signs; every key (and the previous secret version's) is published,
//! so a new key can be announced before it signs and an old one kept until its licenses expire.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::record::Customer;
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::{ApiError, StartupError};
use rampart_platform::secrets::{parse_keyed_list, weakness};
use rampart_platform::tiers::{Limits, Tier};
use rampart_store::{keys, load};

pub const LICENSE_SIGNING_KEY: &str = "LICENSE_SIGNING_KEY";
/// A license is valid for 30 days; an instance fetches a fresh one well before (the issue's
/// period, and short enough that a downgrade or a revoked customer reaches every instance).
pub const LICENSE_TTL_SECS: i64 = 30 * 86_400;

/// The claims of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who issued it: the public base URL of this service.
    pub iss: String,
    /// The customer id.
    pub sub: String,
    pub tier: Tier,
    pub limits: Limits,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone)]
pub struct License {
    pub token: String,
    pub kid: String,
    pub claims: Claims,
}

fn kid_ok(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
}

/// Parses the secret's value into `(kid, key)` pairs, first one signing.
pub fn parse_keys(value: &str) -> Result<Vec<(String, SigningKey)>, String> {
    let entries = parse_keyed_list(value).map_err(|e| e.to_string())?;
    entries
        .into_iter()
        .map(|(kid, seed)| {
            if !kid_ok(&kid) {
                return Err(format!("key id {kid:?} must be 1-64 of A-Z a-z 0-9 - _ ."));
            }
            let bytes: [u8; 32] = URL_SAFE_NO_PAD
                .decode(seed.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("key {kid} must be 32 bytes of unpadded base64url"))?;
            Ok((kid, SigningKey::from_bytes(&bytes)))
        })
        .collect()
}

/// Every accepted key, current secret version first; at least one.
async fn keys(state: &AppState) -> Result<Vec<(String, SigningKey)>, ApiError> {
    let versions = state
        .secrets
        .versions(LICENSE_SIGNING_KEY)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let mut out: Vec<(String, SigningKey)> = Vec::new();
    for v in versions {
        let parsed = parse_keys(&v).map_err(|why| {
            tracing::error!(error = %why, "LICENSE_SIGNING_KEY is malformed");
            ApiError::Unavailable("license signing key is malformed".into())
        })?;
        for (kid, key) in parsed {
            if !out.iter().any(|(k, _)| *k == kid) {
                out.push((kid, key));
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::Unavailable(
            "no license signing key configured".into(),
        ));
    }
    Ok(out)
}

/// The public keys as a JWK Set (RFC 7517; OKP keys per RFC 8037 §2).
pub async fn jwks(state: &AppState) -> Result<Json, ApiError> {
    let keys: Vec<Json> = keys(state)
        .await?
        .iter()
        .map(|(kid, key)| {
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                "kid": kid,
                "alg": "EdDSA",
                "use": "sig",
            })
        })
        .collect();
    Ok(json!({ "keys": keys }))
}

/// `header.claims.signature` in JWS compact serialisation (RFC 7515 §7.1).
fn sign(kid: &str, key: &SigningKey, claims: &Claims) -> Result<String, ApiError> {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    let header = serde_json::to_vec(&header).map_err(ApiError::internal)?;
    let claims = serde_json::to_vec(claims).map_err(ApiError::internal)?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// A fresh license for a customer, reflecting its tier now.
pub async fn issue(state: &AppState, customer_id: &str) -> Result<License, ApiError> {
    let customer: Customer = load(&*state.store, &keys::customer(customer_id))
        .await?
        .filter(|c: &Customer| !c.is_deleted())
        .ok_or_else(|| ApiError::NotFound("No such customer.".into()))?;
    let keys = keys(state).await?;
    let (kid, key) = &keys[0];
    let now = state.clock.now_secs();
    let claims = Claims {
        iss: state.settings.license_issuer.clone(),
        sub: customer.id,
        tier: customer.tier,
        limits: state.settings.tiers.limits(customer.tier),
        iat: now,
        exp: now + LICENSE_TTL_SECS,
        jti: random_id(),
    };
    let token = sign(kid, key, &claims)?;
    tracing::info!(kid = %kid, "license issued");
    Ok(License {
        token,
        kid: kid.clone(),
        claims,
    })
}

/// In production the license key must be present and strong, or customers-api does not start.
pub async fn check_production(state: &AppState) -> Result<(), StartupError> {
    if !state.settings.is_production() {
        return Ok(());
    }
    let refuse = |why: String| StartupError(format!("refusing to start in production: {why}"));
    let value = state
        .secrets
        .get(LICENSE_SIGNING_KEY)
        .await
        .map_err(|e| refuse(format!("cannot load secrets: {e}")))?
        .ok_or_else(|| refuse(format!("secret {LICENSE_SIGNING_KEY} is missing")))?;
    let keys = parse_keys(&value).map_err(|e| refuse(format!("{LICENSE_SIGNING_KEY}: {e}")))?;
    if keys.is_empty() {
        return Err(refuse(format!("secret {LICENSE_SIGNING_KEY} holds no key")));
    }
    for (kid, seed) in parse_keyed_list(&value).unwrap_or_default() {
        if let Some(why) = weakness(&seed) {
            return Err(refuse(format!(
                "secret {LICENSE_SIGNING_KEY} key {kid} {why}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1, TEST 1: the secret key and its public key.
    const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn seed_b64() -> String {
        URL_SAFE_NO_PAD.encode(hex::decode(SEED_HEX).unwrap())
    }

    #[test]
    fn keys_parse_to_the_rfc_8032_public_key() {
        let keys = parse_keys(&format!("lic1:{}", seed_b64())).unwrap();
        assert_eq!(keys[0].0, "lic1");
        assert_eq!(
            hex::encode(keys[0].1.verifying_key().as_bytes()),
            PUBLIC_HEX
        );
    }

    #[test]
    fn malformed_keys_are_named() {
        assert!(parse_keys("lic1").is_err());
        assert!(parse_keys("lic1:c2hvcnQ").unwrap_err().contains("32 bytes"));
        assert!(parse_keys(&format!("bad kid:{}", seed_b64())).is_err());
    }

    #[test]
    fn tokens_are_three_base64url_parts_with_an_eddsa_header() {
        let keys = parse_keys(&format!("lic1:{}", seed_b64())).unwrap();
        let claims = Claims {
            iss: "https://billing.example".into(),
            sub: "c".into(),
            tier: Tier::Pro,
            limits: rampart_platform::tiers::Table::default().limits(Tier::Pro),
            iat: 1,
            exp: 2,
            jti: "j".into(),
        };
        let token = sign("lic1", &keys[0].1, &claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Json =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({ "alg": "EdDSA", "typ": "JWT", "kid": "lic1" })
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    }
}
