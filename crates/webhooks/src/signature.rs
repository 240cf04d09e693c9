//! Verification helpers every provider's signature scheme is built from: HMAC over the exact
//! raw bytes, constant-time comparison, and the signed-timestamp tolerance. Errors carry a
//! category for the log only; the response never says which part failed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub use rampart_platform::crypto::{constant_time_eq, hmac_sha256, sha256_hex};

/// Stripe's and Standard Webhooks' default tolerance for the signed timestamp, both past and
/// future, in seconds (Stripe: "Verify webhook signatures", 5 minutes; Standard Webhooks spec
/// §"Verifying webhook authenticity").
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("timestamp outside tolerance")]
    Stale,
    #[error("signature mismatch")]
    Mismatch,
    #[error("no secret configured")]
    NoSecret,
}

/// The signed timestamp `ts` is within `tolerance` seconds of `now`, either way.
pub fn fresh(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    if now.abs_diff(ts) > tolerance.unsigned_abs() {
        Err(VerifyError::Stale)
    } else {
        Ok(())
    }
}

/// `given` is the base64 of `mac` (compared in constant time; bad base64 is a mismatch).
pub fn b64_eq(mac: &[u8], given: &str) -> bool {
    STANDARD
        .decode(given.trim())
        .is_ok_and(|sig| constant_time_eq(mac, &sig))
}

/// HMAC-SHA1: only Twilio still signs with it.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `Ok` when any accepted secret (several during a rotation) produced a matching signature.
pub fn any(matched: bool) -> Result<(), VerifyError> {
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The secrets to try, or `NoSecret` when none is configured.
pub fn configured(secrets: &[String]) -> Result<&[String], VerifyError> {
    if secrets.is_empty() {
        Err(VerifyError::NoSecret)
    } else {
        Ok(secrets)
    }
}
