//! Verifies a Rampart license offline, the way a customer instance would: against a JWKS it
//! fetched once from `GET /licenses/jwks.json` and keeps on disk. Nothing here calls the
//! billing service or uses Rampart's own signing code: only Ed25519 (ed25519-dalek), base64
//! and JSON, so the recipe ports to any language with an Ed25519 library.
//!
//! ```sh
//! curl -s https://billing.example.com/licenses/jwks.json > jwks.json
//! curl -s -H "X-API-Key: $RAMPART_API_KEY" https://billing.example.com/licenses/current \
//!   | jq -r .license > license.jwt
//! cargo run -p rampart-billing --example verify_license -- license.jwt jwks.json [expected issuer]
//! ```
//!
//! Exit status 0 and the claims on stdout when the license is valid; 1 and the reason otherwise.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

/// Clock difference tolerated between the billing service and the instance.
const LEEWAY_SECS: i64 = 300;

fn b64_json(part: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("{what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("{what} is not JSON"))
}

/// The Ed25519 public key with this `kid` in a JWK Set (RFC 7517, OKP keys per RFC 8037).
fn find_key(jwks: &Value, kid: &str) -> Result<VerifyingKey, String> {
    let jwk = jwks["keys"]
        .as_array()
        .ok_or("the JWKS has no keys array")?
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| format!("no key {kid:?} in the JWKS (fetch it again if it was rotated)"))?;
    if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" {
        return Err(format!("key {kid:?} is not an Ed25519 OKP key"));
    }
    let x: [u8; 32] = jwk["x"]
        .as_str()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("key {kid:?} has no 32-byte x"))?;
    VerifyingKey::from_bytes(&x).map_err(|_| format!("key {kid:?} is not a valid point"))
}

/// Checks a license against a JWKS at time `now` (Unix seconds) and returns its claims.
pub fn verify(token: &str, jwks_json: &str, now: i64) -> Result<Value, String> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts[..] else {
        return Err("a license has three dot-separated parts".into());
    };
    let header = b64_json(header_b64, "the header")?;
    // The algorithm is fixed by us, never taken from the token (RFC 8725 §3.1).
    if header["alg"] != "EdDSA" {
        return Err("the license is not signed with EdDSA".into());
    }
    let kid = header["kid"].as_str().ok_or("the header has no kid")?;
    let jwks: Value = serde_json::from_str(jwks_json).map_err(|_| "the JWKS is not JSON")?;
    let key = find_key(&jwks, kid)?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 bytes of base64url")?;
    let signed = format!("{header_b64}.{claims_b64}");
    key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| "the signature does not match: the license was altered or not issued by us")?;
    let claims = b64_json(claims_b64, "the claims")?;
    let exp = claims["exp"].as_i64().ok_or("the license has no exp")?;
    let iat = claims["iat"].as_i64().ok_or("the license has no iat")?;
    if now >= exp + LEEWAY_SECS {
        return Err(format!("the license expired at {exp}"));
    }
    if iat > now + LEEWAY_SECS {
        return Err("the license was issued in the future: check this machine's clock".into());
    }
    Ok(claims)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(token_path), Some(jwks_path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: verify_license <license.jwt> <jwks.json> [expected issuer]");
        return ExitCode::from(2);
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let checked = read(token_path)
        .and_then(|token| Ok((token, read(jwks_path)?)))
        .and_then(|(token, jwks)| verify(&token, &jwks, now))
        .and_then(|claims| match args.get(2) {
            Some(iss) if claims["iss"] != iss.as_str() => {
                Err(format!("issued by {}, not {iss}", claims["iss"]))
            }
            _ => Ok(claims),
        });
    match checked {
        Ok(claims) => {
            println!("{claims:#}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("license invalid: {why}");
            ExitCode::FAILURE
        }
    }
}
