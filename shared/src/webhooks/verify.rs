//! Signature verification for each provider, over the exact raw body bytes, with constant-time
//! comparison. Errors carry a category for the log only; the response never says which part
//! failed.
//!
//! - Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `{t}.{body}`;
//!   only `v1` counts (no downgrade to other schemes); timestamp within the tolerance.
//! - Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of notification URL + body.
//! - DocuSign Connect: `X-DocuSign-Signature-1..N`, base64 HMAC-SHA256 of the body; any header
//!   matching any configured key.
//! - Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the full URL followed by the POST form
//!   parameters sorted by name (name then value); JSON bodies sign the URL carrying
//!   `bodySHA256`, which must equal the body's SHA-256.
//! - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> ...`,
//!   HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed by the base64 secret after `whsec_`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::crypto::{constant_time_eq, hmac_sha256, sha256_hex};

/// Stripe's and Standard Webhooks' default tolerance for the signed timestamp (both past and
/// future), in seconds.
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

fn fresh(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    if now.abs_diff(ts) > tolerance.unsigned_abs() {
        Err(VerifyError::Stale)
    } else {
        Ok(())
    }
}

/// Stripe. `secrets`: every accepted endpoint secret (rotation: old and new).
pub fn stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut ts = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(VerifyError::Malformed)?;
        match k {
            "t" => ts = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            _ => {} // v0 and future schemes are ignored: never a downgrade
        }
    }
    let ts = ts.ok_or(VerifyError::Malformed)?;
    if v1.is_empty() {
        return Err(VerifyError::Malformed);
    }
    fresh(ts, now, TIMESTAMP_TOLERANCE_SECS)?;
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let ok = secrets.iter().any(|s| {
        let mac = hmac_sha256(s.as_bytes(), &signed);
        v1.iter().any(|sig| constant_time_eq(&mac, sig))
    });
    if ok {
        Ok(ts)
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn b64_eq(mac: &[u8], given: &str) -> bool {
    STANDARD
        .decode(given.trim())
        .is_ok_and(|sig| constant_time_eq(mac, &sig))
}

/// Square. `url`: the notification URL exactly as registered with Square.
pub fn square(
    header: Option<&str>,
    url: &str,
    body: &[u8],
    keys: &[String],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut signed = url.as_bytes().to_vec();
    signed.extend_from_slice(body);
    if keys
        .iter()
        .any(|k| b64_eq(&hmac_sha256(k.as_bytes(), &signed), header))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// DocuSign Connect: any of the signature headers against any key.
pub fn docusign(headers: &[&str], body: &[u8], keys: &[String]) -> Result<(), VerifyError> {
    if headers.is_empty() {
        return Err(VerifyError::Missing);
    }
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let macs: Vec<[u8; 32]> = keys
        .iter()
        .map(|k| hmac_sha256(k.as_bytes(), body))
        .collect();
    if headers.iter().any(|h| macs.iter().any(|m| b64_eq(m, h))) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Twilio, form-encoded callbacks. `url`: the full public URL Twilio called, query included.
pub fn twilio_form(
    header: Option<&str>,
    url: &str,
    params: &[(String, String)],
    tokens: &[String],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    if tokens.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut signed = url.to_string();
    for (k, v) in sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    if tokens
        .iter()
        .any(|t| b64_eq(&hmac_sha1(t.as_bytes(), signed.as_bytes()), header))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Twilio, JSON bodies: the URL carries `bodySHA256`, which must match the body.
pub fn twilio_json(
    header: Option<&str>,
    url: &str,
    body: &[u8],
    tokens: &[String],
) -> Result<(), VerifyError> {
    let claimed = url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("bodySHA256="))
        .ok_or(VerifyError::Malformed)?;
    if !constant_time_eq(
        claimed.to_ascii_lowercase().as_bytes(),
        sha256_hex(body).as_bytes(),
    ) {
        return Err(VerifyError::Mismatch);
    }
    twilio_form(header, url, &[], tokens)
}

/// Standard Webhooks. `secrets`: `whsec_<base64>` values accepted for this source.
pub fn standard(
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, VerifyError> {
    let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
        return Err(VerifyError::Missing);
    };
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let ts: i64 = ts.trim().parse().map_err(|_| VerifyError::Malformed)?;
    fresh(ts, now, TIMESTAMP_TOLERANCE_SECS)?;
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let keys: Vec<Vec<u8>> = secrets
        .iter()
        .filter_map(|s| {
            STANDARD
                .decode(s.trim().strip_prefix("whsec_").unwrap_or(s.trim()))
                .ok()
        })
        .collect();
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let given: Vec<&str> = sig
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .collect();
    if given.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let ok = keys.iter().any(|k| {
        let mac = hmac_sha256(k, &signed);
        given.iter().any(|g| b64_eq(&mac, g))
    });
    if ok {
        Ok(ts)
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac`/`hashlib` following each provider's documented
    //! algorithm, independently of this code.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
    const T: i64 = 1_767_225_600;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn stripe_vectors() {
        let sig = "3794f751e170fe4aaf573b7a74544c657b2dba72d97e322f326466e598de6fa7";
        let good = format!("t={T},v1={sig}");
        let secrets = s(&["whsec_test_secret_stripe"]);
        assert_eq!(stripe(Some(&good), BODY, &secrets, T), Ok(T));
        // Rotation: old and new secrets both accepted; several v1 entries allowed.
        let both = s(&["whsec_new", "whsec_test_secret_stripe"]);
        assert_eq!(
            stripe(
                Some(&format!("t={T},v1=00ff,v1={sig}")),
                BODY,
                &both,
                T + 10
            ),
            Ok(T)
        );
        assert_eq!(
            stripe(Some(&good), BODY, &s(&["whsec_wrong"]), T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            stripe(Some(&good), b"{\"id\":\"evt_2\"}", &secrets, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(stripe(None, BODY, &secrets, T), Err(VerifyError::Missing));
        assert_eq!(
            stripe(Some(&good), BODY, &[], T),
            Err(VerifyError::NoSecret)
        );
        assert_eq!(
            stripe(Some(&good), BODY, &secrets, T + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            stripe(Some(&good), BODY, &secrets, T - 301),
            Err(VerifyError::Stale),
            "future"
        );
        // A v0 signature (or any other scheme) never substitutes for v1.
        assert_eq!(
            stripe(Some(&format!("t={T},v0={sig}")), BODY, &secrets, T),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn square_vectors() {
        let url = "https://api.example.com/webhooks/square";
        let sig = "9HXeGpfuY+c7eQ6DoENPsu6uMTkSVsPY15UK+O3K5Os=";
        let keys = s(&["sq_signature_key_123"]);
        assert_eq!(square(Some(sig), url, BODY, &keys), Ok(()));
        assert_eq!(
            square(Some(sig), url, BODY, &s(&["old", "sq_signature_key_123"])),
            Ok(())
        );
        assert_eq!(
            square(Some(sig), "https://api.example.com/other", BODY, &keys),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            square(Some(sig), url, b"{}", &keys),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(square(None, url, BODY, &keys), Err(VerifyError::Missing));
    }

    #[test]
    fn docusign_vectors() {
        let sig = "tqcUdeNmLawtHFugiRAGbZdr1dXzszMutSbtEX5RujY=";
        let keys = s(&["other-key", "docusign-connect-key-1"]);
        assert_eq!(docusign(&["bm90IGl0", sig], BODY, &keys), Ok(()));
        assert_eq!(
            docusign(&[sig], BODY, &s(&["wrong"])),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            docusign(&[sig], b"tampered", &keys),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(docusign(&[], BODY, &keys), Err(VerifyError::Missing));
    }

    #[test]
    fn twilio_vectors() {
        let url = "https://api.example.com/webhooks/twilio/status";
        let params: Vec<(String, String)> = [
            ("MessageSid", "SM123"),
            ("MessageStatus", "delivered"),
            ("To", "+15550001111"),
            ("AccountSid", "AC1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let tokens = s(&["twilio_auth_token_abc"]);
        assert_eq!(
            twilio_form(Some("bNXUi+JLOTAHX777dIr6RMkux/k="), url, &params, &tokens),
            Ok(())
        );
        let mut tampered = params.clone();
        tampered[1].1 = "failed".into();
        assert_eq!(
            twilio_form(
                Some("bNXUi+JLOTAHX777dIr6RMkux/k="),
                url,
                &tampered,
                &tokens
            ),
            Err(VerifyError::Mismatch)
        );
        let hash = "95308c7cd2a031ee2f3aa1dc69e593206b77aee01be4a78a1c443c5a10699a36";
        let jurl = format!("{url}?bodySHA256={hash}");
        assert_eq!(
            twilio_json(Some("pCYB+bIGTfZIb9MZ8J+OCSKgpEc="), &jurl, BODY, &tokens),
            Ok(())
        );
        assert_eq!(
            twilio_json(Some("pCYB+bIGTfZIb9MZ8J+OCSKgpEc="), &jurl, b"{}", &tokens),
            Err(VerifyError::Mismatch),
            "the body must match bodySHA256"
        );
        assert_eq!(
            twilio_form(None, url, &params, &tokens),
            Err(VerifyError::Missing)
        );
        let sig = Some("bNXUi+JLOTAHX777dIr6RMkux/k=");
        assert_eq!(
            twilio_form(sig, url, &params, &s(&["wrong_token"])),
            Err(VerifyError::Mismatch),
            "wrong token"
        );
        assert_eq!(
            twilio_form(
                sig,
                url,
                &params,
                &s(&["new_token", "twilio_auth_token_abc"])
            ),
            Ok(()),
            "rotation"
        );
        assert_eq!(
            twilio_form(
                sig,
                "https://api.example.com/webhooks/twilio/inbound",
                &params,
                &tokens
            ),
            Err(VerifyError::Mismatch),
            "the URL is signed"
        );
    }

    #[test]
    fn standard_webhooks_vectors() {
        let secret = s(&["whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]);
        let sig = "v1,YSX70sQmEU8n56MJ9VyD2VY4Mk2GxS+qpOhWZHhqwmY=";
        let ts = T.to_string();
        assert_eq!(
            standard(Some("msg_2Lx"), Some(&ts), Some(sig), BODY, &secret, T),
            Ok(T)
        );
        let multi = format!("v1,AAAA {sig}");
        assert_eq!(
            standard(
                Some("msg_2Lx"),
                Some(&ts),
                Some(&multi),
                BODY,
                &secret,
                T + 299
            ),
            Ok(T)
        );
        assert_eq!(
            standard(Some("msg_other"), Some(&ts), Some(sig), BODY, &secret, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            standard(
                Some("msg_2Lx"),
                Some(&ts),
                Some(sig),
                BODY,
                &secret,
                T + 301
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            standard(
                Some("msg_2Lx"),
                Some(&ts),
                Some(sig),
                BODY,
                &secret,
                T - 301
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            standard(Some("msg_2Lx"), None, Some(sig), BODY, &secret, T),
            Err(VerifyError::Missing)
        );
        let rotated = s(&[
            "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=",
            &secret[0],
        ]);
        assert_eq!(
            standard(Some("msg_2Lx"), Some(&ts), Some(sig), BODY, &rotated, T),
            Ok(T),
            "rotation"
        );
        let wrong = s(&["whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ="]);
        assert_eq!(
            standard(Some("msg_2Lx"), Some(&ts), Some(sig), BODY, &wrong, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            standard(Some("msg_2Lx"), Some(&ts), Some(sig), b"{}", &secret, T),
            Err(VerifyError::Mismatch),
            "tampered"
        );
    }
}
