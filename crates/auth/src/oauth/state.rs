//! The flow cookie: what binds a provider's answer to the browser that asked for it. `start`
//! mints a random `state`, PKCE verifier and (OIDC) `nonce`, and keeps them in a short-lived
//! HttpOnly cookie signed with a key derived from the hash pepper; the callback accepts a
//! `state` only when it equals the cookie's (constant time), the cookie's signature and expiry
//! hold, and the `state` was never used before (a conditional put of its keyed hash: the
//! second use loses). RFC 6749 §10.12 and RFC 9700 §2.1 (CSRF protection with a one-time
//! `state` bound to the user agent), RFC 7636 (PKCE), OIDC Core §3.1.2.1 (`nonce`).

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::Provider;
use crate::cookies;
use crate::records::UsedOAuthState;
use rampart_http::state::AppState;
use rampart_platform::crypto::{constant_time_eq, hmac_sha256, keyed_hash, random_token, sha256};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, StoreError};

/// How long a sign-in at the provider may take: 10 minutes (RFC 6749 §4.1.2 recommends
/// authorization codes of at most 10 minutes; the flow around one needs no longer).
pub const FLOW_TTL_SECS: i64 = 600;

/// One sign-in in flight, as the cookie carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flow {
    /// The provider it was started for.
    #[serde(rename = "p")]
    pub provider: String,
    /// 256 random bits (RFC 9700 §4.7.1: unguessable).
    #[serde(rename = "s")]
    pub state: String,
    /// The PKCE `code_verifier`: 256 random bits as 43 base64url characters (RFC 7636 §4.1:
    /// 43 to 128 characters of high entropy).
    #[serde(rename = "v")]
    pub verifier: String,
    /// OIDC only: the `nonce` the ID token must carry.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `cookie` or `body`: how the session is handed over at the end.
    #[serde(rename = "d")]
    pub delivery: String,
    /// Where a browser lands afterwards: a path of the app (`APP_URL`).
    #[serde(rename = "r")]
    pub redirect: String,
    /// The redirect URI sent to the provider, sent again with the code (RFC 6749 §4.1.3).
    #[serde(rename = "u")]
    pub redirect_uri: String,
    #[serde(rename = "x")]
    pub expires_at: i64,
}

impl Flow {
    pub fn new(
        provider: Provider,
        delivery: &str,
        redirect: &str,
        redirect_uri: String,
        now: i64,
    ) -> Self {
        Self {
            provider: provider.as_str().into(),
            state: random_token(32),
            verifier: random_token(32),
            nonce: (provider == Provider::Google).then(|| random_token(32)),
            delivery: delivery.into(),
            redirect: redirect.into(),
            redirect_uri,
            expires_at: now + FLOW_TTL_SECS,
        }
    }

    /// The S256 `code_challenge`: BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha256(self.verifier.as_bytes()))
    }
}

fn key(pepper: &[u8]) -> [u8; 32] {
    hmac_sha256(pepper, b"rampart oauth flow cookie key v1")
}

/// The cookie value: the flow, then its MAC.
pub fn seal(pepper: &[u8], flow: &Flow) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(flow).unwrap_or_default());
    let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&key(pepper), body.as_bytes()));
    format!("{body}.{mac}")
}

/// The flow a cookie value carries, if its MAC holds and it has not expired.
pub fn open(pepper: &[u8], value: &str, now: i64) -> Option<Flow> {
    let (body, mac) = value.split_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(hmac_sha256(&key(pepper), body.as_bytes()));
    if !constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
        return None;
    }
    let flow: Flow = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    (now < flow.expires_at).then_some(flow)
}

/// 400 `oauth-state-invalid`: the answer does not belong to a sign-in this browser started
/// (no or another browser's flow cookie, a forged, expired or already used `state`).
pub fn invalid() -> ApiError {
    ApiError::coded(
        StatusCode::BAD_REQUEST,
        "oauth-state-invalid",
        "This sign-in was not started here, has expired or was already completed; start it again.",
    )
}

/// The flow this callback completes: the cookie must hold, name this provider and carry this
/// very `state`, which is then used up (a replay of the same answer fails here).
pub async fn take(
    state: &AppState,
    headers: &HeaderMap,
    provider: Provider,
    returned_state: &str,
) -> Result<Flow, ApiError> {
    let pepper = state.hash_pepper().await?;
    let now = state.clock.now_secs();
    let name = cookies::oauth_flow_name(&state.settings);
    let flow = cookies::get(headers, name)
        .and_then(|v| open(&pepper, &v, now))
        .ok_or_else(invalid)?;
    let same_state = constant_time_eq(flow.state.as_bytes(), returned_state.as_bytes());
    if !same_state || flow.provider != provider.as_str() {
        return Err(invalid());
    }
    let used = UsedOAuthState {
        state_hash: keyed_hash(&pepper, "oauth-state", &flow.state),
        expires_at: flow.expires_at,
    };
    match state
        .store
        .put((&used).into(), Some(Condition::NotExists))
        .await
    {
        Ok(()) => Ok(flow),
        Err(StoreError::ConditionFailed { .. }) => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_opens_only_unaltered_and_unexpired() {
        let flow = Flow::new(Provider::Google, "cookie", "/", "http://a/cb".into(), 1_000);
        assert_eq!(flow.verifier.len(), 43, "RFC 7636 §4.1");
        assert!(flow.nonce.is_some());
        let sealed = seal(b"pepper", &flow);
        assert_eq!(open(b"pepper", &sealed, 1_001), Some(flow.clone()));
        assert_eq!(
            open(b"pepper", &sealed, 1_000 + FLOW_TTL_SECS),
            None,
            "expired"
        );
        assert_eq!(open(b"other", &sealed, 1_001), None, "another key");
        let (body, mac) = sealed.split_once('.').unwrap();
        let mut forged = flow.clone();
        forged.state = "attacker".into();
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            open(b"pepper", &format!("{forged_body}.{mac}"), 1_001),
            None
        );
        assert_eq!(open(b"pepper", body, 1_001), None, "no MAC");
        let github = Flow::new(Provider::Github, "body", "/", "u".into(), 0);
        assert_eq!(github.nonce, None, "no nonce outside OIDC");
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 Appendix B.
        let mut flow = Flow::new(Provider::Github, "cookie", "/", "u".into(), 0);
        flow.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(
            flow.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
